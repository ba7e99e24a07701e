//! The database at run time: the pool, the row lock with its deadlock-detection cost, and the
//! locked work of the holder (and of the updates batched with it), decided when the lock is
//! granted and committed when the work ends.

use rand::RngExt;
use sim::rng::{self, RngStream};
use sim::{Admission, SimDuration, SimTime, Station, Ticket};

use super::super::faults::FaultWindows;
use super::{DbCounters, DbSpec, Guard, RowDecision, RowRead, StockRow, Writer};

/// A row's lock tickets are numbered from `row << ROW_TICKET_SHIFT`, so a ticket names its row
/// (a lock wait timeout may fire after its transaction is gone).
const ROW_TICKET_SHIFT: u32 = 40;

/// The result of asking for the row lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRequest {
    /// Granted now: start the locked work ([`Db::start_work`]).
    Granted,
    /// Waiting in the lock queue; give up at the lock wait timeout with this ticket.
    Waiting(Ticket),
    /// Too many waiters: rolled back as a deadlock victim once its deadlock check, queued
    /// behind the others on the lock system's mutex, ends (after this long). Call
    /// [`Db::victim_rolled_back`] then.
    DeadlockVictim(SimDuration),
}

/// A transaction under the row lock: the holder, or an update batched with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<J> {
    pub job: J,
    /// When it asked for the lock.
    pub asked: SimTime,
    pub user: u32,
    pub decision: RowDecision,
    /// The stock column it writes, if it sells.
    new_stock: i64,
}

/// The database at run time: the connection pool, the hot row and its lock queue, statement,
/// update and commit times, fault windows and counters. Jobs are the architecture's
/// transactions.
pub struct Db<J> {
    pub spec: DbSpec,
    pool: Station<J>,
    /// The stock rows (one unless `stock_rows` splits the stock), each with its lock.
    rows: Vec<HotRow<J>>,
    /// The orders table and the stock over all rows, as committed.
    pub row: StockRow,
    /// Statement times (`db/statement`).
    statement_rng: RngStream,
    /// Update times under the lock (`db/update`).
    update_rng: RngStream,
    /// Commit flushes (`db/commit`).
    commit_rng: RngStream,
    pub windows: FaultWindows,
    pub counters: DbCounters,
    /// Which row a transaction updates, when the stock is split (`db/row`).
    row_rng: RngStream,
    /// When the deadlock checks queued on the lock system's mutex will have run.
    checks_done_at: SimTime,
    /// A spare buffer handed out by [`Db::finish_work`] and given back.
    spare: Vec<Member<J>>,
}

/// One stock row: its committed stock and version, its lock queue, and the transactions
/// under its lock.
struct HotRow<J> {
    stock: i64,
    version: u64,
    lock: Station<J>,
    /// Deadlock victims whose check is still running: they contend for the row too.
    victims_checking: u64,
    /// The transactions under the lock now, the holder first; empty when the lock is free.
    work: Vec<Member<J>>,
}

impl<J: Copy> Db<J> {
    pub fn new(spec: &DbSpec, stock: i64, users: usize, seed: u64) -> Self {
        let waiters = spec.max_lock_waiters.map(|n| n as usize);
        let n = spec.stock_rows as i64;
        let rows = (0..n)
            .map(|i| HotRow {
                // The stock spread evenly, the first rows taking the remainder.
                stock: stock / n + i64::from(i < stock % n),
                version: 0,
                lock: Station::new(1, waiters)
                    .with_first_ticket((i as u64) << ROW_TICKET_SHIFT)
                    .with_busiest_second(),
                victims_checking: 0,
                work: Vec::new(),
            })
            .collect();
        Db {
            spec: spec.clone(),
            pool: Station::new(spec.pool, None),
            rows,
            row: StockRow::new(stock, users),
            statement_rng: rng::stream(seed, "db/statement"),
            update_rng: rng::stream(seed, "db/update"),
            commit_rng: rng::stream(seed, "db/commit"),
            windows: FaultWindows::default(),
            counters: DbCounters::default(),
            row_rng: rng::stream(seed, "db/row"),
            checks_done_at: SimTime::ZERO,
            spare: Vec::new(),
        }
    }

    /// A transaction asks for a pooled connection: `None` if it has one now, else the ticket
    /// to give up with at the connection timeout.
    pub fn connect(&mut self, now: SimTime, job: J) -> Option<Ticket> {
        match self.pool.arrive(now, job) {
            Admission::Serve(_) => None,
            Admission::Queued(ticket) => Some(ticket),
            Admission::Dropped(_) => unreachable!("the pool queue is unbounded"),
        }
    }

    /// The connection wait of `ticket` runs out: `true` if it was still waiting.
    pub fn give_up_connection(&mut self, now: SimTime, ticket: Ticket) -> bool {
        let gave_up = self.pool.renege(now, ticket).is_some();
        if gave_up {
            self.counters.pool_timeouts += 1;
        }
        gave_up
    }

