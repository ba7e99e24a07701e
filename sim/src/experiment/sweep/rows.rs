//! Result rows of a sweep: one variant of one replication of one point, its numbers flattened
//! into dotted columns; `sweep.csv` lines, and per-point means, deviations and 95% intervals
//! for `sweep-summary.csv`.

use crate::config::issues::join_key;
use crate::experiment::sweep::grid::{Grid, value_text};
use crate::output::csv::{line, number_cell, reader_builder, text_cell};
use crate::stats::Estimate;

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
    let mut cells: Vec<String> =
        ["point", "replication", "seed", "variant"].map(String::from).into();
    cells.extend(paths.iter().chain(metrics).map(|p| text_cell(p).into_owned()));
    line(&cells)
}

/// One line of `sweep.csv`.
pub fn row_line(plan: &Grid, metrics: &[String], row: &Row) -> String {
    let mut cells = vec![
        row.point.to_string(),
        row.replication.to_string(),
        row.seed.to_string(),
        text_cell(&row.variant).into_owned(),
    ];
    cells.extend(plan.points[row.point].iter().map(|v| text_cell(&value_text(v)).into_owned()));
    cells.extend(metrics.iter().map(|key| match row.metrics.iter().find(|(k, _)| k == key) {
        Some((_, x)) => number_cell(*x),
        None => String::new(),
    }));
    line(&cells)
}

/// The header of `sweep-summary.csv`.
pub fn summary_header(paths: &[String], metrics: &[String]) -> String {
    let mut cells: Vec<String> = ["point", "variant", "replications"].map(String::from).into();
    cells.extend(paths.iter().map(|p| text_cell(p).into_owned()));
    for m in metrics {
        let m = text_cell(m);
        cells.extend(["mean", "sd", "ci95"].map(|s| format!("{m}.{s}")));
    }
    line(&cells)
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
        let mut cells = vec![
            of_variant[0].point.to_string(),
            text_cell(variant).into_owned(),
            of_variant.len().to_string(),
        ];
        cells.extend(point_values.iter().map(|v| text_cell(&value_text(v)).into_owned()));
        for key in metrics {
            let samples: Vec<f64> = of_variant
                .iter()
                .filter_map(|r| r.metrics.iter().find(|(k, _)| k == key).map(|(_, x)| *x))
                .filter(|x| x.is_finite())
                .collect();
            let e = Estimate::from_samples(&samples, 0.95);
            cells.extend([e.mean, e.std_dev, e.half_width].map(number_cell));
        }
        out.push_str(&line(&cells));
        out.push('\n');
    }
    out
}

/// `sweep-summary.csv` for rows grouped by point (as written).
pub fn summary_csv(plan: &Grid, metrics: &[String], rows: &[Row]) -> String {
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

/// Parses a `sweep.csv` (or shard) body back into rows; values round-trip exactly. Lines
/// starting with `#` (a shard's first and last) are skipped.
pub fn parse_rows(text: &str, paths: usize) -> Result<(Vec<String>, Vec<Row>), String> {
    let mut input = reader_builder().comment(Some(b'#')).from_reader(text.as_bytes());
    let mut records = input.records();
    let header = records.next().ok_or("no header")?.map_err(|e| e.to_string())?;
    let metrics: Vec<String> = header.iter().skip(4 + paths).map(str::to_string).collect();
    let mut rows = Vec::new();
    for (n, cells) in records.enumerate() {
        let cells = cells.map_err(|e| format!("row {}: {e}", n + 1))?;
        if cells.len() != header.len() {
            return Err(format!(
                "row {} has {} cells, the header {}",
                n + 1,
                cells.len(),
                header.len()
            ));
        }
        let bad = |what: &str| format!("row {}: bad {what}", n + 1);
        rows.push(Row {
            point: cells[0].parse().map_err(|_| bad("point"))?,
            replication: cells[1].parse().map_err(|_| bad("replication"))?,
            seed: cells[2].parse().map_err(|_| bad("seed"))?,
            variant: cells[3].to_string(),
            metrics: metrics
                .iter()
                .zip(cells.iter().skip(4 + paths))
                .filter(|(_, c)| !c.is_empty())
                .map(|(k, c)| match c.parse::<f64>() {
                    // sweeps write no NaN or infinity: such a cell was edited in.
                    Ok(x) if x.is_finite() => Ok((k.clone(), x)),
                    _ => Err(bad(k)),
                })
                .collect::<Result<_, _>>()?,
        });
    }
    Ok((metrics, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::sweep::grid::Axis;

    fn axis(path: &str, values: &[i64], zip: Option<&str>) -> Axis {
        Axis {
            path: path.into(),
            values: values.iter().map(|v| toml::Value::Integer(*v)).collect(),
            zip: zip.map(str::to_string),
        }
    }

    #[test]
    fn rows_round_trip_through_csv() {
        let plan = Grid::new(&[axis("a", &[1, 2], None)], 2).unwrap();
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
        // A name that needs quotes is quoted whole, suffix included.
        assert_eq!(
            summary_header(&[], &["s,\"x\"".into()]),
            "point,variant,replications,\"s,\"\"x\"\".mean\",\"s,\"\"x\"\".sd\",\"s,\"\"x\"\".ci95\""
        );
    }
}
