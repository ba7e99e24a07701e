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

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use catalogue::{Catalogue, MemoryEstimate, RunFailure, RunOutput};
pub use common::peak_rss_bytes;

#[derive(Parser, Debug)]
#[command(about = "Deterministic discrete-event simulation", disable_help_subcommand = true)]
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
        /// Scenario files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (for Taplo / Even Better TOML).
    Schema,
    /// Draw the figures and report.html from a run's or a sweep's output folder.
    Report {
        /// Output folder of a run, a sweep or a plan.
        dir: PathBuf,
    },
    /// Sweep parameters: points × replications in parallel, with confidence intervals.
    Sweep(sweep::SweepArgs),
    /// Find the cheapest capacities that meet every SLO, with headroom.
    Plan(plan::PlanArgs),
    /// Merge the shard files in DIR into sweep.csv and sweep-summary.csv.
    Merge {
        /// Folder holding the shard files.
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
            if let Some(page) = files.iter().find(|f| f.ends_with("report.html")) {
                eprintln!("report: {}", page.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The command line as the binary presents it: its name and version, and the catalogue's
/// example in the help of every `--set`.
fn command<C: Catalogue>() -> clap::Command {
    let mut cmd =
        Cli::command().name(C::BINARY).bin_name(C::BINARY).version(env!("CARGO_PKG_VERSION"));
    for sub in ["run", "sweep", "plan"] {
        cmd = cmd.mut_subcommand(sub, |s| {
            s.mut_arg("overrides", |a| {
                let help = a.get_help().map(ToString::to_string).unwrap_or_default();
                let help = help.trim_end_matches('.');
                a.help(format!("{help}, e.g. --set '{}' (repeatable)", C::SET_EXAMPLE))
            })
        });
    }
    cmd
}

/// Parses the process arguments and runs the command.
pub fn main<C: Catalogue>() -> ExitCode
where
    C::Scenario: Send,
{
    let cli = match Cli::from_arg_matches(&command::<C>().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        None => run::run::<C>(run::RunArgs { bare: true, ..run::RunArgs::default() }),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument and option of every subcommand says what it is for.
    #[test]
    fn every_argument_has_help() {
        let cmd = Cli::command();
        let mut missing = Vec::new();
        for sub in std::iter::once(&cmd).chain(cmd.get_subcommands()) {
            if sub.get_about().is_none() && sub.get_name() != cmd.get_name() {
                missing.push(format!("{} (the subcommand)", sub.get_name()));
            }
            for arg in sub.get_arguments() {
                if arg.get_help().is_none() {
                    missing.push(format!("{} {}", sub.get_name(), arg.get_id()));
                }
                // A flag's `true`/`false` are not choices the help lists.
                let choices = if arg.get_action().takes_values() {
                    arg.get_possible_values()
                } else {
                    Vec::new()
                };
                for value in choices {
                    if value.get_help().is_none() {
                        missing.push(format!(
                            "{} {} {}",
                            sub.get_name(),
                            arg.get_id(),
                            value.get_name()
                        ));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }
}
