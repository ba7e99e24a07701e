//! Flash-sale components: each a queueing station with the rules of the real thing.
//!
//! A component file holds its raw configuration, the validated spec with documented defaults
//! (citing `shared/reference/parameters.md`), and the runtime state the architectures drive.
//! Flows between components live in the architecture files (`crate::sale`).

pub mod cdn;
pub mod db;
pub mod faults;
pub mod flink;
pub mod gateway;
pub mod hold;
pub mod kafka;
pub mod limit;
pub mod orders;
pub mod payment;
pub mod redis;
pub mod results;
pub mod waiting_room;

use sim::config::DurationLit;
use sim::config::{Issues, join_key};
use sim::{Dist, DistSpec, SimDuration, SimTime};

/// Reads an optional distribution, falling back to `default`.
pub(crate) fn dist_or(
    spec: &Option<DistSpec>,
    at: &str,
    key: &str,
    default: Dist,
    issues: &mut Issues,
) -> Option<Dist> {
    match spec {
        Some(spec) => spec.check(&join_key(at, key), issues),
        None => Some(default),
    }
}

/// Reads an optional duration, falling back to `default`.
pub(crate) fn duration_or(
    lit: &Option<DurationLit>,
    at: &str,
    key: &str,
    default: SimDuration,
    issues: &mut Issues,
) -> Option<SimDuration> {
    match lit {
        Some(lit) => lit.check(&join_key(at, key), issues),
        None => Some(default),
    }
}

/// Reads an optional count in `[min, max]`, falling back to `default`.
pub(crate) fn count_or(
    value: Option<i64>,
    at: &str,
    key: &str,
    default: u64,
    (min, max): (i64, i64),
    issues: &mut Issues,
) -> u64 {
    match value {
        None => default,
        Some(v) if (min..=max).contains(&v) => v as u64,
        Some(v) => {
            issues.push(join_key(at, key), format!("must be between {min} and {max} (got {v})"));
            default
        }
    }
}

/// Reads an optional non-negative price, falling back to `default`.
pub(crate) fn price_or(
    value: Option<f64>,
    at: &str,
    key: &str,
    default: f64,
    issues: &mut Issues,
) -> f64 {
    match value {
        None => default,
        Some(v) if v.is_finite() && v >= 0.0 => v,
        Some(v) => {
            issues.push(join_key(at, key), format!("must be a price ≥ 0 (got {v})"));
            default
        }
    }
}

/// Lognormal by median and p99, for defaults (values known to be valid).
pub(crate) fn lognormal(median: SimDuration, p99: SimDuration) -> Dist {
    Dist::lognormal_from_median_p99(median, p99).expect("default lognormal is valid")
}

/// The first multiple of `period` after `now`: periodic work (checkpoints, cache refreshes)
/// keeps to a fixed grid whenever it is re-armed.
pub(crate) fn next_tick(now: SimTime, period: SimDuration) -> SimTime {
    let step = period.as_nanos();
    SimTime::from_nanos((now.as_nanos() / step + 1) * step)
}
