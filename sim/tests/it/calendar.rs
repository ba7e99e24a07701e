//! The radix-heap calendar pops exactly what a binary heap keyed by (time, seq) would, and its
//! `peek_next` hint, when it gives one, names that event.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use proptest::prelude::*;
use sim::{Calendar, SimTime};

/// An operation on the calendar: schedule at now + delay, or pop.
#[derive(Clone, Debug)]
enum Op {
    Schedule(u64),
    Pop,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let delay = prop_oneof![
        3 => Just(0u64),
        5 => 0u64..16,
        3 => 0u64..1_000_000,
        1 => 0u64..u64::MAX / 4,
    ];
    proptest::collection::vec(
        prop_oneof![3 => delay.prop_map(Op::Schedule), 2 => Just(Op::Pop)],
        0..400,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pops_in_time_then_insertion_order(ops in ops()) {
        let mut cal = Calendar::new();
        let mut reference = BinaryHeap::new();
        let mut seq = 0u64;
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Schedule(delay) => {
                    let t = now.saturating_add(delay);
                    cal.schedule(SimTime::from_nanos(t), seq);
                    reference.push(Reverse((t, seq)));
                    seq += 1;
                }
                Op::Pop => {
                    let want = reference.pop().map(|Reverse((t, s))| (SimTime::from_nanos(t), s));
                    // The prefetch hint, when it names an event, names the one popped next.
                    if let Some(&hint) = cal.peek_next() {
                        prop_assert_eq!(Some(hint), want.map(|(_, s)| s));
                    }
                    let got = cal.pop();
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = got {
                        now = t.as_nanos();
                    }
                }
            }
            prop_assert_eq!(cal.len(), reference.len());
        }
        while let Some(Reverse((t, s))) = reference.pop() {
            prop_assert_eq!(cal.pop(), Some((SimTime::from_nanos(t), s)));
        }
        prop_assert!(cal.pop().is_none());
    }
}

/// Long engine-like runs (pop, then schedule a few events at delays spanning every level), where
/// the due run spans many times and buckets of all sizes are refilled: each pop and each peeked
/// time must match the reference heap.
#[test]
fn long_runs_pop_in_time_then_insertion_order() {
    use rand::{RngExt, SeedableRng};
    for seed in 0..300u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut cal = Calendar::new();
        let mut reference = BinaryHeap::new();
        let (mut seq, mut now) = (0u64, 0u64);
        for _ in 0..rng.random_range(100..5000) {
            if rng.random_range(0..5) < 3 {
                for _ in 0..rng.random_range(0..4) {
                    let delay = match rng.random_range(0..6) {
                        0 => 0,
                        1 => rng.random_range(0..300u64),
                        2 => rng.random_range(0..70_000u64),
                        3 => rng.random_range(0..20_000_000u64),
                        4 => rng.random_range(0..3_000_000_000u64),
                        _ => rng.random_range(0..1000u64) * 100,
                    };
                    cal.schedule(SimTime::from_nanos(now + delay), seq);
                    reference.push(Reverse((now + delay, seq)));
                    seq += 1;
                }
            } else {
                let want = reference.pop().map(|Reverse((t, s))| (SimTime::from_nanos(t), s));
                assert_eq!(cal.peek_time(), want.map(|(t, _)| t), "seed {seed}");
                let got = cal.pop();
                assert_eq!(got, want, "seed {seed}");
                if let Some((t, _)) = got {
                    now = t.as_nanos();
                }
            }
        }
        while let Some(Reverse((t, s))) = reference.pop() {
            assert_eq!(cal.pop(), Some((SimTime::from_nanos(t), s)), "seed {seed}");
        }
    }
}

/// The calendar next to the reference heap it must agree with, op by op.
struct Checked {
    cal: Calendar<u64>,
    reference: BinaryHeap<Reverse<(u64, u64)>>,
    seq: u64,
    now: u64,
}

impl Checked {
    fn new() -> Self {
        Checked { cal: Calendar::new(), reference: BinaryHeap::new(), seq: 0, now: 0 }
    }

    fn schedule_at(&mut self, t: u64) {
        self.cal.schedule(SimTime::from_nanos(t), self.seq);
        self.reference.push(Reverse((t, self.seq)));
        self.seq += 1;
    }

