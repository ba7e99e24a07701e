//! `queue_stream`'s topic: produce requests, appends on partition leaders, replication,
//! acknowledgements, producer retries and timeouts, and the loss of a broker.

use sim::{Admission, Context, SimDuration, SimTime, SlabKey};

use super::super::super::model::{Event, SaleModel, Stage};
use super::super::super::outcome::Outcome;
use super::{LogEntry, StreamEvent, half};
use crate::components::kafka::Acks;

impl SaleModel<'_> {
    pub(super) fn at_partition(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let partition = st.requests[request as usize].partition;
        if let Admission::Serve(_) = st.partitions[partition as usize].arrive(now, request) {
            st.partition_head[partition as usize] = (request, now);
            let t = self.append_work(now, partition);
            ctx.after(t, Event::Stream(StreamEvent::Appended { partition }));
        }
    }

    pub(super) fn appended(&mut self, now: SimTime, partition: u32, ctx: &mut Context<Event>) {
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
    pub(super) fn waiting_attempt(&mut self, request: u32) -> Option<SlabKey> {
        let r = &self.tiers.stream.as_ref().expect("queue_stream").requests[request as usize];
        let (attempt, serial) = (r.attempt, r.serial);
        let a = self.attempts.get_opt_mut(attempt)?;
        (a.serial == serial && a.stage == Stage::Produce && a.answer.is_none()).then_some(attempt)
    }

    pub(super) fn acked(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let r = &mut self.st().requests[request as usize];
        if r.settled {
            return;
        }
        r.settled = true;
        if let Some(attempt) = self.waiting_attempt(request) {
            self.queued(now, attempt, ctx);
        }
    }

    pub(super) fn produce_timeout(
        &mut self,
        now: SimTime,
        request: u32,
        send: u8,
        ctx: &mut Context<Event>,
    ) {
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

    /// A broker is lost: the partitions it leads take no appends until new leaders are elected
    /// (`down`), and with acks 0 or 1 their entries not yet copied to a follower are lost.
    pub(in crate::sale) fn lose_broker(&mut self, now: SimTime, down: SimDuration) {
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
    pub(super) fn append_work(&mut self, now: SimTime, partition: u32) -> SimDuration {
        let work = self.kafka().append_time.sample(&mut self.streams.stream.append);
        let (from, until) = self.st().partition_down[partition as usize];
        let start = if now >= from && now < until { until } else { now };
        let work = self.st().kafka_windows.apply(start, work);
        (start - now) + work
    }
}
