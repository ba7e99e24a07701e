//! The result of planning: per variant the chosen capacities, the SLO judgements, the headroom
//! and every configuration simulated (`plan.json`); its terminal table; and the cost-vs-SLO
//! frontier figure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::experiment::plan::monotone::Monotonicity;
use crate::experiment::plan::slo::{Judgement, Op};
use crate::experiment::plan::spec::PlanSpec;
use crate::output::atomic::write_atomic;
use crate::output::plot::{Axes, Chart, Kind, Series, render};
use crate::output::table::TextTable;

/// One variant's plan.
#[derive(Serialize)]
pub struct VariantPlan {
    pub variant: String,
    pub feasible: bool,
    /// Chosen capacities (path → value); the all-maximum corner when infeasible.
    pub capacities: BTreeMap<String, i64>,
    pub objective: String,
    pub objective_value: Option<f64>,
    pub slos: Vec<Judgement>,
    /// When infeasible: the SLO that fails closest, and by how much (relative to its target).
    pub closest_failing_slo: Option<Judgement>,
    /// When feasible: the search's assumption checked at larger configurations (one step above
    /// the answer in each dimension, the all-maximum corner), and every SLO one of them fails
    /// although the answer passes it.
    pub monotonicity: Option<Monotonicity>,
    /// Largest multiplier of the forecast at which every SLO still holds.
    pub headroom: Option<f64>,
    /// The headroom reached the search's limit (`[plan.headroom] max`) without an SLO failing:
    /// the true headroom is at least `headroom`, maybe more.
    pub headroom_at_limit: Option<bool>,
    pub headroom_scale: Vec<String>,
    pub configurations_simulated: usize,
    pub full_grid: f64,
    pub runs_simulated: u64,
    /// Rounds of the search and the headroom: batches of probes simulated side by side, one
    /// waiting for the other. With enough workers a plan takes about this many times one
    /// candidate's slowest replication.
    pub rounds: u64,
    /// Every configuration simulated: the cost-vs-SLO frontier.
    pub candidates: Vec<Candidate>,
}

/// One simulated configuration.
#[derive(Serialize)]
pub struct Candidate {
    pub capacities: Vec<i64>,
    pub objective_value: Option<f64>,
    pub feasible: bool,
    /// Mean of each SLO's metric, in SLO order.
    pub slo_means: Vec<f64>,
}

/// The plan of every variant: what `plan.json` holds.
#[derive(Serialize)]
pub struct PlanReport {
    pub scenario: String,
    pub seed: u64,
    pub replications: u64,
    pub variants: Vec<VariantPlan>,
}

/// The plan as terminal tables, one per variant.
pub fn table(report: &PlanReport) -> String {
    let mut out = format!(
        "plan for {}  seed {}  {} replications per candidate\n\n",
        report.scenario, report.seed, report.replications
    );
    for v in &report.variants {
        let mut t = TextTable::new(["", "value", "95% bound", "holds"]);
        for (path, value) in &v.capacities {
            t.row([path.clone(), value.to_string(), String::new(), String::new()]);
        }
        t.row([
            v.objective.clone(),
            v.objective_value.map_or("-".into(), |x| format!("{x:.4}")),
            String::new(),
            String::new(),
        ]);
        for j in &v.slos {
            t.row([
                j.slo.clone(),
                format!("{:.4}", j.mean),
                format!("{:.4}", j.bound),
                if j.holds { "yes".into() } else { "NO".into() },
            ]);
        }
        let at_least = if v.headroom_at_limit == Some(true) { "≥ " } else { "" };
        let scale = v.headroom_scale.join(", ");
        let headroom = v.headroom.map_or("-".into(), |h| format!("{at_least}{h:.2}× {scale}"));
        t.row(["headroom".to_string(), headroom, String::new(), String::new()]);
        out.push_str(&format!(
            "variant {} — {}; {} configurations simulated of a {:.0}-point grid in {} rounds\n",
            v.variant,
            if v.feasible {
                "cheapest feasible"
            } else {
                "NO configuration within the bounds meets every SLO"
            },
            v.configurations_simulated,
            v.full_grid,
            v.rounds
        ));
        if let Some(c) = &v.closest_failing_slo {
            let off = if c.slo.ends_with(" 0") {
                format!("{:.4}", c.shortfall)
            } else {
                format!("{:.1}%", c.shortfall * 100.0)
            };
            out.push_str(&format!(
                "closest failing SLO at the largest configuration: {} (bound {:.4}, off by {off})\n",
                c.slo, c.bound
            ));
        }
        if let Some(m) = &v.monotonicity {
            out.push_str(&monotonicity_lines(m));
        }
        out.push_str(&t.render());
        out.push('\n');
    }
    out
}

/// One line per SLO a larger configuration fails although the answer passes it, or one line
/// saying none does.
fn monotonicity_lines(m: &Monotonicity) -> String {
    if m.checked.is_empty() {
        return "monotonicity: nothing larger to check (the answer is the all-maximum corner)\n"
            .into();
    }
    if m.violations.is_empty() {
        let n = m.checked.len();
        let plural = if n == 1 { "" } else { "s" };
        return format!(
            "monotone where checked: no SLO the answer passes fails at {n} larger \
             configuration{plural} (one step above in each dimension, the all-maximum corner)\n"
        );
    }
    let mut lines: String = m.violations.iter().map(|v| format!("{}\n", v.message)).collect();
    lines.push_str(
        "  (the search assumes more capacity never breaks an SLO; where it does, it may have \
         missed a cheaper passing configuration)\n",
    );
    lines
}

