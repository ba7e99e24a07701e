//! Adversarial time distributions for the calendar (issue 15): every case reports events per
//! second, to be read against the plain hold model (`hold_exp`, the best case) — none should fall
//! far below it.
//!
//! - `burst_in_span`: a sparse due run spanning ~4 s (200 wakers in one level-4 bucket, sorted
//!   into the run), each waker starting a burst of children inside that span, at gaps drawn from
//!   `[0, spread)`: the shape that made every schedule a memmove of the run before the cut.
//! - `equal_times`: every gap is exactly 1 ms, so all pending events share a few times.
//! - `near_and_far`: nine gaps in ten are ~1 µs, one in ten is ~10 s (timeouts among replies).

use divan::counter::ItemsCount;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim::{Context, Limits, Model, RngStream, SimDuration, SimTime, rng};

fn main() {
    divan::main();
}

const EVENTS: u64 = 2_000_000;

#[derive(Clone, Copy)]
enum Gap {
    Exp1s,
    Fixed1ms,
    NearAndFar,
    Uniform(u64),
}

#[derive(Clone, Copy)]
enum Ev {
    /// Starts `FANOUT` children at gaps drawn from the model's distribution.
    Waker,
    Child,
}

const FANOUT: u32 = 500;

struct Hold {
    rng: RngStream,
    gap: Gap,
}

impl Hold {
    fn gap(&mut self) -> SimDuration {
        match self.gap {
            Gap::Exp1s => SimDuration::from_secs_f64(Exp1.sample(&mut self.rng)),
            Gap::Fixed1ms => SimDuration::from_nanos(1_000_000),
            Gap::NearAndFar => {
                let mean = if self.rng.random_range(0..10) == 0 { 10.0 } else { 1e-6 };
                let x: f64 = Exp1.sample(&mut self.rng);
                SimDuration::from_secs_f64(mean * x)
            }
            Gap::Uniform(spread) => SimDuration::from_nanos(self.rng.random_range(0..spread)),
        }
    }
}

impl Model for Hold {
    type Event = Ev;
    #[inline]
    fn handle(&mut self, _now: SimTime, ev: Ev, ctx: &mut Context<Ev>) {
        let n = match ev {
            Ev::Waker => FANOUT,
            Ev::Child => 1,
        };
        for _ in 0..n {
            let gap = self.gap();
            ctx.after(gap, Ev::Child);
        }
    }
}

/// Runs `EVENTS` events from the state `setup` leaves, after `warm` events not measured.
fn bench(
    bencher: divan::Bencher,
    gap: Gap,
    warm: u64,
    setup: impl Fn(&mut Hold, &mut Context<Ev>) + Sync,
) {
    bencher
        .counter(ItemsCount::new(EVENTS))
        .with_inputs(|| {
            let mut model = Hold { rng: rng::stream(1, "adversarial"), gap };
            let mut ctx = Context::new();
            setup(&mut model, &mut ctx);
            sim::run(&mut model, &mut ctx, Limits { max_events: warm, ..Limits::default() });
            (model, ctx)
        })
        .bench_values(|(mut model, mut ctx)| {
            let stats =
                sim::run(&mut model, &mut ctx, Limits { max_events: EVENTS, ..Limits::default() });
            assert_eq!(stats.events, EVENTS);
            (model, ctx)
        });
}

/// N pending events at gaps drawn from the case's distribution, warmed to a steady state.
fn steady(pending: u32) -> impl Fn(&mut Hold, &mut Context<Ev>) + Sync {
    move |model, ctx| {
        for _ in 0..pending {
            let gap = model.gap();
            ctx.at(SimTime::ZERO + gap, Ev::Child);
        }
    }
}

#[divan::bench(args = [1_000, 100_000], sample_count = 10, sample_size = 1)]
fn hold_exp(bencher: divan::Bencher, pending: u32) {
    bench(bencher, Gap::Exp1s, pending as u64 * 4, steady(pending));
}

#[divan::bench(args = [1_000, 100_000], sample_count = 10, sample_size = 1)]
fn equal_times(bencher: divan::Bencher, pending: u32) {
    bench(bencher, Gap::Fixed1ms, pending as u64 * 4, steady(pending));
}

#[divan::bench(args = [1_000, 100_000], sample_count = 10, sample_size = 1)]
fn near_and_far(bencher: divan::Bencher, pending: u32) {
    bench(bencher, Gap::NearAndFar, pending as u64 * 4, steady(pending));
}

/// Burst spreads in nanoseconds: 1 ms, 400 ms (the reproducer's), 10 s.
#[divan::bench(args = [1_000_000, 400_000_000, 10_000_000_000], sample_count = 10, sample_size = 1)]
fn burst_in_span(bencher: divan::Bencher, spread: u64) {
    bench(bencher, Gap::Uniform(spread), 0, |model, ctx| {
        // 200 wakers within [2^32, 2^33) ns: one level-4 bucket, sorted into a ~4 s due run.
        for _ in 0..200 {
            let at = (1u64 << 32) + model.rng.random_range(0..1u64 << 32);
            ctx.at(SimTime::from_nanos(at), Ev::Waker);
        }
    });
}
