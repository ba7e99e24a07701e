//! The traffic as a production log would show it: the requests actually sent, by kind and by
//! time relative to the opening, so a scenario can be checked against measured figures (share
//! of requests in the last seconds before the opening, repeat share, peak rates and width).

use serde::{Deserialize, Serialize};
use sim::SimTime;

/// What sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// A user's first click.
    First,
    /// An extra click the front end let through.
    Duplicate,
    /// A click again after "not open", at the opening.
    Reclick,
    /// A retry after a failure or a timeout.
    Retry,
    /// `queue_stream`: asking for the answer to a queued request.
    Poll,
    Bot,
}

/// Width of the time buckets the peaks are measured on.
const BUCKET_NS: i64 = 10_000_000;
/// The span around the opening the peaks are measured over: 60 s before to 120 s after.
const BEFORE_NS: i64 = 60_000_000_000;
const AFTER_NS: i64 = 120_000_000_000;

/// Counts requests as they are sent.
#[derive(Debug)]
pub struct TrafficRecorder {
    opens_at_ns: i64,
    by_kind: [u64; 6],
    /// Requests per 10 ms bucket from 60 s before the opening to 120 s after.
    buckets: Vec<u32>,
    /// Requests in the windows of [`ObservedTraffic`], by window.
    in_windows: [u64; 4],
}

/// The windows relative to the opening, in ns: `[from, until)`.
const WINDOWS_NS: [(i64, i64); 4] =
    [(-5_000_000_000, 0), (-3_000_000_000, 0), (0, 1_000_000_000), (0, 10_000_000_000)];

impl TrafficRecorder {
    pub fn new(opens_at: SimTime) -> Self {
        TrafficRecorder {
            opens_at_ns: opens_at.as_nanos() as i64,
            by_kind: [0; 6],
            buckets: vec![0; ((BEFORE_NS + AFTER_NS) / BUCKET_NS) as usize],
            in_windows: [0; 4],
        }
    }

    /// A request of `kind` is sent at `now`.
    #[inline]
    pub fn sent(&mut self, now: SimTime, kind: RequestKind) {
        self.by_kind[kind as usize] += 1;
        let t = now.as_nanos() as i64 - self.opens_at_ns;
        for (count, (from, until)) in self.in_windows.iter_mut().zip(WINDOWS_NS) {
            *count += u64::from((from..until).contains(&t));
        }
        if (-BEFORE_NS..AFTER_NS).contains(&t) {
            self.buckets[((t + BEFORE_NS) / BUCKET_NS) as usize] += 1;
        }
    }

    /// The figures.
    pub fn finish(&self) -> ObservedTraffic {
        let [first, duplicate, reclick, retry, poll, bot] = self.by_kind;
        let requests: u64 = self.by_kind.iter().sum();
        let share = |n: u64| if requests == 0 { 0.0 } else { n as f64 / requests as f64 };
        let submissions = first + duplicate + reclick + retry;
        let repeats = duplicate + reclick + retry;
        let per_100ms = sliding_sums(&self.buckets, 10);
        let per_1s = sliding_sums(&self.buckets, 100);
        let peak_100ms = per_100ms.iter().copied().max().unwrap_or(0);
        let peak_1s = per_1s.iter().copied().max().unwrap_or(0);
        ObservedTraffic {
            requests,
            first,
            duplicate,
            reclick,
            retry,
            poll,
            bot,
            share_last_5s_before_opening: share(self.in_windows[0]),
            share_last_3s_before_opening: share(self.in_windows[1]),
            share_first_1s_after_opening: share(self.in_windows[2]),
            share_first_10s_after_opening: share(self.in_windows[3]),
            repeat_share: if submissions == 0 { 0.0 } else { repeats as f64 / submissions as f64 },
            duplicate_share: share(duplicate),
            peak_1s_per_s: peak_1s as f64,
            peak_100ms_per_s: peak_100ms as f64 * 10.0,
            peak_width_s: half_height_width(&per_100ms) as f64 / (1e9 / BUCKET_NS as f64),
        }
    }
}

/// Sums of `n` consecutive buckets, one per starting bucket.
fn sliding_sums(buckets: &[u32], n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(buckets.len().saturating_sub(n) + 1);
    let mut sum: u64 = buckets.iter().take(n).map(|&c| u64::from(c)).sum();
    out.push(sum);
    for i in n..buckets.len() {
        sum = sum + u64::from(buckets[i]) - u64::from(buckets[i - n]);
        out.push(sum);
    }
    out
}

