//! Mechanisms, not knobs: each outcome appears when its guard is off and vanishes when it is on.
//! Also the conservation check under random parameters, common random numbers across variants,
//! and the timeline's consistency with the summary.

use std::path::Path;

use models::run::{RunResults, run_scenario, run_with_timeline};
use models::sale::metrics::SaleMetrics;
use models::summary::Summary;
use models::timelines::SaleRow;
use proptest::prelude::*;

/// A small sale: `users` buyers clicking in the first 2 s of the run, `stock` units.
pub(crate) fn sale(
    users: u32,
    stock: u32,
    traffic_extra: &str,
    variants: &str,
) -> models::Scenario {
    sale_within("2s", users, stock, traffic_extra, variants)
}

/// A small sale whose buyers click within `window` of the run's start.
fn sale_within(
    window: &str,
    users: u32,
    stock: u32,
    traffic_extra: &str,
    variants: &str,
) -> models::Scenario {
    let text = format!(
        r#"[run]
seed = 5
[sale]
stock = {stock}
opens_at = "5s"
[traffic]
users = {users}
profile = {{ kind = "windows", windows = [{{ from = "0s", until = "{window}", share = 1.0 }}] }}
{traffic_extra}
{variants}"#
    );
    models::scenario::from_text(Path::new("mechanism.toml"), &text, &[])
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn metrics(summary: &Summary, variant: &str) -> SaleMetrics {
    summary.variants.iter().find(|v| v.name == variant).unwrap().metrics.clone().unwrap()
}

fn station_arrivals(summary: &Summary, variant: &str, station: &str) -> u64 {
    let v = summary.variants.iter().find(|v| v.name == variant).unwrap();
    v.stations.iter().find(|s| s.name == station).unwrap().report.arrivals
}

#[test]
fn unguarded_naive_db_oversells_only_when_transactions_overlap() {
    let variant = |name: &str, pool: u32| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"naive_db\"\n[variant.db]\npool = {pool}\nguard = \"none\"\n"
        )
    };
    let scn = sale(4000, 100, "", &(variant("pool-16", 16) + &variant("pool-1", 1)));
    let s = run_scenario(&scn, None).unwrap();
    let concurrent = metrics(&s, "pool-16");
    let serial = metrics(&s, "pool-1");
    assert!(concurrent.oversold > 0, "lost updates with 16 connections: {}", concurrent.oversold);
    assert!(concurrent.sold > 100);
    assert_eq!(serial.oversold, 0, "one connection serialises read and write");
    assert!(serial.sold <= 100);
}

#[test]
fn guarded_naive_db_never_oversells() {
    let variants: String = ["for_update", "version", "conditional"]
        .iter()
        .map(|g| format!("[[variant]]\nname = \"{g}\"\narchitecture = \"naive_db\"\n[variant.db]\npool = 16\nguard = \"{g}\"\n"))
        .collect();
    let s = run_scenario(&sale(4000, 100, "", &variants), None).unwrap();
    for g in ["for_update", "version", "conditional"] {
        let m = metrics(&s, g);
        assert_eq!((m.oversold, m.limit_violations), (0, 0), "guard {g}");
        assert!(m.stock_left_db >= 0);
    }
}

fn three_tier(name: &str, script: &str, guard: &str) -> String {
    format!(
        "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n\
         [variant.redis]\nscript = \"{script}\"\n[variant.db]\npool = 16\nguard = \"{guard}\"\n"
    )
}

#[test]
fn non_atomic_redis_over_admits_and_an_unguarded_db_turns_it_into_oversell() {
    let variants = three_tier("atomic", "atomic", "none")
        + &three_tier("get-then-decr", "get_then_decr", "none");
    // A crowd in 200 ms: reads and decrements of different buyers interleave at Redis.
    let s = run_scenario(&sale_within("200ms", 4000, 100, "", &variants), None).unwrap();
    let atomic = metrics(&s, "atomic");
    let racy = metrics(&s, "get-then-decr");
    assert_eq!(atomic.oversold, 0);
    assert!(atomic.redis_min_stock.unwrap() >= 0, "the script never takes stock below zero");
    assert!(racy.redis_min_stock.unwrap() < 0, "interleaved GET/DECR over-admit");
    assert!(racy.oversold > 0, "and with no database guard the surplus is sold");
}

