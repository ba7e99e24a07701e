//! The figures of a run, one function per figure, from the typed summary and timelines.

use sim::output::plot::{Chart, Kind, Series};

use super::figure::{Named, file_safe};
use crate::sale::outcome::Outcome;
use crate::summary::sale::SaleMetrics;
use crate::summary::{Summary, VariantSummary};
use crate::timelines::{SaleRow, ServerRow, VariantTimeline};

/// Outcome groups stacked in the timeline, bottom to top.
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
type Sale<'a> = (&'a VariantSummary, &'a SaleMetrics);

/// The figures of a run, from its summary and timelines (`None`: no such file).
pub fn run_figures(
    summary: &Summary,
    timeline: Option<&[VariantTimeline<SaleRow>]>,
    server_timeline: Option<&[VariantTimeline<ServerRow>]>,
) -> Vec<Named> {
    let mut out = Vec::new();
    let sale: Vec<Sale> =
        summary.variants.iter().filter_map(|v| v.metrics.as_ref().map(|m| (v, m))).collect();
    if let Some(timeline) = timeline {
        for (v, m) in &sale {
            let rows = rows_of(timeline, &v.name);
            out.push(thin(outcomes_figure(&v.name, rows, m.opens_at_s)));
            out.push(thin(queues_figure(&v.name, rows, m.opens_at_s)));
            out.push(thin(utilisation_figure(&v.name, rows, m.opens_at_s)));
        }
        if let Some(stock) = stock_figure(&sale, timeline) {
            out.push(thin(stock));
        }
    }
    if !sale.is_empty() {
        out.push(latency_cdf_figure(&sale));
        out.push(success_figure(&sale));
        out.push(oversold_figure(&sale));
        out.push(cost_per_item_figure(&sale));
        out.push(cost_figure(&sale));
    }
    if let Some(server_timeline) = server_timeline {
        out.push(thin(server_throughput_figure(summary, server_timeline)));
    }
    out
}

/// Thins a figure's long series as soon as it is built, so a long run's figures do not all
/// hold every interval at once (see `sim::output::thin`).
fn thin(figure: Named) -> Named {
    Named { name: figure.name, chart: sim::output::plot::thin(figure.chart) }
}

/// `variant`'s rows (none when the timeline lacks it).
fn rows_of<'a, R>(timelines: &'a [VariantTimeline<R>], variant: &str) -> &'a [R] {
    timelines.iter().find(|t| t.variant == variant).map_or(&[], |t| &t.rows)
}

fn opening(opens_at_s: f64) -> Vec<(f64, String)> {
    vec![(opens_at_s, "opening".to_string())]
}

/// An empty cell is not a point: NaN, which the plot leaves out.
fn level<T: Into<f64>>(value: Option<T>) -> f64 {
    value.map_or(f64::NAN, Into::into)
}

/// Attempts ending per second, stacked by outcome group.
fn outcomes_figure(name: &str, rows: &[SaleRow], opens_at_s: f64) -> Named {
    let series = OUTCOME_GROUPS
        .iter()
        .map(|(label, members)| Series {
            name: label.to_string(),
            points: rows
                .iter()
                .map(|r| {
                    let per_interval: f64 = members.iter().map(|&o| r.outcomes.get(o) as f64).sum();
                    (r.t_s, per_interval * 10.0)
                })
                .collect(),
        })
        .collect();
    Named {
        name: format!("timeline-{}", file_safe(name)),
        chart: Chart {
            title: format!("{name}: attempts ending per second, by outcome"),
            x_label: "simulated time (s)".into(),
            y_label: "attempts per second".into(),
            kind: Kind::Stacked { series },
            markers: opening(opens_at_s),
        },
    }
}

