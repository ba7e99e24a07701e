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
//! A thread-pool gateway worker is held for the whole request, downstream calls included; an
//! event loop or a goroutine frees it when the request waits downstream.

pub mod database;
pub mod faults;
pub mod naive_db;
pub mod queue_stream;
pub mod three_tier_redis;
pub mod waiting_room;

use sim::{Context, SimTime, SlabKey, Ticket};

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
            Hop::Redis => self.redis_served(now, attempt, ctx),
            Hop::DbStatement => self.select_done(now, attempt, ctx),
            Hop::RowLock => self.locked_work_done(now, attempt, ctx),
            Hop::DeadlockCheck => self.deadlock_victim_rolled_back(now, attempt, ctx),
            Hop::BatchWindow => self.batch_window_over(now, attempt, ctx),
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
        match self.tiers.gateway.arrive(now, attempt) {
            GatewayAdmission::RateLimited => {
                self.answer(now, attempt, Outcome::RateLimited, ctx);
                return;
            }
            GatewayAdmission::Serve(service) => {
                self.attempts.get_mut(attempt).gateway_since = Since::at(now);
                ctx.after(service, Event::Served { attempt, hop: Hop::Gateway });
            }
            GatewayAdmission::Queued => {
                self.attempts.get_mut(attempt).gateway_since = Since::at(now)
            }
            GatewayAdmission::Shed => self.answer(now, attempt, Outcome::Shed, ctx),
        }
        self.timeline.level(now, &self.tiers);
    }

    /// Frees the gateway worker held by `attempt`, starting the next waiting request.
    pub(in crate::sale) fn release_gateway(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let Some(since) = self.attempts.get_mut(attempt).gateway_since.take() else { return };
        if let Some((next, service)) = self.tiers.gateway.release(now, since) {
            ctx.after(service, Event::Served { attempt: next, hop: Hop::Gateway });
        }
        self.timeline.level(now, &self.tiers);
    }

    fn gateway_served(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        if now < self.setup.sale.opens_at {
            self.answer(now, attempt, Outcome::NotOpen, ctx);
            return;
        }
        // An event loop awaiting a non-blocking call, or a parked goroutine, frees its server.
        if !self.tiers.gateway.holds_through_downstream() {
            self.release_gateway(now, attempt, ctx);
        }
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
