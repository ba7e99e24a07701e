//! `queue_stream`'s result store: the sink's SETs, the polls' GETs, the poll chain of each
//! queued user, and the stock cache the gateway reads.

use sim::{Admission, Context, SimTime, SlabKey};

use super::super::super::model::{AttemptKind, Event, Hop, SaleModel};
use super::super::super::outcome::Outcome;
use super::{StoreJob, StreamEvent, half, next_tick};
use crate::components::results::{ANSWER_LIMIT, ANSWER_SOLD_OUT, NO_ANSWER};

impl SaleModel<'_> {
    pub(super) fn store_command(&mut self, now: SimTime, job: StoreJob, ctx: &mut Context<Event>) {
        let results = self.results();
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        if let Admission::Serve(_) = st.store_shard.arrive(now, job) {
            st.store_head = (job, now);
            let t = results.command_time.sample(&mut self.streams.stream.store);
            let t = st.store_windows.apply(now, t);
            ctx.after(t, Event::Stream(StreamEvent::StoreServed));
        }
    }

    pub(in crate::sale) fn at_result_store(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        self.store_command(now, StoreJob::Get(attempt), ctx);
    }

    pub(super) fn store_served(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let results = self.results();
        let st = self.tiers.stream.as_mut().expect("queue_stream");
        let (job, since) = st.store_head;
        if let Some(next) = st.store_shard.depart(now, since) {
            st.store_head = (next.job, next.arrived);
            let t = results.command_time.sample(&mut self.streams.stream.store);
            let t = st.store_windows.apply(now, t);
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

    pub(in crate::sale) fn result_replied(
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
    pub(in crate::sale) fn schedule_poll(
        &mut self,
        now: SimTime,
        user: u32,
        ctx: &mut Context<Event>,
    ) {
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

    pub(in crate::sale) fn on_poll(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
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
    pub(in crate::sale) fn stream_activity(&mut self, now: SimTime, ctx: &mut Context<Event>) {
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

    pub(super) fn cache_refresh(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let busy = self.in_flight_count() > 0;
        let st = self.st();
        st.cache_armed = false;
        st.cached_stock = st.state.stock_left();
        if busy || st.figures.lag > 0 {
            self.stream_activity(now, ctx);
        }
    }
}
