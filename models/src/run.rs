//! Running a validated scenario: every variant with the same seed, then one summary.
//!
//! Flash-sale variants share one population of clicks, generated once from the seed before any
//! variant runs (common random numbers). Flash-sale and `server` variants also leave a typed
//! timeline, written next to the summary by `crate::timelines` (one block of rows per variant).

use rayon::prelude::*;

use crate::network;
use crate::sale;
use crate::scenario::{Scenario, Variant};
use crate::summary::{EngineFacts, Summary, VariantSummary};
use crate::timelines::{self, Timelines};

/// A run's results: the summary and the typed timelines (written by `crate::timelines`).
pub struct RunResults {
    pub summary: Summary,
    pub timelines: Timelines,
}

/// What one variant leaves besides its summary.
enum VariantTimeline {
    None,
    Sale(timelines::VariantTimeline<timelines::SaleRow>),
    Server(timelines::VariantTimeline<timelines::ServerRow>),
}

/// Runs every variant of `scenario` with `seed` (or the scenario's own seed).
pub fn run_scenario(scenario: &Scenario, seed: Option<u64>) -> Result<Summary, String> {
    run_with_timeline(scenario, seed).map(|r| r.summary)
}

/// Like [`run_scenario`], keeping the timelines.
pub fn run_with_timeline(scenario: &Scenario, seed: Option<u64>) -> Result<RunResults, String> {
    let seed = seed.unwrap_or(scenario.run.seed);
    let population =
        scenario.sale.as_ref().map(|setup| setup.traffic.generate(seed, setup.sale.opens_at));
    // Variants are independent runs on shared, read-only traffic: run them in parallel, and
    // collect in file order so the output is the same whatever the thread count.
    let results: Vec<Result<(VariantSummary, VariantTimeline), String>> = scenario
        .variants
        .par_iter()
        .map(|variant| match variant {
            Variant::Network(net) => {
                network::simulate(net, &scenario.run, seed).map(|s| (s, VariantTimeline::None))
            }
            Variant::Sale(v) => {
                let setup = scenario.sale.as_ref().expect("validation requires [sale]");
                let population = population.as_ref().expect("generated with the sale");
                sale::simulate(setup, v, population, &scenario.run, seed)
                    .map(|(s, t)| (s, VariantTimeline::Sale(t)))
            }
            Variant::Server(spec) => {
                let load = scenario.load.as_ref().expect("validation requires [load]");
                crate::server::simulate(spec, load, &scenario.run, seed)
                    .map(|(s, t)| (s, VariantTimeline::Server(t)))
            }
        })
        .collect();
    let mut variants = Vec::new();
    let mut timelines = Timelines::default();
    for result in results {
        let (summary, timeline) = result?;
        match timeline {
            VariantTimeline::None => {}
            VariantTimeline::Sale(t) => timelines.sale.push(t),
            VariantTimeline::Server(t) => timelines.server.push(t),
        }
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
    Ok(RunResults { summary, timelines })
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
