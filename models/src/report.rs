//! The report: figures (SVG and PNG) and a self-contained `report.html`, drawn from a run's or a
//! sweep's output folder — so `flashsim report DIR` can redraw them from the files alone.
//!
//! Figures of a run: per flash-sale variant, attempts per 100 ms stacked by outcome with the
//! opening marked, and queue lengths per component; for all variants, stock remaining, the user
//! latency CDF, success rates and cost by component; for server variants, answered requests per
//! 100 ms. Figures of a sweep: chosen metrics against the first axis, one line per variant (and
//! per value of the other axes), with 95% confidence bands.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sim::experiment::plan::frontier_svgs;
use sim::output::plot::{self, Band, Chart, Kind, Series};
use sim::output::write_atomic;

/// A figure's data and where it goes: `figures/<name>.svg` and `.png`.
pub struct Named {
    pub name: String,
    pub chart: Chart,
}

/// Reads a CSV written by flashsim (quoted cells undone); rows of the wrong width are skipped, so
/// a damaged file gives fewer points, not a panic.
fn read_csv(path: &Path) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let text = std::fs::read_to_string(path).ok()?;
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

/// A file-name-safe form of a variant name.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

fn col(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name)
}

fn num(cell: &str) -> f64 {
    cell.parse().unwrap_or(f64::NAN)
}

/// Outcome groups stacked in the timeline, bottom to top.
const OUTCOME_GROUPS: [(&str, &[&str]); 6] = [
    ("purchased", &["purchased"]),
    ("queued / poll pending", &["queued", "pending"]),
    ("sold out / limit", &["sold_out", "limit_reached"]),
    ("failed / timed out", &["failed", "timed_out", "in_flight_at_end"]),
    ("turned away (deduped, rate limited, shed)", &["deduped", "rate_limited", "shed"]),
    ("not open yet / waiting room", &["not_open", "in_room"]),
];

