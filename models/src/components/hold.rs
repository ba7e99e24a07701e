//! The first tier's hold (`[sale] pre_open = "hold"`): the requests kept until the opening, in
//! arrival order, and what the hold did. The sale model's side is `sale::arch::hold`.

use std::collections::VecDeque;

use serde::Serialize;
use sim::{SimTime, SlabKey};

/// The held requests and what the hold did.
#[derive(Debug, Default)]
pub struct HeldRequests {
    /// Held requests in arrival order.
    pub queue: VecDeque<SlabKey>,
    pub release_armed: bool,
    /// Requests held.
    pub held: u64,
    /// Most requests held at once.
    pub peak: u64,
    /// When the last held request was passed on.
    pub drained_at: Option<SimTime>,
}

/// What the hold did, for `summary.json` (`metrics.pre_open_hold`).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct HoldMetrics {
    pub held: u64,
    pub peak_held: u64,
    /// Seconds from the opening to the release of the last held request.
    pub drained_after_opening_s: f64,
}

impl HeldRequests {
    pub fn metrics(&self, opens_at: SimTime) -> HoldMetrics {
        HoldMetrics {
            held: self.held,
            peak_held: self.peak,
            drained_after_opening_s: self.drained_at.map_or(0.0, |t| (t - opens_at).as_secs_f64()),
        }
    }
}
