//! The busiest window of a level over time: the highest mean of the level over any run of
//! consecutive fixed-length buckets (e.g. ten 100 ms buckets: the busiest second), which a run's
//! time average hides.

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// Tracks a level's busiest window as it changes, in O(1) per change within a bucket.
#[derive(Clone, Debug)]
pub struct BusiestWindow {
    bucket_ns: u64,
    buckets: usize,
    level: u64,
    last_change_ns: u64,
    /// Index of the bucket `last_change_ns` falls in, and the level·ns in it so far.
    bucket: u64,
    area: u128,
    /// Areas of the last completed buckets (at most `buckets`), and their sum.
    recent: VecDeque<u128>,
    recent_sum: u128,
    /// The largest sum of `buckets` consecutive completed buckets.
    best: u128,
}

impl BusiestWindow {
    /// Windows of `buckets` consecutive `bucket`-long intervals, aligned to time zero.
    pub fn new(bucket: SimDuration, buckets: usize) -> Self {
        assert!(bucket.as_nanos() > 0 && buckets > 0, "a window needs buckets");
        BusiestWindow {
            bucket_ns: bucket.as_nanos(),
            buckets,
            level: 0,
            last_change_ns: 0,
            bucket: 0,
            area: 0,
            recent: VecDeque::with_capacity(buckets + 1),
            recent_sum: 0,
            best: 0,
        }
    }

    /// Ten 100 ms buckets.
    pub fn one_second() -> Self {
        BusiestWindow::new(SimDuration::from_millis(100), 10)
    }

    /// The level becomes `level` at `now` (not before the previous change).
    #[inline]
    pub fn set(&mut self, now: SimTime, level: u64) {
        self.advance(now.as_nanos());
        self.level = level;
    }

    fn advance(&mut self, t: u64) {
        let mut boundary = (self.bucket + 1) * self.bucket_ns;
        while t >= boundary {
            self.area += self.level as u128 * (boundary - self.last_change_ns) as u128;
            self.last_change_ns = boundary;
            self.close_bucket();
            if self.level == 0 && self.recent_sum == 0 {
                // Idle, and no busy bucket left in reach: skip the empty buckets at once.
                self.bucket = self.bucket.max(t / self.bucket_ns);
                self.last_change_ns = self.last_change_ns.max(self.bucket * self.bucket_ns);
            }
            boundary = (self.bucket + 1) * self.bucket_ns;
        }
        self.area += self.level as u128 * (t - self.last_change_ns) as u128;
        self.last_change_ns = t;
    }

    fn close_bucket(&mut self) {
        self.recent.push_back(self.area);
        self.recent_sum += self.area;
        if self.recent.len() > self.buckets {
            self.recent_sum -= self.recent.pop_front().expect("more than one bucket");
        }
        self.best = self.best.max(self.recent_sum);
        self.bucket += 1;
        self.area = 0;
    }

    /// The mean level over the busiest window up to `end`; a run shorter than one window is
    /// averaged over its whole length (the bucket in progress at `end` counts as it stands).
    pub fn peak_mean(&self, end: SimTime) -> f64 {
        let mut at_end = self.clone();
        at_end.advance(end.as_nanos());
        let window_ns = self.bucket_ns as u128 * self.buckets as u128;
        // The window that ends at `end`: the bucket in progress and the completed ones before it.
        let before: u128 = at_end.recent.iter().rev().take(self.buckets - 1).sum();
        let best = at_end.best.max(before + at_end.area);
        let span_ns = (end.as_nanos() as u128).min(window_ns);
        if span_ns == 0 { 0.0 } else { best as f64 / span_ns as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimTime {
        SimTime::from_nanos(n * 1_000_000)
    }

    #[test]
    fn a_half_second_burst_in_a_long_quiet_run_is_half_busy_in_its_busiest_second() {
        let mut w = BusiestWindow::one_second();
        w.set(ms(5_000), 1);
        w.set(ms(5_500), 0);
        assert!((w.peak_mean(ms(60_000)) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_busiest_second_is_found_across_bucket_boundaries() {
        let mut w = BusiestWindow::one_second();
        // Two servers busy over [1.05 s, 2.05 s): a full second of level 2, not bucket-aligned;
        // the best aligned window [1.1, 2.1) holds 2 × 0.95 s.
        w.set(ms(1_050), 2);
        w.set(ms(2_050), 0);
        assert!((w.peak_mean(ms(10_000)) - 1.9).abs() < 1e-9);
    }

    #[test]
    fn a_run_shorter_than_a_window_is_averaged_over_its_length() {
        let mut w = BusiestWindow::one_second();
        w.set(ms(0), 1);
        w.set(ms(200), 0);
        assert!((w.peak_mean(ms(400)) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_level_held_to_the_end_counts_in_the_last_window() {
        let mut w = BusiestWindow::one_second();
        w.set(ms(9_500), 3);
        assert!((w.peak_mean(ms(10_000)) - 1.5).abs() < 1e-12);
    }
}
