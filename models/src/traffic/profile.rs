//! Arrival profiles: when, relative to the sale's opening, would-be buyers click.
//!
//! A profile is a probability distribution of one user's intent time, as a signed offset from
//! the opening. Three kinds:
//!
//! - `windows`: shares of users over time windows, uniform within each (the case study's "87.3% in
//!   the last 5 s before opening" is one window with share 0.873);
//! - `bursts`: a mixture of bursts, each centred `at` an offset with a `spread` and a shape
//!   (normal: σ = spread; uniform: ±spread; exponential: decaying after `at` with mean spread);
//! - `trace`: an empirical profile read from CSV, either click timestamps (`offset_s` per line) or
//!   counts per interval (`start_s,count`), binned into windows.
//!
//! Sampling draws a window or burst by share, then a point inside it, and rounds once to ns.
//! Summed over many users, the click count per 100 ms is far from Poisson: the windows and bursts
//! make it over-dispersed, which is the point of a flash sale.

use std::path::Path;

use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use schemars::JsonSchema;
use serde::Deserialize;
use sim::RngStream;
use sim::config::{DurationLit, OffsetLit};
use sim::config::{Issues, join_index, join_key};
use statrs::distribution::{ContinuousCDF, Normal};

/// The family of an arrival profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// Shares of users over time windows, uniform within each.
    Windows,
    /// A mixture of bursts.
    Bursts,
    /// An empirical profile from a CSV file.
    Trace,
}

/// An arrival profile as written: `kind` and the fields that kind takes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub kind: ProfileKind,
    /// `windows`: the windows; shares must add up to 1.
    pub windows: Option<Vec<RawShareWindow>>,
    /// `bursts`: the bursts; shares must add up to 1.
    pub bursts: Option<Vec<RawBurst>>,
    /// `trace`: CSV file, relative to the scenario file.
    pub file: Option<String>,
    /// `trace`: `timestamps` (column `offset_s`) or `counts` (columns `start_s,count`).
    pub format: Option<TraceFormat>,
    /// `trace`: bin width for timestamps, interval length for counts (default 100ms).
    pub interval: Option<DurationLit>,
}

/// One window of a `windows` profile.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawShareWindow {
    /// Start, relative to the opening (e.g. "-5s").
    pub from: OffsetLit,
    /// End, relative to the opening.
    pub until: OffsetLit,
    /// Share of users whose intent falls in this window, in [0, 1].
    pub share: f64,
}

/// One burst of a `bursts` profile.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBurst {
    /// Centre (normal, uniform) or start (exponential), relative to the opening.
    pub at: OffsetLit,
    /// Width: σ (normal), half-width (uniform), mean delay (exponential).
    pub spread: DurationLit,
    /// Share of users in this burst, in [0, 1].
    pub share: f64,
    /// `normal` (default), `uniform` or `exponential`.
    pub shape: Option<BurstShape>,
}

/// The shape of a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BurstShape {
    Normal,
    Uniform,
    Exponential,
}

/// How a trace file lists clicks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceFormat {
    /// One click per line: column `offset_s`, seconds relative to the opening.
    Timestamps,
    /// Clicks per interval: columns `start_s,count`.
    Counts,
}

/// A window with its share: intent offsets uniform in `[from_ns, until_ns)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ShareWindow {
    pub from_ns: i64,
    pub until_ns: i64,
    pub share: f64,
}

/// A validated burst.
#[derive(Clone, Debug, PartialEq)]
pub struct Burst {
    pub at_ns: i64,
    pub spread_ns: f64,
    pub share: f64,
    pub shape: BurstShape,
}

/// A validated profile.
#[derive(Clone, Debug, PartialEq)]
pub enum Profile {
    Windows(Vec<ShareWindow>),
    Bursts(Vec<Burst>),
}

/// Largest offset from the opening a profile may use: a year. Keeps every sum of times far from
/// the clock's limits.
pub const MAX_OFFSET_NS: i64 = 365 * 24 * 3_600 * 1_000_000_000;

/// Records an issue if `offset` (ns) is beyond a year from the opening.
pub fn check_offset(offset: Option<i64>, at: &str, issues: &mut Issues) -> Option<i64> {
    let offset = offset?;
    if offset.abs() > MAX_OFFSET_NS {
        issues.push(at, "must be within a year of the opening");
        return None;
    }
    Some(offset)
}

/// Shares may miss 1 by this much (rounding in hand-written files).
const SHARE_TOLERANCE: f64 = 1e-6;

