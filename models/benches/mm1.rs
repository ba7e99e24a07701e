//! End-to-end speed: the 1,000,000-customer M/M/1 scenario, loaded and simulated through the
//! same library calls as `flashsim run` (process start and file writing excluded).

use std::path::Path;

use divan::counter::ItemsCount;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn mm1_one_million_customers(bencher: divan::Bencher) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bench/mm1-1m.toml");
    let scenario = models::load(&file, &[]).expect("bundled scenario is valid");
    bencher.counter(ItemsCount::new(2_000_000u64)).bench(|| {
        let summary = models::run::run_scenario(&scenario, None).expect("runs");
        assert_eq!(summary.engine.events, 2_000_000);
        summary
    });
}
