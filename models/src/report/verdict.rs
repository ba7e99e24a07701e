//! The report's first block: per flash-sale variant, the figures a review asks first — what the
//! buyers were told, oversell, orders told to their buyer, the binding component's busiest
//! second and the cost per item — as an HTML table with the alarming cells marked: by built-in
//! rules, or, when the scenario has `[report] thresholds`, by those alone, each a column with
//! its value and pass or fail.

use std::fmt::Write as _;

use sim::experiment::plan::Slo;
use sim::experiment::sweep::terminal::human_number;

use super::thresholds::judge;
use crate::sale::metrics::SaleMetrics;
use crate::summary::Summary;
use crate::summary::sale_table::usd_3_significant;

/// Whether a cell is alarming, and its text.
struct Cell(bool, String);

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The component with the highest busiest-second utilisation, and that utilisation.
fn binding_component(m: &SaleMetrics) -> (&'static str, f64) {
    let p = &m.peak_1s_utilization;
    [
        ("gateway CPU", Some(p.gateway_cpu)),
        ("gateway threads", p.gateway_threads),
        ("database pool", Some(p.db_pool)),
        ("stock row lock", Some(p.stock_row_lock)),
        ("Redis hot shard", p.redis_shard),
        ("Kafka partition", p.kafka_partition),
        ("Flink subtask", p.flink_subtask),
    ]
    .into_iter()
    .filter_map(|(name, u)| u.map(|u| (name, u)))
    .fold(("none", 0.0), |best, c| if c.1 > best.1 { c } else { best })
}

fn cells(m: &SaleMetrics) -> Vec<Cell> {
    let b = &m.buyers;
    let unanswered = b.gave_up_share + b.still_trying_share;
    let told = m.claimed_order_rate;
    let (component, busiest) = binding_component(m);
    vec![
        Cell(false, pct(b.purchased_share)),
        Cell(unanswered > 0.25, pct(unanswered)),
        Cell(
            b.time_to_final_answer.p50_s.is_none(),
            b.time_to_final_answer.p50_s.map_or("never".into(), |t| format!("{t:.2} s")),
        ),
        Cell(m.oversold > 0, m.oversold.to_string()),
        Cell(told.is_some_and(|r| r < 0.99), told.map_or("–".into(), pct)),
        Cell(busiest >= 0.999, format!("{component} {}", pct(busiest))),
        Cell(false, m.cost.per_item_sold_usd.map_or("–".into(), usd_3_significant)),
    ]
}

