//! One variant's results, whatever its architecture (`variants[]` of `summary.json`).

use serde::{Deserialize, Serialize};
use sim::StationReport;
use sim::stats::DurationSummary;

use super::sale::SaleMetrics;
use super::server::ServerMetrics;

/// One variant's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantSummary {
    pub name: String,
    /// The scenario's `architecture` value.
    pub architecture: crate::architecture::kind::Architecture,
    pub events: u64,
    /// Simulated time the statistics run to.
    pub end_s: f64,
    pub stop: StopKind,
    /// `network` variants: jobs across the network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSummary>,
    /// Flash-sale variants: outcomes, stock, latency, cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SaleMetrics>,
    /// `server` variants: throughput, latency, frozen intervals, tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerMetrics>,
    pub stations: Vec<StationSummary>,
}

/// Why a variant's run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// Stopped at the horizon.
    Horizon,
    /// No event left.
    Drained,
}

impl StopKind {
    /// The stop of a run that ended without error (see `crate::run::check_stop`).
    pub fn of(stats: &sim::RunStats) -> Self {
        if stats.stop == sim::Stop::Horizon { StopKind::Horizon } else { StopKind::Drained }
    }
}

/// Jobs across the whole network, after warm-up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub entered: u64,
    pub completed: u64,
    pub dropped: u64,
    pub reneged: u64,
    pub in_system_at_end: u64,
    /// Time from entering the network to leaving it, for completed jobs.
    pub response: DurationSummary,
}

/// One station's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StationSummary {
    pub name: String,
    /// `network` stations: ρ = λ·E[S]/c from the traffic equations at the peak arrival rates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered_load: Option<f64>,
    #[serde(flatten)]
    pub report: StationReport,
}
