//! The server side of `queue_stream`: gateway → Kafka → Flink → order sink, and polling clients.
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
use sim::{Admission, Context, SimDuration, SimTime, SlabKey, Station};

use super::SaleVariant;
use super::fault::FaultComponent;
use super::model::{AttemptKind, Event, Hop, SaleModel, Stage};
use super::outcome::{Outcome, UserOutcome};
use crate::components::flink::{Decision, Sink, StreamState};
use crate::components::kafka::Acks;
use crate::components::results::{
    ANSWER_LIMIT, ANSWER_PURCHASED, ANSWER_SOLD_OUT, NO_ANSWER, ResultStore,
};

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
    partition_head: Vec<(u32, SimTime)>,
    pub subtasks: Vec<Station<u32>>,
    subtask_head: Vec<(u32, SimTime)>,
    /// Per subtask: the latest delivery time handed out (fetches stay in offset order).
    last_delivery: Vec<SimTime>,
    pub store_shard: Station<StoreJob>,
    store_head: (StoreJob, SimTime),
    pub store: ResultStore,
    pub state: StreamState,
    pub requests: Vec<ProduceRequest>,
    pub log: Vec<LogEntry>,
    /// Entries decided since the last checkpoint was triggered, and before it (replayed if the
    /// checkpoint in progress does not complete).
    processed_since_trigger: Vec<u32>,
    processed_before_trigger: Vec<u32>,
    /// Transactional sink: outputs after the last trigger, and those of the checkpoint in
    /// progress.
    uncommitted: Vec<(u32, u8)>,
    precommitted: Vec<(u32, u8)>,
    pub epoch: u32,
    pub down: bool,
    checkpoint_armed: bool,
    checkpoint_in_progress: bool,
    cache_armed: bool,
    pub cached_stock: i64,
    /// Per user: when their first request was queued (polling runs from then).
    pub queued_at: Vec<Option<SimTime>>,
    pub figures: StreamFigures,
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

fn half(d: SimDuration) -> SimDuration {
    SimDuration::from_nanos(d.as_nanos() / 2)
}

/// The first multiple of `period` after `now`: periodic work (checkpoints, cache refreshes)
/// keeps to a fixed grid whenever it is re-armed.
fn next_tick(now: SimTime, period: SimDuration) -> SimTime {
    let step = period.as_nanos();
    SimTime::from_nanos((now.as_nanos() / step + 1) * step)
}

fn code_of(decision: Decision) -> u8 {
    match decision {
        Decision::Purchased => ANSWER_PURCHASED,
        Decision::SoldOut => ANSWER_SOLD_OUT,
        Decision::LimitReached => ANSWER_LIMIT,
    }
}

