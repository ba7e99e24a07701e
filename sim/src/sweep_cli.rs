//! `sweep` and `merge` on the command line: the plan from the file and flags, the parallel run
//! in chunks written in plan order, progress on stderr, Ctrl-C, shards.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use serde::Deserialize;

use crate::cli::{Catalogue, parse_override};
use crate::config::{ConfigErrors, Issues, Override};
use crate::output::write_atomic;
use crate::sweep::{
    self, Axis, Plan, RawSweep, Row, Shard, flatten_numbers, row_line, rows_header, summary_header,
    summary_lines,
};

/// Arguments of `sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// Scenario file with an optional `[sweep]` table.
    pub file: PathBuf,
    /// An axis: `path=a,b,c`, `path=2..32:2` (linear) or `path=1..64*2` (geometric).
    #[arg(long = "grid", value_name = "PATH=VALUES")]
    pub grid: Vec<String>,
    /// An axis paired with the other `--zip` axes (same length, advancing together).
    #[arg(long = "zip", value_name = "PATH=VALUES")]
    pub zip: Vec<String>,
    /// Replications per point (overrides `sweep.replications`).
    #[arg(long)]
    pub replications: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output folder (default: output/<scenario>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed replacing the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scalar for every point.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE", value_parser = parse_override)]
    pub overrides: Vec<Override>,
    /// Run only shard i of n (points k with k mod n = i) and write a shard file.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Shard count when the index comes from `JOB_COMPLETION_INDEX` (Kubernetes).
    #[arg(long)]
    pub shards: Option<u64>,
    /// Skip the figures and report.html (the `report` command draws them later).
    #[arg(long)]
    pub no_report: bool,
}

/// The `[sweep]` table of a file, the rest ignored (the catalogue validates it).
#[derive(Deserialize)]
struct SweepFile {
    sweep: Option<RawSweep>,
    #[serde(flatten)]
    _rest: BTreeMap<String, toml::Value>,
}

fn fingerprint(file: &Path, args: &SweepArgs, plan: &Plan) -> String {
    let mut text = std::fs::read_to_string(file).unwrap_or_default();
    for part in args.grid.iter().chain(&args.zip) {
        text.push_str(part);
    }
    for set in &args.overrides {
        text.push_str(&set.text);
    }
    text.push_str(&format!("{:?}{:?}", plan.paths, plan.replications));
    format!("{:016x}", crate::rng::label_hash(&text))
}

/// What one task produced.
type TaskResult = Result<Vec<Row>, (usize, String)>;

/// Runs `sweep`.
pub fn sweep<C: Catalogue>(args: SweepArgs) -> ExitCode
where
    C::Scenario: Send,
{
    match plan_and_run::<C>(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn plan_and_run<C: Catalogue>(args: &SweepArgs) -> Result<ExitCode, String> {
    let (file_sweep, doc) =
        crate::config::load::<SweepFile>(&args.file, &[]).map_err(|e| e.to_string())?;
    let mut issues = Issues::new();
    let (mut axes, file_reps) = file_sweep.sweep.unwrap_or_default().check(&mut issues);
    if !issues.is_empty() {
        return Err(doc.errors(&issues).to_string());
    }
    let cli_axes: Vec<Axis> = args
        .grid
        .iter()
        .map(|g| sweep::parse_cli_axis(g, None))
        .chain(args.zip.iter().map(|z| sweep::parse_cli_axis(z, Some("--zip"))))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("error: {e}"))?;
    for axis in cli_axes {
        axes.retain(|a| a.path != axis.path);
        axes.push(axis);
    }
    let replications = args.replications.or(file_reps).unwrap_or(1);
    if !(1..=1_000_000).contains(&replications) {
        return Err(format!(
            "error: --replications must be between 1 and 1000000 (got {replications})"
        ));
    }
    let plan = Plan::new(&axes, replications).map_err(|e| format!("error: {e}"))?;
    let base = C::load(&args.file, &args.overrides).map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or_else(|| C::seed(&base));
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text).map_err(|e| format!("error: --shard {e}"))?),
        None => Shard::from_env(|name| std::env::var(name).ok(), args.shards)
            .map_err(|e| format!("error: {e}"))?,
    };
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(C::name(&base)));
    let jobs =
        args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let fingerprint = fingerprint(&args.file, args, &plan);
    run_plan::<C>(args, &plan, seed, shard, &out_dir, jobs.max(1), &fingerprint)
}

