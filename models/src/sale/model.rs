//! The flash-sale model: clients, their attempts, and the components an architecture wires up.
//!
//! This file holds the state, the closed event enum and the client side (sending, timeouts,
//! answers, retries, giving up); `arch/` holds the server side of each architecture, and the
//! components (`crate::components`) own their state, streams, fault windows and counters. Per-user
//! state is a few dozen bytes and per-attempt state lives in a slab, freed when both the client
//! and the server are done with it, so memory follows users and requests in flight.
//!
//! Random streams: clicks come from the shared population (`traffic/*`); inside a variant,
//! `client/rtt`, `client/retry`, `gateway/service`, `cdn/service`, `redis/rtt`, `redis/service`,
//! `db/statement`, `db/lock-hold`.

use sim::rng::{self, RngStream};
use sim::stats::DurationHistogram;
use sim::{Context, Model, SimDuration, SimTime, Slab, SlabKey, Ticket};

use super::outcome::{Outcome, OutcomeCounts, UserOutcome, UserOutcomeCounts};
use super::timeline::Timeline;
use super::{SaleSetup, SaleVariant};
use crate::architecture::Architecture;
use crate::components::cdn::Cdn;
use crate::components::db::Db;
use crate::components::gateway::Gateway;
use crate::components::redis::{Redis, StockAnswer};
use crate::traffic::client::RetryBudget;
use crate::traffic::{ClickKind, Population};

/// Where a request is, for arrivals, service completions and wait timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hop {
    Edge,
    Gateway,
    Redis,
    /// Back at the gateway with Redis's answer.
    RedisReply,
    DbPool,
    DbStatement,
    RowLock,
    /// The waiting room's token check at the edge.
    Room,
    /// `queue_stream`: a poll's GET reaches the result store.
    Results,
    /// Back at the gateway with the result store's answer.
    ResultsReply,
}

/// Everything that can happen in a flash sale.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next click of the shared population.
    Click { index: u32 },
    /// A user retries after a backoff.
    Retry { user: u32 },
    /// A bot fires its next request.
    Bot { user: u32 },
    /// The earliest pending client timeout is due.
    TimeoutsDue,
    /// A request of `user` reaches `hop` (the user named so its state can be fetched early).
    Arrive { attempt: SlabKey, hop: Hop, user: u32 },
    /// `hop` finishes its work on a request.
    Served { attempt: SlabKey, hop: Hop },
    /// A request waiting at `hop` gives up (connection or lock wait timeout).
    WaitTimeout { attempt: SlabKey, hop: Hop, ticket: Ticket },
    /// The answer reaches the client (`user`'s, named so its state can be fetched early).
    Reply { attempt: SlabKey, user: u32 },
    /// `queue_stream`: a user's next poll is due.
    Poll { user: u32 },
    /// `queue_stream`: the topic, the job and the result store (see `arch::queue_stream`).
    Stream(super::arch::queue_stream::StreamEvent),
    /// The waiting room admits its next user.
    Admit,
    /// The crash of `[[fault]]` number `index` happens.
    Fault { index: u16 },
}

/// What an attempt is for, from the client's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptKind {
    First,
    Duplicate,
    Retry,
    Bot,
    /// `queue_stream`: asking the result store for the answer to a queued request.
    Poll,
}

/// What the server does next with an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The atomic stock script.
    Script,
    /// Non-atomic: the read.
    RedisRead,
    /// Non-atomic: the decrement.
    RedisDecr,
    /// Giving a reserved unit back after a failed final write.
    Compensate,
    /// `queue_stream`: waiting for the topic's acknowledgement.
    Produce,
    /// `queue_stream`: a poll's read of the result store.
    ResultGet,
    /// Reading the stock row (no lock).
    Select,
    /// Holding the row lock: update and commit (for `for_update`, the read too).
    Locked,
    Done,
}

