//! The search: coordinate descent by bisection from the all-maximum corner, then trades of one
//! dimension for another while they lower the objective; and the headroom bisection.

use std::collections::BTreeMap;

use crate::experiment::plan::slo::Evaluation;
use crate::experiment::plan::spec::PlanSpec;

/// Evaluated candidates by configuration.
pub type Cache = BTreeMap<Vec<i64>, Evaluation>;

/// Evaluates a configuration (once: the cache remembers) and says whether it is feasible.
type Eval<'a> = dyn FnMut(&[i64], &mut Cache) -> bool + 'a;

/// Searches the cheapest feasible configuration with `evaluate(config)`; returns the chosen
/// configuration (if any is feasible) and the cache of everything simulated.
pub fn search(
    spec: &PlanSpec,
    mut evaluate: impl FnMut(&[i64]) -> Evaluation,
) -> (Option<Vec<i64>>, Cache) {
    let mut cache: Cache = BTreeMap::new();
    let mut eval = |config: &[i64], cache: &mut Cache| -> bool {
        if !cache.contains_key(config) {
            let e = evaluate(config);
            cache.insert(config.to_vec(), e);
        }
        cache[config].feasible(&spec.slos)
    };
    let top: Vec<i64> = spec.dims.iter().map(|d| d.max).collect();
    if !eval(&top, &mut cache) {
        return (None, cache);
    }
    let mut current = top;
    descend(spec, &mut current, &mut cache, &mut eval);
    // Trade until no trade helps. Cost falls strictly at every accepted trade, so this ends;
    // the cap only bounds pathological objectives.
    for _ in 0..1000 {
        match cheapest_trade(spec, &current, &mut cache, &mut eval) {
            Some(better) => {
                current = better;
                descend(spec, &mut current, &mut cache, &mut eval);
            }
            None => break,
        }
    }
    (Some(current), cache)
}

/// Coordinate descent: the smallest passing value of each dimension, others fixed, repeated
/// until nothing moves.
fn descend(spec: &PlanSpec, current: &mut Vec<i64>, cache: &mut Cache, eval: &mut Eval<'_>) {
    loop {
        let before = current.clone();
        for (i, dim) in spec.dims.iter().enumerate() {
            // Invariant: current[i] passes; find the least passing value in [min, current].
            let (mut lo, mut hi) = (dim.min, current[i]);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let mut probe = current.clone();
                probe[i] = mid;
                if eval(&probe, cache) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            current[i] = hi;
        }
        if *current == before {
            break;
        }
    }
}

/// The neighbourhood of `current`: give up k units of one dimension (k = 1, 2, 4, …), restore
/// feasibility with the smallest raise of another, and return the cheapest such trade if it
/// is cheaper than `current`.
fn cheapest_trade(
    spec: &PlanSpec,
    current: &[i64],
    cache: &mut Cache,
    eval: &mut Eval<'_>,
) -> Option<Vec<i64>> {
    let cost = |c: &[i64], cache: &Cache| cache[c].objective(&spec.objective);
    let mut best: Option<Vec<i64>> = None;
    for i in 0..spec.dims.len() {
        let mut k = 1;
        while current[i] - k >= spec.dims[i].min {
            for j in (0..spec.dims.len()).filter(|&j| j != i) {
                let mut trial = current.to_vec();
                trial[i] -= k;
                let Some(raised) = smallest_raise(spec, &trial, j, cache, eval) else {
                    continue;
                };
                trial[j] = raised;
                let bar = best.as_ref().map_or(cost(current, cache), |b| cost(b, cache));
                if cost(&trial, cache) < bar {
                    best = Some(trial);
                }
            }
            k *= 2;
        }
    }
    best
}

/// The smallest value of dimension `j` that makes `trial` feasible: doubling steps up to the
/// maximum, then bisection; `None` if not even the maximum does.
fn smallest_raise(
    spec: &PlanSpec,
    trial: &[i64],
    j: usize,
    cache: &mut Cache,
    eval: &mut Eval<'_>,
) -> Option<i64> {
    let max = spec.dims[j].max;
    let mut last_failing = trial[j];
    let mut step = 1;
    let mut found = None;
    loop {
        let value = (trial[j] + step).min(max);
        let mut probe = trial.to_vec();
        probe[j] = value;
        if eval(&probe, cache) {
            found = Some(value);
            break;
        }
        last_failing = value;
        if value == max {
            break;
        }
        step *= 2;
    }
    let (mut lo, mut hi) = (last_failing + 1, found?);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let mut probe = trial.to_vec();
        probe[j] = mid;
        if eval(&probe, cache) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(hi)
}

