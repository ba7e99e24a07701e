//! Parameter sweeps: a plan of points × replications, run in parallel, written in plan order.
//!
//! A sweep varies values by key path. Each *axis* lists values (or a linear or geometric range);
//! axes sharing a `zip` name advance together, and the dimensions so formed are combined by
//! Cartesian product, the last one varying fastest. Point k's values are substituted into the raw
//! scenario as overrides, so every point is validated like a normal run.
//!
//! Replication r of every point uses seed [`replication_seed`]`(seed, r)`: the seed does not
//! depend on the point, so all points see the same traffic (common random numbers). Tasks (point,
//! replication) run in parallel in chunks and their rows are written in plan order, so the output
//! is byte-identical whatever the number of jobs, and memory is bounded by the chunk, not by the
//! number of points.
//!
//! Shards: with `--shard i/n`, only points k with k mod n = i run, and their rows go to a shard
//! file whose first line records the plan's fingerprint; [`merge`] checks that all n shards agree
//! and writes exactly the files an unsharded run writes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::{Issues, Override, join_index, join_key};
use crate::rng::replication_seed;
use crate::stats::Estimate;

/// The `[sweep]` table of a scenario.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    /// Independent replications per point (default 1).
    pub replications: Option<i64>,
    /// The axes, in order; the last varies fastest.
    #[serde(default, rename = "axis")]
    pub axes: Vec<RawAxis>,
}

/// One sweep axis.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAxis {
    /// Key path of the value to vary, e.g. `variant[fast].station[web].servers`.
    pub path: String,
    /// The values, in order.
    pub values: Option<Vec<serde_json::Value>>,
    /// A range instead of a list.
    pub range: Option<RawRange>,
    /// Axes with the same `zip` name advance together (they must have the same length).
    pub zip: Option<String>,
}

/// A numeric range, inclusive of `end` when a step lands on it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    pub start: f64,
    pub end: f64,
    /// Linear step (default 1 when `factor` is absent).
    pub step: Option<f64>,
    /// Geometric factor (> 1) instead of a step.
    pub factor: Option<f64>,
}

/// A validated axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub path: String,
    pub values: Vec<toml::Value>,
    pub zip: Option<String>,
}

/// Most points one sweep may have.
pub const MAX_POINTS: usize = 1_000_000;

/// Most values one range may produce.
const MAX_RANGE_VALUES: usize = 100_000;

/// Expands a range into values: integers when start, end and step are whole numbers.
pub fn range_values(
    start: f64,
    end: f64,
    step: Option<f64>,
    factor: Option<f64>,
) -> Result<Vec<toml::Value>, String> {
    if !(start.is_finite() && end.is_finite()) {
        return Err("range bounds must be finite".into());
    }
    let mut out = Vec::new();
    match (step, factor) {
        (Some(_), Some(_)) => return Err("a range takes `step` or `factor`, not both".into()),
        (_, Some(factor)) => {
            if !(factor.is_finite() && factor > 1.0) || start <= 0.0 {
                return Err(format!(
                    "a geometric range needs factor > 1 and start > 0 (got factor {factor}, start {start})"
                ));
            }
            let mut x = start;
            while x <= end * (1.0 + 1e-12) {
                out.push(x);
                x *= factor;
                if out.len() > MAX_RANGE_VALUES {
                    return Err(format!("the range has more than {MAX_RANGE_VALUES} values"));
                }
            }
        }
        (step, None) => {
            let step = step.unwrap_or(1.0);
            if !(step.is_finite() && step > 0.0) {
                return Err(format!("step must be > 0 (got {step})"));
            }
            let count = ((end - start) / step + 1e-9).floor();
            if count < 0.0 || count as usize >= MAX_RANGE_VALUES {
                return Err(format!(
                    "the range from {start} to {end} by {step} gives no or too many values"
                ));
            }
            out.extend((0..=count as usize).map(|i| start + i as f64 * step));
        }
    }
    if out.is_empty() {
        return Err(format!("the range from {start} to {end} is empty"));
    }
    let whole = |x: f64| x.fract() == 0.0 && x.abs() < 9.0e15;
    let integers = whole(start) && step.is_none_or(whole) && factor.is_none_or(whole);
    Ok(out
        .into_iter()
        .map(|x| {
            if integers && whole(x.round()) {
                toml::Value::Integer(x.round() as i64)
            } else {
                toml::Value::Float(x)
            }
        })
        .collect())
}