fn run_plan<C: Catalogue>(
    args: &SweepArgs,
    plan: &Plan,
    seed: u64,
    shard: Option<Shard>,
    out_dir: &Path,
    jobs: usize,
    fingerprint: &str,
) -> Result<ExitCode, String> {
    // Only the points are listed; task i is replication i mod R of point i / R.
    let points: Vec<usize> = (0..plan.points.len())
        .filter(|k| shard.is_none_or(|s| *k as u64 % s.count == s.index))
        .collect();
    let reps = plan.replications as usize;
    let task_count = points.len() * reps;
    let task = |i: usize| (points[i / reps], (i % reps) as u64);
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        // A second Ctrl-C falls through to the default (the handler is installed once).
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(task_count as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs  {elapsed} elapsed, ETA {eta}  {msg}",
            )
            .expect("valid template"),
        );
        bar
    });
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("error: cannot create {}: {e}", out_dir.display()))?;
    let (rows_name, summary_name) = match shard {
        Some(s) => (s.file_name(), None),
        None => ("sweep.csv".to_string(), Some("sweep-summary.csv")),
    };
    let rows_tmp = out_dir.join(format!(".{rows_name}.partial-{}", std::process::id()));
    let mut rows_out = BufWriter::new(File::create(&rows_tmp).map_err(|e| format!("error: {e}"))?);
    if let Some(s) = shard {
        writeln!(
            rows_out,
            "{}",
            sweep::shard_preamble(fingerprint, seed, env!("CARGO_PKG_VERSION"), s, plan)
        )
        .map_err(|e| format!("error: {e}"))?;
    }
    let mut summary = String::new();
    let metrics: OnceLock<Vec<String>> = OnceLock::new();
    let mut pending: Vec<Row> = Vec::new();
    let mut failed_points: Vec<usize> = Vec::new();
    let mut run_failures = 0;
    let mut done = 0;
    let mut write_error: Option<String> = None;
    let mut handle = |result: TaskResult| {
        done += 1;
        if let Some(bar) = &progress {
            bar.inc(1);
        }
        let rows = match result {
            Ok(rows) => rows,
            Err((k, message)) => {
                if !failed_points.contains(&k) {
                    eprintln!("error: point {k} ({}): {message}", plan.describe(k));
                    failed_points.push(k);
                    if !message.starts_with("invalid") {
                        run_failures += 1;
                    }
                }
                return;
            }
        };
        if rows.is_empty() {
            return;
        }
        let metrics = metrics.get_or_init(|| {
            let mut keys: Vec<String> = Vec::new();
            for row in &rows {
                for (key, _) in &row.metrics {
                    if !keys.contains(key) {
                        keys.push(key.clone());
                    }
                }
            }
            if let Err(e) = writeln!(rows_out, "{}", rows_header(&plan.paths, &keys)) {
                write_error.get_or_insert(e.to_string());
            }
            summary = summary_header(&plan.paths, &keys) + "\n";
            keys
        });
        for row in &rows {
            if let Err(e) = writeln!(rows_out, "{}", row_line(plan, metrics, row)) {
                write_error.get_or_insert(e.to_string());
            }
        }
        // A point's replications are contiguous: summarise it once the next point starts.
        if pending.first().is_some_and(|p| p.point != rows[0].point) {
            summary.push_str(&summary_lines(&plan.points[pending[0].point], metrics, &pending));
            pending.clear();
        }
        pending.extend(rows);
    };
    let work = |i: usize| {
        let (k, r) = task(i);
        run_task::<C>(args, plan, seed, k, r)
    };
    run_in_order(task_count, jobs, &interrupted, work, &mut handle);
    if let Some(e) = write_error {
        return Err(format!("error: cannot write results to {}: {e}", out_dir.display()));
    }
    if let (Some(metrics), false) = (metrics.get(), pending.is_empty()) {
        summary.push_str(&summary_lines(&plan.points[pending[0].point], metrics, &pending));
    }
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let stopped = interrupted.load(Ordering::SeqCst);
    if shard.is_some() && !stopped {
        // The trailer tells `merge` this shard ran every task it owns.
        writeln!(rows_out, "{}", sweep::shard_trailer(task_count))
            .map_err(|e| format!("error: {e}"))?;
    }
    rows_out.flush().map_err(|e| format!("error: {e}"))?;
    drop(rows_out);
    if metrics.get().is_none() && shard.is_none() {
        // Nothing succeeded: leave no empty file behind.
        let _ = std::fs::remove_file(&rows_tmp);
    } else {
        std::fs::rename(&rows_tmp, out_dir.join(&rows_name)).map_err(|e| format!("error: {e}"))?;
        if let Some(name) = summary_name {
            write_atomic(&out_dir.join(name), summary.as_bytes())
                .map_err(|e| format!("error: {e}"))?;
        }
    }
    if shard.is_none()
        && !args.no_report
        && metrics.get().is_some()
        && let Err(e) = C::report(out_dir)
    {
        eprintln!("warning: the report could not be drawn: {e}");
    }
    let failed = if failed_points.is_empty() {
        String::new()
    } else {
        format!(", {} points failed", failed_points.len())
    };
    eprintln!(
        "{done} of {task_count} runs{failed}{}; {} in {}",
        if stopped { " (interrupted: completed rows kept)" } else { "" },
        if summary_name.is_some() { "sweep.csv and sweep-summary.csv" } else { rows_name.as_str() },
        out_dir.display()
    );
    Ok(if stopped {
        ExitCode::from(130)
    } else if !failed_points.is_empty() {
        ExitCode::from(if run_failures > 0 { 1 } else { 2 })
    } else {
        ExitCode::SUCCESS
    })
}

