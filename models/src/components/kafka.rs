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
use sim::{Dist, DistSpec, SimDuration};

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
