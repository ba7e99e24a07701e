//! The planner checks its own assumption: that capacity added to an answer never breaks an SLO.
//!
//! The search trusts monotonicity: it takes a value that passes to mean every larger one passes
//! too, so it never looks above what passed. After it finds an answer, [`check_monotone`]
//! simulates larger configurations (the all-maximum corner, and one step above the answer in
//! each dimension that is not at its maximum) with the search's replications and seeds, and
//! lists every SLO that one of them fails although the answer passes it. The configurations not
//! simulated yet run as one batch, like a round of the search's probes, so the check too is the
//! same at any worker count.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::experiment::plan::lanes::{Batch, Cache, evaluate_into};
use crate::experiment::plan::slo::{Evaluation, Op, Slo};
use crate::experiment::plan::spec::PlanSpec;

/// A configuration larger than the answer, and where it lies.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Larger {
    /// The configuration (path → value).
    pub at: BTreeMap<String, i64>,
    /// `"one step above"` (the answer with `dimension` one higher) or `"all maximum"`.
    pub position: &'static str,
    /// The dimension one step above the answer; none at the all-maximum corner.
    pub dimension: Option<String>,
}

/// One larger configuration checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Checked {
    #[serde(flatten)]
    pub config: Larger,
    /// Whether it meets every SLO.
    pub feasible: bool,
}

/// An SLO that a larger configuration fails although the answer passes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    #[serde(flatten)]
    pub config: Larger,
    pub slo: String,
    /// The SLO's judged value there: its 95% bound (none when the configuration does not run).
    pub value: Option<f64>,
    /// The same at the answer, where the SLO holds.
    pub answer_value: f64,
    /// The line the terminal shows.
    pub message: String,
}

/// What the check found: every larger configuration checked, and every violation.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Monotonicity {
    pub checked: Vec<Checked>,
    pub violations: Vec<Violation>,
}

/// Checks the answer `answer` of `spec` against larger configurations. Those not in `cache`
/// are simulated by `evaluate` as one batch and cached (at most one round).
pub fn check_monotone(
    spec: &PlanSpec,
    answer: &[i64],
    cache: &mut Cache,
    mut evaluate: impl FnMut(&[Vec<i64>]) -> Vec<Evaluation>,
) -> Monotonicity {
    let evaluate: &mut Batch<'_> = &mut evaluate;
    let larger = larger_configs(spec, answer);
    let batch: Vec<Vec<i64>> =
        larger.iter().map(|(c, _)| c.clone()).filter(|c| !cache.contains_key(c)).collect();
    evaluate_into(&batch, cache, evaluate);
    let answer_judged = cache[answer].judge(&spec.slos);
    let mut found = Monotonicity::default();
    for (config, place) in larger {
        let evaluation = &cache[&config];
        let judged = evaluation.judge(&spec.slos);
        found
            .checked
            .push(Checked { config: place.clone(), feasible: evaluation.feasible(&spec.slos) });
        for ((slo, there), here) in spec.slos.iter().zip(&judged).zip(&answer_judged) {
            if there.holds || !here.holds {
                continue;
            }
            let value = there.bound.is_finite().then_some(there.bound);
            let why = evaluation.error.as_deref();
            let message = sentence(&place, slo, value, here.bound, why);
            found.violations.push(Violation {
                config: place.clone(),
                slo: there.slo.clone(),
                value,
                answer_value: here.bound,
                message,
            });
        }
    }
    found
}

