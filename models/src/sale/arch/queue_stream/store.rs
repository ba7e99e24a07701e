//! `queue_stream`'s result store: the sink's SETs, the polls' GETs, the poll chain of each
//! queued user, and the stock cache the gateway reads. The store's state and decisions are
//! `crate::components::results`'; this file schedules their events and answers polls.

use sim::{Context, SimTime, SlabKey};

use super::super::super::model::{AttemptKind, Event, Hop, SaleModel};
use super::super::super::outcome::Outcome;
use super::{StreamEvent, StreamTiers, stream};
use crate::components::results::{ANSWER_LIMIT, ANSWER_SOLD_OUT, NO_ANSWER, StoreCommand};

impl StreamTiers {
    /// The cache refresh fires: the cache shows the job's stock; it keeps refreshing while
    /// clients wait (`busy`) or entries are still to decide.
    pub(super) fn cache_refresh(&mut self, now: SimTime, busy: bool, ctx: &mut Context<Event>) {
        self.results.refresh_cache(self.job.state.stock_left());
        if busy || self.topic.counters.lag > 0 {
            self.arm_cache(now, ctx);
        }
    }

    pub(super) fn store_command(
        &mut self,
        now: SimTime,
        command: StoreCommand<SlabKey>,
        ctx: &mut Context<Event>,
    ) {
        if let Some(t) = self.results.arrive(now, command) {
            ctx.after(t, Event::Stream(StreamEvent::StoreServed));
        }
    }

    fn arm_cache(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        if let Some(at) = self.results.arm_cache(now) {
            ctx.at(at, Event::Stream(StreamEvent::CacheRefresh));
        }
    }
}

impl SaleModel<'_> {
    pub(in crate::sale) fn at_result_store(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let user = self.attempts.get(attempt).user;
        let get = StoreCommand::Get { client: attempt, user };
        stream(&mut self.tiers).store_command(now, get, ctx);
    }

    pub(super) fn store_served(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        let results = &mut stream(&mut self.tiers).results;
        let (read, next) = results.served(now);
        if let Some(t) = next {
            ctx.after(t, Event::Stream(StreamEvent::StoreServed));
        }
        if let Some((attempt, code)) = read {
            let a = self.attempts.get_mut(attempt);
            a.stream_ref = code as u32;
            let user = a.user;
            let delay = results.half_rtt();
            ctx.after(delay, Event::Arrive { attempt, hop: Hop::ResultsReply, user });
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
        let Some(st) = self.tiers.stream.as_ref() else { return };
        // Bots poll until they are told; people until their poll timeout or patience runs out.
        let Some(at) = st.results.next_poll(now, user, self.users[user as usize].is_bot) else {
            return;
        };
        let patient = self
            .population
            .give_up_at
            .as_ref()
            .is_none_or(|deadlines| deadlines.get(user as usize).is_none_or(|d| at < *d));
        if patient {
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
        if let Some(st) = self.tiers.stream.as_mut() {
            st.arm_cache(now, ctx);
        }
    }
}
