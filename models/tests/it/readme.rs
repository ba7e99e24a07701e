//! The README's figures come from the bundled outputs: its case-study table is checked against
//! a run of `scenarios/edu-live-class.toml`, so the two cannot drift apart.

use models::run::run_scenario;
use models::sale::metrics::SaleMetrics;

use crate::support::{case_study_summary, scenario, workspace};

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(rate: f64) -> String {
    if (rate - 1.0).abs() < 5e-4 { "100%".into() } else { format!("{:.1}%", rate * 100.0) }
}

fn seconds(t: Option<f64>) -> String {
    match t {
        None => "–".into(),
        Some(t) if t < 1.0 => format!("{:.0} ms", t * 1000.0),
        Some(t) => format!("{t:.2} s"),
    }
}

/// A row of the table: its label and how a variant's cell is written.
type Row = (&'static str, Box<dyn Fn(&SaleMetrics) -> String>);

#[test]
fn the_readme_case_study_table_is_what_the_default_run_prints() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let summary = case_study_summary();
    let variants: Vec<SaleMetrics> =
        summary.variants.iter().map(|v| v.metrics.clone().unwrap()).collect();
    let rows: Vec<Row> = vec![
        (
            "payment success rate",
            Box::new(|m| {
                let rate = m.payment.as_ref().and_then(|p| p.payment_success_rate);
                percent(rate.unwrap_or(0.0))
            }),
        ),
        ("order success rate", Box::new(|m| percent(m.order_success_rate.unwrap_or(0.0)))),
        (
            "claimed order rate (unclaimed)",
            Box::new(|m| {
                let rate = m.claimed_order_rate.unwrap_or(0.0);
                format!("{:.1}% ({})", rate * 100.0, thousands(m.unclaimed_orders))
            }),
        ),
        (
            "oversold / undersold",
            Box::new(|m| format!("{} / {}", thousands(m.oversold), thousands(m.undersold))),
        ),
        ("limit violations", Box::new(|m| thousands(m.limit_violations))),
        ("time to sell-out", Box::new(|m| seconds(m.time_to_sell_out_s))),
        ("user latency p99", Box::new(|m| format!("{:.1} s", m.user_latency.p99_s))),
        (
            "buyers with no final answer",
            Box::new(|m| {
                let b = &m.buyers;
                format!("{:.1}%", (b.gave_up_share + b.still_trying_share) * 100.0)
            }),
        ),
    ];
    // The traffic the three-tier variant sent, as the metrics table quotes it.
    let o = &variants[0].traffic_observed;
    let observed = format!(
        "On the case study's three-tier variant: {:.1}% in the last 5 s (the article: 87.3%), \
         repeats {:.1}% of submissions (duplicates alone {:.1}% of requests; the article: 41%), \
         peaks {:.0}k/s over 1 s and {:.0}k/s over 100 ms, width {:.2} s",
        o.share_last_5s_before_opening * 100.0,
        o.repeat_share * 100.0,
        o.duplicate_share * 100.0,
        o.peak_1s_per_s / 1000.0,
        o.peak_100ms_per_s / 1000.0,
        o.peak_width_s,
    );
    assert!(readme.contains(&observed), "README's observed traffic is out of date:\n{observed}");
    // Every stale row at once, so one run gives all that needs updating.
    let stale: Vec<String> = rows
        .iter()
        .map(|(label, cell)| {
            let cells: Vec<String> = variants.iter().map(cell).collect();
            format!("| {label} | {} |", cells.join(" | "))
        })
        .filter(|row| !readme.contains(row))
        .collect();
    assert!(
        stale.is_empty(),
        "README's case-study table is out of date; the run gives\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_gateway_sweep_curve_is_what_the_readme_explains() {
    // `scenarios/sweep-gateway.toml` at its base crowd (100,000 buyers): more instances get
    // more buyers a final answer until the Redis hot shard binds; after that they add little.
    let at = |instances: u32| {
        let sets = [format!("variant[three-tier].gateway.instances={instances}")];
        let s = run_scenario(&scenario("scenarios/sweep-gateway.toml", &sets), None).unwrap();
        s.variants[0].metrics.clone().unwrap()
    };
    let (starved, few, enough, many) = (at(4), at(8), at(32), at(64));
    let half = |m: &SaleMetrics| m.buyers.time_to_final_answer.p50_s;
    assert_eq!(half(&starved), None, "on 4 instances half the buyers never hear back");
    assert!(starved.buyers.gave_up_share > 0.4 && enough.buyers.gave_up_share < 0.01);
    let (p50_8, p50_32, p50_64) =
        (half(&few).unwrap(), half(&enough).unwrap(), half(&many).unwrap());
    assert!(p50_32 < 0.8 * p50_8, "more instances, sooner answers: {p50_8} → {p50_32}");
    assert!((p50_64 - p50_32).abs() < 0.05 * p50_32, "flat once Redis binds: {p50_32} vs {p50_64}");
    for m in [&starved, &few] {
        assert!(m.peak_1s_utilization.gateway_cpu > 0.99, "the cores bind");
    }
    for m in [&enough, &many] {
        assert!(m.peak_1s_utilization.redis_shard.unwrap() > 0.99, "the hot shard binds");
        assert!(m.peak_1s_utilization.gateway_cpu < 0.6);
    }
}

#[test]
fn the_readme_sensitivity_table_is_what_the_runs_give() {
    // Each row of "Sensitivity: what moves the payment-success gap": the case study's
    // three-tier and queue+stream variants with one setting changed, at 40 and 8 instances.
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let rows: [(&str, &str); 5] = [
        ("none (async order path, stock-first script, RPC client)", ""),
        ("`variant[three-tier].orders.path=\"sync\"`", "variant[three-tier].orders.path=\"sync\""),
        ("`traffic.client.profile=\"purchase_page\"`", "traffic.client.profile=\"purchase_page\""),
        (
            "`variant[three-tier].redis.script_order=\"user_first\"`",
            "variant[three-tier].redis.script_order=\"user_first\"",
        ),
        (
            "`variant[three-tier].redis.request_ids=true`",
            "variant[three-tier].redis.request_ids=true",
        ),
    ];
    let cell = |set: &str, instances: u32| {
        let mut sets: Vec<String> = ["three-tier", "queue-stream"]
            .iter()
            .map(|v| format!("variant[{v}].gateway.instances={instances}"))
            .collect();
        if !set.is_empty() {
            sets.push(set.to_string());
        }
        let mut scn = scenario("scenarios/edu-live-class.toml", &sets);
        scn.variants.retain(|v| matches!(v.name(), "three-tier" | "queue-stream"));
        let s = run_scenario(&scn, None).unwrap();
        let rate = |i: usize| {
            let m = s.variants[i].metrics.as_ref().unwrap();
            m.payment.as_ref().unwrap().payment_success_rate.unwrap()
        };
        let (tt, qs) = (rate(0), rate(1));
        let gap = (tt - qs) * 100.0;
        let sign = if gap < 0.0 { "−" } else { "+" };
        format!("{:.1}% / {:.1}% ({sign}{:.1})", tt * 100.0, qs * 100.0, gap.abs())
    };
    let lines: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .iter()
            .map(|(label, set)| {
                scope.spawn(move || format!("| {label} | {} | {} |", cell(set, 40), cell(set, 8)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stale: Vec<&String> = lines.iter().filter(|line| !readme.contains(*line)).collect();
    assert!(
        stale.is_empty(),
        "README's sensitivity table is out of date; the runs give\n{}",
        stale.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
    );
}