impl Profile {
    /// Draws one intent offset from the opening, in ns.
    pub fn sample_offset_ns(&self, rng: &mut RngStream) -> i64 {
        let u: f64 = rng.random();
        match self {
            Profile::Windows(windows) => {
                let w = pick(windows.iter().map(|w| w.share), u, windows.len());
                let w = &windows[w];
                let span = (w.until_ns - w.from_ns) as f64;
                w.from_ns + (rng.random::<f64>() * span).round() as i64
            }
            Profile::Bursts(bursts) => {
                let b = &bursts[pick(bursts.iter().map(|b| b.share), u, bursts.len())];
                let offset = match b.shape {
                    BurstShape::Normal => {
                        let z: f64 = StandardNormal.sample(rng);
                        z * b.spread_ns
                    }
                    BurstShape::Uniform => (rng.random::<f64>() * 2.0 - 1.0) * b.spread_ns,
                    BurstShape::Exponential => {
                        let e: f64 = Exp1.sample(rng);
                        e * b.spread_ns
                    }
                };
                b.at_ns.saturating_add(offset.round() as i64)
            }
        }
    }

    /// P(intent offset ≤ `offset_s` seconds): the profile's CDF, for goodness-of-fit tests.
    pub fn cdf(&self, offset_s: f64) -> f64 {
        let x = offset_s * 1e9;
        match self {
            Profile::Windows(windows) => windows
                .iter()
                .map(|w| {
                    let (a, b) = (w.from_ns as f64, w.until_ns as f64);
                    w.share * ((x - a) / (b - a)).clamp(0.0, 1.0)
                })
                .sum(),
            Profile::Bursts(bursts) => bursts
                .iter()
                .map(|b| {
                    let z = (x - b.at_ns as f64) / b.spread_ns;
                    let p = match b.shape {
                        BurstShape::Normal => {
                            Normal::new(0.0, 1.0).expect("standard normal").cdf(z)
                        }
                        BurstShape::Uniform => ((z + 1.0) / 2.0).clamp(0.0, 1.0),
                        BurstShape::Exponential => {
                            if z <= 0.0 {
                                0.0
                            } else {
                                1.0 - (-z).exp()
                            }
                        }
                    };
                    b.share * p
                })
                .sum(),
        }
    }

    /// The earliest offset a sample can take, in ns (bursts: 6 σ before a normal centre).
    pub fn earliest_ns(&self) -> i64 {
        match self {
            Profile::Windows(windows) => windows.iter().map(|w| w.from_ns).min().unwrap_or(0),
            Profile::Bursts(bursts) => bursts
                .iter()
                .map(|b| match b.shape {
                    BurstShape::Normal => b.at_ns - (6.0 * b.spread_ns) as i64,
                    BurstShape::Uniform => b.at_ns - b.spread_ns as i64,
                    BurstShape::Exponential => b.at_ns,
                })
                .min()
                .unwrap_or(0),
        }
    }
}

/// Index chosen by cumulative `shares` for a uniform `u` (the last if rounding leaves a gap).
fn pick(shares: impl Iterator<Item = f64>, u: f64, len: usize) -> usize {
    let mut acc = 0.0;
    for (i, share) in shares.enumerate() {
        acc += share;
        if u < acc {
            return i;
        }
    }
    len - 1
}

fn check_share(share: f64, at: &str, issues: &mut Issues) {
    if !(0.0..=1.0).contains(&share) {
        issues.push(join_key(at, "share"), format!("must be in [0, 1] (got {share})"));
    }
}

fn check_total(total: f64, at: &str, issues: &mut Issues) {
    if (total - 1.0).abs() > SHARE_TOLERANCE {
        issues.push(at, format!("shares must add up to 1 (got {total})"));
    }
}

impl RawProfile {
    /// Validates the profile; `base` is the scenario file's folder (for trace files).
    pub fn check(&self, at: &str, base: &Path, issues: &mut Issues) -> Option<Profile> {
        let wanted: &[&str] = match self.kind {
            ProfileKind::Windows => &["windows"],
            ProfileKind::Bursts => &["bursts"],
            ProfileKind::Trace => &["file", "format", "interval"],
        };
        let present = [
            ("windows", self.windows.is_some()),
            ("bursts", self.bursts.is_some()),
            ("file", self.file.is_some()),
            ("format", self.format.is_some()),
            ("interval", self.interval.is_some()),
        ];
        let before = issues.len();
        for (name, set) in present {
            if set && !wanted.contains(&name) {
                issues.push(
                    join_key(at, name),
                    format!(
                        "is not a field of kind {:?}, which takes: {}",
                        self.kind,
                        wanted.join(", ")
                    )
                    .to_lowercase(),
                );
            }
        }
        if issues.len() > before {
            return None;
        }
        match self.kind {
            ProfileKind::Windows => {
                let Some(raw) = &self.windows else {
                    issues.push(at, "kind windows needs `windows`");
                    return None;
                };
                check_windows(raw, &join_key(at, "windows"), issues).map(Profile::Windows)
            }
            ProfileKind::Bursts => {
                let Some(raw) = &self.bursts else {
                    issues.push(at, "kind bursts needs `bursts`");
                    return None;
                };
                check_bursts(raw, &join_key(at, "bursts"), issues).map(Profile::Bursts)
            }
            ProfileKind::Trace => self.check_trace(at, base, issues),
        }
    }

