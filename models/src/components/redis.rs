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
use std::collections::VecDeque;

use sim::rng::{self, RngStream};
use sim::{Admission, Dist, DistSpec, SimDuration, SimTime, Station};

use super::faults::FaultWindows;
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

/// Which check the stock script (or its read) makes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScriptOrder {
    /// The case study's: stock, then the user's count — a buyer who already holds a unit and
    /// asks again after the sell-out hears "sold out".
    StockFirst,
    /// The user's count, then stock — that buyer hears "limit reached" (you already have one).
    UserFirst,
}

/// The `[variant.redis]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// Shards (default 1). The item's keys live on one of them.
    pub shards: Option<i64>,
    /// `atomic` (default) or `get_then_decr`.
    pub script: Option<StockScript>,
    /// `stock_first` (default, the case study's script) or `user_first`.
    pub script_order: Option<ScriptOrder>,
    /// The atomic script keeps its answer per purchase request (the page's request id, carried by
    /// every resubmission of the buyer's purchase) and returns it to a repeat (default false).
    pub request_ids: Option<bool>,
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
    pub script_order: ScriptOrder,
    pub request_ids: bool,
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
        let request_ids = self.request_ids.unwrap_or(false);
        if request_ids && self.script == Some(StockScript::GetThenDecr) {
            issues.push(
                sim::config::join_key(at, "request_ids"),
                "needs script = \"atomic\": the stored answer is written by the same script",
            );
        }
        if issues.len() > before {
            return None;
        }
        Some(RedisSpec {
            shards,
            script: self.script.unwrap_or(StockScript::Atomic),
            script_order: self.script_order.unwrap_or(ScriptOrder::StockFirst),
            request_ids,
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
    /// Request ids: this purchase request reserved a unit before; the stored answer is returned.
    AlreadyReserved,
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
    /// Resyncs run: reserved units the database had no stock for.
    pub resyncs: u64,
    /// Lowest value the stock key reached (below zero only without atomicity).
    pub min_stock: i64,
    /// Request ids: per user (one purchase request per buyer and page), the stored answer
    /// (0: none); empty without request ids.
    stored: Vec<u8>,
    pub stored_keys: u64,
    pub peak_stored_keys: u64,
    /// Repeats answered from a stored answer.
    pub stored_answers_returned: u64,
    /// Of those, repeats told their request had reserved a unit: a second "purchased" for one
    /// reservation.
    pub repeats_told_reserved: u64,
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
            resyncs: 0,
            min_stock: stock,
            stored: Vec::new(),
            stored_keys: 0,
            peak_stored_keys: 0,
            stored_answers_returned: 0,
            repeats_told_reserved: 0,
        }
    }

    /// Keeps the script's answer per purchase request from now on.
    pub fn with_request_ids(mut self) -> Self {
        self.stored = vec![0; self.per_user.len()];
        self
    }

    /// The atomic script with request ids: a repeat of a request gets the stored answer;
    /// otherwise the script runs and its answer is stored.
    pub fn script_once(&mut self, user: u32, limit: u16, order: ScriptOrder) -> StockAnswer {
        if self.stored.is_empty() {
            return self.script(user, limit, order);
        }
        let code = self.stored[user as usize];
        if code != 0 {
            self.stored_answers_returned += 1;
            self.repeats_told_reserved += u64::from(code == 1);
            return match code {
                1 => StockAnswer::AlreadyReserved,
                2 => StockAnswer::SoldOut,
                _ => StockAnswer::LimitReached,
            };
        }
        let answer = self.script(user, limit, order);
        self.stored[user as usize] = match answer {
            StockAnswer::Reserved => 1,
            StockAnswer::SoldOut => 2,
            _ => 3,
        };
        self.stored_keys += 1;
        self.peak_stored_keys = self.peak_stored_keys.max(self.stored_keys);
        answer
    }

    /// The request's reservation was given back or lost: its stored answer goes with it, so
    /// the request can try again.
    /// The database had no stock for this request's reserved unit: a repeat hears "sold out".
    pub fn answer_sold_out(&mut self, user: u32) {
        if let Some(code) = self.stored.get_mut(user as usize)
            && *code == 1
        {
            *code = 2;
        }
    }

    fn forget_answer(&mut self, user: u32) {
        if let Some(code) = self.stored.get_mut(user as usize)
            && *code != 0
        {
            *code = 0;
            self.stored_keys -= 1;
        }
    }

    /// The atomic script: check stock and the user's limit (in `order`), decrement, count.
    pub fn script(&mut self, user: u32, limit: u16, order: ScriptOrder) -> StockAnswer {
        match self.read(user, limit, order) {
            StockAnswer::LooksAvailable => {
                self.decrement(user);
                StockAnswer::Reserved
            }
            refusal => refusal,
        }
    }

    /// The checks of the script without its writes: the read half of the non-atomic variant.
    pub fn read(&self, user: u32, limit: u16, order: ScriptOrder) -> StockAnswer {
        let sold_out = self.stock <= 0;
        let at_limit = self.per_user[user as usize] >= limit;
        match (order, sold_out, at_limit) {
            (ScriptOrder::StockFirst, true, _) | (ScriptOrder::UserFirst, true, false) => {
                StockAnswer::SoldOut
            }
            (_, _, true) => StockAnswer::LimitReached,
            (_, false, false) => StockAnswer::LooksAvailable,
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
        self.forget_answer(user);
        self.stock += 1;
        let count = &mut self.per_user[user as usize];
        *count = count.saturating_sub(1);
    }

    /// Gives a unit back after a failed final write (INCR stock, DECR the user's count).
    pub fn compensate(&mut self, user: u32) {
        self.forget_answer(user);
        self.stock += 1;
        self.compensations += 1;
        let count = &mut self.per_user[user as usize];
        *count = count.saturating_sub(1);
    }

    /// The database has no stock where Redis still counts some: the key takes the database's
    /// value (a failover that lost decrements, or units given back, left Redis too high).
    pub fn resync(&mut self, db_stock: i64) {
        self.stock = self.stock.min(db_stock);
        self.resyncs += 1;
    }

    /// Peak memory of the item's shard plus the base of every shard, in bytes.
    pub fn peak_memory_bytes(&self, spec: &RedisSpec) -> f64 {
        BASE_BYTES_PER_SHARD * spec.shards as f64
            + (1 + self.peak_user_keys + self.peak_stored_keys) as f64 * spec.key_bytes
    }
}

