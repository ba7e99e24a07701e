//! How clients behave when an attempt does not succeed: timeout, retry policy, retry budget,
//! patience.
//!
//! Backoff policies follow Brooker, "Exponential Backoff And Jitter" (AWS Architecture blog,
//! 2015): for the n-th retry (n ≥ 1) with base b and cap c, `exponential` waits
//! t = min(c, b·2ⁿ⁻¹); `full_jitter` U(0, t); `equal_jitter` t/2 + U(0, t/2); `decorrelated`
//! min(c, U(b, 3·previous)). Defaults (timeout 3 s, 4 attempts, full jitter from 100 ms to 1 s)
//! are the gRPC retry example cited in `shared/reference/parameters.md` §7 and §11.
//!
//! The retry budget is fleet-wide, like a token bucket in an SDK: retries are allowed while the
//! retries sent stay below `ratio` × first attempts sent + `min_per_s` × elapsed seconds (Google
//! SRE's 10% per-client budget; Finagle's floor of 10 retries/s).

use rand::RngExt;
use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::DurationLit;
use sim::config::{Issues, join_key};
use sim::{Dist, DistSpec, RngStream, SimDuration};

/// A backoff policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryPolicy {
    /// Never retry.
    None,
    /// Wait `base` every time.
    Fixed,
    /// min(cap, base·2ⁿ⁻¹), no jitter: retries of users who failed together stay together.
    Exponential,
    /// U(0, min(cap, base·2ⁿ⁻¹)).
    FullJitter,
    /// t/2 + U(0, t/2) with t = min(cap, base·2ⁿ⁻¹).
    EqualJitter,
    /// min(cap, U(base, 3·previous)).
    Decorrelated,
}

/// What sends the purchase request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientProfile {
    /// An RPC client library: a short timeout and automatic resubmission with backoff.
    Rpc,
    /// A purchase page: a long timeout (a spinner), no automatic resubmission; after an error
    /// message the human clicks again a `reclick` time later.
    PurchasePage,
}

/// The `[traffic.client]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// `rpc` (default: automatic resubmission with backoff) or `purchase_page` (the human
    /// clicks again after an error message).
    pub profile: Option<ClientProfile>,
    /// `purchase_page`: error message → the human's next click (default LN(median 1s, p99 5s)).
    pub reclick: Option<DistSpec>,
    /// An attempt with no answer after this long counts as timed out (default 3s; a purchase
    /// page's spinner: 15s).
    pub timeout: Option<DurationLit>,
    /// Backoff policy (default full_jitter).
    pub retry: Option<RetryPolicy>,
    /// First backoff (default 100ms).
    pub base: Option<DurationLit>,
    /// Longest backoff (default 1s).
    pub cap: Option<DurationLit>,
    /// Most attempts per user, first click included, duplicates excluded (default 4).
    pub max_attempts: Option<i64>,
    /// Fleet-wide retry budget (default: none).
    pub retry_budget: Option<RawRetryBudget>,
    /// How long a user keeps trying after the first click before giving up (default: forever).
    pub patience: Option<DistSpec>,
}

/// A retry budget.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetryBudget {
    /// Retries allowed per first attempt, e.g. 0.1.
    pub ratio: f64,
    /// Retries allowed per second regardless of the ratio (default 0).
    pub min_per_s: Option<f64>,
}

/// Validated client behaviour.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub profile: ClientProfile,
    /// `purchase_page`: the human's time from an error message to the next click.
    pub reclick: Option<Dist>,
    pub timeout: SimDuration,
    pub retry: RetryPolicy,
    pub base: SimDuration,
    pub cap: SimDuration,
    pub max_attempts: u32,
    pub budget: Option<(f64, f64)>,
    pub patience: Option<Dist>,
}

