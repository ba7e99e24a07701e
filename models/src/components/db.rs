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
use sim::{Dist, DistSpec, SimDuration};

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
    pub sold_out_at: Option<sim::SimTime>,
}

impl StockRow {
    pub fn new(stock: i64, users: usize) -> Self {
        StockRow { stock, version: 0, orders: 0, per_user: vec![0; users], sold_out_at: None }
    }

    /// Commits one sale for `user`, writing `new_stock` to the stock column.
    pub fn commit_sale(&mut self, user: u32, new_stock: i64, now: sim::SimTime) {
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
