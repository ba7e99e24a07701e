//! Kafka: a topic of partitions, each an append-only log whose leader appends one record at a time.
//!
//! A partition is a one-server FIFO station: its service time is the leader's per-record append
//! time (the inverse of its throughput). Records are keyed by user (spread over the partitions) or
//! by item (all on one partition: the hot partition). A record becomes readable when the
//! followers have copied it (the high watermark), a replication delay after the append. The
//! producer's acknowledgement depends on `acks`: `0` — none, the producer counts the record sent
//! as soon as it leaves; `1` — after the leader's append; `all` — after replication. A producer
//! that hears nothing within `request_timeout` sends the record again, up to `producer_retries`
//! times; without idempotence the broker appends every copy that reaches it (duplicates), with it
//! the broker drops a copy whose sequence number it has already appended.
//!
//! Defaults (parameters.md §3, §8, §11): append 40 µs per record (≈ 25k records/s of 400 B per
//! partition, from "10s of MB/s on a single partition"), replication LN(2 ms, 5 ms) (median and
//! p99 of the acks=all produce latency), consumer fetch LN(1 ms, 9 ms) (end-to-end LN(2, 14)
//! minus produce), producer↔broker RTT LN(250 µs, 1 ms), 400 B records, request timeout 30 s,
//! idempotence on (the default since Kafka 3.0), 3 brokers at $0.21 per broker-hour
//! (MSK kafka.m5.large) plus $0.10 per GB-month of storage.

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::Issues;
use sim::rng::{self, RngStream};
use sim::{Admission, Dist, DistSpec, SimDuration, SimTime, Station};

use super::faults::FaultWindows;
use super::{count_or, dist_or, duration_or, lognormal, price_or};

/// What a record's partition is chosen by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartitionKey {
    /// The user id: records spread over the partitions.
    User,
    /// The item id: every record of the sale on one partition.
    Item,
}

/// The producer's `acks` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Acks {
    /// No acknowledgement: sent is done.
    #[serde(rename = "0")]
    None,
    /// The leader's append.
    #[serde(rename = "1")]
    Leader,
    /// Every in-sync replica.
    #[serde(rename = "all")]
    All,
}

/// The `[variant.kafka]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawKafka {
    /// Partitions of the topic (default 8, at most 4096: each is a station with its own
    /// statistics).
    pub partitions: Option<i64>,
    /// `user` (default) or `item`.
    pub key: Option<PartitionKey>,
    /// `"0"`, `"1"` or `"all"` (default `"all"`).
    pub acks: Option<Acks>,
    /// Leader time to append one record (default constant 40us).
    pub append_time: Option<DistSpec>,
    /// Append → readable by consumers, and → acknowledged with acks = all (default LN(2ms, 5ms)).
    pub replication: Option<DistSpec>,
    /// Readable → delivered to the consumer (default LN(1ms, 9ms)).
    pub fetch: Option<DistSpec>,
    /// Producer ↔ broker round trip (default LN(250us, 1ms)).
    pub rtt: Option<DistSpec>,
    /// Bytes per record, for retained bytes (default 400).
    pub record_bytes: Option<f64>,
    /// Producer request timeout before a resend (default 30s).
    pub request_timeout: Option<sim::config::DurationLit>,
    /// Resends after a timeout (default 2).
    pub producer_retries: Option<i64>,
    /// Idempotent producer: the broker drops resent copies (default true).
    pub idempotence: Option<bool>,
    /// Brokers billed (default 3).
    pub brokers: Option<i64>,
    /// Price per broker-hour (default 0.21).
    pub price_per_broker_hour: Option<f64>,
    /// Price per GB-month of retained log (default 0.10).
    pub price_per_gb_month: Option<f64>,
}

/// Validated Kafka settings.
#[derive(Clone, Debug)]
pub struct KafkaSpec {
    pub partitions: u32,
    pub key: PartitionKey,
    pub acks: Acks,
    pub append_time: Dist,
    pub replication: Dist,
    pub fetch: Dist,
    pub rtt: Dist,
    pub record_bytes: f64,
    pub request_timeout: SimDuration,
    pub producer_retries: u32,
    pub idempotence: bool,
    pub brokers: u32,
    pub price_per_broker_hour: f64,
    pub price_per_gb_month: f64,
}