#[test]
fn a_guarded_database_catches_what_non_atomic_redis_over_admits() {
    let s = run_scenario(
        &sale_within(
            "200ms",
            4000,
            100,
            "",
            &three_tier("racy-but-guarded", "get_then_decr", "conditional"),
        ),
        None,
    )
    .unwrap();
    let m = metrics(&s, "racy-but-guarded");
    assert!(m.redis_min_stock.unwrap() < 0);
    assert_eq!(m.oversold, 0, "the conditional update refuses units that are gone");
    // Admitted, then refused by the database: the buyer is told "sold out" and Redis is
    // brought down to the database's stock (not given the unit back).
    assert!(m.failures.redis_resyncs > 0, "admitted, then refused");
    assert_eq!(m.failures.compensations, 0, "a refusal is not a transient failure");
    assert!(m.stock_left_redis.unwrap() <= m.stock_left_db, "no unit stranded in Redis");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Atomic Redis never oversells and never takes stock below zero, whatever the seed, load,
    /// stock and database guard; and every run passes its conservation check.
    #[test]
    fn atomic_three_tier_never_oversells(
        seed in 0u64..1_000_000,
        users in 200u32..3000,
        stock in 1u32..300,
        guard in prop_oneof![Just("none"), Just("conditional"), Just("version"), Just("for_update")],
        pool in 1u32..32,
    ) {
        let variants = format!(
            "[[variant]]\nname = \"v\"\narchitecture = \"three_tier_redis\"\n[variant.db]\npool = {pool}\nguard = \"{guard}\"\n"
        );
        let scn = sale(users, stock, "duplicates = { share = 0.4, extra_clicks = 2.0, gap = { kind = \"exponential\", mean = \"50ms\" } }", &variants);
        let s = run_scenario(&scn, Some(seed)).map_err(TestCaseError::fail)?;
        let m = metrics(&s, "v");
        prop_assert_eq!(m.oversold, 0);
        prop_assert_eq!(m.limit_violations, 0);
        prop_assert!(m.redis_min_stock.unwrap() >= 0);
        prop_assert_eq!(m.outcomes.total(), m.attempts);
        prop_assert_eq!(m.user_outcomes.total(), users as u64);
    }
}

#[test]
fn cdn_dedupe_keeps_repeats_away_from_redis() {
    let dup = "duplicates = { share = 0.5, extra_clicks = 2.0, gap = { kind = \"exponential\", mean = \"100ms\" } }";
    let variant = |name: &str, dedupe: bool| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n[variant.cdn]\ndedupe = {dedupe}\n"
        )
    };
    let s =
        run_scenario(&sale(5000, 100, dup, &(variant("on", true) + &variant("off", false))), None)
            .unwrap();
    let (on, off) = (
        station_arrivals(&s, "on", "redis_hot_shard"),
        station_arrivals(&s, "off", "redis_hot_shard"),
    );
    let deduped = metrics(&s, "on").cdn_deduped;
    let duplicates = metrics(&s, "on").attempts_by_kind.duplicate;
    assert!(duplicates > 4000, "half the users send two extra clicks on average ({duplicates})");
    assert!(
        deduped >= duplicates * 9 / 10,
        "the edge drops the repeats: {deduped} of {duplicates}"
    );
    assert_eq!(metrics(&s, "off").cdn_deduped, 0);
    // Without the edge dedupe every repeat reaches Redis: the increase is the duplicate share.
    let extra = off - on;
    let ratio = extra as f64 / duplicates as f64;
    assert!((0.9..1.1).contains(&ratio), "{extra} more at Redis for {duplicates} duplicate clicks");
}

#[test]
fn a_failed_final_write_strands_stock_unless_compensated() {
    // A lock wait timeout shorter than the queue at the row makes some final writes fail.
    let variant = |name: &str, on_failure: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n[variant.db]\npool = 8\n\
             guard = \"conditional\"\ncommit = {{ kind = \"constant\", value = \"2ms\" }}\n\
             lock_wait_timeout = \"5ms\"\non_failure = \"{on_failure}\"\n"
        )
    };
    let client = "[traffic.client]\nmax_attempts = 10\nretry = \"full_jitter\"\nbase = \"50ms\"\ncap = \"500ms\"";
    let s = run_scenario(
        &sale(5000, 200, client, &(variant("leak", "leak") + &variant("compensate", "compensate"))),
        None,
    )
    .unwrap();
    let leak = metrics(&s, "leak");
    let comp = metrics(&s, "compensate");
    assert!(leak.failures.lock_wait_timeouts > 0 && comp.failures.lock_wait_timeouts > 0);
    assert!(leak.failures.leaked_reservations > 0);
    assert!(leak.undersold > 0, "leaked units are never sold: undersold {}", leak.undersold);
    assert_eq!(comp.failures.leaked_reservations, 0);
    assert!(comp.failures.compensations > 0);
    assert_eq!(comp.undersold, 0, "compensated units are sold to later buyers");
    assert_eq!((leak.oversold, comp.oversold), (0, 0));
}

