//! `queue_stream`'s topic: produce requests, appends on partition leaders, replication,
//! acknowledgements, producer retries and timeouts, and the loss of a broker. The decisions are
//! the topic's (`crate::components::kafka`); this file schedules their events and answers the
//! gateway's attempts.

use sim::{Context, SimDuration, SimTime, Slab, SlabKey};

use super::super::super::model::{Attempt, Event, SaleModel, Stage};
use super::super::super::outcome::Outcome;
use super::super::super::timeline::Timeline;
use super::{StreamEvent, StreamTiers, stream};
use crate::components::kafka::{Acks, ProduceTimeout};

impl StreamTiers {
    pub(super) fn at_partition(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        if let Some((partition, t)) = self.topic.at_partition(now, request) {
            ctx.after(t, Event::Stream(StreamEvent::Appended { partition }));
        }
    }

    /// `partition`'s leader appended a copy: the next copy starts, the log grows (the job
    /// fetches the entry once followers have it), the producer hears back.
    pub(super) fn appended(
        &mut self,
        now: SimTime,
        partition: u32,
        timeline: &mut Timeline,
        ctx: &mut Context<Event>,
    ) {
        let (request, next) = self.topic.finish_append(now, partition);
        if let Some(t) = next {
            ctx.after(t, Event::Stream(StreamEvent::Appended { partition }));
        }
        let written = self.topic.write(now, request);
        if let Some(entry) = written.entry {
            let user = self.topic.log[entry as usize].user;
            let fetch = self.topic.fetch_delay();
            let at = self.job.delivery_time(user, now + written.replication + fetch);
            let epoch = self.job.epoch;
            ctx.at(at, Event::Stream(StreamEvent::Delivered { entry, epoch }));
            timeline.stream_levels(now, self.topic.counters.lag, None);
        }
        if let Some(delay) = written.ack_after {
            ctx.after(delay, Event::Stream(StreamEvent::Acked { request }));
        }
        self.arm_checkpoint(now, ctx);
    }

    /// A broker (`broker`) is lost: its partitions take no appends for `down`, and with acks 0
    /// or 1 their entries not yet on a follower are lost.
    pub(in crate::sale) fn lose_broker(
        &mut self,
        now: SimTime,
        down: SimDuration,
        broker: u32,
        timeline: &mut Timeline,
    ) {
        self.topic.lose_broker(now, down, broker);
        if self.topic.spec.acks != Acks::All {
            // Lost entries will never be decided: the lag drops now.
            timeline.stream_levels(now, self.topic.counters.lag, None);
        }
    }
}

/// The gateway's attempt still waiting for the produce request of `client`, if any.
fn waiting(attempts: &mut Slab<Attempt>, (attempt, serial): (SlabKey, u32)) -> Option<SlabKey> {
    let a = attempts.get_opt_mut(attempt)?;
    (a.serial == serial && a.stage == Stage::Produce && a.answer.is_none()).then_some(attempt)
}

impl SaleModel<'_> {
    pub(super) fn acked(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let topic = &mut stream(&mut self.tiers).topic;
        if !topic.ack(request) {
            return;
        }
        let client = topic.requests[request as usize].client;
        if let Some(attempt) = waiting(&mut self.attempts, client) {
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
        let st = stream(&mut self.tiers);
        match st.topic.timeout(request, send) {
            ProduceTimeout::Stale => {}
            ProduceTimeout::Resend => st.send_copy(now, request, ctx),
            ProduceTimeout::GiveUp => {
                let client = st.topic.requests[request as usize].client;
                if let Some(attempt) = waiting(&mut self.attempts, client) {
                    self.answer(now, attempt, Outcome::Failed, ctx);
                }
            }
        }
    }
}
