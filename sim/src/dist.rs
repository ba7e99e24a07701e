//! Probability distributions of durations, sampled into integer nanoseconds.
//!
//! [`DistSpec`] is the raw form written in configuration files (a table tagged by `kind`);
//! [`Dist`] is the validated form that samples. Each sample is rounded once, to the nearest
//! nanosecond, so the clock never sees a float. Lognormal can be given the way engineers know a
//! latency — by its median and 99th percentile — or by `mu`/`sigma` of the natural log of seconds.

use rand::RngExt;
use rand_distr::{Distribution, Exp1, Gamma, LogNormal};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::issues::{Issues, join_index, join_key};
use crate::config::literal::DurationLit;
use crate::rng::RngStream;
use crate::time::SimDuration;

/// The standard normal quantile at 0.99, used to turn a p99 into a lognormal sigma.
pub const Z_P99: f64 = 2.326_347_874_040_841;

/// The family of a duration distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    /// Always `value`.
    Constant,
    /// Uniform between `min` and `max`.
    Uniform,
    /// Exponential with the given `mean`.
    Exponential,
    /// Lognormal by `median` and `p99`, or by `mu` and `sigma` of ln(seconds).
    Lognormal,
    /// Gamma with `shape` k and a `mean` (scale = mean / k).
    Gamma,
    /// Each of `values` equally likely.
    Empirical,
}

impl DistKind {
    /// The fields each kind takes, for "not a field of this kind" errors.
    fn fields(self) -> &'static [&'static str] {
        match self {
            DistKind::Constant => &["value"],
            DistKind::Uniform => &["min", "max"],
            DistKind::Exponential => &["mean"],
            DistKind::Lognormal => &["median", "p99", "mu", "sigma"],
            DistKind::Gamma => &["shape", "mean"],
            DistKind::Empirical => &["values"],
        }
    }
}

/// A duration distribution as written in a configuration file: `kind` and the fields that kind
/// takes. (A flat table rather than a serde-tagged enum, so that every error keeps its full key
/// path: serde buffers tagged enums and loses track of where inside them an error is.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistSpec {
    pub kind: DistKind,
    /// `constant`: the duration.
    pub value: Option<DurationLit>,
    /// `uniform`: lower bound.
    pub min: Option<DurationLit>,
    /// `uniform`: upper bound.
    pub max: Option<DurationLit>,
    /// `exponential`, `gamma`: the mean.
    pub mean: Option<DurationLit>,
    /// `lognormal`: the median.
    pub median: Option<DurationLit>,
    /// `lognormal`: the 99th percentile.
    pub p99: Option<DurationLit>,
    /// `lognormal`: mean of ln(seconds).
    pub mu: Option<f64>,
    /// `lognormal`: standard deviation of ln(seconds).
    pub sigma: Option<f64>,
    /// `gamma`: shape k.
    pub shape: Option<f64>,
    /// `empirical`: the durations to draw from.
    pub values: Option<Vec<DurationLit>>,
}

impl DistSpec {
    /// A spec of `kind` with no fields set; fill in the ones it takes.
    pub fn of(kind: DistKind) -> DistSpec {
        DistSpec {
            kind,
            value: None,
            min: None,
            max: None,
            mean: None,
            median: None,
            p99: None,
            mu: None,
            sigma: None,
            shape: None,
            values: None,
        }
    }

    /// Names of the fields that are set.
    fn present(&self) -> Vec<&'static str> {
        let flags = [
            ("value", self.value.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("mean", self.mean.is_some()),
            ("median", self.median.is_some()),
            ("p99", self.p99.is_some()),
            ("mu", self.mu.is_some()),
            ("sigma", self.sigma.is_some()),
            ("shape", self.shape.is_some()),
            ("values", self.values.is_some()),
        ];
        flags.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect()
    }
}

