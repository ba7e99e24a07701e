//! The result store: a Redis shard the stream job writes answers to and clients poll.
//!
//! After its request is queued the client polls every `poll_interval` (each poll a request
//! through the gateway and one GET on the shard) until it reads a final answer, `poll_timeout`
//! has passed since it was queued, or its patience runs out. Every queued request gets a status
//! key (created "queued", overwritten with the answer); without a TTL the keys stay, which is
//! how the store's memory grows with requests rather than with buyers. With a `ttl` a key lives
//! that long from its creation (at least `poll_timeout`, so no answer expires unread). Optionally the stream job publishes the stock left to a cache
//! key every `stock_cache_refresh`; the gateway reads it and answers "sold out" without queueing
//! once it shows none — the answer is as stale as the refresh.
//!
//! Defaults: poll every 1 s [A], give up polling after 60 s [A], 85 B per key and 3 MB per shard
//! (parameters.md §1, §10: 484 M requests × ~85–90 B ≈ the case study's 42 GB), GET 8 µs, RTT
//! LN(250 µs, 1 ms), $0.206 per shard-hour (cache.r6g.large).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{Issues, join_key};
use sim::{Dist, DistSpec, SimDuration};

use super::{count_or, dist_or, duration_or, lognormal, price_or};

/// The `[variant.results]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResults {
    /// Time between a client's polls (default 1s).
    pub poll_interval: Option<sim::config::DurationLit>,
    /// Queued → the client stops polling (default 60s).
    pub poll_timeout: Option<sim::config::DurationLit>,
    /// Lifetime of a status key from its creation (default: none, keys stay).
    pub ttl: Option<sim::config::DurationLit>,
    /// Refresh period of the gateway's stock cache (default: no cache).
    pub stock_cache_refresh: Option<sim::config::DurationLit>,
    /// Time of one GET or SET (default constant 8us).
    pub command_time: Option<DistSpec>,
    /// Gateway ↔ store round trip (default LN(250us, 1ms)).
    pub rtt: Option<DistSpec>,
    /// Bytes per status key (default 85).
    pub key_bytes: Option<f64>,
    /// Shards billed (default 1).
    pub shards: Option<i64>,
    /// Price per shard-hour (default 0.206).
    pub price_per_shard_hour: Option<f64>,
}

/// Validated result-store settings.
#[derive(Clone, Debug)]
pub struct ResultsSpec {
    pub poll_interval: SimDuration,
    pub poll_timeout: SimDuration,
    pub ttl: Option<SimDuration>,
    pub stock_cache_refresh: Option<SimDuration>,
    pub command_time: Dist,
    pub rtt: Dist,
    pub key_bytes: f64,
    pub shards: u32,
    pub price_per_shard_hour: f64,
}

