//! The classic hold model: N pending events; each pop schedules one more at now + Exp(1 s).
//! Measures the calendar and run loop alone. Throughput is reported in events per second.

use divan::counter::ItemsCount;
use rand_distr::{Distribution, Exp1};
use sim::{Context, Limits, Model, RngStream, SimDuration, SimTime, rng};

fn main() {
    divan::main();
}

struct Hold {
    rng: RngStream,
}

impl Model for Hold {
    type Event = u32;
    #[inline]
    fn handle(&mut self, _now: SimTime, id: u32, ctx: &mut Context<u32>) {
        let gap: f64 = Exp1.sample(&mut self.rng);
        ctx.after(SimDuration::from_secs_f64(gap), id);
    }
}

const EVENTS: u64 = 2_000_000;

#[divan::bench(args = [1_000, 100_000], sample_count = 10, sample_size = 1)]
fn hold(bencher: divan::Bencher, pending: u32) {
    bencher
        .counter(ItemsCount::new(EVENTS))
        .with_inputs(|| {
            let mut model = Hold { rng: rng::stream(1, "hold") };
            let mut ctx = Context::new();
            for id in 0..pending {
                let gap: f64 = Exp1.sample(&mut model.rng);
                ctx.at(SimTime::ZERO + SimDuration::from_secs_f64(gap), id);
            }
            // Warm the calendar so the measured part runs in its steady state.
            sim::run(
                &mut model,
                &mut ctx,
                Limits { max_events: pending as u64 * 4, ..Limits::default() },
            );
            (model, ctx)
        })
        .bench_values(|(mut model, mut ctx)| {
            let stats =
                sim::run(&mut model, &mut ctx, Limits { max_events: EVENTS, ..Limits::default() });
            assert_eq!(stats.events, EVENTS);
            (model, ctx)
        });
}

/// The same hold model on a plain `BinaryHeap` keyed by (time, seq): the reference point the
/// calendar is measured against on the same machine.
#[divan::bench(args = [1_000, 100_000], sample_count = 10, sample_size = 1)]
fn hold_binary_heap_reference(bencher: divan::Bencher, pending: u32) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    bencher
        .counter(ItemsCount::new(EVENTS))
        .with_inputs(|| {
            let mut rng = rng::stream(1, "hold");
            let mut heap = BinaryHeap::new();
            for id in 0..pending {
                let gap: f64 = Exp1.sample(&mut rng);
                heap.push(Reverse((SimDuration::from_secs_f64(gap).as_nanos(), id as u64, id)));
            }
            (rng, heap, pending as u64)
        })
        .bench_values(|(mut rng, mut heap, mut seq)| {
            for _ in 0..EVENTS {
                let Reverse((now, _, id)) = heap.pop().expect("hold keeps N pending");
                let gap: f64 = Exp1.sample(&mut rng);
                heap.push(Reverse((now + SimDuration::from_secs_f64(gap).as_nanos(), seq, id)));
                seq += 1;
            }
            (rng, heap)
        });
}
