//! Running a validated scenario: every variant with the same seed, then one summary.

use crate::network;
use crate::scenario::{Scenario, Variant};
use crate::summary::{EngineFacts, Summary};

/// Runs every variant of `scenario` with `seed` (or the scenario's own seed).
pub fn run_scenario(scenario: &Scenario, seed: Option<u64>) -> Result<Summary, String> {
    let seed = seed.unwrap_or(scenario.run.seed);
    let mut variants = Vec::new();
    for variant in &scenario.variants {
        let summary = match variant {
            Variant::Network(net) => network::simulate(net, &scenario.run, seed)?,
        };
        variants.push(summary);
    }
    Ok(Summary {
        scenario: scenario.name.clone(),
        seed,
        engine: EngineFacts {
            events: variants.iter().map(|v| v.events).sum(),
            flashsim_version: env!("CARGO_PKG_VERSION"),
            horizon_s: scenario.run.horizon.map(|h| h.as_secs_f64()),
            warmup_s: scenario.run.warmup.as_secs_f64(),
        },
        variants,
    })
}

/// Warnings about a scenario worth telling before trusting its numbers.
pub fn warnings(scenario: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for variant in &scenario.variants {
        let Variant::Network(net) = variant;
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
