//! `queue_stream`'s job: subtasks deciding log entries in keyed state, the sink, checkpoints,
//! and a task failure's restart and replay.

use sim::{Admission, Context, SimDuration, SimTime};

use super::super::super::model::{Event, SaleModel};
use super::super::super::outcome::UserOutcome;
use super::{StoreJob, StreamEvent, code_of, next_tick};
use crate::components::flink::Sink;
use crate::components::results::ANSWER_PURCHASED;

impl SaleModel<'_> {
    pub(super) fn delivered(
        &mut self,
        now: SimTime,
        entry: u32,
        epoch: u32,
        ctx: &mut Context<Event>,
    ) {
        let st = self.st();
        if epoch != st.epoch || st.down || st.log[entry as usize].lost {
            // The restarted job re-reads unprocessed entries itself.
            return;
        }
        self.enqueue_entry(now, entry, ctx);
    }

    pub(super) fn enqueue_entry(&mut self, now: SimTime, entry: u32, ctx: &mut Context<Event>) {
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
            let t = st.flink_windows.apply(now, t);
            let epoch = st.epoch;
            ctx.after(t, Event::Stream(StreamEvent::Processed { subtask, epoch }));
        }
    }

    pub(super) fn processed(
        &mut self,
        now: SimTime,
        subtask: u32,
        epoch: u32,
        ctx: &mut Context<Event>,
    ) {
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
            let t = st.flink_windows.apply(now, t);
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
    pub(super) fn sink_written(
        &mut self,
        now: SimTime,
        entry: u32,
        code: u8,
        ctx: &mut Context<Event>,
    ) {
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let e = &mut st.log[entry as usize];
        let user = e.user;
        if code == ANSWER_PURCHASED {
            e.orders_written = e.orders_written.saturating_add(1);
            if e.orders_written == 1 {
                let row = &mut self.tiers.db.row;
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

    pub(super) fn arm_checkpoint(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let interval = self.flink().checkpoint_interval;
        let st = self.st();
        if st.checkpoint_armed {
            return;
        }
        st.checkpoint_armed = true;
        ctx.at(next_tick(now, interval), Event::Stream(StreamEvent::CheckpointTrigger));
    }

    pub(super) fn checkpoint_trigger(&mut self, now: SimTime, ctx: &mut Context<Event>) {
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

    pub(super) fn checkpoint_complete(
        &mut self,
        now: SimTime,
        epoch: u32,
        ctx: &mut Context<Event>,
    ) {
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
    pub(in crate::sale) fn fail_job(
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

    pub(super) fn job_restarted(&mut self, now: SimTime, epoch: u32, ctx: &mut Context<Event>) {
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
}