    /// A connection held since `since` returns to the pool; the next waiting transaction gets it.
    pub fn disconnect(&mut self, now: SimTime, since: SimTime) -> Option<J> {
        self.pool.depart(now, since).map(|next| next.job)
    }

    /// A statement outside the lock (a read) starting at `now`.
    pub fn statement_time(&mut self, now: SimTime) -> SimDuration {
        let t = self.spec.statement.sample(&mut self.statement_rng);
        self.windows.apply(now, t)
    }

    /// The row a new transaction updates: drawn at random when the stock is split.
    pub fn pick_row(&mut self) -> u16 {
        match self.rows.len() {
            1 => 0,
            n => self.row_rng.random_range(0..n) as u16,
        }
    }

    /// The row after `row`, for a transaction that found `row` empty.
    pub fn next_row(&self, row: u16) -> u16 {
        ((row as usize + 1) % self.rows.len()) as u16
    }

    /// Stock rows.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// A non-locking read of stock row `row`: the last committed values.
    pub fn read(&self, user: u32, row: u16) -> RowRead {
        let hot = &self.rows[row as usize];
        let user_orders = self.row.per_user[user as usize];
        RowRead { stock: hot.stock, version: hot.version, user_orders }
    }

    /// A transaction asks for the row lock at `now`. One that has to wait (or is turned away)
    /// first runs deadlock detection over the holder and the waiters ahead of it, one check
    /// at a time under the lock system's mutex.
    pub fn lock(&mut self, now: SimTime, job: J, row: u16) -> LockRequest {
        let hot = &mut self.rows[row as usize];
        let ahead = hot.lock.waiting() as u64 + 1;
        match hot.lock.arrive(now, job) {
            Admission::Serve(_) => LockRequest::Granted,
            Admission::Queued(ticket) => {
                self.run_deadlock_check(now, ahead);
                LockRequest::Waiting(ticket)
            }
            Admission::Dropped(_) => {
                self.rows[row as usize].victims_checking += 1;
                let done = self.run_deadlock_check(now, ahead);
                self.counters.deadlock_victims += 1;
                LockRequest::DeadlockVictim(done - now)
            }
        }
    }

    /// Queues a deadlock check over `transactions` on the lock system's mutex; returns when
    /// it ends.
    fn run_deadlock_check(&mut self, now: SimTime, transactions: u64) -> SimTime {
        let t = SimDuration::from_nanos(self.spec.check_per_waiter.as_nanos() * transactions);
        self.checks_done_at = self.checks_done_at.max(now) + t;
        self.counters.deadlock_check_ns += t.as_nanos();
        self.checks_done_at
    }

    /// A deadlock victim's check on `row` ended: it is rolled back and contends no more.
    pub fn victim_rolled_back(&mut self, row: u16) {
        self.rows[row as usize].victims_checking -= 1;
    }

    /// Transactions contending for `row` besides its holder: waiters, and victims still
    /// being checked.
    pub fn contenders(&self, row: u16) -> u64 {
        let hot = &self.rows[row as usize];
        hot.lock.waiting() as u64 + hot.victims_checking
    }

    /// The lock wait of `ticket` runs out: `true` if it was still waiting.
    pub fn give_up_lock(&mut self, now: SimTime, ticket: Ticket) -> bool {
        let row = (ticket.number() >> ROW_TICKET_SHIFT) as usize;
        let gave_up = self.rows[row].lock.renege(now, ticket).is_some();
        if gave_up {
            self.counters.lock_timeouts += 1;
        }
        gave_up
    }

    /// The lock is granted at `now` to `holder` (which asked at `asked`): with batching, queued
    /// updates join it. Decides every member in order — each sees the writes of those before
    /// it, readers outside the lock see none until the commit — and returns how long the work
    /// under the lock takes. `info` gives a job's user and what it read without the lock.
    #[allow(clippy::too_many_arguments)]
    pub fn start_work(
        &mut self,
        now: SimTime,
        row: u16,
        holder: J,
        asked: SimTime,
        writer: Writer,
        info: impl Fn(J) -> (u32, RowRead),
    ) -> SimDuration {
        let r = row as usize;
        debug_assert!(self.rows[r].work.is_empty(), "one holder of a row lock at a time");
        self.decide(r, holder, asked, writer, &info);
        while self.rows[r].work.len() < self.spec.max_batch {
            let Some(next) = self.rows[r].lock.join(now) else { break };
            self.decide(r, next.job, next.arrived, writer, &info);
        }
        let mut t = SimDuration::ZERO;
        let mut wrote = false;
        for i in 0..self.rows[r].work.len() {
            let decision = self.rows[r].work[i].decision;
            let for_update = self.spec.guard == Guard::ForUpdate;
            if for_update {
                // SELECT … FOR UPDATE runs under the lock.
                t = t + self.spec.statement.sample(&mut self.statement_rng);
            }
            if !for_update || decision.wrote() {
                t = t + self.spec.update.sample(&mut self.update_rng);
            }
            wrote |= decision.wrote();
        }
        if wrote {
            t = t + self.spec.commit.sample(&mut self.commit_rng);
        }
        // The contention law μ(n) = μ0 / (1 + n/n0): deadlock detection by the n contenders
        // stalls the row's work.
        let stall = 1.0 + self.contenders(row) as f64 / self.spec.contention_n0;
        let t = SimDuration::from_nanos((t.as_nanos() as f64 * stall).round() as u64);
        self.windows.apply(now, t)
    }

