//! # models — flash-sale systems on the `sim` engine
//!
//! The domain side of flashsim: the scenario file format ([`scenario`]), flash-sale traffic
//! ([`traffic`]), components ([`components`]), the architectures that can be simulated (the
//! flash-sale ones in [`sale`], the generic open queueing [`network`]), the run summary
//! ([`summary`]) and timelines ([`timelines`]), and the catalogue that plugs all of it into the
//! generic command line ([`Flashsim`]).

pub mod architecture;
pub mod components;
pub mod limits;
pub mod network;
pub mod report;
pub mod run;
pub mod sale;
pub mod scenario;
pub mod server;
pub mod summary;
pub mod timelines;
pub mod traffic;
pub mod variant;

use std::path::{Path, PathBuf};

use sim::cli::{Catalogue, RunFailure, RunOutput};
use sim::config::{ConfigErrors, Override};

pub use scenario::{Scenario, load};

/// The scenario a bare `flashsim` (and `cargo run --release`) runs.
pub const DEFAULT_SCENARIO: &str = "scenarios/edu-live-class.toml";

pub use summary::DEFAULT_OBJECTIVE;

/// The catalogue of models the `flashsim` binary is built with.
pub struct Flashsim;

impl Catalogue for Flashsim {
    const SWEEP_METRICS: &'static [&'static str] = &[
        "metrics.buyers.purchased_share",
        "metrics.buyers.gave_up_share",
        "metrics.buyers.time_to_final_answer.p50_s",
        "metrics.peak_1s_utilization.gateway_cpu",
        "metrics.cost.total_usd",
        "network.response.mean_s",
        "server.throughput_per_s",
    ];
    type Scenario = Scenario;
    const BINARY: &'static str = "flashsim";
    const SET_EXAMPLE: &'static str = "variant[three-tier].gateway.instances=40";

    fn default_scenario() -> PathBuf {
        let local = PathBuf::from(DEFAULT_SCENARIO);
        if local.exists() {
            return local;
        }
        // Run from elsewhere in the checkout: fall back to the workspace copy.
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DEFAULT_SCENARIO)
    }

    fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(scenario::RawScenario))
            .expect("schemas serialise")
    }

    fn load(file: &Path, overrides: &[Override]) -> Result<Scenario, ConfigErrors> {
        scenario::load(file, overrides)
    }

    fn name(scenario: &Scenario) -> String {
        scenario.name.clone()
    }

    fn seed(scenario: &Scenario) -> u64 {
        scenario.run.seed
    }

    fn report(dir: &Path) -> Result<Vec<PathBuf>, String> {
        report::write_report(dir)
    }

    fn default_objective() -> &'static str {
        DEFAULT_OBJECTIVE
    }

    fn select_variants(scenario: &mut Scenario, names: &[String]) -> Result<(), String> {
        let known: Vec<&str> = scenario.variants.iter().map(|v| v.name()).collect();
        if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
            return Err(format!("no variant named `{unknown}` (variants: {})", known.join(", ")));
        }
        scenario.variants.retain(|v| names.iter().any(|n| n == v.name()));
        Ok(())
    }

    fn memory_estimate(scenario: &Scenario) -> Option<sim::cli::MemoryEstimate> {
        let setup = scenario.sale.as_ref()?;
        let sale_variants = scenario
            .variants
            .iter()
            .filter(|v| matches!(v, architecture::Variant::Sale(_)))
            .count();
        let cores = rayon::current_num_threads();
        Some(limits::memory_estimate(&setup.traffic, sale_variants.max(1), cores))
    }

    fn run(scenario: &Scenario, seed: Option<u64>) -> Result<RunOutput, RunFailure> {
        let results = run::run_with_timeline(scenario, seed).map_err(RunFailure)?;
        let summary = results.summary;
        let table = summary.table();
        let table_colour = summary.table_with(true);
        let mut files = vec![("table.txt".to_string(), table.clone().into_bytes())];
        files.extend(results.timelines.files());
        // Only with thresholds: a run without them writes exactly what it wrote before.
        if !scenario.thresholds.thresholds.is_empty() {
            let json = serde_json::to_vec_pretty(&scenario.thresholds).expect("strings serialise");
            files.push((report::thresholds::FILE.to_string(), json));
        }
        Ok(RunOutput {
            table,
            table_colour,
            events: summary.engine.events,
            summary: serde_json::to_value(&summary).expect("summaries serialise"),
            warnings: run::warnings(scenario),
            files,
        })
    }
}