/// Largest multiplier in `[1, max]` (to 2%) at which `passes(m)` holds; 1.0 if not even there.
pub fn headroom(max: f64, mut passes: impl FnMut(f64) -> bool) -> f64 {
    if passes(max) {
        return max;
    }
    let (mut lo, mut hi) = (1.0, max);
    if !passes(lo) {
        return 1.0;
    }
    while hi / lo > 1.02 {
        let mid = (lo * hi).sqrt();
        if passes(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::plan::spec::Dim;

    fn eval_with(values: &[(&str, Vec<f64>)]) -> Evaluation {
        Evaluation {
            values: values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            error: None,
        }
    }

    #[test]
    fn search_finds_the_cheapest_corner_of_a_monotone_region() {
        // Feasible when 2a + 3b >= 24; cost 5a + 4b: cheapest is a = 0, b = 8 (cost 32) vs
        // a = 12, b = 0 (60), a = 3, b = 6 (39).
        let spec = PlanSpec {
            slos: vec!["ok >= 1".parse().unwrap()],
            dims: vec![
                Dim { path: "a".into(), min: 0, max: 20 },
                Dim { path: "b".into(), min: 0, max: 20 },
            ],
            replications: 1,
            objective: "cost".into(),
            headroom: None,
        };
        let mut calls = 0;
        let (best, cache) = search(&spec, |c| {
            calls += 1;
            let ok = if 2 * c[0] + 3 * c[1] >= 24 { 1.0 } else { 0.0 };
            eval_with(&[("ok", vec![ok]), ("cost", vec![(5 * c[0] + 4 * c[1]) as f64])])
        });
        assert_eq!(best, Some(vec![0, 8]));
        assert_eq!(calls, cache.len());
        assert!(cache.len() < 21 * 21 / 4, "{} of 441 simulated", cache.len());
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_of_the_dimensions() {
        // As above with the dimensions listed the other way round: coordinate descent alone
        // would stop at a costlier corner; the trades must reach b = 8, a = 0.
        let spec = PlanSpec {
            slos: vec!["ok >= 1".parse().unwrap()],
            dims: vec![
                Dim { path: "b".into(), min: 0, max: 20 },
                Dim { path: "a".into(), min: 0, max: 20 },
            ],
            replications: 1,
            objective: "cost".into(),
            headroom: None,
        };
        let (best, _) = search(&spec, |c| {
            let (b, a) = (c[0], c[1]);
            let ok = if 2 * a + 3 * b >= 24 { 1.0 } else { 0.0 };
            eval_with(&[("ok", vec![ok]), ("cost", vec![(5 * a + 4 * b) as f64])])
        });
        assert_eq!(best, Some(vec![8, 0]));
    }

    #[test]
    fn a_trade_that_needs_the_maximum_is_found() {
        // Feasible when a ≥ 10, or when b ≥ 17 (b's maximum is 21): cost 50a + 20b prefers
        // b = 17, a = 0 (340) to a = 10, b = 0 (500).
        let spec = PlanSpec {
            slos: vec!["ok >= 1".parse().unwrap()],
            dims: vec![
                Dim { path: "a".into(), min: 0, max: 10 },
                Dim { path: "b".into(), min: 0, max: 21 },
            ],
            replications: 1,
            objective: "cost".into(),
            headroom: None,
        };
        let (best, _) = search(&spec, |c| {
            let ok = if c[0] >= 10 || c[1] >= 17 { 1.0 } else { 0.0 };
            eval_with(&[("ok", vec![ok]), ("cost", vec![(50 * c[0] + 20 * c[1]) as f64])])
        });
        assert_eq!(best, Some(vec![0, 17]));
    }

    #[test]
    fn infeasible_everywhere_returns_none() {
        let spec = PlanSpec {
            slos: vec!["ok >= 1".parse().unwrap()],
            dims: vec![Dim { path: "a".into(), min: 0, max: 5 }],
            replications: 1,
            objective: "cost".into(),
            headroom: None,
        };
        let (best, cache) = search(&spec, |_| eval_with(&[("ok", vec![0.0])]));
        assert_eq!((best, cache.len()), (None, 1));
    }

    #[test]
    fn headroom_bisects_the_multiplier() {
        assert_eq!(headroom(4.0, |m| m <= 10.0), 4.0);
        let h = headroom(4.0, |m| m <= 2.5);
        assert!((2.45..=2.5).contains(&h), "{h}");
        assert_eq!(headroom(4.0, |_| false), 1.0);
    }
}
