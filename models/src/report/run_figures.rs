//! The figures of a run, one function per figure, from the typed summary and timelines.

use sim::output::plot::{Axes, Chart, Kind, Series};

use super::figure::Named;
use super::timeline_figures::{Sale, rows_of, timeline_figures};
use crate::summary::Summary;
use crate::summary::sale::SaleMetrics;
use crate::timelines::{SaleRow, ServerRow, VariantTimeline};

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
        out.extend(timeline_figures(&sale, timeline).into_iter().map(thin));
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
            // A share: the axis ends at 1, whatever room the legend would like.
            axes: Axes { y: Some((0.0, 1.0)), ..Axes::default() },
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
            // Shares: up to 100%, with room above for the legend.
            axes: Axes { y: Some((0.0, 135.0)), ..Axes::default() },
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
            axes: Axes::default(),
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
            axes: Axes::default(),
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
            axes: Axes::default(),
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
            axes: Axes::default(),
        },
    }
}