/// The configurations checked, in order: one step above the answer in each dimension below its
/// maximum, then the all-maximum corner unless it is the answer or already listed. A step is
/// the next value of the search's grid, which holds every integer from a dimension's minimum
/// to its maximum.
fn larger_configs(spec: &PlanSpec, answer: &[i64]) -> Vec<(Vec<i64>, Larger)> {
    let named = |config: &[i64]| -> BTreeMap<String, i64> {
        spec.dims.iter().map(|d| d.path.clone()).zip(config.iter().copied()).collect()
    };
    let mut larger = Vec::new();
    for (i, dim) in spec.dims.iter().enumerate() {
        if answer[i] < dim.max {
            let mut config = answer.to_vec();
            config[i] += 1;
            let place = Larger {
                at: named(&config),
                position: "one step above",
                dimension: Some(dim.path.clone()),
            };
            larger.push((config, place));
        }
    }
    let top: Vec<i64> = spec.dims.iter().map(|d| d.max).collect();
    if top != answer && larger.iter().all(|(c, _)| *c != top) {
        let place = Larger { at: named(&top), position: "all maximum", dimension: None };
        larger.push((top, place));
    }
    larger
}

/// The terminal's line for a violation, e.g. `not monotone: at station[web].servers=9 (one
/// step above) latency.p99_s = 1.3000 > 1 fails (95% bound), which the answer passes (0.9100)`.
fn sentence(
    place: &Larger,
    slo: &Slo,
    value: Option<f64>,
    answer_value: f64,
    error: Option<&str>,
) -> String {
    let at = match &place.dimension {
        Some(path) => format!("{path}={} (one step above)", place.at[path]),
        None => {
            let all: Vec<String> = place.at.iter().map(|(p, v)| format!("{p}={v}")).collect();
            format!("the all-maximum corner ({})", all.join(", "))
        }
    };
    let failing = match (value, error) {
        (_, Some(error)) => format!("{slo} fails: the configuration does not run ({error})"),
        (None, None) => format!("{slo} fails: no value"),
        (Some(v), None) => {
            format!("{} = {v:.4} {} {} fails (95% bound)", slo.metric, broken(slo.op), slo.target)
        }
    };
    format!("not monotone: at {at} {failing}, which the answer passes ({answer_value:.4})")
}

