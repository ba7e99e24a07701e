//! Fault windows (`[[fault]]`): a component paused, slowed down, or crashed over a time window.
//!
//! - `pause`: work that would start inside the window starts when it ends (work already in
//!   progress finishes).
//! - `slowdown`: work started inside the window takes `factor` times as long.
//! - `crash`: what a crash does depends on the component. `redis` (three-tier): a failover — the
//!   shard serves nothing until the replica is promoted, and the writes of the last
//!   `replication_lag` before the crash, acknowledged but not yet copied, are lost (stock and
//!   per-user counts go back). `kafka`: one broker is lost — the partitions it leads pause until
//!   new leaders are elected, and with acks 0 or 1 the entries it had not yet replicated are
//!   lost. `flink`: a task failure — the job restarts from its last completed checkpoint.
//!   `orders` (three-tier, async order path): the order consumers stop for the downtime (10 s
//!   [A]) and their running transactions are delivered again. Other components crash as a
//!   pause.
//!
//! Times are offsets from the sale's opening, like the traffic profile. The crash downtime
//! defaults (parameters.md §1, §3, §11): Redis Cluster failover 15 s detection + U(0.5 s, 1 s)
//! election, drawn from the fault's own stream; Kafka leader election 10 s [A]; Flink the job's
//! `restart_time`. Lost Redis writes: the last 10 ms [A].

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{DurationLit, OffsetLit};
use sim::config::{Issues, join_key};
use sim::{SimDuration, SimTime};

/// A component a fault can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultComponent {
    Cdn,
    Gateway,
    Redis,
    Db,
    Kafka,
    Flink,
    Results,
    /// `three_tier_redis` with the async order path: the order consumers (crash only).
    Orders,
}

impl FaultComponent {
    pub fn name(self) -> &'static str {
        match self {
            FaultComponent::Cdn => "cdn",
            FaultComponent::Gateway => "gateway",
            FaultComponent::Redis => "redis",
            FaultComponent::Db => "db",
            FaultComponent::Kafka => "kafka",
            FaultComponent::Flink => "flink",
            FaultComponent::Results => "results",
            FaultComponent::Orders => "orders",
        }
    }
}

/// What happens to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Pause,
    Slowdown,
    Crash,
}

/// One `[[fault]]` entry.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// `cdn`, `gateway`, `redis`, `db`, `kafka`, `flink`, `results` or `orders`.
    pub component: FaultComponent,
    /// `pause`, `slowdown` or `crash`.
    pub kind: FaultKind,
    /// Start, relative to the sale's opening (e.g. "2s", "-1s").
    pub at: OffsetLit,
    /// Length of the window (required for pause and slowdown; crash: the downtime, default per
    /// component).
    pub duration: Option<DurationLit>,
    /// `slowdown`: how many times longer work takes (> 1).
    pub factor: Option<f64>,
    /// `redis` crash: acknowledged writes lost on failover, those of this last span (default
    /// 10ms).
    pub replication_lag: Option<DurationLit>,
    /// Variants it applies to (default: every variant with the component).
    pub variants: Option<Vec<String>>,
}

/// A validated fault.
#[derive(Clone, Debug)]
pub struct Fault {
    pub component: FaultComponent,
    pub kind: FaultKind,
    pub start: SimTime,
    /// `None`: a crash whose downtime is drawn or taken from the component.
    pub duration: Option<SimDuration>,
    pub factor: f64,
    pub replication_lag: SimDuration,
    pub variants: Option<Vec<String>>,
}

impl RawFault {
    pub fn check(&self, at: &str, opens_at: SimTime, issues: &mut Issues) -> Option<Fault> {
        let before = issues.len();
        let offset = self.at.check(&join_key(at, "at"), issues);
        let start = offset.map(|o| opens_at.as_nanos() as i64 + o);
        if start.is_some_and(|s| s < 0) {
            issues.push(join_key(at, "at"), "must not fall before time zero");
        }
        let duration =
            self.duration.as_ref().and_then(|d| d.check(&join_key(at, "duration"), issues));
        if self.kind != FaultKind::Crash && self.duration.is_none() {
            issues.push(join_key(at, "duration"), "is required for a pause or a slowdown");
        }
        if duration.is_some_and(|d| d.is_zero()) {
            issues.push(join_key(at, "duration"), "must be > 0 (got 0s)");
        }
        if self.component == FaultComponent::Orders && self.kind != FaultKind::Crash {
            issues.push(
                join_key(at, "kind"),
                "the order consumers only crash: use kind = \"crash\" (a downtime, then the \
                 transactions they had running are delivered again)",
            );
        }
        let factor = match (self.kind, self.factor) {
            (FaultKind::Slowdown, Some(f)) if f.is_finite() && f > 1.0 && f <= 1e6 => f,
            (FaultKind::Slowdown, Some(f)) => {
                issues.push(join_key(at, "factor"), format!("must be > 1 and ≤ 1e6 (got {f})"));
                1.0
            }
            (FaultKind::Slowdown, None) => {
                issues.push(join_key(at, "factor"), "is required for a slowdown");
                1.0
            }
            (_, Some(_)) => {
                issues.push(join_key(at, "factor"), "applies to a slowdown only");
                1.0
            }
            (_, None) => 1.0,
        };
        let lag = match &self.replication_lag {
            None => Some(SimDuration::from_millis(10)),
            Some(l) => {
                if self.kind != FaultKind::Crash || self.component != FaultComponent::Redis {
                    issues.push(join_key(at, "replication_lag"), "applies to a redis crash only");
                }
                l.check(&join_key(at, "replication_lag"), issues)
            }
        };
        if issues.len() > before {
            return None;
        }
        Some(Fault {
            component: self.component,
            kind: self.kind,
            start: SimTime::from_nanos(start? as u64),
            duration,
            factor,
            replication_lag: lag?,
            variants: self.variants.clone(),
        })
    }
}

impl Fault {
    pub fn applies_to(&self, variant: &str) -> bool {
        self.variants.as_ref().is_none_or(|names| names.iter().any(|n| n == variant))
    }
}
