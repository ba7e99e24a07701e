//! Statistics gathered during a run: time-weighted levels, latency histograms, and confidence
//! intervals over replications.
//!
//! Levels (servers busy, queue length) are integrated over simulated time, so their mean is a
//! true time average. Latencies go into HDR histograms at 3 significant figures (relative error
//! ≤ 0.1%, far inside the 1% the reports promise), which merge exactly and in any order; their
//! mean is kept exact alongside, from an integer sum of nanoseconds.

use hdrhistogram::Histogram;
use statrs::distribution::{ContinuousCDF, StudentsT};

mod busiest;

pub use busiest::BusiestWindow;

use crate::time::{SimDuration, SimTime};

/// An integer level over time (e.g. customers waiting), with its time-weighted mean and peak.
#[derive(Clone, Debug, Default)]
pub struct TimeWeighted {
    since: SimTime,
    last_change: SimTime,
    level: u64,
    /// Σ level × ns since `since`.
    area: u128,
    peak: u64,
}

impl TimeWeighted {
    /// Sets the level at `now` (now ≥ the previous change).
    #[inline]
    pub fn set(&mut self, now: SimTime, level: u64) {
        self.area += self.level as u128 * (now - self.last_change).as_nanos() as u128;
        self.last_change = now;
        self.level = level;
        self.peak = self.peak.max(level);
    }
    pub fn level(&self) -> u64 {
        self.level
    }
    /// Forgets the history before `now` (warm-up deletion); the current level carries on.
    pub fn restart(&mut self, now: SimTime) {
        self.set(now, self.level);
        self.since = now;
        self.area = 0;
        self.peak = self.level;
    }
    /// The time average from the last restart until `until`.
    pub fn mean(&self, until: SimTime) -> f64 {
        let span = (until - self.since).as_nanos();
        if span == 0 {
            return self.level as f64;
        }
        let area = self.area + self.level as u128 * (until - self.last_change).as_nanos() as u128;
        area as f64 / span as f64
    }
    pub fn peak(&self) -> u64 {
        self.peak
    }
}

/// Durations observed, in a mergeable histogram with an exact mean.
///
/// The counts are laid out exactly as an HdrHistogram of 3 significant figures lays out its own
/// (1,024 sub-buckets per power of two, 2,048 below 2,048 ns), and an `hdrhistogram::Histogram`
/// is built from them only when a quantile is asked for: recording through HdrHistogram itself
/// costs several times more, and a run records a duration for nearly every event.
#[derive(Clone, Debug, Default)]
pub struct DurationHistogram {
    /// Observations per HDR bucket index, grown on demand.
    counts: Vec<u64>,
    total: u64,
    sum_ns: u128,
    /// The HdrHistogram of `counts`, built at the first query after a change.
    built: std::cell::OnceCell<Histogram<u64>>,
}

/// HDR layout at 3 significant figures: 2^11 sub-buckets, of which the upper half is used from
/// the second bucket on.
const SUB_BUCKET_MAGNITUDE: u32 = 11;
const SUB_BUCKET_HALF: u64 = 1 << (SUB_BUCKET_MAGNITUDE - 1);
/// HdrHistogram's ceiling (`i64::MAX`); larger values are clamped to it, as `saturating_record`.
const HDR_CEILING: u64 = i64::MAX as u64;

/// The HDR bucket index of `value` (HdrHistogram's `index_for` with unit magnitude 0).
#[inline]
fn hdr_index(value: u64) -> usize {
    let value = value.min(HDR_CEILING);
    let bucket =
        (64 - SUB_BUCKET_MAGNITUDE) - (value | ((1 << SUB_BUCKET_MAGNITUDE) - 1)).leading_zeros();
    let sub_bucket = value >> bucket;
    (((bucket as u64 + 1) << (SUB_BUCKET_MAGNITUDE - 1)) + sub_bucket - SUB_BUCKET_HALF) as usize
}

