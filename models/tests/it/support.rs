//! Shared helpers: loading bundled scenarios with overrides, running replications, closed forms.

use std::path::{Path, PathBuf};

use models::Scenario;
use models::run::run_scenario;
use models::summary::{StationSummary, Summary};
use sim::config::Override;
use sim::rng::replication_seed;
use sim::stats::Estimate;

/// The bundled case study's default run, computed once for the tests that read it.
pub fn case_study_summary() -> &'static Summary {
    static SUMMARY: std::sync::OnceLock<Summary> = std::sync::OnceLock::new();
    SUMMARY.get_or_init(|| {
        run_scenario(&scenario("scenarios/edu-live-class.toml", &[]), None).unwrap()
    })
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Loads a bundled scenario (path relative to the workspace) with `--set` style overrides.
pub fn scenario(rel: &str, sets: &[String]) -> Scenario {
    let overrides: Vec<Override> = sets.iter().map(|s| s.parse().unwrap()).collect();
    models::load(&workspace().join(rel), &overrides).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `reps` independent replications (seeds derived from the scenario's seed), two at a time.
pub fn replicate(scenario: &Scenario, reps: u64) -> Vec<Summary> {
    let seed = scenario.run.seed;
    let mut out: Vec<Option<Summary>> = (0..reps).map(|_| None).collect();
    std::thread::scope(|scope| {
        for (lane, chunk) in out.chunks_mut(reps.div_ceil(2) as usize).enumerate() {
            let first = lane as u64 * reps.div_ceil(2);
            scope.spawn(move || {
                for (i, slot) in chunk.iter_mut().enumerate() {
                    let r = first + i as u64;
                    let summary = run_scenario(scenario, Some(replication_seed(seed, r)));
                    *slot = Some(summary.unwrap_or_else(|e| panic!("replication {r}: {e}")));
                }
            });
        }
    });
    out.into_iter().map(Option::unwrap).collect()
}

/// A station of the first variant.
pub fn station<'a>(summary: &'a Summary, name: &str) -> &'a StationSummary {
    summary.variants[0].stations.iter().find(|s| s.name == name).expect("station exists")
}

/// The 99% confidence interval of a per-replication figure.
pub fn estimate(runs: &[Summary], figure: impl Fn(&Summary) -> f64) -> Estimate {
    let samples: Vec<f64> = runs.iter().map(figure).collect();
    Estimate::from_samples(&samples, 0.99)
}

/// Asserts that `theory` lies inside the 99% interval and the interval is tight.
pub fn assert_agrees(what: &str, est: Estimate, theory: f64, max_relative_half_width: f64) {
    let rel = est.half_width / est.mean.abs();
    println!(
        "{what}: theory {theory:.6}, simulated {:.6} ± {:.6} (99%, {:.2}% of the mean)",
        est.mean,
        est.half_width,
        rel * 100.0
    );
    assert!(
        est.contains(theory),
        "{what}: theory {theory} outside the 99% interval {:.6} ± {:.6}",
        est.mean,
        est.half_width
    );
    assert!(
        rel <= max_relative_half_width,
        "{what}: interval too wide to be a real check: ±{:.2}% > ±{:.2}%",
        rel * 100.0,
        max_relative_half_width * 100.0
    );
}

/// Erlang C: probability that an arrival waits in an M/M/c queue with offered load `a` = λ/μ.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    // Stable recursion through Erlang B: B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)).
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / c as f64;
    b / (1.0 - rho * (1.0 - b))
}

/// Stationary distribution of a birth–death chain truncated at `n_max`.
pub fn birth_death(
    n_max: usize,
    birth: impl Fn(usize) -> f64,
    death: impl Fn(usize) -> f64,
) -> Vec<f64> {
    let mut p = vec![1.0f64; n_max + 1];
    for n in 1..=n_max {
        p[n] = p[n - 1] * birth(n - 1) / death(n);
    }
    let total: f64 = p.iter().sum();
    p.iter().map(|x| x / total).collect()
}

#[test]
fn erlang_c_matches_a_textbook_value() {
    // c = 4, a = 3: C = 0.5094 (Kleinrock's tables).
    assert!((erlang_c(4, 3.0) - 0.509_43).abs() < 1e-4);
    assert!((erlang_c(1, 0.8) - 0.8).abs() < 1e-12, "M/M/1: P(wait) = ρ");
}

/// The flash-sale metrics of `variant`.
pub fn metrics(summary: &Summary, variant: &str) -> models::sale::metrics::SaleMetrics {
    summary.variants.iter().find(|v| v.name == variant).unwrap().metrics.clone().unwrap()
}

/// The case study's scenario with its own variants replaced by `variants`, and without its
/// payment stage: these tests look at the sale itself (a cancelled order's unit restocked after
/// the sale would show as stock left).
pub fn case_study_with(variants: &str) -> models::Scenario {
    case_study_text_with(variants, true)
}

/// Like [`case_study_with`], with the crowd of the case study before its calibration on
/// requests: the article's windows read as intent times, and the requests before the opening
/// answered "not open" at the gateway (`pre_open = "origin"`) instead of held — the early
/// buyers click again at the opening, the crowd the resubmission tests are about.
pub fn case_study_unheld_with(variants: &str) -> models::Scenario {
    case_study_text_with(variants, false)
}

fn case_study_text_with(variants: &str, held: bool) -> models::Scenario {
    let file = workspace().join("scenarios/edu-live-class.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut head = text[..text.find("[[variant]]").unwrap()].replace("[sale.payment]\n", "");
    if !held {
        head = head.replace("pre_open = \"hold\"\n", "").replace("hold_release_rate = ", "# ");
        let start = head.find("profile = { kind = \"windows\"").unwrap();
        let end = start + head[start..].find("] }").unwrap() + 3;
        head.replace_range(
            start..end,
            "profile = { kind = \"windows\", windows = [\n\
             { from = \"-5s\", until = \"-1.8s\", share = 0.300 },\n\
             { from = \"-1.8s\", until = \"0s\", share = 0.573 },\n\
             { from = \"0s\", until = \"10s\", share = 0.127 },\n] }",
        );
    }
    models::scenario::from_text(&file, &format!("{head}{variants}"), &[]).unwrap()
}
