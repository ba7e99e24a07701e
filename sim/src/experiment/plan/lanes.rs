//! Searches for the least passing value of one dimension, run side by side in rounds.
//!
//! A [`Lane`] looks for the smallest value of one dimension of a base configuration at which the
//! configuration passes: by k-section of an interval whose top is known to pass, or first by
//! doubling steps up from a failing value. [`run_lanes`] advances every unfinished lane by one
//! step per round and evaluates all their probes as one batch, so a round keeps as many workers
//! busy as it has probes × replications.
//!
//! Which probes a round holds depends only on the lanes and on the evaluations so far, never on
//! the number of workers: the configurations simulated, and so the answer, are the same whatever
//! the thread count. A lone lane probes [`PROBES_PER_ROUND`] values a round: first the
//! dimension's minimum and a midpoint (a dimension that is no bottleneck is settled in one
//! round), then trisection rather than bisection (more work per round, fewer rounds). Lanes that
//! run together share that width and each probe one value a round, exactly the values the
//! serial search probed by bisection.

use std::collections::{BTreeMap, BTreeSet};

use crate::experiment::plan::slo::{Evaluation, Slo};

/// Evaluated candidates by configuration.
pub type Cache = BTreeMap<Vec<i64>, Evaluation>;

/// Probes a round holds when one lane runs alone. Two (trisection) rather than more: with the
/// usual three replications a round is six runs, enough for several workers, and trisection
/// needs about 2/3 of bisection's rounds for about 1.26× its probes (2·log₃ n against log₂ n);
/// more probes a round would cut fewer rounds for more work, paid at every job count.
pub const PROBES_PER_ROUND: usize = 2;

/// Evaluates a batch of configurations (none cached, none repeated), in order.
pub type Batch<'a> = dyn FnMut(&[Vec<i64>]) -> Vec<Evaluation> + 'a;

/// One search for the least passing value of dimension `dim` of `base`.
#[derive(Clone, Debug)]
pub struct Lane {
    base: Vec<i64>,
    dim: usize,
    state: State,
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    /// Raising `from` (failing) by doubling steps (1, 2, 4, …) capped at `max`; `step` is the
    /// next step, `last_failing` the largest value seen failing.
    Gallop { from: i64, last_failing: i64, step: i64, max: i64 },
    /// The least passing value is in `[lo, hi]`, and `hi` passes; `floor` while `lo` is still
    /// the dimension's minimum and nothing has been probed.
    Section { lo: i64, hi: i64, floor: bool },
    /// Finished: the least passing value, or `None` if not even the maximum passes.
    Done(Option<i64>),
}

impl Lane {
    /// The least passing value of `dim` in `[lo, hi]`, where `base` (whose value of `dim` is
    /// `hi`) passes.
    pub fn section(base: &[i64], dim: usize, lo: i64) -> Lane {
        let hi = base[dim];
        let state =
            if lo >= hi { State::Done(Some(hi)) } else { State::Section { lo, hi, floor: true } };
        Lane { base: base.to_vec(), dim, state }
    }

    /// The least value of `dim` above its value in `base` (taken to fail) and at most `max` that
    /// passes: doubling steps up to the maximum, then k-section.
    pub fn raise(base: &[i64], dim: usize, max: i64) -> Lane {
        let state = State::Gallop { from: base[dim], last_failing: base[dim], step: 1, max };
        Lane { base: base.to_vec(), dim, state }
    }

    /// The configuration the lane searches from, and the dimension it moves.
    pub fn base(&self) -> (&[i64], usize) {
        (&self.base, self.dim)
    }

    /// The answer once finished: `Some(Some(v))` found, `Some(None)` none passes, `None` running.
    pub fn result(&self) -> Option<Option<i64>> {
        match self.state {
            State::Done(found) => Some(found),
            _ => None,
        }
    }

    fn with(&self, value: i64) -> Vec<i64> {
        let mut config = self.base.clone();
        config[self.dim] = value;
        config
    }

