//! The engine against queueing theory: each closed form must lie inside the 99% confidence
//! interval of independent replications, and that interval must be tight (half-width ≤ 3% of the
//! mean), so a wrong engine cannot pass by being noisy. Utilisation must match ρ and Little's law
//! L = λW must hold on every station. Parameters are varied with `--set`, as a user would.
//!
//! The quick tests run in the normal suite; the `#[ignore]`d ones are the long sweep over more
//! parameter sets and heavier loads, run once in CI (`cargo test --release -- --ignored`).

use crate::support::*;

const TIGHT: f64 = 0.03;

fn rate(path: &str, per_s: f64) -> String {
    format!("{path}={per_s}/s")
}

const ARRIVAL_RATE: &str = "variant[0].arrival[0].process.rate";

/// Little's law on every station of every replication.
fn check_little(runs: &[models::summary::Summary]) {
    for run in runs {
        for s in &run.variants[0].stations {
            let r = &s.report;
            let l = r.mean_in_system;
            let lambda_w = r.arrival_rate_per_s * r.mean_sojourn_s;
            assert!(
                (l - lambda_w).abs() / l < 0.01,
                "Little's law at `{}`: L = {l:.5} but λW = {lambda_w:.5}",
                s.name
            );
        }
    }
}

/// Utilisation of station `name` against ρ = λ·E[S]/c, computed here from the parameters.
fn check_utilisation(
    runs: &[models::summary::Summary],
    name: &str,
    lambda: f64,
    mean_s: f64,
    c: u32,
) {
    let rho = lambda * mean_s / c as f64;
    let util = estimate(runs, |s| station(s, name).report.utilization);
    assert_agrees(&format!("utilisation of `{name}`"), util, rho, TIGHT);
}

fn mm1(lambda: f64, reps: u64, horizon_s: u64) {
    let sets = [rate(ARRIVAL_RATE, lambda), format!("run.horizon={horizon_s}s")];
    let runs = replicate(&scenario("scenarios/validation/mm1.toml", &sets), reps);
    let mu = 1.0;
    let wq = lambda / mu / (mu - lambda);
    let label = format!("M/M/1 λ={lambda}");
    assert_agrees(
        &format!("{label} Wq"),
        estimate(&runs, |s| station(s, "server").report.mean_wait_s),
        wq,
        TIGHT,
    );
    // Sojourn is Exp(μ − λ): its p-quantile is −ln(1 − p)/(μ − λ).
    for (p, get) in [
        (
            0.5,
            (|s: &models::summary::Summary| station(s, "server").report.p50_sojourn_s)
                as fn(&_) -> f64,
        ),
        (0.9, |s| station(s, "server").report.p90_sojourn_s),
        (0.99, |s| station(s, "server").report.p99_sojourn_s),
    ] {
        let q = -(1.0f64 - p).ln() / (mu - lambda);
        assert_agrees(&format!("{label} sojourn p{}", p * 100.0), estimate(&runs, get), q, TIGHT);
    }
    check_little(&runs);
    check_utilisation(&runs, "server", lambda, 1.0, 1);
}

fn mmc(servers: u32, lambda: f64, reps: u64, horizon_s: u64) {
    let sets = [
        rate(ARRIVAL_RATE, lambda),
        format!("variant[0].station[0].servers={servers}"),
        format!("run.horizon={horizon_s}s"),
    ];
    let runs = replicate(&scenario("scenarios/validation/mmc.toml", &sets), reps);
    let (mu, a) = (1.0, lambda);
    let c = erlang_c(servers, a);
    let wq = c / (servers as f64 * mu - lambda);
    let label = format!("M/M/{servers} λ={lambda}");
    assert_agrees(
        &format!("{label} Wq"),
        estimate(&runs, |s| station(s, "servers").report.mean_wait_s),
        wq,
        TIGHT,
    );
    check_little(&runs);
    check_utilisation(&runs, "servers", lambda, 1.0, servers);
}

