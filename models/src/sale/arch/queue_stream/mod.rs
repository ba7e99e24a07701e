//! `queue_stream`: gateway → Kafka → Flink → order sink, and polling clients. The topic's flow
//! is in `kafka.rs`, the job's in `flink.rs`, the result store and polling in `store.rs`.
//!
//! ```text
//!   client ─► CDN ─► gateway ─► partition leader (append) ─replication─► ack ─► "queued"
//!                      │ stock cache says 0: "sold out"         │
//!                      │                                        ▼ fetch
//!   client polls ─► gateway ─► result store GET      Flink subtask: stock? limit? decrement
//!                                   ▲                           │
//!                                   └── SET answer ◄── sink (at once, or at the checkpoint)
//! ```
//!
//! A produce request (one per purchase attempt that reaches the topic) may be sent several
//! times by the producer; every copy the leader appends is a log entry, and the job decides log
//! entries. Entries stay in the log (it is retained); an entry is `unprocessed` until a subtask
//! has decided it since the job's last restore, which is also the consumer lag. Events of the job
//! carry its epoch: a failure bumps it, so completions scheduled before the failure are ignored
//! and the restarted job re-reads every unprocessed entry.

use sim::rng::{self, RngStream};
use sim::{Context, SimDuration, SimTime, SlabKey, Station};

use super::super::SaleVariant;
use super::super::model::{AttemptKind, Event, Hop, SaleModel, Stage};
use super::super::outcome::Outcome;
use crate::components::faults::FaultWindows;
use crate::components::flink::{Decision, StreamState};
use crate::components::kafka::Acks;
use crate::components::results::{ANSWER_LIMIT, ANSWER_PURCHASED, ANSWER_SOLD_OUT, ResultStore};

/// Events of the topic, the job and the result store.
#[derive(Clone, Copy, Debug)]
pub enum StreamEvent {
    /// A copy of a produce request reaches its partition leader.
    AtPartition {
        request: u32,
    },
    /// A partition leader finished appending the copy at the head of its queue.
    Appended {
        partition: u32,
    },
    /// The acknowledgement of a produce request reaches the gateway.
    Acked {
        request: u32,
    },
    /// The producer has heard nothing for `request_timeout` since its `send`-th copy.
    ProduceTimeout {
        request: u32,
        send: u8,
    },
    /// A log entry is fetched by the job.
    Delivered {
        entry: u32,
        epoch: u32,
    },
    /// A subtask finished deciding the entry at the head of its queue.
    Processed {
        subtask: u32,
        epoch: u32,
    },
    /// An order or answer written by the at-least-once sink lands.
    SinkWritten {
        entry: u32,
        code: u8,
    },
    /// The result store finished the command at the head of its queue.
    StoreServed,
    CheckpointTrigger,
    CheckpointComplete {
        epoch: u32,
    },
    /// The job is running again after a failure.
    JobRestarted {
        epoch: u32,
    },
    CacheRefresh,
}

/// A produce request: one purchase attempt the gateway queues.
#[derive(Clone, Debug)]
pub struct ProduceRequest {
    pub user: u32,
    pub attempt: SlabKey,
    pub serial: u32,
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
    pub processed: bool,
    /// Lost with its leader before a follower copied it.
    pub lost: bool,
    /// When followers have it (readable, and safe from a leader's loss).
    pub visible_at: SimTime,
    /// The job epoch in which it was last handed to a subtask (`u32::MAX`: never): a restarted
    /// job re-reads it once, however many deliveries were scheduled for it.
    pub enqueued_epoch: u32,
    /// Orders the sink wrote for this entry (more than one: duplicates).
    pub orders_written: u8,
}

/// A command on the result store.
#[derive(Clone, Copy, Debug)]
pub enum StoreJob {
    /// A poll's GET.
    Get(SlabKey),
    /// The sink's SET of a user's answer.
    Set { user: u32, code: u8 },
}

/// Runtime state of the topic, the job and the result store.
pub struct StreamTiers {
    pub partitions: Vec<Station<u32>>,
    /// Per partition: a window without a leader (broker loss).
    pub partition_down: Vec<(SimTime, SimTime)>,
    /// Per partition: the request being appended and when it reached the partition.
    pub(super) partition_head: Vec<(u32, SimTime)>,
    pub subtasks: Vec<Station<u32>>,
    pub(super) subtask_head: Vec<(u32, SimTime)>,
    /// Per subtask: the latest delivery time handed out (fetches stay in offset order).
    pub(super) last_delivery: Vec<SimTime>,
    pub store_shard: Station<StoreJob>,
    pub(super) store_head: (StoreJob, SimTime),
    pub store: ResultStore,
    pub state: StreamState,
    pub requests: Vec<ProduceRequest>,
    pub log: Vec<LogEntry>,
    /// Entries decided since the last checkpoint was triggered, and before it (replayed if the
    /// checkpoint in progress does not complete).
    pub(super) processed_since_trigger: Vec<u32>,
    pub(super) processed_before_trigger: Vec<u32>,
    /// Transactional sink: outputs after the last trigger, and those of the checkpoint in
    /// progress.
    pub(super) uncommitted: Vec<(u32, u8)>,
    pub(super) precommitted: Vec<(u32, u8)>,
    pub epoch: u32,
    pub down: bool,
    pub(super) checkpoint_armed: bool,
    pub(super) checkpoint_in_progress: bool,
    pub(super) cache_armed: bool,
    pub cached_stock: i64,
    /// Per user: when their first request was queued (polling runs from then).
    pub queued_at: Vec<Option<SimTime>>,
    pub figures: StreamFigures,
    /// Pause and slowdown windows of the topic, the job and the result store.
    pub kafka_windows: FaultWindows,
    pub flink_windows: FaultWindows,
    pub store_windows: FaultWindows,
}

