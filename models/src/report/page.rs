//! The page: `report.html` with every figure inlined, the comparison table, a capacity plan
//! when there is one, and the summary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sim::experiment::plan::frontier_svgs;
use sim::output::plot;
use sim::output::write_atomic;

use super::figure::Named;
use super::run_figures::run_figures;
use super::sweep_figures::read_csv;
use super::sweep_figures::{sweep_figures, sweep_table_html};
use super::thresholds;
use crate::summary::Summary;
use crate::timelines::{self, SaleRow, ServerRow};

const CSS: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;color:#222}\
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}\
figure{margin:1.5em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.2em .6em;font-size:.9em}\
table.verdict td{text-align:right}td.alarm{background:#fde0dc;color:#a40000;font-weight:bold}\
table.comparison{display:block;overflow-x:auto}table.comparison td.num{white-space:nowrap}\
table.comparison td.num,table.comparison th.num{text-align:right;font-variant-numeric:tabular-nums}\
table.comparison tbody th{text-align:left;font-weight:normal}\
details{margin:.6em 0}summary{cursor:pointer;font-weight:bold;padding:.3em 0}table.comparison tbody tr:nth-child(even){background:#f7f7f7}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A result file read back: `None` when it does not exist; an error when it is not a regular
/// file or is over the documented size (a FIFO or `/dev/zero` planted in a folder).
fn read_result(path: &Path) -> Result<Option<String>, String> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    sim::config::read_bounded(path, sim::config::MAX_SUMMARY_BYTES)
        .map(Some)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The scenario's `[report] thresholds`, as the run wrote them (none without the file).
fn read_thresholds(dir: &Path) -> Result<Vec<sim::experiment::plan::Slo>, String> {
    let Some(text) = read_result(&dir.join(thresholds::FILE))? else { return Ok(Vec::new()) };
    serde_json::from_str::<thresholds::Thresholds>(&text)
        .map_err(|e| format!("{}: {e}", thresholds::FILE))?
        .slos()
}

/// Draws the report of the output folder `dir`; returns the files written.
pub fn write_report(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let summary: Option<Summary> = read_result(&dir.join("summary.json"))?
        .map(|b| serde_json::from_str(&b).map_err(|e| format!("summary.json: {e}")))
        .transpose()?;
    let sweep = read_csv(&dir.join("sweep-summary.csv"));
    let plan: Option<serde_json::Value> =
        read_result(&dir.join("plan.json"))?.and_then(|b| serde_json::from_str(&b).ok());
    if summary.is_none() && sweep.is_none() && plan.is_none() {
        return Err(format!(
            "{} holds none of summary.json, sweep-summary.csv, plan.json",
            dir.display()
        ));
    }
    let mut figures = Vec::new();
    if let Some(summary) = &summary {
        let sale = timelines::read_file::<SaleRow>(&dir.join(timelines::SALE_FILE))?;
        let server = timelines::read_file::<ServerRow>(&dir.join(timelines::SERVER_FILE))?;
        figures.extend(run_figures(summary, sale.as_deref(), server.as_deref()));
    }
    if let Some((header, rows)) = &sweep {
        figures.extend(sweep_figures(header, rows));
    }
    let mut written = Vec::new();
    let mut html = String::new();
    // A staging folder shows as the output folder it will be moved into.
    let title = summary
        .as_ref()
        .map(|s| s.scenario.clone())
        .or_else(|| plan.as_ref().and_then(|p| p["scenario"].as_str()).map(str::to_string))
        .unwrap_or_else(|| sim::output::folder::display_name(dir));
    write!(html, "<!doctype html><html><head><meta charset=\"utf-8\"><title>flashsim: {0}</title><style>{CSS}</style></head><body><h1>flashsim report: {0}</h1>", escape(&title)).expect("string");
    if let Some(description) = summary.as_ref().and_then(|s| s.description.as_ref()) {
        write!(html, "<p class=\"description\"><strong>{}</strong></p>", escape(description))
            .expect("string");
    }
    if let Some(s) = &summary {
        let engine = &s.engine;
        write!(
            html,
            "<p>seed {} · {} events · flashsim {} · horizon {} · warm-up {} s</p>",
            s.seed,
            engine.events,
            engine.flashsim_version,
            engine.horizon_s.map_or("none".to_string(), |h| format!("{h} s")),
            // As JSON writes it (`0.0`, not `0`).
            serde_json::to_string(&engine.warmup_s).map_err(|e| e.to_string())?
        )
        .expect("string");
        super::verdict::verdict_section(&mut html, s, &read_thresholds(dir)?, escape);
        // The terminal's table (table.txt) as an HTML table, rebuilt from the summary.
        write!(html, "<h2>Comparison</h2>{}", s.tables_html(escape)).expect("string");
    }
    if let Some((header, rows)) = &sweep
        && let Some(table) = sweep_table_html(header, rows, escape)
    {
        html.push_str(&table);
    }
    figures_section(&mut html, dir, &figures, summary.as_ref(), &mut written)?;
    if let Some(plan) = &plan {
        plan_section(&mut html, dir, plan)?;
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

/// The figures: comparative ones first; each variant's own (outcomes, queues, utilisation)
/// last, one collapsible block per variant, as a review reads them.
fn figures_section(
    html: &mut String,
    dir: &Path,
    figures: &[Named],
    summary: Option<&Summary>,
    written: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let variant_names: Vec<String> = summary.map_or(Vec::new(), |s| {
        s.variants.iter().filter(|v| v.metrics.is_some()).map(|v| v.name.clone()).collect()
    });
    let own = |name: &str, variant: &str| {
        let stem = crate::report::figure::file_safe(variant);
        ["timeline", "queues", "utilisation"].iter().any(|k| name == format!("{k}-{stem}"))
    };
    let shared: Vec<&Named> =
        figures.iter().filter(|f| !variant_names.iter().any(|v| own(&f.name, v))).collect();
    for named in shared {
        html.push_str(&render_figure(dir, named, written)?);
    }
    if variant_names.iter().any(|v| figures.iter().any(|f| own(&f.name, v))) {
        html.push_str("<h2>Per variant</h2>");
    }
    for variant in &variant_names {
        let mine: Vec<&Named> = figures.iter().filter(|f| own(&f.name, variant)).collect();
        if mine.is_empty() {
            continue;
        }
        write!(
            html,
            "<details><summary>{}: attempts by outcome, queues, utilisation</summary>",
            escape(variant)
        )
        .expect("string");
        for named in mine {
            html.push_str(&render_figure(dir, named, written)?);
        }
        html.push_str("</details>");
    }
    Ok(())
}

/// Renders `named` into `figures/` (SVG and PNG, paths added to `written`) and returns its
/// `<figure>` for the page.
fn render_figure(dir: &Path, named: &Named, written: &mut Vec<PathBuf>) -> Result<String, String> {
    let fig = plot::render(&named.chart)?;
    for (ext, bytes) in [("svg", fig.svg.as_bytes()), ("png", fig.png.as_slice())] {
        let path = dir.join("figures").join(format!("{}.{ext}", named.name));
        write_atomic(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(format!(
        "<figure id=\"fig-{2}\">{0}<figcaption>{1} — figures/{2}.svg, .png</figcaption></figure>",
        fig.svg,
        escape(&named.chart.title),
        named.name
    ))
}

/// A variant's headroom: "≥" when the search stopped at its limit with every SLO holding.
fn headroom_text(v: &serde_json::Value) -> String {
    let at_least = if v["headroom_at_limit"].as_bool() == Some(true) { "≥ " } else { "" };
    v["headroom"].as_f64().map_or("-".to_string(), |h| format!("{at_least}{h:.2}×"))
}

/// A number from `plan.json` for people: whole numbers as integers (`4064`, not `4064.0`).
fn count(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "-".to_string(),
        _ => value
            .as_f64()
            .map_or_else(|| value.to_string(), sim::experiment::sweep::terminal::human_number),
    }
}

/// Per variant, every SLO at the chosen configuration: the metric and its target, the mean, the
/// 95% bound judged, and pass or fail.
fn slo_table(html: &mut String, plan: &serde_json::Value) {
    html.push_str("<h3>SLOs at the chosen configuration</h3><table class=\"verdict\"><tr><th>variant</th><th>SLO (metric, target)</th><th>mean</th><th>95% bound</th><th>verdict</th></tr>");
    for v in plan["variants"].as_array().into_iter().flatten() {
        for j in v["slos"].as_array().into_iter().flatten() {
            let holds = j["holds"].as_bool() == Some(true);
            write!(
                html,
                "<tr><td>{}</td><td style=\"text-align:left\"><code>{}</code></td><td>{}</td><td>{}</td><td{}>{}</td></tr>",
                escape(v["variant"].as_str().unwrap_or("")),
                escape(j["slo"].as_str().unwrap_or("")),
                count(&j["mean"]),
                count(&j["bound"]),
                if holds { "" } else { " class=\"alarm\"" },
                if holds { "pass" } else { "fail" }
            )
            .expect("string");
        }
    }
    html.push_str("</table>");
}

/// The capacity plan's table and its frontier figures, from `plan.json`.
fn plan_section(html: &mut String, dir: &Path, plan: &serde_json::Value) -> Result<(), String> {
    html.push_str("<h2>Capacity plan</h2><table><tr><th>variant</th><th>capacities</th><th>objective</th><th>headroom</th><th>simulated</th></tr>");
    for v in plan["variants"].as_array().into_iter().flatten() {
        let capacities = v["capacities"]
            .as_object()
            .map(|c| c.iter().map(|(k, x)| format!("{k} = {x}")).collect::<Vec<_>>().join("<br>"))
            .unwrap_or_default();
        let objective = if v["feasible"].as_bool() == Some(true) {
            format!("{} = {}", v["objective"].as_str().unwrap_or(""), count(&v["objective_value"]))
        } else {
            "no configuration meets every SLO".to_string()
        };
        write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td></tr>",
            escape(v["variant"].as_str().unwrap_or("")),
            escape(&capacities).replace("&lt;br&gt;", "<br>"),
            escape(&objective),
            headroom_text(v),
            count(&v["configurations_simulated"]),
            count(&v["full_grid"])
        )
        .expect("string");
    }
    html.push_str("</table>");
    slo_table(html, plan);
    // The planner's own check of its assumption: one line per SLO a larger configuration fails.
    let variants = plan["variants"].as_array().into_iter().flatten();
    for violation in variants.flat_map(|v| v["monotonicity"]["violations"].as_array()).flatten() {
        let message = violation["message"].as_str().unwrap_or("not monotone");
        write!(html, "<p><strong>{}</strong></p>", escape(message)).expect("string");
    }
    // The planner draws its frontier figures itself, one per variant; inline them here.
    let variants = plan["variants"].as_array().into_iter().flatten();
    let frontiers = frontier_svgs(dir, variants.filter_map(|v| v["variant"].as_str()));
    for path in frontiers {
        // Bounded, and refused unless a regular file: a FIFO planted here must not hang `report`.
        if let Some(svg) = read_result(&path)? {
            // Named as in the output folder (`dir` may be the staging folder).
            let name = path.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
            write!(
                html,
                "<figure>{svg}<figcaption>cost-vs-SLO frontier — figures/{}.svg, .png</figcaption></figure>",
                escape(&name)
            )
            .expect("string");
        }
    }
    Ok(())
}
