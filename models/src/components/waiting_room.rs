//! Virtual waiting room: an admission front, at the edge, before any flash-sale architecture.
//!
//! A request without a valid admission token is answered with the room's page and its user
//! joins the room (once). From the sale's opening the room admits users at `admit_rate`, one
//! every 1/rate: `fifo` by first arrival, `random` (every waiting user equally likely, as
//! Cloudflare's Random), or `shuffle_at_opening` (Queue-it's pre-queue: those who arrived before
//! the opening are shuffled, later arrivals queue behind them in order). An admitted user holds a
//! token for `session` and clicks again at once; a request whose token has expired sends its
//! user back to the room. Users leave the room when their patience runs out. The room is not
//! tied to the stock: it keeps admitting users after the sale has sold out (who then hear "sold
//! out" after their wait) — Shopify's lesson, parameters.md §9.
//!
//! Defaults (parameters.md §9, §11): token check LN(1 ms, 5 ms) at the edge [A], session 5 min,
//! FIFO; no price of its own (a CDN feature billed per request with the CDN).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::RateLit;
use sim::config::{Issues, join_key};
use sim::{Dist, DistSpec, SimDuration};

use super::{dist_or, duration_or, lognormal};

/// The order users leave the room in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomOrder {
    /// By first arrival.
    Fifo,
    /// Any waiting user, equally likely.
    Random,
    /// Arrivals before the opening shuffled, later ones in order behind them.
    ShuffleAtOpening,
}

/// The `[variant.waiting_room]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWaitingRoom {
    /// Users admitted per second, from the opening (required), e.g. "2k/s".
    pub admit_rate: RateLit,
    /// `fifo` (default), `random` or `shuffle_at_opening`.
    pub order: Option<RoomOrder>,
    /// How long an admission token stays valid (default 5m, at least 1s).
    pub session: Option<sim::config::DurationLit>,
    /// Time to check a request's token at the edge (default LN(1ms, 5ms)).
    pub check: Option<DistSpec>,
}

/// Validated waiting-room settings.
#[derive(Clone, Debug)]
pub struct WaitingRoomSpec {
    /// Time between two admissions.
    pub admit_every: SimDuration,
    pub order: RoomOrder,
    pub session: SimDuration,
    pub check: Dist,
}

impl RawWaitingRoom {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<WaitingRoomSpec> {
        let before = issues.len();
        let rate = self.admit_rate.check(&join_key(at, "admit_rate"), issues);
        let every = rate.map(|r| r.as_per_sec()).and_then(|r| {
            if r > 0.0 && r <= 1e9 {
                Some(SimDuration::from_nanos((1e9 / r).round().max(1.0) as u64))
            } else {
                issues.push(
                    join_key(at, "admit_rate"),
                    format!("must be > 0 and at most 1G/s (got {r}/s)"),
                );
                None
            }
        });
        let session =
            duration_or(&self.session, at, "session", SimDuration::from_secs(300), issues);
        // A token must outlive the trip back to the shop, or admitted users bounce straight back.
        if session.is_some_and(|s| s < SimDuration::from_secs(1)) {
            issues.push(join_key(at, "session"), "must be at least 1s");
        }
        let ms = SimDuration::from_millis;
        let check = dist_or(&self.check, at, "check", lognormal(ms(1), ms(5)), issues);
        if issues.len() > before {
            return None;
        }
        Some(WaitingRoomSpec {
            admit_every: every?,
            order: self.order.unwrap_or(RoomOrder::Fifo),
            session: session?,
            check: check?,
        })
    }
}
