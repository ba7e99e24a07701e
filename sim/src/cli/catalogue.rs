//! What the command line needs from a binary's models: the [`Catalogue`] of scenarios it can
//! load, run and report, and the shape of a finished run.

use std::path::{Path, PathBuf};

pub use crate::cli::memory::MemoryEstimate;
use crate::config::load::ConfigErrors;
use crate::config::overrides::Override;

/// What a binary built on this library simulates.
pub trait Catalogue {
    /// A validated scenario, ready to run (shared by parallel replications).
    type Scenario: Send + Sync;
    /// The binary's name, for messages.
    const BINARY: &'static str;
    /// An example of `--set KEY.PATH=VALUE` on the bundled scenarios, for the help text.
    const SET_EXAMPLE: &'static str = "variant[0].station[server].servers=2";
    /// Metrics a sweep prints when it ends, when its file names none (dotted keys of a
    /// variant's summary; those a summary lacks are skipped).
    const SWEEP_METRICS: &'static [&'static str] = &[];
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
    /// The metric `plan` minimises when the file names none: a dotted key of a variant's
    /// summary, as sweeps flatten it. It may be missing from a summary (the candidate then
    /// costs infinitely much) without that being an input error.
    fn default_objective() -> &'static str;
    /// Keeps only the variant called `name` (for planning one variant at a time).
    fn select_variant(scenario: &mut Self::Scenario, name: &str) -> Result<(), String> {
        Self::select_variants(scenario, &[name.to_string()])
    }
    /// Keeps only the variants called `names`, in file order (`run --variant`); an unknown name
    /// is an error that lists the variants the file has.
    fn select_variants(scenario: &mut Self::Scenario, names: &[String]) -> Result<(), String>;
    /// What one run of the scenario is estimated to need in memory at its peak, checked
    /// against the budget before simulating; `None` when the models cannot tell.
    fn memory_estimate(_scenario: &Self::Scenario) -> Option<MemoryEstimate> {
        None
    }
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