/// A variant's timeline rows.
pub(crate) fn rows<'a>(r: &'a RunResults, variant: &str) -> &'a [SaleRow] {
    &r.timelines.sale.iter().find(|t| t.variant == variant).unwrap().rows
}

/// A row's start in seconds as the file has it (to the millisecond).
pub(crate) fn start_s(row: &SaleRow) -> f64 {
    (row.t_s * 1e3).round() / 1e3
}

/// Peak attempts per 100 ms between `from` and `until` seconds, for one variant.
fn peak_attempts(r: &RunResults, variant: &str, from: f64, until: f64) -> u64 {
    rows(r, variant)
        .iter()
        .filter(|row| (from..until).contains(&start_s(row)))
        .map(|row| row.attempts)
        .max()
        .unwrap_or(0)
}

#[test]
fn retries_without_jitter_come_back_as_a_wave_and_full_jitter_flattens_it() {
    // 3,000 users click within 50 ms, 5 s before the opening: told "not open", they all click
    // again at the opening (no reaction time configured), a tiny gateway times most of them out
    // 3 s later, and their retries come back after a 1 s backoff: at 9 s without jitter, spread
    // over [8 s, 9 s] with full jitter.
    let text = |policy: &str| {
        format!(
            "[[variant]]\nname = \"{policy}\"\narchitecture = \"naive_db\"\n\
             [variant.gateway]\ninstances = 1\nworkers = 2\nqueue_capacity = 100000\n\
             cpu = {{ kind = \"constant\", value = \"10ms\" }}\n\
             wait = {{ kind = \"constant\", value = \"0s\" }}\n"
        )
    };
    let traffic = "[traffic.client]\nretry = \"exponential\"\nbase = \"1s\"\ncap = \"1s\"\nmax_attempts = 2\n";
    let burst = |policy: &str| {
        let t = traffic.replace("exponential", policy);
        let body = format!(
            "[run]\nseed = 9\n[sale]\nstock = 100\nopens_at = \"5s\"\n[traffic]\nusers = 3000\n\
             profile = {{ kind = \"windows\", windows = [{{ from = \"0s\", until = \"50ms\", share = 1.0 }}] }}\n{t}\n{}",
            text(policy)
        );
        models::scenario::from_text(Path::new("wave.toml"), &body, &[])
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let wave = run_with_timeline(&burst("exponential"), None).unwrap();
    let flat = run_with_timeline(&burst("full_jitter"), None).unwrap();
    // Retries land 3 s (timeout) + backoff after the first clicks at ~5 s.
    let wave_peak = peak_attempts(&wave, "exponential", 8.0, 10.0);
    let flat_peak = peak_attempts(&flat, "full_jitter", 8.0, 10.0);
    let retries = metrics(&wave.summary, "exponential").attempts_by_kind.retry;
    assert!(retries > 2000, "most users time out and retry ({retries})");
    assert!(
        wave_peak as f64 > 0.8 * retries as f64,
        "synchronised: {wave_peak} of {retries} retries in one 100 ms"
    );
    assert!(flat_peak * 4 < wave_peak, "full jitter spreads them: peak {flat_peak} vs {wave_peak}");
}

#[test]
fn variants_see_identical_traffic_and_the_timeline_adds_up() {
    let variants = three_tier("a", "atomic", "conditional")
        + "[[variant]]\nname = \"b\"\narchitecture = \"naive_db\"\n";
    let scn = sale(3000, 100, "", &variants);
    let r = run_with_timeline(&scn, None).unwrap();
    let (a, b) = (metrics(&r.summary, "a"), metrics(&r.summary, "b"));
    assert_eq!(a.traffic_digest, b.traffic_digest, "common random numbers");
    // Every user's first click reached both variants, whatever each did with it.
    assert_eq!(a.attempts_by_kind.first, 3000);
    assert_eq!(b.attempts_by_kind.first, 3000);
    assert_eq!(a.attempts_by_kind.duplicate, b.attempts_by_kind.duplicate);
    let other = run_scenario(&scn, Some(6)).unwrap();
    assert_ne!(
        metrics(&other, "a").traffic_digest,
        a.traffic_digest,
        "another seed, other traffic"
    );
    for (name, m) in [("a", &a), ("b", &b)] {
        let sum: u64 = rows(&r, name).iter().map(|row| row.attempts).sum();
        assert_eq!(sum, m.attempts, "timeline attempts of `{name}` add up to the summary's");
    }
}

#[test]
fn an_async_gateway_with_a_blocking_database_driver_freezes_its_loops() {
    let variant = |name: &str, blocking: bool| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"naive_db\"\n\
             [variant.gateway]\ninstances = 1\nexecution = \"event_loop\"\ncores = 2\n\
             blocking_downstream = {blocking}\ncpu = {{ kind = \"constant\", value = \"200us\" }}\n\
             wait = {{ kind = \"constant\", value = \"0s\" }}\n\
             [variant.db]\npool = 16\nguard = \"conditional\"\n"
        )
    };
    // Plentiful stock: every call is a sale, which holds the connection through a commit.
    let scn = sale(4000, 4000, "", &(variant("awaits", false) + &variant("blocks", true)));
    let s = run_scenario(&scn, None).unwrap();
    let (awaits, blocks) = (metrics(&s, "awaits"), metrics(&s, "blocks"));
    let shed = |m: &SaleMetrics| m.outcomes.get(models::sale::outcome::Outcome::Shed);
    let gateway = |name: &str| {
        let v = s.variants.iter().find(|v| v.name == name).unwrap();
        v.stations.iter().find(|st| st.name == "gateway_cores").unwrap().report.clone()
    };
    // Awaiting the database frees the loop after 200 µs of processing: two loops keep up.
    assert_eq!(shed(&awaits), 0);
    assert!(gateway("awaits").peak_queue_len < 100);
    // A blocking driver holds each loop through the database call: the loops are frozen most
    // of the time, the queue fills and the gateway sheds.
    assert!(shed(&blocks) > 1000, "blocking driver: {} shed", shed(&blocks));
    assert_eq!(gateway("blocks").peak_queue_len, 1024);
    assert!(gateway("blocks").utilization > 5.0 * gateway("awaits").utilization);
    assert_eq!((awaits.oversold, blocks.oversold), (0, 0));
}

