//! The search: coordinate descent by k-section from the all-maximum corner, then trades of one
//! dimension for another while they lower the objective; and the headroom k-section.
//!
//! Every step is phrased as [`Lane`]s run in rounds ([`run_lanes`]): a round's probes are
//! evaluated as one batch, so the caller can run all of them (and all their replications) at
//! once. What a round probes depends only on the evaluations so far, never on how many workers
//! run the batch, so the configurations simulated and the answer are the same at any job count.

use crate::experiment::plan::lanes::{
    Batch, Cache, Lane, PROBES_PER_ROUND, evaluate_into, run_lanes,
};
use crate::experiment::plan::slo::Evaluation;
use crate::experiment::plan::spec::PlanSpec;

/// Searches the cheapest feasible configuration; `evaluate` simulates a batch of
/// configurations (each once: the cache remembers) and returns their evaluations in order.
/// Returns the chosen configuration (if any is feasible) and the cache of everything simulated.
pub fn search(
    spec: &PlanSpec,
    mut evaluate: impl FnMut(&[Vec<i64>]) -> Vec<Evaluation>,
) -> (Option<Vec<i64>>, Cache) {
    let evaluate: &mut Batch<'_> = &mut evaluate;
    let mut cache = Cache::new();
    let top: Vec<i64> = spec.dims.iter().map(|d| d.max).collect();
    evaluate_into(std::slice::from_ref(&top), &mut cache, evaluate);
    if !cache[&top].feasible(&spec.slos) {
        return (None, cache);
    }
    let mut current = top;
    descend(spec, &mut current, &mut cache, evaluate);
    // Trade until no trade helps. Cost falls strictly at every accepted trade, so this ends;
    // the cap only bounds pathological objectives.
    for _ in 0..1000 {
        match cheapest_trade(spec, &current, &mut cache, evaluate) {
            Some(better) => {
                current = better;
                descend(spec, &mut current, &mut cache, evaluate);
            }
            None => break,
        }
    }
    // The descent assumes cost rises with capacity; an objective billed by use can fall with
    // it (a bigger pool, fewer retried requests billed). The answer is the cheapest feasible
    // configuration simulated, which may be one the search passed on its way down.
    let cost = |c: &[i64]| cache[c].objective(&spec.objective);
    for (config, evaluation) in &cache {
        if evaluation.feasible(&spec.slos) && cost(config) < cost(&current) {
            current = config.clone();
        }
    }
    (Some(current), cache)
}

/// Coordinate descent: the smallest passing value of each dimension, others fixed, repeated
/// until nothing moves. Dimensions go one after another (each starts from the last one's
/// answer); within one, k-section probes several values a round.
fn descend(spec: &PlanSpec, current: &mut Vec<i64>, cache: &mut Cache, evaluate: &mut Batch<'_>) {
    loop {
        let before = current.clone();
        for (i, dim) in spec.dims.iter().enumerate() {
            // Invariant: current passes; find the least passing value of i in [min, current[i]].
            let mut lane = [Lane::section(current, i, dim.min)];
            run_lanes(&mut lane, &spec.slos, cache, evaluate);
            current[i] = lane[0].result().flatten().expect("the top of a section passes");
        }
        if *current == before {
            break;
        }
    }
}

/// The neighbourhood of `current`: give up k units of one dimension (k = 1, 2, 4, …), restore
/// feasibility with the smallest raise of another, and return the cheapest such trade if it
/// is cheaper than `current`. Every trade's raise is an independent lane: they all run side
/// by side, each probing what it would probe alone.
fn cheapest_trade(
    spec: &PlanSpec,
    current: &[i64],
    cache: &mut Cache,
    evaluate: &mut Batch<'_>,
) -> Option<Vec<i64>> {
    let mut lanes = Vec::new();
    for i in 0..spec.dims.len() {
        let mut k = 1;
        while current[i] - k >= spec.dims[i].min {
            for j in (0..spec.dims.len()).filter(|&j| j != i) {
                let mut trial = current.to_vec();
                trial[i] -= k;
                lanes.push(Lane::raise(&trial, j, spec.dims[j].max));
            }
            k *= 2;
        }
    }
    run_lanes(&mut lanes, &spec.slos, cache, evaluate);
    // In the order the trades were listed: the first of equally cheap trades wins.
    let cost = |c: &[i64]| cache[c].objective(&spec.objective);
    let mut best: Option<Vec<i64>> = None;
    for lane in &lanes {
        let Some(Some(raised)) = lane.result() else { continue };
        let (base, j) = lane.base();
        let mut trial = base.to_vec();
        trial[j] = raised;
        let bar = best.as_ref().map_or(cost(current), |b| cost(b));
        if cost(&trial) < bar {
            best = Some(trial);
        }
    }
    best
}

