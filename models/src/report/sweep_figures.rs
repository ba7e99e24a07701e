//! The figures of a sweep, from `sweep-summary.csv`: its columns are named by the metric paths
//! a sweep reports (`metrics.user_latency.p99_s.mean`), so they are looked up by name.

use std::collections::BTreeMap;
use std::path::Path;

use sim::output::plot::{Axes, Band, Chart, Kind};

use super::figure::Named;

/// Reads `sweep-summary.csv` (quoted cells undone); rows of the wrong width are skipped, so
/// a damaged file gives fewer points, not a panic.
pub(super) fn read_csv(path: &Path) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let text = sim::config::read_bounded(path, sim::config::MAX_DATA_BYTES).ok()?;
    let split = |line: &str| -> Vec<String> {
        sim::output::csv::split_csv(line)
            .iter()
            .map(|c| sim::output::csv::unquote_cell(c))
            .collect()
    };
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header = split(lines.next()?);
    let rows = lines.map(split).filter(|r| r.len() == header.len()).collect();
    Some((header, rows))
}

fn col(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name)
}

fn num(cell: &str) -> f64 {
    cell.parse().unwrap_or(f64::NAN)
}

/// Metrics drawn for a sweep, when present.
const SWEEP_METRICS: [(&str, &str); 8] = [
    ("metrics.buyers.time_to_final_answer.p50_s", "half the buyers answered by (s)"),
    ("metrics.buyers.answer_latency.p99_s", "answered buyers' latency p99 (s)"),
    ("metrics.buyers.gave_up_share", "buyers who gave up (share)"),
    ("metrics.attempt_latency.p99_s", "attempt latency p99 (s)"),
    ("metrics.stock_to_buyers_rate", "stock to buyers (share)"),
    ("metrics.cost.total_usd", "cost (USD)"),
    ("network.response.mean_s", "mean response (s)"),
    ("server.throughput_per_s", "throughput (answered/s)"),
];

/// The figures of a sweep, from `sweep-summary.csv`.
pub fn sweep_figures(header: &[String], rows: &[Vec<String>]) -> Vec<Named> {
    let Some(first_metric) = header.iter().position(|h| h.ends_with(".mean")) else {
        return Vec::new();
    };
    if first_metric < 3 {
        return Vec::new();
    }
    let axes: Vec<&String> = header[3..first_metric].iter().collect();
    let Some(x_axis) = axes.first() else { return Vec::new() };
    let mut out = Vec::new();
    for (metric, label) in SWEEP_METRICS {
        let (Some(mean), Some(ci)) =
            (col(header, &format!("{metric}.mean")), col(header, &format!("{metric}.ci95")))
        else {
            continue;
        };
        let mut bands: BTreeMap<String, Band> = BTreeMap::new();
        for r in rows {
            let others: Vec<String> =
                (1..axes.len()).map(|i| format!("{}={}", axes[i], r[3 + i])).collect();
            let key = if others.is_empty() {
                r[1].clone()
            } else {
                format!("{} {}", r[1], others.join(" "))
            };
            let (m, h) = (num(&r[mean]), num(&r[ci]));
            let h = if h.is_finite() { h } else { 0.0 };
            if m.is_finite() {
                bands
                    .entry(key.clone())
                    .or_insert_with(|| Band { name: key, points: Vec::new() })
                    .points
                    .push((num(&r[3]), m - h, m, m + h));
            }
        }
        // A first axis that is not a number (a duration, a policy name) has no x scale.
        let bands: Vec<Band> =
            bands.into_values().filter(|b| b.points.iter().all(|p| p.0.is_finite())).collect();
        if bands.is_empty() {
            continue;
        }
        out.push(Named {
            name: format!("sweep-{}", metric.replace('.', "-")),
            chart: Chart {
                title: format!("{label} against {x_axis} (95% confidence bands)"),
                x_label: x_axis.to_string(),
                y_label: label.to_string(),
                kind: Kind::Bands { bands },
                markers: Vec::new(),
                axes: Axes::default(),
            },
        });
    }
    out
}
