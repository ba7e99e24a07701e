//! The figures of a run drawn over time, from `timeline.csv`: per flash-sale variant, answers by
//! outcome (log scale, so a few purchases show beside a flood of refusals), queues and
//! utilisation of the components the variant has; for all variants, stock left and the answer
//! latency's p99 and p50 per 100 ms (a figure each).
//!
//! Every one of them shares one time window ([`sale_window`]): from a few seconds before the
//! opening to the last final answer of any variant, so figures side by side compare.

use sim::output::plot::{Axes, Chart, Kind, Series};

use super::figure::{Named, file_safe};
use crate::sale::outcome::Outcome;
use crate::summary::VariantSummary;
use crate::summary::sale::SaleMetrics;
use crate::timelines::{SaleRow, VariantTimeline};

/// Seconds shown before the opening.
pub const LEAD_S: f64 = 3.0;
/// The timeline's interval, seconds.
const INTERVAL_S: f64 = 0.1;

/// Outcome groups, one line each.
const OUTCOME_GROUPS: [(&str, &[Outcome]); 6] = [
    ("purchased", &[Outcome::Purchased]),
    ("queued / poll pending", &[Outcome::Queued, Outcome::Pending]),
    ("sold out / limit", &[Outcome::SoldOut, Outcome::LimitReached]),
    ("failed / timed out", &[Outcome::Failed, Outcome::TimedOut, Outcome::InFlightAtEnd]),
    (
        "turned away (deduped, rate limited, shed)",
        &[Outcome::Deduped, Outcome::RateLimited, Outcome::Shed],
    ),
    ("not open yet / waiting room", &[Outcome::NotOpen, Outcome::InRoom]),
];

/// A flash-sale variant and its metrics.
pub(super) type Sale<'a> = (&'a VariantSummary, &'a SaleMetrics);

/// `variant`'s rows (none when the timeline lacks it).
pub(super) fn rows_of<'a, R>(timelines: &'a [VariantTimeline<R>], variant: &str) -> &'a [R] {
    timelines.iter().find(|t| t.variant == variant).map_or(&[], |t| &t.rows)
}