/// The headroom found: the largest multiplier tried at which every SLO held.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Headroom {
    pub multiplier: f64,
    /// The search's limit passed: the true headroom is at least `multiplier`, maybe more.
    pub at_limit: bool,
}

/// Largest multiplier in `[1, max]` (to 2%) at which every SLO holds; `passes` judges a batch
/// of multipliers (in order). 1 is taken to pass (the configuration was chosen feasible), so
/// 1.0 comes back when nothing above it does. The maximum is tried alone first (if it passes,
/// the answer is `max`, at the limit); then each round k-sections the interval between the
/// largest passing and the smallest failing multiplier on a log scale.
pub fn headroom(max: f64, mut passes: impl FnMut(&[f64]) -> Vec<bool>) -> Headroom {
    if passes(&[max])[0] {
        return Headroom { multiplier: max, at_limit: true };
    }
    let (mut lo, mut hi) = (1.0_f64, max);
    while hi / lo > 1.02 {
        let parts = PROBES_PER_ROUND as f64 + 1.0;
        let probes: Vec<f64> =
            (1..=PROBES_PER_ROUND).map(|t| lo * (hi / lo).powf(t as f64 / parts)).collect();
        let outcome = passes(&probes);
        // Everything below the first failing probe passed; the last of them is the new floor.
        let first_failing = outcome.iter().position(|ok| !ok).unwrap_or(probes.len());
        if first_failing < probes.len() {
            hi = probes[first_failing];
        }
        if first_failing > 0 {
            lo = probes[first_failing - 1];
        }
    }
    Headroom { multiplier: lo, at_limit: false }
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

    fn two_dims(a: (&str, i64), b: (&str, i64)) -> PlanSpec {
        PlanSpec {
            slos: vec!["ok >= 1".parse().unwrap()],
            dims: vec![
                Dim { path: a.0.into(), min: 0, max: a.1 },
                Dim { path: b.0.into(), min: 0, max: b.1 },
            ],
            replications: 1,
            objective: "cost".into(),
            headroom: None,
        }
    }

    /// Feasible when 2a + 3b >= 24; cost 5a + 4b.
    fn corner(a: i64, b: i64) -> Evaluation {
        let ok = if 2 * a + 3 * b >= 24 { 1.0 } else { 0.0 };
        eval_with(&[("ok", vec![ok]), ("cost", vec![(5 * a + 4 * b) as f64])])
    }

    #[test]
    fn search_finds_the_cheapest_corner_of_a_monotone_region() {
        // Cheapest is a = 0, b = 8 (cost 32) vs a = 12, b = 0 (60), a = 3, b = 6 (39).
        let spec = two_dims(("a", 20), ("b", 20));
        let (mut batches, mut evaluated) = (0, 0);
        let (best, cache) = search(&spec, |batch| {
            batches += 1;
            evaluated += batch.len();
            batch.iter().map(|c| corner(c[0], c[1])).collect()
        });
        assert_eq!(best, Some(vec![0, 8]));
        assert_eq!(evaluated, cache.len(), "each configuration simulated once");
        assert!(cache.len() < 21 * 21 / 4, "{} of 441 simulated", cache.len());
        assert!(batches * 3 < cache.len() * 2, "{batches} rounds for {} probes", cache.len());
    }

    #[test]
    fn the_answer_does_not_depend_on_the_order_of_the_dimensions() {
        // As above with the dimensions listed the other way round: coordinate descent alone
        // would stop at a costlier corner; the trades must reach b = 8, a = 0.
        let spec = two_dims(("b", 20), ("a", 20));
        let (best, _) = search(&spec, |batch| batch.iter().map(|c| corner(c[1], c[0])).collect());
        assert_eq!(best, Some(vec![8, 0]));
    }

    #[test]
    fn a_trade_that_needs_the_maximum_is_found() {
        // Feasible when a ≥ 10, or when b ≥ 17 (b's maximum is 21): cost 50a + 20b prefers
        // b = 17, a = 0 (340) to a = 10, b = 0 (500).
        let spec = two_dims(("a", 10), ("b", 21));
        let (best, _) = search(&spec, |batch| {
            let eval = |c: &Vec<i64>| {
                let ok = if c[0] >= 10 || c[1] >= 17 { 1.0 } else { 0.0 };
                eval_with(&[("ok", vec![ok]), ("cost", vec![(50 * c[0] + 20 * c[1]) as f64])])
            };
            batch.iter().map(eval).collect()
        });
        assert_eq!(best, Some(vec![0, 17]));
    }

    #[test]
    fn the_answer_is_the_cheapest_feasible_configuration_simulated() {
        // Feasible when a ≥ 3 and b ≥ 2; cost 10a − b falls as b grows (billed by use): the
        // descent settles at b = 2, but the maximum b it started from is cheaper.
        let spec = two_dims(("a", 8), ("b", 8));
        let (best, cache) = search(&spec, |batch| {
            let eval = |c: &Vec<i64>| {
                let ok = if c[0] >= 3 && c[1] >= 2 { 1.0 } else { 0.0 };
                eval_with(&[("ok", vec![ok]), ("cost", vec![(10 * c[0] - c[1]) as f64])])
            };
            batch.iter().map(eval).collect()
        });
        let best = best.unwrap();
        assert_eq!(best[0], 3);
        let cheapest = cache
            .iter()
            .filter(|(_, e)| e.feasible(&spec.slos))
            .map(|(_, e)| e.objective("cost"))
            .fold(f64::INFINITY, f64::min);
        assert_eq!(cache[&best].objective("cost"), cheapest, "{best:?}");
        assert!(best[1] > 2, "not the descent's b = 2: {best:?}");
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
        let (best, cache) =
            search(&spec, |batch| batch.iter().map(|_| eval_with(&[("ok", vec![0.0])])).collect());
        assert_eq!((best, cache.len()), (None, 1));
    }

    #[test]
    fn headroom_sections_the_multiplier() {
        let below = |limit: f64| move |ms: &[f64]| ms.iter().map(|&m| m <= limit).collect();
        assert_eq!(headroom(4.0, below(10.0)), Headroom { multiplier: 4.0, at_limit: true });
        // Passing exactly at the maximum is still at the limit: more might pass too.
        assert_eq!(headroom(4.0, below(4.0)), Headroom { multiplier: 4.0, at_limit: true });
        let h = headroom(4.0, below(2.5));
        assert!((2.45..=2.5).contains(&h.multiplier) && !h.at_limit, "{h:?}");
        assert_eq!(headroom(4.0, below(0.5)), Headroom { multiplier: 1.0, at_limit: false });
        let mut rounds = 0;
        headroom(4.0, |ms| {
            rounds += 1;
            below(1.3)(ms)
        });
        // The maximum, then trisection of a ratio of 4 down to 2%: 4 rounds, not 7.
        assert_eq!(rounds, 1 + 4);
    }

    #[test]
    fn what_is_simulated_does_not_depend_on_the_worker_count() {
        // The same search inside pools of 1, 3 and 4 workers, each batch evaluated in
        // parallel: the same answer, the same configurations, the same batches.
        use rayon::prelude::*;
        let spec = two_dims(("a", 40), ("b", 30));
        let plan_in = |workers: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(workers).build().unwrap();
            pool.install(|| {
                let mut batches = Vec::new();
                let (best, cache) = search(&spec, |batch| {
                    batches.push(batch.to_vec());
                    batch.par_iter().map(|c| corner(c[0], c[1])).collect()
                });
                let room = headroom(4.0, |ms| ms.par_iter().map(|&m| m <= 2.2).collect());
                (best, cache.into_keys().collect::<Vec<_>>(), batches, room.multiplier.to_bits())
            })
        };
        let one = plan_in(1);
        assert_eq!(one.0, Some(vec![0, 8]));
        assert_eq!(plan_in(4), one);
        assert_eq!(plan_in(3), one);
    }
}
