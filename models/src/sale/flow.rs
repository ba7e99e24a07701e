//! The server side of each architecture: how a request moves through the components.
//!
//! ```text
//! three_tier_redis:
//!   client ─rtt/2─► CDN edge ─(dedupe)─► gateway ─► Redis shard (stock script) ─► gateway
//!                                          │ rate limit / queue full        │ reserved
//!                                          ▼                                ▼
//!                                       answer ◄──────── DB: pool ─► SELECT ─► row lock:
//!                                                         UPDATE … WHERE version = ? ; COMMIT
//!                                          failed final write ─► compensate in Redis, or leak
//! naive_db:
//!   client ─rtt/2─► app (gateway) ─► DB: pool ─► SELECT stock ─► row lock: UPDATE ; COMMIT
//! ```
//!
//! The gateway worker is held for the whole request, downstream calls included; the pooled
//! connection for the whole transaction; the row lock from the locking statement to commit.

use sim::{Admission, Context, SimTime, SlabKey, Ticket};

use super::fault::FaultComponent;
use super::model::{Event, Hop, SaleModel, Since, Stage};
use super::outcome::Outcome;
use crate::architecture::Architecture;
use crate::components::db::{Guard, OnFailure};
use crate::components::redis::{StockAnswer, StockScript};

impl SaleModel<'_> {
    pub(super) fn on_arrive(
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
            Hop::DbPool | Hop::DbStatement | Hop::RowLock => {
                unreachable!("database hops are entered directly, not by arrival events")
            }
        }
    }

    pub(super) fn on_served(
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

    pub(super) fn on_wait_timeout(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        hop: Hop,
        ticket: Ticket,
        ctx: &mut Context<Event>,
    ) {
        match hop {
            Hop::DbPool => {
                if self.tiers.pool.renege(now, ticket).is_some() {
                    self.attempts.get_mut(attempt).pool_since = Since::NONE;
                    self.tallies.pool_timeouts += 1;
                    self.timeline.level(now, &self.tiers);
                    self.fail(now, attempt, ctx);
                }
            }
            Hop::RowLock => {
                if self.tiers.row_lock.renege(now, ticket).is_some() {
                    self.attempts.get_mut(attempt).lock_since = Since::NONE;
                    self.tallies.lock_timeouts += 1;
                    self.end_transaction(now, attempt, Err(()), ctx);
                }
            }
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
        if !cdn.admit(now, user) {
            self.answer(now, attempt, Outcome::Deduped, ctx);
            return;
        }
        let delay = cdn.spec.service.sample(&mut self.streams.cdn);
        let delay = self.windows.apply(FaultComponent::Cdn, now, delay);
        ctx.after(delay, Event::Arrive { attempt, hop: Hop::Gateway, user });
    }

    fn at_gateway(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        if let Some(bucket) = &mut self.tiers.bucket
            && !bucket.take(now)
        {
            self.answer(now, attempt, Outcome::RateLimited, ctx);
            return;
        }
        match self.tiers.gateway.arrive(now, attempt) {
            Admission::Serve(_) => {
                self.attempts.get_mut(attempt).gateway_since = Since::at(now);
                let service = self.variant.gateway.service.sample(&mut self.streams.gateway);
                let service = self.windows.apply(FaultComponent::Gateway, now, service);
                self.tallies.gateway_requests += 1;
                ctx.after(service, Event::Served { attempt, hop: Hop::Gateway });
            }
            Admission::Queued(_) => self.attempts.get_mut(attempt).gateway_since = Since::at(now),
            Admission::Dropped(_) => self.answer(now, attempt, Outcome::Shed, ctx),
        }
        self.timeline.level(now, &self.tiers);
    }

    fn gateway_served(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        if now < self.setup.sale.opens_at {
            self.answer(now, attempt, Outcome::NotOpen, ctx);
            return;
        }
        // An event loop awaiting a non-blocking call, or a parked goroutine, frees its server.
        if !self.variant.gateway.holds_through_downstream() {
            self.release_gateway(now, attempt, ctx);
        }
        match self.architecture() {
            Architecture::ThreeTierRedis => {
                let redis = self.variant.redis.as_ref().expect("three-tier has Redis");
                let stage = match redis.script {
                    StockScript::Atomic => Stage::Script,
                    StockScript::GetThenDecr => Stage::RedisRead,
                };
                self.redis_call(now, attempt, stage, ctx);
            }
            Architecture::NaiveDb => self.request_connection(now, attempt, ctx),
            Architecture::QueueStream => self.stream_request(now, attempt, ctx),
            Architecture::Network | Architecture::Server => {
                unreachable!("not a flash-sale architecture")
            }
        }
    }

    // ----- Redis -----

    fn redis_call(
        &mut self,
        _now: SimTime,
        attempt: SlabKey,
        stage: Stage,
        ctx: &mut Context<Event>,
    ) {
        let redis = self.variant.redis.as_ref().expect("Redis calls only with Redis");
        let rtt = redis.rtt.sample(&mut self.streams.redis_rtt);
        let a = self.attempts.get_mut(attempt);
        a.stage = stage;
        let user = a.user;
        ctx.after(
            sim::SimDuration::from_nanos(rtt.as_nanos() / 2),
            Event::Arrive { attempt, hop: Hop::Redis, user },
        );
    }

    fn redis_service(&mut self, now: SimTime, stage: Stage) -> sim::SimDuration {
        let redis = self.variant.redis.as_ref().expect("Redis service only with Redis");
        let work = match stage {
            Stage::Script => redis.script_time.sample(&mut self.streams.redis),
            _ => redis.command_time.sample(&mut self.streams.redis),
        };
        self.windows.apply(FaultComponent::Redis, now, work)
    }

    fn at_redis(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let shard = self.tiers.redis_shard.as_mut().expect("Redis hop only with Redis");
        self.attempts.get_mut(attempt).redis_since = now;
        if let Admission::Serve(_) = shard.arrive(now, attempt) {
            let stage = self.attempts.get(attempt).stage;
            let service = self.redis_service(now, stage);
            ctx.after(service, Event::Served { attempt, hop: Hop::Redis });
        }
        self.timeline.level(now, &self.tiers);
    }

    /// The shard runs the command: its reads and writes all happen now, one command at a time.
    fn redis_served(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let limit = self.setup.sale.per_user_limit;
        let a = self.attempts.get(attempt);
        let (user, stage, since) = (a.user, a.stage, a.redis_since);
        let answer = match stage {
            Stage::Script => Some(self.tiers.redis.script(user, limit)),
            Stage::RedisRead => Some(self.tiers.redis.read(user, limit)),
            Stage::RedisDecr => {
                self.tiers.redis.decrement(user);
                Some(StockAnswer::Reserved)
            }
            Stage::Compensate => {
                self.tiers.redis.compensate(user);
                None
            }
            other => unreachable!("Redis does not run stage {other:?}"),
        };
        let shard = self.tiers.redis_shard.as_mut().expect("Redis");
        if let Some(next) = shard.depart(now, since) {
            let next_stage = self.attempts.get(next.job).stage;
            let service = self.redis_service(now, next_stage);
            ctx.after(service, Event::Served { attempt: next.job, hop: Hop::Redis });
        }
        // The shard may have gone idle: the timeline's busy time must end here.
        self.timeline.level(now, &self.tiers);
        self.timeline.redis_stock(now, self.tiers.redis.stock);
        if matches!(answer, Some(StockAnswer::Reserved)) {
            self.note_redis_write(now, user);
        }
        match answer {
            None => self.server_done(attempt),
            Some(answer) => {
                let a = self.attempts.get_mut(attempt);
                a.redis_answer = Some(answer);
                if answer == StockAnswer::Reserved {
                    a.reserved_in_redis = true;
                }
                let rtt = self
                    .variant
                    .redis
                    .as_ref()
                    .expect("Redis")
                    .rtt
                    .sample(&mut self.streams.redis_rtt);
                ctx.after(
                    sim::SimDuration::from_nanos(rtt.as_nanos() / 2),
                    Event::Arrive {
                        attempt,
                        hop: Hop::RedisReply,
                        user: self.attempts.get(attempt).user,
                    },
                );
            }
        }
    }

    fn redis_replied(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        match self.attempts.get(attempt).redis_answer.expect("a Redis reply carries an answer") {
            StockAnswer::SoldOut => self.answer(now, attempt, Outcome::SoldOut, ctx),
            StockAnswer::LimitReached => self.answer(now, attempt, Outcome::LimitReached, ctx),
            StockAnswer::LooksAvailable => self.redis_call(now, attempt, Stage::RedisDecr, ctx),
            StockAnswer::Reserved => self.request_connection(now, attempt, ctx),
        }
    }

    /// After a failed final write: give the unit back in Redis (a command through the shard), or
    /// leave it taken.
    pub(super) fn start_compensation(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        match self.variant.db.on_failure {
            OnFailure::Compensate => self.redis_call(now, attempt, Stage::Compensate, ctx),
            OnFailure::Leak => {
                self.tallies.leaked += 1;
                self.server_done(attempt);
            }
        }
    }

    // ----- database -----

    fn request_connection(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        self.attempts.get_mut(attempt).pool_since = Since::at(now);
        match self.tiers.pool.arrive(now, attempt) {
            Admission::Serve(_) => self.begin_transaction(now, attempt, ctx),
            Admission::Queued(ticket) => {
                let wait = self.variant.db.connection_timeout;
                ctx.after(wait, Event::WaitTimeout { attempt, hop: Hop::DbPool, ticket });
            }
            Admission::Dropped(_) => unreachable!("the pool queue is unbounded"),
        }
        self.timeline.level(now, &self.tiers);
    }

    fn begin_transaction(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        match self.variant.db.guard {
            Guard::ForUpdate | Guard::Conditional => self.request_lock(now, attempt, ctx),
            Guard::Version | Guard::None => self.select(now, attempt, ctx),
        }
    }

    fn select(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        self.attempts.get_mut(attempt).stage = Stage::Select;
        let t = self.variant.db.statement.sample(&mut self.streams.statement);
        let t = self.windows.apply(FaultComponent::Db, now, t);
        ctx.after(t, Event::Served { attempt, hop: Hop::DbStatement });
    }

    /// A non-locking read of the stock row finished.
    fn select_done(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let row = &self.tiers.row;
        let a = self.attempts.get_mut(attempt);
        a.read_stock = row.stock;
        a.read_version = row.version;
        a.read_user_orders = row.per_user[a.user as usize];
        let (stock, orders) = (a.read_stock, a.read_user_orders);
        if self.architecture() == Architecture::NaiveDb {
            if stock <= 0 {
                return self.end_transaction(now, attempt, Ok(Outcome::SoldOut), ctx);
            }
            if orders >= self.setup.sale.per_user_limit {
                return self.end_transaction(now, attempt, Ok(Outcome::LimitReached), ctx);
            }
        }
        self.request_lock(now, attempt, ctx);
    }

    fn request_lock(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let a = self.attempts.get_mut(attempt);
        a.stage = Stage::Locked;
        a.lock_since = Since::at(now);
        match self.tiers.row_lock.arrive(now, attempt) {
            Admission::Serve(_) => self.hold_lock(now, attempt, ctx),
            Admission::Queued(ticket) => {
                let wait = self.variant.db.lock_wait_timeout;
                ctx.after(wait, Event::WaitTimeout { attempt, hop: Hop::RowLock, ticket });
            }
            Admission::Dropped(_) => {
                // More waiters than InnoDB inspects: rolled back as a deadlock victim.
                self.attempts.get_mut(attempt).lock_since = Since::NONE;
                self.tallies.deadlock_victims += 1;
                self.end_transaction(now, attempt, Err(()), ctx);
            }
        }
        self.timeline.level(now, &self.tiers);
    }

    /// The lock is granted: schedule the work done under it.
    fn hold_lock(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let db = &self.variant.db;
        let mut hold = db.lock_hold.sample(&mut self.streams.lock_hold);
        if db.guard == Guard::ForUpdate {
            // SELECT … FOR UPDATE runs under the lock too.
            hold = hold + db.statement.sample(&mut self.streams.statement);
        }
        let hold = self.windows.apply(FaultComponent::Db, now, hold);
        ctx.after(hold, Event::Served { attempt, hop: Hop::RowLock });
    }

    /// The statements under the row lock finished: decide, write, commit, release the lock.
    fn locked_work_done(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let naive = self.architecture() == Architecture::NaiveDb;
        let limit = self.setup.sale.per_user_limit;
        let guard = self.variant.db.guard;
        let a = self.attempts.get(attempt);
        let (user, read_stock, read_version) = (a.user, a.read_stock, a.read_version);
        let row = &mut self.tiers.row;
        let result: Result<Outcome, Conflict> = match guard {
            Guard::Version => {
                if row.version != read_version {
                    Err(Conflict::Version)
                } else if row.stock <= 0 {
                    // `… AND stock >= 1` matched no row.
                    if naive { Ok(Outcome::SoldOut) } else { Err(Conflict::Rejected) }
                } else {
                    row.commit_sale(user, row.stock - 1, now);
                    Ok(Outcome::Purchased)
                }
            }
            Guard::ForUpdate | Guard::Conditional => {
                if row.stock <= 0 {
                    if naive { Ok(Outcome::SoldOut) } else { Err(Conflict::Rejected) }
                } else if naive && row.per_user[user as usize] >= limit {
                    Ok(Outcome::LimitReached)
                } else {
                    row.commit_sale(user, row.stock - 1, now);
                    Ok(Outcome::Purchased)
                }
            }
            Guard::None => {
                // Naive: write back what was read, minus one (the lost update). Three-tier:
                // an unconditional `stock = stock - 1`.
                let new_stock = if naive { read_stock - 1 } else { row.stock - 1 };
                row.commit_sale(user, new_stock, now);
                Ok(Outcome::Purchased)
            }
        };
        self.timeline.db_stock(now, self.tiers.row.stock);
        let since = self.attempts.get_mut(attempt).lock_since.take().expect("holding the lock");
        if let Some(next) = self.tiers.row_lock.depart(now, since) {
            self.hold_lock(now, next.job, ctx);
        }
        match result {
            Ok(outcome) => self.end_transaction(now, attempt, Ok(outcome), ctx),
            Err(Conflict::Version) => {
                self.tallies.version_conflicts += 1;
                let a = self.attempts.get_mut(attempt);
                if (a.occ_tries as u32) < self.variant.db.occ_retries {
                    a.occ_tries += 1;
                    self.select(now, attempt, ctx);
                } else {
                    self.end_transaction(now, attempt, Err(()), ctx);
                }
            }
            Err(Conflict::Rejected) => self.end_transaction(now, attempt, Err(()), ctx),
        }
        self.timeline.level(now, &self.tiers);
    }

    /// Ends the transaction (returning the connection) with an answer or a failure.
    fn end_transaction(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        result: Result<Outcome, ()>,
        ctx: &mut Context<Event>,
    ) {
        if let Some(since) = self.attempts.get_mut(attempt).pool_since.take() {
            if let Some(next) = self.tiers.pool.depart(now, since) {
                self.begin_transaction(now, next.job, ctx);
            }
            self.timeline.level(now, &self.tiers);
        }
        match result {
            Ok(outcome) => self.answer(now, attempt, outcome, ctx),
            Err(()) => self.fail(now, attempt, ctx),
        }
    }

    /// A step failed: the user is shown the waiting page (and a Redis reservation is handled).
    fn fail(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        self.answer(now, attempt, Outcome::Failed, ctx);
    }
}

/// Why a locked update did not commit.
enum Conflict {
    /// The version changed since the read.
    Version,
    /// The row's stock was gone (a three-tier reservation the database refuses).
    Rejected,
}