/// The figures of a run, from its summary and timelines.
pub fn run_figures(
    summary: &serde_json::Value,
    timeline: Option<(Vec<String>, Vec<Vec<String>>)>,
    server_timeline: Option<(Vec<String>, Vec<Vec<String>>)>,
) -> Vec<Named> {
    let mut out = Vec::new();
    let variants = summary["variants"].as_array().cloned().unwrap_or_default();
    if let Some((header, rows)) = &timeline {
        let t = col(header, "t_s");
        let mut stock_series = Vec::new();
        for v in variants.iter().filter(|v| v.get("metrics").is_some()) {
            let name = v["name"].as_str().unwrap_or("");
            let mine: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == name).collect();
            let Some(t) = t else { continue };
            let x: Vec<f64> = mine.iter().map(|r| num(&r[t])).collect();
            let series: Vec<Series> = OUTCOME_GROUPS
                .iter()
                .map(|(label, members)| Series {
                    name: label.to_string(),
                    points: mine
                        .iter()
                        .zip(&x)
                        .map(|(r, x)| {
                            let per_interval: f64 = members
                                .iter()
                                .filter_map(|m| col(header, m))
                                .map(|c| num(&r[c]))
                                .sum();
                            (*x, per_interval * 10.0)
                        })
                        .collect(),
                })
                .collect();
            let opens = v["metrics"]["opens_at_s"].as_f64();
            let markers: Vec<(f64, String)> =
                opens.map(|o| (o, "opening".to_string())).into_iter().collect();
            out.push(Named {
                name: format!("timeline-{}", file_safe(name)),
                chart: Chart {
                    title: format!("{name}: attempts ending per second, by outcome"),
                    x_label: "simulated time (s)".into(),
                    y_label: "attempts per second".into(),
                    kind: Kind::Stacked { series },
                    markers: markers.clone(),
                },
            });
            let queues: Vec<Series> =
                ["gateway_queue", "db_pool_queue", "row_lock_queue", "redis_queue", "kafka_lag"]
                    .iter()
                    .filter_map(|q| col(header, q).map(|c| (q, c)))
                    .map(|(q, c)| Series {
                        name: q.replace('_', " "),
                        points: mine.iter().zip(&x).map(|(r, x)| (*x, num(&r[c]))).collect(),
                    })
                    .collect();
            out.push(Named {
                name: format!("queues-{}", file_safe(name)),
                chart: Chart {
                    title: format!("{name}: requests waiting at each component"),
                    x_label: "simulated time (s)".into(),
                    y_label: "waiting (end of each 100 ms)".into(),
                    kind: Kind::Lines { series: queues, log_x: false, levels: Vec::new() },
                    markers,
                },
            });
            let utilisation: Vec<Series> = [
                ("gateway_utilization", "gateway"),
                ("db_pool_utilization", "database pool"),
                ("redis_utilization", "Redis hot shard"),
            ]
            .iter()
            .filter_map(|(column, label)| col(header, column).map(|c| (c, label)))
            .map(|(c, label)| Series {
                name: label.to_string(),
                points: mine
                    .iter()
                    .zip(&x)
                    .map(|(r, x)| (*x, num(&r[c]) * 100.0))
                    .filter(|(_, y)| y.is_finite())
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect();
            out.push(Named {
                name: format!("utilisation-{}", file_safe(name)),
                chart: Chart {
                    title: format!("{name}: utilisation per 100 ms"),
                    x_label: "simulated time (s)".into(),
                    y_label: "busy servers (% of capacity)".into(),
                    kind: Kind::Lines { series: utilisation, log_x: false, levels: Vec::new() },
                    markers: opens.map(|o| (o, "opening".to_string())).into_iter().collect(),
                },
            });
            if let Some(c) = col(header, "db_stock") {
                stock_series.push(Series {
                    name: format!("{name} (database)"),
                    // Not clipped at zero: a negative stock column is an oversell to see.
                    points: mine.iter().zip(&x).map(|(r, x)| (*x, num(&r[c]))).collect(),
                });
            }
        }
        if !stock_series.is_empty() {
            let opens = variants.iter().find_map(|v| v["metrics"]["opens_at_s"].as_f64());
            out.push(Named {
                name: "stock".into(),
                chart: Chart {
                    title: "Stock left in the system of record".into(),
                    x_label: "simulated time (s)".into(),
                    y_label: "units".into(),
                    kind: Kind::Lines { series: stock_series, log_x: false, levels: Vec::new() },
                    markers: opens.map(|o| (o, "opening".to_string())).into_iter().collect(),
                },
            });
        }
    }
    let sale: Vec<&serde_json::Value> =
        variants.iter().filter(|v| v.get("metrics").is_some()).collect();
    if !sale.is_empty() {
        let cdf: Vec<Series> = sale
            .iter()
            .map(|v| Series {
                name: v["name"].as_str().unwrap_or("").to_string(),
                points: v["metrics"]["user_latency_cdf"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| Some((p[0].as_f64()?.max(1e-6), p[1].as_f64()?)))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        out.push(Named {
            name: "latency-cdf".into(),
            chart: Chart {
                title: "User-perceived latency (first click → final answer)".into(),
                x_label: "seconds (log scale)".into(),
                y_label: "share of users".into(),
                kind: Kind::Lines {
                    series: cdf,
                    log_x: true,
                    levels: vec![(0.5, "p50".into()), (0.99, "p99".into())],
                },
                markers: Vec::new(),
            },
        });
        let names: Vec<String> =
            sale.iter().map(|v| v["name"].as_str().unwrap_or("").to_string()).collect();
        let metric = |key: &str, label: &str| Series {
            name: label.to_string(),
            points: sale
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v["metrics"][key].as_f64().unwrap_or(f64::NAN) * 100.0))
                .collect(),
        };
        out.push(Named {
            name: "success".into(),
            chart: Chart {
                title: "Success rates".into(),
                x_label: "variant".into(),
                y_label: "%".into(),
                kind: Kind::Bars {
                    categories: names.clone(),
                    series: vec![
                        metric("user_success_rate", "user success rate"),
                        metric("order_success_rate", "order success rate"),
                        metric("claimed_order_rate", "claimed order rate"),
                    ],
                },
                markers: Vec::new(),
            },
        });
        let count = |key: &str, label: &str| Series {
            name: label.to_string(),
            points: sale
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v["metrics"][key].as_f64().unwrap_or(0.0)))
                .collect(),
        };
        out.push(Named {
            name: "oversold-undersold".into(),
            chart: Chart {
                title: "Units oversold and undersold; orders unclaimed and duplicated".into(),
                x_label: "variant".into(),
                y_label: "units".into(),
                kind: Kind::Bars {
                    categories: names.clone(),
                    series: vec![
                        count("oversold", "oversold"),
                        count("undersold", "undersold"),
                        count("unclaimed_orders", "unclaimed"),
                        count("duplicate_orders", "duplicate"),
                    ],
                },
                markers: Vec::new(),
            },
        });
        let mut components: Vec<String> = Vec::new();
        for v in &sale {
            for c in v["metrics"]["cost"]["components"].as_array().into_iter().flatten() {
                let name = c["component"].as_str().unwrap_or("").to_string();
                if !components.contains(&name) {
                    components.push(name);
                }
            }
        }
        let cost: Vec<Series> = components
            .iter()
            .map(|component| Series {
                name: component.clone(),
                points: sale
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let usd = v["metrics"]["cost"]["components"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|c| c["component"].as_str() == Some(component))
                            .and_then(|c| c["usd"].as_f64())
                            .unwrap_or(0.0);
                        (i as f64, usd)
                    })
                    .collect(),
            })
            .collect();
        let per_item = Series {
            name: "cost per item sold".into(),
            points: sale
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        i as f64,
                        v["metrics"]["cost"]["per_item_sold_usd"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect(),
        };
        out.push(Named {
            name: "cost-per-item".into(),
            chart: Chart {
                title: "Cost per item sold (USD)".into(),
                x_label: "variant".into(),
                y_label: "USD per item".into(),
                kind: Kind::Bars { categories: names.clone(), series: vec![per_item] },
                markers: Vec::new(),
            },
        });
        out.push(Named {
            name: "cost".into(),
            chart: Chart {
                title: "Cost by component (USD for the billed time)".into(),
                x_label: "variant".into(),
                y_label: "USD".into(),
                kind: Kind::Bars { categories: names, series: cost },
                markers: Vec::new(),
            },
        });
    }
    if let Some((header, rows)) = &server_timeline
        && let (Some(t), Some(answered)) = (col(header, "t_s"), col(header, "answered"))
    {
        let mut by_variant: BTreeMap<usize, Series> = BTreeMap::new();
        for v in variants.iter().enumerate().filter(|(_, v)| v.get("server").is_some()) {
            let name = v.1["name"].as_str().unwrap_or("").to_string();
            by_variant.insert(
                v.0,
                Series {
                    name: name.clone(),
                    points: rows
                        .iter()
                        .filter(|r| r[0] == name)
                        .map(|r| (num(&r[t]), num(&r[answered]) * 10.0))
                        .collect(),
                },
            );
        }
        out.push(Named {
            name: "server-throughput".into(),
            chart: Chart {
                title: "Requests answered per second (100 ms intervals)".into(),
                x_label: "simulated time (s)".into(),
                y_label: "answered per second".into(),
                kind: Kind::Lines {
                    series: by_variant.into_values().collect(),
                    log_x: false,
                    levels: Vec::new(),
                },
                markers: Vec::new(),
            },
        });
    }
    out
}

