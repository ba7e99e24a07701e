//! Running a validated scenario: every variant with the same seed, then one summary.
//!
//! Flash-sale variants share one population of clicks, generated once from the seed before any
//! variant runs (common random numbers). Flash-sale and `server` variants also leave a typed
//! timeline, written next to the summary by `crate::timelines` (one block of rows per variant).

use rayon::prelude::*;

use crate::architecture::{RunTimeline, Shared, Variant, VariantRun};
use crate::scenario::Scenario;
use crate::summary::{EngineFacts, Summary};
use crate::timelines::Timelines;

/// A run's results: the summary and the typed timelines (written by `crate::timelines`).
pub struct RunResults {
    pub summary: Summary,
    pub timelines: Timelines,
}

/// Runs every variant of `scenario` with `seed` (or the scenario's own seed).
pub fn run_scenario(scenario: &Scenario, seed: Option<u64>) -> Result<Summary, String> {
    run_with_timeline(scenario, seed).map(|r| r.summary)
}

/// Like [`run_scenario`], keeping the timelines.
pub fn run_with_timeline(scenario: &Scenario, seed: Option<u64>) -> Result<RunResults, String> {
    let seed = seed.unwrap_or(scenario.run.seed);
    let population = scenario.sale.as_ref().map(|setup| {
        setup.traffic.generate(
            seed,
            setup.sale.opens_at,
            setup.sale.pre_open == crate::sale::config::PreOpen::Disabled,
        )
    });
    let shared = Shared {
        run: &scenario.run,
        sale: scenario.sale.as_ref().zip(population.as_ref()),
        load: scenario.load.as_ref(),
    };
    // Variants are independent runs on shared, read-only traffic: run them in parallel, and
    // collect in file order so the output is the same whatever the thread count.
    let results: Vec<Result<VariantRun, String>> = scenario
        .variants
        .par_iter()
        .map(|variant| crate::architecture::simulate(variant, &shared, seed))
        .collect();
    let mut variants = Vec::new();
    let mut timelines = Timelines::default();
    for result in results {
        let (summary, timeline) = result?;
        match timeline {
            RunTimeline::None => {}
            RunTimeline::Sale(t) => timelines.sale.push(t),
            RunTimeline::Server(t) => timelines.server.push(t),
        }
        variants.push(summary);
    }
    share_cpu_window(&mut variants);
    let summary = Summary {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
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

/// Puts the app tier's CPU utilisation of every flash-sale variant on one window, time zero to
/// the end of the longest, so that the variants' figures compare (each ran to its own end).
fn share_cpu_window(variants: &mut [crate::summary::VariantSummary]) {
    let window_s =
        variants.iter().filter(|v| v.metrics.is_some()).map(|v| v.end_s).fold(0.0, f64::max);
    for m in variants.iter_mut().filter_map(|v| v.metrics.as_mut()) {
        let capacity_s = window_s * m.app_cores as f64;
        m.app_cpu_utilization = if capacity_s > 0.0 { m.app_cpu_s / capacity_s } else { 0.0 };
    }
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
