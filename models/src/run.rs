//! Running a validated scenario: every variant with the same seed, then one summary.
//!
//! Flash-sale variants share one population of clicks, generated once from the seed before any
//! variant runs (common random numbers). Each variant also leaves a timeline, written next to the
//! summary as `timeline.csv` (one block of rows per variant).

use rayon::prelude::*;

use crate::network;
use crate::sale;
use crate::scenario::{Scenario, Variant};
use crate::summary::{EngineFacts, Summary, VariantSummary};

/// A run's results: the summary and the per-interval timeline CSV (empty without sale variants).
pub struct RunResults {
    pub summary: Summary,
    pub timeline_csv: String,
    /// `server` variants' timeline rows (header in `server::TIMELINE_HEADER`).
    pub server_timeline_csv: String,
}

/// Runs every variant of `scenario` with `seed` (or the scenario's own seed).
pub fn run_scenario(scenario: &Scenario, seed: Option<u64>) -> Result<Summary, String> {
    run_with_timeline(scenario, seed).map(|r| r.summary)
}

/// Like [`run_scenario`], keeping the timeline.
pub fn run_with_timeline(scenario: &Scenario, seed: Option<u64>) -> Result<RunResults, String> {
    let seed = seed.unwrap_or(scenario.run.seed);
    let population =
        scenario.sale.as_ref().map(|setup| setup.traffic.generate(seed, setup.sale.opens_at));
    // Variants are independent runs on shared, read-only traffic: run them in parallel, and
    // collect in file order so the output is the same whatever the thread count.
    let results: Vec<Result<(VariantSummary, String), String>> = scenario
        .variants
        .par_iter()
        .map(|variant| match variant {
            Variant::Network(net) => {
                network::simulate(net, &scenario.run, seed).map(|s| (s, String::new()))
            }
            Variant::Sale(v) => {
                let setup = scenario.sale.as_ref().expect("validation requires [sale]");
                let population = population.as_ref().expect("generated with the sale");
                sale::simulate(setup, v, population, &scenario.run, seed)
            }
            Variant::Server(spec) => {
                let load = scenario.load.as_ref().expect("validation requires [load]");
                crate::server::simulate(spec, load, &scenario.run, seed)
            }
        })
        .collect();
    let mut variants = Vec::new();
    let mut timeline_csv = String::new();
    let mut server_timeline_csv = String::new();
    for result in results {
        let (summary, csv) = result?;
        if summary.server.is_some() {
            server_timeline_csv.push_str(&csv);
            variants.push(summary);
            continue;
        }
        // One header for the whole file.
        let body = if timeline_csv.is_empty() {
            &csv[..]
        } else {
            csv.split_once('\n').map_or("", |(_, b)| b)
        };
        timeline_csv.push_str(body);
        variants.push(summary);
    }
    let summary = Summary {
        scenario: scenario.name.clone(),
        seed,
        engine: EngineFacts {
            events: variants.iter().map(|v| v.events).sum(),
            flashsim_version: env!("CARGO_PKG_VERSION").to_string(),
            horizon_s: scenario.run.horizon.map(|h| h.as_secs_f64()),
            warmup_s: scenario.run.warmup.as_secs_f64(),
        },
        variants,
    };
    Ok(RunResults { summary, timeline_csv, server_timeline_csv })
}

/// Warnings about a scenario worth telling before trusting its numbers.
pub fn warnings(scenario: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for variant in &scenario.variants {
        let Variant::Network(net) = variant else { continue };
        for (station, rho) in net.stations.iter().zip(&net.offered_load) {
            if *rho >= 1.0 {
                out.push(format!(
                    "variant `{}` station `{}` is offered ρ = {rho:.3} ≥ 1 at the peak arrival \
                     rate: its queue grows for as long as that rate lasts",
                    net.name, station.name
                ));
            }
        }
    }
    out
}

/// Turns a run that stopped early into the error every architecture reports: the event budget
/// spent (naming `run.max_events`) or the model's own reason.
pub fn check_stop(
    variant: &str,
    run: &crate::scenario::RunSettings,
    stats: &sim::RunStats,
) -> Result<(), String> {
    match &stats.stop {
        sim::Stop::Drained | sim::Stop::Horizon => Ok(()),
        sim::Stop::EventBudget => Err(format!(
            "variant `{variant}` spent its event budget (run.max_events = {}) at {} with {} events \
             still pending; raise run.max_events or shorten the run",
            run.max_events, stats.end, stats.pending_at_end
        )),
        sim::Stop::Model(reason) => Err(format!("variant `{variant}` stopped: {reason}")),
    }
}