/// A command the stock shard runs for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisCommand {
    /// The atomic stock script: stock and the user's count checked, then decremented.
    Script,
    /// Non-atomic: read the stock and the user's count.
    Read,
    /// Non-atomic: decrement, whatever the stock is now.
    Decrement,
    /// Give a reserved unit back after a transient failure of the final write.
    Compensate,
    /// Set the stock key to the database's stock, after the database found none for a
    /// reserved unit (the caller passes the value to [`RedisStock::resync`]).
    Resync,
}

/// The hot shard at run time: one executor serving commands one at a time, the stock keys, the
/// round trip and command-time streams, fault windows, and the writes a failover can lose.
pub struct Redis<J> {
    pub spec: RedisSpec,
    shard: Station<J>,
    pub stock: RedisStock,
    /// Gateway ↔ Redis round trips (`redis/rtt`).
    rtt_rng: RngStream,
    /// Command and script times (`redis/service`).
    service_rng: RngStream,
    pub windows: FaultWindows,
    /// Decrements `(when, user)` of the last replication-lag span, kept only when a crash is
    /// to come: the writes a failover loses.
    unreplicated: Option<(SimDuration, VecDeque<(SimTime, u32)>)>,
    /// Decrements lost on failover.
    pub lost_writes: u64,
}

impl<J: Copy> Redis<J> {
    pub fn new(spec: &RedisSpec, stock: i64, users: usize, seed: u64) -> Self {
        Redis {
            spec: spec.clone(),
            shard: Station::new(1, None).with_busiest_second(),
            stock: match spec.request_ids {
                true => RedisStock::new(stock, users).with_request_ids(),
                false => RedisStock::new(stock, users),
            },
            rtt_rng: rng::stream(seed, "redis/rtt"),
            service_rng: rng::stream(seed, "redis/service"),
            windows: FaultWindows::default(),
            unreplicated: None,
            lost_writes: 0,
        }
    }

    /// One way of a gateway ↔ Redis round trip.
    pub fn half_rtt(&mut self) -> SimDuration {
        SimDuration::from_nanos(self.spec.rtt.sample(&mut self.rtt_rng).as_nanos() / 2)
    }

    /// A command reaches the shard at `now`: it runs at once if the shard is idle (it ends after
    /// the returned time), else it waits its turn.
    pub fn arrive(&mut self, now: SimTime, job: J, command: RedisCommand) -> Option<SimDuration> {
        match self.shard.arrive(now, job) {
            Admission::Serve(_) => Some(self.service_time(now, command)),
            _ => None,
        }
    }

    /// The command that reached the shard at `since` ends at `now`; the next one waiting (if
    /// any) starts now: ask its time with [`Redis::service_time`].
    pub fn depart(&mut self, now: SimTime, since: SimTime) -> Option<J> {
        self.shard.depart(now, since).map(|next| next.job)
    }

