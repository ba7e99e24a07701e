//! The `network` architecture: a generic open queueing network, used to validate the engine
//! against queueing theory and to model custom architectures.
//!
//! ```text
//!   arrival streams ─► station ─(route p)─► station ─► … ─(the rest)─► leave
//!                        │ servers × service; queue_capacity: dropped; patience: reneged
//!                        │ execution: thread_pool (one FIFO) | event_loop | goroutines (PS)
//! ```

pub mod config;
pub mod model;

use sim::Context;

use crate::limits::{RunLimits, RunSettings};
use crate::summary::{NetworkSummary, StationSummary, VariantSummary};
use config::Network;
use model::NetworkModel;

/// Simulates one network variant; `Err` names the limit that stopped it early.
pub fn simulate(
    net: &Network,
    run: &RunSettings,
    limits: &RunLimits,
    seed: u64,
) -> Result<VariantSummary, String> {
    let mut ctx = Context::new();
    let mut model = NetworkModel::new(net, seed, run.max_in_system, &mut ctx);
    let stats = limits.run(&mut model, &mut ctx)?;
    let stations = model
        .station_reports(stats.end)
        .zip(&net.offered_load)
        .map(|((spec, report), &rho)| StationSummary {
            name: spec.name.clone(),
            offered_load: Some(rho),
            report,
        })
        .collect();
    let totals = model.totals();
    Ok(VariantSummary {
        name: net.name.clone(),
        architecture: crate::architecture::kind::Architecture::Network,
        events: stats.events,
        end_s: stats.end.as_secs_f64(),
        stop: crate::summary::StopKind::of(&stats),
        metrics: None,
        server: None,
        network: Some(NetworkSummary {
            entered: totals.entered,
            completed: totals.completed,
            dropped: totals.dropped,
            reneged: totals.reneged,
            in_system_at_end: model.in_system() as u64,
            response: totals.response.summary(),
        }),
        stations,
    })
}
