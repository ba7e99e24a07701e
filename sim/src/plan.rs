//! Capacity planning: the cheapest integer capacities that meet every SLO, and the headroom.
//!
//! A plan varies integer capacities by key path within bounds, judges each candidate on
//! replications (an SLO holds only if its 95% confidence bound is on the right side, so a plan
//! does not pass by luck), and minimises an objective (cost by default). The search uses the
//! structure of the problem: queueing metrics improve monotonically with capacity, so each
//! dimension is bisected for its smallest passing value with the others fixed (coordinate
//! descent from the all-maximum corner, repeated until nothing moves), then a neighbourhood pass
//! tries trading one unit of a dimension for more of another. Candidates are cached; the report
//! says how many configurations were simulated against the size of the full grid. Headroom is
//! the largest multiplier of the forecast (the scale paths, e.g. users) at which every SLO still
//! holds, found by bisection.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Issues;
use crate::stats::Estimate;

/// The `[plan]` table of a scenario.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    /// SLOs, e.g. `"metrics.latency.p99_s <= 1.0"`, `"metrics.errors == 0"`.
    #[serde(default)]
    pub slo: Vec<String>,
    /// Capacities to choose.
    #[serde(default)]
    pub vary: Vec<RawVary>,
    /// Replications per candidate (default 3).
    pub replications: Option<i64>,
    /// The metric to minimise (default `metrics.cost.total_usd`).
    pub objective: Option<String>,
    /// Headroom search: multiply these paths' values by m until an SLO fails.
    pub headroom: Option<RawHeadroom>,
}

/// One capacity to choose.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVary {
    /// Key path, e.g. `variant[fast].station[web].servers`.
    pub path: String,
    pub min: i64,
    pub max: i64,
}

/// The headroom search.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHeadroom {
    /// Paths scaled together (numbers in the file), e.g. `["traffic.users"]`.
    pub scale: Vec<String>,
    /// Largest multiplier tried (default 4).
    pub max: Option<f64>,
}

/// A comparison in an SLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "==")]
    Eq,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Eq => "==",
        })
    }
}

/// A service-level objective on one metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Slo {
    pub metric: String,
    pub op: Op,
    pub target: f64,
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op, self.target)
    }
}

impl std::str::FromStr for Slo {
    type Err = String;
    fn from_str(text: &str) -> Result<Slo, String> {
        let ops = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("<", Op::Lt), (">", Op::Gt)];
        for (symbol, op) in ops {
            if let Some((metric, target)) = text.split_once(symbol) {
                let metric = metric.trim();
                let target: f64 = target
                    .trim()
                    .parse()
                    .map_err(|_| format!("SLO `{text}`: `{}` is not a number", target.trim()))?;
                if metric.is_empty() || !target.is_finite() {
                    return Err(format!("SLO `{text}` needs a metric and a finite target"));
                }
                return Ok(Slo { metric: metric.to_string(), op, target });
            }
        }
        Err(format!("SLO `{text}` is not of the form `metric <op> number` (ops: <=, <, >=, >, ==)"))
    }
}

/// How an SLO fared on one candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judgement {
    pub slo: String,
    pub mean: f64,
    /// The 95% bound on the judged side (upper for <=, lower for >=; mean ± half-width).
    pub bound: f64,
    pub holds: bool,
    /// How far the bound misses the target: relative to the target, or absolute when the target
    /// is 0 (0 when the SLO holds).
    pub shortfall: f64,
}