/// What the queue+stream components count.
#[derive(Clone, Debug, Default)]
pub struct StreamFigures {
    pub produce_requests: u64,
    pub resends: u64,
    /// Copies appended beyond the first of a request (producer without idempotence).
    pub duplicate_records: u64,
    /// Resent copies an idempotent broker dropped.
    pub duplicates_dropped: u64,
    pub producer_failures: u64,
    /// Entries lost with a broker before replication.
    pub lost_records: u64,
    pub lag: u64,
    pub peak_lag: u64,
    pub decisions: u64,
    pub replayed: u64,
    pub checkpoints: u64,
    pub failures: u64,
    pub duplicate_orders: u64,
    pub polls: u64,
    pub cache_rejections: u64,
    /// Orders written for users who had already given up.
    pub orders_after_give_up: u64,
}

impl StreamTiers {
    pub fn new(variant: &SaleVariant, stock: i64, users: usize) -> Option<Self> {
        let (kafka, flink, results) =
            (variant.kafka.as_ref()?, variant.flink.as_ref()?, variant.results.as_ref()?);
        let subtasks = flink.parallelism as usize;
        Some(StreamTiers {
            partitions: (0..kafka.partitions).map(|_| Station::new(1, None)).collect(),
            partition_head: vec![(0, SimTime::ZERO); kafka.partitions as usize],
            partition_down: vec![(SimTime::ZERO, SimTime::ZERO); kafka.partitions as usize],
            subtasks: (0..subtasks).map(|_| Station::new(1, None)).collect(),
            subtask_head: vec![(0, SimTime::ZERO); subtasks],
            last_delivery: vec![SimTime::ZERO; subtasks],
            store_shard: Station::new(1, None),
            store_head: (StoreJob::Set { user: 0, code: 0 }, SimTime::ZERO),
            store: ResultStore::new(results, users),
            state: StreamState::new(flink, stock.max(0) as u64, users),
            requests: Vec::new(),
            log: Vec::new(),
            processed_since_trigger: Vec::new(),
            processed_before_trigger: Vec::new(),
            uncommitted: Vec::new(),
            precommitted: Vec::new(),
            epoch: 0,
            down: false,
            checkpoint_armed: false,
            checkpoint_in_progress: false,
            cache_armed: false,
            cached_stock: stock,
            queued_at: vec![None; users],
            figures: StreamFigures::default(),
            kafka_windows: FaultWindows::default(),
            flink_windows: FaultWindows::default(),
            store_windows: FaultWindows::default(),
        })
    }

    /// Index of the busiest station in `stations` by utilisation, for the report.
    pub fn hottest(stations: &[Station<u32>], end: SimTime) -> usize {
        let mut best = (0, -1.0);
        for (i, s) in stations.iter().enumerate() {
            let u = s.report(end).utilization;
            if u > best.1 {
                best = (i, u);
            }
        }
        best.0
    }
}

/// Random streams of the queue+stream components.
pub struct StreamStreams {
    pub kafka_rtt: RngStream,
    pub append: RngStream,
    pub replication: RngStream,
    pub fetch: RngStream,
    pub record: RngStream,
    pub sink: RngStream,
    pub store_rtt: RngStream,
    pub store: RngStream,
}

impl StreamStreams {
    pub fn new(seed: u64) -> Self {
        let s = |label: &str| rng::stream(seed, label);
        StreamStreams {
            kafka_rtt: s("kafka/rtt"),
            append: s("kafka/append"),
            replication: s("kafka/replication"),
            fetch: s("kafka/fetch"),
            record: s("flink/record"),
            sink: s("flink/sink"),
            store_rtt: s("results/rtt"),
            store: s("results/service"),
        }
    }
}

pub(super) fn half(d: SimDuration) -> SimDuration {
    SimDuration::from_nanos(d.as_nanos() / 2)
}

/// The first multiple of `period` after `now`: periodic work (checkpoints, cache refreshes)
/// keeps to a fixed grid whenever it is re-armed.
pub(super) fn next_tick(now: SimTime, period: SimDuration) -> SimTime {
    let step = period.as_nanos();
    SimTime::from_nanos((now.as_nanos() / step + 1) * step)
}

