//! The payment stage's settings (`[sale.payment]`) and figures (`metrics.payment`); what it
//! does during a run is `crate::sale::payment`'s.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sim::config::{DurationLit, Issues, join_key};
use sim::rng::{self, RngStream};
use sim::{Dist, DistSpec, SimDuration, SimTime};

use super::{dist_or, duration_or, lognormal};

/// The `[sale.payment]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPayment {
    /// Order created → unpaid order cancelled and its unit restocked (default 15m).
    pub window: Option<DurationLit>,
    /// Share of buyers told of their order who pay (default 0.98).
    pub told_pay_share: Option<f64>,
    /// Share of buyers never told who find the order and pay (default 0.05).
    pub untold_pay_share: Option<f64>,
    /// Order created → the buyer pays (default LN(median 30s, p99 5m)).
    pub delay: Option<DistSpec>,
}

/// Validated payment settings.
#[derive(Clone, Debug)]
pub struct PaymentSpec {
    pub window: SimDuration,
    pub told_pay_share: f64,
    pub untold_pay_share: f64,
    pub delay: Dist,
}

impl RawPayment {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<PaymentSpec> {
        let before = issues.len();
        let window = duration_or(&self.window, at, "window", SimDuration::from_secs(900), issues);
        if window.is_some_and(|w| w.is_zero()) {
            issues.push(join_key(at, "window"), "must be > 0 (got 0s)");
        }
        let mut share = |value: Option<f64>, key: &str, default: f64| match value {
            None => default,
            Some(v) if (0.0..=1.0).contains(&v) => v,
            Some(v) => {
                issues.push(join_key(at, key), format!("must be a share in [0, 1] (got {v})"));
                default
            }
        };
        let told = share(self.told_pay_share, "told_pay_share", 0.98);
        let untold = share(self.untold_pay_share, "untold_pay_share", 0.05);
        if untold > told {
            issues.push(
                join_key(at, "untold_pay_share"),
                format!("must not exceed told_pay_share ({told}): knowing helps (got {untold})"),
            );
        }
        let default_delay = lognormal(SimDuration::from_secs(30), SimDuration::from_secs(300));
        let delay = dist_or(&self.delay, at, "delay", default_delay, issues);
        if issues.len() > before {
            return None;
        }
        Some(PaymentSpec {
            window: window?,
            told_pay_share: told,
            untold_pay_share: untold,
            delay: delay?,
        })
    }
}

/// What the payment stage counted: `metrics.payment`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentMetrics {
    /// Orders created (duplicates included): each opened a payment window.
    pub orders: u64,
    pub paid: u64,
    /// Orders paid by buyers who were never told of them.
    pub paid_untold: u64,
    /// Unpaid at the window's end: cancelled, their unit restocked.
    pub cancelled: u64,
    /// Orders created after the first restock (units sold again).
    pub sold_after_restock: u64,
    /// Paid ÷ orders created.
    pub payment_success_rate: Option<f64>,
}

/// The payment stage at run time.
pub struct Payments {
    pub spec: PaymentSpec,
    seed_hash: u64,
    delay_rng: RngStream,
    /// Per buyer with an order: (windows open, payments made in them not yet matched to a
    /// window's end).
    pub open: BTreeMap<u32, (u16, u16)>,
    pub first_restock: Option<SimTime>,
    pub figures: PaymentMetrics,
}

impl Payments {
    pub fn new(spec: &PaymentSpec, seed: u64) -> Self {
        Payments {
            spec: spec.clone(),
            seed_hash: rng::label_hash("payment/buyer") ^ seed,
            delay_rng: rng::stream(seed, "payment/delay"),
            open: BTreeMap::new(),
            first_restock: None,
            figures: PaymentMetrics::default(),
        }
    }

    /// The buyer's propensity to pay, the same in every architecture: uniform on [0, 1).
    pub fn propensity(&self, user: u32) -> f64 {
        let mut state = self.seed_hash ^ (user as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (rng::splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn delay(&mut self) -> SimDuration {
        self.spec.delay.sample(&mut self.delay_rng)
    }

    pub fn finish(&self) -> PaymentMetrics {
        let mut f = self.figures.clone();
        f.payment_success_rate = (f.orders > 0).then(|| f.paid as f64 / f.orders as f64);
        f
    }
}