    fn check_trace(&self, at: &str, base: &Path, issues: &mut Issues) -> Option<Profile> {
        let (Some(file), Some(format)) = (&self.file, self.format) else {
            issues.push(at, "kind trace needs `file` and `format`");
            return None;
        };
        let interval = match &self.interval {
            Some(lit) => lit.check(&join_key(at, "interval"), issues)?,
            None => sim::SimDuration::from_millis(100),
        };
        if interval.is_zero() {
            issues.push(join_key(at, "interval"), "must be > 0 (got 0s)");
            return None;
        }
        let path = base.join(file);
        // Streamed: memory grows with the distinct intervals, not with the file.
        let file = match sim::config::open_bounded(&path, sim::config::MAX_DATA_BYTES) {
            Ok(file) => std::io::BufReader::new(file),
            Err(err) => {
                issues.push(join_key(at, "file"), format!("cannot read {}: {err}", path.display()));
                return None;
            }
        };
        match read_trace(file, format, interval.as_nanos() as i64) {
            Ok(windows) => Some(Profile::Windows(windows)),
            Err(message) => {
                issues.push(join_key(at, "file"), format!("{}: {message}", path.display()));
                None
            }
        }
    }
}

fn check_windows(
    raw: &[RawShareWindow],
    at: &str,
    issues: &mut Issues,
) -> Option<Vec<ShareWindow>> {
    if raw.is_empty() {
        issues.push(at, "needs at least one window (got none)");
        return None;
    }
    let before = issues.len();
    let mut windows = Vec::new();
    for (i, w) in raw.iter().enumerate() {
        let w_at = join_index(at, i);
        let from = check_offset(
            w.from.check(&join_key(&w_at, "from"), issues),
            &join_key(&w_at, "from"),
            issues,
        );
        let until = check_offset(
            w.until.check(&join_key(&w_at, "until"), issues),
            &join_key(&w_at, "until"),
            issues,
        );
        check_share(w.share, &w_at, issues);
        if let (Some(from), Some(until)) = (from, until) {
            if until <= from {
                issues.push(
                    join_key(&w_at, "until"),
                    format!("must be later than `from` ({}) (got {})", w.from.0, w.until.0),
                );
            }
            windows.push(ShareWindow { from_ns: from, until_ns: until, share: w.share });
        }
    }
    check_total(raw.iter().map(|w| w.share).sum(), at, issues);
    (issues.len() == before).then_some(windows)
}

fn check_bursts(raw: &[RawBurst], at: &str, issues: &mut Issues) -> Option<Vec<Burst>> {
    if raw.is_empty() {
        issues.push(at, "needs at least one burst (got none)");
        return None;
    }
    let before = issues.len();
    let mut bursts = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let b_at = join_index(at, i);
        let at_ns = check_offset(
            b.at.check(&join_key(&b_at, "at"), issues),
            &join_key(&b_at, "at"),
            issues,
        );
        let spread = b.spread.check(&join_key(&b_at, "spread"), issues);
        if spread.is_some_and(|s| s.as_nanos() > MAX_OFFSET_NS as u64) {
            issues.push(join_key(&b_at, "spread"), "must be at most a year");
        }
        check_share(b.share, &b_at, issues);
        if spread.is_some_and(|s| s.is_zero()) {
            issues.push(join_key(&b_at, "spread"), "must be > 0 (got 0s)");
        }
        if let (Some(at_ns), Some(spread)) = (at_ns, spread) {
            bursts.push(Burst {
                at_ns,
                spread_ns: spread.as_nanos() as f64,
                share: b.share,
                shape: b.shape.unwrap_or(BurstShape::Normal),
            });
        }
    }
    check_total(raw.iter().map(|b| b.share).sum(), at, issues);
    (issues.len() == before).then_some(bursts)
}