/// Requests waiting at each component at the end of each interval.
fn queues_figure(name: &str, rows: &[SaleRow], opens_at_s: f64) -> Named {
    type Queue = fn(&SaleRow) -> f64;
    let queues: [(&str, Queue); 5] = [
        ("gateway queue", |r| r.gateway_queue as f64),
        ("db pool queue", |r| r.db_pool_queue as f64),
        ("row lock queue", |r| r.row_lock_queue as f64),
        ("redis queue", |r| level(r.redis_queue.map(|q| q as f64))),
        ("kafka lag", |r| level(r.kafka_lag.map(|q| q as f64))),
    ];
    let series = queues
        .iter()
        .map(|(label, queue)| Series {
            name: label.to_string(),
            points: rows.iter().map(|r| (r.t_s, queue(r))).collect(),
        })
        .collect();
    Named {
        name: format!("queues-{}", file_safe(name)),
        chart: Chart {
            title: format!("{name}: requests waiting at each component"),
            x_label: "simulated time (s)".into(),
            y_label: "waiting (end of each 100 ms)".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(opens_at_s),
        },
    }
}

/// Busy servers per interval, per component the variant has.
fn utilisation_figure(name: &str, rows: &[SaleRow], opens_at_s: f64) -> Named {
    type Utilisation = fn(&SaleRow) -> f64;
    let components: [(&str, Utilisation); 4] = [
        ("gateway CPU", |r| r.gateway_cpu_utilization),
        ("gateway threads", |r| level(r.gateway_threads_utilization)),
        ("database pool", |r| r.db_pool_utilization),
        ("Redis hot shard", |r| level(r.redis_utilization)),
    ];
    let series = components
        .iter()
        .map(|(label, utilisation)| Series {
            name: label.to_string(),
            points: rows
                .iter()
                .map(|r| (r.t_s, utilisation(r) * 100.0))
                .filter(|(_, y)| y.is_finite())
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    Named {
        name: format!("utilisation-{}", file_safe(name)),
        chart: Chart {
            title: format!("{name}: utilisation per 100 ms"),
            x_label: "simulated time (s)".into(),
            y_label: "busy servers (% of capacity)".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(opens_at_s),
        },
    }
}

/// Stock left in the database, one line per flash-sale variant.
fn stock_figure(sale: &[Sale], timeline: &[VariantTimeline<SaleRow>]) -> Option<Named> {
    let (_, first) = sale.first()?;
    let series = sale
        .iter()
        .map(|(v, _)| Series {
            name: format!("{} (database)", v.name),
            // Not clipped at zero: a negative stock column is an oversell to see.
            points: rows_of(timeline, &v.name).iter().map(|r| (r.t_s, r.db_stock as f64)).collect(),
        })
        .collect();
    Some(Named {
        name: "stock".into(),
        chart: Chart {
            title: "Stock left in the system of record".into(),
            x_label: "simulated time (s)".into(),
            y_label: "units".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: opening(first.opens_at_s),
        },
    })
}

fn latency_cdf_figure(sale: &[Sale]) -> Named {
    let series = sale
        .iter()
        .map(|(v, m)| Series {
            name: v.name.clone(),
            points: m.user_latency_cdf.iter().map(|&(s, p)| (s.max(1e-6), p)).collect(),
        })
        .collect();
    Named {
        name: "latency-cdf".into(),
        chart: Chart {
            title: "User-perceived latency (first click → final answer)".into(),
            x_label: "seconds (log scale)".into(),
            y_label: "share of users".into(),
            kind: Kind::Lines {
                series,
                log_x: true,
                levels: vec![(0.5, "p50".into()), (0.99, "p99".into())],
            },
            markers: Vec::new(),
        },
    }
}

fn names(sale: &[Sale]) -> Vec<String> {
    sale.iter().map(|(v, _)| v.name.clone()).collect()
}

/// One bar per variant: `value` of its metrics.
fn bars(sale: &[Sale], label: &str, value: impl Fn(&SaleMetrics) -> f64) -> Series {
    Series {
        name: label.to_string(),
        points: sale.iter().enumerate().map(|(i, (_, m))| (i as f64, value(m))).collect(),
    }
}

fn success_figure(sale: &[Sale]) -> Named {
    let percent = |rate: Option<f64>| rate.unwrap_or(f64::NAN) * 100.0;
    Named {
        name: "success".into(),
        chart: Chart {
            title: "Success rates".into(),
            x_label: "variant".into(),
            y_label: "%".into(),
            kind: Kind::Bars {
                categories: names(sale),
                series: vec![
                    bars(sale, "buyers told purchased", |m| {
                        percent(Some(m.buyers.purchased_share))
                    }),
                    bars(sale, "stock to buyers", |m| percent(Some(m.stock_to_buyers_rate))),
                    bars(sale, "order success rate", |m| percent(m.order_success_rate)),
                    bars(sale, "claimed order rate", |m| percent(m.claimed_order_rate)),
                ],
            },
            markers: Vec::new(),
        },
    }
}

fn oversold_figure(sale: &[Sale]) -> Named {
    Named {
        name: "oversold-undersold".into(),
        chart: Chart {
            title: "Units oversold and undersold; orders unclaimed and duplicated".into(),
            x_label: "variant".into(),
            y_label: "units".into(),
            kind: Kind::Bars {
                categories: names(sale),
                series: vec![
                    bars(sale, "oversold", |m| m.oversold as f64),
                    bars(sale, "undersold", |m| m.undersold as f64),
                    bars(sale, "unclaimed", |m| m.unclaimed_orders as f64),
                    bars(sale, "duplicate", |m| m.duplicate_orders as f64),
                ],
            },
            markers: Vec::new(),
        },
    }
}

fn cost_per_item_figure(sale: &[Sale]) -> Named {
    let per_item =
        bars(sale, "cost per item sold", |m| m.cost.per_item_sold_usd.unwrap_or(f64::NAN));
    Named {
        name: "cost-per-item".into(),
        chart: Chart {
            title: "Cost per item sold (USD)".into(),
            x_label: "variant".into(),
            y_label: "USD per item".into(),
            kind: Kind::Bars { categories: names(sale), series: vec![per_item] },
            markers: Vec::new(),
        },
    }
}

/// Cost by component: one series per component any variant has, in order of appearance.
fn cost_figure(sale: &[Sale]) -> Named {
    let mut components: Vec<&str> = Vec::new();
    for line in sale.iter().flat_map(|(_, m)| &m.cost.components) {
        if !components.contains(&line.component.as_str()) {
            components.push(&line.component);
        }
    }
    let series = components
        .iter()
        .map(|&component| {
            bars(sale, component, |m| {
                m.cost.components.iter().find(|c| c.component == component).map_or(0.0, |c| c.usd)
            })
        })
        .collect();
    Named {
        name: "cost".into(),
        chart: Chart {
            title: "Cost by component (USD for the billed time)".into(),
            x_label: "variant".into(),
            y_label: "USD".into(),
            kind: Kind::Bars { categories: names(sale), series },
            markers: Vec::new(),
        },
    }
}

/// Requests answered per second, one line per `server` variant.
fn server_throughput_figure(summary: &Summary, timeline: &[VariantTimeline<ServerRow>]) -> Named {
    let series = summary
        .variants
        .iter()
        .filter(|v| v.server.is_some())
        .map(|v| Series {
            name: v.name.clone(),
            points: rows_of(timeline, &v.name)
                .iter()
                .map(|r| (r.t_s, r.answered as f64 * 10.0))
                .collect(),
        })
        .collect();
    Named {
        name: "server-throughput".into(),
        chart: Chart {
            title: "Requests answered per second (100 ms intervals)".into(),
            x_label: "simulated time (s)".into(),
            y_label: "answered per second".into(),
            kind: Kind::Lines { series, log_x: false, levels: Vec::new() },
            markers: Vec::new(),
        },
    }
}
