//! The figures of a sweep, from `sweep-summary.csv`: its columns are named by the metric paths
//! a sweep reports (`metrics.user_latency.p99_s.mean`), so they are looked up by name.

use std::collections::BTreeMap;
use std::path::Path;

use sim::output::plot::{Axes, Band, Chart, Kind};

use super::figure::Named;
use sim::experiment::sweep::terminal::{axis_label, human_number};
use sim::output::table::TextTable;

/// Reads `sweep-summary.csv` (quoted cells undone); rows of the wrong width are skipped, so
/// a damaged file gives fewer points, not a panic.
pub(super) fn read_csv(path: &Path) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let text = sim::config::read_bounded(path, sim::config::MAX_DATA_BYTES).ok()?;
    let mut input =
        sim::output::csv::reader_builder().comment(Some(b'#')).from_reader(text.as_bytes());
    let mut lines = input
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_string).collect::<Vec<String>>());
    let header = lines.next()?;
    let rows = lines.filter(|r| r.len() == header.len()).collect();
    Some((header, rows))
}

fn col(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name)
}

fn num(cell: &str) -> f64 {
    cell.parse().unwrap_or(f64::NAN)
}

/// A band's legend: the variant, then the other axes' values by their short labels.
fn band_name(variant: &str, axes: &[&String], row: &[String]) -> String {
    let others: Vec<String> =
        (1..axes.len()).map(|i| format!("{}={}", axis_label(axes[i]), row[3 + i])).collect();
    if others.is_empty() { variant.to_string() } else { format!("{variant} {}", others.join(" ")) }
}

/// An axis value, ordered as a number when it is one (numbers first), else as text.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Number(f64),
    Text(String),
}

impl Value {
    fn of(cell: &str) -> Value {
        match cell.parse::<f64>() {
            Ok(x) if x.is_finite() => Value::Number(x),
            _ => Value::Text(cell.to_string()),
        }
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a.total_cmp(b),
            (Value::Number(_), Value::Text(_)) => std::cmp::Ordering::Less,
            (Value::Text(_), Value::Number(_)) => std::cmp::Ordering::Greater,
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
        }
    }
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

/// The sweep's points as an HTML table, before its figures: per point and variant, the axis
/// values and the metrics the figures draw, as `mean ± 95% half-width` (the terminal's summary,
/// for the metrics the page knows); `None` without axes or metrics.
pub fn sweep_table_html(
    header: &[String],
    rows: &[Vec<String>],
    escape: fn(&str) -> String,
) -> Option<String> {
    let first_metric = header.iter().position(|h| h.ends_with(".mean")).filter(|&i| i > 3)?;
    let metrics: Vec<(&str, usize, Option<usize>)> = SWEEP_METRICS
        .iter()
        .filter_map(|(m, label)| {
            let mean = col(header, &format!("{m}.mean"))?;
            Some((*label, mean, col(header, &format!("{m}.ci95"))))
        })
        .collect();
    if metrics.is_empty() {
        return None;
    }
    let mut titles = vec!["point".to_string(), "variant".to_string(), "replications".to_string()];
    titles.extend(header[3..first_metric].iter().map(|p| axis_label(p)));
    titles.extend(metrics.iter().map(|(label, _, _)| label.to_string()));
    let mut table = TextTable::new(titles);
    for r in rows {
        let mut row: Vec<String> = r[..first_metric].to_vec();
        for (_, mean, ci) in &metrics {
            let (m, h) = (num(&r[*mean]), ci.map_or(f64::NAN, |i| num(&r[i])));
            row.push(match (m.is_finite(), h.is_finite()) {
                (false, _) => "-".to_string(),
                (true, true) => format!("{} ± {}", human_number(m), human_number(h)),
                (true, false) => human_number(m),
            });
        }
        table.row(row);
    }
    Some(format!(
        "<h2>Sweep</h2><p>Per point and variant: means over the replications ± 95% confidence \
         half-width (every metric is in <code>sweep-summary.csv</code>).</p>{}",
        table.render_html("comparison", escape)
    ))
}

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
        // One band per variant and values of the other axes, in variant order, then by those
        // values as numbers (50000 before 100000), as text when they are not numbers.
        let mut bands: BTreeMap<(usize, Vec<Value>), Band> = BTreeMap::new();
        let mut variants: Vec<&str> = Vec::new();
        for r in rows {
            if !variants.contains(&r[1].as_str()) {
                variants.push(&r[1]);
            }
            let variant = variants.iter().position(|v| *v == r[1]).unwrap_or(0);
            let others: Vec<Value> = (1..axes.len()).map(|i| Value::of(&r[3 + i])).collect();
            let (m, h) = (num(&r[mean]), num(&r[ci]));
            let h = if h.is_finite() { h } else { 0.0 };
            if m.is_finite() {
                bands
                    .entry((variant, others))
                    .or_insert_with(|| Band {
                        name: band_name(&r[1], &axes, r),
                        points: Vec::new(),
                    })
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
        let x_label = axis_label(x_axis);
        out.push(Named {
            name: format!("sweep-{}", metric.replace('.', "-")),
            chart: Chart {
                title: format!("{label} against {x_label} (95% confidence bands)"),
                x_label,
                y_label: label.to_string(),
                kind: Kind::Bands { bands },
                markers: Vec::new(),
                axes: Axes::default(),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_labelled_short_and_legends_ordered_as_numbers() {
        assert_eq!(
            axis_label("variant[three-tier].gateway.instances"),
            "gateway.instances (three-tier)"
        );
        assert_eq!(axis_label("traffic.users"), "traffic.users");
        assert_eq!(axis_label("traffic.client.retry.max_attempts"), "retry.max_attempts");
        let header: Vec<String> = [
            "point",
            "variant",
            "replications",
            "variant[v].gateway.instances",
            "traffic.users",
            "metrics.cost.total_usd.mean",
            "metrics.cost.total_usd.sd",
            "metrics.cost.total_usd.ci95",
        ]
        .map(str::to_string)
        .to_vec();
        let mut rows = Vec::new();
        for (k, (instances, users)) in
            [(4, 50_000), (4, 100_000), (4, 150_000), (8, 50_000), (8, 100_000), (8, 150_000)]
                .into_iter()
                .enumerate()
        {
            rows.push(
                [
                    &k.to_string(),
                    "v",
                    "2",
                    &instances.to_string(),
                    &users.to_string(),
                    "1.5",
                    "0.1",
                    "0.2",
                ]
                .map(str::to_string)
                .to_vec(),
            );
        }
        let table = sweep_table_html(&header, &rows, |s| s.to_string()).unwrap();
        assert!(table.contains("<th class=\"num\">gateway.instances (v)</th>"), "{table}");
        assert!(table.contains("<td class=\"num\">1.500 ± 0.2000</td>"), "{table}");
        let figures = sweep_figures(&header, &rows);
        let Kind::Bands { bands } = &figures[0].chart.kind else { panic!("bands") };
        let names: Vec<&str> = bands.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            ["v traffic.users=50000", "v traffic.users=100000", "v traffic.users=150000"]
        );
        assert_eq!(figures[0].chart.x_label, "gateway.instances (v)");
    }
}
