//! # sim — a deterministic discrete-event simulation engine
//!
//! A simulation here is a *model* — plain structs reacting to a closed enum of events — driven by
//! a run loop that always knows exactly what happens next. The crate reads from the inside out;
//! each layer uses only the ones above it in this list, never the reverse.
//!
//! **The engine** (top-level modules).
//! - **Time** ([`time`]) is an integer count of nanoseconds. Floats appear only where a sampled
//!   duration is rounded, once, into ns. Literals such as `"250ms"` and `"20k/s"` parse here.
//! - **The calendar** ([`calendar`]) orders pending events by `(time, insertion sequence)`: ties
//!   are first-in first-out, so a run is a pure function of its inputs. It is a radix heap, which
//!   integer time and monotone simulation make possible.
//! - **The run loop** ([`engine`]) pops events and dispatches them statically to the model, and
//!   stops at a horizon, at an event budget, when the calendar drains, or when the model says so.
//! - **Randomness** ([`rng`]) comes only from ChaCha8 streams named by `(seed, label)`: each
//!   consumer has its own stream, so adding one never shifts another's numbers.
//! - **Distributions** ([`dist`]) of durations: constant, uniform, exponential, lognormal (by median
//!   and p99), gamma, empirical.
//! - **Statistics** ([`stats`]): time-weighted levels, latency histograms, confidence intervals.
//! - **Memory** ([`slab`], [`prefetch`]): stable keys for live entities, and hints that overlap
//!   the next cache miss with the current event. Only speed depends on them, never results.
//!
//! **Stations** ([`queue`]): `c` servers and a FIFO queue, optionally bounded, with reneging; or
//! processor sharing. They keep their own statistics and never own the clock or randomness.
//!
//! **Configuration** ([`config`]): TOML in, every error located by file, line and key path;
//! `--set` overrides applied before validation; literals checked into typed values.
//!
//! **Output** ([`output`]): atomic files, CSV cells, terminal tables and figures.
//!
//! **Experiments** ([`experiment`]): sweeps of points × replications by key path, with common
//! random numbers across points, parallel yet written in grid order, shardable across machines
//! and merged back; and planning, the cheapest integer capacities meeting SLOs judged on
//! confidence bounds, with the headroom beyond the forecast.
//!
//! **The command line** ([`cli`]): generic over the [`Catalogue`](cli::Catalogue) of models a
//! binary is built with; every subcommand is a module of its own.
//!
//! The engine knows nothing of any application domain; models, their metrics and their default
//! objective live in other crates.

pub mod calendar;
pub mod dist;
pub mod engine;
pub mod prefetch;
pub mod rng;
pub mod slab;
pub mod stats;
pub mod time;

pub mod queue;

pub mod config;

pub mod output;

pub mod experiment;

pub mod cli;

pub use calendar::Calendar;
pub use dist::{Dist, DistKind, DistSpec};
pub use engine::{Context, Limits, Model, RunStats, Stop, run};
pub use queue::shared::{SharedStation, Wake};
pub use queue::station::{Admission, Started, Station, StationReport, Ticket};
pub use rng::RngStream;
pub use slab::{Slab, SlabKey};
pub use time::{Rate, SimDuration, SimTime};
