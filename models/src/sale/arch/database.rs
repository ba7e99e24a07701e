//! The database transaction of `three_tier_redis` (the final write of a reserved unit) and of
//! `naive_db` (the whole purchase), through the [`Db`] component.
//!
//! ```text
//!   pool (wait ≤ connection_timeout) ─► [SELECT stock, version] ─► row lock (wait ≤
//!   lock_wait_timeout; beyond max_lock_waiters: deadlock victim) ─► UPDATE … ; COMMIT ─► unlock
//!   conditional / for_update take the lock first; version / none read first (no lock).
//! ```
//!
//! The pooled connection is held for the whole transaction, the row lock from the locking
//! statement to commit. What the locked statements decide is the component's
//! ([`Db::update_locked`]); what the answer is depends on who wrote ([`Writer`]).

use sim::{Context, SimTime, SlabKey, Ticket};

use super::super::model::{Event, Hop, SaleModel, Since, Stage};
use super::super::outcome::Outcome;
use crate::architecture::kind::Architecture;
use crate::components::db::{Db, Guard, LockRequest, RowDecision, RowRead, Writer};

impl SaleModel<'_> {
    /// Who runs the transaction in this architecture.
    fn writer(&self) -> Writer {
        match self.architecture() {
            Architecture::NaiveDb => Writer::App { limit: self.setup.sale.per_user_limit },
            _ => Writer::Reservation,
        }
    }

    fn db(&mut self) -> &mut Db<SlabKey> {
        &mut self.tiers.db
    }

    pub(in crate::sale) fn request_connection(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        self.attempts.get_mut(attempt).pool_since = Since::at(now);
        match self.db().connect(now, attempt) {
            None => self.begin_transaction(now, attempt, ctx),
            Some(ticket) => {
                let wait = self.variant.db.connection_timeout;
                ctx.after(wait, Event::WaitTimeout { attempt, hop: Hop::DbPool, ticket });
            }
        }
        self.timeline.level(now, &self.tiers);
    }

    /// The connection wait of `attempt` ran out.
    pub(in crate::sale) fn connection_wait_over(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ticket: Ticket,
        ctx: &mut Context<Event>,
    ) {
        if self.db().give_up_connection(now, ticket) {
            self.attempts.get_mut(attempt).pool_since = Since::NONE;
            self.timeline.level(now, &self.tiers);
            self.fail(now, attempt, ctx);
        }
    }

    fn begin_transaction(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        match self.variant.db.guard {
            Guard::ForUpdate | Guard::Conditional => self.request_lock(now, attempt, ctx),
            Guard::Version | Guard::None => self.select(now, attempt, ctx),
        }
    }

    fn select(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        self.attempts.get_mut(attempt).stage = Stage::Select;
        let t = self.db().statement_time(now);
        ctx.after(t, Event::Served { attempt, hop: Hop::DbStatement });
    }

    /// A non-locking read of the stock row finished.
    pub(in crate::sale) fn select_done(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let user = self.attempts.get(attempt).user;
        let read = self.tiers.db.read(user);
        let a = self.attempts.get_mut(attempt);
        (a.read_stock, a.read_version, a.read_user_orders) =
            (read.stock, read.version, read.user_orders);
        if let Writer::App { limit } = self.writer()
            && let Some(refusal) = super::naive_db::refusal_after_read(read, limit)
        {
            return self.end_transaction(now, attempt, Ok(refusal), ctx);
        }
        self.request_lock(now, attempt, ctx);
    }

    fn request_lock(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let a = self.attempts.get_mut(attempt);
        a.stage = Stage::Locked;
        a.lock_since = Since::at(now);
        match self.db().lock(now, attempt) {
            LockRequest::Granted(hold) => {
                ctx.after(hold, Event::Served { attempt, hop: Hop::RowLock })
            }
            LockRequest::Waiting(ticket) => {
                let wait = self.variant.db.lock_wait_timeout;
                ctx.after(wait, Event::WaitTimeout { attempt, hop: Hop::RowLock, ticket });
            }
            LockRequest::DeadlockVictim => {
                // More waiters than InnoDB inspects: rolled back.
                self.attempts.get_mut(attempt).lock_since = Since::NONE;
                self.end_transaction(now, attempt, Err(()), ctx);
            }
        }
        self.timeline.level(now, &self.tiers);
    }

    /// The lock wait of `attempt` ran out (ERROR 1205): the transaction rolls back.
    pub(in crate::sale) fn lock_wait_over(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ticket: Ticket,
        ctx: &mut Context<Event>,
    ) {
        if self.db().give_up_lock(now, ticket) {
            self.attempts.get_mut(attempt).lock_since = Since::NONE;
            self.end_transaction(now, attempt, Err(()), ctx);
        }
    }

    /// The statements under the row lock finished: decide, write, commit, release the lock.
    pub(in crate::sale) fn locked_work_done(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let writer = self.writer();
        let a = self.attempts.get(attempt);
        let user = a.user;
        let read = RowRead {
            stock: a.read_stock,
            version: a.read_version,
            user_orders: a.read_user_orders,
        };
        let decision = self.db().update_locked(now, user, read, writer);
        self.timeline.db_stock(now, self.tiers.db.row.stock);
        let since = self.attempts.get_mut(attempt).lock_since.take().expect("holding the lock");
        if let Some((next, hold)) = self.db().unlock(now, since) {
            ctx.after(hold, Event::Served { attempt: next, hop: Hop::RowLock });
        }
        match (decision, writer) {
            (RowDecision::Sold, _) => {
                self.end_transaction(now, attempt, Ok(Outcome::Purchased), ctx)
            }
            (RowDecision::VersionChanged, _) => {
                let a = self.attempts.get_mut(attempt);
                if (a.occ_tries as u32) < self.variant.db.occ_retries {
                    a.occ_tries += 1;
                    self.select(now, attempt, ctx);
                } else {
                    self.end_transaction(now, attempt, Err(()), ctx);
                }
            }
            (RowDecision::NoStock, Writer::App { .. }) => {
                self.end_transaction(now, attempt, Ok(Outcome::SoldOut), ctx)
            }
            (RowDecision::OverLimit, _) => {
                self.end_transaction(now, attempt, Ok(Outcome::LimitReached), ctx)
            }
            // The database refuses a unit Redis reserved: the final write failed.
            (RowDecision::NoStock, Writer::Reservation) => {
                self.end_transaction(now, attempt, Err(()), ctx)
            }
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
            if let Some(next) = self.db().disconnect(now, since) {
                self.begin_transaction(now, next, ctx);
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