/// The lowest value of HDR bucket index `index` (HdrHistogram's `value_for`).
fn hdr_value(index: usize) -> u64 {
    let index = index as u64;
    let bucket = (index >> (SUB_BUCKET_MAGNITUDE - 1)) as i64 - 1;
    let sub_bucket = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    if bucket < 0 { sub_bucket - SUB_BUCKET_HALF } else { sub_bucket << bucket }
}

/// The usual summary of a latency distribution, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DurationSummary {
    pub count: u64,
    pub mean_s: f64,
    pub p50_s: f64,
    pub p90_s: f64,
    pub p99_s: f64,
    pub p999_s: f64,
    pub max_s: f64,
}

impl DurationHistogram {
    pub fn new() -> Self {
        Self::default()
    }
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        let index = hdr_index(d.as_nanos());
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += 1;
        self.total += 1;
        self.sum_ns += d.as_nanos() as u128;
        if self.built.get().is_some() {
            self.built = std::cell::OnceCell::new();
        }
    }
    pub fn count(&self) -> u64 {
        self.total
    }
    /// The HdrHistogram holding these observations (each at its bucket's lowest value, which
    /// every query rounds to the same bucket equivalents as the original values).
    fn hdr(&self) -> &Histogram<u64> {
        self.built.get_or_init(|| {
            let mut hist = Histogram::new(3).expect("3 significant figures is a valid precision");
            for (index, &count) in self.counts.iter().enumerate() {
                if count > 0 {
                    hist.record_n(hdr_value(index), count).expect("auto-resizing histograms grow");
                }
            }
            hist
        })
    }
    /// Exact mean in seconds (0 when empty).
    pub fn mean_secs(&self) -> f64 {
        if self.count() == 0 { 0.0 } else { self.sum_ns as f64 / self.count() as f64 * 1e-9 }
    }
    /// The `q`-quantile in seconds (within 0.1%).
    pub fn quantile_secs(&self, q: f64) -> f64 {
        if self.count() == 0 {
            return 0.0;
        }
        self.hdr().value_at_quantile(q) as f64 * 1e-9
    }
    pub fn max_secs(&self) -> f64 {
        if self.count() == 0 { 0.0 } else { self.hdr().max() as f64 * 1e-9 }
    }
    /// Adds another histogram's observations (exact, order-independent).
    pub fn merge(&mut self, other: &DurationHistogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.sum_ns += other.sum_ns;
        self.built = std::cell::OnceCell::new();
    }
    pub fn clear(&mut self) {
        *self = Self::default();
    }
    /// Points of the distribution function: `(seconds, probability)` at fixed probabilities
    /// (1% to 99% and 99.9%), for plots.
    pub fn cdf_points(&self) -> Vec<(f64, f64)> {
        if self.count() == 0 {
            return Vec::new();
        }
        const PROBABILITIES: [f64; 16] = [
            0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999,
        ];
        PROBABILITIES.iter().map(|&p| (self.quantile_secs(p), p)).collect()
    }

    pub fn summary(&self) -> DurationSummary {
        DurationSummary {
            count: self.count(),
            mean_s: self.mean_secs(),
            p50_s: self.quantile_secs(0.50),
            p90_s: self.quantile_secs(0.90),
            p99_s: self.quantile_secs(0.99),
            p999_s: self.quantile_secs(0.999),
            max_s: self.max_secs(),
        }
    }
}

/// Mean of independent observations with a Student-t confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    pub std_dev: f64,
    /// Half-width of the interval at the requested confidence (infinite for n < 2).
    pub half_width: f64,
}

impl Estimate {
    /// The mean of `samples` with a two-sided `confidence` interval (e.g. 0.95).
    pub fn from_samples(samples: &[f64], confidence: f64) -> Estimate {
        let n = samples.len();
        let mean = if n == 0 { f64::NAN } else { samples.iter().sum::<f64>() / n as f64 };
        if n < 2 {
            return Estimate { n, mean, std_dev: f64::NAN, half_width: f64::INFINITY };
        }
        let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std_dev = var.sqrt();
        let t = student_t_quantile((1.0 + confidence) / 2.0, (n - 1) as f64);
        Estimate { n, mean, std_dev, half_width: t * std_dev / (n as f64).sqrt() }
    }
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
    pub fn contains(&self, value: f64) -> bool {
        self.low() <= value && value <= self.high()
    }
}

