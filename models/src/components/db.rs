//! The database (MySQL/InnoDB-like): a connection pool, a lock queue on the hot stock row, and
//! statements with service times.
//!
//! A transaction first waits for a pooled connection (giving up after `connection_timeout`), then
//! runs its statements. Updating the stock row needs the row lock, held until commit; waiters
//! queue FIFO and give up after `lock_wait_timeout` (ERROR 1205), and one that finds more than
//! `max_lock_waiters` already waiting is rolled back as a deadlock victim (InnoDB's 200-waiter
//! rule). The guard decides what protects the stock:
//!
//! - `conditional`: a single `UPDATE … SET stock = stock − 1 WHERE id = ? AND stock >= 1` under
//!   the row lock — serial, and nothing read beforehand can go stale;
//! - `version` (optimistic): read stock and version without locking; the update succeeds only if
//!   the version is unchanged, else the transaction re-reads, up to `occ_retries` times. Under a
//!   hot row, k concurrent readers of one version yield one commit per round: throughput falls
//!   as concurrency rises (Brooker's O(N²) contention, parameters.md §7);
//! - `for_update`: `SELECT … FOR UPDATE` takes the lock before reading, so the read-check-write is
//!   serial (and the lock is held for both statements);
//! - `none`: read without locking, then write `stock = read − 1` — two transactions that read the
//!   same value both sell a unit and both write the same stock (the lost update), so orders
//!   exceed the stock.
//!
//! Defaults (parameters.md §2, §11): statement LN(1 ms, 10 ms) [A], update-and-commit under the
//! lock LN(1 ms, 5 ms) [A], lock wait timeout 50 s, 200 waiters, pool 10 (HikariCP), connection
//! timeout 30 s, $0.171 per hour (db.m5.large).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::DurationLit;
use sim::config::Issues;
use sim::rng::{self, RngStream};
use sim::{Admission, Dist, DistSpec, SimDuration, SimTime, Station, Ticket};

use super::faults::FaultWindows;
use super::{count_or, dist_or, duration_or, lognormal, price_or};

/// What protects the stock row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// One conditional statement under the row lock: `UPDATE … SET stock = stock − 1 WHERE id = ?
    /// AND stock >= 1`; no read before the write, so nothing to conflict with.
    Conditional,
    /// Optimistic: `UPDATE … WHERE version = ?`, retry on conflict.
    Version,
    /// Pessimistic: `SELECT … FOR UPDATE`.
    ForUpdate,
    /// No guard: read, then write `stock = read − 1`.
    None,
}

/// What happens when the final database write fails after Redis reserved a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Give the unit back in Redis (INCR stock).
    Compensate,
    /// Do nothing: the unit stays taken in Redis and is never sold.
    Leak,
}

/// The `[variant.db]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDb {
    /// Connections in the pool, all app instances together (default 10).
    pub pool: Option<i64>,
    /// Longest wait for a connection (default 30s).
    pub connection_timeout: Option<DurationLit>,
    /// `conditional`, `version` (default), `for_update` or `none`.
    pub guard: Option<Guard>,
    /// A non-locking statement (default LN(1ms, 10ms)).
    pub statement: Option<DistSpec>,
    /// Update and commit while holding the row lock (default LN(1ms, 5ms)).
    pub lock_hold: Option<DistSpec>,
    /// Longest wait for the row lock (default 50s).
    pub lock_wait_timeout: Option<DurationLit>,
    /// Waiters beyond which a new one is rolled back as a deadlock victim (default 200).
    pub max_lock_waiters: Option<i64>,
    /// Re-reads after a version conflict (default 3).
    pub occ_retries: Option<i64>,
    /// Three-tier only: `compensate` (default) or `leak` after a failed final write.
    pub on_failure: Option<OnFailure>,
    /// Price per hour (default 0.171).
    pub price_per_hour: Option<f64>,
}

/// Validated database settings.
#[derive(Clone, Debug)]
pub struct DbSpec {
    pub pool: u32,
    pub connection_timeout: SimDuration,
    pub guard: Guard,
    pub statement: Dist,
    pub lock_hold: Dist,
    pub lock_wait_timeout: SimDuration,
    pub max_lock_waiters: u64,
    pub occ_retries: u32,
    pub on_failure: OnFailure,
    pub price_per_hour: f64,
}

