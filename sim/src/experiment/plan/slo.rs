//! Service-level objectives and how a candidate fares against them: an SLO holds only if its
//! 95% confidence bound over the replications is on the right side of the target.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::stats::Estimate;

/// A comparison in an SLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "==")]
    Eq,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Eq => "==",
        })
    }
}

/// A service-level objective on one metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Slo {
    pub metric: String,
    pub op: Op,
    pub target: f64,
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op, self.target)
    }
}

impl std::str::FromStr for Slo {
    type Err = String;
    fn from_str(text: &str) -> Result<Slo, String> {
        let ops = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("<", Op::Lt), (">", Op::Gt)];
        for (symbol, op) in ops {
            if let Some((metric, target)) = text.split_once(symbol) {
                let metric = metric.trim();
                let target: f64 = target
                    .trim()
                    .parse()
                    .map_err(|_| format!("SLO `{text}`: `{}` is not a number", target.trim()))?;
                if metric.is_empty() || !target.is_finite() {
                    return Err(format!("SLO `{text}` needs a metric and a finite target"));
                }
                return Ok(Slo { metric: metric.to_string(), op, target });
            }
        }
        Err(format!("SLO `{text}` is not of the form `metric <op> number` (ops: <=, <, >=, >, ==)"))
    }
}

/// How an SLO fared on one candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judgement {
    pub slo: String,
    pub mean: f64,
    /// The 95% bound on the judged side (upper for <=, lower for >=; mean ± half-width).
    pub bound: f64,
    pub holds: bool,
    /// How far the bound misses the target: relative to the target, or absolute when the target
    /// is 0 (0 when the SLO holds).
    pub shortfall: f64,
}

impl Slo {
    /// Judges the SLO on per-replication values.
    pub fn judge(&self, samples: &[f64]) -> Judgement {
        let finite: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        let e = Estimate::from_samples(&finite, 0.95);
        let hw = if finite.len() < 2 { 0.0 } else { e.half_width };
        let (bound, holds) = match self.op {
            Op::Le => (e.mean + hw, e.mean + hw <= self.target),
            Op::Lt => (e.mean + hw, e.mean + hw < self.target),
            Op::Ge => (e.mean - hw, e.mean - hw >= self.target),
            Op::Gt => (e.mean - hw, e.mean - hw > self.target),
            Op::Eq => {
                let worst = finite.iter().map(|x| (x - self.target).abs()).fold(0.0, f64::max);
                (self.target + worst, worst <= 1e-12)
            }
        };
        let holds = holds && finite.len() == samples.len() && !finite.is_empty();
        // Relative to the target, or absolute when the target is 0 (e.g. `errors == 0`).
        let gap = (bound - self.target).abs();
        let shortfall = if holds {
            0.0
        } else if self.target == 0.0 {
            gap
        } else {
            gap / self.target.abs()
        };
        Judgement { slo: self.to_string(), mean: e.mean, bound, holds, shortfall }
    }
}

/// The evaluation of one candidate: per-replication metric values.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// metric → one value per replication.
    pub values: BTreeMap<String, Vec<f64>>,
    /// Why the candidate could not run, if it could not.
    pub error: Option<String>,
}

impl Evaluation {
    fn samples(&self, metric: &str) -> Vec<f64> {
        self.values.get(metric).cloned().unwrap_or_else(|| vec![f64::NAN])
    }
    /// Every SLO's judgement.
    pub fn judge(&self, slos: &[Slo]) -> Vec<Judgement> {
        slos.iter().map(|s| s.judge(&self.samples(&s.metric))).collect()
    }
    pub fn feasible(&self, slos: &[Slo]) -> bool {
        self.error.is_none() && self.judge(slos).iter().all(|j| j.holds)
    }
    /// The objective's mean (infinite when missing).
    pub fn objective(&self, metric: &str) -> f64 {
        let s = self.samples(metric);
        let mean = s.iter().sum::<f64>() / s.len() as f64;
        if mean.is_finite() { mean } else { f64::INFINITY }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slos_are_judged_on_their_confidence_bound() {
        let slo: Slo = "lat <= 1.0".parse().unwrap();
        assert!(slo.judge(&[0.5, 0.6, 0.55]).holds);
        // Mean below target, but the 95% upper bound is not: not accepted by luck.
        assert!(!slo.judge(&[0.2, 1.5, 0.9]).holds);
        let exact: Slo = "errors == 0".parse().unwrap();
        assert!(exact.judge(&[0.0, 0.0]).holds);
        assert!(!exact.judge(&[0.0, 1.0]).holds);
        let floor: Slo = "rate >= 0.999".parse().unwrap();
        assert!(floor.judge(&[1.0, 1.0, 1.0]).holds);
        assert!("lat ~ 3".parse::<Slo>().is_err());
        assert!("lat <= fast".parse::<Slo>().is_err());
    }
}
