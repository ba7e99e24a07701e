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
use sim::rng::{self, RngStream};
use sim::{Admission, Dist, DistSpec, SimDuration, SimTime, Station};

use super::faults::FaultWindows;
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

/// A command on the result store's shard; `J` is the client's handle on a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCommand<J> {
    /// A poll's GET of `user`'s answer.
    Get { client: J, user: u32 },
    /// The sink's SET of a user's answer.
    Set { user: u32, code: u8 },
}

/// What the result store counts.
#[derive(Clone, Debug, Default)]
pub struct ResultsCounters {
    /// Polls sent to the store.
    pub polls: u64,
    /// Purchases the gateway answered "sold out" from the stock cache.
    pub cache_rejections: u64,
}

/// The result store at run time: one executor serving GETs and SETs one at a time, the
/// stored answers and status keys, when each user was first queued (polling runs from then),
/// the gateway's stock cache, the random streams, fault windows and counters.
pub struct Results<J> {
    pub spec: ResultsSpec,
    shard: Station<StoreCommand<J>>,
    /// The command being served and when it reached the shard.
    head: Option<(StoreCommand<J>, SimTime)>,
    pub store: ResultStore,
    /// Per user: when their first request was queued.
    queued_at: Vec<Option<SimTime>>,
    /// The stock the gateway's cache shows, and whether its refresh is scheduled.
    cached_stock: i64,
    cache_armed: bool,
    /// Gateway ↔ store round trips (`results/rtt`).
    rtt_rng: RngStream,
    /// Command times (`results/service`).
    service_rng: RngStream,
    pub windows: FaultWindows,
    pub counters: ResultsCounters,
}

impl<J: Copy> Results<J> {
    pub fn new(spec: &ResultsSpec, stock: i64, users: usize, seed: u64) -> Self {
        Results {
            spec: spec.clone(),
            shard: Station::new(1, None),
            head: None,
            store: ResultStore::new(spec, users),
            queued_at: vec![None; users],
            cached_stock: stock,
            cache_armed: false,
            rtt_rng: rng::stream(seed, "results/rtt"),
            service_rng: rng::stream(seed, "results/service"),
            windows: FaultWindows::default(),
            counters: ResultsCounters::default(),
        }
    }

    /// A poll leaves the gateway: it reaches the store after the returned time.
    pub fn send_poll(&mut self) -> SimDuration {
        self.counters.polls += 1;
        self.half_rtt()
    }

    /// One way of a gateway ↔ store round trip.
    pub fn half_rtt(&mut self) -> SimDuration {
        SimDuration::from_nanos(self.spec.rtt.sample(&mut self.rtt_rng).as_nanos() / 2)
    }

    /// `command` reaches the shard at `now`: it runs at once if the shard is idle (done after
    /// the returned time), else it waits its turn.
    pub fn arrive(&mut self, now: SimTime, command: StoreCommand<J>) -> Option<SimDuration> {
        match self.shard.arrive(now, command) {
            Admission::Serve(_) => {
                self.head = Some((command, now));
                Some(self.command_time(now))
            }
            _ => None,
        }
    }

    /// The command at the head of the shard is done at `now`: a SET stores its answer, a GET
    /// returns its client and the answer it read. Also returns the time of the next command
    /// waiting (if any), which starts now.
    pub fn served(&mut self, now: SimTime) -> (Option<(J, u8)>, Option<SimDuration>) {
        let (command, since) = self.head.expect("a command is being served");
        let next = self.shard.depart(now, since).map(|next| {
            self.head = Some((next.job, next.arrived));
            self.command_time(now)
        });
        let read = match command {
            StoreCommand::Set { user, code } => {
                self.store.write(user, code);
                None
            }
            StoreCommand::Get { client, user } => Some((client, self.store.answer[user as usize])),
        };
        (read, next)
    }

    /// `user`'s request is queued at `now`: its status key is created, and polling (if it is
    /// their first) runs from now.
    pub fn queued(&mut self, now: SimTime, user: u32) {
        self.store.create_key(now.as_nanos());
        self.queued_at[user as usize].get_or_insert(now);
    }

    /// When `user`, queued and having polled (or been queued) at `now`, polls next: never if
    /// they were never queued, or (unless `persistent`) past the poll timeout.
    pub fn next_poll(&self, now: SimTime, user: u32, persistent: bool) -> Option<SimTime> {
        let queued_at = self.queued_at[user as usize]?;
        let at = now + self.spec.poll_interval;
        (persistent || at <= queued_at + self.spec.poll_timeout).then_some(at)
    }

    /// Whether the gateway's stock cache shows none left (then it answers "sold out").
    pub fn cache_refuses(&mut self) -> bool {
        let refuses = self.spec.stock_cache_refresh.is_some() && self.cached_stock <= 0;
        if refuses {
            self.counters.cache_rejections += 1;
        }
        refuses
    }