/// The cost-vs-SLO frontier: every simulated configuration, cost against an SLO's metric,
/// feasible and infeasible apart, the SLO's bound as a dashed line, the configurations on the
/// frontier labelled with their capacities, the chosen cost marked.
pub fn frontier_figure(dir: &Path, v: &VariantPlan, spec: &PlanSpec) -> Result<(), String> {
    let Some(k) = drawn_slo(v, spec) else { return Ok(()) };
    let slo = &spec.slos[k];
    let point = |c: &Candidate| Some((c.objective_value?, *c.slo_means.get(k)?));
    let finite = |(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
    let points = |feasible: bool| -> Vec<(f64, f64)> {
        v.candidates
            .iter()
            .filter(|c| c.feasible == feasible)
            .filter_map(point)
            .filter(finite)
            .collect()
    };
    let labels = frontier_labels(v, spec, k);
    let chart = Chart {
        title: format!("{}: cost against {}, every configuration simulated", v.variant, slo.metric),
        x_label: v.objective.clone(),
        y_label: format!("{} (mean)", slo.metric),
        kind: Kind::Scatter {
            series: vec![
                Series { name: "meets every SLO".into(), points: points(true) },
                Series { name: "misses an SLO".into(), points: points(false) },
            ],
            levels: vec![(slo.target, format!("SLO {} {}", slo.op, slo.target))],
            labels,
        },
        markers: v
            .objective_value
            .filter(|_| v.feasible)
            .map(|c| (c, "chosen".to_string()))
            .into_iter()
            .collect(),
        axes: Axes::default(),
    };
    let fig = render(&chart)?;
    let stem = frontier_stem(&v.variant);
    write_atomic(&dir.join("figures").join(format!("{stem}.svg")), fig.svg.as_bytes())
        .map_err(|e| e.to_string())?;
    write_atomic(&dir.join("figures").join(format!("{stem}.png")), &fig.png)
        .map_err(|e| e.to_string())
}

/// The SLO drawn on the frontier's y axis, the one a reviewer asks about: for a variant with no
/// feasible configuration, the SLO that fails closest; otherwise, of the SLOs whose mean differs
/// between the configurations simulated (an `x == 0` held everywhere draws a flat line), the one
/// with the least slack at the answer (its 95% bound nearest the target, relative to the target,
/// or absolute for a target of 0); else the first.
fn drawn_slo(v: &VariantPlan, spec: &PlanSpec) -> Option<usize> {
    if spec.slos.is_empty() {
        return None;
    }
    if let Some(failing) = &v.closest_failing_slo {
        return Some(v.slos.iter().position(|j| j.slo == failing.slo).unwrap_or(0));
    }
    let varies = |k: usize| {
        let mut means =
            v.candidates.iter().filter_map(|c| c.slo_means.get(k)).filter(|m| m.is_finite());
        let first = means.next();
        means.any(|m| Some(m) != first)
    };
    let slack = |k: usize| {
        let (target, bound) = (spec.slos[k].target, v.slos.get(k).map_or(f64::NAN, |j| j.bound));
        let gap = (target - bound).abs();
        if target == 0.0 { gap } else { gap / target.abs() }
    };
    let varying = (0..spec.slos.len()).filter(|&k| varies(k) && slack(k).is_finite());
    Some(varying.min_by(|&a, &b| slack(a).total_cmp(&slack(b))).unwrap_or(0))
}

/// The feasible configurations on the frontier (none cheaper with a metric as good or better,
/// judged in the SLO's direction; the cheapest, the answer, first), at most ten, each labelled with its capacities by the last segment of
/// their paths: `instances 8, pool 32`.
fn frontier_labels(v: &VariantPlan, spec: &PlanSpec, k: usize) -> Vec<((f64, f64), String)> {
    let lower_is_better = matches!(spec.slos[k].op, Op::Le | Op::Lt | Op::Eq);
    let mut points: Vec<(f64, f64, &Candidate)> = v
        .candidates
        .iter()
        .filter(|c| c.feasible)
        .filter_map(|c| Some((c.objective_value?, *c.slo_means.get(k)?, c)))
        .filter(|(x, y, _)| x.is_finite() && y.is_finite())
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut best: Option<f64> = None;
    let mut out = Vec::new();
    for (x, y, c) in points {
        let better = best.is_none_or(|b| if lower_is_better { y < b } else { y > b });
        if !better {
            continue;
        }
        best = Some(y);
        let text: Vec<String> = spec
            .dims
            .iter()
            .zip(&c.capacities)
            .map(|(d, n)| format!("{} {n}", d.path.rsplit('.').next().unwrap_or(&d.path)))
            .collect();
        out.push(((x, y), text.join(", ")));
    }
    // The cheapest ones matter most; a long frontier keeps its first ten labels.
    out.truncate(10);
    out
}

/// The file name, without extension, of a variant's frontier figure in `figures/`.
pub fn frontier_stem(variant: &str) -> String {
    format!("plan-frontier-{}", variant.replace(['/', ' ', '(', ')'], "_"))
}

/// The frontier figures (SVG) of the named variants in the output folder `dir`, in file-name
/// order: what a report inlines after the plan table.
pub fn frontier_svgs<'a>(dir: &Path, variants: impl IntoIterator<Item = &'a str>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = variants
        .into_iter()
        .map(|v| dir.join("figures").join(format!("{}.svg", frontier_stem(v))))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}