fn run_task<C: Catalogue>(
    args: &SweepArgs,
    plan: &Plan,
    seed: u64,
    k: usize,
    r: u64,
) -> TaskResult {
    // A model bug must not hang the sweep: a panicking run becomes that point's error.
    let run = std::panic::AssertUnwindSafe(|| run_task_inner::<C>(args, plan, seed, k, r));
    std::panic::catch_unwind(run).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err((k, format!("the run panicked (a bug: please report it): {what}")))
    })
}

fn run_task_inner<C: Catalogue>(
    args: &SweepArgs,
    plan: &Plan,
    seed: u64,
    k: usize,
    r: u64,
) -> TaskResult {
    let mut overrides = args.overrides.clone();
    overrides.extend(plan.overrides(k));
    let scenario =
        C::load(&args.file, &overrides).map_err(|e: ConfigErrors| (k, format!("invalid:\n{e}")))?;
    let seed = Plan::seed(seed, r);
    let output = C::run(&scenario, Some(seed)).map_err(|e| (k, e.to_string()))?;
    let variants =
        output.summary.get("variants").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    Ok(variants
        .iter()
        .map(|v| Row {
            point: k,
            replication: r,
            seed,
            variant: v.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string(),
            metrics: flatten_numbers(v),
        })
        .collect())
}

/// Runs `merge DIR`.
pub fn merge(dir: &Path, out: Option<&Path>) -> ExitCode {
    match sweep::merge(dir) {
        Ok((rows, summary)) => {
            let out = out.unwrap_or(dir);
            let written = write_atomic(&out.join("sweep.csv"), rows.as_bytes())
                .and_then(|()| write_atomic(&out.join("sweep-summary.csv"), summary.as_bytes()));
            match written {
                Ok(()) => {
                    eprintln!("merged into {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot write to {}: {e}", out.display());
                    ExitCode::from(1)
                }
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs `work` on every task with `jobs` threads and hands the results to `handle` in task
/// order, as soon as each is next in line. A worker does not start a task more than a window
/// ahead of the last one handled, so memory is bounded by the window, not by the plan; unlike
/// fixed chunks there is no barrier, so uneven task lengths do not idle the workers.
fn run_in_order<R: Send>(
    count: usize,
    jobs: usize,
    interrupted: &AtomicBool,
    work: impl Fn(usize) -> R + Sync,
    handle: &mut impl FnMut(R),
) {
    struct Shared<R> {
        results: BTreeMap<usize, R>,
        handled: usize,
        active: usize,
    }
    let window = jobs * 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let shared = Mutex::new(Shared { results: BTreeMap::new(), handled: 0, active: jobs });
    let changed = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= count {
                        break;
                    }
                    {
                        let mut state = shared.lock().expect("no worker panics holding the lock");
                        while i >= state.handled + window && !interrupted.load(Ordering::SeqCst) {
                            state = changed.wait(state).expect("lock");
                        }
                    }
                    if interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    let result = work(i);
                    shared.lock().expect("lock").results.insert(i, result);
                    changed.notify_all();
                }
                shared.lock().expect("lock").active -= 1;
                changed.notify_all();
            });
        }
        loop {
            let result = {
                let mut state = shared.lock().expect("lock");
                loop {
                    let wanted = state.handled;
                    if let Some(result) = state.results.remove(&wanted) {
                        state.handled += 1;
                        break Some(result);
                    }
                    if state.active == 0 {
                        break None;
                    }
                    state = changed.wait(state).expect("lock");
                }
            };
            changed.notify_all();
            match result {
                Some(result) => handle(result),
                None => break,
            }
        }
    });
}