    /// The values to probe next, at most `width` of them, ascending and distinct.
    fn probe_values(&self, width: usize) -> Vec<i64> {
        let mut values = match self.state {
            State::Gallop { from, step, max, .. } => {
                (0..width).map(|t| (from + (step << t)).min(max)).collect::<Vec<i64>>()
            }
            // The cheapest value first: when the minimum already passes (a dimension that is no
            // bottleneck), one round settles it; else the other probes still cut the rest.
            State::Section { lo, hi, floor: true } if width > 1 => {
                let mut points = vec![lo];
                if lo + 1 < hi {
                    points.extend(section_points(lo + 1, hi, width - 1));
                }
                points
            }
            State::Section { lo, hi, .. } => section_points(lo, hi, width),
            State::Done(_) => Vec::new(),
        };
        values.dedup();
        values
    }

    /// The configurations to probe next (at most `width`).
    pub fn probes(&self, width: usize) -> Vec<Vec<i64>> {
        self.probe_values(width).into_iter().map(|v| self.with(v)).collect()
    }

    /// Takes in the outcome of the probes `probes(width)` proposed; `passes` answers for each.
    pub fn advance(&mut self, width: usize, mut passes: impl FnMut(&[i64]) -> bool) {
        let values = self.probe_values(width);
        let outcome: Vec<(i64, bool)> =
            values.iter().map(|&v| (v, passes(&self.with(v)))).collect();
        self.state = match self.state {
            State::Gallop { from, last_failing, step, max } => {
                match outcome.iter().find(|(_, ok)| *ok) {
                    Some(&(v, _)) => {
                        // Probes are ascending: every one before the first passing one failed.
                        let failing = outcome.iter().filter(|(u, _)| *u < v).map(|(u, _)| *u);
                        let lo = failing.max().unwrap_or(last_failing) + 1;
                        if lo >= v {
                            State::Done(Some(v))
                        } else {
                            State::Section { lo, hi: v, floor: false }
                        }
                    }
                    None if values.last() == Some(&max) => State::Done(None),
                    None => State::Gallop {
                        from,
                        last_failing: values.last().copied().unwrap_or(last_failing),
                        step: step << values.len(),
                        max,
                    },
                }
            }
            State::Section { lo, hi, .. } => {
                // The smallest passing probe is the new top; the largest failing one below it
                // the new bottom. (Off a monotone dimension, failing probes above are ignored,
                // as bisection would never have looked there.)
                let hi = outcome.iter().find(|(_, ok)| *ok).map_or(hi, |(v, _)| *v);
                let lo = outcome
                    .iter()
                    .filter(|(v, ok)| *v < hi && !ok)
                    .map(|(v, _)| v + 1)
                    .max()
                    .unwrap_or(lo);
                if lo >= hi {
                    State::Done(Some(hi))
                } else {
                    State::Section { lo, hi, floor: false }
                }
            }
            State::Done(found) => State::Done(found),
        };
    }
}

/// Up to `width` probes that cut the candidates `lo..=hi` (the least passing value; `hi` passes)
/// into `width + 1` nearly equal parts: probe v leaves `lo..=v` if it passes, `v+1..=hi` if not.
/// At width 1 this is bisection's midpoint, `lo + (hi - lo) / 2`.
fn section_points(lo: i64, hi: i64, width: usize) -> Vec<i64> {
    let parts = width as i64 + 1;
    let mut points: Vec<i64> =
        (1..parts).map(|t| (lo + t * (hi - lo) / parts).clamp(lo, hi - 1)).collect();
    points.dedup();
    points
}

