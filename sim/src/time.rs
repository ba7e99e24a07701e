//! Simulated time: integer nanoseconds, never floating point.
//!
//! `SimTime` is an instant since the start of a run and `SimDuration` a span between instants, both
//! `u64` nanoseconds (enough for 584 years). Human-written literals such as `"250ms"`, `"30us"`,
//! `"1.5s"` and `"2h"` parse into `SimDuration`; rate literals such as `"20k/s"` parse into `Rate`.
//! A float becomes a time only once, in [`SimDuration::from_secs_f64`], rounded to the nearest ns.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An instant of simulated time, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for reporting only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// Time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// The instant `d` after this one, saturating at the end of representable time.
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_SEC)
    }
    /// The one place a float becomes a duration: rounded to the nearest nanosecond, clamped to
    /// `[0, MAX]` (NaN becomes zero).
    #[inline]
    pub fn from_secs_f64(secs: f64) -> Self {
        let ns = secs * NANOS_PER_SEC as f64;
        // `f64::round` is a library call on baseline x86-64, and every sampled duration comes
        // through here. Below 2^52 the same half-away-from-zero rounding is a truncation and
        // one exact comparison (`ns - trunc(ns)` is exact); at and above it every float is an
        // integer already.
        const EXACT_BELOW: f64 = (1u64 << 52) as f64;
        if ns.is_nan() || ns < 0.5 {
            SimDuration(0)
        } else if ns < EXACT_BELOW {
            // Through i64, which converts to and from f64 in one instruction each (u64 takes a
            // branchy sequence); every value here fits.
            let whole = ns as i64;
            SimDuration(whole as u64 + u64::from(ns - whole as f64 >= 0.5))
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(ns as u64)
        }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for reporting and for rates only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        self.saturating_add(d)
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for SimDuration {
    /// Shortest exact rendering in the largest unit that divides it: `1.5s`, `250ms`, `30us`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        for (unit, scale) in [("s", NANOS_PER_SEC), ("ms", 1_000_000), ("us", 1_000)] {
            if ns >= scale {
                let whole = ns / scale;
                let frac = ns % scale;
                if frac == 0 {
                    return write!(f, "{whole}{unit}");
                }
                let digits = scale.ilog10() as usize;
                let frac_text = format!("{frac:0digits$}");
                return write!(f, "{whole}.{}{unit}", frac_text.trim_end_matches('0'));
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

/// Why a duration or rate literal did not parse; the message lists what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LiteralError(String);

const DURATION_HELP: &str = "expected a number followed by a unit: ns, us, ms, s, m (minutes) or h, e.g. \"250ms\", \"1.5s\"";
const RATE_HELP: &str = "expected a count per time unit, e.g. \"20k/s\", \"0.9/s\", \"500/ms\", \
     \"3M/h\" (count suffixes k, M, G; units ns, us, ms, s, m, h)";

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" | "min" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        _ => return None,
    })
}

/// Splits `"1.5ms"` into `("1.5", "ms")`.
fn split_number(text: &str) -> (&str, &str) {
    let end =
        text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(text.len());
    (&text[..end], &text[end..])
}