impl RawResults {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<ResultsSpec> {
        let before = issues.len();
        let us = SimDuration::from_micros;
        let ms = SimDuration::from_millis;
        let poll_interval =
            duration_or(&self.poll_interval, at, "poll_interval", ms(1_000), issues);
        if poll_interval.is_some_and(|p| p < ms(1)) {
            issues.push(join_key(at, "poll_interval"), "must be ≥ 1ms");
        }
        let poll_timeout = duration_or(&self.poll_timeout, at, "poll_timeout", ms(60_000), issues);
        if let (Some(i), Some(t)) = (poll_interval, poll_timeout)
            && t < i
        {
            issues.push(
                join_key(at, "poll_timeout"),
                format!("must be at least poll_interval ({i}), or no poll is ever sent (got {t})"),
            );
        }
        let ttl = self.ttl.as_ref().map(|t| t.check(&join_key(at, "ttl"), issues));
        if ttl.flatten().is_some_and(|t| t.is_zero()) {
            issues.push(join_key(at, "ttl"), "must be > 0 (got 0s)");
        }
        // A key that expired before its client read it would lose an answer, which the model
        // does not represent: keys must outlive polling.
        if let (Some(Some(t)), Some(p)) = (ttl, poll_timeout)
            && t < p
        {
            issues.push(
                join_key(at, "ttl"),
                format!(
                    "must be at least poll_timeout ({p}) so no answer expires unread (got {t})"
                ),
            );
        }
        let refresh = self
            .stock_cache_refresh
            .as_ref()
            .map(|r| r.check(&join_key(at, "stock_cache_refresh"), issues));
        if refresh.flatten().is_some_and(|r| r < ms(1)) {
            issues.push(join_key(at, "stock_cache_refresh"), "must be ≥ 1ms");
        }
        let command_time =
            dist_or(&self.command_time, at, "command_time", Dist::Constant(us(8)), issues);
        let rtt = dist_or(&self.rtt, at, "rtt", lognormal(us(250), us(1000)), issues);
        let key_bytes = price_or(self.key_bytes, at, "key_bytes", 85.0, issues);
        let shards = count_or(self.shards, at, "shards", 1, (1, 16_384), issues) as u32;
        let price = price_or(self.price_per_shard_hour, at, "price_per_shard_hour", 0.206, issues);
        if issues.len() > before {
            return None;
        }
        Some(ResultsSpec {
            poll_interval: poll_interval?,
            poll_timeout: poll_timeout?,
            ttl: ttl.flatten(),
            stock_cache_refresh: refresh.flatten(),
            command_time: command_time?,
            rtt: rtt?,
            key_bytes,
            shards,
            price_per_shard_hour: price,
        })
    }
}

/// The store's contents: the best answer per user and the status keys' memory.
#[derive(Debug)]
pub struct ResultStore {
    /// Per user: the answer a poll reads (0 none, else a `Decision` code; "purchased" sticks).
    pub answer: Vec<u8>,
    /// Creation times of live keys, oldest first (only kept with a TTL).
    created_ns: std::collections::VecDeque<u64>,
    ttl_ns: Option<u64>,
    pub live_keys: u64,
    pub peak_keys: u64,
    pub keys_created: u64,
}

/// Answer codes stored per user.
pub const NO_ANSWER: u8 = 0;
pub const ANSWER_SOLD_OUT: u8 = 1;
pub const ANSWER_LIMIT: u8 = 2;
pub const ANSWER_PURCHASED: u8 = 3;

impl ResultStore {
    pub fn new(spec: &ResultsSpec, users: usize) -> Self {
        ResultStore {
            answer: vec![NO_ANSWER; users],
            created_ns: std::collections::VecDeque::new(),
            ttl_ns: spec.ttl.map(|t| t.as_nanos()),
            live_keys: 0,
            peak_keys: 0,
            keys_created: 0,
        }
    }

    fn expire(&mut self, now_ns: u64) {
        if let Some(ttl) = self.ttl_ns {
            while self.created_ns.front().is_some_and(|&c| c + ttl <= now_ns) {
                self.created_ns.pop_front();
                self.live_keys -= 1;
            }
        }
    }

    /// A queued request's status key is created at `now_ns`.
    pub fn create_key(&mut self, now_ns: u64) {
        self.expire(now_ns);
        self.keys_created += 1;
        self.live_keys += 1;
        self.peak_keys = self.peak_keys.max(self.live_keys);
        if self.ttl_ns.is_some() {
            self.created_ns.push_back(now_ns);
        }
    }

    /// Records an answer for `user`; a better answer replaces a worse one ("purchased" wins).
    pub fn write(&mut self, user: u32, code: u8) {
        let slot = &mut self.answer[user as usize];
        *slot = (*slot).max(code);
    }

    pub fn peak_memory_bytes(&self, spec: &ResultsSpec) -> f64 {
        super::redis::BASE_BYTES_PER_SHARD * spec.shards as f64
            + self.peak_keys as f64 * spec.key_bytes
    }
}
