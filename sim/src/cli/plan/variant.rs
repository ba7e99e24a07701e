//! One variant's plan: its capacities searched, the answer checked against larger
//! configurations, its headroom found, its candidates listed.
//!
//! The search hands over a batch of configurations a round; they are simulated as one flat
//! set of (configuration × replication) runs, so every worker has a run to do as long as the
//! round has runs left, whichever configuration they belong to.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use crate::cli::catalogue::Catalogue;
use crate::cli::plan::progress::Progress;
use crate::config::overrides::{Override, lookup};
use crate::experiment::plan::monotone::check_monotone;
use crate::experiment::plan::report::{Candidate, VariantPlan};
use crate::experiment::plan::search::{Headroom, headroom, search};
use crate::experiment::plan::slo::Evaluation;
use crate::experiment::plan::spec::{Dim, PlanSpec};
use crate::experiment::sweep::rows::flatten_numbers;
use crate::rng::replication_seed;

/// What every variant's search shares.
pub struct Planner<'a> {
    pub file: &'a Path,
    /// The command line's `--set` overrides, applied to every candidate.
    pub overrides: &'a [Override],
    pub spec: &'a PlanSpec,
    /// The file's tree with the overrides applied: the base values of the headroom paths.
    pub tree: &'a toml::Value,
    pub seed: u64,
    pub progress: &'a Progress,
}

/// One variant to plan: its name (`None`: the first variant) and its dimensions.
pub type Group = (Option<String>, Vec<Dim>);

/// The label of a group in tables and on the progress line.
pub fn label(variant: &Option<String>) -> String {
    variant.clone().unwrap_or_else(|| "(first variant)".into())
}

impl Planner<'_> {
    /// The overrides of configuration `config` of `dims`, with the forecast scaled by `scale`.
    fn overrides(&self, dims: &[Dim], config: &[i64], scale: f64) -> Vec<Override> {
        let mut overrides = self.overrides.to_vec();
        for (dim, value) in dims.iter().zip(config) {
            overrides.push(Override {
                path: dim.path.clone(),
                value: toml::Value::Integer(*value),
                text: format!("{}={value}", dim.path),
            });
        }
        if scale != 1.0
            && let Some((paths, _)) = &self.spec.headroom
        {
            for path in paths {
                if let Some(scaled) = lookup(self.tree, path).and_then(|v| scale_value(v, scale)) {
                    overrides.push(Override {
                        path: path.clone(),
                        text: format!("{path}={scaled}"),
                        value: scaled,
                    });
                }
            }
        }
        overrides
    }

    /// The overrides of the largest candidate the plan can simulate: every dimension at its
    /// maximum, the forecast scaled by the headroom's maximum.
    pub fn largest(&self) -> Vec<Override> {
        let config: Vec<i64> = self.spec.dims.iter().map(|d| d.max).collect();
        let scale = self.spec.headroom.as_ref().map_or(1.0, |(_, max)| *max);
        self.overrides(&self.spec.dims, &config, scale)
    }

    /// Searches one variant's capacities, checks the answer against larger configurations and
    /// finds its headroom.
    pub fn plan_variant<C: Catalogue>(
        &self,
        (variant, dims): &Group,
    ) -> Result<VariantPlan, String> {
        let spec = self.spec;
        let label = label(variant);
        let group_spec = PlanSpec { dims: dims.clone(), ..spec.clone() };
        let mut rounds = 0;
        let (best, mut cache) = search(&group_spec, |configs| {
            rounds += 1;
            let evaluations = self.evaluate_configs::<C>(dims, variant.as_deref(), configs);
            let seen: Vec<(Vec<i64>, Option<f64>)> = configs
                .iter()
                .zip(&evaluations)
                .map(|(c, e)| {
                    (c.clone(), e.feasible(&spec.slos).then(|| e.objective(&spec.objective)))
                })
                .collect();
            self.progress.simulated(&label, &seen);
            evaluations
        });
        let top: Vec<i64> = dims.iter().map(|d| d.max).collect();
        if let Some(e) = cache.get(&top) {
            check_metrics::<C>(spec, e)?;
        }
        // Same seeds as the search; counted like its probes, but kept off the progress line's
        // best candidate, which is the search's.
        let monotonicity = best.as_ref().map(|answer| {
            self.progress.phase(&label, "checking");
            check_monotone(&group_spec, answer, &mut cache, |configs| {
                rounds += 1;
                self.progress.probed(configs.len());
                self.evaluate_configs::<C>(dims, variant.as_deref(), configs)
            })
        });
        let simulated = cache.len();
        let full_grid: f64 = dims.iter().map(|d| (d.max - d.min + 1) as f64).product();
        let chosen = best.clone().unwrap_or_else(|| top.clone());
        let evaluation = &cache[&chosen];
        let judgements = evaluation.judge(&spec.slos);
        let closest = if best.is_some() {
            None
        } else {
            judgements
                .iter()
                .filter(|j| !j.holds)
                .min_by(|a, b| a.shortfall.total_cmp(&b.shortfall))
                .cloned()
        };
        let (headroom, headroom_runs) = match (&best, &spec.headroom) {
            (Some(config), Some((_, max))) => {
                self.progress.phase(&label, "headroom");
                let (found, runs) = self.headroom::<C>(dims, variant.as_deref(), config, *max);
                rounds += runs.len() as u64;
                (Some(found), runs.iter().sum::<u64>())
            }
            _ => (None, 0),
        };
        self.progress.phase(&label, "done");
        if let Some(error) = &evaluation.error {
            eprintln!("warning: variant {label}: {error}");
        }
        let objective_value = evaluation.objective(&spec.objective);
        Ok(VariantPlan {
            variant: label,
            feasible: best.is_some(),
            capacities: dims.iter().map(|d| d.path.clone()).zip(chosen.iter().copied()).collect(),
            objective: spec.objective.clone(),
            objective_value: objective_value.is_finite().then_some(objective_value),
            slos: judgements,
            closest_failing_slo: closest,
            monotonicity,
            headroom: headroom.map(|h| h.multiplier),
            headroom_at_limit: headroom.map(|h| h.at_limit),
            headroom_scale: spec.headroom.as_ref().map(|(p, _)| p.clone()).unwrap_or_default(),
            configurations_simulated: simulated,
            full_grid,
            runs_simulated: (simulated as u64 + headroom_runs) * spec.replications,
            rounds,
            candidates: candidates(spec, &cache),
        })
    }

    /// The headroom of `config` up to `max`, and the multipliers probed in each round.
    fn headroom<C: Catalogue>(
        &self,
        dims: &[Dim],
        variant: Option<&str>,
        config: &[i64],
        max: f64,
    ) -> (Headroom, Vec<u64>) {
        let mut probed_per_round = Vec::new();
        let found = headroom(max, |multipliers| {
            probed_per_round.push(multipliers.len() as u64);
            let points: Vec<Vec<Override>> =
                multipliers.iter().map(|&m| self.overrides(dims, config, m)).collect();
            let evaluations = self.evaluate::<C>(&points, variant);
            self.progress.probed(points.len());
            evaluations.iter().map(|e| e.feasible(&self.spec.slos)).collect()
        });
        (found, probed_per_round)
    }

    /// Simulates configurations `configs` of `dims` at the forecast.
    fn evaluate_configs<C: Catalogue>(
        &self,
        dims: &[Dim],
        variant: Option<&str>,
        configs: &[Vec<i64>],
    ) -> Vec<Evaluation> {
        let points: Vec<Vec<Override>> =
            configs.iter().map(|c| self.overrides(dims, c, 1.0)).collect();
        self.evaluate::<C>(&points, variant)
    }

    /// Simulates every point (a set of overrides) `replications` times, all runs of all points
    /// as one parallel set; evaluations come back in the points' order.
    fn evaluate<C: Catalogue>(
        &self,
        points: &[Vec<Override>],
        variant: Option<&str>,
    ) -> Vec<Evaluation> {
        let scenarios: Vec<Result<C::Scenario, String>> = points
            .par_iter()
            .map(|overrides| {
                let mut scenario = C::load(self.file, overrides).map_err(|e| e.to_string())?;
                if let Some(name) = variant {
                    C::select_variant(&mut scenario, name)?;
                }
                Ok(scenario)
            })
            .collect();
        let reps = self.spec.replications as usize;
        let runs: Vec<Result<Vec<(String, f64)>, String>> = (0..points.len() * reps)
            .into_par_iter()
            .map(|task| {
                let scenario = scenarios[task / reps].as_ref().map_err(Clone::clone)?;
                let seed = replication_seed(self.seed, (task % reps) as u64);
                let output = C::run(scenario, Some(seed)).map_err(|e| e.to_string())?;
                let first = output
                    .summary
                    .get("variants")
                    .and_then(|v| v.get(0))
                    .cloned()
                    .unwrap_or_default();
                Ok(flatten_numbers(&first))
            })
            .collect();
        runs.chunks(reps).map(gather).collect()
    }
}

