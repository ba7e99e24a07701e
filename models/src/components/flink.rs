//! Flink: a keyed stream job that decides each purchase request in its state.
//!
//! The job reads the topic, keys records and runs the seckill decision per key: stock left? user
//! under the limit? then decrement and emit an order. Each parallel subtask is a one-server FIFO
//! station processing its records one at a time. Where the stock lives decides the parallelism
//! that matters: `one_key` keeps the item's stock (and the item's per-user counts) under one key,
//! so every record goes to one subtask — the hot subtask; `split` divides the stock evenly over
//! the subtasks and keys records by user, so the work spreads but one subtask can sell out while
//! another still holds units (its buyers are told "sold out": stranded stock).
//!
//! Checkpoints are taken every `checkpoint_interval` and complete `checkpoint_duration` later. On
//! a task failure the whole job restarts after `restart_time` from the last completed
//! checkpoint: state rolls back and every record processed since is replayed. The order sink is
//! `at_least_once` (orders are written as they are decided, so a replay writes them again —
//! duplicate orders, or an order the replay now decides differently) or `transactional` (orders
//! and results are committed when the next checkpoint completes: no duplicates, later answers).
//!
//! Defaults (parameters.md §4, §8, §11): per record LN(50 µs, 500 µs) (20–50k simple records/s
//! per core), parallelism 4, checkpoints every 5 s, restart 30 s [A], checkpoint duration 200 ms
//! [A], 64 B of state per key [A: no published seckill figure], sink write LN(1 ms, 10 ms) (a
//! MySQL statement), $0.11 per KPU-hour with one KPU per subtask plus one for the application
//! (Amazon Managed Service for Apache Flink).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{Issues, join_key};
use sim::{Dist, DistSpec, SimDuration};

use super::{count_or, dist_or, duration_or, lognormal, price_or};

/// Where the item's stock is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockPlacement {
    /// One key: every record is decided by one subtask.
    OneKey,
    /// Split evenly over the subtasks; records keyed by user.
    Split,
}

/// How orders leave the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sink {
    /// Written when decided; replays write them again.
    AtLeastOnce,
    /// Committed with the next checkpoint (two-phase commit).
    Transactional,
}

/// The `[variant.flink]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlink {
    /// Parallel subtasks (default 4, at most 1024).
    pub parallelism: Option<i64>,
    /// `one_key` (default) or `split`.
    pub stock: Option<StockPlacement>,
    /// Processing time per record (default LN(50us, 500us)).
    pub record_time: Option<DistSpec>,
    /// Time between checkpoints (default 5s).
    pub checkpoint_interval: Option<sim::config::DurationLit>,
    /// Checkpoint trigger → completion (default 200ms).
    pub checkpoint_duration: Option<sim::config::DurationLit>,
    /// `at_least_once` (default) or `transactional`.
    pub sink: Option<Sink>,
    /// Time to write one order (and its result) in the sink (default LN(1ms, 10ms)).
    pub sink_write: Option<DistSpec>,
    /// Failure → processing again (default 30s).
    pub restart_time: Option<sim::config::DurationLit>,
    /// State bytes per key (default 64).
    pub state_bytes_per_key: Option<f64>,
    /// KPUs billed (default parallelism + 1).
    pub kpus: Option<i64>,
    /// Price per KPU-hour (default 0.11).
    pub price_per_kpu_hour: Option<f64>,
}

/// Validated Flink settings.
#[derive(Clone, Debug)]
pub struct FlinkSpec {
    pub parallelism: u32,
    pub stock: StockPlacement,
    pub record_time: Dist,
    pub checkpoint_interval: SimDuration,
    pub checkpoint_duration: SimDuration,
    pub sink: Sink,
    pub sink_write: Dist,
    pub restart_time: SimDuration,
    pub state_bytes_per_key: f64,
    pub kpus: u32,
    pub price_per_kpu_hour: f64,
}

