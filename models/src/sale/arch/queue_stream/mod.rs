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

use sim::{Context, SimTime, SlabKey};

pub use super::super::event::StreamEvent;
use super::super::model::{AttemptKind, Event, Hop, SaleModel, Stage};
use super::super::outcome::Outcome;
use super::super::tiers::Tiers;
use crate::components::kafka::Acks;

/// The `queue_stream` components (present in this architecture only).
pub(in crate::sale) fn stream(tiers: &mut Tiers) -> &mut StreamTiers {
    tiers.stream.as_mut().expect("queue_stream components")
}

mod flink;
mod kafka;
pub mod parts;
mod store;

pub use parts::StreamTiers;

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
        let (limit, busy) = (self.limit, self.in_flight_count() > 0);
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
        let st = stream(&mut self.tiers);
        self.timeline.stream_busy(now, st.topic.partitions(), st.job.subtasks());
    }
}
