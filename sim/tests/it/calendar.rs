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
