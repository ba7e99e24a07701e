//! `run` and `validate`: simulate one scenario and write its deterministic summary atomically,
//! or check files and report every error of every file. Wall-clock figures go to stderr and
//! `perf.json`, never into the deterministic summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use serde::Serialize;

use crate::cli::catalogue::{Catalogue, RunOutput};
use crate::cli::common::{colour_wanted, parse_override, peak_rss_bytes};
use crate::cli::memory;
use crate::config::overrides::Override;
use crate::output::atomic::{json_bytes, write_atomic};
use crate::output::folder::Staged;

#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// Scenario file (default: the bundled default scenario).
    pub file: Option<PathBuf>,
    /// Seed replacing the scenario's `run.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scalar by key path, checked like the file
    #[arg(long = "set", value_name = "KEY.PATH=VALUE", value_parser = parse_override)]
    pub overrides: Vec<Override>,
    /// Output folder, replaced whole (default: output/<scenario>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Skip the figures and report.html.
    #[arg(long)]
    pub no_report: bool,
    /// Memory the run may use, e.g. `8G` (default: what the machine has available).
    #[arg(long, value_name = "BYTES", value_parser = memory::parse_bytes)]
    pub max_memory: Option<u64>,
    /// Run only the variant called NAME (repeatable); the others' traffic is the same as in a
    /// full run (same seed, same random numbers).
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,
    /// Set when no subcommand was given: the run says so before anything else.
    #[arg(skip)]
    pub bare: bool,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
/// What `run` prints on stdout.
pub enum Format {
    /// The summary table (coloured on a terminal unless NO_COLOR is set).
    #[default]
    Table,
    /// The summary as JSON, as in summary.json.
    Json,
}

/// Wall-clock facts of a run; kept apart from the deterministic summary.
#[derive(Serialize)]
struct Perf {
    wall_s: f64,
    events: u64,
    events_per_s: f64,
    /// Peak resident memory of the process so far (Linux `VmHWM`), if the platform tells.
    peak_rss_bytes: Option<u64>,
    /// What the run was estimated to need before it started (see `--max-memory`).
    memory_estimate_bytes: Option<u64>,
}