/// A validated duration distribution.
#[derive(Clone, Debug)]
pub enum Dist {
    Constant(SimDuration),
    /// Inclusive bounds in ns.
    Uniform {
        min_ns: u64,
        max_ns: u64,
    },
    Exponential {
        mean_ns: f64,
    },
    /// Lognormal over ns: ln(X / 1 ns) ~ N(mu_ns, sigma).
    Lognormal {
        law: LogNormal<f64>,
        mu_ns: f64,
        sigma: f64,
    },
    Gamma {
        law: Gamma<f64>,
        shape: f64,
        scale_ns: f64,
    },
    Empirical(Vec<SimDuration>),
}

impl Dist {
    /// Exponential with the given mean.
    pub fn exponential(mean: SimDuration) -> Dist {
        Dist::Exponential { mean_ns: mean.as_nanos() as f64 }
    }

    /// Lognormal from mu and sigma of ln(seconds); `None` if sigma is not positive and finite.
    pub fn lognormal(mu_ln_secs: f64, sigma: f64) -> Option<Dist> {
        if !(sigma.is_finite() && sigma > 0.0 && mu_ln_secs.is_finite()) {
            return None;
        }
        let mu_ns = mu_ln_secs + 1e9f64.ln();
        let law = LogNormal::new(mu_ns, sigma).ok()?;
        Some(Dist::Lognormal { law, mu_ns, sigma })
    }

    /// Lognormal with the given median and 99th percentile (`p99 > median`).
    pub fn lognormal_from_median_p99(median: SimDuration, p99: SimDuration) -> Option<Dist> {
        if median.is_zero() || p99 <= median {
            return None;
        }
        let sigma = (p99.as_nanos() as f64 / median.as_nanos() as f64).ln() / Z_P99;
        Dist::lognormal(median.as_secs_f64().ln(), sigma)
    }

    /// Gamma with shape `k` and the given mean.
    pub fn gamma(shape: f64, mean: SimDuration) -> Option<Dist> {
        let scale_ns = mean.as_nanos() as f64 / shape;
        let law = Gamma::new(shape, scale_ns).ok()?;
        (shape.is_finite() && shape > 0.0 && scale_ns > 0.0).then_some(Dist::Gamma {
            law,
            shape,
            scale_ns,
        })
    }

    /// Draws one duration, rounded to the nearest nanosecond.
    #[inline]
    pub fn sample(&self, rng: &mut RngStream) -> SimDuration {
        let ns = match self {
            Dist::Constant(d) => return *d,
            Dist::Uniform { min_ns, max_ns } => {
                return SimDuration::from_nanos(rng.random_range(*min_ns..=*max_ns));
            }
            Dist::Exponential { mean_ns } => {
                let unit: f64 = Exp1.sample(rng);
                unit * mean_ns
            }
            Dist::Lognormal { law, .. } => law.sample(rng),
            Dist::Gamma { law, .. } => law.sample(rng),
            Dist::Empirical(values) => return values[rng.random_range(0..values.len())],
        };
        SimDuration::from_secs_f64(ns * 1e-9)
    }

    /// The mean, in seconds (for offered-load checks and reports).
    pub fn mean_secs(&self) -> f64 {
        let ns = match self {
            Dist::Constant(d) => d.as_nanos() as f64,
            Dist::Uniform { min_ns, max_ns } => (*min_ns as f64 + *max_ns as f64) / 2.0,
            Dist::Exponential { mean_ns } => *mean_ns,
            Dist::Lognormal { mu_ns, sigma, .. } => (mu_ns + sigma * sigma / 2.0).exp(),
            Dist::Gamma { shape, scale_ns, .. } => shape * scale_ns,
            Dist::Empirical(values) => {
                values.iter().map(|d| d.as_nanos() as f64).sum::<f64>() / values.len() as f64
            }
        };
        ns * 1e-9
    }

