//! `plan` on the command line: read the plan, search each variant's capacities, find the
//! headroom, print the plan table and write `plan.json` atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;
use serde::Deserialize;

use crate::cli::catalogue::Catalogue;
use crate::cli::common::{check_out_dir, jobs_or_cores, parse_jobs, parse_override};
use crate::config::issues::Issues;
use crate::config::load::load;
use crate::config::overrides::{Override, apply_override_to, lookup};
use crate::experiment::plan::report::{Candidate, PlanReport, VariantPlan, frontier_figure, table};
use crate::experiment::plan::search::{headroom, search};
use crate::experiment::plan::slo::{Evaluation, Slo};
use crate::experiment::plan::spec::{Dim, PlanSpec, RawPlan};
use crate::experiment::sweep::rows::flatten_numbers;
use crate::output::atomic::{json_bytes, write_atomic};
use crate::rng::replication_seed;

/// Arguments of `plan`.
#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Scenario file with a `[plan]` table.
    pub file: PathBuf,
    /// An SLO, e.g. `latency.p99_s<=1.0` (adds to the file's).
    #[arg(long = "slo", value_name = "METRIC<=X")]
    pub slos: Vec<String>,
    /// A capacity to choose: `path=min..max` (replaces the file's for that path).
    #[arg(long = "vary", value_name = "PATH=MIN..MAX")]
    pub vary: Vec<String>,
    /// Replications per candidate.
    #[arg(long)]
    pub replications: Option<u64>,
    /// The metric to minimise (default: the file's, else the model's own objective).
    #[arg(long)]
    pub objective: Option<String>,
    /// Worker threads (default: all cores; at most 1024).
    #[arg(long, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Output folder (default: output/<scenario>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scalar for every candidate.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE", value_parser = parse_override)]
    pub overrides: Vec<Override>,
}

#[derive(Deserialize)]
struct PlanFile {
    plan: Option<RawPlan>,
    #[serde(flatten)]
    _rest: BTreeMap<String, toml::Value>,
}

/// Runs `plan`.
pub fn plan<C: Catalogue>(args: PlanArgs) -> ExitCode
where
    C::Scenario: Send,
{
    let jobs = jobs_or_cores(args.jobs);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build() {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("error: cannot start {jobs} workers: {e}");
            return ExitCode::from(1);
        }
    };
    match pool.install(|| run::<C>(&args)) {
        Ok(code) => code,
        Err(message) if message.starts_with("error: cannot write results to") => {
            eprintln!("{message}");
            ExitCode::from(1) // not bad input: README's exit code for an unwritable output
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn parse_vary(text: &str) -> Result<Dim, String> {
    let (path, range) =
        text.split_once('=').ok_or_else(|| format!("`{text}` is not path=min..max"))?;
    let (min, max) =
        range.split_once("..").ok_or_else(|| format!("`{text}` is not path=min..max"))?;
    let num = |s: &str| {
        s.trim().parse::<i64>().map_err(|_| format!("`{s}` in `{text}` is not an integer"))
    };
    let (min, max) = (num(min)?, num(max)?);
    if min < 0 || max < min || max > 1_000_000 {
        return Err(format!("`{text}`: need 0 ≤ min ≤ max ≤ 1000000"));
    }
    Ok(Dim { path: path.trim().to_string(), min, max })
}

/// The variant a path belongs to: `variant[name]…`, else the first variant (`None`).
fn variant_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("variant[")?;
    let name = rest.split(']').next()?;
    (name.parse::<usize>().is_err()).then(|| name.to_string())
}

fn run<C: Catalogue>(args: &PlanArgs) -> Result<ExitCode, String> {
    let spec = plan_spec::<C>(args)?;
    let base = C::load(&args.file, &args.overrides).map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or_else(|| C::seed(&base));
    let name = C::name(&base);
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(&name));
    check_out_dir(&out_dir)?; // before any simulation
    let tree = base_tree(args, &spec)?;
    let mut report = PlanReport {
        scenario: name.clone(),
        seed,
        replications: spec.replications,
        variants: Vec::new(),
    };
    // Variants are planned side by side (their searches are independent); within a search each
    // candidate's replications run in parallel, and each probe waits for the one before.
    let planner = Planner { args, spec: &spec, tree: &tree, seed };
    let planned: Vec<Result<VariantPlan, String>> =
        group_by_variant(&spec.dims).par_iter().map(|g| planner.plan_variant::<C>(g)).collect();
    for plan in planned {
        report.variants.push(plan?);
    }
    write_atomic(&out_dir.join("plan.json"), &json_bytes(&report))
        .map_err(|e| format!("error: cannot write results to {}: {e}", out_dir.display()))?;
    for v in &report.variants {
        if let Err(e) = frontier_figure(&out_dir, v, &spec) {
            eprintln!("warning: the frontier figure could not be drawn: {e}");
        }
    }
    print!("{}", table(&report));
    if let Err(e) = C::report(&out_dir) {
        eprintln!("error: the report could not be drawn: {e}");
        return Ok(ExitCode::from(1));
    }
    eprintln!("plan written to {}", out_dir.join("plan.json").display());
    Ok(ExitCode::SUCCESS)
}

