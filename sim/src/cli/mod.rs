//! The command line as library code, generic over the catalogue of models a binary is built with.
//!
//! `run` simulates one scenario, `validate` checks files, `schema` prints the JSON Schema of the
//! file format, `report` draws figures, `sweep`, `merge` and `plan` run experiments. Exit codes:
//! 0 success, 1 the run failed (e.g. the event budget ran out), 2 bad input. This module only
//! dispatches: each subcommand lives in its own module, and they share [`catalogue`] and
//! [`common`], never each other.

pub mod catalogue;
pub mod common;
pub mod memory;
pub mod plan;
pub mod run;
pub mod sweep;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use catalogue::{Catalogue, MemoryEstimate, RunFailure, RunOutput};
pub use common::peak_rss_bytes;

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
    Run(run::RunArgs),
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
    Sweep(sweep::SweepArgs),
    /// Find the cheapest capacities that meet every SLO, with headroom.
    Plan(plan::PlanArgs),
    /// Merge the shard files in DIR into sweep.csv and sweep-summary.csv.
    Merge {
        dir: PathBuf,
        /// Output folder (default: DIR).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `report DIR`: refuses (exit 2) a folder whose results do not match its manifest, draws
/// the report in place and records the files drawn in the manifest.
fn report<C: Catalogue>(dir: &std::path::Path) -> ExitCode {
    if let Err(e) = crate::output::folder::verify(dir) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let drawn = C::report(dir).and_then(|files| {
        crate::output::folder::record_report(dir, &files)?;
        Ok(files)
    });
    match drawn {
        Ok(files) => {
            eprintln!("{} files written in {}", files.len(), dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Parses the process arguments and runs the command.
pub fn main<C: Catalogue>() -> ExitCode
where
    C::Scenario: Send,
{
    let cli = Cli::parse();
    match cli.command {
        None => run::run::<C>(run::RunArgs::default()),
        Some(Command::Run(args)) => run::run::<C>(args),
        Some(Command::Validate { files }) => run::validate::<C>(&files),
        Some(Command::Report { dir }) => report::<C>(&dir),
        Some(Command::Sweep(args)) => sweep::sweep::<C>(args),
        Some(Command::Plan(args)) => plan::plan::<C>(args),
        Some(Command::Merge { dir, out }) => sweep::merge::<C>(&dir, out.as_deref()),
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
