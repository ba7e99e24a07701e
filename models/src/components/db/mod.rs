//! The database (MySQL/InnoDB-like): a connection pool, a lock queue on the hot stock row, and
//! statements whose cost depends on what they do.
//!
//! A transaction first waits for a pooled connection (giving up after `connection_timeout`), then
//! runs its statements. Updating the stock row needs the row lock, held until commit; waiters
//! queue FIFO and give up after `lock_wait_timeout` (ERROR 1205). With deadlock detection on
//! (InnoDB's default), every lock request that has to wait walks the transactions ahead of it
//! under the lock system's global mutex; one that finds more than `max_lock_waiters` waiting is
//! rolled back as a deadlock victim (the 200-waiter rule) once its check has run, one check at
//! a time. The detection stalls the row: with n contenders (waiters and victims being
//! checked) its work takes (1 + n/n0) times as long, the measured collapse
//! μ(n) = μ0 / (1 + n/n0). Turning detection off removes the stall and the waiter limit; waits
//! then end only at the lock wait timeout.
//!
//! Under the lock, a statement costs `update` (an indexed single-row UPDATE in memory); a
//! transaction that wrote then pays `commit` (the redo-log flush). An UPDATE that matches no
//! row — stock exhausted, or a version that changed — writes no redo, so its commit does not
//! flush: the lock is released after the statement alone. The guard decides what protects the
//! stock:
//!
//! - `conditional`: `UPDATE … SET stock = stock − 1 WHERE id = ? AND stock >= 1` under the row
//!   lock — serial, and nothing read beforehand can go stale;
//! - `version` (optimistic, the case study's "row lock + version"): read stock and version
//!   without locking, then `UPDATE … WHERE id = ? AND version = ?`; a changed version is found
//!   by that cheap update, and the transaction re-reads, up to `occ_retries` times;
//! - `for_update`: `SELECT … FOR UPDATE` takes the lock before reading, so the read-check-write
//!   is serial (the locking read runs under the lock; a refusal rolls back without writing);
//! - `none`: read without locking, then write `stock = read − 1` — two transactions that read
//!   the same value both sell a unit and both write the same stock (the lost update).
//!
//! With `batching` (AliSQL's inventory hint, PolarDB's hot-row group update), the holder of
//! the lock takes up to `max_batch` − 1 queued updates of the row with it: their statements
//! run back to back and one commit flush covers the group; with a `batch_window` the first
//! update holds the lock that long for others to join. With `stock_rows` = N the stock is
//! split over N rows, each with its own lock; a transaction picks one at random and, finding it
//! empty, tries the next (`on_empty_row = "next"`) or answers "sold out" — leaving units on the
//! other rows unsold.
//!
//! Defaults: see `docs/parameters.md` (MySQL / InnoDB).

mod runtime;
#[cfg(test)]
mod tests;

pub use runtime::{Db, LockRequest, Member};

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::DurationLit;
use sim::config::{Issues, join_key};
use sim::{Dist, DistSpec, SimDuration, SimTime};

use super::{count_or, dist_or, duration_or, lognormal, price_or};

/// What protects the stock row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// One conditional statement under the row lock: `UPDATE … SET stock = stock − 1 WHERE id = ?
    /// AND stock >= 1`; no read before the write, so nothing to conflict with.
    Conditional,
    /// Optimistic: read, then `UPDATE … WHERE version = ?`, re-read on conflict.
    Version,
    /// Pessimistic: `SELECT … FOR UPDATE`, then the update.
    ForUpdate,
    /// No guard: read, then write `stock = read − 1`.
    None,
}

/// What happens when the final database write fails for a transient reason (a timeout, a
/// deadlock victim, retries exhausted) after Redis reserved a unit. A database that answers
/// "no stock" is not transient: Redis is then set to the database's stock either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Give the unit back in Redis (INCR stock).
    Compensate,
    /// Do nothing: the unit stays taken in Redis and is never sold.
    Leak,
}

