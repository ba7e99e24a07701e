//! `queue_stream`'s job: subtasks deciding log entries in keyed state, the sink, checkpoints,
//! and a task failure's restart and replay. The decisions are the job's
//! (`crate::components::flink`); this file schedules their events, keeps the topic's consumer
//! position in step, and writes the sink's orders and answers.

use sim::{Context, SimDuration, SimTime};

use super::super::super::model::{Event, SaleModel};
use super::super::super::outcome::UserOutcome;
use super::super::super::timeline::Timeline;
use super::{StreamEvent, StreamTiers, stream};
use crate::components::results::{ANSWER_PURCHASED, StoreCommand};

impl StreamTiers {
    pub(super) fn delivered(
        &mut self,
        now: SimTime,
        entry: u32,
        epoch: u32,
        ctx: &mut Context<Event>,
    ) {
        if !self.job.takes_delivery(epoch) || self.topic.log[entry as usize].lost {
            // The restarted job re-reads unprocessed entries itself.
            return;
        }
        self.enqueue(now, entry, ctx);
    }

    fn enqueue(&mut self, now: SimTime, entry: u32, ctx: &mut Context<Event>) {
        if !self.topic.is_undecided(entry) {
            return;
        }
        let user = self.topic.log[entry as usize].user;
        if let Some((subtask, t)) = self.job.enqueue(now, entry, user) {
            let epoch = self.job.epoch;
            ctx.after(t, Event::Stream(StreamEvent::Processed { subtask, epoch }));
        }
    }

    /// A subtask finished deciding the entry at its head (`at`: subtask and epoch).
    pub(super) fn processed(
        &mut self,
        now: SimTime,
        (subtask, epoch): (u32, u32),
        limit: crate::components::limit::LimitRule,
        timeline: &mut Timeline,
        ctx: &mut Context<Event>,
    ) {
        let Some((entry, next)) = self.job.finish(now, subtask, epoch) else { return };
        if let Some(t) = next {
            ctx.after(t, Event::Stream(StreamEvent::Processed { subtask, epoch }));
        }
        let e = &self.topic.log[entry as usize];
        if e.lost {
            return;
        }
        let decided = self.job.decide(entry, subtask, e.user, limit.for_user(e.user));
        self.topic.consumed(entry);
        if let Some(t) = decided.sink_after {
            let code = decided.code;
            ctx.after(t, Event::Stream(StreamEvent::SinkWritten { entry, code }));
        }
        let (lag, stock) = (self.topic.counters.lag, self.job.state.stock_left());
        timeline.stream_levels(now, lag, Some(stock));
    }

    pub(super) fn arm_checkpoint(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        if let Some(at) = self.job.arm_checkpoint(now) {
            ctx.at(at, Event::Stream(StreamEvent::CheckpointTrigger));
        }
    }

    pub(super) fn checkpoint_trigger(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let trigger = self.job.trigger_checkpoint(now, self.topic.counters.lag);
        if let Some(after) = trigger.complete_after {
            let epoch = self.job.epoch;
            ctx.after(after, Event::Stream(StreamEvent::CheckpointComplete { epoch }));
        }
        if let Some(at) = trigger.next_at {
            ctx.at(at, Event::Stream(StreamEvent::CheckpointTrigger));
        }
    }

    /// A task fails: the job stops, its state rolls back to the last completed checkpoint, and
    /// after `restart` it re-reads every entry not decided since then.
    pub(in crate::sale) fn fail_job(
        &mut self,
        now: SimTime,
        restart: SimDuration,
        timeline: &mut Timeline,
        ctx: &mut Context<Event>,
    ) {
        let Some(replay) = self.job.fail(now) else { return };
        self.topic.rewind(&replay);
        let (lag, stock) = (self.topic.counters.lag, self.job.state.stock_left());
        timeline.stream_levels(now, lag, Some(stock));
        let epoch = self.job.epoch;
        ctx.after(restart, Event::Stream(StreamEvent::JobRestarted { epoch }));
    }

    pub(super) fn job_restarted(&mut self, now: SimTime, epoch: u32, ctx: &mut Context<Event>) {
        if !self.job.restart(now, epoch) {
            return;
        }
        for (entry, visible_at) in self.topic.undecided() {
            if visible_at <= now {
                self.enqueue(now, entry, ctx);
            } else {
                // Not yet on a follower: it is read when it is (or lost with its leader).
                ctx.at(visible_at, Event::Stream(StreamEvent::Delivered { entry, epoch }));
            }
        }
        self.arm_checkpoint(now, ctx);
    }
}

impl SaleModel<'_> {
    /// An order (or a refusal) leaves the job: orders go to the order table, every answer to
    /// the result store.
    pub(super) fn sink_written(
        &mut self,
        now: SimTime,
        entry: u32,
        code: u8,
        ctx: &mut Context<Event>,
    ) {
        let st = stream(&mut self.tiers);
        let user = st.topic.log[entry as usize].user;
        if code == ANSWER_PURCHASED {
            let gave_up = self.users[user as usize].outcome == Some(UserOutcome::GaveUp);
            if st.job.write_order(entry, gave_up) {
                let row = &mut self.tiers.db.row;
                row.commit_sale(user, row.stock - 1, now);
                self.timeline.db_stock(now, row.stock);
                self.order_created(now, user, ctx);
            }
        }
        stream(&mut self.tiers).store_command(now, StoreCommand::Set { user, code }, ctx);
    }

    pub(super) fn checkpoint_complete(
        &mut self,
        now: SimTime,
        epoch: u32,
        ctx: &mut Context<Event>,
    ) {
        let Some(committed) = stream(&mut self.tiers).job.complete_checkpoint(epoch) else {
            return;
        };
        // Transactional sink: the checkpoint's transaction commits now.
        for (entry, code) in committed {
            self.sink_written(now, entry, code, ctx);
        }
    }
}