/// Buckets around the highest value that stay at or above half of it, contiguously.
fn half_height_width(rate: &[u64]) -> usize {
    let Some((peak_at, &peak)) = rate.iter().enumerate().max_by_key(|&(i, &r)| (r, usize::MAX - i))
    else {
        return 0;
    };
    if peak == 0 {
        return 0;
    }
    let high = |r: u64| 2 * r >= peak;
    let left = rate[..peak_at].iter().rev().take_while(|&&r| high(r)).count();
    let right = rate[peak_at + 1..].iter().take_while(|&&r| high(r)).count();
    left + 1 + right
}

/// The requests sent in a run, as measured in production: `metrics.traffic_observed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedTraffic {
    /// Every request sent: first clicks, duplicates, re-clicks, retries, polls, bots.
    pub requests: u64,
    pub first: u64,
    pub duplicate: u64,
    /// Clicks again by a human: after "not open", or after a purchase page's error message
    /// (counted as `retry` in `attempts_by_kind`).
    pub reclick: u64,
    pub retry: u64,
    pub poll: u64,
    pub bot: u64,
    /// Shares of all requests sent in windows relative to the opening.
    pub share_last_5s_before_opening: f64,
    pub share_last_3s_before_opening: f64,
    pub share_first_1s_after_opening: f64,
    pub share_first_10s_after_opening: f64,
    /// Purchase submissions that are not a user's first click: (duplicate + reclick + retry) ÷
    /// (first + duplicate + reclick + retry).
    pub repeat_share: f64,
    /// Duplicates ÷ requests.
    pub duplicate_share: f64,
    /// Most requests in any 1 s (per second), from 60 s before the opening to 120 s after.
    pub peak_1s_per_s: f64,
    /// Most requests in any 100 ms, per second.
    pub peak_100ms_per_s: f64,
    /// How long the 100 ms rate stays at or above half its peak around the peak.
    pub peak_width_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::SimDuration;

    fn at(opens: SimTime, offset_ms: i64) -> SimTime {
        SimTime::from_nanos((opens.as_nanos() as i64 + offset_ms * 1_000_000) as u64)
    }

    #[test]
    fn a_synthetic_trace_gives_its_known_figures() {
        let opens = SimTime::ZERO + SimDuration::from_secs(100);
        let mut r = TrafficRecorder::new(opens);
        // 600 first clicks spread evenly over the 2 s before the opening (one per 10 ms × 3),
        // 200 duplicates at −4 s, 100 re-clicks in the first 100 ms after, 100 retries at +20 s.
        for i in 0..600 {
            r.sent(at(opens, -2000 + (i / 3) * 10), RequestKind::First);
        }
        for _ in 0..200 {
            r.sent(at(opens, -4000), RequestKind::Duplicate);
        }
        for i in 0..100 {
            r.sent(at(opens, i), RequestKind::Reclick);
        }
        for _ in 0..100 {
            r.sent(at(opens, 20_000), RequestKind::Retry);
        }
        let o = r.finish();
        assert_eq!(
            (o.requests, o.first, o.duplicate, o.reclick, o.retry),
            (1000, 600, 200, 100, 100)
        );
        assert!((o.share_last_5s_before_opening - 0.8).abs() < 1e-12);
        assert!((o.share_last_3s_before_opening - 0.6).abs() < 1e-12);
        assert!((o.share_first_1s_after_opening - 0.1).abs() < 1e-12);
        assert!((o.share_first_10s_after_opening - 0.1).abs() < 1e-12);
        assert!((o.repeat_share - 0.4).abs() < 1e-12);
        assert!((o.duplicate_share - 0.2).abs() < 1e-12);
        // The 200 duplicates in one 10 ms bucket are the densest 100 ms; the densest second is
        // the 0.9 s before the opening (270 first clicks) and the 100 ms after (100 re-clicks).
        assert_eq!(o.peak_100ms_per_s, 2000.0);
        assert_eq!(o.peak_1s_per_s, 370.0);
        // The duplicates' 100 ms rate (200) stays ≥ half for the 10 windows holding the bucket.
        assert!((o.peak_width_s - 0.1).abs() < 1e-9, "{}", o.peak_width_s);
    }

    #[test]
    fn requests_outside_the_measured_span_still_count() {
        let opens = SimTime::ZERO + SimDuration::from_secs(100);
        let mut r = TrafficRecorder::new(opens);
        r.sent(SimTime::ZERO, RequestKind::Bot);
        r.sent(at(opens, 500_000), RequestKind::Poll);
        let o = r.finish();
        assert_eq!((o.requests, o.bot, o.poll), (2, 1, 1));
        assert_eq!((o.peak_1s_per_s, o.peak_width_s), (0.0, 0.0));
    }
}
