//! The `[run]` table and the one routine every architecture runs its model through: horizon,
//! warm-up, event budget and the stop check are built here once, for all of them.

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::DurationLit;
use sim::config::Issues;
use sim::{Context, Limits, Model, RunStats, SimDuration, SimTime, Stop};

/// Default event budget: generous for any planned run, yet a runaway model stops within minutes.
pub const DEFAULT_MAX_EVENTS: u64 = 500_000_000;
/// Default bound on jobs in flight before a run is declared unstable (about 100 MB of state).
pub const DEFAULT_MAX_IN_SYSTEM: u64 = 2_000_000;
/// The largest `run.max_in_system` accepted: an unstable network stops at this many jobs in
/// flight instead of growing until the allocator fails. Measured: an unstable M/M/1 at its
/// default cap of 2,000,000 jobs peaks at 124 MB (~60 B per job), so this bound is ~3 GB.
pub const MAX_IN_SYSTEM: i64 = 50_000_000;

/// The `[run]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    /// Seed of every random stream (default 1).
    pub seed: Option<u64>,
    /// Simulated time to stop at; needed unless every arrival stream is finite.
    pub horizon: Option<DurationLit>,
    /// Statistics before this time are discarded (default 0s).
    pub warmup: Option<DurationLit>,
    /// Most events to process before giving up (default 500 million).
    pub max_events: Option<i64>,
    /// Most jobs in flight before the system is declared unstable (default 2 million).
    pub max_in_system: Option<i64>,
}

/// Run settings, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    pub seed: u64,
    pub horizon: Option<SimTime>,
    pub warmup: SimTime,
    pub max_events: u64,
    pub max_in_system: u64,
}

impl RunSettings {
    /// The limits variant `variant` runs under.
    pub fn limits_for<'a>(&'a self, variant: &'a str) -> RunLimits<'a> {
        RunLimits { variant, run: self }
    }

    /// The warm-up as a duration from time zero.
    pub fn warmup_duration(&self) -> SimDuration {
        self.warmup - SimTime::ZERO
    }
}

/// The limits of one variant's run, and the check of how it stopped.
pub struct RunLimits<'a> {
    variant: &'a str,
    run: &'a RunSettings,
}

impl RunLimits<'_> {
    /// Runs `model` to the horizon (or until nothing is left), resetting its statistics at the
    /// warm-up. `Err` names the limit that stopped it early: the event budget, the model's own
    /// reason, or a warm-up that outlasted every event.
    pub fn run<M: Model>(
        &self,
        model: &mut M,
        ctx: &mut Context<M::Event>,
    ) -> Result<RunStats, String> {
        let run = self.run;
        let limits =
            Limits { horizon: run.horizon, warmup: run.warmup, max_events: run.max_events };
        let stats = sim::run(model, ctx, limits);
        self.check_stop(&stats)?;
        if run.warmup > SimTime::ZERO && stats.last_event < run.warmup {
            return Err(format!(
                "variant `{}`: the warm-up (run.warmup = {}) outlasted the run, whose last event \
                 was at {}; shorten run.warmup or add arrivals",
                self.variant,
                run.warmup_duration(),
                stats.last_event
            ));
        }
        Ok(stats)
    }

    /// Turns a run that stopped early into the error every architecture reports.
    fn check_stop(&self, stats: &RunStats) -> Result<(), String> {
        let variant = self.variant;
        match &stats.stop {
            Stop::Drained | Stop::Horizon => Ok(()),
            Stop::EventBudget => Err(format!(
                "variant `{variant}` spent its event budget (run.max_events = {}) at {} with {} \
                 events still pending; raise run.max_events or shorten the run",
                self.run.max_events, stats.end, stats.pending_at_end
            )),
            Stop::Model(reason) => Err(format!("variant `{variant}` stopped: {reason}")),
        }
    }
}

fn positive_count(value: Option<i64>, default: u64, path: &str, issues: &mut Issues) -> u64 {
    match value {
        None => default,
        Some(v) if v >= 1 => v as u64,
        Some(v) => {
            issues.push(path, format!("must be ≥ 1 (got {v})"));
            default
        }
    }
}

impl RawRun {
    /// Checks the `[run]` table; `None` (with issues recorded) if any rule is broken.
    pub fn check(&self, issues: &mut Issues) -> Option<RunSettings> {
        let horizon = self.horizon.as_ref().map(|h| h.check("run.horizon", issues));
        let warmup = self.warmup.as_ref().map(|w| w.check("run.warmup", issues));
        let max_events =
            positive_count(self.max_events, DEFAULT_MAX_EVENTS, "run.max_events", issues);
        let max_in_system =
            positive_count(self.max_in_system, DEFAULT_MAX_IN_SYSTEM, "run.max_in_system", issues);
        if self.max_in_system.is_some_and(|v| v > MAX_IN_SYSTEM) {
            issues.push(
                "run.max_in_system",
                format!(
                    "must be at most {MAX_IN_SYSTEM} (got {}): each job in flight costs memory",
                    max_in_system
                ),
            );
        }
        let horizon = match horizon {
            None => None,
            Some(Some(h)) if !h.is_zero() => Some(h),
            Some(Some(_)) => {
                issues.push("run.horizon", "must be > 0 (got 0s)");
                return None;
            }
            Some(None) => return None,
        };
        let warmup = match warmup {
            None => SimDuration::ZERO,
            Some(Some(w)) => w,
            Some(None) => return None,
        };
        if let Some(h) = horizon
            && warmup >= h
        {
            issues.push(
                "run.warmup",
                format!("must be shorter than run.horizon ({h}) (got {warmup})"),
            );
            return None;
        }
        Some(RunSettings {
            seed: self.seed.unwrap_or(1),
            horizon: horizon.map(|h| SimTime::ZERO + h),
            warmup: SimTime::ZERO + warmup,
            max_events,
            max_in_system,
        })
    }
}