/// What a transaction does when the stock row it picked is empty (split stock only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnEmptyRow {
    /// Try the next row, until every row has been tried.
    Next,
    /// Answer "sold out" (units left on other rows are undersold).
    SoldOut,
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
    /// A non-locking statement, round trip included (default LN(1ms, 10ms)).
    pub statement: Option<DistSpec>,
    /// The UPDATE of the stock row under its lock (default LN(50us, 250us)).
    pub update: Option<DistSpec>,
    /// The commit of a transaction that wrote: the redo-log flush (default LN(1ms, 5ms)).
    pub commit: Option<DistSpec>,
    /// Longest wait for the row lock (default 50s).
    pub lock_wait_timeout: Option<DurationLit>,
    /// InnoDB deadlock detection (default true): its cost per waiter and the waiter limit.
    pub deadlock_detect: Option<bool>,
    /// Waiters beyond which a new one is rolled back as a deadlock victim (default 200).
    pub max_lock_waiters: Option<i64>,
    /// Contenders at which the hot row's throughput halves, n0 in μ(n) = μ0 / (1 + n/n0)
    /// (default 1024: 500 TPS at 512 contenders with the default update and commit).
    pub contention_n0: Option<f64>,
    /// Hot-row group update: queued updates of the row share one commit (default false).
    pub batching: Option<bool>,
    /// Updates per group with `batching` (default 64).
    pub max_batch: Option<i64>,
    /// With `batching`: how long a group's first update holds the lock waiting for others to
    /// join before the group runs (default 0s: a group is what queued while the last ran).
    pub batch_window: Option<DurationLit>,
    /// Stock split over this many rows, each with its own lock; a transaction picks one at
    /// random (default 1).
    pub stock_rows: Option<i64>,
    /// Split stock: `next` (default) tries another row when the picked one is empty,
    /// `sold_out` answers "sold out".
    pub on_empty_row: Option<OnEmptyRow>,
    /// Re-reads after a version conflict (default 3).
    pub occ_retries: Option<i64>,
    /// Three-tier only: `compensate` (default) or `leak` after a transient failure of the
    /// final write.
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
    pub update: Dist,
    pub commit: Dist,
    pub lock_wait_timeout: SimDuration,
    /// The waiter limit, when deadlock detection is on.
    pub max_lock_waiters: Option<u64>,
    /// n0 of the contention law (infinite when deadlock detection is off).
    pub contention_n0: f64,
    /// A deadlock check's time per transaction it walks, under the lock system's mutex:
    /// mean(update + commit) / n0, the stall one contender adds to a sale (zero when off).
    pub check_per_waiter: SimDuration,
    /// Updates per commit group; 1 without batching.
    pub max_batch: usize,
    /// How long a group's first update waits for others under the lock (zero: no wait).
    pub batch_window: SimDuration,
    pub stock_rows: u32,
    pub on_empty_row: OnEmptyRow,
    pub occ_retries: u32,
    pub on_failure: OnFailure,
    pub price_per_hour: f64,
}

/// n0 of the default contention law: with update LN(50µs, 250µs) and commit LN(1ms, 5ms) a
/// sale holds the row 1.334 ms on average (μ0 ≈ 750/s), and 750 / (1 + 512/1024) = 500 TPS at
/// 512 contenders, the stock-MySQL figure.
const DEFAULT_CONTENTION_N0: f64 = 1024.0;