/// Runs `run`.
pub fn run<C: Catalogue>(args: RunArgs) -> ExitCode {
    let file = args.file.clone().unwrap_or_else(C::default_scenario);
    let mut scenario = match C::load(&file, &args.overrides) {
        Ok(scenario) => scenario,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(C::name(&scenario)));
    if args.bare {
        let bin = C::BINARY;
        eprintln!(
            "no subcommand: running the bundled case study ({bin} run {} --out {}); see {bin} \
             --help",
            file.display(),
            out_dir.display()
        );
    }
    if !args.variants.is_empty()
        && let Err(message) = C::select_variants(&mut scenario, &args.variants)
    {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let estimate = C::memory_estimate(&scenario);
    if let Some(estimate) = &estimate
        && let Err(message) = memory::check(estimate, 1, args.max_memory)
    {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    // Results go to a staging folder inside the output folder and are moved in at the end.
    let staged = match Staged::begin(&out_dir) {
        Ok(staged) => staged,
        Err(e) => {
            eprintln!("error: cannot write results to {}: {e}", out_dir.display());
            return ExitCode::from(1);
        }
    };
    let started = Instant::now();
    let mut output = match C::run(&scenario, args.seed) {
        Ok(output) => output,
        Err(failure) => {
            eprintln!("error: {failure}");
            eprintln!("reproduce with: {}", reproduce_command::<C>(&file, &args));
            return ExitCode::from(1);
        }
    };
    let wall_s = started.elapsed().as_secs_f64();
    let perf = Perf {
        wall_s,
        events: output.events,
        events_per_s: output.events as f64 / wall_s,
        peak_rss_bytes: peak_rss_bytes(),
        memory_estimate_bytes: estimate.map(|e| e.bytes),
    };
    let report = !args.no_report;
    let report_failed = match write_results::<C>(staged, &mut output, &perf, report) {
        Ok(report_failed) => report_failed,
        Err(err) => {
            eprintln!("error: cannot write results to {}: {err}", out_dir.display());
            return ExitCode::from(1);
        }
    };
    for warning in &output.warnings {
        eprintln!("warning: {warning}");
    }
    let mut stdout = std::io::stdout().lock();
    let printed = match args.format {
        Format::Table if colour_wanted(std::io::stdout().is_terminal()) => {
            write!(stdout, "{}", output.table_colour)
        }
        Format::Table => write!(stdout, "{}", output.table),
        Format::Json => stdout.write_all(&json_bytes(&output.summary)),
    };
    if printed.is_err() {
        return ExitCode::from(1);
    }
    if std::io::stderr().is_terminal() || args.format == Format::Table {
        let rss = perf
            .peak_rss_bytes
            .map_or(String::new(), |b| format!(", peak RSS {:.1} MB", b as f64 / 1e6));
        eprintln!(
            "{} events in {:.3} s ({:.1} M events/s{rss}); results in {}",
            output.events,
            wall_s,
            perf.events_per_s / 1e6,
            out_dir.display()
        );
    }
    if report_failed {
        return ExitCode::from(1);
    }
    if report {
        eprintln!("report: {}", out_dir.join("report.html").display());
    }
    ExitCode::SUCCESS
}

/// Writes the results into the staging folder, draws the report there (unless `report` is
/// false), and moves everything into the output folder; `Ok(true)` when the report failed (the
/// results are kept, the half-drawn report is not).
fn write_results<C: Catalogue>(
    mut staged: Staged,
    output: &mut RunOutput,
    perf: &Perf,
    report: bool,
) -> std::io::Result<bool> {
    let dir = staged.dir().to_path_buf();
    for (name, bytes) in &output.files {
        write_atomic(&dir.join(name), bytes)?;
    }
    write_atomic(&dir.join("summary.json"), &json_bytes(&output.summary))?;
    write_atomic(&dir.join("perf.json"), &json_bytes(perf))?;
    // The written files' bytes are not needed by the report, which reads them back.
    drop(std::mem::take(&mut output.files));
    staged.mark_results()?;
    // A report that cannot be drawn, or whose files cannot be put in place, is left out.
    let report_failed = report
        && C::report(&dir)
            .and_then(|_| staged.prepare_targets().map_err(|e| e.to_string()))
            .map_err(|e| eprintln!("error: the report could not be drawn: {e}"))
            .is_err();
    if report_failed {
        staged.drop_report()?;
    }
    staged.commit(&written_by::<C>())?;
    Ok(report_failed)
}

/// The program and version a manifest names.
pub fn written_by<C: Catalogue>() -> String {
    format!("{} {}", C::BINARY, env!("CARGO_PKG_VERSION"))
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

fn reproduce_command<C: Catalogue>(file: &Path, args: &RunArgs) -> String {
    let mut cmd = format!("{} run {}", C::BINARY, file.display());
    if let Some(seed) = args.seed {
        cmd.push_str(&format!(" --seed {seed}"));
    }
    for set in &args.overrides {
        cmd.push_str(&format!(" --set '{}'", set.text));
    }
    for name in &args.variants {
        cmd.push_str(&format!(" --variant '{name}'"));
    }
    cmd
}

/// Runs `validate`.
pub fn validate<C: Catalogue>(files: &[PathBuf]) -> ExitCode {
    let mut failed = 0;
    for file in files {
        match C::load(file, &[]) {
            Ok(_) => {
                let _ = writeln!(std::io::stdout().lock(), "ok: {}", file.display());
            }
            Err(errors) => {
                failed += 1;
                eprintln!("{errors}");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} of {} files have errors", files.len());
        ExitCode::from(2)
    }
}
