//! `[report] thresholds`: the scenario's own pass/fail lines for the verdict table, like k6
//! thresholds. Each is `"metrics.<path> <op> <number>"`, read by the planner's SLO parser
//! ([`Slo`]), its path checked at load time against the numbers a flash-sale variant's summary
//! has. A run writes them beside its results (`thresholds.json`), so `flashsim report DIR`
//! judges them from the files alone; one run has one value per variant, judged as is.
//!
//! ```toml
//! [report]
//! thresholds = ["metrics.oversold == 0", "metrics.buyers.time_to_final_answer.p50_s <= 2"]
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sim::config::{Issues, check_number_path, join_index};
use sim::experiment::plan::Slo;
use sim::experiment::sweep::rows::flatten_numbers;

use crate::summary::VariantSummary;

/// The file a run writes its thresholds to (only when the scenario has some).
pub const FILE: &str = "thresholds.json";

/// The `[report]` table of a scenario.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    /// Pass/fail lines for the report's verdict table, like k6 thresholds:
    /// `"metrics.<path> <op> <number>"`, op one of `<=`, `<`, `>=`, `>`, `==`, the path a number
    /// of a flash-sale variant's `metrics` in `summary.json`; e.g. `"metrics.oversold == 0"`,
    /// `"metrics.buyers.time_to_final_answer.p50_s <= 2"`. Without any, the verdict table marks
    /// its built-in alarms.
    #[serde(default)]
    pub thresholds: Vec<String>,
}

/// The thresholds as a run writes them: the text as written, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub thresholds: Vec<String>,
}

impl RawReport {
    /// Validates every threshold, recording issues under `report.thresholds[i]`.
    pub fn check(&self, issues: &mut Issues) -> Thresholds {
        let mut ok = Vec::new();
        for (i, text) in self.thresholds.iter().enumerate() {
            let key = join_index("report.thresholds", i);
            // The parser words its errors for the planner's SLOs.
            let parsed = text.parse::<Slo>().map_err(|e| e.replacen("SLO ", "threshold ", 1));
            let Some(slo) = issues.check(&key, parsed) else { continue };
            match check_metric(&slo.metric) {
                Ok(()) => ok.push(text.trim().to_string()),
                Err(e) => issues.push(key, format!("threshold `{}`: {e}", text.trim())),
            }
        }
        Thresholds { thresholds: ok }
    }
}

/// `metrics.<path>` naming a number of a flash-sale variant's summary.
fn check_metric(metric: &str) -> Result<(), String> {
    if !metric.starts_with("metrics.") {
        return Err(format!(
            "`{metric}` must start with `metrics.`: a number of a flash-sale variant's `metrics` \
             in summary.json, e.g. `metrics.oversold`"
        ));
    }
    check_number_path::<VariantSummary>(metric)
        .map_err(|e| format!("`{metric}` is not a metric of a flash-sale variant: {e}"))
}

impl Thresholds {
    /// The thresholds parsed back (a file changed by hand is refused, not half-read).
    pub fn slos(&self) -> Result<Vec<Slo>, String> {
        self.thresholds
            .iter()
            .map(|t| t.parse::<Slo>().map_err(|e| format!("{FILE}: {e}")))
            .collect()
    }
}

/// A threshold judged on one variant: its value (`None` when the variant has none, which fails)
/// and whether it holds.
pub fn judge(slo: &Slo, variant: &VariantSummary) -> (Option<f64>, bool) {
    let value = serde_json::to_value(variant)
        .ok()
        .and_then(|v| flatten_numbers(&v).into_iter().find(|(k, _)| *k == slo.metric))
        .map(|(_, x)| x)
        .filter(|x| x.is_finite());
    (value, value.is_some_and(|x| slo.judge(&[x]).holds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues_of(thresholds: &[&str]) -> Vec<String> {
        let raw = RawReport { thresholds: thresholds.iter().map(|t| t.to_string()).collect() };
        let mut issues = Issues::new();
        raw.check(&mut issues);
        issues.iter().map(|i| format!("{}: {}", i.path, i.message)).collect()
    }

    #[test]
    fn known_metric_paths_pass_and_others_are_refused_with_their_key() {
        let ok = [
            "metrics.oversold == 0",
            "metrics.buyers.time_to_final_answer.p50_s <= 2",
            "metrics.claimed_order_rate >= 0.99",
            "metrics.peak_1s_utilization.gateway_cpu < 0.8",
            "metrics.payment.payment_success_rate > 0.5",
            "metrics.cost.components.gateway.usd <= 10",
            "metrics.outcomes.purchased >= 1",
        ];
        assert_eq!(issues_of(&ok), Vec::<String>::new());
        let bad = issues_of(&[
            "metrics.oversold == 0",
            "metrics.buyers.purchsed_share >= 0.5",
            "oversold == 0",
            "metrics.buyers <= 1",
            "metrics.oversold ~ 0",
        ]);
        assert_eq!(bad.len(), 4, "{bad:?}");
        assert!(
            bad[0].starts_with("report.thresholds[1]: threshold `metrics.buyers.purchsed_share")
        );
        assert!(
            bad[0].contains(
                "`metrics.buyers` has no `purchsed_share` (known: humans, purchased_share"
            )
        );
        assert!(
            bad[1].starts_with("report.thresholds[2]: ")
                && bad[1].contains("must start with `metrics.`")
        );
        assert!(bad[2].contains("`metrics.buyers` is a table"), "{}", bad[2]);
        assert!(
            bad[3].starts_with("report.thresholds[4]: ")
                && bad[3].contains("ops: <=, <, >=, >, ==")
        );
    }
}