impl RawDb {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<DbSpec> {
        let before = issues.len();
        let ms = SimDuration::from_millis;
        let pool = count_or(self.pool, at, "pool", 10, (1, 1_000_000), issues) as u32;
        let connection_timeout =
            duration_or(&self.connection_timeout, at, "connection_timeout", ms(30_000), issues);
        let statement = dist_or(&self.statement, at, "statement", lognormal(ms(1), ms(10)), issues);
        let lock_hold = dist_or(&self.lock_hold, at, "lock_hold", lognormal(ms(1), ms(5)), issues);
        let lock_wait_timeout =
            duration_or(&self.lock_wait_timeout, at, "lock_wait_timeout", ms(50_000), issues);
        let max_lock_waiters =
            count_or(self.max_lock_waiters, at, "max_lock_waiters", 200, (0, 100_000_000), issues);
        let occ_retries =
            count_or(self.occ_retries, at, "occ_retries", 3, (0, 1000), issues) as u32;
        let price = price_or(self.price_per_hour, at, "price_per_hour", 0.171, issues);
        if issues.len() > before {
            return None;
        }
        Some(DbSpec {
            pool,
            connection_timeout: connection_timeout?,
            guard: self.guard.unwrap_or(Guard::Version),
            statement: statement?,
            lock_hold: lock_hold?,
            lock_wait_timeout: lock_wait_timeout?,
            max_lock_waiters,
            occ_retries,
            on_failure: self.on_failure.unwrap_or(OnFailure::Compensate),
            price_per_hour: price,
        })
    }
}

/// The stock row and the orders table: the system of record.
#[derive(Debug)]
pub struct StockRow {
    /// The `stock` column.
    pub stock: i64,
    pub version: u64,
    /// Orders inserted (one unit each).
    pub orders: u64,
    /// Per user: orders inserted.
    pub per_user: Vec<u16>,
    /// When the last unit was committed (the `stock` column reached 0 with a commit).
    pub sold_out_at: Option<SimTime>,
}

impl StockRow {
    pub fn new(stock: i64, users: usize) -> Self {
        StockRow { stock, version: 0, orders: 0, per_user: vec![0; users], sold_out_at: None }
    }

    /// Commits one sale for `user`, writing `new_stock` to the stock column.
    pub fn commit_sale(&mut self, user: u32, new_stock: i64, now: SimTime) {
        self.stock = new_stock;
        self.version += 1;
        self.orders += 1;
        let count = &mut self.per_user[user as usize];
        *count = count.saturating_add(1);
        if self.stock <= 0 && self.sold_out_at.is_none() {
            self.sold_out_at = Some(now);
        }
    }
}

/// What a transaction read of the stock row without locking it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowRead {
    pub stock: i64,
    pub version: u64,
    pub user_orders: u16,
}

/// Who runs the locked update, which decides what it checks and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The application's own read-check-write (`naive_db`): it refuses a sold-out row or a user
    /// at `limit` itself, and without a guard writes back what it read, minus one.
    App { limit: u16 },
    /// The final write of a unit already reserved elsewhere (`three_tier_redis`): an
    /// unconditional `stock = stock - 1` without a guard.
    Reservation,
}

/// What the statements under the row lock decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowDecision {
    /// A unit sold and committed.
    Sold,
    /// The row has no stock left (the conditional update matched no row).
    NoStock,
    /// The user already holds `limit` orders (application writers only).
    OverLimit,
    /// The version changed since the read: the optimistic update matched no row.
    VersionChanged,
}

/// What the database counts.
#[derive(Clone, Debug, Default)]
pub struct DbCounters {
    /// Lock requests that found more than `max_lock_waiters` waiting (rolled back).
    pub deadlock_victims: u64,
    /// Lock waits that ran out (`lock_wait_timeout`, ERROR 1205).
    pub lock_timeouts: u64,
    /// Connection waits that ran out (`connection_timeout`).
    pub pool_timeouts: u64,
    pub version_conflicts: u64,
}

/// The result of asking for the row lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRequest {
    /// Granted now: the work under it ends after this long.
    Granted(SimDuration),
    /// Waiting in the lock queue; give up at the lock wait timeout with this ticket.
    Waiting(Ticket),
    /// Too many waiters: rolled back as a deadlock victim.
    DeadlockVictim,
}