impl RawFlink {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<FlinkSpec> {
        let before = issues.len();
        let us = SimDuration::from_micros;
        let ms = SimDuration::from_millis;
        let parallelism = count_or(self.parallelism, at, "parallelism", 4, (1, 1024), issues);
        let record_time =
            dist_or(&self.record_time, at, "record_time", lognormal(us(50), us(500)), issues);
        let interval =
            duration_or(&self.checkpoint_interval, at, "checkpoint_interval", ms(5_000), issues);
        let duration =
            duration_or(&self.checkpoint_duration, at, "checkpoint_duration", ms(200), issues);
        if interval.is_some_and(|i| i < ms(1)) {
            issues.push(join_key(at, "checkpoint_interval"), "must be ≥ 1ms");
        }
        if let (Some(i), Some(d)) = (interval, duration)
            && d >= i
        {
            issues.push(
                join_key(at, "checkpoint_duration"),
                format!("must be shorter than checkpoint_interval ({i}) (got {d})"),
            );
        }
        let sink_write =
            dist_or(&self.sink_write, at, "sink_write", lognormal(ms(1), ms(10)), issues);
        let restart = duration_or(&self.restart_time, at, "restart_time", ms(30_000), issues);
        let state_bytes =
            price_or(self.state_bytes_per_key, at, "state_bytes_per_key", 64.0, issues);
        let kpus = count_or(self.kpus, at, "kpus", parallelism + 1, (1, 100_000), issues);
        let price = price_or(self.price_per_kpu_hour, at, "price_per_kpu_hour", 0.11, issues);
        if issues.len() > before {
            return None;
        }
        Some(FlinkSpec {
            parallelism: parallelism as u32,
            stock: self.stock.unwrap_or(StockPlacement::OneKey),
            record_time: record_time?,
            checkpoint_interval: interval?,
            checkpoint_duration: duration?,
            sink: self.sink.unwrap_or(Sink::AtLeastOnce),
            sink_write: sink_write?,
            restart_time: restart?,
            state_bytes_per_key: state_bytes,
            kpus: kpus as u32,
            price_per_kpu_hour: price,
        })
    }
}

impl FlinkSpec {
    /// The subtask that decides a user's records.
    pub fn subtask_of(&self, user: u32) -> u32 {
        match self.stock {
            StockPlacement::OneKey => 0,
            StockPlacement::Split => {
                ((user as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 32) as u32 % self.parallelism
            }
        }
    }
}

/// What the job decided for one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Purchased,
    SoldOut,
    LimitReached,
}

/// The job's keyed state with an undo log back to the last completed checkpoint.
#[derive(Debug)]
pub struct StreamState {
    /// Stock per subtask (one entry with `one_key`).
    pub stock: Vec<i64>,
    pub per_user: Vec<u16>,
    /// Keys holding a per-user count.
    pub user_keys: u64,
    pub peak_user_keys: u64,
    /// Changes since the last checkpoint was taken: `(user, count before)` and
    /// `(subtask, stock before)`, undone in reverse on a restore.
    undo_users: Vec<(u32, u16)>,
    undo_stock: Vec<(u32, i64)>,
    /// Undo entries taken since the checkpoint in progress was triggered (they become part of
    /// the restore path only if that checkpoint never completes).
    pending_users: usize,
    pending_stock: usize,
}

impl StreamState {
    pub fn new(spec: &FlinkSpec, stock: u64, users: usize) -> Self {
        let shares = match spec.stock {
            StockPlacement::OneKey => vec![stock as i64],
            StockPlacement::Split => {
                let n = spec.parallelism as u64;
                (0..n).map(|i| (stock / n + u64::from(i < stock % n)) as i64).collect()
            }
        };
        StreamState {
            stock: shares,
            per_user: vec![0; users],
            user_keys: 0,
            peak_user_keys: 0,
            undo_users: Vec::new(),
            undo_stock: Vec::new(),
            pending_users: 0,
            pending_stock: 0,
        }
    }

    /// Decides one record of `user` on the stock share `share`.
    pub fn decide(&mut self, share: usize, user: u32, limit: u16) -> Decision {
        if self.stock[share] <= 0 {
            return Decision::SoldOut;
        }
        let count = self.per_user[user as usize];
        if count >= limit {
            return Decision::LimitReached;
        }
        self.undo_stock.push((share as u32, self.stock[share]));
        self.undo_users.push((user, count));
        self.stock[share] -= 1;
        if count == 0 {
            self.user_keys += 1;
            self.peak_user_keys = self.peak_user_keys.max(self.user_keys);
        }
        self.per_user[user as usize] = count + 1;
        Decision::Purchased
    }

    pub fn stock_left(&self) -> i64 {
        self.stock.iter().sum()
    }

    /// A checkpoint is triggered: it will hold the state as of now.
    pub fn trigger_checkpoint(&mut self) {
        self.pending_users = self.undo_users.len();
        self.pending_stock = self.undo_stock.len();
    }

    /// The triggered checkpoint completed: changes before its trigger can no longer be undone.
    pub fn complete_checkpoint(&mut self) {
        self.undo_users.drain(..self.pending_users);
        self.undo_stock.drain(..self.pending_stock);
        self.pending_users = 0;
        self.pending_stock = 0;
    }

    /// Rolls the state back to the last completed checkpoint.
    pub fn restore(&mut self) {
        for (user, before) in self.undo_users.drain(..).rev() {
            if before == 0 && self.per_user[user as usize] > 0 {
                self.user_keys -= 1;
            }
            self.per_user[user as usize] = before;
        }
        for (share, before) in self.undo_stock.drain(..).rev() {
            self.stock[share as usize] = before;
        }
        self.pending_users = 0;
        self.pending_stock = 0;
    }
}
