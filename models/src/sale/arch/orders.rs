//! `three_tier_redis`'s async order path: the records the stock script pushes, the consumers
//! that write them to the database, and what crashes and failovers do to them (the component's
//! rules are in `crate::components::orders`).
//!
//! ```text
//!   Redis script: DECR + push record ─► buyer answered "purchased"
//!        │
//!        ▼  order queue (FIFO)            failed: again after retry_delay (≤ max_deliveries),
//!   consumer ─► DB transaction (database.rs) ─► committed     then dead-lettered
//!                                          └─► no stock: Redis resynced (over-admitted unit)
//! ```
//!
//! A record is an attempt of kind `Order` with no client: it lives in the slab from its push
//! until its order is settled.

use sim::{Context, SimTime, SlabKey};

use super::super::model::{Attempt, AttemptKind, Event, Hop, SaleModel, Since, Stage};
use super::super::outcome::Outcome;
use crate::components::db::OnFailure;
use crate::components::orders::OrderQueue;

const DELIVERIES: u32 = 0xffff;

impl SaleModel<'_> {
    fn order_queue(&mut self) -> &mut OrderQueue<SlabKey> {
        self.tiers.orders.as_mut().expect("the async order path")
    }

    /// The script reserved a unit for `user` and pushed its order record (same script, same
    /// instant, so a failover loses both or neither).
    pub(in crate::sale) fn push_order(
        &mut self,
        now: SimTime,
        user: u32,
        ctx: &mut Context<Event>,
    ) {
        let record = self.attempts.insert(Attempt {
            user,
            serial: u32::MAX,
            kind: AttemptKind::Order,
            sent: now,
            timer_from: now,
            rtt_half: sim::SimDuration::ZERO,
            gateway_since: Since::NONE,
            station_since: now,
            pool_since: Since::NONE,
            stage: Stage::Done,
            redis_answer: None,
            reserved_in_redis: true,
            read_stock: 0,
            read_version: 0,
            read_user_orders: 0,
            lock_asked: SimTime::ZERO,
            db_row: 0,
            empty_rows: 0,
            occ_tries: 0,
            stream_ref: 0,
            answer: None,
            answered_late: false,
            client_waiting: false,
            replied: true,
            server_done: false,
        });
        self.order_queue().push(record, true);
        self.dispatch_orders(now, ctx);
    }

    /// Idle consumers take the records at the head of the queue.
    pub(in crate::sale) fn dispatch_orders(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        while let Some(record) = self.order_queue().take(now) {
            let epoch = self.order_queue().epoch as u32;
            let a = self.attempts.get_mut(record);
            let deliveries = (a.stream_ref & DELIVERIES) + 1;
            a.stream_ref = (epoch << 16) | deliveries.min(DELIVERIES);
            if a.answer == Some(Outcome::Purchased) {
                // Delivered again after a crash, its order already committed: the order
                // table's unique key refuses the second insert, and the record is acknowledged.
                let q = self.order_queue();
                q.counters.duplicate_deliveries += 1;
                q.release();
                self.attempts.remove(record);
                continue;
            }
            (a.occ_tries, a.empty_rows) = (0, 0);
            self.request_connection(now, record, ctx);
        }
    }

    /// The consumer's transaction for `record` ended: committed, refused, or failed.
    pub(in crate::sale) fn order_transaction_over(
        &mut self,
        now: SimTime,
        record: SlabKey,
        result: Result<Outcome, ()>,
        ctx: &mut Context<Event>,
    ) {
        let a = self.attempts.get(record);
        let (pushed, tag) = (a.sent, a.stream_ref);
        let q = self.order_queue();
        let crashed = (tag >> 16) as u16 != q.epoch;
        // A consumer that crashed meanwhile has been replaced: it frees nothing.
        if !crashed {
            q.release();
        }
        match result {
            Ok(Outcome::Purchased) => {
                q.counters.committed += 1;
                q.counters.lag.record(now - pushed);
                if crashed {
                    // Committed, but the acknowledgement died with the consumer.
                    self.attempts.get_mut(record).answer = Some(Outcome::Purchased);
                    self.order_queue().push(record, false);
                } else {
                    self.attempts.remove(record);
                }
            }
            Ok(_) => {
                // The database has no stock for a unit Redis reserved: Redis over-admitted it
                // (a failover lost decrements); Redis is brought down to the database's stock.
                q.counters.refused_no_stock += 1;
                self.redis_call(now, record, Stage::Resync, ctx);
            }
            Err(()) if crashed => self.order_queue().push(record, false),
            Err(()) if (tag & DELIVERIES) < q.spec.max_deliveries => {
                q.counters.redeliveries += 1;
                let delay = q.spec.retry_delay;
                ctx.after(delay, Event::Served { attempt: record, hop: Hop::OrderRetry });
            }
            Err(()) => {
                q.counters.dead_lettered += 1;
                match self.variant.db.on_failure {
                    OnFailure::Compensate => self.redis_call(now, record, Stage::Compensate, ctx),
                    OnFailure::Leak => {
                        self.tallies.leaked += 1;
                        self.attempts.remove(record);
                    }
                }
            }
        }
        self.dispatch_orders(now, ctx);
    }

    /// A failed record's retry delay is over.
    pub(in crate::sale) fn order_retry_due(
        &mut self,
        now: SimTime,
        record: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        self.order_queue().push(record, false);
        self.dispatch_orders(now, ctx);
    }

    /// The consumers crash now for `down`: consumption resumes after it.
    pub(in crate::sale) fn crash_order_consumers(
        &mut self,
        now: SimTime,
        down: sim::SimDuration,
        ctx: &mut Context<Event>,
    ) {
        let resume = self.order_queue().crash(now, down);
        ctx.at(resume, Event::OrdersResume);
    }

    /// A Redis failover at `now` lost the writes of its last `lag`: the records pushed then
    /// that no consumer has taken go with their decrements.
    pub(in crate::sale) fn lose_unreplicated_orders(
        &mut self,
        now: SimTime,
        lag: sim::SimDuration,
    ) {
        let Some(q) = self.tiers.orders.as_mut() else { return };
        let attempts = &self.attempts;
        let lost = q.lose(|r| {
            let a = attempts.get(r);
            a.stream_ref == 0 && a.sent + lag >= now
        });
        for record in lost {
            self.attempts.remove(record);
        }
    }
}