/// One configuration's evaluation from its replications' metrics, in replication order; the
/// first failed replication makes it an error.
fn gather(runs: &[Result<Vec<(String, f64)>, String>]) -> Evaluation {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for run in runs {
        match run {
            Ok(metrics) => {
                for (k, v) in metrics {
                    values.entry(k.clone()).or_default().push(*v);
                }
            }
            Err(e) => return Evaluation { values: BTreeMap::new(), error: Some(e.clone()) },
        }
    }
    Evaluation { values, error: None }
}

/// Every simulated configuration, in configuration order: the frontier.
fn candidates(spec: &PlanSpec, cache: &BTreeMap<Vec<i64>, Evaluation>) -> Vec<Candidate> {
    cache
        .iter()
        .map(|(config, e)| {
            let cost = e.objective(&spec.objective);
            Candidate {
                capacities: config.clone(),
                objective_value: cost.is_finite().then_some(cost),
                feasible: e.feasible(&spec.slos),
                slo_means: e.judge(&spec.slos).iter().map(|j| j.mean).collect(),
            }
        })
        .collect()
}

/// A run that cannot load, or SLO and objective metrics the summary lacks, are input errors,
/// not an infeasible plan: checked on the largest configuration's evaluation `e`. The model's
/// default objective may be missing (its evaluation is then infinite).
fn check_metrics<C: Catalogue>(spec: &PlanSpec, e: &Evaluation) -> Result<(), String> {
    if let Some(error) = &e.error {
        return Err(format!("error: the largest configuration does not run: {error}"));
    }
    let metrics = spec.slos.iter().map(|s| &s.metric).chain(std::iter::once(&spec.objective));
    for metric in metrics {
        if !e.values.contains_key(metric) && metric != C::default_objective() {
            return Err(format!("error: `{metric}` is not a number in the variant's summary"));
        }
    }
    Ok(())
}

/// Multiplies a number from the file (integers stay integers).
fn scale_value(value: &toml::Value, m: f64) -> Option<toml::Value> {
    match value {
        toml::Value::Integer(i) => Some(toml::Value::Integer(((*i as f64) * m).round() as i64)),
        toml::Value::Float(f) => Some(toml::Value::Float(f * m)),
        _ => None,
    }
}
