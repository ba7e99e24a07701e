//! The event calendar: pending events ordered by `(time, insertion sequence)`.
//!
//! Ties break first-in first-out, identically on every run. Because simulated time never goes
//! backwards, the calendar is a *monotone* priority queue, which lets it be a radix heap instead of
//! a binary heap: each event lives in the bucket named by the highest bit in which its key differs
//! from the last key popped, so an event is moved at most once per bit of key (128 here) over its
//! whole life, and usually only a handful of times. Keys pack time and sequence into one `u128`
//! (`time << 64 | seq`), so ordering by key is ordering by `(time, seq)`.
//!
//! Scheduling before the last popped time is a model bug and panics in debug builds; in release
//! builds such an event is clamped to "now", which keeps the loop monotone.

use crate::time::SimTime;

/// Buckets: 0 holds keys equal to the last popped key; bucket `b` holds keys whose highest bit
/// differing from it is bit `b - 1`.
const BUCKETS: usize = 129;

/// A pending event with its place in the order.
struct Entry<E> {
    key: u128,
    event: E,
}

/// A monotone priority queue of events keyed by `(time, insertion sequence)`.
pub struct Calendar<E> {
    buckets: Vec<Vec<Entry<E>>>,
    /// Bitset of non-empty buckets, so finding the next one is a `trailing_zeros`.
    occupied: u128,
    /// Bucket 128 needs its own flag (the bitset has 128 bits).
    top_occupied: bool,
    last_key: u128,
    next_seq: u64,
    len: usize,
}

impl<E> Default for Calendar<E> {
    fn default() -> Self {
        Self::new()
    }
}

fn key_of(time: SimTime, seq: u64) -> u128 {
    ((time.as_nanos() as u128) << 64) | seq as u128
}

impl<E> Calendar<E> {
    pub fn new() -> Self {
        Calendar {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: 0,
            top_occupied: false,
            last_key: 0,
            next_seq: 0,
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

    /// The time of the last event popped (the simulation's "now").
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos((self.last_key >> 64) as u64)
    }

    /// Events scheduled so far; also the sequence number the next one will get.
    pub fn scheduled(&self) -> u64 {
        self.next_seq
    }

    /// Schedules `event` at `time`; among events at the same time, earlier calls pop first.
    pub fn schedule(&mut self, time: SimTime, event: E) {
        debug_assert!(time >= self.now(), "event scheduled in the past: {time} < {}", self.now());
        let time = time.max(self.now());
        let key = key_of(time, self.next_seq);
        self.next_seq += 1;
        self.len += 1;
        self.put(Entry { key, event });
    }

    #[inline]
    fn bucket_of(&self, key: u128) -> usize {
        (128 - (key ^ self.last_key).leading_zeros()) as usize
    }

    #[inline]
    fn put(&mut self, entry: Entry<E>) {
        let bucket = self.bucket_of(entry.key);
        if bucket < 128 {
            self.occupied |= 1u128 << bucket;
        } else {
            self.top_occupied = true;
        }
        self.buckets[bucket].push(entry);
    }

    /// Removes and returns the earliest event with its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.len == 0 {
            return None;
        }
        if self.occupied & 1 == 0 {
            self.refill_bucket_zero();
        }
        let entry = self.buckets[0].pop().expect("bucket 0 refilled");
        if self.buckets[0].is_empty() {
            self.occupied &= !1;
        }
        self.len -= 1;
        Some((SimTime::from_nanos((entry.key >> 64) as u64), entry.event))
    }

    /// The time of the earliest pending event, without removing it.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.len == 0 {
            return None;
        }
        if self.occupied & 1 == 0 {
            self.refill_bucket_zero();
        }
        let key = self.buckets[0].last().expect("bucket 0 refilled").key;
        Some(SimTime::from_nanos((key >> 64) as u64))
    }

    /// Takes the lowest non-empty bucket, makes its minimum the new reference key and spreads the
    /// bucket over lower buckets. Keys are unique, so afterwards bucket 0 holds exactly one entry.
    fn refill_bucket_zero(&mut self) {
        let source = if self.occupied != 0 {
            self.occupied.trailing_zeros() as usize
        } else {
            debug_assert!(self.top_occupied);
            128
        };
        let mut moving = std::mem::take(&mut self.buckets[source]);
        if source < 128 {
            self.occupied &= !(1u128 << source);
        } else {
            self.top_occupied = false;
        }
        self.last_key = moving.iter().map(|e| e.key).min().expect("occupied bucket");
        for entry in moving.drain(..) {
            self.put(entry);
        }
        // Give the emptied vector back so its capacity is reused.
        self.buckets[source] = moving;
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
