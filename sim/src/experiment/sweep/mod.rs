//! Parameter sweeps: a grid of points × replications, run in parallel, written in grid order.
//!
//! A sweep varies values by key path. Each *axis* lists values (or a linear or geometric range);
//! axes sharing a `zip` name advance together, and the dimensions so formed are combined by
//! Cartesian product, the last one varying fastest ([`grid`]). Point k's values are substituted
//! into the raw scenario as overrides, so every point is validated like a normal run.
//!
//! Replication r of every point uses seed [`crate::rng::replication_seed`]`(seed, r)`: the seed
//! does not depend on the point, so all points see the same traffic (common random numbers).
//! Tasks (point, replication) run in parallel and their [`rows`] are written in grid order
//! ([`ordered`]), so the output is byte-identical whatever the number of jobs, and memory is
//! bounded by a window of tasks, not by the number of points.
//!
//! Metrics constant over the whole sweep go to a side file ([`constants`]); the metrics a
//! scenario names are printed by point when the sweep ends ([`terminal`]).
//!
//! Shards ([`shard`]): with `--shard i/n`, only points k with k mod n = i run, and their rows go
//! to a shard file whose first line records the plan's fingerprint; [`merge`](mod@merge) checks that all n
//! shards agree and writes exactly the files an unsharded run writes.

pub mod constants;
pub mod grid;
pub mod merge;
pub mod ordered;
pub mod rows;
pub mod shard;
pub mod terminal;

pub use grid::{Axis, Grid, MAX_POINTS, RawAxis, RawRange, RawSweep, parse_cli_axis, range_values};
pub use merge::merge;
pub use ordered::run_in_order;
pub use rows::{Row, flatten_numbers, parse_rows, summary_csv};
pub use shard::Shard;
