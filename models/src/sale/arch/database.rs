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
        self.attempts.get_mut(attempt).stage = Stage::Locked;
        match self.db().lock(now, attempt) {
            LockRequest::Granted => self.start_locked_work(now, attempt, now, ctx),
            LockRequest::Waiting(ticket) => {
                let wait = self.variant.db.lock_wait_timeout;
                ctx.after(wait, Event::WaitTimeout { attempt, hop: Hop::RowLock, ticket });
            }
            LockRequest::DeadlockVictim(check) => {
                // More waiters than InnoDB inspects: rolled back once the check has run.
                ctx.after(check, Event::Served { attempt, hop: Hop::DeadlockCheck });
            }
        }
        self.timeline.level(now, &self.tiers);
    }

    /// The row lock is granted to `holder` (which asked at `asked`): the statements under it
    /// (of the updates batched with it too) are decided now and end together.
    fn start_locked_work(
        &mut self,
        now: SimTime,
        holder: SlabKey,
        asked: SimTime,
        ctx: &mut Context<Event>,
    ) {
        let writer = self.writer();
        let attempts = &self.attempts;
        let info = |job: SlabKey| {
            let a = attempts.get(job);
            let read = RowRead {
                stock: a.read_stock,
                version: a.read_version,
                user_orders: a.read_user_orders,
            };
            (a.user, read)
        };
        let hold = self.tiers.db.start_work(now, holder, asked, writer, info);
        ctx.after(hold, Event::Served { attempt: holder, hop: Hop::RowLock });
    }

    /// The deadlock check of `attempt` found too many waiters: it rolls back.
    pub(in crate::sale) fn deadlock_victim_rolled_back(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        self.db().victim_rolled_back();
        self.end_transaction(now, attempt, Err(()), ctx);
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
            self.end_transaction(now, attempt, Err(()), ctx);
        }
    }

    /// The statements under the row lock finished: the writes commit, the lock passes on, and
    /// every transaction of the group goes on by what its statements decided.
    pub(in crate::sale) fn locked_work_done(
        &mut self,
        now: SimTime,
        _holder: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let (done, next) = self.db().finish_work(now);
        self.timeline.db_stock(now, self.tiers.db.row.stock);
        if let Some((next, asked)) = next {
            self.start_locked_work(now, next, asked, ctx);
        }
        for member in &done {
            let attempt = member.job;
            match member.decision {
                RowDecision::Sold => {
                    self.end_transaction(now, attempt, Ok(Outcome::Purchased), ctx)
                }
                RowDecision::VersionChanged => {
                    let a = self.attempts.get_mut(attempt);
                    if (a.occ_tries as u32) < self.variant.db.occ_retries {
                        a.occ_tries += 1;
                        self.select(now, attempt, ctx);
                    } else {
                        self.end_transaction(now, attempt, Err(()), ctx);
                    }
                }
                // The database has no stock: "sold out", for a unit Redis reserved too (Redis
                // is then brought down to the database's stock, see `answer`).
                RowDecision::NoStock => {
                    self.end_transaction(now, attempt, Ok(Outcome::SoldOut), ctx)
                }
                RowDecision::OverLimit => {
                    self.end_transaction(now, attempt, Ok(Outcome::LimitReached), ctx)
                }
            }
        }
        self.tiers.db.recycle(done);
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