/// The plan: the file's `[plan]` table with the command line's SLOs, capacities, objective and
/// replications applied.
fn plan_spec<C: Catalogue>(args: &PlanArgs) -> Result<PlanSpec, String> {
    let (file_plan, doc) = load::<PlanFile>(&args.file, &[]).map_err(|e| e.to_string())?;
    let mut issues = Issues::new();
    let raw = file_plan.plan.unwrap_or_default();
    let mut spec: PlanSpec = match raw.check(&mut issues, C::default_objective()) {
        Some(spec) => spec,
        None => return Err(doc.errors(&issues).to_string()),
    };
    for text in &args.slos {
        spec.slos.push(text.parse::<Slo>().map_err(|e| format!("error: --slo {e}"))?);
    }
    for text in &args.vary {
        let dim = parse_vary(text).map_err(|e| format!("error: --vary {e}"))?;
        spec.dims.retain(|d| d.path != dim.path);
        spec.dims.push(dim);
    }
    if let Some(objective) = &args.objective {
        spec.objective = objective.clone();
    }
    if let Some(r) = args.replications {
        if !(2..=10_000).contains(&r) {
            return Err(format!(
                "error: --replications must be between 2 and 10000 (got {r}): SLOs are judged on \
                 confidence bounds"
            ));
        }
        spec.replications = r;
    }
    if spec.slos.is_empty() || spec.dims.is_empty() {
        return Err("error: a plan needs at least one SLO and one capacity to vary ([plan] slo and vary, or --slo and --vary)".into());
    }
    Ok(spec)
}

/// The file's tree with the overrides applied, for the base values of the headroom paths;
/// checks that capacities name their variant and that the headroom paths are numbers.
fn base_tree(args: &PlanArgs, spec: &PlanSpec) -> Result<toml::Value, String> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("error: {e}"))?;
    let mut tree: toml::Value = toml::from_str(&text).map_err(|e| format!("error: {e}"))?;
    for set in &args.overrides {
        apply_override_to(&mut tree, set).map_err(|e| format!("error: --set {e}"))?;
    }
    for dim in &spec.dims {
        if let Some(selector) = dim.path.strip_prefix("variant[").and_then(|r| r.split(']').next())
            && selector.parse::<usize>().is_ok()
        {
            return Err(format!(
                "error: `{}`: name the variant (variant[<name>]…) so its own metrics are judged",
                dim.path
            ));
        }
    }
    if let Some((paths, _)) = &spec.headroom {
        for path in paths {
            match lookup(&tree, path) {
                Some(toml::Value::Integer(_) | toml::Value::Float(_)) => {}
                _ => {
                    return Err(format!(
                        "error: headroom scale path `{path}` must name a number in the file"
                    ));
                }
            }
        }
    }
    Ok(tree)
}

/// The dimensions grouped by variant, in order of first appearance.
fn group_by_variant(dims: &[Dim]) -> Vec<(Option<String>, Vec<Dim>)> {
    let mut groups: Vec<(Option<String>, Vec<Dim>)> = Vec::new();
    for dim in dims {
        let v = variant_of(&dim.path);
        match groups.iter_mut().find(|(name, _)| *name == v) {
            Some((_, dims)) => dims.push(dim.clone()),
            None => groups.push((v, vec![dim.clone()])),
        }
    }
    groups
}

