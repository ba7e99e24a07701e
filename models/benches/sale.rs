//! Flash-sale speed: `scenarios/singles-day.toml` (1,000,000 users, three variants, one shared
//! population), loaded and run through the same library calls as `flashsim run`. Variants run
//! in parallel; set `RAYON_NUM_THREADS=1` for the one-core figure. Peak memory: run the binary
//! (`flashsim run scenarios/singles-day.toml` prints it and writes it to `perf.json`).

use std::path::Path;

use divan::counter::ItemsCount;

fn main() {
    divan::main();
}

#[divan::bench(args = [100_000, 1_000_000], sample_count = 3, sample_size = 1)]
fn singles_day(bencher: divan::Bencher, users: u32) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/singles-day.toml");
    let sets: Vec<sim::config::Override> =
        [format!("traffic.users={users}"), format!("sale.stock={}", users / 20)]
            .iter()
            .map(|s| s.parse().expect("valid override"))
            .collect();
    let scenario = models::load(&file, &sets).expect("bundled scenario is valid");
    let events = models::run::run_scenario(&scenario, None).expect("runs").engine.events;
    bencher
        .counter(ItemsCount::new(events))
        .bench(|| models::run::run_scenario(&scenario, None).expect("runs"));
}