/// Runs `lanes` to the end in rounds: each round, every unfinished lane proposes its probes
/// (the lanes share [`PROBES_PER_ROUND`], one each at least), the ones not yet cached are
/// evaluated as one batch, and every lane advances. Returns the number of rounds.
pub fn run_lanes(
    lanes: &mut [Lane],
    slos: &[Slo],
    cache: &mut Cache,
    evaluate: &mut Batch<'_>,
) -> usize {
    let mut rounds = 0;
    loop {
        let running: Vec<usize> =
            (0..lanes.len()).filter(|&l| lanes[l].result().is_none()).collect();
        if running.is_empty() {
            return rounds;
        }
        let width = (PROBES_PER_ROUND / running.len()).max(1);
        let mut seen = BTreeSet::new();
        let mut batch = Vec::new();
        for &l in &running {
            for probe in lanes[l].probes(width) {
                if !cache.contains_key(&probe) && seen.insert(probe.clone()) {
                    batch.push(probe);
                }
            }
        }
        evaluate_into(&batch, cache, evaluate);
        rounds += usize::from(!batch.is_empty());
        for &l in &running {
            lanes[l].advance(width, |config| cache[config].feasible(slos));
        }
    }
}

/// Evaluates `batch` (if not empty) and caches the results.
pub fn evaluate_into(batch: &[Vec<i64>], cache: &mut Cache, evaluate: &mut Batch<'_>) {
    if batch.is_empty() {
        return;
    }
    let evaluations = evaluate(batch);
    assert_eq!(evaluations.len(), batch.len(), "one evaluation per configuration");
    for (config, e) in batch.iter().zip(evaluations) {
        cache.insert(config.clone(), e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one lane against `passes`: its answer, the values it probed and the rounds.
    fn drive(
        mut lane: Lane,
        width: usize,
        passes: impl Fn(i64) -> bool,
    ) -> (Option<i64>, Vec<i64>, u32) {
        let (mut probed, mut rounds) = (Vec::new(), 0);
        while lane.result().is_none() {
            let values = lane.probe_values(width);
            assert!(!values.is_empty(), "a running lane proposes a probe");
            probed.extend(&values);
            rounds += 1;
            lane.advance(width, |c| passes(c[0]));
        }
        (lane.result().unwrap(), probed, rounds)
    }

    #[test]
    fn k_section_finds_the_threshold_of_a_monotone_dimension() {
        for width in 1..=4 {
            for threshold in 0..=20 {
                let (found, _, rounds) =
                    drive(Lane::section(&[20], 0, 0), width, |v| v >= threshold);
                assert_eq!(found, Some(threshold), "width {width}");
                // Each round keeps about 1/(width+1) of the 21 candidates; the first round of a
                // wider search spends a probe on the minimum.
                let bound = 21f64.log(width as f64 + 1.0).ceil() as u32 + u32::from(width > 1);
                assert!(rounds <= bound, "width {width}: {rounds} rounds, more than {bound}");
            }
        }
    }

    #[test]
    fn a_passing_minimum_settles_a_dimension_in_one_round() {
        let (found, probed, rounds) = drive(Lane::section(&[32], 0, 1), 2, |_| true);
        assert_eq!((found, probed, rounds), (Some(1), vec![1, 17], 1));
        // Alone at width 1 it is plain bisection: 16, 8, 4, 2, 1.
        let (found, probed, _) = drive(Lane::section(&[32], 0, 1), 1, |_| true);
        assert_eq!((found, probed), (Some(1), vec![16, 8, 4, 2, 1]));
    }

    #[test]
    fn a_raise_gallops_then_sections_and_gives_up_at_the_maximum() {
        for width in 1..=3 {
            for threshold in 4..=30 {
                let (found, ..) = drive(Lane::raise(&[3], 0, 21), width, |v| v >= threshold);
                assert_eq!(found, (threshold <= 21).then_some(threshold), "width {width}");
            }
        }
        // At width 1, the serial search's own sequence: 4, 5, 7 fail, 11 passes, then 9, 8.
        let (_, probed, _) = drive(Lane::raise(&[3], 0, 21), 1, |v| v >= 8);
        assert_eq!(probed, [4, 5, 7, 11, 9, 8]);
    }

    #[test]
    fn section_points_cut_the_candidates_evenly() {
        assert_eq!(section_points(1, 32, 1), [16]);
        assert_eq!(section_points(1, 32, 2), [11, 21]);
        assert_eq!(section_points(4, 5, 2), [4]);
        assert_eq!(section_points(0, 2, 3), [0, 1]);
    }
}
