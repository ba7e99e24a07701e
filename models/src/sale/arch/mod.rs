//! The server side of every flash-sale architecture: where a request goes next.
//!
//! The event handler hands arrivals, service completions and wait timeouts here; the shared
//! front (CDN edge, waiting room, gateway) is in this file, and each architecture wires the
//! components behind the gateway in its own module, opening with its diagram:
//! [`three_tier_redis`], [`naive_db`] and [`queue_stream`], with the database transaction both
//! of the first two run in [`database`].
//!
//! ```text
//!   client ─rtt/2─► [waiting room] ─► CDN edge ─(dedupe)─► gateway ─► architecture ─► answer
//!                                                  │ rate limit / queue full: answered at once
//! ```
//!
//! At the gateway a request's CPU slice queues for a core; a thread-pool worker (or a blocking
//! event loop) is then held for the whole request, downstream calls included, while an awaiting
//! event loop or a parked goroutine holds nothing through the waits.

pub mod database;
pub mod faults;
pub mod hold;
pub mod naive_db;
pub mod orders;
pub mod queue_stream;
pub mod three_tier_redis;
pub mod waiting_room;

use sim::{Context, SimDuration, SimTime, SlabKey, Ticket};

use super::config::PreOpen;
use super::model::{Event, Hop, SaleModel, Since};
use super::outcome::Outcome;
use crate::architecture::kind::Architecture;
use crate::components::cdn::DedupeAnswer;
use crate::components::gateway::GatewayAdmission;