fn md1(lambda: f64, reps: u64, horizon_s: u64) {
    let sets = [rate(ARRIVAL_RATE, lambda), format!("run.horizon={horizon_s}s")];
    let runs = replicate(&scenario("scenarios/validation/md1.toml", &sets), reps);
    let (d, rho) = (1.0, lambda);
    let wq = rho * d / (2.0 * (1.0 - rho));
    assert_agrees(
        &format!("M/D/1 λ={lambda} Wq"),
        estimate(&runs, |s| station(s, "server").report.mean_wait_s),
        wq,
        TIGHT,
    );
    check_little(&runs);
    check_utilisation(&runs, "server", lambda, 1.0, 1);
}

fn tandem(lambda: f64, reps: u64, horizon_s: u64) {
    let sets = [rate(ARRIVAL_RATE, lambda), format!("run.horizon={horizon_s}s")];
    let runs = replicate(&scenario("scenarios/validation/tandem.toml", &sets), reps);
    // Station 1: M/M/1, mean service 0.6 s. Station 2: M/M/2, mean service 1.5 s.
    let w1 = 1.0 / (1.0 / 0.6 - lambda);
    let a2 = lambda * 1.5;
    let w2 = erlang_c(2, a2) / (2.0 / 1.5 - lambda) + 1.5;
    let label = format!("tandem λ={lambda}");
    assert_agrees(
        &format!("{label} W1"),
        estimate(&runs, |s| station(s, "first").report.mean_sojourn_s),
        w1,
        TIGHT,
    );
    assert_agrees(
        &format!("{label} W2"),
        estimate(&runs, |s| station(s, "second").report.mean_sojourn_s),
        w2,
        TIGHT,
    );
    assert_agrees(
        &format!("{label} network response"),
        estimate(&runs, |s| s.variants[0].network.as_ref().unwrap().response.mean_s),
        w1 + w2,
        TIGHT,
    );
    check_little(&runs);
    check_utilisation(&runs, "first", lambda, 0.6, 1);
    check_utilisation(&runs, "second", lambda, 1.5, 2);
}

#[test]
fn mm1_matches_closed_form() {
    mm1(0.5, 20, 200_000);
    mm1(0.8, 30, 300_000);
}

#[test]
fn mmc_matches_erlang_c() {
    mmc(4, 3.0, 16, 100_000);
    mmc(2, 1.4, 16, 100_000);
}

#[test]
fn md1_matches_pollaczek_khinchine() {
    md1(0.7, 16, 150_000);
}

#[test]
fn tandem_matches_jackson_product_form() {
    tandem(1.0, 16, 150_000);
}

/// M/M/1/K: an arrival finding K in the system is dropped, with probability
/// P_K = (1 − ρ)ρ^K / (1 − ρ^{K+1}).
#[test]
fn bounded_queue_drops_at_the_mm1k_rate() {
    let sets = [
        rate(ARRIVAL_RATE, 0.9),
        "variant[0].station[0].queue_capacity=4".into(),
        "run.horizon=100000s".into(),
    ];
    let runs = replicate(&scenario("scenarios/validation/mm1.toml", &sets), 16);
    let (rho, k) = (0.9f64, 5);
    let p_k = (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1));
    let est = estimate(&runs, |s| {
        let r = &station(s, "server").report;
        r.dropped as f64 / r.arrivals as f64
    });
    assert_agrees("M/M/1/5 blocking probability", est, p_k, TIGHT);
    check_little_served(&runs);
    // Utilisation = (1 − P_K)·ρ: only admitted jobs use the server.
    check_utilisation(&runs, "server", 0.9 * (1.0 - p_k), 1.0, 1);
}

/// Little's law with drops: the rate that counts is the rate of jobs that stay (dropped jobs
/// spend no time), so check L = λ_served·W.
fn check_little_served(runs: &[models::summary::Summary]) {
    for run in runs {
        for s in &run.variants[0].stations {
            let r = &s.report;
            let served_rate = r.arrival_rate_per_s * (r.served as f64 / r.arrivals as f64);
            let lambda_w = served_rate * r.mean_sojourn_s;
            assert!((r.mean_in_system - lambda_w).abs() / r.mean_in_system < 0.01);
        }
    }
}