    /// What the statements of `job` decide under the lock, given the members before it.
    fn decide(
        &mut self,
        r: usize,
        job: J,
        asked: SimTime,
        writer: Writer,
        info: &impl Fn(J) -> (u32, RowRead),
    ) {
        let (user, read) = info(job);
        let hot = &self.rows[r];
        let sold_before = hot.work.iter().filter(|m| m.decision.wrote());
        let stock = sold_before.clone().last().map_or(hot.stock, |m| m.new_stock);
        let version = hot.version + sold_before.clone().count() as u64;
        let user_orders = self.row.per_user[user as usize] as usize
            + sold_before.filter(|m| m.user == user).count();
        let (decision, new_stock) = match (self.spec.guard, writer) {
            (Guard::Version, _) if version != read.version => (RowDecision::VersionChanged, stock),
            (Guard::Version | Guard::ForUpdate | Guard::Conditional, _) if stock <= 0 => {
                (RowDecision::NoStock, stock)
            }
            (Guard::ForUpdate | Guard::Conditional, Writer::App { limit })
                if user_orders >= limit.for_user(user) as usize =>
            {
                (RowDecision::OverLimit, stock)
            }
            // The lost update: write back what was read, minus one.
            (Guard::None, Writer::App { .. }) => (RowDecision::Sold, read.stock - 1),
            _ => (RowDecision::Sold, stock - 1),
        };
        if decision == RowDecision::VersionChanged {
            self.counters.version_conflicts += 1;
        }
        self.rows[r].work.push(Member { job, asked, user, decision, new_stock });
    }

    /// The work under the lock ends at `now`: the writes commit, the lock goes to the next
    /// waiter (returned with when it asked, to start its work), and the members come back with
    /// their decisions, the holder first. Give the list back with [`Db::recycle`].
    pub fn finish_work(
        &mut self,
        now: SimTime,
        row: u16,
    ) -> (Vec<Member<J>>, Option<(J, SimTime)>) {
        let spare = std::mem::take(&mut self.spare);
        let done = std::mem::replace(&mut self.rows[row as usize].work, spare);
        let mut wrote = false;
        for (i, m) in done.iter().enumerate() {
            if m.decision.wrote() {
                let hot = &mut self.rows[row as usize];
                // The rows' stock over all rows: the written row's new value plus the others'.
                let total = self.row.stock - hot.stock + m.new_stock;
                (hot.stock, hot.version) = (m.new_stock, hot.version + 1);
                self.row.commit_sale(m.user, total, now);
                wrote = true;
            }
            if i > 0 {
                self.rows[row as usize].lock.leave(now, m.asked);
            }
        }
        if wrote {
            self.counters.commits += 1;
        }
        let holder_asked = done.first().expect("the lock has a holder").asked;
        let lock = &mut self.rows[row as usize].lock;
        let next = lock.depart(now, holder_asked).map(|s| (s.job, s.arrived));
        (done, next)
    }

    /// A cancelled order's unit goes back on the first stock row.
    pub fn restock_one(&mut self) {
        self.rows[0].stock += 1;
        self.row.stock += 1;
    }

    /// Puts `stock` units on a one-row table (tests).
    #[cfg(test)]
    pub fn restock(&mut self, stock: i64) {
        assert_eq!(self.rows.len(), 1);
        (self.rows[0].stock, self.row.stock) = (stock, stock);
    }

    /// Gives back the list [`Db::finish_work`] handed out.
    pub fn recycle(&mut self, mut done: Vec<Member<J>>) {
        done.clear();
        self.spare = done;
    }

    /// The connection pool, for levels and reports.
    pub fn pool(&self) -> &Station<J> {
        &self.pool
    }

    /// The lock of stock row `row`, for levels and reports.
    pub fn row_lock(&self, row: u16) -> &Station<J> {
        &self.rows[row as usize].lock
    }

    /// Transactions waiting for a row lock, over all rows.
    pub fn lock_waiters(&self) -> usize {
        self.rows.iter().map(|r| r.lock.waiting()).sum()
    }
}