fn parse_decimal(number: &str) -> Option<f64> {
    let cleaned: String = number.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() || cleaned.starts_with('.') || cleaned.ends_with('.') {
        return None;
    }
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses a duration literal such as `"250ms"`, `"30us"`, `"1.5s"`, `"2m"`, `"1h"` or `"0s"`.
pub fn parse_duration(text: &str) -> Result<SimDuration, LiteralError> {
    let trimmed = text.trim();
    let (number, unit) = split_number(trimmed);
    let value = parse_decimal(number);
    let scale = unit_nanos(unit.trim());
    match (value, scale) {
        (Some(value), Some(scale)) => {
            let ns = value * scale as f64;
            if ns > u64::MAX as f64 / 2.0 {
                return Err(LiteralError(format!("duration \"{text}\" is too long")));
            }
            Ok(SimDuration::from_nanos(ns.round() as u64))
        }
        _ => Err(LiteralError(format!("cannot read \"{text}\" as a duration: {DURATION_HELP}"))),
    }
}

/// Parses a signed offset such as `"-5s"`, `"+250ms"` or `"1.8s"` into signed nanoseconds, for
/// times relative to a reference instant (e.g. an opening time).
pub fn parse_offset_ns(text: &str) -> Result<i64, LiteralError> {
    let trimmed = text.trim();
    let (sign, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let magnitude = parse_duration(rest).map_err(|_| {
        LiteralError(format!(
            "cannot read \"{text}\" as a time offset: expected an optional sign, a number and a \
             unit (ns, us, ms, s, m, h), e.g. \"-5s\", \"1.8s\""
        ))
    })?;
    let ns = i64::try_from(magnitude.as_nanos())
        .map_err(|_| LiteralError(format!("time offset \"{text}\" is too large")))?;
    Ok(sign * ns)
}

/// A rate of events per unit time. Not a time itself; held as events per second.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate {
    per_sec: f64,
}

impl Rate {
    /// A rate of `per_sec` events per second; must be finite and non-negative.
    pub fn per_sec(per_sec: f64) -> Self {
        debug_assert!(per_sec.is_finite() && per_sec >= 0.0);
        Rate { per_sec }
    }
    pub fn as_per_sec(self) -> f64 {
        self.per_sec
    }
    /// The mean gap between events, `1 / rate` (MAX for a zero rate).
    pub fn mean_interval(self) -> SimDuration {
        if self.per_sec <= 0.0 {
            SimDuration::MAX
        } else {
            SimDuration::from_secs_f64(1.0 / self.per_sec)
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_sec)
    }
}

/// The highest rate the integer-nanosecond clock can represent.
pub const MAX_RATE_PER_SEC: f64 = 1e9;

/// Parses a rate literal such as `"20k/s"`, `"0.9/s"`, `"500/ms"` or `"1.2M/h"`.
pub fn parse_rate(text: &str) -> Result<Rate, LiteralError> {
    let bad = || LiteralError(format!("cannot read \"{text}\" as a rate: {RATE_HELP}"));
    let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
    let (number, suffix) = split_number(count.trim());
    let multiplier = match suffix.trim() {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        _ => return Err(bad()),
    };
    let value = parse_decimal(number).ok_or_else(bad)?;
    let unit = unit.trim();
    let unit = unit.strip_prefix('1').unwrap_or(unit);
    let scale = unit_nanos(unit).ok_or_else(bad)?;
    let per_sec = value * multiplier * NANOS_PER_SEC as f64 / scale as f64;
    if per_sec > MAX_RATE_PER_SEC {
        return Err(LiteralError(format!(
            "rate \"{text}\" is above one event per nanosecond, the clock's resolution"
        )));
    }
    Ok(Rate::per_sec(per_sec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("250ms").unwrap(), SimDuration::from_millis(250));
        assert_eq!(parse_duration("30us").unwrap(), SimDuration::from_micros(30));
        assert_eq!(parse_duration("1.5s").unwrap(), SimDuration::from_millis(1_500));
        assert_eq!(parse_duration("2m").unwrap(), SimDuration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), SimDuration::from_secs(3_600));
        assert_eq!(parse_duration("7ns").unwrap(), SimDuration::from_nanos(7));
        assert_eq!(parse_duration(" 0s ").unwrap(), SimDuration::ZERO);
        assert_eq!(parse_duration("1_000ms").unwrap(), SimDuration::from_secs(1));
    }

    #[test]
    fn bad_durations_say_what_is_allowed() {
        for bad in ["12 parsecs", "ms", "1.5", "-3s", "1..5s", ".5s", "", "5 s s", "1e3s"] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains("expected a number followed by a unit"), "{bad}: {err}");
        }
    }

    #[test]
    fn rates_parse_with_suffixes_and_units() {
        assert_eq!(parse_rate("20k/s").unwrap().as_per_sec(), 20_000.0);
        assert_eq!(parse_rate("0.9/s").unwrap().as_per_sec(), 0.9);
        assert_eq!(parse_rate("500/ms").unwrap().as_per_sec(), 500_000.0);
        assert_eq!(parse_rate("3.6k/h").unwrap().as_per_sec(), 1.0);
        assert_eq!(parse_rate("1M/1s").unwrap().as_per_sec(), 1e6);
        let huge = format!("1{}G/ns", "0".repeat(300));
        for bad in ["20k", "20x/s", "/s", "fast/s", "-1/s", "5/fortnight", "2G/s", huge.as_str()] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets_are_signed() {
        assert_eq!(parse_offset_ns("-5s").unwrap(), -5_000_000_000);
        assert_eq!(parse_offset_ns("+250ms").unwrap(), 250_000_000);
        assert_eq!(parse_offset_ns("1.8s").unwrap(), 1_800_000_000);
        assert!(parse_offset_ns("--1s").is_err());
        assert!(parse_offset_ns("-").is_err());
    }

    #[test]
    fn durations_display_exactly() {
        assert_eq!(SimDuration::from_millis(1_500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_micros(30).to_string(), "30us");
        assert_eq!(SimDuration::from_nanos(1_000_001).to_string(), "1.000001ms");
        assert_eq!(SimDuration::from_nanos(12).to_string(), "12ns");
        for d in [1u64, 999, 1_000, 123_456_789, 5 * NANOS_PER_SEC + 1] {
            let d = SimDuration::from_nanos(d);
            assert_eq!(parse_duration(&d.to_string()).unwrap(), d);
        }
    }

    #[test]
    fn float_rounding_matches_round_half_away_from_zero() {
        let reference = |secs: f64| {
            let ns = (secs * 1e9).round();
            if ns.is_nan() || ns <= 0.0 {
                0
            } else if ns >= u64::MAX as f64 {
                u64::MAX
            } else {
                ns as u64
            }
        };
        let mut rng = crate::rng::stream(7, "test/rounding");
        let mut cases = vec![
            f64::NAN,
            -1.0,
            -0.0,
            0.0,
            0.4999999999e-9,
            0.5e-9,
            1.5e-9,
            2.5e-9,
            4.999_999_999_999_999e-10,
            4.503_599_627_370_495e6,
            4.503_599_627_370_496e6,
            1e10,
            1e12,
            f64::INFINITY,
        ];
        for _ in 0..100_000 {
            let mantissa: f64 = rng.random();
            let exponent: i32 = rng.random_range(-12..8);
            cases.push(mantissa * 10f64.powi(exponent));
            // Exact halves of a nanosecond.
            let halves: u64 = rng.random_range(0..1u64 << 40);
            cases.push((halves as f64 + 0.5) * 1e-9);
        }
        for secs in cases {
            assert_eq!(SimDuration::from_secs_f64(secs).as_nanos(), reference(secs), "{secs:e}");
        }
    }

    #[test]
    fn float_seconds_round_once_to_nanoseconds() {
        assert_eq!(SimDuration::from_secs_f64(1.4e-9).as_nanos(), 1);
        assert_eq!(SimDuration::from_secs_f64(1.6e-9).as_nanos(), 2);
        assert_eq!(SimDuration::from_secs_f64(-1.0).as_nanos(), 0);
        assert_eq!(SimDuration::from_secs_f64(f64::NAN).as_nanos(), 0);
        assert_eq!(SimDuration::from_secs_f64(1e30), SimDuration::MAX);
    }
}