impl RawClient {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<ClientSpec> {
        let before = issues.len();
        let duration =
            |lit: &Option<DurationLit>, key: &str, default: SimDuration, issues: &mut Issues| {
                lit.as_ref().map_or(Some(default), |l| l.check(&join_key(at, key), issues))
            };
        let profile = self.profile.unwrap_or(ClientProfile::Rpc);
        let page = profile == ClientProfile::PurchasePage;
        let default_timeout = SimDuration::from_secs(if page { 15 } else { 3 });
        let timeout = duration(&self.timeout, "timeout", default_timeout, issues);
        if page {
            // A page has no resubmission policy: the human decides when to click again.
            let rpc_only = [
                ("retry", self.retry.is_some()),
                ("base", self.base.is_some()),
                ("cap", self.cap.is_some()),
                ("retry_budget", self.retry_budget.is_some()),
            ];
            for (key, _) in rpc_only.iter().filter(|(_, set)| *set) {
                issues.push(
                    join_key(at, key),
                    "applies to profile = \"rpc\" (a purchase page does not resubmit; the human \
                     clicks again after `reclick`)",
                );
            }
        } else if self.reclick.is_some() {
            issues.push(join_key(at, "reclick"), "applies to profile = \"purchase_page\"");
        }
        let reclick = page.then(|| match &self.reclick {
            Some(spec) => spec.check(&join_key(at, "reclick"), issues),
            None => Dist::lognormal_from_median_p99(
                SimDuration::from_secs(1),
                SimDuration::from_secs(5),
            ),
        });
        let base = duration(&self.base, "base", SimDuration::from_millis(100), issues);
        let cap = duration(&self.cap, "cap", SimDuration::from_secs(1), issues);
        if timeout.is_some_and(|t| t.is_zero()) {
            issues.push(join_key(at, "timeout"), "must be > 0 (got 0s)");
        }
        if let (Some(base), Some(cap)) = (base, cap)
            && cap < base
        {
            issues.push(join_key(at, "cap"), format!("must be ≥ base ({base}) (got {cap})"));
        }
        let max_attempts = match self.max_attempts {
            None => 4,
            Some(n) if (1..=1000).contains(&n) => n as u32,
            Some(n) => {
                issues.push(
                    join_key(at, "max_attempts"),
                    format!("must be between 1 and 1000 (got {n})"),
                );
                1
            }
        };
        let budget = self.retry_budget.as_ref().map(|b| {
            let b_at = join_key(at, "retry_budget");
            if !(b.ratio.is_finite() && b.ratio >= 0.0) {
                issues.push(join_key(&b_at, "ratio"), format!("must be ≥ 0 (got {})", b.ratio));
            }
            let floor = b.min_per_s.unwrap_or(0.0);
            if !(floor.is_finite() && floor >= 0.0) {
                issues.push(join_key(&b_at, "min_per_s"), format!("must be ≥ 0 (got {floor})"));
            }
            (b.ratio, floor)
        });
        let patience = self.patience.as_ref().map(|p| p.check(&join_key(at, "patience"), issues));
        if issues.len() > before {
            return None;
        }
        Some(ClientSpec {
            profile,
            reclick: reclick.flatten(),
            timeout: timeout?,
            retry: self.retry.unwrap_or(RetryPolicy::FullJitter),
            base: base?,
            cap: cap?,
            max_attempts,
            budget,
            patience: patience.flatten(),
        })
    }
}

impl ClientSpec {
    /// The wait before retry number `n` (n ≥ 1); `previous` is the last wait (for decorrelated).
    pub fn backoff(&self, n: u32, previous: SimDuration, rng: &mut RngStream) -> SimDuration {
        let (base, cap) = (self.base.as_nanos(), self.cap.as_nanos());
        let exp = base.saturating_mul(1u64 << (n.saturating_sub(1)).min(62)).min(cap);
        let ns = match self.retry {
            RetryPolicy::None => 0,
            RetryPolicy::Fixed => base,
            RetryPolicy::Exponential => exp,
            RetryPolicy::FullJitter => rng.random_range(0..=exp),
            RetryPolicy::EqualJitter => exp / 2 + rng.random_range(0..=exp - exp / 2),
            RetryPolicy::Decorrelated => {
                let high = previous.as_nanos().max(base).saturating_mul(3);
                rng.random_range(base..=high.max(base)).min(cap)
            }
        };
        SimDuration::from_nanos(ns)
    }
}

/// Fleet-wide retry budget state.
#[derive(Clone, Debug, Default)]
pub struct RetryBudget {
    pub first_attempts: u64,
    pub retries: u64,
    pub denied: u64,
}

impl RetryBudget {
    /// Whether one more retry fits `(ratio, min_per_s)` after `elapsed_s` seconds; counts it.
    pub fn try_spend(&mut self, limits: Option<(f64, f64)>, elapsed_s: f64) -> bool {
        let allowed = match limits {
            None => true,
            Some((ratio, floor)) => {
                (self.retries as f64) < ratio * self.first_attempts as f64 + floor * elapsed_s
            }
        };
        if allowed {
            self.retries += 1;
        } else {
            self.denied += 1;
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(retry: RetryPolicy) -> ClientSpec {
        ClientSpec {
            profile: ClientProfile::Rpc,
            reclick: None,
            timeout: SimDuration::from_secs(3),
            retry,
            base: SimDuration::from_millis(100),
            cap: SimDuration::from_secs(1),
            max_attempts: 4,
            budget: None,
            patience: None,
        }
    }

    #[test]
    fn backoffs_follow_their_formulas() {
        let mut rng = sim::rng::stream(1, "t");
        let ms = SimDuration::from_millis;
        let exp = spec(RetryPolicy::Exponential);
        let waits: Vec<_> = (1..=6).map(|n| exp.backoff(n, ms(0), &mut rng)).collect();
        assert_eq!(waits, [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
        for _ in 0..1000 {
            let full = spec(RetryPolicy::FullJitter).backoff(3, ms(0), &mut rng);
            assert!(full <= ms(400));
            let equal = spec(RetryPolicy::EqualJitter).backoff(3, ms(0), &mut rng);
            assert!(ms(200) <= equal && equal <= ms(400));
            let dec = spec(RetryPolicy::Decorrelated).backoff(2, ms(300), &mut rng);
            assert!(ms(100) <= dec && dec <= ms(900));
        }
    }

    #[test]
    fn budget_caps_retries_at_the_ratio_plus_floor() {
        let mut budget = RetryBudget { first_attempts: 100, ..RetryBudget::default() };
        let granted = (0..50).filter(|_| budget.try_spend(Some((0.1, 0.0)), 0.0)).count();
        assert_eq!(granted, 10);
        assert!(budget.try_spend(Some((0.1, 5.0)), 1.0), "the floor adds 5 per second");
    }
}