impl Slo {
    /// Judges the SLO on per-replication values.
    pub fn judge(&self, samples: &[f64]) -> Judgement {
        let finite: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        let e = Estimate::from_samples(&finite, 0.95);
        let hw = if finite.len() < 2 { 0.0 } else { e.half_width };
        let (bound, holds) = match self.op {
            Op::Le => (e.mean + hw, e.mean + hw <= self.target),
            Op::Lt => (e.mean + hw, e.mean + hw < self.target),
            Op::Ge => (e.mean - hw, e.mean - hw >= self.target),
            Op::Gt => (e.mean - hw, e.mean - hw > self.target),
            Op::Eq => {
                let worst = finite.iter().map(|x| (x - self.target).abs()).fold(0.0, f64::max);
                (self.target + worst, worst <= 1e-12)
            }
        };
        let holds = holds && finite.len() == samples.len() && !finite.is_empty();
        // Relative to the target, or absolute when the target is 0 (e.g. `errors == 0`).
        let gap = (bound - self.target).abs();
        let shortfall = if holds {
            0.0
        } else if self.target == 0.0 {
            gap
        } else {
            gap / self.target.abs()
        };
        Judgement { slo: self.to_string(), mean: e.mean, bound, holds, shortfall }
    }
}

/// A validated capacity dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dim {
    pub path: String,
    pub min: i64,
    pub max: i64,
}

/// A validated plan.
#[derive(Clone, Debug)]
pub struct PlanSpec {
    pub slos: Vec<Slo>,
    pub dims: Vec<Dim>,
    pub replications: u64,
    pub objective: String,
    pub headroom: Option<(Vec<String>, f64)>,
}

impl RawPlan {
    /// Validates, recording issues under `plan`.
    pub fn check(&self, issues: &mut Issues) -> Option<PlanSpec> {
        let before = issues.len();
        let mut slos = Vec::new();
        for (i, text) in self.slo.iter().enumerate() {
            if let Some(slo) = issues.check(&format!("plan.slo[{i}]"), text.parse::<Slo>()) {
                slos.push(slo);
            }
        }
        let mut dims = Vec::new();
        for (i, v) in self.vary.iter().enumerate() {
            if v.min < 0 || v.max < v.min || v.max > 1_000_000 {
                issues.push(
                    format!("plan.vary[{i}]"),
                    format!("needs 0 ≤ min ≤ max ≤ 1000000 (got {}..{})", v.min, v.max),
                );
            }
            dims.push(Dim { path: v.path.clone(), min: v.min, max: v.max });
        }
        // At least two: an SLO is judged on a confidence bound, which one run cannot give.
        let replications = match self.replications {
            None => 3,
            Some(r) if (2..=10_000).contains(&r) => r as u64,
            Some(r) => {
                issues.push("plan.replications", format!("must be between 2 and 10000 (got {r})"));
                3
            }
        };
        let headroom = self.headroom.as_ref().map(|h| {
            let max = h.max.unwrap_or(4.0);
            if !(max.is_finite() && max > 1.0 && max <= 1000.0) {
                issues.push("plan.headroom.max", format!("must be in (1, 1000] (got {max})"));
            }
            if h.scale.is_empty() {
                issues.push("plan.headroom.scale", "must list at least one path");
            }
            (h.scale.clone(), max)
        });
        if issues.len() > before {
            return None;
        }
        Some(PlanSpec {
            slos,
            dims,
            replications,
            objective: self.objective.clone().unwrap_or_else(|| "metrics.cost.total_usd".into()),
            headroom,
        })
    }
}

/// The evaluation of one candidate: per-replication metric values.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// metric → one value per replication.
    pub values: BTreeMap<String, Vec<f64>>,
    /// Why the candidate could not run, if it could not.
    pub error: Option<String>,
}

impl Evaluation {
    fn samples(&self, metric: &str) -> Vec<f64> {
        self.values.get(metric).cloned().unwrap_or_else(|| vec![f64::NAN])
    }
    /// Every SLO's judgement.
    pub fn judge(&self, slos: &[Slo]) -> Vec<Judgement> {
        slos.iter().map(|s| s.judge(&self.samples(&s.metric))).collect()
    }
    pub fn feasible(&self, slos: &[Slo]) -> bool {
        self.error.is_none() && self.judge(slos).iter().all(|j| j.holds)
    }
    /// The objective's mean (infinite when missing).
    pub fn objective(&self, metric: &str) -> f64 {
        let s = self.samples(metric);
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        if mean.is_finite() { mean } else { f64::INFINITY }
    }
}