impl SaleModel<'_> {
    pub(in crate::sale) fn on_arrive(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        hop: Hop,
        ctx: &mut Context<Event>,
    ) {
        match hop {
            Hop::Edge => self.at_edge(now, attempt, ctx),
            Hop::Room => self.at_room(now, attempt, ctx),
            Hop::Gateway => self.at_gateway(now, attempt, ctx),
            Hop::GatewayWait | Hop::OrderRetry => {
                unreachable!("the gateway's waits and order retries are entered directly")
            }
            Hop::Redis => self.at_redis(now, attempt, ctx),
            Hop::RedisReply => self.redis_replied(now, attempt, ctx),
            Hop::Results => self.at_result_store(now, attempt, ctx),
            Hop::ResultsReply => self.result_replied(now, attempt, ctx),
            Hop::DbPool
            | Hop::DbStatement
            | Hop::RowLock
            | Hop::DeadlockCheck
            | Hop::BatchWindow => {
                unreachable!("database hops are entered directly, not by arrival events")
            }
        }
    }

    pub(in crate::sale) fn on_served(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        hop: Hop,
        ctx: &mut Context<Event>,
    ) {
        match hop {
            Hop::Gateway => self.gateway_served(now, attempt, ctx),
            Hop::GatewayWait => self.gateway_waited(now, attempt, ctx),
            Hop::Redis => self.redis_served(now, attempt, ctx),
            Hop::DbStatement => self.select_done(now, attempt, ctx),
            Hop::RowLock => self.locked_work_done(now, attempt, ctx),
            Hop::DeadlockCheck => self.deadlock_victim_rolled_back(now, attempt, ctx),
            Hop::BatchWindow => self.batch_window_over(now, attempt, ctx),
            Hop::OrderRetry => self.order_retry_due(now, attempt, ctx),
            Hop::Edge
            | Hop::Room
            | Hop::RedisReply
            | Hop::DbPool
            | Hop::Results
            | Hop::ResultsReply => {
                unreachable!("no service completes at {hop:?}")
            }
        }
    }

    pub(in crate::sale) fn on_wait_timeout(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        hop: Hop,
        ticket: Ticket,
        ctx: &mut Context<Event>,
    ) {
        match hop {
            Hop::DbPool => self.connection_wait_over(now, attempt, ticket, ctx),
            Hop::RowLock => self.lock_wait_over(now, attempt, ticket, ctx),
            _ => unreachable!("only the pool and the row lock have wait timeouts"),
        }
    }

    // ----- edge and gateway -----

    fn at_edge(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let a = self.attempts.get(attempt);
        // Polls and requests an edge does not de-duplicate cross it at sending (`send`).
        debug_assert!(a.kind != super::model::AttemptKind::Poll, "polls do not stop at the edge");
        let user = a.user;
        let cdn = self.tiers.cdn.as_mut().expect("edge hop only with a CDN");
        if self.setup.sale.pre_open == PreOpen::Edge && now < self.setup.sale.opens_at {
            // The countdown page's rule: answered at the edge, never reaching the origin.
            cdn.pass(now);
            self.answer(now, attempt, Outcome::NotOpen, ctx);
            return;
        }
        if !cdn.admit(now, user) {
            let processing = cdn.spec.dedupe_answer == DedupeAnswer::Processing;
            if processing && self.users[user as usize].in_flight <= 1 {
                // "Processing", but no request of theirs is in flight to bring the answer:
                // the page waits until the client's timeout, then lets the user try again.
                self.server_done(attempt);
                return;
            }
            self.answer(now, attempt, Outcome::Deduped, ctx);
            return;
        }
        let delay = cdn.delay(now);
        ctx.after(delay, Event::Arrive { attempt, hop: Hop::Gateway, user });
    }

    fn at_gateway(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        if self.hold_at_entry(now, attempt, ctx) {
            return;
        }
        self.enter_gateway(now, attempt, ctx);
    }

    /// `attempt` goes through the gateway's admission: rate limit, queue, a core.
    pub(in crate::sale) fn enter_gateway(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        match self.tiers.gateway.arrive(now, attempt) {
            GatewayAdmission::RateLimited => {
                self.answer(now, attempt, Outcome::RateLimited, ctx);
                return;
            }
            GatewayAdmission::Admitted(slice) => {
                self.attempts.get_mut(attempt).gateway_since = Since::at(now);
                self.start_cpu(now, attempt, slice, ctx);
            }
            GatewayAdmission::Shed => self.answer(now, attempt, Outcome::Shed, ctx),
        }
        self.timeline.level(now, &self.tiers);
    }

    /// `attempt` joins the gateway's cores at `now`: its CPU slice starts (and ends after
    /// `slice`) or waits for a core.
    fn start_cpu(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        slice: Option<SimDuration>,
        ctx: &mut Context<Event>,
    ) {
        self.attempts.get_mut(attempt).station_since = now;
        if let Some(slice) = slice {
            ctx.after(slice, Event::Served { attempt, hop: Hop::Gateway });
        }
    }

    /// Frees the gateway thread or blocking loop held by `attempt`, starting the next waiting
    /// request.
    pub(in crate::sale) fn release_gateway(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let Some(since) = self.attempts.get_mut(attempt).gateway_since.take() else { return };
        if let Some(start) = self.tiers.gateway.release(now, since) {
            self.start_cpu(now, start.job, start.slice, ctx);
        }
        self.timeline.level(now, &self.tiers);
    }

    /// The request's CPU slice at the gateway ends: its core goes to the next slice; then its
    /// own waits, then the architecture.
    fn gateway_served(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let cpu_since = self.attempts.get(attempt).station_since;
        if let Some((next, slice)) = self.tiers.gateway.slice_done(now, cpu_since) {
            ctx.after(slice, Event::Served { attempt: next, hop: Hop::Gateway });
        }
        // An event loop awaiting a non-blocking call, or a parked goroutine, holds nothing.
        if !self.tiers.gateway.holds_through_waits() {
            self.attempts.get_mut(attempt).gateway_since = Since::NONE;
        }
        self.timeline.level(now, &self.tiers);
        if now < self.setup.sale.opens_at {
            self.answer(now, attempt, Outcome::NotOpen, ctx);
            return;
        }
        let wait = self.tiers.gateway.wait();
        if wait.is_zero() {
            self.gateway_waited(now, attempt, ctx);
        } else {
            ctx.after(wait, Event::Served { attempt, hop: Hop::GatewayWait });
        }
    }

    /// The request's own waits at the gateway are over: on to the architecture's components.
    fn gateway_waited(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        match self.architecture() {
            Architecture::ThreeTierRedis => self.reserve_in_redis(now, attempt, ctx),
            Architecture::NaiveDb => self.request_connection(now, attempt, ctx),
            Architecture::QueueStream => self.stream_request(now, attempt, ctx),
            Architecture::Network | Architecture::Server => {
                unreachable!("not a flash-sale architecture")
            }
        }
    }
}
