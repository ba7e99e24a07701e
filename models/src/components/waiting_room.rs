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

use std::collections::VecDeque;

use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sim::config::RateLit;
use sim::config::{Issues, join_key};
use sim::rng::{self, RngStream};
use sim::{Dist, DistSpec, SimDuration, SimTime};

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

/// What the waiting room did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RoomMetrics {
    /// Users who joined the room (a user sent back after their token expired counts again).
    pub joined: u64,
    pub admitted: u64,
    /// Users whose patience ran out in the room.
    pub abandoned: u64,
    pub peak_waiting: u64,
}

/// The room at run time: users waiting, admission tokens, the token-check and draw streams,
/// and what it counted.
#[derive(Debug)]
pub struct WaitingRoom {
    pub spec: WaitingRoomSpec,
    /// Waiting in arrival order.
    queue: VecDeque<u32>,
    /// Waiting to be drawn at random (all of them with `random`; the pre-queue with
    /// `shuffle_at_opening`).
    pool: Vec<u32>,
    /// Per user: when their token expires (`ZERO`: none).
    token_until: Vec<SimTime>,
    /// An admission is scheduled.
    ticking: bool,
    /// Token checks at the edge (`room/check`).
    check_rng: RngStream,
    /// Random draws of the next user (`room/order`).
    order_rng: RngStream,
    pub figures: RoomMetrics,
}

impl WaitingRoom {
    pub fn new(spec: &WaitingRoomSpec, users: usize, seed: u64) -> Self {
        WaitingRoom {
            spec: spec.clone(),
            queue: VecDeque::new(),
            pool: Vec::new(),
            token_until: vec![SimTime::ZERO; users],
            ticking: false,
            check_rng: rng::stream(seed, "room/check"),
            order_rng: rng::stream(seed, "room/order"),
            figures: RoomMetrics::default(),
        }
    }

    /// Hints that `user`'s token will be read soon.
    #[inline]
    pub fn prefetch(&self, user: u32) {
        sim::prefetch::prefetch_at(&self.token_until, user as usize);
    }

    /// The edge checks `user`'s token at `now`: a valid one passes after the check's delay;
    /// `None` sends the request to the room's page.
    pub fn check_token(&mut self, now: SimTime, user: u32) -> Option<SimDuration> {
        (self.token_until[user as usize] > now).then(|| self.spec.check.sample(&mut self.check_rng))
    }

    /// `user` joins the room at `now` (`opens_at`: the sale's opening, when admissions start).
    /// Returns when the first admission is due if this starts the admissions.
    pub fn join(&mut self, now: SimTime, user: u32, opens_at: SimTime) -> Option<SimTime> {
        let to_pool = match self.spec.order {
            RoomOrder::Fifo => false,
            RoomOrder::Random => true,
            RoomOrder::ShuffleAtOpening => now < opens_at,
        };
        if to_pool {
            self.pool.push(user);
        } else {
            self.queue.push_back(user);
        }
        self.figures.joined += 1;
        self.figures.peak_waiting = self.figures.peak_waiting.max(self.waiting() as u64);
        if self.ticking {
            return None;
        }
        self.ticking = true;
        Some(now.max(opens_at) + self.spec.admit_every)
    }

    /// The next user to admit: drawn at random from the pool while it has any, then in arrival
    /// order. `None` (the room is empty) stops the admissions.
    pub fn next_waiting(&mut self) -> Option<u32> {
        let next = if self.pool.is_empty() {
            self.queue.pop_front()
        } else {
            let i = self.order_rng.random_range(0..self.pool.len());
            Some(self.pool.swap_remove(i))
        };
        if next.is_none() {
            self.ticking = false;
        }
        next
    }

    /// A user drawn by [`WaitingRoom::next_waiting`] had already left (patience).
    pub fn abandoned(&mut self) {
        self.figures.abandoned += 1;
    }

