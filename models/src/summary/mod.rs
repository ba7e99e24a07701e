//! The deterministic run summary (`summary.json`) and its terminal table.
//!
//! The summary depends only on the scenario, the seed and the overrides: no wall-clock figure,
//! no thread count, no map iteration order. Field order is the struct order. Units are in the
//! field names (`_s` seconds, `_per_s` rates); levels and counts are plain numbers.
//!
//! The types read back what they write: `flashsim report` reads `summary.json` into [`Summary`].

use serde::{Deserialize, Serialize};
use sim::output::table::{TextTable, flag, human_count, human_secs};

pub mod sale;
pub mod sale_table;
pub mod server;
pub mod server_table;
pub mod variant;

pub use variant::{NetworkSummary, StationSummary, StopKind, VariantSummary};

/// The metric `plan` minimises unless the file names another: the total cost of a variant.
pub const DEFAULT_OBJECTIVE: &str = "metrics.cost.total_usd";

/// The whole result of `flashsim run`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    /// The scenario's `description`, when it has one (the report's headline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub seed: u64,
    pub engine: EngineFacts,
    pub variants: Vec<VariantSummary>,
}

/// Facts about the run itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineFacts {
    /// Events processed over all variants.
    pub events: u64,
    pub flashsim_version: String,
    pub horizon_s: Option<f64>,
    pub warmup_s: f64,
}

impl Summary {
    /// The tables printed by `flashsim run`: network variants, then flash-sale variants side by
    /// side.
    pub fn table(&self) -> String {
        self.table_with(false)
    }

    /// The tables, with ANSI colour for a terminal when `colour`.
    pub fn table_with(&self, colour: bool) -> String {
        let mut out = format!("scenario {}  seed {}\n\n", self.scenario, self.seed);
        let tables: Vec<String> = self.tables().iter().map(|t| t.render_with(colour)).collect();
        out.push_str(&tables.join("\n"));
        out
    }

    /// The same tables as HTML (see [`TextTable::render_html`]), for the report.
    pub fn tables_html(&self, escape: fn(&str) -> String) -> String {
        self.tables().iter().map(|t| t.render_html("comparison", escape)).collect()
    }

    /// Network variants, then flash-sale variants side by side, then server variants.
    fn tables(&self) -> Vec<TextTable> {
        let mut tables = Vec::new();
        if self.variants.iter().any(|v| v.network.is_some()) {
            tables.push(self.network_table());
        }
        if self.variants.iter().any(|v| v.metrics.is_some()) {
            tables.push(sale_table::comparison(&self.variants));
        }
        if self.variants.iter().any(|v| v.server.is_some()) {
            tables.push(server_table::comparison(&self.variants));
        }
        tables
    }

    fn network_table(&self) -> TextTable {
        let mut t = TextTable::new([
            "variant / station",
            "servers",
            "offered ρ",
            "util",
            "mean queue",
            "peak queue",
            "mean wait",
            "mean sojourn",
            "p99 sojourn",
            "served",
            "dropped",
            "reneged",
        ]);
        for v in &self.variants {
            let Some(n) = &v.network else { continue };
            t.row([
                format!("{} ({})", v.name, v.architecture),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                human_secs(n.response.mean_s),
                human_secs(n.response.p99_s),
                human_count(n.completed as f64),
                human_count(n.dropped as f64),
                human_count(n.reneged as f64),
            ]);
            for s in &v.stations {
                let r = &s.report;
                t.row([
                    format!("  {}", s.name),
                    r.servers.to_string(),
                    s.offered_load.map_or(String::new(), |rho| format!("{rho:.3}")),
                    format!("{:.1}%", r.utilization * 100.0),
                    format!("{:.2}", r.mean_queue_len),
                    r.peak_queue_len.to_string(),
                    human_secs(r.mean_wait_s),
                    human_secs(r.mean_sojourn_s),
                    human_secs(r.p99_sojourn_s),
                    human_count(r.served as f64),
                    flag(human_count(r.dropped as f64), r.dropped > 0),
                    flag(human_count(r.reneged as f64), r.reneged > 0),
                ]);
            }
        }
        t
    }
}