/// The verdict table of `summary`'s flash-sale variants (nothing without any); the cells are
/// marked by the built-in rules unless `thresholds` (the scenario's own) are given.
pub fn verdict_section(
    html: &mut String,
    summary: &Summary,
    thresholds: &[Slo],
    escape: fn(&str) -> String,
) {
    let sale: Vec<_> =
        summary.variants.iter().filter_map(|v| v.metrics.as_ref().map(|m| (v, m))).collect();
    if sale.is_empty() {
        return;
    }
    if thresholds.is_empty() {
        html.push_str(
            "<h2>Verdict</h2><p>Per variant, what a review asks first; marked: oversold units, \
             fewer than 99% of orders told to their buyer, more than a quarter of the buyers \
             without a final answer (or half never answered), a component full in its busiest \
             second.</p>",
        );
    } else {
        html.push_str(
            "<h2>Verdict</h2><p>Per variant, what a review asks first, then the scenario's \
             thresholds (<code>[report] thresholds</code>): the value and pass or fail, failures \
             marked; a variant without the metric fails it.</p>",
        );
    }
    html.push_str(
        "<table class=\"verdict\"><tr><th>variant</th><th>buyers told purchased</th>\
         <th>buyers without a final answer</th><th>half the buyers answered by</th>\
         <th>oversold</th><th>orders told to their buyer</th>\
         <th>busiest component (busiest second)</th><th>cost per item sold</th>",
    );
    for t in thresholds {
        write!(html, "<th><code>{}</code></th>", escape(&t.to_string())).expect("string");
    }
    html.push_str("</tr>");
    for (v, m) in sale {
        write!(html, "<tr><th>{}</th>", escape(&v.name)).expect("string");
        for Cell(alarm, text) in cells(m) {
            // The scenario's thresholds replace the built-in rules.
            let class = if alarm && thresholds.is_empty() { " class=\"alarm\"" } else { "" };
            write!(html, "<td{class}>{}</td>", escape(&text)).expect("string");
        }
        for t in thresholds {
            let (value, holds) = judge(t, v);
            let value = value.map_or("no value".to_string(), human_number);
            let (class, verdict) = if holds { ("", "pass") } else { (" class=\"alarm\"", "fail") };
            write!(html, "<td{class}>{} {verdict}</td>", escape(&value)).expect("string");
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two naive database variants, one without a guard (it oversells); `extra` is appended.
    fn two_variants(extra: &str) -> (crate::scenario::Scenario, Summary) {
        let text = r#"[run]
seed = 5
[sale]
stock = 100
opens_at = "5s"
[traffic]
users = 4000
profile = { kind = "windows", windows = [{ from = "0s", until = "2s", share = 1.0 }] }
[[variant]]
name = "unguarded"
architecture = "naive_db"
[variant.db]
pool = 16
guard = "none"
[[variant]]
name = "guarded"
architecture = "naive_db"
[variant.db]
pool = 16
guard = "conditional"
"#;
        let text = format!("{text}{extra}");
        let path = std::path::Path::new("v.toml");
        let scn = crate::scenario::from_text(path, &text, &[]).unwrap();
        let summary = crate::run::run_scenario(&scn, None).unwrap();
        (scn, summary)
    }

    #[test]
    fn the_verdict_lists_every_sale_variant_and_marks_an_oversell() {
        let (_, summary) = two_variants("");
        let mut html = String::new();
        verdict_section(&mut html, &summary, &[], |t| t.to_string());
        // Without thresholds, the page's bytes from before `[report] thresholds` existed.
        let head = "<h2>Verdict</h2><p>Per variant, what a review asks first; marked: oversold \
            units, fewer than 99% of orders told to their buyer, more than a quarter of the \
            buyers without a final answer (or half never answered), a component full in its \
            busiest second.</p><table class=\"verdict\"><tr><th>variant</th><th>buyers told \
            purchased</th><th>buyers without a final answer</th><th>half the buyers answered \
            by</th><th>oversold</th><th>orders told to their buyer</th><th>busiest component \
            (busiest second)</th><th>cost per item sold</th></tr><tr><th>unguarded</th>";
        assert!(html.starts_with(head), "{html}");
        let rows: Vec<&str> = html.split("<tr>").skip(2).collect();
        assert_eq!(rows.len(), 2, "{html}");
        assert!(
            rows[0].starts_with("<th>unguarded</th>") && rows[1].starts_with("<th>guarded</th>")
        );
        let oversold = |row: &str| row.split("<td").nth(4).unwrap().to_string();
        assert!(oversold(rows[0]).starts_with(" class=\"alarm\">"), "{}", rows[0]);
        assert!(oversold(rows[1]).starts_with(">0<"), "{}", rows[1]);
        assert_eq!(rows[0].matches("<td").count(), 7, "no threshold columns: {}", rows[0]);
    }

    #[test]
    fn a_failing_threshold_is_marked_failed_and_replaces_the_built_in_marks() {
        let (scn, summary) = two_variants(
            "[report]\nthresholds = [\"metrics.oversold == 0\", \"metrics.buyers.humans >= 1\"]\n",
        );
        let slos = scn.thresholds.slos().unwrap();
        assert_eq!(slos.len(), 2);
        let mut html = String::new();
        verdict_section(&mut html, &summary, &slos, |t| t.to_string());
        assert!(html.contains("<th><code>metrics.oversold == 0</code></th>"), "{html}");
        let rows: Vec<&str> = html.split("<tr>").skip(2).collect();
        let cells = |row: &str| row.split("<td").skip(1).map(str::to_string).collect::<Vec<_>>();
        let (unguarded, guarded) = (cells(rows[0]), cells(rows[1]));
        assert_eq!(unguarded.len(), 9, "{}", rows[0]);
        // The oversell fails its threshold, in red; the built-in mark on its cell is gone.
        assert!(unguarded[7].starts_with(" class=\"alarm\">") && unguarded[7].contains(" fail<"));
        assert!(!unguarded[3].contains("alarm"), "{}", unguarded[3]);
        assert!(unguarded[8].starts_with(">4000 pass<"), "{}", unguarded[8]);
        assert!(guarded[7].starts_with(">0 pass<"), "{}", guarded[7]);
    }
}