/// Metrics drawn for a sweep, when present.
const SWEEP_METRICS: [(&str, &str); 6] = [
    ("metrics.user_latency.p99_s", "user latency p99 (s)"),
    ("metrics.attempt_latency.p99_s", "attempt latency p99 (s)"),
    ("metrics.user_success_rate", "user success rate"),
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
            },
        });
    }
    out
}

const CSS: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}\
figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.2em .6em;font-size:.9em}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Draws the report of the output folder `dir`; returns the files written.
pub fn write_report(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let summary: Option<serde_json::Value> = std::fs::read(dir.join("summary.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).map_err(|e| format!("summary.json: {e}")))
        .transpose()?;
    let sweep = read_csv(&dir.join("sweep-summary.csv"));
    let plan: Option<serde_json::Value> =
        std::fs::read(dir.join("plan.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    if summary.is_none() && sweep.is_none() && plan.is_none() {
        return Err(format!(
            "{} holds none of summary.json, sweep-summary.csv, plan.json",
            dir.display()
        ));
    }
    let mut figures = Vec::new();
    if let Some(summary) = &summary {
        figures.extend(run_figures(
            summary,
            read_csv(&dir.join("timeline.csv")),
            read_csv(&dir.join("server-timeline.csv")),
        ));
    }
    if let Some((header, rows)) = &sweep {
        figures.extend(sweep_figures(header, rows));
    }
    let mut written = Vec::new();
    let mut html = String::new();
    let title =
        summary.as_ref().and_then(|s| s["scenario"].as_str().map(str::to_string)).unwrap_or_else(
            || dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
        );
    write!(html, "<!doctype html><html><head><meta charset=\"utf-8\"><title>flashsim: {0}</title><style>{CSS}</style></head><body><h1>flashsim report: {0}</h1>", escape(&title)).expect("string");
    if let Some(s) = &summary {
        let engine = &s["engine"];
        write!(
            html,
            "<p>seed {} · {} events · flashsim {} · horizon {} · warm-up {} s</p>",
            s["seed"],
            engine["events"],
            engine["flashsim_version"].as_str().unwrap_or(""),
            engine["horizon_s"].as_f64().map_or("none".to_string(), |h| format!("{h} s")),
            engine["warmup_s"]
        )
        .expect("string");
        if let Ok(table) = std::fs::read_to_string(dir.join("table.txt")) {
            write!(html, "<h2>Comparison</h2><pre>{}</pre>", escape(&table)).expect("string");
        }
    }
    for named in &figures {
        let fig = plot::render(&named.chart)?;
        for (ext, bytes) in [("svg", fig.svg.as_bytes()), ("png", fig.png.as_slice())] {
            let path = dir.join("figures").join(format!("{}.{ext}", named.name));
            write_atomic(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
        write!(
            html,
            "<figure id=\"fig-{2}\">{0}<figcaption>{1} — figures/{2}.svg, .png</figcaption></figure>",
            fig.svg,
            escape(&named.chart.title),
            named.name
        )
        .expect("string");
    }
    if let Some(plan) = &plan {
        html.push_str("<h2>Capacity plan</h2><table><tr><th>variant</th><th>capacities</th><th>objective</th><th>headroom</th><th>simulated</th></tr>");
        for v in plan["variants"].as_array().into_iter().flatten() {
            let capacities = v["capacities"]
                .as_object()
                .map(|c| {
                    c.iter().map(|(k, x)| format!("{k} = {x}")).collect::<Vec<_>>().join("<br>")
                })
                .unwrap_or_default();
            let objective = if v["feasible"].as_bool() == Some(true) {
                format!("{} = {}", v["objective"].as_str().unwrap_or(""), v["objective_value"])
            } else {
                "no configuration meets every SLO".to_string()
            };
            write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td></tr>",
                escape(v["variant"].as_str().unwrap_or("")),
                escape(&capacities).replace("&lt;br&gt;", "<br>"),
                escape(&objective),
                v["headroom"].as_f64().map_or("-".to_string(), |h| format!("{h:.2}×")),
                v["configurations_simulated"],
                v["full_grid"]
            )
            .expect("string");
        }
        html.push_str("</table>");
        // The planner draws its frontier figures itself, one per variant; inline them here.
        let variants = plan["variants"].as_array().into_iter().flatten();
        let frontiers = frontier_svgs(dir, variants.filter_map(|v| v["variant"].as_str()));
        for path in frontiers {
            if let Ok(svg) = std::fs::read_to_string(&path) {
                write!(
                    html,
                    "<figure>{svg}<figcaption>cost-vs-SLO frontier — {}</figcaption></figure>",
                    escape(&path.display().to_string())
                )
                .expect("string");
            }
        }
    }
    if let Some(s) = &summary {
        let text = serde_json::to_string_pretty(s).unwrap_or_default();
        write!(
            html,
            "<h2>Summary</h2><details><summary>summary.json</summary><pre>{}</pre></details>",
            escape(&text)
        )
        .expect("string");
    }
    html.push_str("</body></html>\n");
    let path = dir.join("report.html");
    write_atomic(&path, html.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    written.push(path);
    Ok(written)
}