    /// The second moment E[S²], in seconds², for Pollaczek–Khinchine style checks.
    pub fn second_moment_secs2(&self) -> f64 {
        let ns2 = match self {
            Dist::Constant(d) => (d.as_nanos() as f64).powi(2),
            Dist::Uniform { min_ns, max_ns } => {
                let (a, b) = (*min_ns as f64, *max_ns as f64);
                (a * a + a * b + b * b) / 3.0
            }
            Dist::Exponential { mean_ns } => 2.0 * mean_ns * mean_ns,
            Dist::Lognormal { mu_ns, sigma, .. } => (2.0 * mu_ns + 2.0 * sigma * sigma).exp(),
            Dist::Gamma { shape, scale_ns, .. } => shape * (shape + 1.0) * scale_ns * scale_ns,
            Dist::Empirical(values) => {
                values.iter().map(|d| (d.as_nanos() as f64).powi(2)).sum::<f64>()
                    / values.len() as f64
            }
        };
        ns2 * 1e-18
    }
}

impl DistSpec {
    /// Validates into a [`Dist`], recording every broken rule under `path`.
    pub fn check(&self, path: &str, issues: &mut Issues) -> Option<Dist> {
        let at = |key: &str| join_key(path, key);
        let before = issues.len();
        let allowed = self.kind.fields();
        for field in self.present() {
            if !allowed.contains(&field) {
                issues.push(
                    at(field),
                    format!(
                        "is not a field of kind {:?}, which takes: {}",
                        self.kind,
                        allowed.join(", ")
                    )
                    .to_lowercase(),
                );
            }
        }
        let required = |value: &Option<DurationLit>, key: &str, issues: &mut Issues| {
            let Some(value) = value else {
                issues.push(path, format!("kind {:?} needs `{key}`", self.kind).to_lowercase());
                return None;
            };
            value.check(&at(key), issues)
        };
        let dist = match self.kind {
            DistKind::Constant => required(&self.value, "value", issues).map(Dist::Constant),
            DistKind::Uniform => {
                let min = required(&self.min, "min", issues);
                let max = required(&self.max, "max", issues);
                let (min, max) = (min?, max?);
                if max < min {
                    issues.push(at("max"), format!("must be ≥ min ({min}) (got {max})"));
                    return None;
                }
                Some(Dist::Uniform { min_ns: min.as_nanos(), max_ns: max.as_nanos() })
            }
            DistKind::Exponential => {
                let mean = required(&self.mean, "mean", issues)?;
                if mean.is_zero() {
                    issues.push(at("mean"), "must be > 0 (got 0s)");
                    return None;
                }
                Some(Dist::exponential(mean))
            }
            DistKind::Lognormal => {
                check_lognormal(path, &self.median, &self.p99, self.mu, self.sigma, issues)
            }
            DistKind::Gamma => {
                let mean = required(&self.mean, "mean", issues);
                let shape = match self.shape {
                    Some(shape) if shape.is_finite() && shape > 0.0 => Some(shape),
                    Some(shape) => {
                        issues.push(at("shape"), format!("must be > 0 (got {shape})"));
                        None
                    }
                    None => {
                        issues.push(path, "kind gamma needs `shape`");
                        None
                    }
                };
                let (mean, shape) = (mean?, shape?);
                if mean.is_zero() {
                    issues.push(at("mean"), "must be > 0 (got 0s)");
                    return None;
                }
                let gamma = Dist::gamma(shape, mean);
                if gamma.is_none() {
                    issues.push(path, format!("shape {shape} and mean {mean} give no valid gamma"));
                }
                gamma
            }
            DistKind::Empirical => {
                let Some(values) = &self.values else {
                    issues.push(path, "kind empirical needs `values`");
                    return None;
                };
                if values.is_empty() {
                    issues.push(at("values"), "must list at least one duration (got none)");
                    return None;
                }
                let checked: Vec<Option<SimDuration>> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.check(&join_index(&at("values"), i), issues))
                    .collect();
                checked.into_iter().collect::<Option<Vec<_>>>().map(Dist::Empirical)
            }
        };
        if issues.len() > before { None } else { dist }
    }
}