/// The `p`-quantile of Student's t with `dof` degrees of freedom.
pub fn student_t_quantile(p: f64, dof: f64) -> f64 {
    StudentsT::new(0.0, 1.0, dof).expect("dof > 0").inverse_cdf(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_weighted_mean_is_the_area_over_the_span() {
        let t = SimTime::from_nanos;
        let mut level = TimeWeighted::default();
        level.set(t(0), 2);
        level.set(t(10), 4);
        level.set(t(20), 0);
        // 2 for 10 ns, 4 for 10 ns, 0 for 20 ns: area 60 over 40 ns.
        assert_eq!(level.mean(t(40)), 1.5);
        assert_eq!(level.peak(), 4);
        level.restart(t(40));
        level.set(t(50), 1);
        assert_eq!(level.mean(t(60)), 0.5);
        assert_eq!(level.peak(), 1);
    }

    #[test]
    fn histogram_quantiles_are_within_a_tenth_of_a_percent() {
        let mut h = DurationHistogram::new();
        for ns in 1..=100_000u64 {
            h.record(SimDuration::from_nanos(ns * 1_000));
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let want = q * 100_000.0 * 1_000e-9;
            let got = h.quantile_secs(q);
            assert!((got - want).abs() / want < 0.001, "q{q}: {got} vs {want}");
        }
        assert!((h.mean_secs() - 50_000.5e-6).abs() < 1e-12);
    }

    #[test]
    fn counts_in_hdr_layout_answer_as_hdrhistogram_itself() {
        use rand::RngExt;
        let mut rng = crate::rng::stream(3, "test/hdr");
        for round in 0..40 {
            let mut ours = DurationHistogram::new();
            let mut reference = Histogram::<u64>::new(3).expect("valid precision");
            let n = rng.random_range(1..3_000);
            for _ in 0..n {
                let value = match rng.random_range(0..5) {
                    0 => rng.random_range(0..2_100u64),
                    1 => rng.random_range(0..1u64 << 20),
                    2 => 1u64 << rng.random_range(0..64),
                    3 => u64::MAX - rng.random_range(0..3u64),
                    _ => rng.random::<u64>() >> rng.random_range(0..64),
                };
                ours.record(SimDuration::from_nanos(value));
                // Beyond 2^63 ns (292 years) values are clamped to HdrHistogram's ceiling.
                reference.record(value.min(HDR_CEILING)).expect("auto-resizing up to 2^63");
                // Queries between records must see every record so far.
                if rng.random_range(0..500) == 0 {
                    assert_eq!(ours.count(), reference.len());
                    assert_eq!(ours.max_secs(), reference.max() as f64 * 1e-9);
                }
            }
            assert_eq!(ours.count(), reference.len(), "round {round}");
            assert_eq!(ours.max_secs(), reference.max() as f64 * 1e-9, "round {round}");
            for q in [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0] {
                let want = reference.value_at_quantile(q) as f64 * 1e-9;
                assert_eq!(ours.quantile_secs(q), want, "round {round}, q {q}");
            }
        }
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) =
            (DurationHistogram::new(), DurationHistogram::new(), DurationHistogram::new());
        for i in 0..1_000u64 {
            let d = SimDuration::from_nanos(i * i * 37 + 5);
            if i % 3 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            all.record(d);
        }
        let mut ba = b.clone();
        ba.merge(&a);
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
        assert_eq!(ba.summary(), all.summary());
    }

    #[test]
    fn t_interval_uses_the_student_quantile() {
        // t(0.975, 4) = 2.776445.
        let e = Estimate::from_samples(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert!((e.half_width - 2.776_445 * (2.5f64).sqrt() / 5f64.sqrt()).abs() < 1e-5);
        assert!(e.contains(3.0) && !e.contains(5.0));
    }
}