fn json_to_toml(value: &serde_json::Value) -> Option<toml::Value> {
    Some(match value {
        serde_json::Value::Bool(b) => toml::Value::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => toml::Value::String(s.clone()),
        _ => return None,
    })
}

impl RawSweep {
    /// Validates the axes and replications, recording issues under `sweep`.
    pub fn check(&self, issues: &mut Issues) -> (Vec<Axis>, Option<u64>) {
        let replications = self.replications.and_then(|r| {
            if (1..=1_000_000).contains(&r) {
                Some(r as u64)
            } else {
                issues
                    .push("sweep.replications", format!("must be between 1 and 1000000 (got {r})"));
                None
            }
        });
        let mut axes = Vec::new();
        for (i, raw) in self.axes.iter().enumerate() {
            let at = join_index("sweep.axis", i);
            let values = match (&raw.values, &raw.range) {
                (Some(values), None) => {
                    let converted: Option<Vec<toml::Value>> =
                        values.iter().map(json_to_toml).collect();
                    match converted {
                        Some(v) if !v.is_empty() => Some(v),
                        Some(_) => {
                            issues.push(join_key(&at, "values"), "must list at least one value");
                            None
                        }
                        None => {
                            issues.push(
                                join_key(&at, "values"),
                                "must be numbers, strings or booleans",
                            );
                            None
                        }
                    }
                }
                (None, Some(r)) => issues
                    .check(&join_key(&at, "range"), range_values(r.start, r.end, r.step, r.factor)),
                _ => {
                    issues.push(&at, "needs either `values` or `range`");
                    None
                }
            };
            if let Some(values) = values {
                axes.push(Axis { path: raw.path.clone(), values, zip: raw.zip.clone() });
            }
        }
        (axes, replications)
    }
}

/// Parses a CLI axis `path=a,b,c`, `path=2..32:2` (linear) or `path=1..64*2` (geometric).
pub fn parse_cli_axis(text: &str, zip: Option<&str>) -> Result<Axis, String> {
    let (path, list) =
        text.split_once('=').ok_or_else(|| format!("`{text}` is not of the form path=values"))?;
    let path = path.trim().to_string();
    let list = list.trim();
    let values = if let Some((start, rest)) = list.split_once("..") {
        let (end, step, factor) = if let Some((end, step)) = rest.split_once(':') {
            (end, Some(step), None)
        } else if let Some((end, factor)) = rest.split_once('*') {
            (end, None, Some(factor))
        } else {
            (rest, None, None)
        };
        let num = |s: &str| {
            s.trim().parse::<f64>().map_err(|_| format!("`{s}` in `{text}` is not a number"))
        };
        range_values(
            num(start)?,
            num(end)?,
            step.map(num).transpose()?,
            factor.map(num).transpose()?,
        )?
    } else {
        list.split(',').map(|v| Override::from_str_value(v.trim())).collect()
    };
    if values.is_empty() {
        return Err(format!("`{text}` lists no values"));
    }
    Ok(Axis { path, values, zip: zip.map(str::to_string) })
}

/// The points of a sweep: each a list of `(path, value)` overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Axis paths, in column order.
    pub paths: Vec<String>,
    pub points: Vec<Vec<toml::Value>>,
    pub replications: u64,
}

