//! The database under a hot row, against what InnoDB does: cheap refusals, the contention
//! collapse of a big pool, the optimistic-concurrency backoff experiment, hot-row batching.

use std::path::Path;

use models::run::run_scenario;
use models::sale::metrics::SaleMetrics;

use crate::support::{case_study_unheld_with, case_study_with, metrics};

#[test]
fn the_version_guard_sells_all_the_stock_on_the_case_studys_traffic() {
    // The article's "row lock + version": a version conflict is found by a cheap conditional
    // update, not after a full commit, so the hot row keeps selling.
    let scn = case_study_with(
        "[[variant]]\nname = \"version\"\narchitecture = \"three_tier_redis\"\n\
         [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
         [variant.db]\npool = 32\nguard = \"version\"\n",
    );
    let m = metrics(&run_scenario(&scn, None).unwrap(), "version");
    assert!(m.failures.version_conflicts > 1000, "{} conflicts", m.failures.version_conflicts);
    assert_eq!((m.sold, m.confirmed, m.oversold, m.undersold), (3000, 3000, 0, 0));
}

#[test]
fn a_sixteen_times_bigger_pool_does_not_help_a_naive_design() {
    // 512 connections on one hot row: ~200 wait for the lock, the rest are turned away as
    // deadlock victims only after their checks — and the detection stalls the row.
    let variant = |pool: u32| {
        format!(
            "[[variant]]\nname = \"pool-{pool}\"\narchitecture = \"naive_db\"\n\
             [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
             [variant.db]\npool = {pool}\nguard = \"for_update\"\n"
        )
    };
    let s = run_scenario(&case_study_with(&(variant(32) + &variant(512))), None).unwrap();
    let (small, big) = (metrics(&s, "pool-32"), metrics(&s, "pool-512"));
    assert!(big.failures.deadlock_victims > 0 && small.failures.deadlock_victims == 0);
    assert!(
        big.claimed_order_rate <= small.claimed_order_rate,
        "claimed {:?} with 512 vs {:?} with 32",
        big.claimed_order_rate,
        small.claimed_order_rate
    );
    assert!(big.user_latency.p50_s >= small.user_latency.p50_s);
    assert!(big.user_latency.p99_s >= small.user_latency.p99_s);
    assert!(big.time_to_sell_out_s.unwrap() > small.time_to_sell_out_s.unwrap());
}

/// `clients` buyers click at the opening, one unit each; every version conflict fails the
/// request and the client backs off with `retry`, without limit.
fn occ_experiment(retry: &str, seed: u64) -> SaleMetrics {
    let text = format!(
        r#"[run]
seed = {seed}
[sale]
stock = 100
opens_at = "1s"
[traffic]
users = 100
profile = {{ kind = "windows", windows = [{{ from = "0s", until = "1ms", share = 1.0 }}] }}
[traffic.client]
timeout = "60s"
retry = "{retry}"
base = "100ms"
cap = "10s"
max_attempts = 1000
[[variant]]
name = "occ"
architecture = "naive_db"
[variant.db]
pool = 100
guard = "version"
occ_retries = 0
"#
    );
    let scn = models::scenario::from_text(Path::new("occ.toml"), &text, &[]).unwrap();
    metrics(&run_scenario(&scn, None).unwrap(), "occ")
}

#[test]
fn full_jitter_makes_fewer_calls_and_finishes_sooner_than_exponential_backoff() {
    // The classic optimistic-concurrency experiment (Brooker, "Exponential backoff and
    // jitter"): N clients, one row, a conditional write per call.
    // Here the row lock serialises the conditional writes (a refusal holds it for its
    // statement), which spreads the failures as jitter would, so the gap in calls is smaller
    // than in the lock-free original; it is summed over four seeds so luck cannot decide.
    let (mut calls_plain, mut calls_jitter) = (0, 0);
    for seed in 1..=4 {
        let (plain, jitter) =
            (occ_experiment("exponential", seed), occ_experiment("full_jitter", seed));
        for m in [&plain, &jitter] {
            assert_eq!((m.sold, m.users_with_item, m.limit_violations), (100, 100, 0));
            assert_eq!(m.oversold, 0);
        }
        calls_plain += plain.attempts;
        calls_jitter += jitter.attempts;
        let (t_plain, t_jitter) =
            (plain.time_to_sell_out_s.unwrap(), jitter.time_to_sell_out_s.unwrap());
        assert!(
            t_jitter < t_plain,
            "seed {seed}: finished at {t_jitter} s with full jitter, {t_plain} s without"
        );
    }
    assert!(
        calls_jitter < calls_plain,
        "calls: {calls_jitter} with full jitter, {calls_plain} without"
    );
}