/// The comparison that makes an SLO fail: the negation of its operator.
fn broken(op: Op) -> &'static str {
    match op {
        Op::Le => ">",
        Op::Lt => ">=",
        Op::Ge => "<",
        Op::Gt => "<=",
        Op::Eq => "!=",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::plan::search::search;
    use crate::experiment::plan::spec::Dim;

    /// A plan over servers (0..=20) and workers (0..=10) judged on `latency <= 1`, cost 5 a
    /// server and 4 a worker.
    fn spec() -> PlanSpec {
        PlanSpec {
            slos: vec!["latency <= 1".parse().unwrap()],
            dims: vec![
                Dim { path: "servers".into(), min: 0, max: 20 },
                Dim { path: "workers".into(), min: 0, max: 10 },
            ],
            replications: 2,
            objective: "cost".into(),
            headroom: None,
        }
    }

    /// Latency falls as servers and workers are added; with `bad_servers`, that many servers
    /// split the work badly and latency jumps by 2 (a deliberately non-monotone model).
    fn model(config: &[i64], bad_servers: Option<i64>) -> Evaluation {
        let (servers, workers) = (config[0], config[1]);
        let mut latency = 12.0 / (servers as f64 + 1.0) + 2.0 / (workers as f64 + 1.0);
        if Some(servers) == bad_servers {
            latency += 2.0;
        }
        let cost = (5 * servers + 4 * workers) as f64;
        let values = [("latency".to_string(), vec![latency; 2]), ("cost".into(), vec![cost; 2])];
        Evaluation { values: values.into(), error: None }
    }

    /// Searches, then checks: the answer, the check and the batches the check simulated.
    fn plan_and_check(bad_servers: Option<i64>) -> (Vec<i64>, Monotonicity, Vec<Vec<i64>>) {
        let spec = spec();
        let run = |batch: &[Vec<i64>]| batch.iter().map(|c| model(c, bad_servers)).collect();
        let (best, mut cache) = search(&spec, run);
        let best = best.expect("the all-maximum corner passes");
        let mut simulated = Vec::new();
        let found = check_monotone(&spec, &best, &mut cache, |batch| {
            simulated.extend(batch.iter().cloned());
            run(batch)
        });
        (best, found, simulated)
    }

    #[test]
    fn a_monotone_model_has_no_violation() {
        // 15 servers (12/16 = 0.75) and 7 workers (2/8 = 0.25): cost 103.
        let (best, found, simulated) = plan_and_check(None);
        assert_eq!(best, vec![15, 7]);
        assert!(found.violations.is_empty(), "{found:?}");
        let at: Vec<_> = found.checked.iter().map(|c| &c.config.at).collect();
        assert_eq!(at.len(), 3, "a step in each dimension and the corner");
        assert_eq!((at[0]["servers"], at[0]["workers"]), (16, 7));
        assert_eq!((at[1]["servers"], at[1]["workers"]), (15, 8));
        assert_eq!((at[2]["servers"], at[2]["workers"]), (20, 10));
        assert_eq!(found.checked[2].config.position, "all maximum");
        assert!(found.checked.iter().all(|c| c.feasible));
        // The corner was the search's first probe: only the steps are new, in one batch.
        assert!(!simulated.contains(&vec![20, 10]) && simulated.len() <= 2, "{simulated:?}");
    }

    #[test]
    fn a_larger_configuration_that_fails_is_reported() {
        // 16 servers split the work badly: the search, trusting monotonicity, never probes 16
        // with 7 workers and answers as before; the check finds it failing.
        let (best, found, _) = plan_and_check(Some(16));
        assert_eq!(best, vec![15, 7]);
        assert_eq!(found.checked.len(), 3);
        assert!(!found.checked[0].feasible && found.checked[1].feasible);
        assert_eq!(found.violations.len(), 1, "{found:?}");
        let v = &found.violations[0];
        assert_eq!((v.config.at["servers"], v.config.at["workers"]), (16, 7));
        assert_eq!(v.config.dimension.as_deref(), Some("servers"));
        assert_eq!(v.slo, "latency <= 1");
        assert!((v.value.unwrap() - (12.0 / 17.0 + 0.25 + 2.0)).abs() < 1e-9, "{v:?}");
        assert!((v.answer_value - 1.0).abs() < 1e-9, "12/16 + 2/8: {v:?}");
        assert_eq!(
            v.message,
            "not monotone: at servers=16 (one step above) latency = 2.9559 > 1 fails (95% \
             bound), which the answer passes (1.0000)"
        );
    }

    #[test]
    fn a_dimension_at_its_maximum_gets_no_step_and_the_corner_is_not_repeated() {
        let spec = spec();
        let steps = larger_configs(&spec, &[20, 4]);
        let at: Vec<&Vec<i64>> = steps.iter().map(|(c, _)| c).collect();
        assert_eq!(at, [&vec![20, 5], &vec![20, 10]]);
        // One below the corner: its step is the corner, listed once, as the step.
        let steps = larger_configs(&spec, &[20, 9]);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].1.position, "one step above");
        assert!(larger_configs(&spec, &[20, 10]).is_empty());
    }

    #[test]
    fn a_configuration_that_does_not_run_fails_plainly() {
        let spec = spec();
        let mut cache = Cache::new();
        for c in [vec![15, 7], vec![20, 10], vec![15, 8]] {
            cache.insert(c.clone(), model(&c, None));
        }
        let broken = |batch: &[Vec<i64>]| {
            let e = Evaluation { values: BTreeMap::new(), error: Some("out of memory".into()) };
            vec![e; batch.len()]
        };
        let found = check_monotone(&spec, &[15, 7], &mut cache, broken);
        assert_eq!(found.violations.len(), 1);
        assert_eq!(found.violations[0].value, None);
        assert!(
            found.violations[0].message.contains(
                "latency <= 1 fails: the configuration does not \
                                                  run (out of memory)"
            ),
            "{}",
            found.violations[0].message
        );
    }
}