/// The window every timeline figure shows, `(from, to)` in seconds: from [`LEAD_S`] before the
/// earliest opening to the end of the interval of the last final answer of any variant (the
/// end of the longest timeline when no buyer was answered).
pub fn sale_window(sale: &[Sale], timeline: &[VariantTimeline<SaleRow>]) -> (f64, f64) {
    let opens = sale.iter().map(|(_, m)| m.opens_at_s).fold(f64::INFINITY, f64::min);
    let opens = if opens.is_finite() { opens } else { 0.0 };
    let rows = || sale.iter().flat_map(|(v, _)| rows_of(timeline, &v.name));
    let last = |answered: bool| {
        rows()
            .filter(|r| !answered || r.answer_latency_p50_s.is_some())
            .map(|r| r.t_s + INTERVAL_S)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let to = [last(true), last(false), opens + 1.0].into_iter().find(|t| t.is_finite());
    let from = (opens - LEAD_S).max(0.0);
    (from, to.unwrap_or(opens + 1.0).max(from + INTERVAL_S))
}

/// The rows within `window`.
fn within(rows: &[SaleRow], (from, to): (f64, f64)) -> impl Iterator<Item = &SaleRow> {
    rows.iter().filter(move |r| r.t_s >= from - 1e-9 && r.t_s < to)
}

/// Axes showing `window`.
fn in_window(window: (f64, f64)) -> Axes {
    Axes { x: Some(window), ..Axes::default() }
}

fn opening(opens_at_s: f64) -> Vec<(f64, String)> {
    vec![(opens_at_s, "opening".to_string())]
}

/// A column of the timeline, as a number when the row has it.
type Column = fn(&SaleRow) -> Option<f64>;

/// One line per `(label, value)` over the rows in `window`; a line with no value in any row
/// (a component the variant does not have) is left out, legend and all.
fn lines(rows: &[SaleRow], window: (f64, f64), columns: &[(&str, Column)]) -> Vec<Series> {
    columns
        .iter()
        .filter(|(_, value)| rows.iter().any(|r| value(r).is_some()))
        .map(|(label, value)| Series {
            name: label.to_string(),
            points: within(rows, window).map(|r| (r.t_s, value(r).unwrap_or(f64::NAN))).collect(),
        })
        .collect()
}

/// The timeline figures: three per variant, then stock left and answer latency for all.
pub fn timeline_figures(sale: &[Sale], timeline: &[VariantTimeline<SaleRow>]) -> Vec<Named> {
    let window = sale_window(sale, timeline);
    let mut out = Vec::new();
    for (v, m) in sale {
        let rows = rows_of(timeline, &v.name);
        out.push(outcomes_figure(&v.name, rows, m.opens_at_s, window));
        out.push(queues_figure(&v.name, rows, m.opens_at_s, window));
        out.push(utilisation_figure(&v.name, rows, m.opens_at_s, window));
    }
    if let Some((_, first)) = sale.first() {
        out.push(stock_figure(sale, timeline, first.opens_at_s, window));
        let at = (first.opens_at_s, window);
        out.push(answer_latency_figure(sale, timeline, at, ("p99", |r| r.answer_latency_p99_s)));
        out.push(answer_latency_figure(sale, timeline, at, ("p50", |r| r.answer_latency_p50_s)));
    }
    out
}

/// Attempts ending per second by outcome group, on a log scale.
fn outcomes_figure(name: &str, rows: &[SaleRow], opens_at_s: f64, window: (f64, f64)) -> Named {
    let series = OUTCOME_GROUPS
        .iter()
        .map(|(label, members)| Series {
            name: label.to_string(),
            points: within(rows, window)
                .map(|r| {
                    let per_interval: f64 = members.iter().map(|&o| r.outcomes.get(o) as f64).sum();
                    (r.t_s, per_interval / INTERVAL_S)
                })
                .collect(),
        })
        .filter(|s| s.points.iter().any(|p| p.1 > 0.0))
        .collect();
    Named {
        name: format!("timeline-{}", file_safe(name)),
        chart: Chart {
            title: format!("{name}: attempts ending per second, by outcome (log scale)"),
            x_label: "simulated time (s)".into(),
            y_label: "attempts per second (100 ms intervals)".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(opens_at_s),
            axes: Axes { log_y: true, ..in_window(window) },
        },
    }
}

/// Requests waiting at each component the variant has, at the end of each interval.
fn queues_figure(name: &str, rows: &[SaleRow], opens_at_s: f64, window: (f64, f64)) -> Named {
    let series = lines(
        rows,
        window,
        &[
            ("gateway queue", |r| Some(r.gateway_queue as f64)),
            ("db pool queue", |r| Some(r.db_pool_queue as f64)),
            ("row lock queue", |r| Some(r.row_lock_queue as f64)),
            ("redis queue", |r| r.redis_queue.map(|q| q as f64)),
            ("kafka lag", |r| r.kafka_lag.map(|q| q as f64)),
        ],
    );
    Named {
        name: format!("queues-{}", file_safe(name)),
        chart: Chart {
            title: format!("{name}: requests waiting at each component"),
            x_label: "simulated time (s)".into(),
            y_label: "waiting (end of each 100 ms)".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(opens_at_s),
            axes: in_window(window),
        },
    }
}

/// Busy servers per interval, per component the variant has.
fn utilisation_figure(name: &str, rows: &[SaleRow], opens_at_s: f64, window: (f64, f64)) -> Named {
    let series = lines(
        rows,
        window,
        &[
            ("gateway CPU", |r| Some(r.gateway_cpu_utilization * 100.0)),
            ("gateway threads", |r| r.gateway_threads_utilization.map(|u| u * 100.0)),
            ("database pool", |r| Some(r.db_pool_utilization * 100.0)),
            ("Redis hot shard", |r| r.redis_utilization.map(|u| u * 100.0)),
            ("Kafka busiest partition", |r| r.kafka_partition_utilization.map(|u| u * 100.0)),
            ("Flink busiest subtask", |r| r.flink_subtask_utilization.map(|u| u * 100.0)),
        ],
    );
    // A component never busy in the run is one the design does not use (queue+stream's
    // database pool): not drawn.
    let series = series.into_iter().filter(|s| s.points.iter().any(|p| p.1 > 0.0)).collect();
    Named {
        name: format!("utilisation-{}", file_safe(name)),
        chart: Chart {
            title: format!("{name}: utilisation per 100 ms"),
            x_label: "simulated time (s)".into(),
            y_label: "busy servers (% of capacity)".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(opens_at_s),
            axes: Axes { y: Some((0.0, 135.0)), ..in_window(window) },
        },
    }
}

/// Stock left in the database, one line per flash-sale variant.
fn stock_figure(
    sale: &[Sale],
    timeline: &[VariantTimeline<SaleRow>],
    opens_at_s: f64,
    window: (f64, f64),
) -> Named {
    let series = sale
        .iter()
        .map(|(v, _)| Series {
            name: format!("{} (database)", v.name),
            // Not clipped at zero: a negative stock column is an oversell to see.
            points: within(rows_of(timeline, &v.name), window)
                .map(|r| (r.t_s, r.db_stock as f64))
                .collect(),
        })
        .collect();
    Named {
        name: "stock".into(),
        chart: Chart {
            title: "Stock left in the system of record".into(),
            x_label: "simulated time (s)".into(),
            y_label: "units".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(opens_at_s),
            axes: in_window(window),
        },
    }
}

/// One quantile of the answer latency per 100 ms of answers, one line per variant, on a log
/// scale: `answer-latency-p99` and `answer-latency-p50`.
fn answer_latency_figure(
    sale: &[Sale],
    timeline: &[VariantTimeline<SaleRow>],
    (opens_at_s, window): (f64, (f64, f64)),
    (label, quantile): (&str, Column),
) -> Named {
    let series = sale
        .iter()
        .map(|(v, _)| Series {
            name: v.name.clone(),
            points: within(rows_of(timeline, &v.name), window)
                .map(|r| (r.t_s, quantile(r).unwrap_or(f64::NAN)))
                .collect(),
        })
        .collect();
    Named {
        name: format!("answer-latency-{label}"),
        chart: Chart {
            title: format!(
                "Buyers' answer latency {label} (first click → final answer), by when answered"
            ),
            x_label: "simulated time (s)".into(),
            y_label: format!("{label} of the answers in each 100 ms, s (log scale)"),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(opens_at_s),
            axes: Axes { log_y: true, ..in_window(window) },
        },
    }
}