/// The rows of a trace with their lines; blank and whitespace-only lines are skipped.
fn trace_rows(
    reader: impl std::io::BufRead,
) -> impl Iterator<Item = Result<(u64, csv::StringRecord), String>> {
    let mut rows = sim::output::csv::Rows::new(reader);
    std::iter::from_fn(move || {
        loop {
            let row = match rows.next()? {
                Ok(row) => row,
                Err(e) => return Some(Err(format!("line {}: {e}", rows.line()))),
            };
            if row.cells.len() > 1 || row.cells.iter().any(|c| !c.trim().is_empty()) {
                return Some(Ok((row.line, row.cells)));
            }
        }
    })
}

/// Reads a trace into windows of width `interval_ns` with shares ∝ clicks.
fn read_trace(
    reader: impl std::io::BufRead,
    format: TraceFormat,
    interval_ns: i64,
) -> Result<Vec<ShareWindow>, String> {
    let mut rows = trace_rows(reader);
    let (line, header) = rows.next().ok_or("the file is empty")??;
    // A byte-order mark (spreadsheets write one) is not part of the header.
    let header = header.iter().collect::<Vec<_>>().join(",");
    let expected = match format {
        TraceFormat::Timestamps => "offset_s",
        TraceFormat::Counts => "start_s,count",
    };
    if header.trim_start_matches('\u{feff}').replace(' ', "") != expected {
        return Err(format!("line {line}: expected the header `{expected}`"));
    }
    // Clicks per bin start (ns), added in file order.
    let mut bins: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for row in rows {
        let (n, cells) = row?;
        let bad = |what: &str| {
            format!("line {n}: {what} (got `{}`)", sim::output::csv::line(&cells).trim())
        };
        let number = |text: &str| text.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        match format {
            TraceFormat::Timestamps => {
                let t = Some(&cells[0])
                    .filter(|_| cells.len() == 1)
                    .and_then(number)
                    .filter(|t| t.abs() * 1e9 <= MAX_OFFSET_NS as f64)
                    .ok_or_else(|| bad("expected seconds (within a year) as a number"))?;
                let ns = (t * 1e9).round() as i64;
                *bins.entry(ns.div_euclid(interval_ns) * interval_ns).or_default() += 1.0;
            }
            TraceFormat::Counts => {
                let [start, count] = [0, 1].map(|i| cells.get(i).unwrap_or_default());
                if cells.len() != 2 {
                    return Err(bad("expected start_s,count"));
                }
                let start = number(start)
                    .filter(|t| t.abs() * 1e9 <= MAX_OFFSET_NS as f64)
                    .ok_or_else(|| bad("expected start_s (within a year) as a number"))?;
                let count = number(count)
                    .filter(|c| *c >= 0.0)
                    .ok_or_else(|| bad("expected a count ≥ 0"))?;
                *bins.entry((start * 1e9).round() as i64).or_default() += count;
            }
        }
    }
    let merged = bins;
    let total: f64 = merged.values().sum();
    if total <= 0.0 {
        return Err("the trace holds no clicks".into());
    }
    Ok(merged
        .into_iter()
        .filter(|(_, c)| *c > 0.0)
        .map(|(start, count)| ShareWindow {
            from_ns: start,
            until_ns: start + interval_ns,
            share: count / total,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_bin_into_windows() {
        let w = read_trace(
            "\u{feff}offset_s\n-0.05\n-0.04\n0.01\n".as_bytes(),
            TraceFormat::Timestamps,
            100_000_000,
        )
        .unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].from_ns, w[0].until_ns), (-100_000_000, 0));
        assert!((w[0].share - 2.0 / 3.0).abs() < 1e-12);
        let w = read_trace(
            "start_s,count\n0,30\n1,10\n".as_bytes(),
            TraceFormat::Counts,
            1_000_000_000,
        )
        .unwrap();
        assert_eq!(w[1].share, 0.25);
        // Quoted cells and CRLF, as spreadsheets export; blank lines still count as lines.
        let quoted = "\"start_s\",\"count\"\r\n\"0\",\"30\"\r\n\r\n\"1\",\"10\"\r\n";
        let w = read_trace(quoted.as_bytes(), TraceFormat::Counts, 1_000_000_000).unwrap();
        assert_eq!(w[1].share, 0.25);
        let err = read_trace("start_s,count\n\n0,1\n  \n0,x\n".as_bytes(), TraceFormat::Counts, 1);
        assert!(err.unwrap_err().starts_with("line 5: expected a count"));
        assert!(
            read_trace("start_s,count\n0,x\n".as_bytes(), TraceFormat::Counts, 1)
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            read_trace("when\n1\n".as_bytes(), TraceFormat::Timestamps, 1)
                .unwrap_err()
                .contains("header")
        );
    }
}
