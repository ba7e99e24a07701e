//! `sweep` and `merge` on the command line: the grid from the file and flags, the parallel run
//! written in grid order, progress on stderr, Ctrl-C, shards.

use std::collections::BTreeMap;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::cli::catalogue::Catalogue;
use crate::cli::common::{check_out_dir, jobs_or_cores, parse_jobs, parse_override};
use crate::cli::memory;
use crate::cli::run::written_by;
use crate::config::issues::Issues;
use crate::config::load::{ConfigErrors, load};
use crate::config::overrides::Override;
use crate::experiment::sweep::constants::{CONSTANTS_FILE, split_constants};
use crate::experiment::sweep::grid::{Axis, Grid, RawSweep, parse_cli_axis};
use crate::experiment::sweep::merge::merge as merge_shards;
use crate::experiment::sweep::ordered::run_in_order;
use crate::experiment::sweep::rows::{
    Row, flatten_numbers, row_line, rows_header, summary_header, summary_lines,
};
use crate::experiment::sweep::shard::{Checksum, Shard, Trailer, point_cells, shard_preamble};
use crate::experiment::sweep::terminal::terminal_summary;
use crate::output::atomic::{NamedTempFile, temp_file_in, write_atomic};
use crate::output::folder::Staged;
use crate::rng::label_hash;

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
    /// Worker threads (default: all cores; at most 1024, and never more than the runs).
    #[arg(long, value_parser = parse_jobs)]
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
    /// Memory the sweep may use, e.g. `8G` (default: what the machine has available).
    #[arg(long, value_name = "BYTES", value_parser = memory::parse_bytes)]
    pub max_memory: Option<u64>,
}

/// The `[sweep]` table of a file, the rest ignored (the catalogue validates it).
#[derive(Deserialize)]
struct SweepFile {
    sweep: Option<RawSweep>,
    #[serde(flatten)]
    _rest: BTreeMap<String, toml::Value>,
}

fn fingerprint(file: &Path, args: &SweepArgs, plan: &Grid) -> String {
    let mut text = std::fs::read_to_string(file).unwrap_or_default();
    for part in args.grid.iter().chain(&args.zip) {
        text.push_str(part);
    }
    for set in &args.overrides {
        text.push_str(&set.text);
    }
    text.push_str(&format!("{:?}{:?}", plan.paths, plan.replications));
    format!("{:016x}", label_hash(&text))
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
        // An output folder that cannot be written is not bad input (README: exit 1).
        Err(message) if message.starts_with("error: cannot write results to") => {
            eprintln!("{message}");
            ExitCode::from(1)
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn plan_and_run<C: Catalogue>(args: &SweepArgs) -> Result<ExitCode, String> {
    let (file_sweep, doc) = load::<SweepFile>(&args.file, &[]).map_err(|e| e.to_string())?;
    let mut issues = Issues::new();
    let raw = file_sweep.sweep.unwrap_or_default();
    let metrics = raw
        .metrics
        .clone()
        .unwrap_or_else(|| C::SWEEP_METRICS.iter().map(|m| m.to_string()).collect());
    let (mut axes, file_reps) = raw.check(&mut issues);
    if !issues.is_empty() {
        return Err(doc.errors(&issues).to_string());
    }
    let cli_axes: Vec<Axis> = args
        .grid
        .iter()
        .map(|g| parse_cli_axis(g, None))
        .chain(args.zip.iter().map(|z| parse_cli_axis(z, Some("--zip"))))
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
    let plan = Grid::new(&axes, replications).map_err(|e| format!("error: {e}"))?;
    let base = C::load(&args.file, &args.overrides).map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or_else(|| C::seed(&base));
    let shard = match &args.shard {
        Some(text) => Some(Shard::parse(text).map_err(|e| format!("error: --shard {e}"))?),
        None => Shard::from_env(|name| std::env::var(name).ok(), args.shards)
            .map_err(|e| format!("error: {e}"))?,
    };
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(C::name(&base)));
    // A whole sweep's files go through a staging folder and a manifest; a shard writes its one
    // file straight into the folder it shares with the other shards.
    let staged = match shard {
        None => Some(Staged::begin(&out_dir).map_err(|e| cannot_write(&out_dir, e))?),
        Some(_) => {
            check_out_dir(&out_dir)?;
            None
        }
    };
    let jobs = jobs_or_cores(args.jobs);
    check_memory::<C>(args, &plan, &base, shard, jobs)?;
    let fingerprint = fingerprint(&args.file, args, &plan);
    let target = Target { out_dir: &out_dir, staged, metrics };
    run_plan::<C>(args, &plan, seed, shard, target, jobs.max(1), &fingerprint)
}

/// Refuses a sweep whose largest point, run `jobs` at a time, does not fit in the budget.
fn check_memory<C: Catalogue>(
    args: &SweepArgs,
    plan: &Grid,
    base: &C::Scenario,
    shard: Option<Shard>,
    jobs: usize,
) -> Result<(), String> {
    let mut largest = C::memory_estimate(base);
    let mine =
        (0..plan.points.len()).filter(|k| shard.is_none_or(|s| *k as u64 % s.count == s.index));
    let mut tasks = 0usize;
    for k in mine {
        tasks += plan.replications as usize;
        let mut overrides = args.overrides.clone();
        overrides.extend(plan.overrides(k));
        // A point that does not load is reported when it runs.
        let Ok(point) = C::load(&args.file, &overrides) else { continue };
        let estimate = C::memory_estimate(&point);
        if estimate.as_ref().map(|e| e.bytes) > largest.as_ref().map(|e| e.bytes) {
            largest = estimate;
        }
    }
    match largest {
        Some(estimate) => memory::check(&estimate, jobs.min(tasks), args.max_memory),
        None => Ok(()),
    }
}

fn cannot_write(dir: &Path, e: impl std::fmt::Display) -> String {
    format!("error: cannot write results to {}: {e}", dir.display())
}

/// Where a sweep writes: the output folder, through a staging folder unless it is a shard;
/// and the metrics it prints when it ends.
struct Target<'a> {
    out_dir: &'a Path,
    staged: Option<Staged>,
    metrics: Vec<String>,
}

