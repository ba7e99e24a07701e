//! # sim — a deterministic discrete-event simulation engine
//!
//! A simulation here is a *model* — plain structs reacting to a closed enum of events — driven by
//! a run loop that always knows exactly what happens next. The pieces:
//!
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
//! - **Stations** ([`station`]): `c` servers and a FIFO queue, optionally bounded, with reneging;
//!   they keep time-weighted levels and latency histograms ([`stats`]).
//! - **Configuration** ([`config`], [`literal`]): TOML in, every error located by file, line and
//!   key path; `--set` overrides applied before validation.
//! - **Sweeps** ([`sweep`]): points × replications by key path, common random numbers across
//!   points, parallel yet written in plan order, shardable across machines and merged back.
//! - **Planning** ([`plan`]): the cheapest integer capacities meeting SLOs judged on confidence
//!   bounds, by monotone bisection and coordinate descent, and the headroom beyond the forecast.
//! - **Output** ([`output`], [`table`], [`cli`]): atomic files, terminal tables, and a command line
//!   generic over the models a binary is built with.
//!
//! The engine knows nothing of any application domain; models live in other crates.

pub mod calendar;
pub mod cli;
pub mod config;
pub mod dist;
pub mod engine;
pub mod literal;
pub mod output;
pub mod plan;
pub mod plan_cli;
pub mod plot;
pub mod prefetch;
pub mod rng;
pub mod shared;
pub mod slab;
pub mod station;
pub mod stats;
pub mod sweep;
pub mod sweep_cli;
pub mod table;
pub mod time;

pub use calendar::Calendar;
pub use dist::{Dist, DistKind, DistSpec};
pub use engine::{Context, Limits, Model, RunStats, Stop, run};
pub use rng::RngStream;
pub use shared::{SharedStation, Wake};
pub use slab::{Slab, SlabKey};
pub use station::{Admission, Started, Station, StationReport, Ticket};
pub use time::{Rate, SimDuration, SimTime};
