//! `plan` on the command line: read the plan, search each variant's capacities and find the
//! headroom ([`variant`]), print the plan table and write `plan.json` atomically; a progress
//! line on a terminal meanwhile ([`progress`]).

pub mod progress;
pub mod variant;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;
use serde::Deserialize;

use crate::cli::catalogue::Catalogue;
use crate::cli::common::{check_out_dir, jobs_or_cores, parse_jobs, parse_override};
use crate::cli::memory;
use crate::config::issues::Issues;
use crate::config::load::load;
use crate::config::overrides::{Override, apply_override_to, lookup};
use crate::experiment::plan::report::{PlanReport, VariantPlan, frontier_figure, table};
use crate::experiment::plan::slo::Slo;
use crate::experiment::plan::spec::{Dim, PlanSpec, RawPlan};
use crate::output::atomic::{json_bytes, write_atomic};
use crate::output::folder::Staged;
use progress::Progress;
use variant::{Group, Planner, label};

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
    /// Seed replacing the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scalar for every candidate.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE", value_parser = parse_override)]
    pub overrides: Vec<Override>,
    /// Memory the plan may use, e.g. `8G` (default: what the machine has available); checked
    /// at the largest candidate (every capacity at its maximum, the headroom's largest forecast)
    /// times the runs at once (--jobs).
    #[arg(long, value_name = "BYTES", value_parser = memory::parse_bytes)]
    pub max_memory: Option<u64>,
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
    // round's probes, and all their replications, run as one parallel set.
    let groups = group_by_variant(&spec.dims);
    let labels: Vec<String> = groups.iter().map(|(v, _)| label(v)).collect();
    let progress = Progress::new(std::io::stderr().is_terminal(), &labels);
    let planner = Planner {
        file: &args.file,
        overrides: &args.overrides,
        spec: &spec,
        tree: &tree,
        seed,
        progress: &progress,
    };
    // Before any simulation, like run and sweep: a plan whose largest candidate, run on every
    // worker at once, cannot fit is bad input.
    if let Ok(largest) = C::load(&args.file, &planner.largest())
        && let Some(estimate) = C::memory_estimate(&largest)
    {
        memory::check(&estimate, jobs_or_cores(args.jobs), args.max_memory)?;
    }
    let planned: Vec<Result<VariantPlan, String>> =
        groups.par_iter().map(|g| planner.plan_variant::<C>(g)).collect();
    progress.finish();
    for plan in planned {
        report.variants.push(plan?);
    }
    // Like a run's: staged inside the output folder, moved in at the end, the manifest last.
    let cannot_write =
        |e: std::io::Error| format!("error: cannot write results to {}: {e}", out_dir.display());
    let mut staged = Staged::begin(&out_dir).map_err(cannot_write)?;
    let dir = staged.dir().to_path_buf();
    write_atomic(&dir.join("plan.json"), &json_bytes(&report)).map_err(cannot_write)?;
    staged.mark_results().map_err(cannot_write)?;
    for v in &report.variants {
        if let Err(e) = frontier_figure(&dir, v, &spec) {
            eprintln!("warning: the frontier figure could not be drawn: {e}");
        }
    }
    print!("{}", table(&report));
    let report_failed = C::report(&dir)
        .and_then(|_| staged.prepare_targets().map_err(|e| e.to_string()))
        .map_err(|e| eprintln!("error: the report could not be drawn: {e}"))
        .is_err();
    if report_failed {
        staged.drop_report().map_err(cannot_write)?;
    }
    staged.commit(&crate::cli::run::written_by::<C>()).map_err(cannot_write)?;
    if report_failed {
        return Ok(ExitCode::from(1));
    }
    eprintln!("plan written to {}", out_dir.join("plan.json").display());
    eprintln!("report: {}", out_dir.join("report.html").display());
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
fn group_by_variant(dims: &[Dim]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for dim in dims {
        let v = variant_of(&dim.path);
        match groups.iter_mut().find(|(name, _)| *name == v) {
            Some((_, dims)) => dims.push(dim.clone()),
            None => groups.push((v, vec![dim.clone()])),
        }
    }
    groups
}