    /// How long `command` takes when it starts at `now`.
    pub fn service_time(&mut self, now: SimTime, command: RedisCommand) -> SimDuration {
        let work = match command {
            RedisCommand::Script => self.spec.script_time.sample(&mut self.service_rng),
            _ => self.spec.command_time.sample(&mut self.service_rng),
        };
        self.windows.apply(now, work)
    }

    /// Runs `command` for `user`: its reads and writes all happen now, one command at a time
    /// (atomicity comes from that). Compensation answers nothing.
    pub fn execute(
        &mut self,
        now: SimTime,
        command: RedisCommand,
        user: u32,
        limit: u16,
    ) -> Option<StockAnswer> {
        let answer = match command {
            RedisCommand::Script => {
                Some(self.stock.script_once(user, limit, self.spec.script_order))
            }
            RedisCommand::Read => Some(self.stock.read(user, limit, self.spec.script_order)),
            RedisCommand::Decrement => {
                self.stock.decrement(user);
                Some(StockAnswer::Reserved)
            }
            RedisCommand::Compensate => {
                self.stock.compensate(user);
                None
            }
            RedisCommand::Resync => {
                self.stock.answer_sold_out(user);
                None
            }
        };
        if answer == Some(StockAnswer::Reserved) {
            self.note_write(now, user);
        }
        answer
    }

    /// A crash is to come whose failover loses the last `lag` of writes: keep them from now on.
    pub fn keep_writes_for(&mut self, lag: SimDuration) {
        let kept = self.unreplicated.get_or_insert((SimDuration::ZERO, VecDeque::new()));
        kept.0 = kept.0.max(lag);
    }

    /// The shard fails over at `now`: it serves nothing for `down`, and the decrements of the
    /// last `lag`, acknowledged but not yet on the replica, are lost (stock and per-user counts
    /// go back). Returns how many were lost.
    pub fn fail_over(&mut self, now: SimTime, down: SimDuration, lag: SimDuration) -> u64 {
        self.windows.add(now, now + down, None);
        let Some((_, writes)) = &mut self.unreplicated else { return 0 };
        let lost: Vec<(SimTime, u32)> = writes.drain(..).filter(|&(t, _)| t + lag >= now).collect();
        for &(_, user) in lost.iter().rev() {
            self.stock.undo_decrement(user);
        }
        self.lost_writes += lost.len() as u64;
        lost.len() as u64
    }

    /// The executor and its queue, for levels and reports.
    pub fn shard(&self) -> &Station<J> {
        &self.shard
    }