/// One attempt in flight.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub user: u32,
    pub serial: u32,
    pub kind: AttemptKind,
    pub sent: SimTime,
    /// One-way client ↔ first tier delay for this attempt.
    pub rtt_half: SimDuration,
    /// When it reached the gateway (while it holds a worker).
    pub gateway_since: Since,
    /// When it reached the Redis shard.
    pub redis_since: SimTime,
    /// When it got (or asked for) a pooled connection, while it holds or waits for one.
    pub pool_since: Since,
    /// When it asked for the row lock, while it holds or waits for it.
    pub lock_since: Since,
    pub stage: Stage,
    pub redis_answer: Option<StockAnswer>,
    pub reserved_in_redis: bool,
    pub read_stock: i64,
    pub read_version: u64,
    pub read_user_orders: u16,
    pub occ_tries: u16,
    /// `queue_stream`: the produce request of this attempt, or the answer code a poll read.
    pub stream_ref: u32,
    /// The server's answer, once there is one.
    pub answer: Option<Outcome>,
    /// The answer was counted as late while the client still waited for its timeout.
    pub answered_late: bool,
    pub client_waiting: bool,
    pub replied: bool,
    pub server_done: bool,
}

/// An optional instant in 8 bytes (`u64::MAX`: none), for the per-attempt "holding since"
/// times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Since(u64);

impl Since {
    pub const NONE: Since = Since(u64::MAX);

    pub fn at(time: SimTime) -> Self {
        Since(time.as_nanos())
    }

    /// The instant, leaving none behind.
    pub fn take(&mut self) -> Option<SimTime> {
        let value = std::mem::replace(self, Since::NONE).0;
        (value != u64::MAX).then(|| SimTime::from_nanos(value))
    }
}

/// Per-user state: 24 bytes, because a sale has millions of users and every event of theirs
/// reads it (the table's cache misses are a good part of a run's time).
#[derive(Clone, Debug)]
pub struct User {
    /// First click in nanoseconds; `u64::MAX` before it.
    first_click_ns: u64,
    /// First clicks and retries sent (duplicates not counted), saturating.
    pub attempts: u16,
    pub in_flight: u16,
    pub told_purchased: bool,
    pub told_limit: bool,
    pub told_sold_out: bool,
    /// A retryable failure has been seen since the last attempt was sent.
    pub pending_failure: bool,
    /// Told "not open" since the last attempt was sent: the countdown decides the next click.
    pub saw_not_open: bool,
    pub retry_pending: bool,
    pub outcome: Option<UserOutcome>,
    pub is_bot: bool,
    /// `queue_stream`: a request of this user is queued; the answer comes by polling.
    pub queued: bool,
    /// `queue_stream`: a poll is scheduled.
    pub poll_pending: bool,
    /// Waiting in the waiting room to be admitted.
    pub in_room: bool,
}

impl Default for User {
    fn default() -> Self {
        User {
            first_click_ns: u64::MAX,
            attempts: 0,
            in_flight: 0,
            told_purchased: false,
            told_limit: false,
            told_sold_out: false,
            pending_failure: false,
            saw_not_open: false,
            retry_pending: false,
            outcome: None,
            is_bot: false,
            queued: false,
            poll_pending: false,
            in_room: false,
        }
    }
}

impl User {
    pub fn first_click(&self) -> Option<SimTime> {
        (self.first_click_ns != u64::MAX).then(|| SimTime::from_nanos(self.first_click_ns))
    }
}

const _: () = assert!(std::mem::size_of::<User>() <= 24);
const _: () = assert!(std::mem::size_of::<Event>() <= 16);
const _: () = assert!(std::mem::size_of::<Attempt>() <= 96);