fn check_lognormal(
    path: &str,
    median: &Option<DurationLit>,
    p99: &Option<DurationLit>,
    mu: Option<f64>,
    sigma: Option<f64>,
    issues: &mut Issues,
) -> Option<Dist> {
    let at = |key: &str| join_key(path, key);
    match (median, p99, mu, sigma) {
        (Some(median), Some(p99), None, None) => {
            let median = median.check(&at("median"), issues);
            let p99 = p99.check(&at("p99"), issues);
            let (median, p99) = (median?, p99?);
            if median.is_zero() {
                issues.push(at("median"), "must be > 0 (got 0s)");
                return None;
            }
            if p99 <= median {
                issues.push(at("p99"), format!("must be > median ({median}) (got {p99})"));
                return None;
            }
            Dist::lognormal_from_median_p99(median, p99)
        }
        (None, None, Some(mu), Some(sigma)) => {
            if !(sigma.is_finite() && sigma > 0.0) {
                issues.push(at("sigma"), format!("must be > 0 (got {sigma})"));
                return None;
            }
            if !mu.is_finite() {
                issues.push(at("mu"), format!("must be finite (got {mu})"));
                return None;
            }
            Dist::lognormal(mu, sigma)
        }
        _ => {
            issues.push(
                path,
                "lognormal takes either `median` and `p99` (durations) or `mu` and `sigma` \
                 (of ln seconds), not a mix",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn sample_mean_secs(dist: &Dist, n: usize) -> f64 {
        let mut rng = stream(1, "test");
        (0..n).map(|_| dist.sample(&mut rng).as_secs_f64()).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_the_stated_means() {
        let ms = SimDuration::from_millis;
        let dists = [
            Dist::exponential(ms(10)),
            Dist::Uniform { min_ns: ms(1).as_nanos(), max_ns: ms(3).as_nanos() },
            Dist::lognormal_from_median_p99(ms(5), ms(50)).unwrap(),
            Dist::gamma(2.5, ms(8)).unwrap(),
            Dist::Empirical(vec![ms(1), ms(2), ms(6)]),
        ];
        for dist in &dists {
            let got = sample_mean_secs(dist, 200_000);
            let want = dist.mean_secs();
            assert!((got - want).abs() / want < 0.02, "{dist:?}: mean {got} vs {want}");
        }
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = Dist::lognormal_from_median_p99(
            SimDuration::from_millis(5),
            SimDuration::from_millis(50),
        )
        .unwrap();
        let mut rng = stream(3, "lognormal");
        let mut xs: Vec<u64> = (0..100_000).map(|_| d.sample(&mut rng).as_nanos()).collect();
        xs.sort_unstable();
        let median = xs[50_000] as f64 / 1e6;
        let p99 = xs[99_000] as f64 / 1e6;
        assert!((median - 5.0).abs() < 0.15, "median {median} ms");
        assert!((p99 - 50.0).abs() < 3.0, "p99 {p99} ms");
    }

    #[test]
    fn specs_report_every_broken_rule_with_its_path() {
        let spec = DistSpec {
            min: Some("5ms".into()),
            max: Some("1ms".into()),
            ..DistSpec::of(DistKind::Uniform)
        };
        let mut issues = Issues::new();
        assert!(spec.check("svc", &mut issues).is_none());
        assert_eq!(issues.iter().next().unwrap().path, "svc.max");

        let spec = DistSpec {
            values: Some(vec!["1ms".into(), "x".into(), "2 parsecs".into()]),
            mean: Some("1s".into()),
            ..DistSpec::of(DistKind::Empirical)
        };
        let mut issues = Issues::new();
        assert!(spec.check("svc", &mut issues).is_none());
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["svc.mean", "svc.values[1]", "svc.values[2]"]);
    }
}
