//! `run` and `validate`: simulate one scenario and write its deterministic summary atomically,
//! or check files and report every error of every file. Wall-clock figures go to stderr and
//! `perf.json`, never into the deterministic summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use serde::Serialize;

use crate::cli::catalogue::Catalogue;
use crate::cli::common::{check_out_dir, parse_override, peak_rss_bytes};
use crate::config::overrides::Override;
use crate::output::atomic::{json_bytes, write_atomic};

#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// Scenario file (default: the bundled default scenario).
    pub file: Option<PathBuf>,
    /// Seed replacing the scenario's `run.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scalar by key path, e.g. `variant[0].station[server].servers=2`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE", value_parser = parse_override)]
    pub overrides: Vec<Override>,
    /// Output folder (default: output/<scenario>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Skip the figures and report.html.
    #[arg(long)]
    pub no_report: bool,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
/// What `run` prints on stdout.
pub enum Format {
    #[default]
    Table,
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
}

/// Runs `run`.
pub fn run<C: Catalogue>(args: RunArgs) -> ExitCode {
    let file = args.file.clone().unwrap_or_else(C::default_scenario);
    let scenario = match C::load(&file, &args.overrides) {
        Ok(scenario) => scenario,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    let out_dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(C::name(&scenario)));
    if let Err(message) = check_out_dir(&out_dir) {
        eprintln!("{message}");
        return ExitCode::from(1);
    }
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
    // The written files' bytes are not needed by the report, which reads them back.
    drop(std::mem::take(&mut output.files));
    for warning in &output.warnings {
        eprintln!("warning: {warning}");
    }
    // The results are written; a report that could not be drawn still fails the command.
    let report_failed = !args.no_report
        && C::report(&out_dir)
            .map_err(|e| eprintln!("error: the report could not be drawn: {e}"))
            .is_err();
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
    if report_failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
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