    fn note_write(&mut self, now: SimTime, user: u32) {
        if let Some((lag, writes)) = &mut self.unreplicated {
            while writes.front().is_some_and(|&(t, _)| t + *lag < now) {
                writes.pop_front();
            }
            writes.push_back((now, user));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::config::Issues;

    fn redis(script: StockScript, stock: i64) -> Redis<u32> {
        let raw = RawRedis { script: Some(script), ..RawRedis::default() };
        Redis::new(&raw.check("redis", &mut Issues::new()).unwrap(), stock, 4, 1)
    }

    const T: SimTime = SimTime::ZERO;

    #[test]
    fn the_script_checks_stock_first_then_the_limit_then_decrements() {
        let mut r = redis(StockScript::Atomic, 2);
        assert_eq!(r.execute(T, RedisCommand::Script, 0, 1), Some(StockAnswer::Reserved));
        assert_eq!(r.execute(T, RedisCommand::Script, 0, 1), Some(StockAnswer::LimitReached));
        assert_eq!(r.execute(T, RedisCommand::Script, 1, 1), Some(StockAnswer::Reserved));
        // Stock is checked before the limit: user 0 at their limit hears "sold out".
        assert_eq!(r.execute(T, RedisCommand::Script, 0, 1), Some(StockAnswer::SoldOut));
        assert_eq!(r.execute(T, RedisCommand::Script, 2, 1), Some(StockAnswer::SoldOut));
        assert_eq!((r.stock.stock, r.stock.min_stock), (0, 0), "never below zero");
    }

    #[test]
    fn a_user_first_script_tells_a_holder_limit_reached_after_the_sell_out() {
        let raw = RawRedis { script_order: Some(ScriptOrder::UserFirst), ..RawRedis::default() };
        let mut r = Redis::<u32>::new(&raw.check("redis", &mut Issues::new()).unwrap(), 1, 4, 1);
        assert_eq!(r.execute(T, RedisCommand::Script, 0, 1), Some(StockAnswer::Reserved));
        // Sold out now; the holder asks again: their count is checked first.
        assert_eq!(r.execute(T, RedisCommand::Script, 0, 1), Some(StockAnswer::LimitReached));
        assert_eq!(r.execute(T, RedisCommand::Script, 1, 1), Some(StockAnswer::SoldOut));
        assert_eq!(r.execute(T, RedisCommand::Read, 0, 1), Some(StockAnswer::LimitReached));
        assert_eq!(r.stock.stock, 0);
    }

    #[test]
    fn a_repeated_request_gets_its_stored_answer_until_its_unit_is_given_back() {
        let raw = RawRedis { request_ids: Some(true), ..RawRedis::default() };
        let mut r = Redis::<u32>::new(&raw.check("redis", &mut Issues::new()).unwrap(), 1, 4, 1);
        let run = |r: &mut Redis<u32>, user| r.execute(T, RedisCommand::Script, user, 1);
        assert_eq!(run(&mut r, 0), Some(StockAnswer::Reserved));
        // The stock-first script would say "sold out" to this buyer now; the stored answer wins.
        assert_eq!(run(&mut r, 0), Some(StockAnswer::AlreadyReserved));
        assert_eq!(run(&mut r, 1), Some(StockAnswer::SoldOut));
        assert_eq!(run(&mut r, 1), Some(StockAnswer::SoldOut));
        assert_eq!((r.stock.stock, r.stock.stored_answers_returned), (0, 2));
        // The final write failed and the unit came back: the request runs again, and wins.
        r.execute(T, RedisCommand::Compensate, 0, 1);
        assert_eq!(run(&mut r, 0), Some(StockAnswer::Reserved));
        assert_eq!(r.stock.peak_stored_keys, 2, "memory: one stored answer per request");
        let bare = Redis::<u32>::new(
            &RawRedis::default().check("r", &mut Issues::new()).unwrap(),
            1,
            4,
            1,
        );
        let spec = &r.spec;
        assert!(r.stock.peak_memory_bytes(spec) > bare.stock.peak_memory_bytes(spec));
    }

    #[test]
    fn scripts_are_served_one_at_a_time_in_arrival_order() {
        let mut r = redis(StockScript::Atomic, 1);
        assert!(r.arrive(T, 7, RedisCommand::Script).is_some(), "idle shard: runs at once");
        assert_eq!(r.arrive(T, 8, RedisCommand::Script), None, "waits its turn");
        assert_eq!(r.arrive(T, 9, RedisCommand::Script), None);
        let done = T + SimDuration::from_micros(25);
        assert_eq!(r.depart(done, T), Some(8));
        assert_eq!(r.depart(done + SimDuration::from_micros(25), done), Some(9));
    }

    #[test]
    fn get_then_decrement_interleaved_sells_below_zero() {
        // Two requests read before either decrements: both see one unit left.
        let mut r = redis(StockScript::GetThenDecr, 1);
        assert_eq!(r.execute(T, RedisCommand::Read, 0, 1), Some(StockAnswer::LooksAvailable));
        assert_eq!(r.execute(T, RedisCommand::Read, 1, 1), Some(StockAnswer::LooksAvailable));
        assert_eq!(r.execute(T, RedisCommand::Decrement, 0, 1), Some(StockAnswer::Reserved));
        assert_eq!(r.execute(T, RedisCommand::Decrement, 1, 1), Some(StockAnswer::Reserved));
        assert_eq!(r.stock.stock, -1, "oversold by one");
        // Serialised (read, decrement, read) the second request is refused.
        let mut r = redis(StockScript::GetThenDecr, 1);
        r.execute(T, RedisCommand::Read, 0, 1);
        r.execute(T, RedisCommand::Decrement, 0, 1);
        assert_eq!(r.execute(T, RedisCommand::Read, 1, 1), Some(StockAnswer::SoldOut));
    }

    #[test]
    fn a_failover_loses_the_unreplicated_writes_and_pauses_the_shard() {
        let ms = |m| T + SimDuration::from_millis(m);
        let mut r = redis(StockScript::Atomic, 10);
        r.keep_writes_for(SimDuration::from_millis(10));
        r.execute(ms(0), RedisCommand::Script, 0, 1);
        r.execute(ms(95), RedisCommand::Script, 1, 1);
        r.execute(ms(99), RedisCommand::Script, 2, 1);
        let lost = r.fail_over(ms(100), SimDuration::from_secs(15), SimDuration::from_millis(10));
        assert_eq!(lost, 2, "the writes of the last 10 ms");
        assert_eq!(r.stock.stock, 9);
        assert_eq!(r.stock.per_user[..3], [1, 0, 0]);
        // Work that would start during the failover waits for its end.
        assert!(r.service_time(ms(200), RedisCommand::Script) >= SimDuration::from_secs(14));
    }
}