impl Target<'_> {
    /// The folder files are written into now.
    fn write_dir(&self) -> PathBuf {
        self.staged.as_ref().map_or(self.out_dir, |s| s.dir()).to_path_buf()
    }

    /// Draws the report (when asked) and moves the staged files into the output folder; with
    /// nothing to keep, the output folder is left as it was. `Ok(true)`: the report failed.
    fn finish<C: Catalogue>(self, keep: bool, report: bool) -> Result<bool, String> {
        let Some(mut staged) = self.staged else { return Ok(false) };
        if !keep {
            return Ok(false);
        }
        let dir = staged.dir().to_path_buf();
        staged.mark_results().map_err(|e| cannot_write(self.out_dir, e))?;
        let report_failed = report
            && C::report(&dir)
                .and_then(|_| staged.prepare_targets().map_err(|e| e.to_string()))
                .map_err(|e| eprintln!("error: the report could not be drawn: {e}"))
                .is_err();
        if report_failed {
            staged.drop_report().map_err(|e| cannot_write(self.out_dir, e))?;
        }
        staged.commit(&written_by::<C>()).map_err(|e| cannot_write(self.out_dir, e))?;
        Ok(report_failed)
    }
}

fn run_plan<C: Catalogue>(
    args: &SweepArgs,
    plan: &Grid,
    seed: u64,
    shard: Option<Shard>,
    target: Target<'_>,
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
    let progress = std::io::stderr().is_terminal().then(|| progress_bar(task_count));
    let (out_dir, write_dir) = (target.out_dir, target.write_dir());
    let (rows_name, summary_name) = match shard {
        Some(s) => (s.file_name(), None),
        None => ("sweep.csv".to_string(), Some("sweep-summary.csv")),
    };
    let rows_tmp = temp_file_in(&write_dir, &rows_name).map_err(|e| cannot_write(out_dir, e))?;
    let mut rows_out = BufWriter::new(rows_tmp);
    if let Some(s) = shard {
        writeln!(
            rows_out,
            "{}",
            shard_preamble(fingerprint, seed, env!("CARGO_PKG_VERSION"), s, plan)
        )
        .map_err(|e| format!("error: {e}"))?;
    }
    let mut sink = RowSink::new(plan, rows_out);
    let work = |i: usize| {
        let (k, r) = task(i);
        run_task::<C>(args, plan, seed, k, r)
    };
    let jobs = jobs.min(task_count).max(1);
    run_in_order(task_count, jobs, &interrupted, work, &mut |result| {
        if let Some(bar) = &progress {
            bar.inc(1);
        }
        sink.accept(result);
    });
    if let Some(e) = sink.write_error.take() {
        return Err(format!("error: cannot write results to {}: {e}", out_dir.display()));
    }
    sink.summarise_pending();
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let stopped = interrupted.load(Ordering::SeqCst);
    if shard.is_some() && !stopped {
        // The trailer tells `merge` this shard ran every task it owns.
        let trailer = sink.trailer(task_count as u64);
        writeln!(sink.out, "{trailer}").map_err(|e| format!("error: {e}"))?;
    }
    sink.out.flush().map_err(|e| format!("error: {e}"))?;
    let RowSink { out, summary, metrics, failed_points, run_failures, done, .. } = sink;
    let rows_tmp = out.into_inner().map_err(|e| format!("error: {}", e.error()))?;
    let summary = summary_name.map(|name| (name, summary));
    let keep = metrics.is_some() || shard.is_some();
    print_table(summary.as_ref().filter(|_| keep), &target.metrics, &plan.paths);
    keep_files(rows_tmp, &write_dir, &rows_name, summary, keep)?;
    let report_failed = target.finish::<C>(keep, !args.no_report)?;
    let failed = if failed_points.is_empty() {
        String::new()
    } else {
        format!(", {} points failed", failed_points.len())
    };
    eprintln!(
        "{done} of {task_count} runs{failed}{}; {} in {}",
        if stopped { " (interrupted: completed rows kept)" } else { "" },
        if summary_name.is_some() {
            "sweep.csv, sweep-summary.csv and sweep-constants.csv"
        } else {
            rows_name.as_str()
        },
        out_dir.display()
    );
    let report = out_dir.join("report.html");
    if summary_name.is_some() && keep && !args.no_report && !report_failed && report.exists() {
        eprintln!("report: {}", report.display());
    }
    Ok(if stopped {
        ExitCode::from(130)
    } else if !failed_points.is_empty() {
        ExitCode::from(if run_failures > 0 { 1 } else { 2 })
    } else if report_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints the chosen metrics of the summary by point (stdout), when it has any of them.
fn print_table(summary: Option<&(&str, String)>, metrics: &[String], paths: &[String]) {
    if let Some(table) = summary.and_then(|(_, text)| terminal_summary(text, metrics, paths)) {
        println!("{table}");
    }
}

/// Moves the finished rows file into place and writes the summary next to it, or, when `keep`
/// is false (nothing succeeded), leaves no empty file behind.
fn keep_files(
    rows_tmp: NamedTempFile,
    out_dir: &Path,
    rows_name: &str,
    summary: Option<(&str, String)>,
    keep: bool,
) -> Result<(), String> {
    if !keep {
        return Ok(()); // dropping the temporary file removes it
    }
    rows_tmp.as_file().sync_all().map_err(|e| format!("error: {e}"))?;
    rows_tmp.persist(out_dir.join(rows_name)).map_err(|e| format!("error: {}", e.error))?;
    if let Some((name, text)) = summary {
        let (kept, constants) = split_constants(&text);
        write_atomic(&out_dir.join(name), kept.as_bytes()).map_err(|e| format!("error: {e}"))?;
        write_atomic(&out_dir.join(CONSTANTS_FILE), constants.as_bytes())
            .map_err(|e| format!("error: {e}"))?;
    }
    Ok(())
}

fn progress_bar(task_count: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(task_count as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} runs  {elapsed} elapsed, ETA {eta}  {msg}",
        )
        .expect("valid template"),
    );
    bar
}