impl Plan {
    /// Combines axes: zip groups advance together; dimensions multiply, the last fastest.
    pub fn new(axes: &[Axis], replications: u64) -> Result<Plan, String> {
        // Dimensions: lists of axis indices that advance together.
        let mut dims: Vec<Vec<usize>> = Vec::new();
        for (i, axis) in axes.iter().enumerate() {
            if axes[..i].iter().any(|a| a.path == axis.path) {
                return Err(format!("the path `{}` is swept twice", axis.path));
            }
            match &axis.zip {
                Some(zip) => match dims.iter_mut().find(|d| axes[d[0]].zip.as_deref() == Some(zip))
                {
                    Some(dim) => {
                        let len = axes[dim[0]].values.len();
                        if axis.values.len() != len {
                            return Err(format!(
                                "zipped axes `{}` ({len} values) and `{}` ({} values) differ in length",
                                axes[dim[0]].path,
                                axis.path,
                                axis.values.len()
                            ));
                        }
                        dim.push(i);
                    }
                    None => dims.push(vec![i]),
                },
                None => dims.push(vec![i]),
            }
        }
        let total = dims
            .iter()
            .try_fold(1usize, |acc, d| acc.checked_mul(axes[d[0]].values.len()))
            .filter(|t| *t <= MAX_POINTS)
            .ok_or_else(|| format!("the sweep has more than {MAX_POINTS} points"))?;
        let mut points = Vec::with_capacity(total);
        for k in 0..total {
            let mut point = vec![toml::Value::Boolean(false); axes.len()];
            let mut rest = k;
            for dim in dims.iter().rev() {
                let len = axes[dim[0]].values.len();
                let index = rest % len;
                rest /= len;
                for &a in dim {
                    point[a] = axes[a].values[index].clone();
                }
            }
            points.push(point);
        }
        Ok(Plan { paths: axes.iter().map(|a| a.path.clone()).collect(), points, replications })
    }

    /// The overrides of point `k`.
    pub fn overrides(&self, k: usize) -> Vec<Override> {
        self.paths
            .iter()
            .zip(&self.points[k])
            .map(|(path, value)| Override {
                path: path.clone(),
                value: value.clone(),
                text: format!("{path}={}", value_text(value)),
            })
            .collect()
    }

    /// `path=value, …` for messages.
    pub fn describe(&self, k: usize) -> String {
        self.overrides(k).iter().map(|o| o.text.clone()).collect::<Vec<_>>().join(", ")
    }

    /// The seed of replication `r`.
    pub fn seed(base: u64, r: u64) -> u64 {
        replication_seed(base, r)
    }
}

/// A value as it appears in CSV cells and messages: strings unquoted.
pub fn value_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Quotes a CSV cell when it needs it.
pub fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A number in CSV: shortest exact form; non-finite values become empty cells.
pub fn number_cell(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { String::new() }
}