impl RawKafka {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<KafkaSpec> {
        let before = issues.len();
        let us = SimDuration::from_micros;
        let ms = SimDuration::from_millis;
        let partitions = count_or(self.partitions, at, "partitions", 8, (1, 4096), issues);
        let append_time =
            dist_or(&self.append_time, at, "append_time", Dist::Constant(us(40)), issues);
        let replication =
            dist_or(&self.replication, at, "replication", lognormal(ms(2), ms(5)), issues);
        let fetch = dist_or(&self.fetch, at, "fetch", lognormal(ms(1), ms(9)), issues);
        let rtt = dist_or(&self.rtt, at, "rtt", lognormal(us(250), us(1000)), issues);
        let record_bytes = price_or(self.record_bytes, at, "record_bytes", 400.0, issues);
        let request_timeout =
            duration_or(&self.request_timeout, at, "request_timeout", ms(30_000), issues);
        if request_timeout.is_some_and(|t| t.is_zero()) {
            issues.push(sim::config::join_key(at, "request_timeout"), "must be > 0 (got 0s)");
        }
        let producer_retries =
            count_or(self.producer_retries, at, "producer_retries", 2, (0, 1000), issues);
        let brokers = count_or(self.brokers, at, "brokers", 3, (1, 10_000), issues);
        let price = price_or(self.price_per_broker_hour, at, "price_per_broker_hour", 0.21, issues);
        let storage = price_or(self.price_per_gb_month, at, "price_per_gb_month", 0.10, issues);
        if issues.len() > before {
            return None;
        }
        Some(KafkaSpec {
            partitions: partitions as u32,
            key: self.key.unwrap_or(PartitionKey::User),
            acks: self.acks.unwrap_or(Acks::All),
            append_time: append_time?,
            replication: replication?,
            fetch: fetch?,
            rtt: rtt?,
            record_bytes,
            request_timeout: request_timeout?,
            producer_retries: producer_retries as u32,
            idempotence: self.idempotence.unwrap_or(true),
            brokers: brokers as u32,
            price_per_broker_hour: price,
            price_per_gb_month: storage,
        })
    }
}

impl KafkaSpec {
    /// The partition a user's record goes to.
    pub fn partition_of(&self, user: u32) -> u32 {
        match self.key {
            PartitionKey::Item => 0,
            // Kafka hashes the key (murmur2); a multiplicative hash spreads ids as evenly.
            PartitionKey::User => {
                ((user as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32 % self.partitions
            }
        }
    }
}

/// A produce request: one record a client asked the producer to send, for client `J`.
#[derive(Clone, Debug)]
pub struct ProduceRequest<J> {
    pub user: u32,
    pub client: J,
    pub partition: u32,
    /// Copies sent so far.
    pub sends: u8,
    /// The producer is done: acknowledged, or given up.
    pub settled: bool,
    /// A copy has been appended (what an idempotent broker checks).
    pub appended: bool,
}

/// One appended copy in the log.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub user: u32,
    /// Decided by the consumer since its last restore (what the consumer lag counts).
    pub processed: bool,
    /// Lost with its leader before a follower copied it.
    pub lost: bool,
    /// When followers have it (readable, and safe from a leader's loss).
    pub visible_at: SimTime,
}

/// What the topic counts.
#[derive(Clone, Debug, Default)]
pub struct KafkaCounters {
    pub produce_requests: u64,
    pub resends: u64,
    /// Copies appended beyond the first of a request (producer without idempotence).
    pub duplicate_records: u64,
    /// Resent copies an idempotent broker dropped.
    pub duplicates_dropped: u64,
    pub producer_failures: u64,
    /// Entries lost with a broker before replication.
    pub lost_records: u64,
    /// Consumer lag: entries neither decided nor lost.
    pub lag: u64,
    pub peak_lag: u64,
}

/// What the leader did with a copy it finished appending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The new log entry (none: an idempotent broker dropped a resent copy).
    pub entry: Option<u32>,
    /// Append → on the followers.
    pub replication: SimDuration,
    /// Append → the acknowledgement reaches the producer (none with acks 0).
    pub ack_after: Option<SimDuration>,
}

/// What the producer does when a copy's `request_timeout` passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProduceTimeout {
    /// Acknowledged or superseded by a later copy: nothing.
    Stale,
    /// Send the record again.
    Resend,
    /// Out of retries: the request failed.
    GiveUp,
}