    /// `user` is admitted at `now`: a token for the session. Returns when the next admission is
    /// due, if anyone is still waiting (otherwise the admissions stop).
    pub fn admit(&mut self, now: SimTime, user: u32) -> Option<SimDuration> {
        self.figures.admitted += 1;
        self.token_until[user as usize] = now + self.spec.session;
        let more = self.waiting() > 0;
        if !more {
            self.ticking = false;
        }
        more.then_some(self.spec.admit_every)
    }

    fn waiting(&self) -> usize {
        self.queue.len() + self.pool.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(order: RoomOrder) -> WaitingRoom {
        let raw = RawWaitingRoom {
            admit_rate: RateLit("10/s".into()),
            order: Some(order),
            session: None,
            check: None,
        };
        WaitingRoom::new(&raw.check("room", &mut Issues::new()).unwrap(), 100, 7)
    }

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    /// Joins users 0..n at 1 ms apart, then admits everyone; the admission order.
    fn drain(room: &mut WaitingRoom, users: &[u32], opens_at: SimTime) -> Vec<u32> {
        for (i, &u) in users.iter().enumerate() {
            room.join(at(i as u64), u, opens_at);
        }
        let mut order = Vec::new();
        while let Some(u) = room.next_waiting() {
            order.push(u);
            room.admit(at(1000), u);
        }
        order
    }

    #[test]
    fn fifo_admits_in_arrival_order_at_the_rate_from_the_opening() {
        let mut r = room(RoomOrder::Fifo);
        assert_eq!(r.join(at(5), 3, at(1000)), Some(at(1100)), "first admission: opening + 1/rate");
        assert_eq!(r.join(at(6), 1, at(1000)), None, "admissions already scheduled");
        assert_eq!(r.next_waiting(), Some(3));
        assert_eq!(r.admit(at(1100), 3), Some(SimDuration::from_millis(100)), "one more waits");
        assert!(r.check_token(at(1200), 3).is_some(), "a valid token passes");
        assert_eq!(r.check_token(at(1200), 1), None, "no token: back to the room");
        let mut r = room(RoomOrder::Fifo);
        assert_eq!(drain(&mut r, &[5, 2, 9, 4], at(1000)), vec![5, 2, 9, 4]);
        assert_eq!(r.figures.admitted, 4);
    }

    #[test]
    fn random_order_admits_everyone_once_in_a_seeded_shuffle() {
        let users: Vec<u32> = (0..20).collect();
        let order = drain(&mut room(RoomOrder::Random), &users, at(1000));
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, users, "each user exactly once");
        assert_ne!(order, users, "not arrival order");
        assert_eq!(order, drain(&mut room(RoomOrder::Random), &users, at(1000)), "seeded");
    }

    #[test]
    fn shuffle_at_opening_shuffles_the_pre_queue_and_queues_later_arrivals_behind() {
        // Users 0..10 arrive before the opening (at 0..9 ms), 10..15 after it (10..14 ms).
        let users: Vec<u32> = (0..15).collect();
        let order = drain(&mut room(RoomOrder::ShuffleAtOpening), &users, at(10));
        let (early, late) = order.split_at(10);
        let mut early_sorted = early.to_vec();
        early_sorted.sort();
        assert_eq!(early_sorted, (0..10).collect::<Vec<u32>>(), "the pre-queue comes first");
        assert_ne!(early, &(0..10).collect::<Vec<u32>>()[..], "shuffled");
        assert_eq!(late, &[10, 11, 12, 13, 14], "later arrivals in order");
    }

    #[test]
    fn an_empty_room_stops_admitting_until_someone_joins() {
        let mut r = room(RoomOrder::Fifo);
        r.join(at(0), 1, at(0));
        assert_eq!(r.next_waiting(), Some(1));
        assert_eq!(r.admit(at(100), 1), None, "nobody else: admissions stop");
        assert_eq!(r.next_waiting(), None);
        assert!(r.join(at(200), 2, at(0)).is_some(), "a new arrival restarts them");
    }
}
