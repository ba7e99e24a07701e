//! The flash-sale model: its state and the event handler, which only dispatches — to the
//! buyer's side (`client.rs`) or to the architecture that owns the event (`arch/`).
//!
//! The components (`crate::components`) own their state, random streams, fault windows and
//! counters. Per-user state is 24 bytes and per-attempt state lives in a slab (`attempt.rs`),
//! freed when both the client and the server are done with it, so memory follows users and
//! requests in flight.
//!
//! Random streams: clicks come from the shared population (`traffic/*`); the client's are
//! `client/rtt` and `client/retry`; each component names its own (e.g. `gateway/service`,
//! `redis/rtt`, `db/lock-hold`).

use sim::rng::{self, RngStream};
use sim::stats::DurationHistogram;
use sim::{Context, Model, SimDuration, SimTime, Slab, SlabKey};

use super::arch::queue_stream::parts::StreamTiers;
pub use super::attempt::{Attempt, AttemptKind, Since, Stage, User};
use super::config::{SaleSetup, SaleVariant};
pub use super::event::{Event, Hop};
use super::outcome::{OutcomeCounts, UserOutcomeCounts};
pub use super::tiers::Tiers;
use super::timeline::Timeline;
use crate::architecture::kind::Architecture;
use crate::components::cdn::Cdn;
use crate::components::db::Db;
use crate::components::gateway::Gateway;
use crate::components::orders::{OrderPath, OrderQueue};
use crate::components::redis::Redis;
use crate::components::waiting_room::WaitingRoom;
use crate::traffic::Population;
use crate::traffic::client::RetryBudget;

/// The client side's random streams (each component owns its own).
pub struct Streams {
    pub rtt: RngStream,
    pub retry: RngStream,
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
    /// First click → final answer ("purchased", "sold out", "limit reached"), per human told one.
    pub answer_latency: DurationHistogram,
    pub users: UserOutcomeCounts,
    pub leaked: u64,
    pub budget_denied: u64,
    /// Crashes that happened (`[[fault]]`).
    pub crashes: u64,
    /// FNV-1a over every exogenous click consumed (time, user): equal across variants that saw
    /// the same traffic.
    pub traffic_digest: u64,
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
    /// The requests sent, as a production log would count them.
    pub observed: super::observed::TrafficRecorder,
    pub(super) next_serial: u32,
    /// Attempts whose client is still waiting.
    pub(super) in_flight: u64,
    /// Client deadlines `(when, attempt, serial)`, in sending order.
    pub(super) timeouts: std::collections::VecDeque<(SimTime, SlabKey, u32)>,
    /// Whether a `TimeoutsDue` event is pending.
    pub(super) timeout_armed: bool,
    /// Per user: the last backoff wait (decorrelated jitter only; empty otherwise).
    pub(super) last_backoff: Vec<SimDuration>,
    pub(super) fault_rng: RngStream,
    /// The per-user limit every guard applies (keyed on the buyer or on coupons).
    pub limit: crate::components::limit::LimitRule,
    /// Accounts: units each still wants after its current purchase (empty without accounts).
    pub(super) units_wanted: Vec<u8>,
    /// The payment stage, with `[sale.payment]`.
    pub payments: Option<crate::components::payment::Payments>,
    /// Requests held before the opening (`pre_open = "hold"`).
    pub held: crate::components::hold::HeldRequests,
    /// The last event that was not a payment: the sale's end, over which components are
    /// measured (payment windows run on after it).
    pub last_sale_event: SimTime,
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
            orders: (variant.redis.is_some() && variant.orders.path == OrderPath::Async)
                .then(|| OrderQueue::new(&variant.orders)),
            db: Db::new(&variant.db, stock, all, seed),
            stream: StreamTiers::new(
                (variant.kafka.as_ref(), variant.flink.as_ref(), variant.results.as_ref()),
                stock,
                all,
                seed,
            ),
            room: variant.waiting_room.as_ref().map(|spec| WaitingRoom::new(spec, all, seed)),
        };
        let s = |label: &str| rng::stream(seed, label);
        let streams = Streams { rtt: s("client/rtt"), retry: s("client/retry") };
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
            observed: super::observed::TrafficRecorder::new(setup.sale.opens_at),
            budget: RetryBudget::default(),
            timeline: Timeline::new(SimDuration::from_millis(100)),
            next_serial: 0,
            in_flight: 0,
            timeouts: std::collections::VecDeque::new(),
            timeout_armed: false,
            last_backoff: Vec::new(),
            fault_rng: rng::stream(seed, "fault"),
            payments: setup
                .sale
                .payment
                .as_ref()
                .map(|p| crate::components::payment::Payments::new(p, seed)),
            last_sale_event: SimTime::ZERO,
            held: crate::components::hold::HeldRequests::default(),
            limit: crate::components::limit::LimitRule::new(
                setup.sale.per_user_limit,
                setup.sale.limit_key,
                setup.traffic.accounts,
                humans as u32,
                seed,
            ),
            units_wanted: Vec::new(),
        };
        if setup.traffic.accounts.is_some() {
            let rule = model.limit;
            model.units_wanted = (0..all as u32).map(|u| (rule.coupons(u) - 1) as u8).collect();
        }
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
        if !matches!(event, Event::Payment { .. }) {
            self.last_sale_event = now;
        }
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
            Event::HoldRelease => self.on_hold_release(now, ctx),
            Event::Stream(event) => self.on_stream(now, event, ctx),
            Event::OrdersResume => self.dispatch_orders(now, ctx),
            Event::Payment { user, window_end } => self.on_payment(now, user, window_end, ctx),
        }
    }
}