/// The topic at run time: partition leaders appending one record at a time, their leaderless
/// windows, the produce requests and the retained log, the random streams, fault windows and
/// counters. `J` is the client's handle on a produce request.
pub struct Topic<J> {
    pub spec: KafkaSpec,
    partitions: Vec<Station<u32>>,
    /// Per partition: a window without a leader (broker loss).
    partition_down: Vec<(SimTime, SimTime)>,
    /// Per partition: the request being appended and when it reached the partition.
    head: Vec<(u32, SimTime)>,
    pub requests: Vec<ProduceRequest<J>>,
    pub log: Vec<LogEntry>,
    /// Producer ↔ broker round trips (`kafka/rtt`).
    rtt_rng: RngStream,
    /// Append times (`kafka/append`).
    append_rng: RngStream,
    /// Replication delays (`kafka/replication`).
    replication_rng: RngStream,
    /// Consumer fetch delays (`kafka/fetch`).
    fetch_rng: RngStream,
    pub windows: FaultWindows,
    pub counters: KafkaCounters,
}

impl<J: Copy> Topic<J> {
    pub fn new(spec: &KafkaSpec, seed: u64) -> Self {
        let n = spec.partitions as usize;
        Topic {
            spec: spec.clone(),
            partitions: (0..n).map(|_| Station::new(1, None).with_busiest_second()).collect(),
            partition_down: vec![(SimTime::ZERO, SimTime::ZERO); n],
            head: vec![(0, SimTime::ZERO); n],
            requests: Vec::new(),
            log: Vec::new(),
            rtt_rng: rng::stream(seed, "kafka/rtt"),
            append_rng: rng::stream(seed, "kafka/append"),
            replication_rng: rng::stream(seed, "kafka/replication"),
            fetch_rng: rng::stream(seed, "kafka/fetch"),
            windows: FaultWindows::default(),
            counters: KafkaCounters::default(),
        }
    }

    /// A new produce request for `user`'s record; send it with [`Topic::send`].
    pub fn produce(&mut self, user: u32, client: J) -> u32 {
        let request = self.requests.len() as u32;
        let partition = self.spec.partition_of(user);
        self.requests.push(ProduceRequest {
            user,
            client,
            partition,
            sends: 0,
            settled: false,
            appended: false,
        });
        self.counters.produce_requests += 1;
        request
    }

    /// The producer sends a copy of `request`: returns when it reaches the leader (from now)
    /// and the copy's number, which its timeout carries.
    pub fn send(&mut self, request: u32) -> (SimDuration, u8) {
        let half_rtt = self.half_rtt();
        let r = &mut self.requests[request as usize];
        r.sends = r.sends.saturating_add(1);
        (half_rtt, r.sends)
    }

    /// The producer counts `request` done without an acknowledgement (acks 0).
    pub fn settle(&mut self, request: u32) {
        self.requests[request as usize].settled = true;
    }

    /// A copy of `request` reaches its partition leader at `now`: it is appended at once if the
    /// leader is idle (returns the partition and the append time), else it waits its turn.
    pub fn at_partition(&mut self, now: SimTime, request: u32) -> Option<(u32, SimDuration)> {
        let partition = self.requests[request as usize].partition;
        match self.partitions[partition as usize].arrive(now, request) {
            Admission::Serve(_) => {
                self.head[partition as usize] = (request, now);
                Some((partition, self.append_work(now, partition)))
            }
            _ => None,
        }
    }

    /// `partition`'s leader finished the copy at its head: returns its request, and the
    /// append time of the next copy waiting (if any), which starts now.
    pub fn finish_append(&mut self, now: SimTime, partition: u32) -> (u32, Option<SimDuration>) {
        let (request, since) = self.head[partition as usize];
        let next = self.partitions[partition as usize].depart(now, since).map(|next| {
            self.head[partition as usize] = (next.job, next.arrived);
            self.append_work(now, partition)
        });
        (request, next)
    }

    /// The leader writes the appended copy of `request` at `now`: a new log entry, or (with
    /// idempotence, for a copy already appended) nothing; and the acknowledgement's delay.
    pub fn write(&mut self, now: SimTime, request: u32) -> Written {
        let replication = self.spec.replication.sample(&mut self.replication_rng);
        let r = &mut self.requests[request as usize];
        let entry = if r.appended && self.spec.idempotence {
            // The broker has this sequence number already: drop the copy, acknowledge it.
            self.counters.duplicates_dropped += 1;
            None
        } else {
            if r.appended {
                self.counters.duplicate_records += 1;
            }
            r.appended = true;
            let entry = self.log.len() as u32;
            let visible_at = now + replication;
            self.log.push(LogEntry { user: r.user, processed: false, lost: false, visible_at });
            self.counters.lag += 1;
            self.note_peak_lag();
            Some(entry)
        };
        Written { entry, replication, ack_after: self.ack_after(replication) }
    }