impl<'a> SaleModel<'a> {
    fn kafka(&self) -> &'a crate::components::kafka::KafkaSpec {
        self.variant.kafka.as_ref().expect("queue_stream has Kafka")
    }

    fn flink(&self) -> &'a crate::components::flink::FlinkSpec {
        self.variant.flink.as_ref().expect("queue_stream has Flink")
    }

    fn results(&self) -> &'a crate::components::results::ResultsSpec {
        self.variant.results.as_ref().expect("queue_stream has a result store")
    }

    fn st(&mut self) -> &mut StreamTiers {
        self.tiers.stream.as_mut().expect("queue_stream state")
    }

    /// The gateway has processed a request: a poll reads the result store, a purchase is
    /// queued (unless the stock cache already shows none).
    pub(super) fn stream_request(
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
    fn send_copy(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
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
    fn queued(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let user = self.attempts.get(attempt).user;
        let st = self.st();
        st.store.create_key(now.as_nanos());
        st.queued_at[user as usize].get_or_insert(now);
        self.answer(now, attempt, Outcome::Queued, ctx);
    }

    pub(super) fn on_stream(&mut self, now: SimTime, event: StreamEvent, ctx: &mut Context<Event>) {
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

    // ----- Kafka -----

    fn at_partition(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let partition = st.requests[request as usize].partition;
        if let Admission::Serve(_) = st.partitions[partition as usize].arrive(now, request) {
            st.partition_head[partition as usize] = (request, now);
            let t = self.append_work(now, partition);
            ctx.after(t, Event::Stream(StreamEvent::Appended { partition }));
        }
    }

    fn appended(&mut self, now: SimTime, partition: u32, ctx: &mut Context<Event>) {
        let kafka = self.kafka();
        let flink = self.flink();
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let (request, since) = st.partition_head[partition as usize];
        if let Some(next) = st.partitions[partition as usize].depart(now, since) {
            st.partition_head[partition as usize] = (next.job, next.arrived);
            let t = self.append_work(now, partition);
            ctx.after(t, Event::Stream(StreamEvent::Appended { partition }));
        }
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let r = &mut st.requests[request as usize];
        let replication = kafka.replication.sample(&mut self.streams.stream.replication);
        if r.appended && kafka.idempotence {
            // The broker has this sequence number already: drop the copy, acknowledge it.
            st.figures.duplicates_dropped += 1;
        } else {
            if r.appended {
                st.figures.duplicate_records += 1;
            }
            r.appended = true;
            let user = r.user;
            let entry = st.log.len() as u32;
            st.log.push(LogEntry {
                user,
                processed: false,
                lost: false,
                visible_at: now + replication,
                enqueued_epoch: u32::MAX,
                orders_written: 0,
            });
            st.figures.lag += 1;
            st.figures.peak_lag = st.figures.peak_lag.max(st.figures.lag);
            let subtask = flink.subtask_of(user) as usize;
            let fetch = kafka.fetch.sample(&mut self.streams.stream.fetch);
            let at = (now + replication + fetch).max(st.last_delivery[subtask]);
            st.last_delivery[subtask] = at;
            let epoch = st.epoch;
            ctx.at(at, Event::Stream(StreamEvent::Delivered { entry, epoch }));
            let lag = st.figures.lag;
            self.timeline.stream_levels(now, lag, None);
        }
        let rtt = kafka.rtt.sample(&mut self.streams.stream.kafka_rtt);
        let ack_after = match kafka.acks {
            Acks::None => None,
            Acks::Leader => Some(half(rtt)),
            Acks::All => Some(replication + half(rtt)),
        };
        if let Some(delay) = ack_after {
            ctx.after(delay, Event::Stream(StreamEvent::Acked { request }));
        }
        self.arm_checkpoint(now, ctx);
    }

    /// The gateway's attempt still waiting for `request`'s acknowledgement, if any.
    fn waiting_attempt(&mut self, request: u32) -> Option<SlabKey> {
        let r = &self.tiers.stream.as_ref().expect("queue_stream").requests[request as usize];
        let (attempt, serial) = (r.attempt, r.serial);
        let a = self.attempts.get_opt_mut(attempt)?;
        (a.serial == serial && a.stage == Stage::Produce && a.answer.is_none()).then_some(attempt)
    }

    fn acked(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let r = &mut self.st().requests[request as usize];
        if r.settled {
            return;
        }
        r.settled = true;
        if let Some(attempt) = self.waiting_attempt(request) {
            self.queued(now, attempt, ctx);
        }
    }

    fn produce_timeout(&mut self, now: SimTime, request: u32, send: u8, ctx: &mut Context<Event>) {
        let retries = self.kafka().producer_retries;
        let r = &self.st().requests[request as usize];
        if r.settled || r.sends != send {
            return;
        }
        if (send as u32) <= retries && send < u8::MAX {
            self.st().figures.resends += 1;
            self.send_copy(now, request, ctx);
            return;
        }
        let st = self.st();
        st.requests[request as usize].settled = true;
        st.figures.producer_failures += 1;
        if let Some(attempt) = self.waiting_attempt(request) {
            self.answer(now, attempt, Outcome::Failed, ctx);
        }
    }

    // ----- Flink -----

    fn delivered(&mut self, now: SimTime, entry: u32, epoch: u32, ctx: &mut Context<Event>) {
        let st = self.st();
        if epoch != st.epoch || st.down || st.log[entry as usize].lost {
            // The restarted job re-reads unprocessed entries itself.
            return;
        }
        self.enqueue_entry(now, entry, ctx);
    }

    fn enqueue_entry(&mut self, now: SimTime, entry: u32, ctx: &mut Context<Event>) {
        let flink = self.flink();
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let e = &mut st.log[entry as usize];
        if e.processed || e.lost || e.enqueued_epoch == st.epoch {
            return;
        }
        e.enqueued_epoch = st.epoch;
        let subtask = flink.subtask_of(e.user);
        if let Admission::Serve(_) = st.subtasks[subtask as usize].arrive(now, entry) {
            st.subtask_head[subtask as usize] = (entry, now);
            let t = flink.record_time.sample(&mut self.streams.stream.record);
            let t = self.windows.apply(FaultComponent::Flink, now, t);
            let epoch = st.epoch;
            ctx.after(t, Event::Stream(StreamEvent::Processed { subtask, epoch }));
        }
    }

    fn processed(&mut self, now: SimTime, subtask: u32, epoch: u32, ctx: &mut Context<Event>) {
        let flink = self.flink();
        let limit = self.setup.sale.per_user_limit;
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        if epoch != st.epoch {
            return;
        }
        let (entry, since) = st.subtask_head[subtask as usize];
        if let Some(next) = st.subtasks[subtask as usize].depart(now, since) {
            st.subtask_head[subtask as usize] = (next.job, next.arrived);
            let t = flink.record_time.sample(&mut self.streams.stream.record);
            let t = self.windows.apply(FaultComponent::Flink, now, t);
            ctx.after(t, Event::Stream(StreamEvent::Processed { subtask, epoch }));
        }
        if st.log[entry as usize].lost {
            return;
        }
        let user = st.log[entry as usize].user;
        let share = match flink.stock {
            crate::components::flink::StockPlacement::OneKey => 0,
            crate::components::flink::StockPlacement::Split => subtask as usize,
        };
        let decision = st.state.decide(share, user, limit);
        st.log[entry as usize].processed = true;
        st.figures.decisions += 1;
        st.figures.lag -= 1;
        st.processed_since_trigger.push(entry);
        let code = code_of(decision);
        match flink.sink {
            Sink::AtLeastOnce => {
                let t = flink.sink_write.sample(&mut self.streams.stream.sink);
                ctx.after(t, Event::Stream(StreamEvent::SinkWritten { entry, code }));
            }
            Sink::Transactional => st.uncommitted.push((entry, code)),
        }
        let (lag, stock) = (st.figures.lag, st.state.stock_left());
        self.timeline.stream_levels(now, lag, Some(stock));
    }

    /// An order (or a refusal) leaves the job: orders go to the order table, every answer to
    /// the result store.
    fn sink_written(&mut self, now: SimTime, entry: u32, code: u8, ctx: &mut Context<Event>) {
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let e = &mut st.log[entry as usize];
        let user = e.user;
        if code == ANSWER_PURCHASED {
            e.orders_written = e.orders_written.saturating_add(1);
            if e.orders_written == 1 {
                let row = &mut self.tiers.row;
                row.commit_sale(user, row.stock - 1, now);
                self.timeline.db_stock(now, row.stock);
                if self.users[user as usize].outcome == Some(UserOutcome::GaveUp) {
                    st.figures.orders_after_give_up += 1;
                }
            } else {
                st.figures.duplicate_orders += 1;
            }
        }
        self.store_command(now, StoreJob::Set { user, code }, ctx);
    }

    fn arm_checkpoint(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let interval = self.flink().checkpoint_interval;
        let st = self.st();
        if st.checkpoint_armed {
            return;
        }
        st.checkpoint_armed = true;
        ctx.at(next_tick(now, interval), Event::Stream(StreamEvent::CheckpointTrigger));
    }

    fn checkpoint_trigger(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let flink = self.flink();
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        st.checkpoint_armed = false;
        let work_left = st.figures.lag > 0
            || !st.processed_since_trigger.is_empty()
            || !st.uncommitted.is_empty()
            || st.down;
        // One checkpoint at a time (a slow one delays the next, as with Flink's default).
        if !st.down && !st.checkpoint_in_progress {
            st.checkpoint_in_progress = true;
            st.state.trigger_checkpoint();
            st.processed_before_trigger = std::mem::take(&mut st.processed_since_trigger);
            st.precommitted = std::mem::take(&mut st.uncommitted);
            let epoch = st.epoch;
            ctx.after(
                flink.checkpoint_duration,
                Event::Stream(StreamEvent::CheckpointComplete { epoch }),
            );
        }
        if work_left {
            self.arm_checkpoint(now, ctx);
        }
    }

    fn checkpoint_complete(&mut self, now: SimTime, epoch: u32, ctx: &mut Context<Event>) {
        let st = self.st();
        if epoch != st.epoch {
            return;
        }
        st.checkpoint_in_progress = false;
        st.state.complete_checkpoint();
        st.processed_before_trigger.clear();
        st.figures.checkpoints += 1;
        // Transactional sink: the checkpoint's transaction commits now.
        let committed = std::mem::take(&mut st.precommitted);
        for (entry, code) in committed {
            self.sink_written(now, entry, code, ctx);
        }
    }

    /// A task fails: the job stops, its state rolls back to the last completed checkpoint, and
    /// after the restart time it re-reads every entry not decided since then.
    pub(super) fn fail_job(
        &mut self,
        now: SimTime,
        restart: SimDuration,
        ctx: &mut Context<Event>,
    ) {
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        if st.down {
            return;
        }
        st.epoch += 1;
        st.down = true;
        st.checkpoint_in_progress = false;
        st.figures.failures += 1;
        for subtask in &mut st.subtasks {
            subtask.clear(now);
        }
        st.state.restore();
        let mut replay = std::mem::take(&mut st.processed_before_trigger);
        replay.append(&mut st.processed_since_trigger);
        for entry in replay {
            st.log[entry as usize].processed = false;
            st.figures.lag += 1;
            st.figures.replayed += 1;
        }
        st.figures.peak_lag = st.figures.peak_lag.max(st.figures.lag);
        // Uncommitted transactions are aborted.
        st.uncommitted.clear();
        st.precommitted.clear();
        let epoch = st.epoch;
        let (lag, stock) = (st.figures.lag, st.state.stock_left());
        self.timeline.stream_levels(now, lag, Some(stock));
        ctx.after(restart, Event::Stream(StreamEvent::JobRestarted { epoch }));
    }

    fn job_restarted(&mut self, now: SimTime, epoch: u32, ctx: &mut Context<Event>) {
        let st = self.st();
        if epoch != st.epoch {
            return;
        }
        st.down = false;
        for d in &mut st.last_delivery {
            *d = now;
        }
        let unprocessed: Vec<(u32, SimTime)> = st
            .log
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.processed && !e.lost)
            .map(|(i, e)| (i as u32, e.visible_at))
            .collect();
        for (entry, visible_at) in unprocessed {
            if visible_at <= now {
                self.enqueue_entry(now, entry, ctx);
            } else {
                // Not yet on a follower: it is read when it is (or lost with its leader).
                ctx.at(visible_at, Event::Stream(StreamEvent::Delivered { entry, epoch }));
            }
        }
        self.arm_checkpoint(now, ctx);
    }

    /// A broker is lost: the partitions it leads take no appends until new leaders are elected
    /// (`down`), and with acks 0 or 1 their entries not yet copied to a follower are lost.
    pub(super) fn lose_broker(&mut self, now: SimTime, down: SimDuration) {
        use rand::RngExt;
        let kafka = self.kafka();
        let lost = self.fault_rng.random_range(0..kafka.brokers);
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        for p in 0..kafka.partitions {
            if p % kafka.brokers == lost {
                st.partition_down[p as usize] = (now, now + down);
            }
        }
        if kafka.acks != Acks::All {
            for e in st.log.iter_mut() {
                let led = kafka.partition_of(e.user) % kafka.brokers == lost;
                if led && e.visible_at > now && !e.processed && !e.lost {
                    e.lost = true;
                    st.figures.lost_records += 1;
                    st.figures.lag -= 1;
                }
            }
            // Lost entries will never be decided: the lag drops now.
            let lag = st.figures.lag;
            self.timeline.stream_levels(now, lag, None);
        }
    }

    /// Append time of a record on `partition` starting now, through any fault windows.
    fn append_work(&mut self, now: SimTime, partition: u32) -> SimDuration {
        let work = self.kafka().append_time.sample(&mut self.streams.stream.append);
        let (from, until) = self.st().partition_down[partition as usize];
        let start = if now >= from && now < until { until } else { now };
        let work = self.windows.apply(FaultComponent::Kafka, start, work);
        (start - now) + work
    }

    // ----- result store and polling -----

    fn store_command(&mut self, now: SimTime, job: StoreJob, ctx: &mut Context<Event>) {
        let results = self.results();
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        if let Admission::Serve(_) = st.store_shard.arrive(now, job) {
            st.store_head = (job, now);
            let t = results.command_time.sample(&mut self.streams.stream.store);
            let t = self.windows.apply(FaultComponent::Results, now, t);
            ctx.after(t, Event::Stream(StreamEvent::StoreServed));
        }
    }

    pub(super) fn at_result_store(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        self.store_command(now, StoreJob::Get(attempt), ctx);
    }

    fn store_served(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let results = self.results();
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let (job, since) = st.store_head;
        if let Some(next) = st.store_shard.depart(now, since) {
            st.store_head = (next.job, next.arrived);
            let t = results.command_time.sample(&mut self.streams.stream.store);
            let t = self.windows.apply(FaultComponent::Results, now, t);
            ctx.after(t, Event::Stream(StreamEvent::StoreServed));
        }
        match job {
            StoreJob::Set { user, code } => st.store.write(user, code),
            StoreJob::Get(attempt) => {
                let user = self.attempts.get(attempt).user;
                let code = st.store.answer[user as usize];
                self.attempts.get_mut(attempt).stream_ref = code as u32;
                let rtt = results.rtt.sample(&mut self.streams.stream.store_rtt);
                ctx.after(half(rtt), Event::Arrive { attempt, hop: Hop::ResultsReply, user });
            }
        }
    }

    pub(super) fn result_replied(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let outcome = match self.attempts.get(attempt).stream_ref as u8 {
            NO_ANSWER => Outcome::Pending,
            ANSWER_SOLD_OUT => Outcome::SoldOut,
            ANSWER_LIMIT => Outcome::LimitReached,
            _ => Outcome::Purchased,
        };
        self.answer(now, attempt, outcome, ctx);
    }

    /// After "queued" or an unanswered poll: the next poll, if the user still waits for it.
    pub(super) fn schedule_poll(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let Some(results) = self.variant.results.as_ref() else { return };
        let st = self.tiers.stream.as_ref().expect("queue_stream");
        let Some(queued_at) = st.queued_at[user as usize] else { return };
        let at = now + results.poll_interval;
        let patient = self
            .population
            .give_up_at
            .as_ref()
            .is_none_or(|deadlines| deadlines.get(user as usize).is_none_or(|d| at < *d));
        // Bots poll until they are told; people until their poll timeout or patience runs out.
        let in_time = self.users[user as usize].is_bot || at <= queued_at + results.poll_timeout;
        if in_time && patient {
            self.users[user as usize].poll_pending = true;
            ctx.at(at, Event::Poll { user });
        }
    }

    pub(super) fn on_poll(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        // The poll chain stays pending while this poll is in flight; its answer ends it or
        // schedules the next one, so a user never has two chains.
        let u = &mut self.users[user as usize];
        if u.outcome.is_some() {
            u.poll_pending = false;
            return;
        }
        self.send(now, user, AttemptKind::Poll, ctx);
    }

    /// Something is happening: keep the stock cache refreshing.
    pub(super) fn stream_activity(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let Some(refresh) = self.variant.results.as_ref().and_then(|r| r.stock_cache_refresh)
        else {
            return;
        };
        let st = self.st();
        if st.cache_armed {
            return;
        }
        st.cache_armed = true;
        ctx.at(next_tick(now, refresh), Event::Stream(StreamEvent::CacheRefresh));
    }

    fn cache_refresh(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let busy = self.in_flight_count() > 0;
        let st = self.st();
        st.cache_armed = false;
        st.cached_stock = st.state.stock_left();
        if busy || st.figures.lag > 0 {
            self.stream_activity(now, ctx);
        }
    }
}
