//! Experiments over a model: many runs of one scenario, varied by key path.
//!
//! A [`sweep`] runs every point of a grid of values, each with replications, and writes rows and
//! per-point confidence intervals; it can be split into shards and merged back. A [`plan`] searches
//! integer capacities for the cheapest configuration that meets every SLO on its confidence bound,
//! and the headroom beyond the forecast. Both see a model only through the summaries of its runs.

pub mod plan;
pub mod sweep;
