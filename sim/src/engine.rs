//! The run loop: pops events in `(time, sequence)` order and hands each to the model.
//!
//! A model is any type with a closed event enum; dispatch is static (no boxed events). The loop
//! stops when the calendar is empty, when the next event lies past the horizon, when the event
//! budget is spent, or when the model asks it to (e.g. a queue grew without bound). Warm-up is a
//! point in time at which the model is told to forget its statistics.

use crate::calendar::Calendar;
use crate::time::{SimDuration, SimTime};

/// A simulation model driven by the run loop.
pub trait Model {
    /// The closed set of things that can happen in this model.
    type Event;

    /// Reacts to one event at `now`, scheduling follow-ups on `ctx`.
    fn handle(&mut self, now: SimTime, event: Self::Event, ctx: &mut Context<Self::Event>);

    /// Warm-up ends at `now`: statistics gathered so far are to be discarded.
    fn end_warmup(&mut self, _now: SimTime) {}

    /// The run loop is about to handle an event and `next` is likely the one after it: hint the
    /// memory it will touch ([`crate::prefetch`]). Only speed may depend on this, never results.
    #[inline]
    fn prefetch(&self, _next: &Self::Event) {}
}

/// What a model can do while handling an event.
pub struct Context<E> {
    calendar: Calendar<E>,
    now: SimTime,
    stop: Option<String>,
}

impl<E> Default for Context<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Context<E> {
    pub fn new() -> Self {
        Context { calendar: Calendar::new(), now: SimTime::ZERO, stop: None }
    }
    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// Schedules `event` at `time` (not before now). A time at the end of representable time
    /// (584 years: a sum that saturated) stops the run instead of piling events up there.
    #[inline]
    pub fn at(&mut self, time: SimTime, event: E) {
        if time == SimTime::MAX {
            self.stop(format!(
                "an event was scheduled beyond the clock's range (u64 nanoseconds) at {}: a \
                 sampled delay is absurdly long",
                self.now
            ));
            return;
        }
        self.calendar.schedule(time, event);
    }
    /// Schedules `event` after `delay`.
    #[inline]
    pub fn after(&mut self, delay: SimDuration, event: E) {
        self.at(self.now + delay, event);
    }
    /// Asks the loop to stop after this event, for `reason`.
    pub fn stop(&mut self, reason: impl Into<String>) {
        self.stop.get_or_insert_with(|| reason.into());
    }
    /// Events still pending.
    pub fn pending(&self) -> usize {
        self.calendar.len()
    }
}

/// When a run stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events after this time are not processed; `None` runs until no event is left.
    pub horizon: Option<SimTime>,
    /// Statistics before this time are discarded.
    pub warmup: SimTime,
    /// The most events the run may process.
    pub max_events: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { horizon: None, warmup: SimTime::ZERO, max_events: u64::MAX }
    }
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// No event was left.
    Drained,
    /// The next event lay past the horizon.
    Horizon,
    /// The event budget was spent with events still pending.
    EventBudget,
    /// The model stopped the run.
    Model(String),
}

/// How a run went, for the engine facts in a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStats {
    pub events: u64,
    /// The time of the last event processed (zero if none).
    pub last_event: SimTime,
    /// The time statistics run to: the horizon if reached, else the last event's time.
    pub end: SimTime,
    pub stop: Stop,
    pub pending_at_end: usize,
}

/// Runs `model` from the events already scheduled on `ctx` until a limit is reached.
pub fn run<M: Model>(model: &mut M, ctx: &mut Context<M::Event>, limits: Limits) -> RunStats {
    let mut events = 0u64;
    let mut last_event = SimTime::ZERO;
    let mut warm = limits.warmup == SimTime::ZERO;
    let horizon = limits.horizon.unwrap_or(SimTime::MAX);
    let stop = loop {
        let Some(next) = ctx.calendar.peek_time() else { break Stop::Drained };
        if !warm && next >= limits.warmup {
            ctx.now = limits.warmup.min(horizon);
            model.end_warmup(ctx.now);
            warm = true;
        }
        if next > horizon {
            break Stop::Horizon;
        }
        if events == limits.max_events {
            break Stop::EventBudget;
        }
        let (now, event) = ctx.calendar.pop().expect("peeked");
        // Usually still the next event once this one is handled (unless it schedules an
        // earlier one): fetch its state while this one runs.
        if let Some(next) = ctx.calendar.peek_next() {
            model.prefetch(next);
        }
        ctx.now = now;
        last_event = now;
        model.handle(now, event, ctx);
        events += 1;
        if let Some(reason) = ctx.stop.take() {
            break Stop::Model(reason);
        }
    };
    if !warm && stop != Stop::EventBudget {
        ctx.now = limits.warmup.min(horizon);
        model.end_warmup(ctx.now);
    }
    let end = if stop == Stop::Horizon { horizon } else { ctx.now };
    RunStats { events, last_event, end, stop, pending_at_end: ctx.calendar.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each event at time t schedules one at t + 10 until 50; logs what it saw.
    struct Ticker {
        log: Vec<(u64, u32)>,
        warmups: Vec<u64>,
    }

    impl Model for Ticker {
        type Event = u32;
        fn handle(&mut self, now: SimTime, id: u32, ctx: &mut Context<u32>) {
            self.log.push((now.as_nanos(), id));
            if now.as_nanos() < 50 {
                ctx.after(SimDuration::from_nanos(10), id);
            }
        }
        fn end_warmup(&mut self, now: SimTime) {
            self.warmups.push(now.as_nanos());
        }
    }

    fn start() -> (Ticker, Context<u32>) {
        let mut ctx = Context::new();
        ctx.at(SimTime::ZERO, 1);
        ctx.at(SimTime::ZERO, 2);
        (Ticker { log: vec![], warmups: vec![] }, ctx)
    }

    #[test]
    fn runs_in_time_then_fifo_order_to_the_end() {
        let (mut m, mut ctx) = start();
        let limits = Limits { warmup: SimTime::from_nanos(25), ..Limits::default() };
        let stats = run(&mut m, &mut ctx, limits);
        assert_eq!(stats.stop, Stop::Drained);
        assert_eq!(stats.events, 12);
        assert_eq!(&m.log[..4], &[(0, 1), (0, 2), (10, 1), (10, 2)]);
        assert_eq!(m.warmups, [25]);
        assert_eq!(stats.end, SimTime::from_nanos(50));
    }

    #[test]
    fn horizon_and_budget_stop_the_run() {
        let (mut m, mut ctx) = start();
        let limits = Limits { horizon: Some(SimTime::from_nanos(15)), ..Limits::default() };
        let stats = run(&mut m, &mut ctx, limits);
        assert_eq!((stats.stop, stats.events), (Stop::Horizon, 4));
        assert_eq!(stats.end, SimTime::from_nanos(15));

        let (mut m, mut ctx) = start();
        let stats = run(&mut m, &mut ctx, Limits { max_events: 5, ..Limits::default() });
        assert_eq!((stats.stop, stats.events, stats.pending_at_end), (Stop::EventBudget, 5, 2));
    }
}