/// The database at run time: the connection pool, the hot row and its lock queue, statement and
/// lock-hold times, fault windows and counters. Jobs are the architecture's transactions.
pub struct Db<J> {
    pub spec: DbSpec,
    pool: Station<J>,
    row_lock: Station<J>,
    pub row: StockRow,
    /// Statement times (`db/statement`).
    statement_rng: RngStream,
    /// Update-and-commit times under the lock (`db/lock-hold`).
    lock_hold_rng: RngStream,
    pub windows: FaultWindows,
    pub counters: DbCounters,
}

impl<J: Copy> Db<J> {
    pub fn new(spec: &DbSpec, stock: i64, users: usize, seed: u64) -> Self {
        Db {
            spec: spec.clone(),
            pool: Station::new(spec.pool, None),
            row_lock: Station::new(1, Some(spec.max_lock_waiters as usize)),
            row: StockRow::new(stock, users),
            statement_rng: rng::stream(seed, "db/statement"),
            lock_hold_rng: rng::stream(seed, "db/lock-hold"),
            windows: FaultWindows::default(),
            counters: DbCounters::default(),
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

    /// A non-locking read of the stock row.
    pub fn read(&self, user: u32) -> RowRead {
        let row = &self.row;
        RowRead { stock: row.stock, version: row.version, user_orders: row.per_user[user as usize] }
    }

    /// A transaction asks for the row lock at `now`.
    pub fn lock(&mut self, now: SimTime, job: J) -> LockRequest {
        match self.row_lock.arrive(now, job) {
            Admission::Serve(_) => LockRequest::Granted(self.hold_time(now)),
            Admission::Queued(ticket) => LockRequest::Waiting(ticket),
            Admission::Dropped(_) => {
                self.counters.deadlock_victims += 1;
                LockRequest::DeadlockVictim
            }
        }
    }

    /// The lock wait of `ticket` runs out: `true` if it was still waiting.
    pub fn give_up_lock(&mut self, now: SimTime, ticket: Ticket) -> bool {
        let gave_up = self.row_lock.renege(now, ticket).is_some();
        if gave_up {
            self.counters.lock_timeouts += 1;
        }
        gave_up
    }

    /// The work done under the lock, granted at `now`: update and commit (and, for
    /// `for_update`, the locking read too).
    pub fn hold_time(&mut self, now: SimTime) -> SimDuration {
        let mut hold = self.spec.lock_hold.sample(&mut self.lock_hold_rng);
        if self.spec.guard == Guard::ForUpdate {
            // SELECT … FOR UPDATE runs under the lock too.
            hold = hold + self.spec.statement.sample(&mut self.statement_rng);
        }
        self.windows.apply(now, hold)
    }

    /// The statements under the lock finish at `now` for `user`, who read `read` before (if
    /// the guard reads outside the lock): decide by the guard, and commit a sale.
    pub fn update_locked(
        &mut self,
        now: SimTime,
        user: u32,
        read: RowRead,
        writer: Writer,
    ) -> RowDecision {
        let row = &mut self.row;
        let decision = match (self.spec.guard, writer) {
            (Guard::Version, _) if row.version != read.version => RowDecision::VersionChanged,
            (Guard::Version | Guard::ForUpdate | Guard::Conditional, _) if row.stock <= 0 => {
                RowDecision::NoStock
            }
            (Guard::ForUpdate | Guard::Conditional, Writer::App { limit })
                if row.per_user[user as usize] >= limit =>
            {
                RowDecision::OverLimit
            }
            (Guard::None, Writer::App { .. }) => {
                // The lost update: write back what was read, minus one.
                row.commit_sale(user, read.stock - 1, now);
                RowDecision::Sold
            }
            _ => {
                row.commit_sale(user, row.stock - 1, now);
                RowDecision::Sold
            }
        };
        if decision == RowDecision::VersionChanged {
            self.counters.version_conflicts += 1;
        }
        decision
    }

    /// The lock held since `since` is released at `now`; the next waiter (if any) gets it and
    /// its work ends after the returned time.
    pub fn unlock(&mut self, now: SimTime, since: SimTime) -> Option<(J, SimDuration)> {
        let next = self.row_lock.depart(now, since)?;
        Some((next.job, self.hold_time(now)))
    }

    /// The connection pool, for levels and reports.
    pub fn pool(&self) -> &Station<J> {
        &self.pool
    }

    /// The row lock's holder and queue, for levels and reports.
    pub fn row_lock(&self) -> &Station<J> {
        &self.row_lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(guard: Guard, stock: i64) -> Db<u32> {
        let raw = RawDb { guard: Some(guard), max_lock_waiters: Some(2), ..RawDb::default() };
        Db::new(&raw.check("db", &mut Issues::new()).unwrap(), stock, 4, 1)
    }

    const T: SimTime = SimTime::ZERO;

    #[test]
    fn without_a_guard_two_stale_reads_both_sell_and_write_the_same_stock() {
        let mut d = db(Guard::None, 5);
        let (a, b) = (d.read(0), d.read(1));
        let app = Writer::App { limit: 1 };
        assert_eq!(d.update_locked(T, 0, a, app), RowDecision::Sold);
        assert_eq!(d.update_locked(T, 1, b, app), RowDecision::Sold);
        assert_eq!((d.row.orders, d.row.stock), (2, 4), "two orders, one unit gone: lost update");
    }

    #[test]
    fn the_version_guard_refuses_a_stale_read_and_counts_the_conflict() {
        let mut d = db(Guard::Version, 5);
        let (a, b) = (d.read(0), d.read(1));
        assert_eq!(d.update_locked(T, 0, a, Writer::Reservation), RowDecision::Sold);
        assert_eq!(d.update_locked(T, 1, b, Writer::Reservation), RowDecision::VersionChanged);
        assert_eq!(d.counters.version_conflicts, 1);
        let fresh = d.read(1);
        assert_eq!(d.update_locked(T, 1, fresh, Writer::Reservation), RowDecision::Sold);
        assert_eq!((d.row.orders, d.row.stock), (2, 3));
    }

    #[test]
    fn conditional_and_for_update_never_go_below_zero_and_check_the_limit_for_the_app() {
        for guard in [Guard::Conditional, Guard::ForUpdate] {
            let mut d = db(guard, 1);
            let app = Writer::App { limit: 1 };
            let stale = d.read(0);
            assert_eq!(d.update_locked(T, 0, stale, app), RowDecision::Sold);
            assert_eq!(d.update_locked(T, 0, stale, app), RowDecision::NoStock, "{guard:?}");
            d.row.stock = 5;
            assert_eq!(d.update_locked(T, 0, stale, app), RowDecision::OverLimit);
            assert_eq!(d.update_locked(T, 0, stale, Writer::Reservation), RowDecision::Sold);
        }
    }

    #[test]
    fn the_row_lock_serialises_and_refuses_beyond_its_waiters() {
        let mut d = db(Guard::Conditional, 5);
        assert!(matches!(d.lock(T, 0), LockRequest::Granted(_)));
        assert!(matches!(d.lock(T, 1), LockRequest::Waiting(_)));
        let LockRequest::Waiting(ticket) = d.lock(T, 2) else { panic!("second waiter") };
        assert_eq!(d.lock(T, 3), LockRequest::DeadlockVictim, "more than 2 waiters");
        assert_eq!(d.counters.deadlock_victims, 1);
        assert!(d.give_up_lock(T, ticket), "waiter 2 times out");
        assert_eq!(d.counters.lock_timeouts, 1);
        let ms = SimDuration::from_millis(1);
        let (next, _) = d.unlock(T + ms, T).unwrap();
        assert_eq!(next, 1, "FIFO: the first waiter");
        assert_eq!(d.unlock(T + ms + ms, T + ms), None);
    }

    #[test]
    fn a_full_pool_queues_and_a_wait_can_run_out() {
        let raw = RawDb { pool: Some(1), ..RawDb::default() };
        let mut d: Db<u32> = Db::new(&raw.check("db", &mut Issues::new()).unwrap(), 5, 4, 1);
        assert_eq!(d.connect(T, 0), None);
        let ticket = d.connect(T, 1).expect("waits");
        assert!(d.give_up_connection(T, ticket));
        assert_eq!(d.counters.pool_timeouts, 1);
        assert_eq!(d.disconnect(T, T), None, "nobody is left waiting");
    }
}