/// Where a sweep's results go as they arrive in grid order: rows to the rows file (its header
/// from the first successful task's metrics), each point summarised once the next one starts.
struct RowSink<'a, W: Write> {
    plan: &'a Grid,
    out: W,
    summary: String,
    /// The metric columns, fixed by the first task that produced rows.
    metrics: Option<Vec<String>>,
    /// Rows of the point being received, summarised when the next point starts.
    pending: Vec<Row>,
    failed_points: Vec<usize>,
    run_failures: usize,
    done: usize,
    write_error: Option<String>,
    /// Result lines written (header excluded) and the checksum of every line (header included).
    rows: u64,
    checksum: Checksum,
}

impl<'a, W: Write> RowSink<'a, W> {
    fn new(plan: &'a Grid, out: W) -> Self {
        RowSink {
            plan,
            out,
            summary: String::new(),
            metrics: None,
            pending: Vec::new(),
            failed_points: Vec::new(),
            run_failures: 0,
            done: 0,
            write_error: None,
            rows: 0,
            checksum: Checksum::default(),
        }
    }

    /// Writes one line and adds it to the checksum.
    fn write_line(&mut self, line: &str) {
        self.checksum.line(line);
        if let Err(e) = writeln!(self.out, "{line}") {
            self.write_error.get_or_insert(e.to_string());
        }
    }