    /// Arms the stock cache's next refresh (on its grid after `now`), if it has a cache and
    /// the refresh is not armed.
    pub fn arm_cache(&mut self, now: SimTime) -> Option<SimTime> {
        let refresh = self.spec.stock_cache_refresh?;
        if self.cache_armed {
            return None;
        }
        self.cache_armed = true;
        Some(super::next_tick(now, refresh))
    }

    /// The cache refresh fires: the cache now shows `stock`.
    pub fn refresh_cache(&mut self, stock: i64) {
        self.cache_armed = false;
        self.cached_stock = stock;
    }

    /// Hints the per-user entry a poll of `user` reads.
    #[inline]
    pub fn prefetch(&self, user: u32) {
        sim::prefetch::prefetch_at(&self.queued_at, user as usize);
    }

    /// The shard's executor and its queue, for reports.
    pub fn shard(&self) -> &Station<StoreCommand<J>> {
        &self.shard
    }

    fn command_time(&mut self, now: SimTime) -> SimDuration {
        let t = self.spec.command_time.sample(&mut self.service_rng);
        self.windows.apply(now, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: SimTime = SimTime::ZERO;

    fn us(n: u64) -> SimDuration {
        SimDuration::from_micros(n)
    }

    /// Commands take 8 µs; polls every second for up to 3 s; a stock cache if `cache`.
    fn results(cache: bool) -> Results<u32> {
        let raw = RawResults {
            poll_timeout: Some(sim::config::DurationLit::from("3s")),
            ..RawResults::default()
        };
        let mut spec = raw.check("results", &mut Issues::new()).unwrap();
        spec.stock_cache_refresh = cache.then(|| SimDuration::from_millis(100));
        Results::new(&spec, 2, 4, 1)
    }

    #[test]
    fn a_get_reads_the_answer_of_the_sets_served_before_it() {
        let mut r = results(false);
        let set = |code| StoreCommand::Set { user: 1, code };
        assert_eq!(r.arrive(T, StoreCommand::Get { client: 10, user: 1 }), Some(us(8)));
        assert_eq!(r.arrive(T, set(ANSWER_SOLD_OUT)), None);
        assert_eq!(r.arrive(T, StoreCommand::Get { client: 11, user: 1 }), None);
        assert_eq!(r.served(T + us(8)), (Some((10, NO_ANSWER)), Some(us(8))), "before the SET");
        assert_eq!(r.served(T + us(16)), (None, Some(us(8))));
        assert_eq!(r.served(T + us(24)), (Some((11, ANSWER_SOLD_OUT)), None));
        r.arrive(T + us(30), set(ANSWER_PURCHASED));
        r.served(T + us(38));
        r.arrive(T + us(40), StoreCommand::Get { client: 12, user: 1 });
        assert_eq!(r.served(T + us(48)).0, Some((12, ANSWER_PURCHASED)), "the latest answer");
    }

    #[test]
    fn commands_are_served_one_at_a_time_and_wait_out_a_pause() {
        let mut r = results(false);
        r.windows.add(T, T + us(100), None);
        let get = |client| StoreCommand::Get { client, user: 0 };
        assert_eq!(r.arrive(T + us(50), get(0)), Some(us(58)), "starts when the pause ends");
        assert_eq!(r.arrive(T + us(51), get(1)), None);
        assert_eq!(r.arrive(T + us(52), get(2)), None);
        let (first, next) = r.served(T + us(108));
        assert_eq!((first.unwrap().0, next), (0, Some(us(8))));
        assert_eq!(r.served(T + us(116)).0.unwrap().0, 1);
        assert_eq!(r.served(T + us(124)), (Some((2, NO_ANSWER)), None));
        assert_eq!(r.shard().report(T + us(124)).served, 3);
    }

    #[test]
    fn polls_run_from_the_first_queued_request_until_the_poll_timeout() {
        let mut r = results(false);
        let s = SimDuration::from_secs;
        assert_eq!(r.next_poll(T, 0, false), None, "never queued: no polls");
        r.queued(T + s(1), 0);
        r.queued(T + s(2), 0); // a later request does not restart the clock
        assert_eq!(r.store.keys_created, 2);
        assert_eq!(r.next_poll(T + s(2), 0, false), Some(T + s(3)));
        assert_eq!(r.next_poll(T + s(3), 0, false), Some(T + s(4)));
        assert_eq!(r.next_poll(T + s(4), 0, false), None, "past the poll timeout");
        assert_eq!(r.next_poll(T + s(4), 0, true), Some(T + s(5)), "bots keep polling");
    }

    #[test]
    fn the_stock_cache_refuses_once_a_refresh_shows_none() {
        let mut r = results(false);
        r.refresh_cache(0);
        assert!(!r.cache_refuses(), "no cache, no refusal");
        let mut r = results(true);
        assert!(!r.cache_refuses(), "starts with the stock");
        let at = r.arm_cache(T + SimDuration::from_millis(150));
        assert_eq!(at, Some(T + SimDuration::from_millis(200)), "on the refresh grid");
        assert_eq!(r.arm_cache(T), None, "armed already");
        r.refresh_cache(0);
        assert!(r.cache_refuses());
        assert_eq!(r.counters.cache_rejections, 1);
    }
}
