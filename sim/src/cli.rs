//! The command line as library code, generic over the catalogue of models a binary is built with.
//!
//! `run` simulates one scenario file and writes its deterministic summary atomically, `validate`
//! checks files and reports every error of every file, `schema` prints the JSON Schema of the file
//! format. Exit codes: 0 success, 1 the run failed (e.g. the event budget ran out), 2 bad input.
//! Wall-clock figures go to stderr and `perf.json`, never into the deterministic summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::config::{ConfigErrors, Override};
use crate::output::{json_bytes, write_atomic};

/// What a binary built on this library simulates.
pub trait Catalogue {
    /// A validated scenario, ready to run (shared by parallel replications).
    type Scenario: Send + Sync;
    /// The binary's name, for messages.
    const BINARY: &'static str;
    /// The scenario a bare invocation runs.
    fn default_scenario() -> PathBuf;
    /// JSON Schema of the scenario file format.
    fn schema() -> serde_json::Value;
    /// Reads and validates a scenario file with command-line overrides applied.
    fn load(file: &Path, overrides: &[Override]) -> Result<Self::Scenario, ConfigErrors>;
    /// The name of the scenario's output folder.
    fn name(scenario: &Self::Scenario) -> String;
    /// The scenario's own seed.
    fn seed(scenario: &Self::Scenario) -> u64;
    /// Keeps only the variant called `name` (for planning one variant at a time).
    fn select_variant(scenario: &mut Self::Scenario, name: &str) -> Result<(), String>;
    /// Simulates the scenario; `seed` replaces the file's seed when given.
    fn run(scenario: &Self::Scenario, seed: Option<u64>) -> Result<RunOutput, RunFailure>;
    /// Draws the figures and `report.html` from the result files in `dir` (a run's or a
    /// sweep's); returns the files written.
    fn report(dir: &Path) -> Result<Vec<PathBuf>, String>;
}

/// A finished run: the deterministic summary and its rendering for people. The summary is a JSON
/// object with a `variants` array of objects, each with a `name`; sweeps flatten each variant's
/// numbers into columns.
pub struct RunOutput {
    pub summary: serde_json::Value,
    pub table: String,
    /// The same table with ANSI colour, printed when stdout is a terminal.
    pub table_colour: String,
    /// Events processed, for the performance line.
    pub events: u64,
    /// Warnings worth a line on stderr (e.g. an overloaded station).
    pub warnings: Vec<String>,
    /// Further result files (name, bytes), written next to the summary.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A run that could not produce trustworthy results, with the reason and a way to reproduce it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunFailure(pub String);

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Deterministic discrete-event simulation",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a scenario, print a summary table and write OUT/summary.json.
    Run(RunArgs),
    /// Check scenario files and report every error in every file.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (for Taplo / Even Better TOML).
    Schema,
    /// Draw the figures and report.html from a run's or a sweep's output folder.
    Report { dir: PathBuf },
    /// Sweep parameters: points × replications in parallel, with confidence intervals.
    Sweep(crate::sweep_cli::SweepArgs),
    /// Find the cheapest capacities that meet every SLO, with headroom.
    Plan(crate::plan_cli::PlanArgs),
    /// Merge the shard files in DIR into sweep.csv and sweep-summary.csv.
    Merge {
        dir: PathBuf,
        /// Output folder (default: DIR).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug, Default)]
struct RunArgs {
    /// Scenario file (default: the bundled default scenario).
    file: Option<PathBuf>,
    /// Seed replacing the scenario's `run.seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scalar by key path, e.g. `variant[0].station[server].servers=2`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE", value_parser = parse_override)]
    overrides: Vec<Override>,
    /// Output folder (default: output/<scenario>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Skip the figures and report.html.
    #[arg(long)]
    no_report: bool,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
enum Format {
    #[default]
    Table,
    Json,
}

/// Parses a `--set key.path=value` argument (shared by every command that takes one).
pub(crate) fn parse_override(text: &str) -> Result<Override, String> {
    text.parse()
}

/// Wall-clock facts of a run; kept apart from the deterministic summary.
#[derive(Serialize)]
struct Perf {
    wall_s: f64,
    events: u64,
    events_per_s: f64,
    /// Peak resident memory of the process so far (Linux `VmHWM`), if the platform tells.
    peak_rss_bytes: Option<u64>,
}

/// The process's peak resident set size, from `/proc/self/status` on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parses the process arguments and runs the command.
pub fn main<C: Catalogue>() -> ExitCode
where
    C::Scenario: Send,
{
    let cli = Cli::parse();
    match cli.command {
        None => run::<C>(RunArgs::default()),
        Some(Command::Run(args)) => run::<C>(args),
        Some(Command::Validate { files }) => validate::<C>(&files),
        Some(Command::Report { dir }) => match C::report(&dir) {
            Ok(files) => {
                eprintln!("{} files written in {}", files.len(), dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
        Some(Command::Sweep(args)) => crate::sweep_cli::sweep::<C>(args),
        Some(Command::Plan(args)) => crate::plan_cli::plan::<C>(args),
        Some(Command::Merge { dir, out }) => crate::sweep_cli::merge(&dir, out.as_deref()),
        Some(Command::Schema) => {
            let text = serde_json::to_string_pretty(&C::schema()).expect("schema serialises");
            // A closed pipe (`… schema | head`) is not worth a panic.
            match writeln!(std::io::stdout().lock(), "{text}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(1),
            }
        }
    }
}

fn run<C: Catalogue>(args: RunArgs) -> ExitCode {
    let file = args.file.clone().unwrap_or_else(C::default_scenario);
    let scenario = match C::load(&file, &args.overrides) {
        Ok(scenario) => scenario,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let output = match C::run(&scenario, args.seed) {
        Ok(output) => output,
        Err(failure) => {
            eprintln!("error: {failure}");
            eprintln!("reproduce with: {}", reproduce_command::<C>(&file, &args));
            return ExitCode::from(1);
        }
    };
    let wall_s = started.elapsed().as_secs_f64();
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(C::name(&scenario)));
    let perf = Perf {
        wall_s,
        events: output.events,
        events_per_s: output.events as f64 / wall_s,
        peak_rss_bytes: peak_rss_bytes(),
    };
    let written = output
        .files
        .iter()
        .try_for_each(|(name, bytes)| write_atomic(&out_dir.join(name), bytes))
        .and_then(|()| write_atomic(&out_dir.join("summary.json"), &json_bytes(&output.summary)))
        .and_then(|()| write_atomic(&out_dir.join("perf.json"), &json_bytes(&perf)));
    if let Err(err) = written {
        eprintln!("error: cannot write results to {}: {err}", out_dir.display());
        return ExitCode::from(1);
    }
    for warning in &output.warnings {
        eprintln!("warning: {warning}");
    }
    if !args.no_report
        && let Err(e) = C::report(&out_dir)
    {
        eprintln!("warning: the report could not be drawn: {e}");
    }
    let mut stdout = std::io::stdout().lock();
    let printed = match args.format {
        Format::Table if std::io::stdout().is_terminal() => {
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
    ExitCode::SUCCESS
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
    cmd
}

fn validate<C: Catalogue>(files: &[PathBuf]) -> ExitCode {
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
