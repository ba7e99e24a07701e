//! `three_tier_redis`: the stock is reserved in Redis, then written to the database.
//!
//! ```text
//!   client ─rtt/2─► CDN edge ─(dedupe)─► gateway ─rtt/2─► Redis shard: stock script ─rtt/2─┐
//!                                          │ rate limit / queue full     (one at a time)      │
//!                                          ▼                                                   ▼
//!                                       answer ◄── DB transaction (database.rs) ◄── reserved ─┘
//!                                          │           sold out / limit: answered at once
//!                                          └─ failed final write ─► compensate in Redis, or leak
//! ```
//!
//! With `script = "get_then_decr"` the script is two commands, a read and, after a round trip to
//! the gateway, a decrement: requests interleave between them (the oversell mechanism).

use sim::{Context, SimTime, SlabKey};

use super::super::model::{Event, Hop, SaleModel, Stage};
use super::super::outcome::Outcome;
use crate::components::db::OnFailure;
use crate::components::redis::{Redis, RedisCommand, StockAnswer, StockScript};

/// The Redis command an attempt at `stage` runs.
fn command(stage: Stage) -> RedisCommand {
    match stage {
        Stage::Script => RedisCommand::Script,
        Stage::RedisRead => RedisCommand::Read,
        Stage::RedisDecr => RedisCommand::Decrement,
        Stage::Compensate => RedisCommand::Compensate,
        Stage::Resync => RedisCommand::Resync,
        other => unreachable!("Redis does not run stage {other:?}"),
    }
}

impl SaleModel<'_> {
    fn redis(&mut self) -> &mut Redis<sim::SlabKey> {
        self.tiers.redis.as_mut().expect("three_tier_redis has Redis")
    }

    /// The gateway asks Redis to reserve a unit: the script, or its first command.
    pub(in crate::sale) fn reserve_in_redis(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let stage = match self.redis().spec.script {
            StockScript::Atomic => Stage::Script,
            StockScript::GetThenDecr => Stage::RedisRead,
        };
        self.redis_call(now, attempt, stage, ctx);
    }

    pub(in crate::sale) fn redis_call(
        &mut self,
        _now: SimTime,
        attempt: SlabKey,
        stage: Stage,
        ctx: &mut Context<Event>,
    ) {
        let half_rtt = self.redis().half_rtt();
        let a = self.attempts.get_mut(attempt);
        a.stage = stage;
        let user = a.user;
        ctx.after(half_rtt, Event::Arrive { attempt, hop: Hop::Redis, user });
    }

    pub(in crate::sale) fn at_redis(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let a = self.attempts.get_mut(attempt);
        a.station_since = now;
        let stage = a.stage;
        if let Some(service) = self.redis().arrive(now, attempt, command(stage)) {
            ctx.after(service, Event::Served { attempt, hop: Hop::Redis });
        }
        self.timeline.level(now, &self.tiers);
    }

    /// The shard runs the command: its reads and writes all happen now, one command at a time.
    pub(in crate::sale) fn redis_served(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let a = self.attempts.get(attempt);
        let (user, stage, since) = (a.user, a.stage, a.station_since);
        let limit = self.limit.for_user(user);
        if stage == Stage::Resync {
            let db_stock = self.tiers.db.row.stock;
            self.redis().stock.resync(db_stock);
        }
        let answer = self.redis().execute(now, command(stage), user, limit);
        if let Some(next) = self.redis().depart(now, since) {
            let next_stage = self.attempts.get(next).stage;
            let service = self.redis().service_time(now, command(next_stage));
            ctx.after(service, Event::Served { attempt: next, hop: Hop::Redis });
        }
        // The shard may have gone idle: the timeline's busy time must end here.
        self.timeline.level(now, &self.tiers);
        let stock = self.redis().stock.stock;
        self.timeline.redis_stock(now, stock);
        match answer {
            None => self.server_done(attempt),
            Some(answer) => {
                let a = self.attempts.get_mut(attempt);
                a.redis_answer = Some(answer);
                if answer == StockAnswer::Reserved {
                    if self.tiers.orders.is_some() {
                        // The same script pushed the order record: the record holds the unit.
                        self.push_order(now, user, ctx);
                    } else {
                        a.reserved_in_redis = true;
                    }
                }
                let half_rtt = self.redis().half_rtt();
                ctx.after(half_rtt, Event::Arrive { attempt, hop: Hop::RedisReply, user });
            }
        }
    }

    pub(in crate::sale) fn redis_replied(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        match self.attempts.get(attempt).redis_answer.expect("a Redis reply carries an answer") {
            StockAnswer::SoldOut => self.answer(now, attempt, Outcome::SoldOut, ctx),
            StockAnswer::LimitReached => self.answer(now, attempt, Outcome::LimitReached, ctx),
            StockAnswer::LooksAvailable => self.redis_call(now, attempt, Stage::RedisDecr, ctx),
            // A repeat of a request that reserved a unit: its order is written or being written.
            StockAnswer::AlreadyReserved => self.answer(now, attempt, Outcome::Purchased, ctx),
            // Async: the buyer is told at once; the order record is on its way to the database.
            StockAnswer::Reserved if self.tiers.orders.is_some() => {
                self.answer(now, attempt, Outcome::Purchased, ctx)
            }
            StockAnswer::Reserved => self.request_connection(now, attempt, ctx),
        }
    }

    /// After the final write of a reserved unit did not sell it: a database with no stock
    /// brings Redis down to its stock (a command through the shard); a transient failure
    /// gives the unit back, or leaves it taken (`on_failure`).
    pub(in crate::sale) fn settle_reservation(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        outcome: Outcome,
        ctx: &mut Context<Event>,
    ) {
        match (outcome, self.variant.db.on_failure) {
            (Outcome::SoldOut, _) => self.redis_call(now, attempt, Stage::Resync, ctx),
            (_, OnFailure::Compensate) => self.redis_call(now, attempt, Stage::Compensate, ctx),
            (_, OnFailure::Leak) => {
                self.tallies.leaked += 1;
                self.server_done(attempt);
            }
        }
    }
}