#[test]
fn batching_same_row_updates_raises_the_hot_rows_throughput() {
    // Three-tier on the case study's traffic: with group updates the 3,000 final writes share
    // commits, so the stock row drains several times faster.
    let variant = |name: &str, batching: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n\
             [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
             [variant.db]\npool = 32\nguard = \"conditional\"\n{batching}"
        )
    };
    let scn = case_study_with(
        &(variant("one-by-one", "") + &variant("grouped", "batching = true\nmax_batch = 64\n")),
    );
    let s = run_scenario(&scn, None).unwrap();
    let (one, grouped) = (metrics(&s, "one-by-one"), metrics(&s, "grouped"));
    assert_eq!((one.sold, grouped.sold), (3000, 3000));
    let (t_one, t_grouped) = (one.time_to_sell_out_s.unwrap(), grouped.time_to_sell_out_s.unwrap());
    assert!(t_grouped * 3.0 < t_one, "sold out after {t_grouped} s grouped, {t_one} s one by one");
    assert!(grouped.claimed_order_rate > one.claimed_order_rate);
}

#[test]
fn split_stock_rows_sell_in_parallel_and_undersell_when_buyers_cannot_move_between_rows() {
    // Three-tier on the case study's traffic, the stock over 8 rows with a lock each.
    let variant = |name: &str, rows: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n\
             [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
             [variant.db]\npool = 32\nguard = \"conditional\"\n{rows}"
        )
    };
    let scn = case_study_with(
        &(variant("one-row", "")
            + &variant("rows-next", "stock_rows = 8\n")
            + &variant("rows-sold-out", "stock_rows = 8\non_empty_row = \"sold_out\"\n")),
    );
    let s = run_scenario(&scn, None).unwrap();
    let (one, next, stuck) =
        (metrics(&s, "one-row"), metrics(&s, "rows-next"), metrics(&s, "rows-sold-out"));
    let stations = |name: &str| {
        let v = s.variants.iter().find(|v| v.name == name).unwrap();
        v.stations.iter().filter(|st| st.name.starts_with("stock_row_lock")).count()
    };
    assert_eq!((stations("one-row"), stations("rows-next")), (1, 8), "a lock per row");
    // Eight locks drain the reservations several times faster, and a request that finds its
    // row empty moves on: everything sells.
    assert_eq!((one.sold, next.sold, next.undersold), (3000, 3000, 0));
    let (t_one, t_next) = (one.time_to_sell_out_s.unwrap(), next.time_to_sell_out_s.unwrap());
    assert!(t_next * 3.0 < t_one, "sold out after {t_next} s on 8 rows, {t_one} s on one");
    // Told "sold out" by an empty row while others hold stock, and Redis brought down with
    // it: units stay on the other rows, unsold.
    assert!(stuck.failures.empty_row_refusals > 0);
    assert!(stuck.undersold > 0, "undersold {}", stuck.undersold);
    assert_eq!(stuck.sold + stuck.stock_left_db as u64, 3000);
    assert_eq!(stuck.oversold, 0);
}

#[test]
fn a_batch_window_gathers_groups_at_low_load() {
    // 600 buyers over 2 s for 600 units: the row is at ~40% (≈ 750 sales/s), so without a
    // window a group is rarely more than one update; a 20 ms window lets arrivals join it.
    let variant = |name: &str, window: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"naive_db\"\n\
             [variant.db]\npool = 64\nguard = \"conditional\"\nbatching = true\n{window}"
        )
    };
    let text = crate::mechanisms::sale(
        600,
        600,
        "",
        &(variant("no-window", "") + &variant("window", "batch_window = \"20ms\"\n")),
    );
    let s = run_scenario(&text, None).unwrap();
    let (plain, windowed) = (metrics(&s, "no-window"), metrics(&s, "window"));
    assert_eq!((plain.sold, windowed.sold), (600, 600));
    assert!(plain.db_commits * 10 > plain.sold * 7, "{} commits for 600", plain.db_commits);
    assert!(
        windowed.db_commits * 4 < plain.db_commits,
        "{} commits with the window, {} without",
        windowed.db_commits,
        plain.db_commits
    );
}