/// Flattens one variant's summary object into `(dotted key, number)` pairs, in field order.
/// Arrays of objects are keyed by their `name` (or `component`) field; strings are skipped;
/// nulls give NaN (an empty cell), so the columns do not depend on which values a run had.
pub fn flatten_numbers(value: &serde_json::Value) -> Vec<(String, f64)> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, f64)>) {
        match value {
            serde_json::Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    out.push((prefix.to_string(), x));
                }
            }
            serde_json::Value::Bool(b) => {
                out.push((prefix.to_string(), if *b { 1.0 } else { 0.0 }))
            }
            // A metric without a value here (e.g. no sell-out) keeps its column, empty.
            serde_json::Value::Null => out.push((prefix.to_string(), f64::NAN)),
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    walk(&join_key(prefix, key), v, out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let label = item
                        .get("name")
                        .or_else(|| item.get("component"))
                        .and_then(|n| n.as_str())
                        .map_or_else(|| i.to_string(), str::to_string);
                    walk(&join_key(prefix, &label), item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

/// One row of results: a variant of one replication of one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub point: usize,
    pub replication: u64,
    pub seed: u64,
    pub variant: String,
    pub metrics: Vec<(String, f64)>,
}

/// The header of `sweep.csv` and its shard files.
pub fn rows_header(paths: &[String], metrics: &[String]) -> String {
    let mut line = String::from("point,replication,seed,variant");
    for p in paths.iter().chain(metrics) {
        line.push(',');
        line.push_str(&csv_cell(p));
    }
    line
}

/// One line of `sweep.csv`.
pub fn row_line(plan: &Plan, metrics: &[String], row: &Row) -> String {
    let mut line =
        format!("{},{},{},{}", row.point, row.replication, row.seed, csv_cell(&row.variant));
    for value in &plan.points[row.point] {
        line.push(',');
        line.push_str(&csv_cell(&value_text(value)));
    }
    for key in metrics {
        line.push(',');
        if let Some((_, x)) = row.metrics.iter().find(|(k, _)| k == key) {
            line.push_str(&number_cell(*x));
        }
    }
    line
}

/// The header of `sweep-summary.csv`.
pub fn summary_header(paths: &[String], metrics: &[String]) -> String {
    let mut out = String::from("point,variant,replications");
    for p in paths {
        write!(out, ",{}", csv_cell(p)).expect("writing to a string");
    }
    for m in metrics {
        write!(out, ",{0}.mean,{0}.sd,{0}.ci95", csv_cell(m)).expect("writing to a string");
    }
    out
}

/// Summary lines of one point: per variant (in first-seen order), mean, standard deviation and
/// 95% Student-t half-width of every metric over the point's replications.
pub fn summary_lines(point_values: &[toml::Value], metrics: &[String], rows: &[Row]) -> String {
    let mut out = String::new();
    let mut variants: Vec<&str> = Vec::new();
    for r in rows {
        if !variants.contains(&r.variant.as_str()) {
            variants.push(&r.variant);
        }
    }
    for variant in variants {
        let of_variant: Vec<&Row> = rows.iter().filter(|r| r.variant == variant).collect();
        write!(out, "{},{},{}", of_variant[0].point, csv_cell(variant), of_variant.len())
            .expect("writing to a string");
        for value in point_values {
            write!(out, ",{}", csv_cell(&value_text(value))).expect("writing to a string");
        }
        for key in metrics {
            let samples: Vec<f64> = of_variant
                .iter()
                .filter_map(|r| r.metrics.iter().find(|(k, _)| k == key).map(|(_, x)| *x))
                .filter(|x| x.is_finite())
                .collect();
            let e = Estimate::from_samples(&samples, 0.95);
            write!(
                out,
                ",{},{},{}",
                number_cell(e.mean),
                number_cell(e.std_dev),
                number_cell(e.half_width)
            )
            .expect("writing to a string");
        }
        out.push('\n');
    }
    out
}

/// `sweep-summary.csv` for rows grouped by point (as written).
pub fn summary_csv(plan: &Plan, metrics: &[String], rows: &[Row]) -> String {
    let mut out = summary_header(&plan.paths, metrics);
    out.push('\n');
    let mut start = 0;
    while start < rows.len() {
        let point = rows[start].point;
        let end = start + rows[start..].iter().take_while(|r| r.point == point).count();
        out.push_str(&summary_lines(&plan.points[point], metrics, &rows[start..end]));
        start = end;
    }
    out
}

/// Parses a `sweep.csv` (or shard) body back into rows; values round-trip exactly.
pub fn parse_rows(text: &str, paths: usize) -> Result<(Vec<String>, Vec<Row>), String> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().ok_or("no header")?;
    let columns: Vec<&str> = split_csv(header);
    let metrics: Vec<String> = columns.iter().skip(4 + paths).map(|c| unquote(c)).collect();
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let cells = split_csv(line);
        if cells.len() != columns.len() {
            return Err(format!(
                "row {} has {} cells, the header {}",
                n + 1,
                cells.len(),
                columns.len()
            ));
        }
        let bad = |what: &str| format!("row {}: bad {what}", n + 1);
        rows.push(Row {
            point: cells[0].parse().map_err(|_| bad("point"))?,
            replication: cells[1].parse().map_err(|_| bad("replication"))?,
            seed: cells[2].parse().map_err(|_| bad("seed"))?,
            variant: unquote(cells[3]),
            metrics: metrics
                .iter()
                .zip(&cells[4 + paths..])
                .filter(|(_, c)| !c.is_empty())
                .map(|(k, c)| c.parse::<f64>().map(|x| (k.clone(), x)).map_err(|_| bad(k)))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok((metrics, rows))
}

/// Undoes [`csv_cell`]'s quoting.
pub fn unquote_cell(cell: &str) -> String {
    unquote(cell)
}

fn unquote(cell: &str) -> String {
    match cell.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => cell.to_string(),
    }
}

/// Splits a CSV line on commas outside quotes (cells keep their quotes; see [`unquote_cell`]).
pub fn split_csv(line: &str) -> Vec<&str> {
    let mut cells = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                cells.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    cells.push(&line[start..]);
    cells
}

/// Which shard to run: an explicit `--shard i/n` wins; else the index comes from a job array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `i/n` with 0 ≤ i < n.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) =
            text.split_once('/').ok_or_else(|| format!("`{text}` is not of the form i/n"))?;
        let parse = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| format!("`{text}`: `{s}` is not a whole number"))
        };
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index >= count {
            return Err(format!("`{text}`: need 0 ≤ i < n"));
        }
        Ok(Shard { index, count })
    }

    /// The shard from job-array variables (`get` reads the environment), if any is set.
    /// Slurm: `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`;
    /// AWS Batch: `AWS_BATCH_JOB_ARRAY_INDEX` of `AWS_BATCH_JOB_ARRAY_SIZE`; Kubernetes Indexed
    /// Jobs: `JOB_COMPLETION_INDEX` of `count` (the `--shards` flag). Half a pair is an error.
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        count: Option<u64>,
    ) -> Result<Option<Shard>, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            get(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| format!("{name}={v} is not a whole number"))
                })
                .transpose()
        };
        let pairs: [(&str, Option<&str>); 3] = [
            ("SLURM_ARRAY_TASK_ID", Some("SLURM_ARRAY_TASK_COUNT")),
            ("AWS_BATCH_JOB_ARRAY_INDEX", Some("AWS_BATCH_JOB_ARRAY_SIZE")),
            ("JOB_COMPLETION_INDEX", None),
        ];
        for (index_var, count_var) in pairs {
            let index = number(index_var)?;
            let total = match count_var {
                Some(var) => number(var)?.or(count),
                None => count,
            };
            match (index, total) {
                (None, None) => continue,
                (None, Some(_))
                    if count_var.is_some() && number(count_var.unwrap_or(""))?.is_some() =>
                {
                    return Err(format!(
                        "{} is set but {index_var} is not",
                        count_var.unwrap_or("")
                    ));
                }
                (None, Some(_)) => continue,
                (Some(_), None) => {
                    return Err(format!(
                        "{index_var} is set but the shard count is not ({}--shards N)",
                        count_var.map_or(String::new(), |v| format!("{v} or "))
                    ));
                }
                (Some(mut index), Some(total)) => {
                    if index_var == "SLURM_ARRAY_TASK_ID" {
                        // Arrays like --array=1-31:2 number tasks MIN, MIN+STEP, …
                        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
                        index = index.saturating_sub(min) / step;
                    }
                    return Shard::parse(&format!("{index}/{total}")).map(Some);
                }
            }
        }
        if count.is_some() {
            return Err(
                "--shards N needs a shard index: JOB_COMPLETION_INDEX (or use --shard i/n)".into(),
            );
        }
        Ok(None)
    }

    /// The shard file name.
    pub fn file_name(&self) -> String {
        format!("sweep-shard-{}-of-{}.csv", self.index, self.count)
    }
}

