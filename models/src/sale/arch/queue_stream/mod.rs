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

use sim::{Context, SimTime, SlabKey, Station};

use super::super::SaleVariant;
use super::super::model::{AttemptKind, Event, Hop, SaleModel, Stage, Tiers};
use super::super::outcome::Outcome;
use crate::components::flink::Job;
use crate::components::kafka::{Acks, Topic};
use crate::components::results::Results;

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

/// The components of `queue_stream`: the topic (its produce requests answer an attempt of a
/// given serial), the job, and the result store (its GETs answer attempts).
pub struct StreamTiers {
    pub topic: Topic<(SlabKey, u32)>,
    pub job: Job,
    pub results: Results<SlabKey>,
}

impl StreamTiers {
    pub fn new(variant: &SaleVariant, stock: i64, users: usize, seed: u64) -> Option<Self> {
        let (kafka, flink, results) =
            (variant.kafka.as_ref()?, variant.flink.as_ref()?, variant.results.as_ref()?);
        Some(StreamTiers {
            topic: Topic::new(kafka, seed),
            job: Job::new(flink, stock.max(0) as u64, users, seed),
            results: Results::new(results, stock, users, seed),
        })
    }

    /// Hints the per-user entries an event of `user` reads.
    #[inline]
    pub fn prefetch(&self, user: u32) {
        self.results.prefetch(user);
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

    /// The producer sends (or resends) a copy of `request`.
    fn send_copy(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let (delay, send) = self.topic.send(request);
        ctx.after(delay, Event::Stream(StreamEvent::AtPartition { request }));
        if self.topic.spec.acks != Acks::None {
            let timeout = now + self.topic.spec.request_timeout;
            ctx.at(timeout, Event::Stream(StreamEvent::ProduceTimeout { request, send }));
        }
    }
}

/// The `queue_stream` components (present in this architecture only).
pub(in crate::sale) fn stream(tiers: &mut Tiers) -> &mut StreamTiers {
    tiers.stream.as_mut().expect("queue_stream components")
}

mod flink;
mod kafka;
mod store;

impl SaleModel<'_> {
    /// The gateway has processed a request: a poll reads the result store, a purchase is
    /// queued (unless the stock cache already shows none).
    pub(in crate::sale) fn stream_request(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let st = stream(&mut self.tiers);
        let a = self.attempts.get_mut(attempt);
        let user = a.user;
        if a.kind == AttemptKind::Poll {
            a.stage = Stage::ResultGet;
            let delay = st.results.send_poll();
            ctx.after(delay, Event::Arrive { attempt, hop: Hop::Results, user });
            return;
        }
        if st.results.cache_refuses() {
            self.answer(now, attempt, Outcome::SoldOut, ctx);
            return;
        }
        let request = st.topic.produce(user, (attempt, a.serial));
        a.stage = Stage::Produce;
        a.stream_ref = request;
        st.send_copy(now, request, ctx);
        if st.topic.spec.acks == Acks::None {
            // Fire and forget: the producer counts the record as sent.
            st.topic.settle(request);
            self.queued(now, attempt, ctx);
        }
    }

    /// The gateway tells the client its request is queued and writes its status key.
    fn queued(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let user = self.attempts.get(attempt).user;
        stream(&mut self.tiers).results.queued(now, user);
        self.answer(now, attempt, Outcome::Queued, ctx);
    }

    pub(in crate::sale) fn on_stream(
        &mut self,
        now: SimTime,
        event: StreamEvent,
        ctx: &mut Context<Event>,
    ) {
        let (limit, busy) = (self.setup.sale.per_user_limit, self.in_flight_count() > 0);
        let (st, timeline) = (stream(&mut self.tiers), &mut self.timeline);
        match event {
            StreamEvent::AtPartition { request } => st.at_partition(now, request, ctx),
            StreamEvent::Appended { partition } => st.appended(now, partition, timeline, ctx),
            StreamEvent::Acked { request } => self.acked(now, request, ctx),
            StreamEvent::ProduceTimeout { request, send } => {
                self.produce_timeout(now, request, send, ctx)
            }
            StreamEvent::Delivered { entry, epoch } => st.delivered(now, entry, epoch, ctx),
            StreamEvent::Processed { subtask, epoch } => {
                st.processed(now, (subtask, epoch), limit, timeline, ctx)
            }
            StreamEvent::SinkWritten { entry, code } => self.sink_written(now, entry, code, ctx),
            StreamEvent::StoreServed => self.store_served(now, ctx),
            StreamEvent::CheckpointTrigger => st.checkpoint_trigger(now, ctx),
            StreamEvent::CheckpointComplete { epoch } => self.checkpoint_complete(now, epoch, ctx),
            StreamEvent::JobRestarted { epoch } => st.job_restarted(now, epoch, ctx),
            StreamEvent::CacheRefresh => st.cache_refresh(now, busy, ctx),
        }
    }
}