#[test]
fn a_redis_failover_in_the_case_study_leaves_no_unit_stranded_in_redis() {
    // The review's crash run: Redis fails over 2 s after the opening and loses the last 500 ms
    // of decrements. Units the database then has no stock for are answered "sold out" and
    // bring Redis down with it, instead of being given back to Redis for ever (385 were left
    // stranded when every refusal was compensated).
    let scn = case_study_with(
        "[[variant]]\nname = \"three-tier\"\narchitecture = \"three_tier_redis\"\n\
         [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
         [variant.redis]\nshards = 3\n[variant.db]\npool = 32\nguard = \"conditional\"\n\
         [[fault]]\ncomponent = \"redis\"\nkind = \"crash\"\nat = \"2s\"\nreplication_lag = \"500ms\"\n",
    );
    let m = metrics(&run_scenario(&scn, None).unwrap(), "three-tier");
    assert!(m.failures.lost_redis_writes > 0);
    assert_eq!(m.failures.redis_resyncs, m.failures.lost_redis_writes, "one per lost decrement");
    assert_eq!((m.stock_left_db, m.stock_left_redis), (0, Some(0)));
    assert_eq!((m.sold, m.oversold, m.undersold), (3000, 0, 0));
}

#[test]
fn the_busiest_second_is_at_least_the_runs_mean_and_at_most_full() {
    // The case study's three-tier on 8 instances: the gateway's cores and threads and the pool
    // are full for seconds while their run means are far lower.
    let scn = case_study_with(
        "[[variant]]\nname = \"tt\"\narchitecture = \"three_tier_redis\"\n\
         [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
         [variant.db]\npool = 32\nguard = \"conditional\"\n",
    );
    let s = run_scenario(&scn, None).unwrap();
    let v = &s.variants[0];
    let peak = &v.metrics.as_ref().unwrap().peak_1s_utilization;
    let mean =
        |name: &str| v.stations.iter().find(|st| st.name == name).unwrap().report.utilization;
    for (busiest, station) in [
        (peak.gateway_cpu, "gateway_cores"),
        (peak.gateway_threads.unwrap(), "gateway_threads"),
        (peak.db_pool, "db_pool"),
        (peak.redis_shard.unwrap(), "redis_hot_shard"),
    ] {
        assert!(busiest >= mean(station) - 1e-9 && busiest <= 1.0 + 1e-9, "{station}: {busiest}");
    }
    assert!(peak.gateway_cpu > 0.99 && mean("gateway_cores") < 0.5, "a burst the mean hides");
    let lock = peak.stock_row_lock;
    assert!(lock >= mean("stock_row_lock") - 1e-9 && lock <= 1.0 + 1e-9, "row lock: {lock}");
    // Two computations of the hot shard's busiest second agree: the timeline's 100 ms rows and
    // the station's own tracker.
    let shard = v.stations.iter().find(|st| st.name == "redis_hot_shard").unwrap();
    let own = shard.report.busiest_1s_utilization.unwrap();
    assert!((own - peak.redis_shard.unwrap()).abs() < 1e-6, "{own} vs {:?}", peak.redis_shard);
}

#[test]
fn a_user_first_script_tells_holders_of_their_seat_where_stock_first_says_sold_out() {
    // The case study on 8 instances, early buyers clicking again at the opening: reservations
    // wait on the row past the 3 s timeout, the buyer asks again after the sell-out. The article's script checks stock first and answers
    // "sold out" to a buyer who holds a seat; checking the buyer's count first says "limit
    // reached" — they learn they have one.
    let variant = |name: &str, order: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n\
             [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
             [variant.redis]\nshards = 3\nscript_order = \"{order}\"\n\
             [variant.db]\npool = 32\nguard = \"version\"\n"
        )
    };
    let scn =
        case_study_unheld_with(&(variant("stock", "stock_first") + &variant("user", "user_first")));
    let s = run_scenario(&scn, None).unwrap();
    let (stock, user) = (metrics(&s, "stock"), metrics(&s, "user"));
    assert_eq!((stock.sold, user.sold), (3000, 3000));
    assert!(stock.unclaimed_orders > 500, "{} unclaimed", stock.unclaimed_orders);
    assert!(
        user.unclaimed_orders * 2 < stock.unclaimed_orders,
        "user first: {} unclaimed against {}",
        user.unclaimed_orders,
        stock.unclaimed_orders
    );
    assert!(user.buyers.limit_reached_share > stock.buyers.limit_reached_share);
}
