//! The event calendar: pending events ordered by `(time, insertion sequence)`.
//!
//! Ties break first-in first-out, identically on every run. Because simulated time never goes
//! backwards, the calendar is a *monotone* priority queue, which lets it be a radix heap instead of
//! a binary heap — here with a radix of 256: an event lives in the bucket named by the highest
//! byte in which its time differs from a base time (the earliest pending one when the buckets
//! were last refilled) and by its value in that byte, and
//! moves only to lower levels, so it is moved at most 8 times over its life (a binary radix heap
//! moves an event a second in the future through up to 30 buckets).
//!
//! FIFO ties without storing a sequence number: every bucket stays in insertion order. A bucket
//! is refilled only when it and all lower buckets are empty (from a higher bucket, keeping that
//! bucket's order), and afterwards only receives newly scheduled events, which are the latest of
//! all. So events of equal time reach bucket 0 in the order they were scheduled, and bucket 0 is
//! drained from the front. The property test in `tests/it/calendar.rs` checks this against a
//! binary heap keyed by `(time, seq)`.
//!
//! Small buckets skip the lower levels: a bucket of fewer than `SORT_BELOW` (256) events is
//! sorted by time (stably, so ties keep insertion order) straight into the due run, which then
//! spans several times. Most buckets below the top levels hold one or two events, so this saves
//! most of the moves. The due run stays earlier than every bucketed event: a later event goes to a
//! bucket, and one scheduled within the run's span is inserted in place (after the events of
//! equal time) if that is within the run's last `INSERT_WITHIN` (256) entries. Deeper in, the run
//! is *cut* instead: its entries later than the new event go back to the buckets, in order, and the
//! event ends the shorter run. A sorted run came from a bucket at some level, and its entries all
//! share the base's bytes from that level up, so a cut puts them at lower levels: an event is cut
//! at most 8 times over its life, and a burst of events inside one bucket's span costs amortised
//! O(1) each instead of a memmove of the run each (the cliff of issue 15). FIFO ties survive a
//! cut: the buckets held only events later than the whole run, so the cut entries are the only
//! ones at their times and go back in their order; later events at those times follow them.
//! The base stays where it was while the run drains: moving it to each popped time would leave
//! bucketed events at levels that no longer describe them.
//!
//! Scheduling before the last popped time is a model bug and panics in debug builds; in release
//! builds such an event is clamped to "now", which keeps the loop monotone.

use std::collections::VecDeque;

use crate::time::SimTime;

/// Bits per digit: each level of buckets splits times by one byte.
const DIGIT_BITS: u32 = 8;
const DIGITS: usize = 1 << DIGIT_BITS;
const LEVELS: usize = 64 / DIGIT_BITS as usize;

/// Buckets with fewer events than this are sorted into the due run instead of being spread over
/// lower levels.
const SORT_BELOW: usize = 256;

/// An event scheduled within the due run's span is inserted in place if at most this many
/// entries follow it; deeper in, the run is cut there instead (module doc). A cut costs more
/// than a short memmove (its entries are bucketed and sorted again): on the 600 ms burst
/// neighbour of the reproducer, 32 cost 15% of the run time and 128 to 1,024 nothing measurable.
const INSERT_WITHIN: usize = 256;

/// Largest bucket capacity kept after the bucket is emptied.
const RETAINED_CAPACITY: usize = 1 << 12;

/// A pending event with its time.
struct Entry<E> {
    time: u64,
    event: E,
}

