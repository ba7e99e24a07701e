//! The buyer's side of every architecture: sending attempts, client timeouts, answers, the
//! countdown before the opening, retries with backoff, giving up — and the answer's way back
//! from the first tier.

use sim::{Context, SimDuration, SimTime, SlabKey};

use super::attempt::{Attempt, AttemptKind, Heard, NextStep, Since, Stage};
use super::config::PreOpen;
use super::event::{Event, Hop};
use super::model::SaleModel;
use super::observed::RequestKind;
use super::outcome::{Outcome, UserOutcome};
use crate::components::cdn::{Cdn, DedupeAnswer};
use crate::traffic::ClickKind;
use crate::traffic::client::ClientProfile;

/// Folds one click into a running FNV-1a digest.
fn digest(state: u64, time_ns: u64, user: u32) -> u64 {
    let state = if state == 0 { 0xcbf2_9ce4_8422_2325 } else { state };
    time_ns
        .to_le_bytes()
        .iter()
        .chain(user.to_le_bytes().iter())
        .fold(state, |h, b| (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

impl SaleModel<'_> {
    /// Sends a new attempt for `user` at `now`.
    pub(super) fn send(
        &mut self,
        now: SimTime,
        user: u32,
        kind: AttemptKind,
        ctx: &mut Context<Event>,
    ) {
        let rtt = self.variant.client_rtt.sample(&mut self.streams.rtt);
        let rtt_half = SimDuration::from_nanos(rtt.as_nanos() / 2);
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1);
        let attempt = self.attempts.insert(Attempt {
            user,
            serial,
            kind,
            sent: now,
            timer_from: now,
            rtt_half,
            gateway_since: Since::NONE,
            station_since: now,
            pool_since: Since::NONE,
            stage: Stage::Done,
            redis_answer: None,
            reserved_in_redis: false,
            read_stock: 0,
            read_version: 0,
            read_user_orders: 0,
            lock_asked: SimTime::ZERO,
            db_row: 0,
            empty_rows: 0,
            occ_tries: 0,
            stream_ref: 0,
            answer: None,
            answered_late: false,
            client_waiting: true,
            replied: false,
            server_done: false,
        });
        self.tallies.attempts += 1;
        self.tallies.by_kind[kind as usize] += 1;
        let logged = match kind {
            AttemptKind::First => RequestKind::First,
            AttemptKind::Duplicate => RequestKind::Duplicate,
            AttemptKind::Retry if self.users[user as usize].reclick_pending => RequestKind::Reclick,
            AttemptKind::Retry => RequestKind::Retry,
            AttemptKind::Bot => RequestKind::Bot,
            AttemptKind::Poll => RequestKind::Poll,
            AttemptKind::Order => unreachable!("order records are not sent by clients"),
        };
        if kind == AttemptKind::Retry {
            self.users[user as usize].reclick_pending = false;
        }
        self.observed.sent(now, logged);
        self.in_flight += 1;
        self.timeline.attempt(now);
        self.timeline.in_flight(now, self.in_flight);
        let u = &mut self.users[user as usize];
        u.in_flight += 1;
        u.pending_failure = false;
        if kind != AttemptKind::Duplicate {
            u.attempts = u.attempts.saturating_add(1);
        }
        if u.first_click_ns == u64::MAX {
            u.first_click_ns = now.as_nanos();
            if kind != AttemptKind::Bot {
                self.budget.first_attempts += 1;
            }
        }
        // Every attempt has the same timeout, so deadlines come in sending order: a FIFO holds
        // them, and one calendar event at a time wakes the earliest. Attempts answered before
        // their deadline are dropped from the FIFO without ever reaching the calendar.
        let deadline = now + self.client().timeout;
        self.timeouts.push_back((deadline, attempt, serial));
        if !self.timeout_armed {
            self.timeout_armed = true;
            ctx.at(deadline, Event::TimeoutsDue);
        }
        // Status polls carry no purchase: the waiting room lets them through.
        let hop = if kind == AttemptKind::Poll { self.after_room_hop() } else { self.entry_hop() };
        // The edge answers "not open" itself when the sale says so.
        let edge_answers_early =
            self.setup.sale.pre_open == PreOpen::Edge && now + rtt_half < self.setup.sale.opens_at;
        let passes_edge =
            |cdn: &Cdn| (!cdn.spec.dedupe || kind == AttemptKind::Poll) && !edge_answers_early;
        match &mut self.tiers.cdn {
            // An edge that will not de-duplicate this request decides nothing on arrival: count
            // it and go straight on to the gateway after the edge's delay, one event fewer.
            Some(cdn) if hop == Hop::Edge && passes_edge(cdn) => {
                let at_edge = now + rtt_half;
                cdn.pass(at_edge);
                let delay = cdn.delay(at_edge);
                ctx.after(rtt_half + delay, Event::Arrive { attempt, hop: Hop::Gateway, user });
            }
            _ => ctx.after(rtt_half, Event::Arrive { attempt, hop, user }),
        }
        self.stream_activity(now, ctx);
    }

    pub(super) fn on_click(&mut self, now: SimTime, index: u32, ctx: &mut Context<Event>) {
        let clicks = &self.population.clicks;
        let click = clicks[index as usize];
        self.tallies.traffic_digest =
            digest(self.tallies.traffic_digest, click.time.as_nanos(), click.user);
        if let Some(next) = clicks.get(index as usize + 1) {
            ctx.at(next.time, Event::Click { index: index + 1 });
        }
        // Duplicate clicks were clicked already: a front end that fails to de-duplicate sends
        // them whatever the first click's answer.
        let kind = match click.kind {
            ClickKind::First => AttemptKind::First,
            ClickKind::Duplicate => AttemptKind::Duplicate,
        };
        self.send(now, click.user, kind, ctx);
    }

    pub(super) fn on_bot(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let bots = self.setup.traffic.bots.as_ref().expect("bot events only with bots");
        if self.users[user as usize].outcome.is_some() {
            return;
        }
        if let Some(stop) = bots.stop_ns
            && now.as_nanos() as i64 >= self.setup.sale.opens_at.as_nanos() as i64 + stop
        {
            self.finish_user(now, user, UserOutcome::GaveUp);
            return;
        }
        self.send(now, user, AttemptKind::Bot, ctx);
        ctx.after(bots.interval, Event::Bot { user });
    }

    /// The server's answer is ready at the first tier: release the gateway worker if held, send
    /// the answer back, and mark the server side done unless compensation follows.
    pub(super) fn answer(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        outcome: Outcome,
        ctx: &mut Context<Event>,
    ) {
        self.release_gateway(now, attempt, ctx);
        let timeout = self.client().timeout;
        let a = self.attempts.get_mut(attempt);
        a.stage = Stage::Done;
        a.answer = Some(outcome);
        let (rtt_half, user) = (a.rtt_half, a.user);
        let settle = a.reserved_in_redis && outcome != Outcome::Purchased;
        // An answer that will reach its client only after the client's deadline is late: its
        // timeout fires first (deadlines are handled before a reply at the same instant, and
        // strictly earlier ones certainly). Count it now instead of scheduling its arrival.
        let deadline = a.timer_from + timeout;
        if a.client_waiting && now + rtt_half < deadline {
            ctx.after(rtt_half, Event::Reply { attempt, user });
        } else {
            self.tallies.late_answers.add(outcome);
            if a.client_waiting {
                // The entry lives on until the timeout has been handled.
                a.answered_late = true;
            } else {
                a.replied = true;
            }
        }
        if settle {
            self.settle_reservation(now, attempt, outcome, ctx);
        } else {
            self.server_done(attempt);
        }
    }

    /// The server side has finished with `attempt`; free it once the client is done too.
    pub(super) fn server_done(&mut self, attempt: SlabKey) {
        let a = self.attempts.get_mut(attempt);
        a.server_done = true;
        if a.replied {
            self.attempts.remove(attempt);
        }
    }

    /// The answer reaches the client.
    pub(super) fn on_reply(&mut self, now: SimTime, attempt: SlabKey, ctx: &mut Context<Event>) {
        let a = self.attempts.get_mut(attempt);
        a.replied = true;
        let outcome = a.answer.expect("a reply carries an answer");
        let (waiting, server_done) = (a.client_waiting, a.server_done);
        a.client_waiting = false;
        if waiting {
            self.client_outcome(now, attempt, outcome, ctx);
        } else {
            self.tallies.late_answers.add(outcome);
        }
        if server_done {
            self.attempts.remove(attempt);
        }
    }

    /// Times out every attempt whose deadline has come, then arms the next live deadline.
    pub(super) fn on_timeouts_due(&mut self, now: SimTime, ctx: &mut Context<Event>) {
        self.timeout_armed = false;
        while let Some(&(deadline, attempt, serial)) = self.timeouts.front() {
            let live = self
                .attempts
                .get_opt_mut(attempt)
                .is_some_and(|a| a.serial == serial && a.client_waiting);
            if !live {
                self.timeouts.pop_front();
                continue;
            }
            if deadline > now {
                self.timeout_armed = true;
                ctx.at(deadline, Event::TimeoutsDue);
                return;
            }
            self.timeouts.pop_front();
            self.attempts.get_mut(attempt).client_waiting = false;
            self.client_outcome(now, attempt, Outcome::TimedOut, ctx);
            let a = self.attempts.get_mut(attempt);
            // Answered late, or dropped without an answer (the page waited for one): the
            // client was the last to know of it.
            let unanswered = a.server_done && a.answer.is_none();
            if a.answered_late || unanswered {
                a.replied = true;
                if a.server_done {
                    self.attempts.remove(attempt);
                }
            }
        }
    }

    /// An attempt ends for its client with `outcome`.
    pub(super) fn client_outcome(
        &mut self,
        now: SimTime,
        attempt: SlabKey,
        outcome: Outcome,
        ctx: &mut Context<Event>,
    ) {
        let a = self.attempts.get(attempt);
        let (user, sent, is_poll) = (a.user, a.sent, a.kind == AttemptKind::Poll);
        self.tallies.outcomes.add(outcome);
        self.tallies.attempt_latency.record(now - sent);
        self.in_flight -= 1;
        self.timeline.outcome(now, outcome);
        self.timeline.in_flight(now, self.in_flight);
        // A de-duplicated request answered "processing" leaves the front end waiting for the
        // answer of the user's request still in flight: no retry comes of it. With nothing
        // else in flight there is no answer to wait for, and the page fails as before.
        let processing = outcome == Outcome::Deduped
            && self.users[user as usize].in_flight > 1
            && self
                .variant
                .cdn
                .as_ref()
                .is_some_and(|c| c.dedupe_answer == DedupeAnswer::Processing);
        let retry_after = outcome.retryable() && !processing;
        let u = &mut self.users[user as usize];
        let Heard::Undecided { polls_next } = u.hear(outcome, is_poll, retry_after) else {
            return;
        };
        if polls_next && !u.poll_pending {
            self.schedule_poll(now, user, ctx);
        }
        match self.users[user as usize].next_step() {
            NextStep::Wait => {}
            NextStep::Finish(UserOutcome::Purchased)
                if outcome == Outcome::Purchased
                    && self.units_wanted.get(user as usize).is_some_and(|&n| n > 0) =>
            {
                self.buy_next_unit(user, ctx)
            }
            NextStep::Finish(final_outcome) => self.finish_user(now, user, final_outcome),
            NextStep::Countdown => self.countdown(now, user, ctx),
            NextStep::Retry => self.maybe_retry(now, user, ctx),
        }
    }

    /// An account told "purchased" that holds more coupons buys the next unit, a reaction
    /// time later: a new purchase (its attempts count afresh).
    fn buy_next_unit(&mut self, user: u32, ctx: &mut Context<Event>) {
        self.units_wanted[user as usize] -= 1;
        let reaction = self.setup.traffic.reaction.as_ref();
        let wait =
            reaction.map_or(SimDuration::from_secs(1), |r| r.sample(&mut self.streams.retry));
        let u = &mut self.users[user as usize];
        (u.attempts, u.retry_pending, u.reclick_pending) = (0, true, true);
        ctx.after(wait, Event::Retry { user });
    }

    /// Told "not open yet": the page counts down to the opening by the server's clock and the
    /// user clicks again a reaction time after it. This is not a retry: it uses no attempt and no
    /// retry budget.
    pub(super) fn countdown(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let opens = self.setup.sale.opens_at;
        let reaction = self
            .setup
            .traffic
            .reaction
            .as_ref()
            .map_or(SimDuration::ZERO, |r| r.sample(&mut self.streams.retry));
        let u = &mut self.users[user as usize];
        u.retry_pending = true;
        u.reclick_pending = true;
        u.attempts = u.attempts.saturating_sub(1);
        ctx.at(opens.max(now) + reaction, Event::Retry { user });
    }

    /// After a retryable failure with nothing else in flight: retry, or give up.
    pub(super) fn maybe_retry(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let client = self.client();
        let u = &self.users[user as usize];
        let patient = self
            .population
            .give_up_at
            .as_ref()
            .is_none_or(|deadlines| deadlines.get(user as usize).is_none_or(|d| now < *d));
        let page = client.profile == ClientProfile::PurchasePage;
        let may = (page || client.retry != crate::traffic::client::RetryPolicy::None)
            && (u.attempts as u32) < client.max_attempts
            && patient;
        if !may {
            self.finish_user(now, user, UserOutcome::GaveUp);
            return;
        }
        if let (true, Some(reclick)) = (page, &client.reclick) {
            // The page shows the error; the human reads it and clicks again.
            let wait = reclick.sample(&mut self.streams.retry);
            let u = &mut self.users[user as usize];
            (u.retry_pending, u.reclick_pending) = (true, true);
            ctx.after(wait, Event::Retry { user });
            return;
        }
        // The budget's per-second floor accrues from the opening, not from time zero.
        let elapsed = now.since(self.setup.sale.opens_at).as_secs_f64();
        if !self.budget.try_spend(client.budget, elapsed) {
            self.tallies.budget_denied += 1;
            self.finish_user(now, user, UserOutcome::GaveUp);
            return;
        }
        let n = u.attempts as u32;
        // Only decorrelated jitter needs the previous wait; the others leave the table empty.
        let previous = self.last_backoff.get(user as usize).copied().unwrap_or(SimDuration::ZERO);
        let wait = client.backoff(n, previous, &mut self.streams.retry);
        if let Some(slot) = self.last_backoff.get_mut(user as usize) {
            *slot = wait;
        }
        let u = &mut self.users[user as usize];
        u.retry_pending = true;
        ctx.after(wait, Event::Retry { user });
    }

    pub(super) fn on_retry(&mut self, now: SimTime, user: u32, ctx: &mut Context<Event>) {
        let u = &mut self.users[user as usize];
        u.retry_pending = false;
        if u.outcome.is_some() {
            return;
        }
        self.send(now, user, AttemptKind::Retry, ctx);
    }

    pub(super) fn finish_user(&mut self, now: SimTime, user: u32, outcome: UserOutcome) {
        let u = &mut self.users[user as usize];
        if u.outcome.is_some() {
            return;
        }
        u.outcome = Some(outcome);
        // Users still trying when the run ends saw no final answer: no latency for them.
        if let Some(first) = u.first_click()
            && !u.is_bot
            && outcome != UserOutcome::StillTrying
        {
            self.tallies.user_latency.record(now - first);
            if matches!(
                outcome,
                UserOutcome::Purchased | UserOutcome::SoldOut | UserOutcome::LimitReached
            ) {
                self.tallies.answer_latency.record(now - first);
                self.timeline.answer(now, now - first);
            }
        }
    }
}
