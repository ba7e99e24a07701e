//! Burst spreads (issue 15): the shape of `scenarios/bench/burst-400ms.toml` — three-tier, 500
//! items, every user in one normal burst — with the burst's spread at 1 ms, 10 ms, 100 ms,
//! 400 ms, 600 ms, 1 s and 10 s, at 100,000 and 1,000,000 users. A spread packs the clicks, and
//! with them the retries and replies, into a span of simulated time of that width; the calendar
//! must cost about the same per event whatever the span. Each case prints its events per second
//! (median of its runs, the whole run included: traffic generated, events simulated, summary
//! built) and that rate against the best case of the same population, flagged when the best is
//! more than 1.5× faster (the target).
//!
//! `cargo bench -p models --bench burst` runs everything (about a minute on a 2-core machine);
//! `-- 100k` or `-- 1M` runs one population. One variant, so one core: other load on the machine
//! moves the figures, so run it on a quiet machine and read the ratios.

use std::path::Path;
use std::time::Instant;

const SPREADS: [&str; 7] = ["1ms", "10ms", "100ms", "400ms", "600ms", "1s", "10s"];

/// The populations, their labels, and the timed runs of each case (the median is reported).
const POPULATIONS: [(u32, &str, usize); 2] = [(100_000, "100k", 7), (1_000_000, "1M", 3)];

/// The bound: every case within this factor of the best case's events per second.
const WITHIN: f64 = 1.5;

struct Case {
    spread: &'static str,
    events: u64,
    median_s: f64,
}

impl Case {
    fn rate(&self) -> f64 {
        self.events as f64 / self.median_s
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else selects populations by label.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    for (users, label, runs) in POPULATIONS {
        if !filters.is_empty() && !filters.iter().any(|f| f == label) {
            continue;
        }
        let cases: Vec<Case> = SPREADS.iter().map(|&spread| measure(users, spread, runs)).collect();
        report(label, runs, &cases);
    }
}

/// Runs the case `runs` times after one untimed run; the median wall time and the event count.
fn measure(users: u32, spread: &'static str, runs: usize) -> Case {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bench/burst-400ms.toml");
    let profile = format!(
        "traffic.profile.bursts[0].spread=\"{spread}\"" // the burst's σ (shape normal)
    );
    let sets: Vec<sim::config::Override> = [format!("traffic.users={users}"), profile]
        .iter()
        .map(|s| s.parse().expect("valid override"))
        .collect();
    let scenario = models::load(&file, &sets).expect("bundled scenario is valid");
    let events = models::run::run_scenario(&scenario, None).expect("runs").engine.events;
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let summary = models::run::run_scenario(&scenario, None).expect("runs");
            let elapsed = start.elapsed().as_secs_f64();
            assert_eq!(summary.engine.events, events, "a run is deterministic");
            elapsed
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Case { spread, events, median_s: times[runs / 2] }
}

/// Prints one population's table: events/s per spread and the best case's rate against each.
fn report(label: &str, runs: usize, cases: &[Case]) {
    let best = cases.iter().map(Case::rate).fold(0.0, f64::max);
    println!("\nburst spreads at {label} users (median of {runs} runs, one core)");
    println!(
        "{:>7} {:>12} {:>10} {:>14} {:>10}",
        "spread", "events", "median s", "M events/s", "best/this"
    );
    let mut outside = Vec::new();
    for case in cases {
        let ratio = best / case.rate();
        let flag = if ratio > WITHIN { "  outside 1.5×" } else { "" };
        if ratio > WITHIN {
            outside.push(case.spread);
        }
        println!(
            "{:>7} {:>12} {:>10.3} {:>14.2} {:>9.2}×{flag}",
            case.spread,
            case.events,
            case.median_s,
            case.rate() / 1e6,
            ratio
        );
    }
    if outside.is_empty() {
        println!("every case within {WITHIN}× of the best");
    } else {
        println!("outside {WITHIN}× of the best: {}", outside.join(", "));
    }
}