/// A monotone priority queue of events ordered by `(time, insertion sequence)`.
pub struct Calendar<E> {
    /// The earliest pending events, in `(time, insertion)` order; every bucketed event is later
    /// than all of them.
    due: VecDeque<Entry<E>>,
    /// `LEVELS × DIGITS` buckets: bucket `(level, d)` holds the events whose highest byte that
    /// differs from `base` is byte `level`, with value `d` there.
    buckets: Vec<Vec<Entry<E>>>,
    /// Per level, a bitset of its non-empty buckets.
    occupied: [[u64; DIGITS / 64]; LEVELS],
    /// Bitset of levels with a non-empty bucket.
    levels: u32,
    /// Earliest time in each non-empty bucket (kept as events arrive, so a refill needs no scan).
    earliest: Vec<u64>,
    /// The time of the last event popped (or peeked, when that refilled `due`): "now".
    last: u64,
    /// The radix base: buckets place events by the bytes in which they differ from it. It is
    /// the earliest time when the due run was filled, and stays put while the run drains (so
    /// every placement stays exact), never above `last`.
    base: u64,
    /// Events scheduled and popped so far; their difference is the number pending. Two counters
    /// each moved alone, not a length moved with the schedule count: the compiler merged
    /// `scheduled += 1; len += 1` into one 16-byte load and store, which stalled on the
    /// narrower store of `len -= 1` just before it (about half of `schedule`'s time).
    scheduled: u64,
    popped: u64,
    /// Scratch keys for `sort_small_bucket_into`.
    sort_keys: Vec<u64>,
    /// Scratch for the entries a cut moves from the due run back to the buckets.
    cut: Vec<Entry<E>>,
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
            buckets: (0..LEVELS * DIGITS).map(|_| Vec::new()).collect(),
            occupied: [[0; DIGITS / 64]; LEVELS],
            levels: 0,
            earliest: vec![u64::MAX; LEVELS * DIGITS],
            last: 0,
            base: 0,
            scheduled: 0,
            popped: 0,
            sort_keys: Vec::with_capacity(SORT_BELOW),
            cut: Vec::new(),
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        (self.scheduled - self.popped) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.scheduled == self.popped
    }

    /// The calendar's reference time: that of the last event popped, or of the earliest one when
    /// a peek refilled the due run. Events may not be scheduled before it (the run loop never
    /// schedules between a peek and its pop).
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
        let entry = Entry { time, event };
        match self.due.back() {
            // Within the due run's span, after the events of equal time.
            Some(last_due) if time <= last_due.time => {
                if time == last_due.time {
                    self.due.push_back(entry);
                } else {
                    self.insert_or_cut(entry);
                }
            }
            _ => self.put(entry),
        }
    }

    /// Puts `entry`, earlier than the due run's last, after the run's entries of equal or earlier
    /// time: in place if few follow it, or else by cutting the run there (module doc).
    fn insert_or_cut(&mut self, entry: Entry<E>) {
        let time = entry.time;
        let len = self.due.len();
        let at = self.due.partition_point(|e| e.time <= time);
        if len - at <= INSERT_WITHIN {
            self.due.insert(at, entry);
            return;
        }
        let mut cut = std::mem::take(&mut self.cut);
        cut.extend(self.due.drain(at..));
        for later in cut.drain(..) {
            self.put(later);
        }
        if cut.capacity() <= RETAINED_CAPACITY {
            self.cut = cut;
        }
        self.due.push_back(entry);
    }

    #[inline]
    fn put(&mut self, entry: Entry<E>) {
        let diff = entry.time ^ self.base;
        if diff == 0 {
            self.due.push_back(entry);
            return;
        }
        let level = ((63 - diff.leading_zeros()) / DIGIT_BITS) as usize;
        let digit = ((entry.time >> (level as u32 * DIGIT_BITS)) as usize) & (DIGITS - 1);
        self.occupied[level][digit / 64] |= 1 << (digit % 64);
        self.levels |= 1 << level;
        let index = level * DIGITS + digit;
        let earliest = &mut self.earliest[index];
        *earliest = (*earliest).min(entry.time);
        self.buckets[index].push(entry);
    }

    /// Removes and returns the earliest event with its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.due.is_empty() {
            if self.is_empty() {
                return None;
            }
            self.refill_due();
        }
        let entry = self.due.pop_front().expect("refilled");
        self.popped += 1;
        self.last = entry.time;
        Some((SimTime::from_nanos(entry.time), entry.event))
    }

    /// The time of the earliest pending event, without removing it.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.due.is_empty() {
            if self.is_empty() {
                return None;
            }
            self.refill_due();
        }
        self.due.front().map(|e| SimTime::from_nanos(e.time))
    }

    /// The earliest pending event as things stand, without moving anything; `None` when finding
    /// it would take a long scan. For hints only: scheduling can put an earlier event first.
    #[inline]
    pub fn peek_next(&self) -> Option<&E> {
        if let Some(entry) = self.due.front() {
            return Some(&entry.event);
        }
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        let words = &self.occupied[level];
        let word = words.iter().position(|w| *w != 0)?;
        let index = level * DIGITS + word * 64 + words[word].trailing_zeros() as usize;
        let earliest = self.earliest[index];
        // The first entry at the earliest time pops first (buckets keep insertion order).
        self.buckets[index].iter().take(16).find(|e| e.time == earliest).map(|e| &e.event)
    }

    /// Empties the lowest non-empty bucket — the lowest level's lowest digit, which holds the
    /// earliest events: its earliest time becomes the reference, and its events are sorted into
    /// `due` if there are few, or else spread, in order, over lower levels (those at the
    /// earliest time into `due`).
    fn refill_due(&mut self) {
        debug_assert!(self.levels != 0, "pending events live in some bucket");
        let level = self.levels.trailing_zeros() as usize;
        let words = &mut self.occupied[level];
        let word = words.iter().position(|w| *w != 0).expect("an occupied level has a bucket");
        let digit = word * 64 + words[word].trailing_zeros() as usize;
        words[word] &= !(1u64 << (digit % 64));
        if words.iter().all(|w| *w == 0) {
            self.levels &= !(1 << level);
        }
        let index = level * DIGITS + digit;
        let mut moving = std::mem::take(&mut self.buckets[index]);
        self.base = std::mem::replace(&mut self.earliest[index], u64::MAX);
        self.last = self.base;
        debug_assert_eq!(Some(self.last), moving.iter().map(|e| e.time).min());
        if moving.len() < SORT_BELOW {
            // Stable: equal times keep their insertion order.
            debug_assert!(self.due.is_empty());
            if level > 0 {
                sort_small_bucket_into(&mut moving, level, &mut self.sort_keys, &mut self.due);
            } else {
                // Level 0 holds one time only, in insertion order: the bucket becomes the run
                // without copying (`due` is empty), and the old run's buffer the bucket's.
                let spent = std::mem::replace(&mut self.due, VecDeque::from(moving));
                moving = Vec::from(spent);
            }
        } else {
            for entry in moving.drain(..) {
                self.put(entry);
            }
        }
        // Give the emptied vector back so its capacity is reused — unless it is large: every
        // bucket keeping its own peak capacity would hold several times the pending events.
        if moving.capacity() <= RETAINED_CAPACITY {
            self.buckets[index] = moving;
        }
    }
}

