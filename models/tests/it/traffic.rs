//! Generated traffic against its profile: a χ² goodness-of-fit test (statrs quantiles), and
//! over-dispersion of per-100 ms counts for bursty profiles.

use std::path::Path;

use models::traffic::profile::Profile;
use models::traffic::{ClickKind, Population, Traffic};
use sim::SimTime;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Validated traffic from a `[traffic]` table body.
fn traffic(body: &str) -> Traffic {
    let text = format!(
        "[sale]\nstock = 10\nopens_at = \"60s\"\n[traffic]\n{body}\n\
         [[variant]]\nname = \"v\"\narchitecture = \"naive_db\"\n"
    );
    let scn = models::scenario::from_text(Path::new("traffic.toml"), &text, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    scn.sale.unwrap().traffic
}

const OPENS: SimTime = SimTime::from_nanos(60_000_000_000);

fn first_click_offsets_s(pop: &Population) -> Vec<f64> {
    pop.clicks
        .iter()
        .filter(|c| c.kind == ClickKind::First)
        .map(|c| (c.time.as_nanos() as f64 - OPENS.as_nanos() as f64) * 1e-9)
        .collect()
}

/// Pearson's χ² of `offsets` against `profile` over equal-width bins of [lo, hi]; returns the
/// statistic and the 99.9% critical value.
fn chi_square(offsets: &[f64], profile: &Profile, lo: f64, hi: f64, bins: usize) -> (f64, f64) {
    let width = (hi - lo) / bins as f64;
    let mut observed = vec![0f64; bins];
    for x in offsets {
        let i = (((x - lo) / width).floor() as isize).clamp(0, bins as isize - 1) as usize;
        observed[i] += 1.0;
    }
    let n = offsets.len() as f64;
    let mut stat = 0.0;
    let mut used = 0;
    for (i, obs) in observed.iter().enumerate() {
        let a = if i == 0 { f64::NEG_INFINITY } else { lo + i as f64 * width };
        let b = if i == bins - 1 { f64::INFINITY } else { lo + (i + 1) as f64 * width };
        let expected = n * (profile.cdf(b) - profile.cdf(a));
        if expected >= 5.0 {
            stat += (obs - expected).powi(2) / expected;
            used += 1;
        }
    }
    let critical = ChiSquared::new((used - 1) as f64).unwrap().inverse_cdf(0.999);
    (stat, critical)
}

const WINDOWS: &str = r#"users = 200_000
profile = { kind = "windows", windows = [
  { from = "-5s", until = "-1.8s", share = 0.300 },
  { from = "-1.8s", until = "0s", share = 0.573 },
  { from = "0s", until = "10s", share = 0.127 },
] }"#;

const BURSTS: &str = r#"users = 200_000
profile = { kind = "bursts", bursts = [
  { at = "0s", spread = "300ms", share = 0.6 },
  { at = "-2s", spread = "1s", share = 0.3, shape = "uniform" },
  { at = "0s", spread = "2s", share = 0.1, shape = "exponential" },
] }"#;

#[test]
fn click_times_fit_the_windows_profile() {
    let t = traffic(WINDOWS);
    let pop = t.generate(7, OPENS, false);
    let (stat, critical) = chi_square(&first_click_offsets_s(&pop), &t.profile, -5.0, 10.0, 150);
    assert!(stat < critical, "χ² {stat:.1} ≥ {critical:.1}");
}

#[test]
fn click_times_fit_a_burst_mixture() {
    let t = traffic(BURSTS);
    let pop = t.generate(7, OPENS, false);
    let (stat, critical) = chi_square(&first_click_offsets_s(&pop), &t.profile, -4.0, 6.0, 100);
    assert!(stat < critical, "χ² {stat:.1} ≥ {critical:.1}");
}

#[test]
fn the_fit_test_rejects_the_wrong_profile() {
    // The same clicks judged against the other profile must fail: the test can fail.
    let windows = traffic(WINDOWS);
    let bursts = traffic(BURSTS);
    let pop = windows.generate(7, OPENS, false);
    let (stat, critical) =
        chi_square(&first_click_offsets_s(&pop), &bursts.profile, -5.0, 10.0, 150);
    assert!(stat > 10.0 * critical, "χ² {stat:.1} should far exceed {critical:.1}");
}

/// Index of dispersion (variance ÷ mean) of click counts per 100 ms over [from, until) s.
fn dispersion(pop: &Population, from: f64, until: f64) -> f64 {
    let bins = ((until - from) / 0.1).round() as usize;
    let mut counts = vec![0f64; bins];
    for x in first_click_offsets_s(pop) {
        if x >= from && x < until {
            counts[((x - from) / 0.1) as usize] += 1.0;
        }
    }
    let mean = counts.iter().sum::<f64>() / bins as f64;
    let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (bins - 1) as f64;
    var / mean
}

#[test]
fn bursty_profiles_are_over_dispersed_and_a_flat_one_is_not() {
    let bursty = traffic(WINDOWS).generate(3, OPENS, false);
    let d = dispersion(&bursty, -5.0, 10.0);
    assert!(d > 50.0, "index of dispersion {d:.1} for the case-study profile");
    let mixture = traffic(BURSTS).generate(3, OPENS, false);
    assert!(dispersion(&mixture, -4.0, 6.0) > 50.0);
    // One uniform window: counts are multinomial, dispersion ≈ 1.
    let flat = traffic(
        r#"users = 100_000
profile = { kind = "windows", windows = [{ from = "0s", until = "10s", share = 1.0 }] }"#,
    )
    .generate(3, OPENS, false);
    let d = dispersion(&flat, 0.0, 10.0);
    assert!((0.7..1.3).contains(&d), "flat profile dispersion {d:.2}");
}

#[test]
fn duplicate_clicks_reach_the_configured_share() {
    let t = traffic(&format!(
        "{WINDOWS}\nduplicates = {{ share = 0.35, extra_clicks = 2.0, gap = {{ kind = \"constant\", value = \"100ms\" }} }}"
    ));
    let pop = t.generate(11, OPENS, false);
    let duplicates = pop.clicks.iter().filter(|c| c.kind == ClickKind::Duplicate).count() as f64;
    let share = duplicates / pop.clicks.len() as f64;
    // 0.35 × 2 = 0.7 repeats per user: 0.7 / 1.7 ≈ 41% of clicks.
    assert!((share - 0.7 / 1.7).abs() < 0.01, "repeat share {share:.3}");
}

#[test]
fn a_csv_trace_is_replayed_in_shape() {
    let dir = std::env::temp_dir().join(format!("flashsim-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("counts.csv"), "start_s,count\n-1,100\n0,300\n1,0\n2,100\n").unwrap();
    let text = "[sale]\nstock = 10\nopens_at = \"60s\"\n[traffic]\nusers = 50_000\n\
        profile = { kind = \"trace\", file = \"counts.csv\", format = \"counts\", interval = \"1s\" }\n\
        [[variant]]\nname = \"v\"\narchitecture = \"naive_db\"\n";
    let scn = models::scenario::from_text(&dir.join("s.toml"), text, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let pop = scn.sale.unwrap().traffic.generate(1, OPENS, false);
    let offsets = first_click_offsets_s(&pop);
    let share = |a: f64, b: f64| {
        offsets.iter().filter(|x| **x >= a && **x < b).count() as f64 / offsets.len() as f64
    };
    assert!((share(0.0, 1.0) - 0.6).abs() < 0.01);
    assert_eq!(share(1.0, 2.0), 0.0, "an empty interval gets no clicks");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_observed_traffic_counts_every_request_sent_by_kind() {
    // Clicks from 2 s before the opening, duplicates, and a queue_stream variant that polls:
    // every kind appears, and the log's counts are the attempts.
    let text = r#"[run]
seed = 3
[sale]
stock = 50
opens_at = "5s"
[traffic]
users = 2000
profile = { kind = "windows", windows = [{ from = "-2s", until = "1s", share = 1.0 }] }
reaction = { kind = "lognormal", median = "250ms", p99 = "1.5s" }
duplicates = { share = 0.3, extra_clicks = 1.0, gap = { kind = "exponential", mean = "100ms" } }
bots = { users = 20, interval = "200ms" }
[[variant]]
name = "tt"
architecture = "three_tier_redis"
[[variant]]
name = "qs"
architecture = "queue_stream"
"#;
    let scn = models::scenario::from_text(Path::new("observed.toml"), text, &[]).unwrap();
    let s = models::run::run_scenario(&scn, None).unwrap();
    for v in &s.variants {
        let m = v.metrics.as_ref().unwrap();
        let (o, k) = (&m.traffic_observed, &m.attempts_by_kind);
        assert_eq!(o.requests, m.attempts, "{}", v.name);
        assert_eq!((o.first, o.duplicate, o.poll, o.bot), (k.first, k.duplicate, k.poll, k.bot));
        assert_eq!(o.reclick + o.retry, k.retry, "re-clicks are the retries after \"not open\"");
        assert!(o.reclick > 0 && o.duplicate > 0 && o.bot > 0, "{o:?}");
        let before = o.share_last_5s_before_opening;
        assert!(before > 0.0 && before < 1.0);
        assert!(o.peak_100ms_per_s >= o.peak_1s_per_s && o.peak_width_s > 0.0);
    }
    let qs = s.variants.iter().find(|v| v.name == "qs").unwrap().metrics.as_ref().unwrap();
    assert!(qs.traffic_observed.poll > 0);
}

#[test]
fn a_disabled_button_holds_early_clicks_until_the_users_own_clock_says_open() {
    // Clicks intended over the 10 s before the opening, clocks off by up to 200 ms.
    let t = traffic(
        "users = 5000\nclock_skew = \"200ms\"\n\
         profile = { kind = \"windows\", windows = [{ from = \"-10s\", until = \"0s\", share = 1.0 }] }",
    );
    let (held, free) = (t.generate(7, OPENS, true), t.generate(7, OPENS, false));
    let skew = 0.2 + 1e-9;
    let held_offsets = first_click_offsets_s(&held);
    assert!(held_offsets.iter().all(|&s| (-skew..=skew).contains(&s)), "all at the opening ± skew");
    // A fast clock opens the button early: some clicks go before the opening, none much before.
    assert!(held_offsets.iter().any(|&s| s < 0.0) && held_offsets.iter().any(|&s| s > 0.0));
    assert!(first_click_offsets_s(&free).iter().any(|&s| s < -5.0), "without it, clicks spread");
}

/// A three-tier sale whose buyers click over the 3 s before the opening, twice on average.
fn pre_open_sale(pre_open: &str, variants: &str) -> models::summary::Summary {
    let text = format!(
        r#"[run]
seed = 9
[sale]
stock = 100
opens_at = "5s"
pre_open = "{pre_open}"
[traffic]
users = 3000
profile = {{ kind = "windows", windows = [{{ from = "-3s", until = "0s", share = 1.0 }}] }}
reaction = {{ kind = "lognormal", median = "250ms", p99 = "1.5s" }}
duplicates = {{ share = 0.5, extra_clicks = 2.0, gap = {{ kind = "exponential", mean = "150ms" }} }}
{variants}"#
    );
    let scn = models::scenario::from_text(Path::new("pre-open.toml"), &text, &[]).unwrap();
    models::run::run_scenario(&scn, None).unwrap()
}

fn gateway_arrivals(s: &models::summary::Summary, variant: &str) -> u64 {
    let v = s.variants.iter().find(|v| v.name == variant).unwrap();
    // Every request past the rate limit asks for a thread (the default thread pool).
    v.stations.iter().find(|st| st.name == "gateway_threads").unwrap().report.arrivals
}

#[test]
fn the_countdown_can_be_answered_at_the_edge_or_the_button_held_until_the_opening() {
    let tt = "[[variant]]\nname = \"tt\"\narchitecture = \"three_tier_redis\"\n";
    let (origin, edge, held) =
        (pre_open_sale("origin", tt), pre_open_sale("edge", tt), pre_open_sale("disabled", tt));
    let not_open = |s: &models::summary::Summary| {
        s.variants[0]
            .metrics
            .as_ref()
            .unwrap()
            .outcomes
            .get(models::sale::outcome::Outcome::NotOpen)
    };
    // At the edge every early request is answered "not open" (duplicates too, before the
    // de-duplication), and none of them reach the gateway.
    assert!(not_open(&origin) > 1000);
    assert!(not_open(&edge) >= not_open(&origin));
    let (at_edge, at_origin) = (gateway_arrivals(&edge, "tt"), gateway_arrivals(&origin, "tt"));
    assert!(at_edge * 10 < at_origin * 9, "gateway arrivals: {at_edge} vs {at_origin}");
    // A button held until the opening sends nothing early: no "not open" at all.
    assert_eq!(not_open(&held), 0);
    let first_5s = |s: &models::summary::Summary| {
        s.variants[0].metrics.as_ref().unwrap().traffic_observed.share_last_5s_before_opening
    };
    assert!(first_5s(&held) < 0.05 && first_5s(&origin) > 0.3);
}

#[test]
fn a_held_request_is_the_purchase_passed_on_from_the_opening_at_the_release_rate() {
    // 3,000 buyers click over the 3 s before the opening; held requests go on at 1k/s, so
    // the last leaves about 3 s after the opening, up to 6 s after it was sent — past the 3 s
    // timeout, had the client's timer not waited for the release.
    // (No edge de-duplication: a dropped repeat told "processing" after its first request was
    // answered waits for the timeout, which would blur the check.)
    let variants = "[[variant]]\nname = \"tt\"\narchitecture = \"three_tier_redis\"\n\
                    [variant.cdn]\ndedupe = false\n\
                    [[variant]]\nname = \"naive\"\narchitecture = \"naive_db\"\n\
                    [variant.db]\nguard = \"for_update\"\n";
    let (origin, held) = (
        pre_open_sale("origin", variants),
        pre_open_sale("hold\"\nhold_release_rate = \"1k/s", variants),
    );
    let m = |s: &models::summary::Summary, name: &str| {
        s.variants.iter().find(|v| v.name == name).unwrap().metrics.clone().unwrap()
    };
    let (tt, tt_origin) = (m(&held, "tt"), m(&origin, "tt"));
    use models::sale::outcome::Outcome;
    assert_eq!(tt.outcomes.get(Outcome::NotOpen), 0, "nothing early is answered \"not open\"");
    assert_eq!(tt.outcomes.get(Outcome::TimedOut), 0, "timers run from the release");
    assert_eq!(tt.traffic_observed.reclick, 0);
    assert!(tt.traffic_observed.retry * 50 < tt.traffic_observed.requests, "few failures");
    assert!(tt_origin.traffic_observed.reclick > 1000, "with origin the early buyers click again");
    assert_eq!(tt.traffic_digest, tt_origin.traffic_digest, "the same clicks");
    // The early requests are the purchases: most requests now come before the opening.
    let early =
        |m: &models::summary::sale::SaleMetrics| m.traffic_observed.share_last_5s_before_opening;
    assert!(early(&tt) > 0.8 && early(&tt_origin) < 0.6, "{} vs {}", early(&tt), early(&tt_origin));
    // Every request that reached the tier before the opening was held, and the release took
    // one millisecond each.
    let hold = tt.pre_open_hold.clone().unwrap();
    let gateway = gateway_arrivals(&held, "tt");
    assert_eq!(hold.held, hold.peak_held, "all held at once before the opening");
    assert!(hold.held > 2000 && hold.held <= gateway, "{hold:?}, {gateway} at the gateway");
    let drain = (hold.held - 1) as f64 / 1000.0;
    assert!((hold.drained_after_opening_s - drain).abs() < 1e-9, "{hold:?}");
    assert_eq!((tt.sold, tt.oversold, tt.limit_violations), (100, 0, 0));
    assert!(origin.variants[0].metrics.as_ref().unwrap().pre_open_hold.is_none());
    // Without a CDN the load balancer holds them, duplicates included.
    let naive = m(&held, "naive");
    assert_eq!(naive.outcomes.get(Outcome::NotOpen), 0);
    let naive_held = naive.pre_open_hold.unwrap().held;
    // The same requests, but for the few the edge's delay carries past the opening.
    assert!(naive_held >= hold.held && naive_held * 100 < hold.held * 101, "{naive_held}");
    assert_eq!((naive.sold, naive.oversold), (100, 0));
}

#[test]
fn a_deduplicated_request_answered_processing_is_not_retried() {
    let variant = |name: &str, answer: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n\
             [variant.cdn]\ndedupe = true\ndedupe_answer = \"{answer}\"\n"
        )
    };
    let s = pre_open_sale(
        "origin",
        &(variant("retryable", "retryable") + &variant("processing", "processing")),
    );
    let m =
        |name: &str| s.variants.iter().find(|v| v.name == name).unwrap().metrics.clone().unwrap();
    let (retryable, processing) = (m("retryable"), m("processing"));
    assert_eq!(retryable.traffic_digest, processing.traffic_digest);
    assert!(
        processing.traffic_observed.retry < retryable.traffic_observed.retry,
        "retries: {} answered processing, {} answered as a failure",
        processing.traffic_observed.retry,
        retryable.traffic_observed.retry
    );
    assert_eq!((processing.oversold, retryable.oversold), (0, 0));
}

/// Variance ÷ mean of the first clicks' counts in 20 s windows over [0, 2000 s) after opening.
fn fano_factor(clustering: &str) -> (f64, usize) {
    let t = traffic(&format!(
        "users = 100_000\n\
         profile = {{ kind = \"windows\", windows = [{{ from = \"0s\", until = \"2000s\", share = 1.0 }}] }}\n\
         {clustering}"
    ));
    let pop = t.generate(17, OPENS, false);
    let offsets = first_click_offsets_s(&pop);
    let mut counts = vec![0f64; 100];
    for x in &offsets {
        if (0.0..2000.0).contains(x) {
            counts[(x / 20.0) as usize] += 1.0;
        }
    }
    let mean = counts.iter().sum::<f64>() / counts.len() as f64;
    let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (counts.len() - 1) as f64;
    (var / mean, offsets.len())
}

#[test]
fn clustered_buyers_vary_more_than_independent_ones_as_the_hawkes_theory_says() {
    // Fano factor 1 / (1 − α)² over windows much longer than the delay: 1 without clustering,
    // 1.78 at α = 0.25, 4 at α = 0.5 (100 windows: the estimate's own spread is ±15%).
    let (independent, n) = fano_factor("");
    assert_eq!(n, 100_000);
    assert!((0.6..1.5).contains(&independent), "independent buyers: {independent}");
    let clustered = |alpha: f64| {
        let table = format!(
            "[traffic.clustering]\nbranching = {alpha}\ndelay = {{ kind = \"exponential\", mean = \"1s\" }}"
        );
        let (fano, n) = fano_factor(&table);
        assert_eq!(n, 100_000, "the population keeps its size");
        fano
    };
    let (quarter, half) = (clustered(0.25), clustered(0.5));
    assert!((1.3..2.4).contains(&quarter), "α = 0.25: {quarter}");
    assert!((2.8..5.4).contains(&half), "α = 0.5: {half}");
}