/// M/M/1+M (Erlang A): waiting jobs abandon at rate θ each. The abandoning share follows from the
/// birth–death chain with death rate μ + θ(n − 1) in state n ≥ 1.
#[test]
fn reneging_matches_the_erlang_a_chain() {
    let (lambda, mu, theta) = (1.2, 1.0, 0.5);
    // The bundled file has no patience; append one to its station table.
    let text = std::fs::read_to_string(workspace().join("scenarios/validation/mm1.toml")).unwrap()
        + "patience = { kind = \"exponential\", mean = \"2s\" }\n";
    let overrides: Vec<sim::config::Override> =
        [rate(ARRIVAL_RATE, lambda), "run.horizon=100000s".to_string()]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
    let path = std::path::Path::new("mm1-patience.toml");
    let scn =
        models::scenario::from_text(path, &text, &overrides).unwrap_or_else(|e| panic!("{e}"));
    let runs = replicate(&scn, 16);
    let p = birth_death(400, |_| lambda, |n| mu + theta * (n as f64 - 1.0));
    let abandon_rate: f64 =
        p.iter().enumerate().skip(1).map(|(n, pn)| pn * theta * (n as f64 - 1.0)).sum();
    let share = abandon_rate / lambda;
    let est = estimate(&runs, |s| {
        let r = &station(s, "server").report;
        r.reneged as f64 / r.arrivals as f64
    });
    assert_agrees("M/M/1+M abandonment share", est, share, TIGHT);
}

#[test]
#[ignore = "long statistical validation: run in CI with --ignored"]
fn long_sweep_of_parameter_sets() {
    for lambda in [0.3, 0.6, 0.9] {
        mm1(lambda, 24, if lambda > 0.85 { 1_500_000 } else { 300_000 });
    }
    for (c, lambda) in [(1, 0.7), (3, 2.7), (8, 6.0), (16, 14.0)] {
        mmc(c, lambda, 20, 150_000);
    }
    for lambda in [0.4, 0.9] {
        md1(lambda, 20, if lambda > 0.85 { 800_000 } else { 200_000 });
    }
    for lambda in [0.5, 1.2] {
        tandem(lambda, 24, if lambda > 1.0 { 800_000 } else { 200_000 });
    }
}

/// A bundled validation scenario with one line added to its (only) station.
fn with_station_line(rel: &str, line: &str) -> models::Scenario {
    let file = workspace().join(rel);
    let text = std::fs::read_to_string(&file).unwrap() + line + "\n";
    models::scenario::from_text(&file, &text, &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_goroutine_station_shares_its_core_as_processor_sharing() {
    // M/D/1 at ρ = 0.7 run as goroutines: E[T] = D / (1 − ρ) = 3.33 s by the insensitivity of
    // processor sharing (FIFO would give D + ρD / (2(1 − ρ)) = 2.17 s).
    let runs = replicate(
        &with_station_line("scenarios/validation/md1.toml", "execution = \"goroutines\""),
        16,
    );
    let rho = 0.7;
    assert_agrees(
        "M/D/1-PS mean sojourn",
        estimate(&runs, |s| station(s, "server").report.mean_sojourn_s),
        1.0 / (1.0 - rho),
        TIGHT,
    );
    check_little(&runs);
    check_utilisation(&runs, "server", rho, 1.0, 1);
}

#[test]
fn an_event_loop_station_queues_each_loop_apart() {
    // M/M/4 at λ = 3/s with jobs bound at random to 4 loops: four M/M/1 queues at λ/4 each,
    // Wq = ρ / (μ − λ/4) = 3 s — six times the pooled queue's Erlang-C wait (0.51 s).
    let runs = replicate(
        &with_station_line("scenarios/validation/mmc.toml", "execution = \"event_loop\""),
        16,
    );
    let (lambda, mu, c) = (3.0, 1.0, 4.0);
    let rho = lambda / (c * mu);
    assert_agrees(
        "event-loop Wq",
        estimate(&runs, |s| station(s, "servers").report.mean_wait_s),
        rho / (mu - lambda / c),
        TIGHT,
    );
    check_little(&runs);
    check_utilisation(&runs, "servers", lambda, mu, 4);
}