pub(super) fn code_of(decision: Decision) -> u8 {
    match decision {
        Decision::Purchased => ANSWER_PURCHASED,
        Decision::SoldOut => ANSWER_SOLD_OUT,
        Decision::LimitReached => ANSWER_LIMIT,
    }
}

mod flink;
mod kafka;
mod store;

impl<'a> SaleModel<'a> {
    pub(super) fn kafka(&self) -> &'a crate::components::kafka::KafkaSpec {
        self.variant.kafka.as_ref().expect("queue_stream has Kafka")
    }

    pub(super) fn flink(&self) -> &'a crate::components::flink::FlinkSpec {
        self.variant.flink.as_ref().expect("queue_stream has Flink")
    }

    pub(super) fn results(&self) -> &'a crate::components::results::ResultsSpec {
        self.variant.results.as_ref().expect("queue_stream has a result store")
    }

    pub(super) fn st(&mut self) -> &mut StreamTiers {
        self.tiers.stream.as_mut().expect("queue_stream state")
    }

    /// The gateway has processed a request: a poll reads the result store, a purchase is
    /// queued (unless the stock cache already shows none).
    pub(in crate::sale) fn stream_request(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        if self.attempts.get(attempt).kind == AttemptKind::Poll {
            self.st().figures.polls += 1;
            let results = self.results();
            let rtt = results.rtt.sample(&mut self.streams.stream.store_rtt);
            let a = self.attempts.get_mut(attempt);
            a.stage = Stage::ResultGet;
            let user = a.user;
            ctx.after(half(rtt), Event::Arrive { attempt, hop: Hop::Results, user });
            return;
        }
        let cache_on =
            self.variant.results.as_ref().is_some_and(|r| r.stock_cache_refresh.is_some());
        if cache_on && self.st().cached_stock <= 0 {
            self.st().figures.cache_rejections += 1;
            self.answer(now, attempt, Outcome::SoldOut, ctx);
            return;
        }
        let kafka = self.kafka();
        let a = self.attempts.get(attempt);
        let (user, serial) = (a.user, a.serial);
        let partition = kafka.partition_of(user);
        let acks = kafka.acks;
        let st = self.st();
        let request = st.requests.len() as u32;
        st.requests.push(ProduceRequest {
            user,
            attempt,
            serial,
            partition,
            sends: 0,
            settled: false,
            appended: false,
        });
        st.figures.produce_requests += 1;
        let a = self.attempts.get_mut(attempt);
        a.stage = Stage::Produce;
        a.stream_ref = request;
        self.send_copy(now, request, ctx);
        if acks == Acks::None {
            // Fire and forget: the producer counts the record as sent.
            self.st().requests[request as usize].settled = true;
            self.queued(now, attempt, ctx);
        }
    }

    /// The producer sends (or resends) a copy of `request`.
    pub(super) fn send_copy(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let kafka = self.kafka();
        let rtt = kafka.rtt.sample(&mut self.streams.stream.kafka_rtt);
        let timeout = kafka.request_timeout;
        let acks = kafka.acks;
        let r = &mut self.st().requests[request as usize];
        r.sends = r.sends.saturating_add(1);
        let send = r.sends;
        ctx.after(half(rtt), Event::Stream(StreamEvent::AtPartition { request }));
        if acks != Acks::None {
            ctx.at(now + timeout, Event::Stream(StreamEvent::ProduceTimeout { request, send }));
        }
    }

    /// The gateway tells the client its request is queued and writes its status key.
    pub(super) fn queued(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let user = self.attempts.get(attempt).user;
        let st = self.st();
        st.store.create_key(now.as_nanos());
        st.queued_at[user as usize].get_or_insert(now);
        self.answer(now, attempt, Outcome::Queued, ctx);
    }

    pub(in crate::sale) fn on_stream(
        &mut self,
        now: SimTime,
        event: StreamEvent,
        ctx: &mut Context<Event>,
    ) {
        match event {
            StreamEvent::AtPartition { request } => self.at_partition(now, request, ctx),
            StreamEvent::Appended { partition } => self.appended(now, partition, ctx),
            StreamEvent::Acked { request } => self.acked(now, request, ctx),
            StreamEvent::ProduceTimeout { request, send } => {
                self.produce_timeout(now, request, send, ctx)
            }
            StreamEvent::Delivered { entry, epoch } => self.delivered(now, entry, epoch, ctx),
            StreamEvent::Processed { subtask, epoch } => self.processed(now, subtask, epoch, ctx),
            StreamEvent::SinkWritten { entry, code } => self.sink_written(now, entry, code, ctx),
            StreamEvent::StoreServed => self.store_served(now, ctx),
            StreamEvent::CheckpointTrigger => self.checkpoint_trigger(now, ctx),
            StreamEvent::CheckpointComplete { epoch } => self.checkpoint_complete(now, epoch, ctx),
            StreamEvent::JobRestarted { epoch } => self.job_restarted(now, epoch, ctx),
            StreamEvent::CacheRefresh => self.cache_refresh(now, ctx),
        }
    }
}