/// The components of a variant, each with its own state, random streams, fault windows and
/// counters; the jobs they queue are attempts.
pub struct Tiers {
    pub cdn: Option<Cdn>,
    pub gateway: Gateway<SlabKey>,
    /// `three_tier_redis`: the stock shard.
    pub redis: Option<Redis<SlabKey>>,
    /// The stock row (`queue_stream`: the order table the sink writes).
    pub db: Db<SlabKey>,
    /// `queue_stream`: the topic, the job and the result store.
    pub stream: Option<super::arch::queue_stream::StreamTiers>,
    pub room: Option<super::room::Room>,
}

/// Random streams of the client side and of the parts that do not own theirs yet.
pub struct Streams {
    pub rtt: RngStream,
    pub retry: RngStream,
    pub room_check: RngStream,
    pub room_order: RngStream,
}

/// Everything counted during a run.
#[derive(Debug, Default)]
pub struct Tallies {
    pub attempts: u64,
    pub by_kind: [u64; 5],
    pub outcomes: OutcomeCounts,
    /// Answers that reached a client that had already timed out, by outcome.
    pub late_answers: OutcomeCounts,
    pub attempt_latency: DurationHistogram,
    pub user_latency: DurationHistogram,
    pub users: UserOutcomeCounts,
    pub leaked: u64,
    pub budget_denied: u64,
    /// Crashes that happened (`[[fault]]`).
    pub crashes: u64,
    /// FNV-1a over every exogenous click consumed (time, user): equal across variants that saw
    /// the same traffic.
    pub traffic_digest: u64,
}

