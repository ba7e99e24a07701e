//! Redis: one single-threaded executor per shard; commands and Lua scripts run one at a time.
//!
//! Atomicity is not assumed, it follows from the model: a shard is a one-server FIFO station, and
//! a script's reads and writes all happen at its completion, so no other command can interleave.
//! The stock key and the per-user purchase keys share the item's hash tag (`{item}`, required for
//! a multi-key script in Redis Cluster), so every request for one item lands on one shard — the
//! hot key; extra shards add memory and cost, not throughput for that item. The non-atomic
//! variant issues a read (stock and the user's count) and, after a round trip to the gateway, a
//! separate decrement: requests interleave between the two, which is how stock goes negative.
//! Defaults (parameters.md §1, §11): script 25 µs, single command 8 µs, gateway↔Redis RTT
//! LN(250 µs, 1 ms), 85 B per small key, 3 MB base per shard, $0.206 per shard-hour
//! (cache.r6g.large).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::Issues;
use sim::{Dist, DistSpec, SimDuration};

use super::{count_or, dist_or, lognormal, price_or};

/// How the stock check and decrement are issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockScript {
    /// One Lua script: check stock, check the user's limit, decrement, count the user — atomic.
    Atomic,
    /// GET stock and the user's count, then (after a round trip) DECR and INCR — not atomic.
    GetThenDecr,
}

/// The `[variant.redis]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// Shards (default 1). The item's keys live on one of them.
    pub shards: Option<i64>,
    /// `atomic` (default) or `get_then_decr`.
    pub script: Option<StockScript>,
    /// Time to run the stock script (default constant 25us).
    pub script_time: Option<DistSpec>,
    /// Time to run one plain command (default constant 8us).
    pub command_time: Option<DistSpec>,
    /// Gateway↔Redis round trip (default LN(250us, 1ms)).
    pub rtt: Option<DistSpec>,
    /// Bytes per small key (default 85).
    pub key_bytes: Option<f64>,
    /// Price per shard-hour (default 0.206).
    pub price_per_shard_hour: Option<f64>,
}

/// Validated Redis settings.
#[derive(Clone, Debug)]
pub struct RedisSpec {
    pub shards: u32,
    pub script: StockScript,
    pub script_time: Dist,
    pub command_time: Dist,
    pub rtt: Dist,
    pub key_bytes: f64,
    pub price_per_shard_hour: f64,
}

/// Memory of an empty shard (parameters.md §1).
pub const BASE_BYTES_PER_SHARD: f64 = 3.0e6;

impl RawRedis {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<RedisSpec> {
        let before = issues.len();
        let shards = count_or(self.shards, at, "shards", 1, (1, 16_384), issues) as u32;
        let us = SimDuration::from_micros;
        let script_time =
            dist_or(&self.script_time, at, "script_time", Dist::Constant(us(25)), issues);
        let command_time =
            dist_or(&self.command_time, at, "command_time", Dist::Constant(us(8)), issues);
        let rtt = dist_or(&self.rtt, at, "rtt", lognormal(us(250), us(1000)), issues);
        let key_bytes = price_or(self.key_bytes, at, "key_bytes", 85.0, issues);
        let price = price_or(self.price_per_shard_hour, at, "price_per_shard_hour", 0.206, issues);
        if issues.len() > before {
            return None;
        }
        Some(RedisSpec {
            shards,
            script: self.script.unwrap_or(StockScript::Atomic),
            script_time: script_time?,
            command_time: command_time?,
            rtt: rtt?,
            key_bytes,
            price_per_shard_hour: price,
        })
    }
}

/// What the stock script (or its read half) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockAnswer {
    SoldOut,
    LimitReached,
    /// Stock decremented for this user.
    Reserved,
    /// Non-atomic read: stock looked available; the decrement is still to be sent.
    LooksAvailable,
}

/// The item's keys on its shard.
#[derive(Debug)]
pub struct RedisStock {
    pub stock: i64,
    /// Per user: units counted against the limit.
    pub per_user: Vec<u16>,
    /// Per user: whether the user's key exists (a compensation brings the count back to 0 but
    /// leaves the key).
    has_key: Vec<bool>,
    pub user_keys: u64,
    pub peak_user_keys: u64,
    pub compensations: u64,
    /// Lowest value the stock key reached (below zero only without atomicity).
    pub min_stock: i64,
}

impl RedisStock {
    /// Hints that `user`'s limit count and key flag will be read soon.
    #[inline]
    pub fn prefetch(&self, user: u32) {
        sim::prefetch::prefetch_at(&self.per_user, user as usize);
        sim::prefetch::prefetch_at(&self.has_key, user as usize);
    }

    pub fn new(stock: i64, users: usize) -> Self {
        RedisStock {
            stock,
            per_user: vec![0; users],
            has_key: vec![false; users],
            user_keys: 0,
            peak_user_keys: 0,
            compensations: 0,
            min_stock: stock,
        }
    }

    /// The atomic script: check stock, check the user's limit, decrement, count.
    pub fn script(&mut self, user: u32, limit: u16) -> StockAnswer {
        if self.stock <= 0 {
            return StockAnswer::SoldOut;
        }
        if self.per_user[user as usize] >= limit {
            return StockAnswer::LimitReached;
        }
        self.decrement(user);
        StockAnswer::Reserved
    }

    /// The read half of the non-atomic variant.
    pub fn read(&self, user: u32, limit: u16) -> StockAnswer {
        if self.stock <= 0 {
            StockAnswer::SoldOut
        } else if self.per_user[user as usize] >= limit {
            StockAnswer::LimitReached
        } else {
            StockAnswer::LooksAvailable
        }
    }

    /// DECR stock and INCR the user's count, unconditionally.
    pub fn decrement(&mut self, user: u32) {
        self.stock -= 1;
        self.min_stock = self.min_stock.min(self.stock);
        if !std::mem::replace(&mut self.has_key[user as usize], true) {
            self.user_keys += 1;
            self.peak_user_keys = self.peak_user_keys.max(self.user_keys);
        }
        let count = &mut self.per_user[user as usize];
        *count = count.saturating_add(1);
    }

    /// A decrement lost on failover: the promoted replica never saw it.
    pub fn undo_decrement(&mut self, user: u32) {
        self.stock += 1;
        let count = &mut self.per_user[user as usize];
        *count = count.saturating_sub(1);
    }

    /// Gives a unit back after a failed final write (INCR stock, DECR the user's count).
    pub fn compensate(&mut self, user: u32) {
        self.stock += 1;
        self.compensations += 1;
        let count = &mut self.per_user[user as usize];
        *count = count.saturating_sub(1);
    }

    /// Peak memory of the item's shard plus the base of every shard, in bytes.
    pub fn peak_memory_bytes(&self, spec: &RedisSpec) -> f64 {
        BASE_BYTES_PER_SHARD * spec.shards as f64
            + (1 + self.peak_user_keys) as f64 * spec.key_bytes
    }
}