/// The first line of a shard file: what must agree across shards.
pub fn shard_preamble(
    fingerprint: &str,
    seed: u64,
    version: &str,
    shard: Shard,
    plan: &Plan,
) -> String {
    format!(
        "# sweep-shard plan={fingerprint} seed={seed} version={version} shard={}/{} points={} \
         replications={} axes={}",
        shard.index,
        shard.count,
        plan.points.len(),
        plan.replications,
        plan.paths.len()
    )
}

/// The last line of a shard that ran all its tasks.
pub fn shard_trailer(runs: usize) -> String {
    format!("# complete runs={runs}")
}

/// Tasks (point × replication) of `shard` in a plan of `points` points.
pub fn shard_runs(shard: Shard, points: usize, replications: u64) -> u64 {
    let mine = (0..points as u64).filter(|k| k % shard.count == shard.index).count() as u64;
    mine * replications
}

/// Merges the shard files in `dir` into `sweep.csv` and `sweep-summary.csv` text, exactly as an
/// unsharded run writes them. Every shard of the split must be there once, complete, and agree
/// with the others on the plan, seed, version and header. Returns `(sweep.csv, summary)`.
pub fn merge(dir: &Path) -> Result<(String, String), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sweep-shard-") && n.ends_with(".csv"))
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("no sweep-shard-*.csv files in {}", dir.display()));
    }
    let field = |line: &str, key: &str| {
        line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}="))).map(str::to_string)
    };
    let mut first_line: Option<String> = None;
    let mut header: Option<String> = None;
    let mut seen: Vec<bool> = Vec::new();
    // (point, replication, line order, line)
    let mut body: Vec<(usize, u64, usize, String)> = Vec::new();
    for path in &names {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let name = path.display();
        let lines: Vec<&str> = text.lines().collect();
        let line = *lines.first().ok_or_else(|| format!("{name} is empty"))?;
        if !line.starts_with("# sweep-shard ") {
            return Err(format!("{name} is not a sweep shard file"));
        }
        let reference = first_line.get_or_insert_with(|| line.to_string()).clone();
        for key in ["plan", "seed", "version", "points", "replications", "axes"] {
            if field(line, key) != field(&reference, key) {
                return Err(format!(
                    "{name} disagrees with {} on {key} ({:?} vs {:?}): shards of different sweeps",
                    names[0].display(),
                    field(line, key),
                    field(&reference, key)
                ));
            }
        }
        let shard = field(line, "shard")
            .and_then(|s| Shard::parse(&s).ok())
            .ok_or_else(|| format!("{name}: bad shard=i/n"))?;
        if shard.count > MAX_POINTS as u64 {
            return Err(format!("{name}: implausible shard count {}", shard.count));
        }
        if seen.is_empty() {
            seen = vec![false; shard.count as usize];
        }
        if shard.count as usize != seen.len() {
            return Err(format!(
                "{name} belongs to a {}-way split, not {}",
                shard.count,
                seen.len()
            ));
        }
        if std::mem::replace(&mut seen[shard.index as usize], true) {
            return Err(format!("shard {} of {} appears twice", shard.index, shard.count));
        }
        let number = |key: &str| field(line, key).and_then(|v| v.parse::<u64>().ok());
        let (points, replications) = (
            number("points").ok_or_else(|| format!("{name}: bad points="))? as usize,
            number("replications").ok_or_else(|| format!("{name}: bad replications="))?,
        );
        let expected = shard_runs(shard, points.min(MAX_POINTS), replications);
        let trailer = lines.last().copied().unwrap_or("");
        if trailer != shard_trailer(expected as usize) {
            return Err(format!(
                "{name} is incomplete (it does not end with `{}`): the shard was interrupted or \
                 failed; run it again",
                shard_trailer(expected as usize)
            ));
        }
        let rows = &lines[1..lines.len() - 1];
        let (shard_header, rows) = match rows.first() {
            Some(h) if !h.starts_with('#') => (Some(h.to_string()), &rows[1..]),
            _ => (None, rows),
        };
        if let Some(h) = shard_header {
            match &header {
                None => header = Some(h),
                Some(existing) if *existing != h => {
                    return Err(format!("{name} has a different header"));
                }
                Some(_) => {}
            }
        }
        for (order, row) in rows.iter().enumerate() {
            let mut cells = row.splitn(3, ',');
            let bad = || format!("{name}: bad row `{row}`");
            let point: usize = cells.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
            let replication: u64 = cells.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
            if point >= points || point as u64 % shard.count != shard.index {
                return Err(format!("{name}: row for point {point} does not belong to this shard"));
            }
            body.push((point, replication, order, row.to_string()));
        }
    }
    let missing: Vec<String> =
        seen.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| i.to_string()).collect();
    if !missing.is_empty() {
        return Err(format!("missing shards of {}: {}", seen.len(), missing.join(", ")));
    }
    let reference = first_line.unwrap_or_default();
    let Some(header) = header else {
        return Err("no shard has any successful run: nothing to merge".into());
    };
    let axis_count: usize = field(&reference, "axes").and_then(|a| a.parse().ok()).unwrap_or(0);
    let points: usize = field(&reference, "points").and_then(|p| p.parse().ok()).unwrap_or(0);
    body.sort_by_key(|l| (l.0, l.1, l.2));
    let mut sweep_csv = header.clone();
    sweep_csv.push('\n');
    for (_, _, _, line) in &body {
        sweep_csv.push_str(line);
        sweep_csv.push('\n');
    }
    let (metrics, rows) = parse_rows(&sweep_csv, axis_count)?;
    let header_cells = split_csv(&header);
    if header_cells.len() < 4 + axis_count {
        return Err("the header has fewer columns than the plan has axes".into());
    }
    let paths: Vec<String> = header_cells[4..4 + axis_count].iter().map(|c| unquote(c)).collect();
    // Point values come back from the rows' parameter cells.
    let mut point_values: Vec<Vec<toml::Value>> = vec![Vec::new(); points.min(MAX_POINTS)];
    for (point, _, _, line) in &body {
        if point_values[*point].is_empty() {
            let cells = split_csv(line);
            point_values[*point] = cells[4..4 + axis_count]
                .iter()
                .map(|c| Override::from_str_value(&unquote(c)))
                .collect();
        }
    }
    let plan = Plan { paths, points: point_values, replications: 0 };
    let summary = summary_csv(&plan, &metrics, &rows);
    Ok((sweep_csv, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(path: &str, values: &[i64], zip: Option<&str>) -> Axis {
        Axis {
            path: path.into(),
            values: values.iter().map(|v| toml::Value::Integer(*v)).collect(),
            zip: zip.map(str::to_string),
        }
    }

    #[test]
    fn grid_is_a_cartesian_product_with_the_last_axis_fastest() {
        let plan =
            Plan::new(&[axis("a", &[1, 2], None), axis("b", &[10, 20, 30], None)], 1).unwrap();
        let firsts: Vec<String> = (0..6).map(|k| plan.describe(k)).collect();
        assert_eq!(firsts[0], "a=1, b=10");
        assert_eq!(firsts[1], "a=1, b=20");
        assert_eq!(firsts[3], "a=2, b=10");
    }

    #[test]
    fn zipped_axes_advance_together() {
        let plan = Plan::new(
            &[
                axis("a", &[1, 2], Some("z")),
                axis("c", &[5, 6, 7], None),
                axis("b", &[10, 20], Some("z")),
            ],
            1,
        )
        .unwrap();
        assert_eq!(plan.points.len(), 6);
        assert_eq!(plan.describe(0), "a=1, c=5, b=10");
        assert_eq!(plan.describe(3), "a=2, c=5, b=20");
        let err =
            Plan::new(&[axis("a", &[1, 2], Some("z")), axis("b", &[1], Some("z"))], 1).unwrap_err();
        assert!(err.contains("differ in length"));
    }

    #[test]
    fn ranges_are_linear_or_geometric() {
        let ints =
            |v: Vec<toml::Value>| v.iter().map(|x| x.as_integer().unwrap()).collect::<Vec<_>>();
        assert_eq!(ints(range_values(2.0, 10.0, Some(4.0), None).unwrap()), [2, 6, 10]);
        assert_eq!(
            ints(range_values(1.0, 64.0, None, Some(2.0)).unwrap()),
            [1, 2, 4, 8, 16, 32, 64]
        );
        let floats = range_values(0.5, 1.0, Some(0.25), None).unwrap();
        assert_eq!(floats[2].as_float(), Some(1.0));
        assert!(range_values(1.0, 0.0, None, None).is_err());
        let cli = parse_cli_axis("x=1..8*2", None).unwrap();
        assert_eq!(ints(cli.values), [1, 2, 4, 8]);
        let list = parse_cli_axis("y=a,2,0.5", None).unwrap();
        assert_eq!(
            list.values,
            [toml::Value::String("a".into()), toml::Value::Integer(2), toml::Value::Float(0.5)]
        );
    }

    #[test]
    fn job_array_variables_give_the_shard_and_half_a_pair_is_an_error() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            Shard::from_env(
                env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")]),
                None
            )
            .unwrap(),
            Some(Shard { index: 3, count: 4 })
        );
        assert_eq!(
            Shard::from_env(
                env(&[
                    ("SLURM_ARRAY_TASK_ID", "4"),
                    ("SLURM_ARRAY_TASK_MIN", "1"),
                    ("SLURM_ARRAY_TASK_COUNT", "4")
                ]),
                None
            )
            .unwrap(),
            Some(Shard { index: 3, count: 4 })
        );
        assert_eq!(
            Shard::from_env(
                env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), ("AWS_BATCH_JOB_ARRAY_SIZE", "2")]),
                None
            )
            .unwrap(),
            Some(Shard { index: 0, count: 2 })
        );
        assert_eq!(
            Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")]), Some(3)).unwrap(),
            Some(Shard { index: 1, count: 3 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")]), None).is_err());
        assert!(Shard::from_env(env(&[("SLURM_ARRAY_TASK_ID", "1")]), None).is_err());
        assert!(Shard::from_env(env(&[("AWS_BATCH_JOB_ARRAY_SIZE", "2")]), None).is_err());
        assert!(
            Shard::from_env(
                env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_COUNT", "4")]),
                None
            )
            .is_err()
        );
        assert_eq!(Shard::from_env(env(&[]), None).unwrap(), None);
        // --array=1-7:2 numbers tasks 1, 3, 5, 7: task 5 is the third shard.
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(Shard::from_env(stepped, None).unwrap(), Some(Shard { index: 2, count: 4 }));
        assert!(Shard::from_env(env(&[]), Some(4)).is_err(), "--shards without an index");
    }

    #[test]
    fn rows_round_trip_through_csv() {
        let plan = Plan::new(&[axis("a", &[1, 2], None)], 2).unwrap();
        let metrics = vec!["x".to_string(), "y.z_s".to_string()];
        let rows = vec![
            Row {
                point: 0,
                replication: 0,
                seed: 1,
                variant: "v".into(),
                metrics: vec![("x".into(), 0.1 + 0.2), ("y.z_s".into(), 3.0)],
            },
            Row {
                point: 0,
                replication: 1,
                seed: 9,
                variant: "v".into(),
                metrics: vec![("x".into(), 1e-300)],
            },
        ];
        let mut text = rows_header(&plan.paths, &metrics) + "\n";
        for r in &rows {
            text += &(row_line(&plan, &metrics, r) + "\n");
        }
        let (parsed_metrics, parsed) = parse_rows(&text, 1).unwrap();
        assert_eq!(parsed_metrics, metrics);
        assert_eq!(parsed, rows);
        let summary = summary_csv(&plan, &metrics, &rows);
        assert!(summary.starts_with("point,variant,replications,a,x.mean,x.sd,x.ci95,y.z_s.mean"));
    }
}