    fn pop(&mut self) {
        let want = self.reference.pop().map(|Reverse((t, s))| (SimTime::from_nanos(t), s));
        if let Some(&hint) = self.cal.peek_next() {
            assert_eq!(Some(hint), want.map(|(_, s)| s), "peek_next hint");
        }
        assert_eq!(self.cal.peek_time(), want.map(|(t, _)| t));
        let got = self.cal.pop();
        assert_eq!(got, want);
        if let Some((t, _)) = got {
            self.now = t.as_nanos();
        }
    }

    fn drain(&mut self) {
        while !self.reference.is_empty() {
            self.pop();
        }
        assert!(self.cal.pop().is_none());
    }
}

/// A burst inside one bucket's span: a level-4 bucket (a ~4 s span) of fewer than 256 events is
/// sorted into the due run, then 200,000 events are scheduled inside that span while it drains,
/// which cuts the run over and over.
#[test]
fn a_burst_inside_one_buckets_span_pops_in_order() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
    let mut c = Checked::new();
    let base = 1u64 << 32;
    for _ in 0..200 {
        c.schedule_at(base + rng.random_range(0..1u64 << 31));
    }
    c.pop();
    for i in 0..200_000u64 {
        let end = base + (1 << 31);
        let t = rng.random_range(c.now..end.max(c.now + 1));
        c.schedule_at(t);
        // Now and then the same time again, and a time already pending.
        if i % 7 == 0 {
            c.schedule_at(t);
        }
        if i % 3 == 0 {
            c.pop();
        }
    }
    c.drain();
}

/// Many equal times: a few distinct times, each scheduled tens of thousands of times, interleaved,
/// while popping; then a due run of a million events at one time with insertions before its end.
#[test]
fn many_equal_times_and_a_run_of_a_million_pop_in_order() {
    let mut c = Checked::new();
    for i in 0..60_000u64 {
        c.schedule_at(c.now + [0, 5, 1_000, 5, 70_000][(i % 5) as usize]);
        if i % 4 == 0 {
            c.pop();
        }
    }
    c.drain();
    let t = c.now + 3_000_000_000;
    for _ in 0..1_000_000 {
        c.schedule_at(t);
    }
    c.pop();
    for i in 0..1_000u64 {
        c.schedule_at(t + i % 3);
        c.schedule_at(t);
    }
    c.drain();
}

/// A due run of ~100,000 distinct times (a large bucket spread over the levels, then small
/// buckets sorted), with every insertion deep inside it, and far-future timers mixed with near
/// events at every step.
#[test]
fn deep_insertions_and_far_timers_pop_in_order() {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
    let mut c = Checked::new();
    for _ in 0..100_000 {
        c.schedule_at(rng.random_range(0..1u64 << 20));
    }
    for i in 0..300_000u64 {
        let delay = match i % 6 {
            0 => 0,
            1 => rng.random_range(0..100),
            2 => rng.random_range(0..1u64 << 20),
            3 => rng.random_range(1_000_000_000..1_000_000_000_000),
            4 => u64::MAX / 4 + rng.random_range(0..1_000),
            _ => rng.random_range(0..10_000),
        };
        c.schedule_at(c.now + delay);
        if i % 2 == 0 {
            c.pop();
        }
    }
    c.drain();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Adversarial shapes in small: a bucket sorted into the due run, then events scheduled at
    /// offsets inside its span (deep in it, at its end, at times already pending) while it drains.
    #[test]
    fn bursts_inside_a_sorted_run_pop_in_order(
        level in 1u32..5,
        first in proptest::collection::vec(0u64..256, 1..255),
        ops in proptest::collection::vec(prop_oneof![
            3 => (0u64..256).prop_map(Some),
            1 => Just(None),
        ], 0..600),
    ) {
        let mut c = Checked::new();
        let shift = 8 * level - 8;
        let base = 1u64 << (8 * level);
        for &x in &first {
            c.schedule_at(base + (x << shift));
        }
        c.pop();
        for op in ops {
            match op {
                Some(x) => c.schedule_at((base + (x << shift)).max(c.now)),
                None => c.pop(),
            }
        }
        c.drain();
    }
}