#[test]
fn buyers_add_up_and_oversold_units_never_make_a_design_cheaper() {
    let variant = |name: &str, guard: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"naive_db\"\n[variant.db]\npool = 16\nguard = \"{guard}\"\n"
        )
    };
    let scn =
        sale(4000, 100, "", &(variant("unguarded", "none") + &variant("guarded", "conditional")));
    let s = run_scenario(&scn, None).unwrap();
    for name in ["unguarded", "guarded"] {
        let m = metrics(&s, name);
        let b = &m.buyers;
        let told = b.purchased_share + b.sold_out_share + b.limit_reached_share;
        let total = told + b.gave_up_share + b.still_trying_share;
        assert!((total - 1.0).abs() < 1e-9, "{name}: every buyer in exactly one share");
        assert_eq!(b.humans, 4000);
        assert_eq!(b.answer_latency.count as f64, (told * 4000.0).round(), "{name}");
        assert!(b.answer_latency.p99_s <= m.user_latency.max_s);
        let per_item = m.cost.per_item_sold_usd.unwrap();
        let sellable = m.sold.min(m.stock) as f64;
        assert!((per_item * sellable - m.cost.total_usd).abs() < 1e-9, "{name}");
    }
    let (unguarded, guarded) = (metrics(&s, "unguarded"), metrics(&s, "guarded"));
    assert!(unguarded.oversold > 0);
    // Same instances and database: the oversold units do not lower the unit cost.
    let (u, g) =
        (unguarded.cost.per_item_sold_usd.unwrap(), guarded.cost.per_item_sold_usd.unwrap());
    assert!((u - g).abs() < 1e-9 * g, "{u} vs {g}");
}