    /// Readable → delivered to the consumer.
    pub fn fetch_delay(&mut self) -> SimDuration {
        self.spec.fetch.sample(&mut self.fetch_rng)
    }

    /// An acknowledgement of `request` arrives: whether it settles the request (the first).
    pub fn ack(&mut self, request: u32) -> bool {
        let r = &mut self.requests[request as usize];
        !std::mem::replace(&mut r.settled, true)
    }

    /// The timeout of `request`'s copy number `send` passes.
    pub fn timeout(&mut self, request: u32, send: u8) -> ProduceTimeout {
        let r = &mut self.requests[request as usize];
        if r.settled || r.sends != send {
            return ProduceTimeout::Stale;
        }
        if (send as u32) <= self.spec.producer_retries && send < u8::MAX {
            self.counters.resends += 1;
            return ProduceTimeout::Resend;
        }
        r.settled = true;
        self.counters.producer_failures += 1;
        ProduceTimeout::GiveUp
    }

    /// Broker `lost` is lost at `now`: the partitions it leads take no appends for `down`
    /// (until new leaders are elected), and with acks 0 or 1 their entries not yet copied to a
    /// follower are lost. Returns how many entries were lost.
    pub fn lose_broker(&mut self, now: SimTime, down: SimDuration, lost: u32) -> u64 {
        let brokers = self.spec.brokers;
        for p in 0..self.spec.partitions {
            if p % brokers == lost {
                self.partition_down[p as usize] = (now, now + down);
            }
        }
        if self.spec.acks == Acks::All {
            return 0;
        }
        let mut count = 0;
        for e in self.log.iter_mut() {
            let led = self.spec.partition_of(e.user) % brokers == lost;
            if led && e.visible_at > now && !e.processed && !e.lost {
                e.lost = true;
                count += 1;
            }
        }
        // Lost entries will never be decided: the lag drops now.
        self.counters.lost_records += count;
        self.counters.lag -= count;
        count
    }

    /// The consumer decided `entry`.
    pub fn consumed(&mut self, entry: u32) {
        self.log[entry as usize].processed = true;
        self.counters.lag -= 1;
    }

    /// The consumer restored to a checkpoint before it decided `entries`: they are to be
    /// decided again.
    pub fn rewind(&mut self, entries: &[u32]) {
        for &entry in entries {
            self.log[entry as usize].processed = false;
            self.counters.lag += 1;
        }
        self.note_peak_lag();
    }

    /// Entries neither decided nor lost, in log order, with when they are readable.
    pub fn undecided(&self) -> Vec<(u32, SimTime)> {
        let open = |(i, e): (usize, &LogEntry)| {
            (!e.processed && !e.lost).then_some((i as u32, e.visible_at))
        };
        self.log.iter().enumerate().filter_map(open).collect()
    }

    /// Whether the consumer still has to decide `entry`.
    pub fn is_undecided(&self, entry: u32) -> bool {
        let e = &self.log[entry as usize];
        !e.processed && !e.lost
    }

    /// The partition leaders, for reports.
    pub fn partitions(&self) -> &[Station<u32>] {
        &self.partitions
    }

    /// One way of a producer ↔ broker round trip.
    fn half_rtt(&mut self) -> SimDuration {
        SimDuration::from_nanos(self.spec.rtt.sample(&mut self.rtt_rng).as_nanos() / 2)
    }

    fn ack_after(&mut self, replication: SimDuration) -> Option<SimDuration> {
        let half_rtt = self.half_rtt();
        match self.spec.acks {
            Acks::None => None,
            Acks::Leader => Some(half_rtt),
            Acks::All => Some(replication + half_rtt),
        }
    }

    fn note_peak_lag(&mut self) {
        self.counters.peak_lag = self.counters.peak_lag.max(self.counters.lag);
    }

    /// Append time of a record on `partition` starting now, through any fault windows.
    fn append_work(&mut self, now: SimTime, partition: u32) -> SimDuration {
        let work = self.spec.append_time.sample(&mut self.append_rng);
        let (from, until) = self.partition_down[partition as usize];
        let start = if now >= from && now < until { until } else { now };
        let work = self.windows.apply(start, work);
        (start - now) + work
    }
}

#[cfg(test)]
mod tests;