impl RawDb {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<DbSpec> {
        let before = issues.len();
        let (ms, us) = (SimDuration::from_millis, SimDuration::from_micros);
        let pool = count_or(self.pool, at, "pool", 10, (1, 1_000_000), issues) as u32;
        let connection_timeout =
            duration_or(&self.connection_timeout, at, "connection_timeout", ms(30_000), issues);
        let statement = dist_or(&self.statement, at, "statement", lognormal(ms(1), ms(10)), issues);
        let update = dist_or(&self.update, at, "update", lognormal(us(50), us(250)), issues);
        let commit = dist_or(&self.commit, at, "commit", lognormal(ms(1), ms(5)), issues);
        let lock_wait_timeout =
            duration_or(&self.lock_wait_timeout, at, "lock_wait_timeout", ms(50_000), issues);
        let max_lock_waiters =
            count_or(self.max_lock_waiters, at, "max_lock_waiters", 200, (0, 100_000_000), issues);
        let n0 = self.contention_n0.unwrap_or(DEFAULT_CONTENTION_N0);
        if !(n0.is_finite() && n0 >= 1.0) {
            issues.push(join_key(at, "contention_n0"), format!("must be a number ≥ 1 (got {n0})"));
        }
        let guard = self.guard.unwrap_or(Guard::Version);
        let batching = self.batching.unwrap_or(false);
        let max_batch = count_or(self.max_batch, at, "max_batch", 64, (1, 100_000), issues);
        if self.max_batch.is_some() && !batching {
            issues.push(join_key(at, "max_batch"), "applies only with `batching = true`");
        }
        let batch_window =
            duration_or(&self.batch_window, at, "batch_window", SimDuration::ZERO, issues);
        if self.batch_window.is_some() && !batching {
            issues.push(join_key(at, "batch_window"), "applies only with `batching = true`");
        }
        if batching && guard == Guard::ForUpdate {
            issues.push(
                join_key(at, "batching"),
                "needs single-statement updates: `for_update` holds the lock across a read and \
                 an update (use `conditional`, `version` or `none`)",
            );
        }
        let deadlock_detect = self.deadlock_detect.unwrap_or(true);
        if self.max_lock_waiters.is_some() && !deadlock_detect {
            issues.push(
                join_key(at, "max_lock_waiters"),
                "is deadlock detection's limit: it does not apply with `deadlock_detect = false`",
            );
        }
        if self.contention_n0.is_some() && !deadlock_detect {
            issues.push(
                join_key(at, "contention_n0"),
                "is the cost of deadlock detection: it does not apply with `deadlock_detect = false`",
            );
        }
        let stock_rows = count_or(self.stock_rows, at, "stock_rows", 1, (1, 1024), issues) as u32;
        if self.on_empty_row.is_some() && stock_rows == 1 {
            issues.push(join_key(at, "on_empty_row"), "applies only with `stock_rows` > 1");
        }
        let occ_retries =
            count_or(self.occ_retries, at, "occ_retries", 3, (0, 1000), issues) as u32;
        let price = price_or(self.price_per_hour, at, "price_per_hour", 0.171, issues);
        if issues.len() > before {
            return None;
        }
        let (update, commit) = (update?, commit?);
        let check_per_waiter = if deadlock_detect {
            SimDuration::from_secs_f64((update.mean_secs() + commit.mean_secs()) / n0)
        } else {
            SimDuration::ZERO
        };
        Some(DbSpec {
            pool,
            connection_timeout: connection_timeout?,
            guard,
            statement: statement?,
            update,
            commit,
            lock_wait_timeout: lock_wait_timeout?,
            max_lock_waiters: deadlock_detect.then_some(max_lock_waiters),
            contention_n0: if deadlock_detect { n0 } else { f64::INFINITY },
            check_per_waiter,
            max_batch: if batching { max_batch as usize } else { 1 },
            batch_window: batch_window?,
            stock_rows,
            on_empty_row: self.on_empty_row.unwrap_or(OnEmptyRow::Next),
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
    App { limit: super::limit::LimitRule },
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

impl RowDecision {
    /// Whether the transaction wrote (and so pays the commit flush).
    pub fn wrote(self) -> bool {
        self == RowDecision::Sold
    }
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
    /// Commit flushes of the stock row (fewer than sales with batching).
    pub commits: u64,
    /// Deadlock checks' time on the lock system's mutex, in ns.
    pub deadlock_check_ns: u64,
    /// "Sold out" answered by an empty row while other rows still held stock.
    pub empty_row_refusals: u64,
}