    /// The shard trailer for `runs` tasks, all of which ran.
    fn trailer(&self, runs: u64) -> String {
        let mut failed: Vec<(usize, u64)> = self
            .failed_points
            .iter()
            .map(|&k| (k, label_hash(&point_cells(self.plan, k))))
            .collect();
        failed.sort_unstable();
        Trailer { runs, rows: self.rows, failed, checksum: self.checksum.0 }.line()
    }

    /// Takes the next task's result in order.
    fn accept(&mut self, result: TaskResult) {
        self.done += 1;
        let rows = match result {
            Ok(rows) => rows,
            Err((k, message)) => {
                if !self.failed_points.contains(&k) {
                    eprintln!("error: point {k} ({}): {message}", self.plan.describe(k));
                    self.failed_points.push(k);
                    if !message.starts_with("invalid") {
                        self.run_failures += 1;
                    }
                }
                return;
            }
        };
        if rows.is_empty() {
            return;
        }
        if self.metrics.is_none() {
            self.start(&rows);
        }
        let metrics = self.metrics.as_deref().unwrap_or_default();
        let lines: Vec<String> = rows.iter().map(|row| row_line(self.plan, metrics, row)).collect();
        for line in &lines {
            self.write_line(line);
            self.rows += 1;
        }
        // A point's replications are contiguous: summarise it once the next point starts.
        if self.pending.first().is_some_and(|p| p.point != rows[0].point) {
            self.summarise_pending();
        }
        self.pending.extend(rows);
    }

    /// Fixes the metric columns from the first rows and writes both headers.
    fn start(&mut self, rows: &[Row]) {
        let mut keys: Vec<String> = Vec::new();
        for row in rows {
            for (key, _) in &row.metrics {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        self.write_line(&rows_header(&self.plan.paths, &keys));
        self.summary = summary_header(&self.plan.paths, &keys) + "\n";
        self.metrics = Some(keys);
    }

    /// Appends the summary lines of the pending point, if any.
    fn summarise_pending(&mut self) {
        if let (Some(metrics), false) = (&self.metrics, self.pending.is_empty()) {
            let point = &self.plan.points[self.pending[0].point];
            self.summary.push_str(&summary_lines(point, metrics, &self.pending));
            self.pending.clear();
        }
    }
}

fn run_task<C: Catalogue>(
    args: &SweepArgs,
    plan: &Grid,
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
    plan: &Grid,
    seed: u64,
    k: usize,
    r: u64,
) -> TaskResult {
    let mut overrides = args.overrides.clone();
    overrides.extend(plan.overrides(k));
    let scenario =
        C::load(&args.file, &overrides).map_err(|e: ConfigErrors| (k, format!("invalid:\n{e}")))?;
    let seed = Grid::seed(seed, r);
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

/// Runs `merge DIR`: the merged files go to the output folder through a staging folder and
/// its manifest, like a sweep's.
pub fn merge<C: Catalogue>(dir: &Path, out: Option<&Path>) -> ExitCode {
    match merge_shards(dir) {
        Ok((rows, summary)) => {
            let out = out.unwrap_or(dir);
            let written = Staged::begin(out).and_then(|staged| {
                write_atomic(&staged.dir().join("sweep.csv"), rows.as_bytes())?;
                let (kept, constants) = split_constants(&summary);
                write_atomic(&staged.dir().join("sweep-summary.csv"), kept.as_bytes())?;
                write_atomic(&staged.dir().join(CONSTANTS_FILE), constants.as_bytes())?;
                staged.commit(&written_by::<C>())
            });
            match written {
                Ok(_) => {
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
