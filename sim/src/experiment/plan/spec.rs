//! The `[plan]` table: SLOs, the capacities to vary within bounds, replications, the objective
//! and the headroom search, validated into a [`PlanSpec`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::issues::Issues;
use crate::experiment::plan::slo::Slo;

/// The `[plan]` table of a scenario.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    /// SLOs, e.g. `"latency.p99_s <= 1.0"`, `"errors == 0"`.
    #[serde(default)]
    pub slo: Vec<String>,
    /// Capacities to choose.
    #[serde(default)]
    pub vary: Vec<RawVary>,
    /// Replications per candidate (default 3).
    pub replications: Option<i64>,
    /// The metric to minimise (default: the model's own objective, such as its total cost).
    pub objective: Option<String>,
    /// Headroom search: multiply these paths' values by m until an SLO fails.
    pub headroom: Option<RawHeadroom>,
}

/// One capacity to choose.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVary {
    /// Key path, e.g. `variant[fast].station[web].servers`.
    pub path: String,
    pub min: i64,
    pub max: i64,
}

/// The headroom search.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHeadroom {
    /// Paths scaled together (numbers in the file), e.g. `["traffic.users"]`.
    pub scale: Vec<String>,
    /// Largest multiplier tried (default 4).
    pub max: Option<f64>,
}

/// A validated capacity dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dim {
    pub path: String,
    pub min: i64,
    pub max: i64,
}

/// A validated plan.
#[derive(Clone, Debug)]
pub struct PlanSpec {
    pub slos: Vec<Slo>,
    pub dims: Vec<Dim>,
    pub replications: u64,
    pub objective: String,
    pub headroom: Option<(Vec<String>, f64)>,
}

impl RawPlan {
    /// Validates, recording issues under `plan`; the objective defaults to `default_objective`
    /// (a model's own; the command line takes it from the catalogue).
    pub fn check(&self, issues: &mut Issues, default_objective: &str) -> Option<PlanSpec> {
        let before = issues.len();
        let mut slos = Vec::new();
        for (i, text) in self.slo.iter().enumerate() {
            if let Some(slo) = issues.check(&format!("plan.slo[{i}]"), text.parse::<Slo>()) {
                slos.push(slo);
            }
        }
        let mut dims = Vec::new();
        for (i, v) in self.vary.iter().enumerate() {
            if v.min < 0 || v.max < v.min || v.max > 1_000_000 {
                issues.push(
                    format!("plan.vary[{i}]"),
                    format!("needs 0 ≤ min ≤ max ≤ 1000000 (got {}..{})", v.min, v.max),
                );
            }
            dims.push(Dim { path: v.path.clone(), min: v.min, max: v.max });
        }
        // At least two: an SLO is judged on a confidence bound, which one run cannot give.
        let replications = match self.replications {
            None => 3,
            Some(r) if (2..=10_000).contains(&r) => r as u64,
            Some(r) => {
                issues.push("plan.replications", format!("must be between 2 and 10000 (got {r})"));
                3
            }
        };
        let headroom = self.headroom.as_ref().map(|h| {
            let max = h.max.unwrap_or(4.0);
            if !(max.is_finite() && max > 1.0 && max <= 1000.0) {
                issues.push("plan.headroom.max", format!("must be in (1, 1000] (got {max})"));
            }
            if h.scale.is_empty() {
                issues.push("plan.headroom.scale", "must list at least one path");
            }
            (h.scale.clone(), max)
        });
        if issues.len() > before {
            return None;
        }
        Some(PlanSpec {
            slos,
            dims,
            replications,
            objective: self.objective.clone().unwrap_or_else(|| default_objective.into()),
            headroom,
        })
    }
}