/// Evaluated candidates by configuration.
type Cache = BTreeMap<Vec<i64>, Evaluation>;

/// Searches the cheapest feasible configuration with `evaluate(config)`; returns the chosen
/// configuration (if any is feasible) and the cache of everything simulated.
pub fn search(
    spec: &PlanSpec,
    mut evaluate: impl FnMut(&[i64]) -> Evaluation,
) -> (Option<Vec<i64>>, BTreeMap<Vec<i64>, Evaluation>) {
    let mut cache: BTreeMap<Vec<i64>, Evaluation> = BTreeMap::new();
    let mut eval = |config: &[i64], cache: &mut BTreeMap<Vec<i64>, Evaluation>| -> bool {
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
    // Coordinate descent: the smallest passing value of each dimension, others fixed.
    let descend = |current: &mut Vec<i64>,
                   cache: &mut BTreeMap<Vec<i64>, Evaluation>,
                   eval: &mut dyn FnMut(&[i64], &mut Cache) -> bool| {
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
    };
    descend(&mut current, &mut cache, &mut eval);
    // Neighbourhood: give up k units of one dimension (k = 1, 2, 4, …), restore feasibility
    // with the smallest raise of another (doubling, then the maximum, then bisection), and keep
    // the trade if it is cheaper; repeat until no trade helps. Cost falls strictly at every
    // accepted trade, so this ends; the cap only bounds pathological objectives.
    let cost = |c: &[i64], cache: &Cache| cache[c].objective(&spec.objective);
    let smallest_raise = |trial: &[i64],
                          j: usize,
                          cache: &mut Cache,
                          eval: &mut dyn FnMut(&[i64], &mut Cache) -> bool|
     -> Option<i64> {
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
    };
    for _ in 0..1000 {
        let mut best: Option<Vec<i64>> = None;
        for i in 0..spec.dims.len() {
            let mut k = 1;
            while current[i] - k >= spec.dims[i].min {
                for j in (0..spec.dims.len()).filter(|&j| j != i) {
                    let mut trial = current.clone();
                    trial[i] -= k;
                    let Some(raised) = smallest_raise(&trial, j, &mut cache, &mut eval) else {
                        continue;
                    };
                    trial[j] = raised;
                    let bar = best.as_ref().map_or(cost(&current, &cache), |b| cost(b, &cache));
                    if cost(&trial, &cache) < bar {
                        best = Some(trial);
                    }
                }
                k *= 2;
            }
        }
        match best {
            Some(better) => {
                current = better;
                descend(&mut current, &mut cache, &mut eval);
            }
            None => break,
        }
    }
    (Some(current), cache)
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

    fn eval_with(values: &[(&str, Vec<f64>)]) -> Evaluation {
        Evaluation {
            values: values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            error: None,
        }
    }

    #[test]
    fn slos_are_judged_on_their_confidence_bound() {
        let slo: Slo = "lat <= 1.0".parse().unwrap();
        assert!(slo.judge(&[0.5, 0.6, 0.55]).holds);
        // Mean below target, but the 95% upper bound is not: not accepted by luck.
        assert!(!slo.judge(&[0.2, 1.5, 0.9]).holds);
        let exact: Slo = "errors == 0".parse().unwrap();
        assert!(exact.judge(&[0.0, 0.0]).holds);
        assert!(!exact.judge(&[0.0, 1.0]).holds);
        let floor: Slo = "rate >= 0.999".parse().unwrap();
        assert!(floor.judge(&[1.0, 1.0, 1.0]).holds);
        assert!("lat ~ 3".parse::<Slo>().is_err());
        assert!("lat <= fast".parse::<Slo>().is_err());
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