/// Folds one click into a running FNV-1a digest.
fn digest(state: u64, time_ns: u64, user: u32) -> u64 {
    let state = if state == 0 { 0xcbf2_9ce4_8422_2325 } else { state };
    time_ns
        .to_le_bytes()
        .iter()
        .chain(user.to_le_bytes().iter())
        .fold(state, |h, b| (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A flash-sale variant being simulated.
pub struct SaleModel<'a> {
    pub setup: &'a SaleSetup,
    pub variant: &'a SaleVariant,
    pub population: &'a Population,
    pub tiers: Tiers,
    pub streams: Streams,
    pub attempts: Slab<Attempt>,
    pub users: Vec<User>,
    pub tallies: Tallies,
    pub budget: RetryBudget,
    pub timeline: Timeline,
    next_serial: u32,
    /// Attempts whose client is still waiting.
    in_flight: u64,
    /// Client deadlines `(when, attempt, serial)`, in sending order.
    timeouts: std::collections::VecDeque<(SimTime, SlabKey, u32)>,
    /// Whether a `TimeoutsDue` event is pending.
    timeout_armed: bool,
    /// Per user: the last backoff wait (decorrelated jitter only; empty otherwise).
    last_backoff: Vec<SimDuration>,
    pub(super) fault_rng: RngStream,
}

impl<'a> SaleModel<'a> {
    /// Builds the model and schedules the first click and the bots.
    pub fn new(
        setup: &'a SaleSetup,
        variant: &'a SaleVariant,
        population: &'a Population,
        seed: u64,
        ctx: &mut Context<Event>,
    ) -> Self {
        let humans = setup.traffic.users as usize;
        let bots = setup.traffic.bots.as_ref().map_or(0, |b| b.users as usize);
        let all = humans + bots;
        let stock = setup.sale.stock as i64;
        let tiers = Tiers {
            cdn: variant.cdn.clone().map(|spec| Cdn::new(spec, all, seed)),
            gateway: Gateway::new(&variant.gateway, seed),
            redis: variant.redis.as_ref().map(|spec| Redis::new(spec, stock, all, seed)),
            db: Db::new(&variant.db, stock, all, seed),
            stream: super::arch::queue_stream::StreamTiers::new(variant, stock, all, seed),
            room: variant.waiting_room.as_ref().map(|_| super::room::Room::new(all)),
        };
        let s = |label: &str| rng::stream(seed, label);
        let streams = Streams {
            rtt: s("client/rtt"),
            retry: s("client/retry"),
            room_check: s("room/check"),
            room_order: s("room/order"),
        };
        let mut users = vec![User::default(); all];
        for user in &mut users[humans..] {
            user.is_bot = true;
        }
        if !population.clicks.is_empty() {
            ctx.at(population.clicks[0].time, Event::Click { index: 0 });
        }
        if let Some(b) = &setup.traffic.bots {
            let start = (setup.sale.opens_at.as_nanos() as i64 + b.start_ns).max(0) as u64;
            for bot in 0..b.users {
                // Bots start together, a microsecond apart, in a fixed order.
                let at = SimTime::from_nanos(start + bot as u64 * 1_000);
                ctx.at(at, Event::Bot { user: humans as u32 + bot });
            }
        }
        let mut model = SaleModel {
            setup,
            variant,
            population,
            tiers,
            streams,
            attempts: Slab::new(),
            users,
            tallies: Tallies::default(),
            budget: RetryBudget::default(),
            timeline: Timeline::new(SimDuration::from_millis(100)),
            next_serial: 0,
            in_flight: 0,
            timeouts: std::collections::VecDeque::new(),
            timeout_armed: false,
            last_backoff: Vec::new(),
            fault_rng: rng::stream(seed, "fault"),
        };
        if model.client().retry == crate::traffic::client::RetryPolicy::Decorrelated {
            model.last_backoff = vec![SimDuration::ZERO; all];
        }
        model.plan_faults(ctx);
        model
    }

    /// Hints the per-user entries an event of `user` reads.
    #[inline]
    fn prefetch_user(&self, user: u32) {
        sim::prefetch::prefetch_at(&self.users, user as usize);
        if let Some(deadlines) = &self.population.give_up_at {
            sim::prefetch::prefetch_at(deadlines, user as usize);
        }
        if let Some(cdn) = &self.tiers.cdn {
            cdn.prefetch(user);
        }
        if let Some(stream) = &self.tiers.stream {
            stream.prefetch(user);
        }
    }

    /// Hints the per-user entries the arrival of `user`'s request at `hop` reads.
    #[inline]
    fn prefetch_arrival(&self, hop: Hop, user: u32) {
        match hop {
            Hop::Edge => {
                if let Some(cdn) = &self.tiers.cdn {
                    cdn.prefetch(user);
                }
            }
            Hop::Room => {
                if let Some(room) = &self.tiers.room {
                    room.prefetch(user);
                }
            }
            Hop::Redis => {
                if let Some(redis) = &self.tiers.redis {
                    redis.stock.prefetch(user);
                }
            }
            _ => {}
        }
    }

    /// The clients' timeout and retry behaviour in this variant.
    pub(super) fn client(&self) -> &'a crate::traffic::client::ClientSpec {
        let variant: &'a SaleVariant = self.variant;
        let setup: &'a SaleSetup = self.setup;
        variant.client.as_ref().unwrap_or(&setup.traffic.client)
    }

    /// Attempts whose client is still waiting.
    pub(super) fn in_flight_count(&self) -> u64 {
        self.in_flight
    }

    pub fn architecture(&self) -> Architecture {
        self.variant.architecture
    }

    /// Sends a new attempt for `user` at `now`.
    pub(super) fn send(
        &mut self,
        now: SimTime,
        user: u32,
        kind: AttemptKind,
        ctx: &mut Context<Event>,
    ) {
        let rtt = self.variant.client_rtt.sample(&mut self.streams.rtt);
        let rtt_half = SimDuration::from_nanos(rtt.as_nanos() / 2);
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        let attempt = self.attempts.insert(Attempt {
            user,
            serial,
            kind,
            sent: now,
            rtt_half,
            gateway_since: Since::NONE,
            redis_since: now,
            pool_since: Since::NONE,
            lock_since: Since::NONE,
            stage: Stage::Done,
            redis_answer: None,
            reserved_in_redis: false,
            read_stock: 0,
            read_version: 0,
            read_user_orders: 0,
            occ_tries: 0,
            stream_ref: 0,
            answer: None,
            answered_late: false,
            client_waiting: true,
            replied: false,
            server_done: false,
        });
        self.tallies.attempts += 1;
        self.tallies.by_kind[kind as usize] += 1;
        self.in_flight += 1;
        self.timeline.attempt(now);
        self.timeline.in_flight(now, self.in_flight);
        let u = &mut self.users[user as usize];
        u.in_flight += 1;
        u.pending_failure = false;
        if kind != AttemptKind::Duplicate {
            u.attempts = u.attempts.saturating_add(1);
        }
        if u.first_click_ns == u64::MAX {
            u.first_click_ns = now.as_nanos();
            if kind != AttemptKind::Bot {
                self.budget.first_attempts += 1;
            }
        }
        // Every attempt has the same timeout, so deadlines come in sending order: a FIFO holds
        // them, and one calendar event at a time wakes the earliest. Attempts answered before
        // their deadline are dropped from the FIFO without ever reaching the calendar.
        let deadline = now + self.client().timeout;
        self.timeouts.push_back((deadline, attempt, serial));
        if !self.timeout_armed {
            self.timeout_armed = true;
            ctx.at(deadline, Event::TimeoutsDue);
        }
        // Status polls carry no purchase: the waiting room lets them through.
        let hop = if kind == AttemptKind::Poll { self.after_room_hop() } else { self.entry_hop() };
        let passes_edge = |cdn: &Cdn| !cdn.spec.dedupe || kind == AttemptKind::Poll;
        match &mut self.tiers.cdn {
            // An edge that will not de-duplicate this request decides nothing on arrival: count
            // it and go straight on to the gateway after the edge's delay, one event fewer.
            Some(cdn) if hop == Hop::Edge && passes_edge(cdn) => {
                let at_edge = now + rtt_half;
                cdn.pass(at_edge);
                let delay = cdn.delay(at_edge);
                ctx.after(rtt_half + delay, Event::Arrive { attempt, hop: Hop::Gateway, user });
            }
            _ => ctx.after(rtt_half, Event::Arrive { attempt, hop, user }),
        }
        self.stream_activity(now, ctx);
    }

    fn on_click(&mut self, now: SimTime, index: u32, ctx: &mut Context<Event>) {
        let clicks = &self.population.clicks;
        let click = clicks[index as usize];
        self.tallies.traffic_digest =
            digest(self.tallies.traffic_digest, click.time.as_nanos(), click.user);
        if let Some(next) = clicks.get(index as usize + 1) {
            ctx.at(next.time, Event::Click { index: index + 1 });
        }
        // Duplicate clicks were clicked already: a front end that fails to de-duplicate sends
        // them whatever the first click's answer.
        let kind = match click.kind {
            ClickKind::First => AttemptKind::First,
            ClickKind::Duplicate => AttemptKind::Duplicate,
        };
        self.send(now, click.user, kind, ctx);
    }

    fn on_bot(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let bots = self.setup.traffic.bots.as_ref().expect("bot events only with bots");
        if self.users[user as usize].outcome.is_some() {
            return;
        }
        if let Some(stop) = bots.stop_ns
            && now.as_nanos() as i64 >= self.setup.sale.opens_at.as_nanos() as i64 + stop
        {
            self.finish_user(now, user, UserOutcome::GaveUp);
            return;
        }
        self.send(now, user, AttemptKind::Bot, ctx);
        ctx.after(bots.interval, Event::Bot { user });
    }

    /// The server's answer is ready at the first tier: release the gateway worker if held, send
    /// the answer back, and mark the server side done unless compensation follows.
    pub(super) fn answer(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        outcome: Outcome,
        ctx: &mut Context<Event>,
    ) {
        self.release_gateway(now, attempt, ctx);
        let timeout = self.client().timeout;
        let a = self.attempts.get_mut(attempt);
        a.stage = Stage::Done;
        a.answer = Some(outcome);
        let (rtt_half, user) = (a.rtt_half, a.user);
        let compensate = a.reserved_in_redis && outcome != Outcome::Purchased;
        // An answer that will reach its client only after the client's deadline is late: its
        // timeout fires first (deadlines are handled before a reply at the same instant, and
        // strictly earlier ones certainly). Count it now instead of scheduling its arrival.
        let deadline = a.sent + timeout;
        if a.client_waiting && now + rtt_half < deadline {
            ctx.after(rtt_half, Event::Reply { attempt, user });
        } else {
            self.tallies.late_answers.add(outcome);
            if a.client_waiting {
                // The entry lives on until the timeout has been handled.
                a.answered_late = true;
            } else {
                a.replied = true;
            }
        }
        if compensate {
            self.start_compensation(now, attempt, ctx);
        } else {
            self.server_done(attempt);
        }
    }

    /// The server side has finished with `attempt`; free it once the client is done too.
    pub(super) fn server_done(&mut self, attempt: SlabKey) {
        let a = self.attempts.get_mut(attempt);
        a.server_done = true;
        if a.replied {
            self.attempts.remove(attempt);
        }
    }

    /// The answer reaches the client.
    fn on_reply(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let a = self.attempts.get_mut(attempt);
        a.replied = true;
        let outcome = a.answer.expect("a reply carries an answer");
        let (waiting, server_done) = (a.client_waiting, a.server_done);
        a.client_waiting = false;
        if waiting {
            self.client_outcome(now, attempt, outcome, ctx);
        } else {
            self.tallies.late_answers.add(outcome);
        }
        if server_done {
            self.attempts.remove(attempt);
        }
    }

    /// Times out every attempt whose deadline has come, then arms the next live deadline.
    fn on_timeouts_due(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        self.timeout_armed = false;
        while let Some(&(deadline, attempt, serial)) = self.timeouts.front() {
            let live = self
                .attempts
                .get_opt_mut(attempt)
                .is_some_and(|a| a.serial == serial && a.client_waiting);
            if !live {
                self.timeouts.pop_front();
                continue;
            }
            if deadline > now {
                self.timeout_armed = true;
                ctx.at(deadline, Event::TimeoutsDue);
                return;
            }
            self.timeouts.pop_front();
            self.attempts.get_mut(attempt).client_waiting = false;
            self.client_outcome(now, attempt, Outcome::TimedOut, ctx);
            let a = self.attempts.get_mut(attempt);
            if a.answered_late {
                a.replied = true;
                if a.server_done {
                    self.attempts.remove(attempt);
                }
            }
        }
    }

    /// An attempt ends for its client with `outcome`.
    fn client_outcome(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        outcome: Outcome,
        ctx: &mut Context<Event>,
    ) {
        let a = self.attempts.get(attempt);
        let (user, sent, is_poll) = (a.user, a.sent, a.kind == AttemptKind::Poll);
        self.tallies.outcomes.add(outcome);
        self.tallies.attempt_latency.record(now - sent);
        self.in_flight -= 1;
        self.timeline.outcome(now, outcome);
        self.timeline.in_flight(now, self.in_flight);
        let u = &mut self.users[user as usize];
        u.in_flight -= 1;
        match outcome {
            Outcome::Purchased => u.told_purchased = true,
            Outcome::LimitReached => u.told_limit = true,
            Outcome::SoldOut => u.told_sold_out = true,
            Outcome::NotOpen => u.saw_not_open = true,
            Outcome::Queued => u.queued = true,
            Outcome::InRoom => {}
            // A failed poll is followed by the next poll, not by a new purchase request.
            o if o.retryable() && !is_poll => u.pending_failure = true,
            _ => {}
        }
        if let Some(decided) = u.outcome {
            // A duplicate click sent earlier can still bring "purchased" to a user already
            // decided: what they were told last about holding an item wins.
            if outcome == Outcome::Purchased && decided != UserOutcome::Purchased {
                u.outcome = Some(UserOutcome::Purchased);
            }
            return;
        }
        let settled = u.told_purchased || u.told_limit || u.told_sold_out;
        if is_poll {
            u.poll_pending = false;
        }
        let polls_next = !settled && (outcome == Outcome::Queued || is_poll);
        if polls_next && !u.poll_pending {
            self.schedule_poll(now, user, ctx);
        }
        let u = &mut self.users[user as usize];
        // Humans decide once nothing of theirs is in flight; bots as soon as they are told.
        // A user told their answer does not wait for the waiting room.
        let waits_in_room = u.in_room && !settled;
        if !u.is_bot && (u.in_flight > 0 || u.retry_pending || u.poll_pending || waits_in_room) {
            return;
        }
        if settled {
            let final_outcome = if u.told_purchased {
                UserOutcome::Purchased
            } else if u.told_limit {
                UserOutcome::LimitReached
            } else {
                UserOutcome::SoldOut
            };
            self.finish_user(now, user, final_outcome);
        } else if u.is_bot {
            // Bots fire on their own schedule.
        } else if u.saw_not_open {
            u.saw_not_open = false;
            self.countdown(now, user, ctx);
        } else if u.queued {
            // Queued, but polling is over (poll timeout or patience) without an answer.
            self.finish_user(now, user, UserOutcome::GaveUp);
        } else if u.pending_failure {
            self.maybe_retry(now, user, ctx);
        } else {
            self.finish_user(now, user, UserOutcome::GaveUp);
        }
    }

    /// Told "not open yet": the page counts down to the opening by the server's clock and the
    /// user clicks again a reaction time after it. This is not a retry: it uses no attempt and no
    /// retry budget.
    fn countdown(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let opens = self.setup.sale.opens_at;
        let reaction = self
            .setup
            .traffic
            .reaction
            .as_ref()
            .map_or(SimDuration::ZERO, |r| r.sample(&mut self.streams.retry));
        let u = &mut self.users[user as usize];
        u.retry_pending = true;
        u.attempts = u.attempts.saturating_sub(1);
        ctx.at(opens.max(now) + reaction, Event::Retry { user });
    }

    /// After a retryable failure with nothing else in flight: retry, or give up.
    fn maybe_retry(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let client = self.client();
        let u = &self.users[user as usize];
        let patient = self
            .population
            .give_up_at
            .as_ref()
            .is_none_or(|deadlines| deadlines.get(user as usize).is_none_or(|d| now < *d));
        let may = client.retry != crate::traffic::client::RetryPolicy::None
            && (u.attempts as u32) < client.max_attempts
            && patient;
        if !may {
            self.finish_user(now, user, UserOutcome::GaveUp);
            return;
        }
        // The budget's per-second floor accrues from the opening, not from time zero.
        let elapsed = now.since(self.setup.sale.opens_at).as_secs_f64();
        if !self.budget.try_spend(client.budget, elapsed) {
            self.tallies.budget_denied += 1;
            self.finish_user(now, user, UserOutcome::GaveUp);
            return;
        }
        let n = u.attempts as u32;
        // Only decorrelated jitter needs the previous wait; the others leave the table empty.
        let previous = self.last_backoff.get(user as usize).copied().unwrap_or(SimDuration::ZERO);
        let wait = client.backoff(n, previous, &mut self.streams.retry);
        if let Some(slot) = self.last_backoff.get_mut(user as usize) {
            *slot = wait;
        }
        let u = &mut self.users[user as usize];
        u.retry_pending = true;
        ctx.after(wait, Event::Retry { user });
    }

    fn on_retry(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let u = &mut self.users[user as usize];
        u.retry_pending = false;
        if u.outcome.is_some() {
            return;
        }
        self.send(now, user, AttemptKind::Retry, ctx);
    }

    pub(super) fn finish_user(&mut self, now: SimTime, user: u32, outcome: UserOutcome) {
        let u = &mut self.users[user as usize];
        if u.outcome.is_some() {
            return;
        }
        u.outcome = Some(outcome);
        // Users still trying when the run ends saw no final answer: no latency for them.
        if let Some(first) = u.first_click()
            && !u.is_bot
            && outcome != UserOutcome::StillTrying
        {
            self.tallies.user_latency.record(now - first);
        }
    }

    /// Closes the books at `end`: attempts still in flight and users still trying get their
    /// terminal outcomes.
    pub fn finish(mut self, end: SimTime) -> super::metrics::RunReport {
        // Close the busy integrals and the levels at the end of the run.
        let closing = self.timeline.close(end, &self.tiers);
        let mut open: Vec<SlabKey> = Vec::new();
        self.attempts.for_each_key(|k| open.push(k));
        for key in open {
            let a = self.attempts.get_mut(key);
            if a.client_waiting {
                a.client_waiting = false;
                let user = a.user;
                self.tallies.outcomes.add(Outcome::InFlightAtEnd);
                self.timeline.outcome(closing, Outcome::InFlightAtEnd);
                self.users[user as usize].in_flight -= 1;
            }
        }
        for user in 0..self.users.len() {
            if self.users[user].outcome.is_none() {
                self.finish_user(end, user as u32, UserOutcome::StillTrying);
            }
        }
        for u in &self.users {
            if let (Some(outcome), false) = (u.outcome, u.is_bot) {
                self.tallies.users.add(outcome);
            }
        }
        super::metrics::RunReport::new(self, end)
    }
}

impl Model for SaleModel<'_> {
    type Event = Event;

    /// The per-user and per-attempt tables are far larger than the cache and are touched in
    /// event order, close to random: the next event's entries are fetched while this one runs.
    #[inline]
    fn prefetch(&self, next: &Event) {
        match *next {
            Event::Retry { user } | Event::Bot { user } | Event::Poll { user } => {
                self.prefetch_user(user)
            }
            Event::Arrive { attempt, hop, user } => {
                self.attempts.prefetch(attempt);
                self.prefetch_arrival(hop, user);
            }
            Event::Served { attempt, .. } | Event::WaitTimeout { attempt, .. } => {
                self.attempts.prefetch(attempt)
            }
            Event::Reply { attempt, user } => {
                self.attempts.prefetch(attempt);
                self.prefetch_user(user);
            }
            Event::TimeoutsDue => {
                if let Some(&(_, attempt, _)) = self.timeouts.front() {
                    self.attempts.prefetch(attempt);
                }
            }
            _ => {}
        }
    }

    #[inline]
    fn handle(&mut self, now: SimTime, event: Event, ctx: &mut Context<Event>) {
        match event {
            Event::Click { index } => self.on_click(now, index, ctx),
            Event::Retry { user } => self.on_retry(now, user, ctx),
            Event::Bot { user } => self.on_bot(now, user, ctx),
            Event::TimeoutsDue => self.on_timeouts_due(now, ctx),
            Event::Reply { attempt, .. } => self.on_reply(now, attempt, ctx),
            Event::Arrive { attempt, hop, .. } => self.on_arrive(now, attempt, hop, ctx),
            Event::Served { attempt, hop } => self.on_served(now, attempt, hop, ctx),
            Event::WaitTimeout { attempt, hop, ticket } => {
                self.on_wait_timeout(now, attempt, hop, ticket, ctx)
            }
            Event::Poll { user } => self.on_poll(now, user, ctx),
            Event::Fault { index } => self.on_fault(now, index as usize, ctx),
            Event::Admit => self.on_admit(now, ctx),
            Event::Stream(event) => self.on_stream(now, event, ctx),
        }
    }
}
