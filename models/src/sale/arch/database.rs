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

use super::super::model::{AttemptKind, Event, Hop, SaleModel, Since, Stage};
use super::super::outcome::Outcome;
use crate::architecture::kind::Architecture;
use crate::components::db::{Db, Guard, LockRequest, OnEmptyRow, RowDecision, RowRead, Writer};

impl SaleModel<'_> {
    /// Who runs the transaction in this architecture.
    fn writer(&self) -> Writer {
        match self.architecture() {
            Architecture::NaiveDb => Writer::App { limit: self.limit },
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
        let row = self.tiers.db.pick_row();
        self.attempts.get_mut(attempt).db_row = row;
        self.update_row(now, attempt, ctx);
    }

    /// The transaction goes for its row: a locking statement, or a read first.
    fn update_row(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
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
        let a = self.attempts.get(attempt);
        let read = self.tiers.db.read(a.user, a.db_row);
        let a = self.attempts.get_mut(attempt);
        (a.read_stock, a.read_version, a.read_user_orders) =
            (read.stock as i32, read.version as u32, read.user_orders);
        let user = a.user;
        if let Writer::App { limit } = self.writer()
            && let Some(refusal) = super::naive_db::refusal_after_read(read, limit.for_user(user))
        {
            return self.end_transaction(now, attempt, Ok(refusal), ctx);
        }
        self.request_lock(now, attempt, ctx);
    }

    fn request_lock(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let a = self.attempts.get_mut(attempt);
        a.stage = Stage::Locked;
        let row = a.db_row;
        match self.db().lock(now, attempt, row) {
            LockRequest::Granted => self.start_locked_work(now, row, attempt, now, ctx),
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
    /// (of the updates batched with it too) are decided now and end together — or, with a
    /// batch window, once the holder has waited that long for others to join.
    fn start_locked_work(
        &mut self,
        now: SimTime,
        row: u16,
        holder: SlabKey,
        asked: SimTime,
        ctx: &mut Context<Event>,
    ) {
        let window = self.variant.db.batch_window;
        if !window.is_zero() {
            self.attempts.get_mut(holder).lock_asked = asked;
            ctx.after(window, Event::Served { attempt: holder, hop: Hop::BatchWindow });
            return;
        }
        self.run_locked_work(now, row, holder, asked, ctx);
    }

    /// The batch window of `holder` is over: its group runs.
    pub(in crate::sale) fn batch_window_over(
        &mut self,
        now: SimTime,
        holder: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let a = self.attempts.get(holder);
        let (row, asked) = (a.db_row, a.lock_asked);
        self.run_locked_work(now, row, holder, asked, ctx);
    }

    fn run_locked_work(
        &mut self,
        now: SimTime,
        row: u16,
        holder: SlabKey,
        asked: SimTime,
        ctx: &mut Context<Event>,
    ) {
        let writer = self.writer();
        let attempts = &self.attempts;
        let info = |job: SlabKey| {
            let a = attempts.get(job);
            let read = RowRead {
                stock: i64::from(a.read_stock),
                version: u64::from(a.read_version),
                user_orders: a.read_user_orders,
            };
            (a.user, read)
        };
        let hold = self.tiers.db.start_work(now, row, holder, asked, writer, info);
        ctx.after(hold, Event::Served { attempt: holder, hop: Hop::RowLock });
    }

    /// The deadlock check of `attempt` found too many waiters: it rolls back.
    pub(in crate::sale) fn deadlock_victim_rolled_back(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let row = self.attempts.get(attempt).db_row;
        self.db().victim_rolled_back(row);
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
        // The attempt may be gone: the ticket names the row.
        if self.db().give_up_lock(now, ticket) {
            self.end_transaction(now, attempt, Err(()), ctx);
        }
    }

    /// The statements under the row lock finished: the writes commit, the lock passes on, and
    /// every transaction of the group goes on by what its statements decided.
    pub(in crate::sale) fn locked_work_done(
        &mut self,
        now: SimTime,
        holder: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let row = self.attempts.get(holder).db_row;
        let (done, next) = self.db().finish_work(now, row);
        self.timeline.db_stock(now, self.tiers.db.row.stock);
        if let Some((next, asked)) = next {
            self.start_locked_work(now, row, next, asked, ctx);
        }
        for member in &done {
            let attempt = member.job;
            match member.decision {
                RowDecision::Sold => {
                    let user = self.attempts.get(attempt).user;
                    self.order_created(now, user, ctx);
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
                RowDecision::NoStock => self.row_empty(now, attempt, ctx),
                RowDecision::OverLimit => {
                    self.end_transaction(now, attempt, Ok(Outcome::LimitReached), ctx)
                }
            }
        }
        self.tiers.db.recycle(done);
        self.timeline.level(now, &self.tiers);
    }

    /// The transaction's row has no stock: with split stock it may try the next row; else
    /// "sold out", for a unit Redis reserved too (Redis is then brought down to the
    /// database's stock, see `answer`).
    fn row_empty(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let rows = self.tiers.db.row_count() as u16;
        let a = self.attempts.get_mut(attempt);
        a.empty_rows += 1;
        if self.variant.db.on_empty_row == OnEmptyRow::Next && a.empty_rows < rows {
            a.db_row = self.tiers.db.next_row(a.db_row);
            return self.update_row(now, attempt, ctx);
        }
        if rows > 1 && self.tiers.db.row.stock > 0 {
            self.tiers.db.counters.empty_row_refusals += 1;
        }
        self.end_transaction(now, attempt, Ok(Outcome::SoldOut), ctx)
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
        if self.attempts.get(attempt).kind == AttemptKind::Order {
            return self.order_transaction_over(now, attempt, result, ctx);
        }
        match result {
            Ok(outcome) => self.answer(now, attempt, outcome, ctx),
            Err(()) => self.fail(now, attempt, ctx),
        }
    }

    /// A step failed: the user is shown the waiting page (and a Redis reservation is handled).
    fn fail(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        if self.attempts.get(attempt).kind == AttemptKind::Order {
            return self.order_transaction_over(now, attempt, Err(()), ctx);
        }
        self.answer(now, attempt, Outcome::Failed, ctx);
    }
}