/// Moves a bucket of fewer than 256 events at `level` into the (empty) due run, sorted by time,
/// stably; the bucket is left empty.
///
/// Events of one bucket differ from each other only in their low `level` bytes, so each one's key
/// packs those bytes above its position in the bucket: keys are distinct, and an unstable sort of
/// plain integers (branch-free for short runs) orders them by (time, insertion). The events are
/// then gathered into the run in key order.
fn sort_small_bucket_into<E>(
    bucket: &mut Vec<Entry<E>>,
    level: usize,
    keys: &mut Vec<u64>,
    due: &mut VecDeque<Entry<E>>,
) {
    debug_assert!(bucket.len() < 256 && (1..LEVELS).contains(&level));
    let low_bits = (level as u32 * DIGIT_BITS).min(56);
    let mask = (1u64 << low_bits) - 1;
    keys.clear();
    keys.extend(bucket.iter().enumerate().map(|(i, e)| ((e.time & mask) << 8) | i as u64));
    keys.sort_unstable();
    due.reserve(bucket.len());
    let entries = bucket.as_ptr();
    // SAFETY: the low byte of the keys is a permutation of 0..bucket.len() (each position was
    // packed once), so every entry is read exactly once, in bounds; `set_len(0)` then forgets
    // the moved-out entries so they are not dropped twice. Nothing between the reads and
    // `set_len` can unwind: `reserve` above made room for every push.
    unsafe {
        for &key in keys.iter() {
            due.push_back(std::ptr::read(entries.add((key & 0xff) as usize)));
        }
        bucket.set_len(0);
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
    fn peek_next_names_the_event_pop_returns() {
        let mut cal = Calendar::new();
        assert!(cal.peek_next().is_none());
        for (t, label) in [(900, 'c'), (40, 'a'), (40, 'b'), (70_000, 'd'), (1 << 40, 'e')] {
            cal.schedule(SimTime::from_nanos(t), label);
        }
        while let Some(&next) = cal.peek_next() {
            assert_eq!(cal.pop().map(|(_, e)| e), Some(next));
        }
        assert!(cal.is_empty());
    }

    /// The sorted refill moves events out of a bucket by hand: each must be dropped exactly once,
    /// whether it is popped or still pending when the calendar goes.
    #[test]
    fn every_event_is_dropped_exactly_once() {
        let token = std::rc::Rc::new(());
        let mut cal = Calendar::new();
        let mut state = 12345u64;
        let mut popped = 0;
        for round in 0..2_000u64 {
            // A xorshift spread of delays from 1 ns to ~1 s, with ties.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let delay = (state % 1_000) << (state % 21);
            cal.schedule(cal.now() + crate::time::SimDuration::from_nanos(delay), token.clone());
            if round % 3 == 0 {
                popped += cal.pop().is_some() as usize;
            }
        }
        assert_eq!(std::rc::Rc::strong_count(&token), 1 + 2_000 - popped);
        while cal.len() > 700 {
            cal.pop();
        }
        drop(cal);
        assert_eq!(std::rc::Rc::strong_count(&token), 1);
    }

    /// A run sorted from one bucket, then an event deep inside it: the run is cut, and events
    /// scheduled later at the cut entries' times (and at the kept ones') must follow them.
    #[test]
    fn a_cut_keeps_fifo_ties_between_the_run_and_the_buckets() {
        let mut cal = Calendar::new();
        let mut expected = Vec::new();
        let mut seq = 0;
        let mut at = |cal: &mut Calendar<u32>, expected: &mut Vec<(u64, u32)>, t: u64| {
            cal.schedule(SimTime::from_nanos(t), seq);
            expected.push((t, seq));
            seq += 1;
        };
        // 200 events 1 µs apart: one level-3 bucket, sorted into the run on the first pop.
        for i in 0..200 {
            at(&mut cal, &mut expected, 1 << 24 | (i * 1_000));
        }
        expected.sort();
        let mut order = vec![cal.pop().unwrap()];
        assert_eq!(cal.due.len(), 199);
        // 200 more at the run's last time: it grows at its back, to 399.
        for _ in 0..200 {
            at(&mut cal, &mut expected, 1 << 24 | 199_000);
        }
        assert_eq!(cal.due.len(), 399);
        // Deep inside the run (at a pending time: after it), so the run is cut there.
        at(&mut cal, &mut expected, 1 << 24 | 50_000);
        assert_eq!(cal.due.len(), 51, "cut after the events at or before 50 µs");
        // Equal times on both sides of the cut, and one in the kept run's tail.
        for t in [50_000, 120_000, 199_000, 51_000, 10_000, 120_000] {
            at(&mut cal, &mut expected, 1 << 24 | t);
        }
        expected.sort();
        order.extend(std::iter::from_fn(|| cal.pop()));
        let order: Vec<_> = order.into_iter().map(|(t, e)| (t.as_nanos(), e)).collect();
        assert_eq!(order, expected);
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
