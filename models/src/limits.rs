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

/// Memory of a run apart from its users: the binary, the engine, timelines and histograms.
pub const BASE_BYTES: u64 = 64 << 20;
/// Per user, once per run: the generated population (arrival times, clicks, patience).
pub const POPULATION_BYTES_PER_USER: u64 = 192;
/// Per user and variant simulated at the same moment (variants run in parallel, one per core):
/// users' and attempts' live state, event calendar entries, in-flight requests.
pub const LIVE_BYTES_PER_USER: u64 = 256;
/// Per user and variant, kept after the variant finishes (outcomes, latency records).
pub const KEPT_BYTES_PER_USER: u64 = 48;

/// What a flash-sale scenario needs in memory at its peak (issue #20, defect 4): its users
/// (`traffic.users` and bots) times a per-user cost, for as many variants at once as the run has
/// cores. Scenarios without flash-sale traffic hold no per-user state: `None`.
///
/// Calibration (peak RSS by `/usr/bin/time -v` of `flashsim run --no-report`, 2 cores, so two
/// variants live at once; `RAYON_NUM_THREADS=1` for one):
///
/// | scenario (variants)    | users | threads | peak RSS | this estimate |
/// |------------------------|------:|--------:|---------:|--------------:|
/// | edu-live-class (5)     |   10k |       2 |    27 MB |         77 MB |
/// | edu-live-class (5)     |  100k |       2 |    92 MB |        162 MB |
/// | edu-live-class (5)     |  300k |       1 |   129 MB |        274 MB |
/// | edu-live-class (5)     |  300k |       2 |   176 MB |        360 MB |
/// | edu-live-class (5)     |    1M |       2 |   350 MB |      1,011 MB |
/// | singles-day (3)        |  100k |       2 |    76 MB |        152 MB |
/// | singles-day (3)        |  300k |       1 |   109 MB |        245 MB |
/// | singles-day (3)        |  300k |       2 |   174 MB |        322 MB |
/// | singles-day (3)        |    1M |       2 |   418 MB |        915 MB |
/// | retry-storm (2)        |    1M |       2 |   114 MB |        867 MB |
///
/// A second variant live at once costs 156 B (edu-live-class) to 218 B (singles-day) per user;
/// one live variant plus the population and the kept results of the others 280 to 347 B. The
/// issue measured ~340 B per user at 10M and 50M users (3.4 GB, 17 GB). The estimate is 2 to 3
/// times the peak on 2 cores (more with fewer users, where the base dominates), and closer on a
/// machine that runs every variant at once.
pub fn memory_estimate(
    traffic: &crate::traffic::Traffic,
    variants: usize,
    cores: usize,
) -> sim::cli::MemoryEstimate {
    let bots = traffic.bots.as_ref().map_or(0, |b| b.users as u64);
    let users = traffic.users as u64 + bots;
    let live = variants.min(cores).max(1) as u64;
    let per_user = POPULATION_BYTES_PER_USER
        + live * LIVE_BYTES_PER_USER
        + variants as u64 * KEPT_BYTES_PER_USER;
    let with_bots = if bots > 0 { format!(" (with {bots} bots)") } else { String::new() };
    sim::cli::MemoryEstimate {
        bytes: BASE_BYTES + users * per_user,
        field: "traffic.users".to_string(),
        basis: format!(
            "{users} users{with_bots} × {per_user} B for {variants} variant(s), {live} at once"
        ),
    }
}