/// What every variant's search shares.
struct Planner<'a> {
    args: &'a PlanArgs,
    spec: &'a PlanSpec,
    tree: &'a toml::Value,
    seed: u64,
}

impl Planner<'_> {
    /// The overrides of configuration `config` of `dims`, with the forecast scaled by `scale`.
    fn overrides(&self, dims: &[Dim], config: &[i64], scale: f64) -> Vec<Override> {
        let mut overrides = self.args.overrides.clone();
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

    /// Searches one variant's capacities and finds its headroom.
    fn plan_variant<C: Catalogue>(
        &self,
        (variant, dims): &(Option<String>, Vec<Dim>),
    ) -> Result<VariantPlan, String> {
        let spec = self.spec;
        let group_spec = PlanSpec { dims: dims.clone(), ..spec.clone() };
        let evaluate = |config: &[i64], scale: f64| -> Evaluation {
            let overrides = self.overrides(dims, config, scale);
            evaluate::<C>(
                &self.args.file,
                &overrides,
                variant.as_deref(),
                self.seed,
                spec.replications,
            )
        };
        let (best, cache) = search(&group_spec, |c| evaluate(c, 1.0));
        let top: Vec<i64> = dims.iter().map(|d| d.max).collect();
        if let Some(e) = cache.get(&top) {
            check_metrics::<C>(spec, e)?;
        }
        let simulated = cache.len();
        let full_grid: f64 = dims.iter().map(|d| (d.max - d.min + 1) as f64).product();
        let label = variant.clone().unwrap_or_else(|| "(first variant)".into());
        let chosen = best.clone().unwrap_or_else(|| dims.iter().map(|d| d.max).collect());
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
        let mut headroom_runs = 0;
        let headroom = match (&best, &spec.headroom) {
            (Some(config), Some((_, max))) => Some(headroom(*max, |m| {
                headroom_runs += 1;
                evaluate(config, m).feasible(&spec.slos)
            })),
            _ => None,
        };
        if let Some(error) = &evaluation.error {
            eprintln!("warning: variant {label}: {error}");
        }
        let objective_value = evaluation.objective(&spec.objective);
        let candidates: Vec<Candidate> = cache
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
            .collect();
        Ok(VariantPlan {
            variant: label,
            feasible: best.is_some(),
            capacities: dims.iter().map(|d| d.path.clone()).zip(chosen.iter().copied()).collect(),
            objective: spec.objective.clone(),
            objective_value: objective_value.is_finite().then_some(objective_value),
            slos: judgements,
            closest_failing_slo: closest,
            headroom,
            headroom_scale: spec.headroom.as_ref().map(|(p, _)| p.clone()).unwrap_or_default(),
            configurations_simulated: simulated,
            full_grid,
            runs_simulated: (simulated as u64 + headroom_runs) * spec.replications,
            candidates,
        })
    }
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

/// Runs `replications` replications of one configuration (in parallel, collected in order).
fn evaluate<C: Catalogue>(
    file: &Path,
    overrides: &[Override],
    variant: Option<&str>,
    seed: u64,
    replications: u64,
) -> Evaluation {
    let mut scenario = match C::load(file, overrides) {
        Ok(s) => s,
        Err(e) => return Evaluation { values: BTreeMap::new(), error: Some(e.to_string()) },
    };
    if let Some(name) = variant
        && let Err(e) = C::select_variant(&mut scenario, name)
    {
        return Evaluation { values: BTreeMap::new(), error: Some(e) };
    }
    let runs: Vec<Result<Vec<(String, f64)>, String>> = (0..replications)
        .into_par_iter()
        .map(|r| {
            let output =
                C::run(&scenario, Some(replication_seed(seed, r))).map_err(|e| e.to_string())?;
            let first =
                output.summary.get("variants").and_then(|v| v.get(0)).cloned().unwrap_or_default();
            Ok(flatten_numbers(&first))
        })
        .collect();
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for run in runs {
        match run {
            Ok(metrics) => {
                for (k, v) in metrics {
                    values.entry(k).or_default().push(v);
                }
            }
            Err(e) => return Evaluation { values: BTreeMap::new(), error: Some(e) },
        }
    }
    Evaluation { values, error: None }
}
