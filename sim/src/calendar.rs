//! The event calendar: pending events ordered by `(time, insertion sequence)`.
//!
//! Ties break first-in first-out, identically on every run. Because simulated time never goes
//! backwards, the calendar is a *monotone* priority queue, which lets it be a radix heap instead of
//! a binary heap: an event lives in the bucket named by the highest bit in which its time differs
//! from the last time popped, and moves only to lower buckets, so it is moved at most 64 times
//! over its life and usually a handful.
//!
//! FIFO ties without storing a sequence number: every bucket stays in insertion order. A bucket
//! is refilled only when it and all lower buckets are empty (from a higher bucket, keeping that
//! bucket's order), and afterwards only receives newly scheduled events, which are the latest of
//! all. So events of equal time reach bucket 0 in the order they were scheduled, and bucket 0 is
//! drained from the front. The property test in `tests/it/calendar.rs` checks this against a
//! binary heap keyed by `(time, seq)`.
//!
//! Scheduling before the last popped time is a model bug and panics in debug builds; in release
//! builds such an event is clamped to "now", which keeps the loop monotone.

use std::collections::VecDeque;

use crate::time::SimTime;

/// Buckets: 0 holds times equal to the last popped time; bucket `b` holds times whose highest bit
/// differing from it is bit `b - 1`.
const BUCKETS: usize = 65;

/// Largest bucket capacity kept after the bucket is emptied.
const RETAINED_CAPACITY: usize = 1 << 12;

/// A pending event with its time.
struct Entry<E> {
    time: u64,
    event: E,
}

/// A monotone priority queue of events ordered by `(time, insertion sequence)`.
pub struct Calendar<E> {
    /// Events due at exactly `last`, in insertion order.
    due: VecDeque<Entry<E>>,
    /// Buckets 1..=64; index 0 unused.
    buckets: Vec<Vec<Entry<E>>>,
    /// Bitset of non-empty buckets 1..=64.
    occupied: u128,
    /// Earliest time in each non-empty bucket (kept as events arrive, so a refill needs no scan).
    earliest: [u64; BUCKETS],
    last: u64,
    scheduled: u64,
    len: usize,
}

impl<E> Default for Calendar<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Calendar<E> {
    pub fn new() -> Self {
        Calendar {
            due: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: 0,
            earliest: [u64::MAX; BUCKETS],
            last: 0,
            scheduled: 0,
            len: 0,
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The calendar's reference time: that of the last event popped or peeked. Events may not be
    /// scheduled before it (the run loop never schedules between a peek and its pop).
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos(self.last)
    }

    /// Events scheduled so far.
    pub fn scheduled(&self) -> u64 {
        self.scheduled
    }

    /// Schedules `event` at `time`; among events at the same time, earlier calls pop first.
    #[inline]
    pub fn schedule(&mut self, time: SimTime, event: E) {
        debug_assert!(time >= self.now(), "event scheduled in the past: {time} < {}", self.now());
        let time = time.as_nanos().max(self.last);
        self.scheduled += 1;
        self.len += 1;
        self.put(Entry { time, event });
    }

    #[inline]
    fn put(&mut self, entry: Entry<E>) {
        let bucket = (64 - (entry.time ^ self.last).leading_zeros()) as usize;
        if bucket == 0 {
            self.due.push_back(entry);
        } else {
            self.occupied |= 1u128 << bucket;
            let earliest = &mut self.earliest[bucket];
            *earliest = (*earliest).min(entry.time);
            self.buckets[bucket].push(entry);
        }
    }

    /// Removes and returns the earliest event with its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.due.is_empty() {
            if self.len == 0 {
                return None;
            }
            self.refill_due();
        }
        let entry = self.due.pop_front().expect("refilled");
        self.len -= 1;
        Some((SimTime::from_nanos(entry.time), entry.event))
    }

    /// The time of the earliest pending event, without removing it.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.due.is_empty() {
            if self.len == 0 {
                return None;
            }
            self.refill_due();
        }
        Some(SimTime::from_nanos(self.last))
    }

    /// Empties the lowest non-empty bucket: its earliest time becomes the reference, and its
    /// events spread, in order, over lower buckets (those at the earliest time into `due`).
    fn refill_due(&mut self) {
        let source = self.occupied.trailing_zeros() as usize;
        debug_assert!((1..BUCKETS).contains(&source), "pending events live in some bucket");
        self.occupied &= !(1u128 << source);
        let mut moving = std::mem::take(&mut self.buckets[source]);
        self.last = std::mem::replace(&mut self.earliest[source], u64::MAX);
        debug_assert_eq!(Some(self.last), moving.iter().map(|e| e.time).min());
        for entry in moving.drain(..) {
            self.put(entry);
        }
        // Give the emptied vector back so its capacity is reused — unless it is large: every
        // bucket keeping its own peak capacity would hold several times the pending events.
        if moving.capacity() <= RETAINED_CAPACITY {
            self.buckets[source] = moving;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_pop_in_insertion_order() {
        let mut cal = Calendar::new();
        let t = SimTime::from_nanos(5);
        for label in ["a", "b", "c"] {
            cal.schedule(t, label);
        }
        cal.schedule(SimTime::from_nanos(1), "first");
        let order: Vec<_> = std::iter::from_fn(|| cal.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["first", "a", "b", "c"]);
    }

    #[test]
    fn events_scheduled_now_follow_those_already_due_now() {
        let mut cal = Calendar::new();
        cal.schedule(SimTime::from_nanos(10), 1);
        cal.schedule(SimTime::from_nanos(10), 2);
        assert_eq!(cal.pop(), Some((SimTime::from_nanos(10), 1)));
        cal.schedule(SimTime::from_nanos(10), 3);
        assert_eq!(cal.pop(), Some((SimTime::from_nanos(10), 2)));
        assert_eq!(cal.pop(), Some((SimTime::from_nanos(10), 3)));
        assert_eq!(cal.pop(), None);
        assert_eq!(cal.now(), SimTime::from_nanos(10));
    }

    #[test]
    fn extreme_times_are_ordered() {
        let mut cal = Calendar::new();
        cal.schedule(SimTime::MAX, 'z');
        cal.schedule(SimTime::ZERO, 'a');
        cal.schedule(SimTime::from_nanos(1 << 63), 'm');
        assert_eq!(cal.peek_time(), Some(SimTime::ZERO));
        let order: Vec<_> = std::iter::from_fn(|| cal.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ['a', 'm', 'z']);
    }
}
