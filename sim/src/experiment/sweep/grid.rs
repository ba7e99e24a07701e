//! The grid of a sweep: axes of values by key path (lists, linear or geometric ranges, zipped
//! groups) combined into points, the last axis varying fastest; each point is a list of overrides.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::issues::{Issues, join_index, join_key};
use crate::config::overrides::Override;
use crate::rng::replication_seed;

/// The `[sweep]` table of a scenario.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    /// Independent replications per point (default 1).
    pub replications: Option<i64>,
    /// The axes, in order; the last varies fastest.
    #[serde(default, rename = "axis")]
    pub axes: Vec<RawAxis>,
    /// Metrics printed on the terminal when the sweep ends, per point and variant with their
    /// 95% confidence intervals: dotted keys of a variant's summary, as in `sweep.csv`'s columns
    /// (e.g. `stations.web.mean_wait_s`). Default: the model's own headline metrics.
    pub metrics: Option<Vec<String>>,
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
pub struct Grid {
    /// Axis paths, in column order.
    pub paths: Vec<String>,
    pub points: Vec<Vec<toml::Value>>,
    pub replications: u64,
}

impl Grid {
    /// Combines axes: zip groups advance together; dimensions multiply, the last fastest.
    pub fn new(axes: &[Axis], replications: u64) -> Result<Grid, String> {
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
        Ok(Grid { paths: axes.iter().map(|a| a.path.clone()).collect(), points, replications })
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
            Grid::new(&[axis("a", &[1, 2], None), axis("b", &[10, 20, 30], None)], 1).unwrap();
        let firsts: Vec<String> = (0..6).map(|k| plan.describe(k)).collect();
        assert_eq!(firsts[0], "a=1, b=10");
        assert_eq!(firsts[1], "a=1, b=20");
        assert_eq!(firsts[3], "a=2, b=10");
    }

    #[test]
    fn zipped_axes_advance_together() {
        let plan = Grid::new(
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
            Grid::new(&[axis("a", &[1, 2], Some("z")), axis("b", &[1], Some("z"))], 1).unwrap_err();
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
}
