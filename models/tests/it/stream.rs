//! Mechanisms of the queue+stream architecture and of fault windows: each outcome appears with
//! its cause and vanishes without it.

use std::path::Path;

use models::run::{RunResults, run_scenario, run_with_timeline};
use models::sale::metrics::SaleMetrics;
use models::sale::outcome::Outcome;
use models::summary::Summary;

/// The mechanisms' small sale (2 s of clicks after a 5 s opening) with clients that time out after
/// 3 s and try 4 times, and the given variants and faults.
fn sale(users: u32, stock: u32, rest: &str) -> models::Scenario {
    crate::mechanisms::sale(
        users,
        stock,
        "[traffic.client]\ntimeout = \"3s\"\nmax_attempts = 4",
        rest,
    )
}

fn queue_stream(name: &str, flink: &str, extra: &str) -> String {
    format!(
        "[[variant]]\nname = \"{name}\"\narchitecture = \"queue_stream\"\n[variant.flink]\n{flink}\n{extra}\n"
    )
}

fn metrics(summary: &Summary, variant: &str) -> SaleMetrics {
    summary.variants.iter().find(|v| v.name == variant).unwrap().metrics.clone().unwrap()
}

const FLINK_CRASH: &str =
    "[[fault]]\ncomponent = \"flink\"\nkind = \"crash\"\nat = \"1s\"\nduration = \"3s\"\n";

#[test]
fn a_job_failure_duplicates_orders_through_an_at_least_once_sink_only() {
    let variants = queue_stream("alo", "sink = \"at_least_once\"", "")
        + &queue_stream("tx", "sink = \"transactional\"", "");
    let calm = run_scenario(&sale(3000, 100, &variants), None).unwrap();
    let failing = run_scenario(&sale(3000, 100, &(variants + FLINK_CRASH)), None).unwrap();
    for name in ["alo", "tx"] {
        let m = metrics(&calm, name);
        assert_eq!(m.duplicate_orders, 0, "{name}: no failure, no duplicates");
        assert_eq!(m.stream.as_ref().unwrap().job_failures, 0);
    }
    let alo = metrics(&failing, "alo");
    let s = alo.stream.as_ref().unwrap();
    assert_eq!(s.job_failures, 1);
    assert!(s.replayed > 0, "the failure replays what the last checkpoint did not cover");
    assert!(
        alo.duplicate_orders > 0,
        "replayed orders are written again: {}",
        alo.duplicate_orders
    );
    assert_eq!(alo.confirmed_then_cancelled, alo.duplicate_orders);
    let tx = metrics(&failing, "tx");
    assert_eq!(tx.duplicate_orders, 0, "aborted transactions leave nothing to duplicate");
    assert_eq!(tx.oversold, 0);
    // Orders wait for a checkpoint to become visible: answers come later than at-least-once's.
    let (calm_alo, calm_tx) = (metrics(&calm, "alo"), metrics(&calm, "tx"));
    assert!(
        calm_tx.user_latency.p50_s > calm_alo.user_latency.p50_s,
        "transactional p50 {} vs at-least-once {}",
        calm_tx.user_latency.p50_s,
        calm_alo.user_latency.p50_s
    );
}

#[test]
fn split_stock_strands_units_while_buyers_hear_sold_out() {
    let variants = queue_stream("split", "parallelism = 8\nstock = \"split\"", "")
        + &queue_stream("one-key", "parallelism = 8\nstock = \"one_key\"", "");
    // Demand just above the stock: the shares' buyers (hashed by user) vary around each share,
    // so some shares run out while others keep units.
    let s = run_scenario(&sale(330, 300, &variants), None).unwrap();
    let split = metrics(&s, "split");
    let one = metrics(&s, "one-key");
    assert!(split.user_outcomes.get(models::sale::outcome::UserOutcome::SoldOut) > 0);
    assert!(split.stream.as_ref().unwrap().stock_left_in_job > 0, "some shares still hold units");
    assert!(split.undersold > 0, "stranded stock while buyers were turned away");
    assert_eq!(one.undersold, 0, "one key sells every unit while anyone wants one");
    assert_eq!((split.oversold, one.oversold), (0, 0));
}

#[test]
fn result_keys_without_a_ttl_grow_with_requests_not_buyers() {
    let variants = queue_stream("no-ttl", "", "")
        + &queue_stream("ttl", "", "[variant.results]\nttl = \"60s\"\npoll_timeout = \"20s\"\n");
    let scn = sale(3000, 100, &variants);
    let r = run_scenario(&scn, None).unwrap();
    let m = metrics(&r, "no-ttl");
    let st = m.stream.as_ref().unwrap();
    assert_eq!(st.result_keys_peak, st.produce_requests - st.producer_failures);
    assert!(st.result_keys_peak >= 3000);
    let with_ttl = metrics(&r, "ttl").stream.unwrap();
    assert!(with_ttl.result_keys_peak <= st.result_keys_peak);
}

#[test]
fn losing_a_broker_loses_unreplicated_records_only_without_acks_all() {
    let kafka = |acks: &str| {
        format!(
            "[variant.kafka]\nacks = \"{acks}\"\npartitions = 3\nbrokers = 3\nreplication = {{ kind = \"constant\", value = \"50ms\" }}\n"
        )
    };
    let variants =
        queue_stream("acks-1", "", &kafka("1")) + &queue_stream("acks-all", "", &kafka("all"));
    let fault =
        "[[fault]]\ncomponent = \"kafka\"\nkind = \"crash\"\nat = \"500ms\"\nduration = \"2s\"\n";
    let r = run_scenario(&sale(3000, 100, &(variants + fault)), None).unwrap();
    let one = metrics(&r, "acks-1");
    let all = metrics(&r, "acks-all");
    assert!(one.stream.as_ref().unwrap().lost_records > 0, "acknowledged, never replicated");
    assert_eq!(all.stream.as_ref().unwrap().lost_records, 0);
    assert_eq!(one.failures.crashes, 1);
}

/// Records lost with their broker will never be decided: the timeline's consumer lag drops when
/// they are lost, not at the next append (none comes while the only broker is down).
#[test]
fn records_lost_with_a_broker_leave_the_timeline_lag_at_once() {
    let kafka = "[variant.kafka]\nacks = \"1\"\npartitions = 3\nbrokers = 1\n\
                 replication = { kind = \"constant\", value = \"200ms\" }\n\
                 fetch = { kind = \"constant\", value = \"1us\" }\n";
    let flink = "record_time = { kind = \"constant\", value = \"10us\" }";
    let fault =
        "[[fault]]\ncomponent = \"kafka\"\nkind = \"crash\"\nat = \"100ms\"\nduration = \"1s\"\n";
    let text = queue_stream("acks-1", flink, kafka) + fault;
    let r = run_with_timeline(&sale(3000, 100, &text), None).unwrap();
    assert!(metrics(&r.summary, "acks-1").stream.unwrap().lost_records > 0);
    // The crash is at 5.1 s and the job decides what it has within microseconds: from the next
    // interval until the broker returns at 6.1 s, nothing is left to decide.
    let outage: Vec<u64> = crate::mechanisms::rows(&r, "acks-1")
        .iter()
        .filter(|row| (5.15..6.05).contains(&row.t_s))
        .map(|row| row.kafka_lag.unwrap())
        .collect();
    assert_eq!(outage, vec![0; 9], "lag during the outage");
}

#[test]
fn resends_after_a_broker_pause_duplicate_records_unless_idempotent() {
    let kafka = |idem: bool| {
        format!(
            "[variant.kafka]\nidempotence = {idem}\nrequest_timeout = \"500ms\"\nproducer_retries = 3\n"
        )
    };
    let variants =
        queue_stream("plain", "", &kafka(false)) + &queue_stream("idempotent", "", &kafka(true));
    let pause =
        "[[fault]]\ncomponent = \"kafka\"\nkind = \"pause\"\nat = \"200ms\"\nduration = \"1s\"\n";
    let r = run_scenario(&sale(3000, 100, &(variants + pause)), None).unwrap();
    let plain = metrics(&r, "plain").stream.unwrap();
    let idem = metrics(&r, "idempotent").stream.unwrap();
    assert!(plain.producer_resends > 0 && idem.producer_resends > 0);
    assert!(plain.duplicate_records > 0, "every resent copy is appended");
    assert_eq!(idem.duplicate_records, 0);
    assert!(idem.duplicates_dropped > 0, "the broker recognises resent sequence numbers");
}

#[test]
fn a_redis_failover_loses_decrements_that_the_database_then_refuses() {
    let three_tier = |name: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n[variant.cdn]\ndedupe = false\n\
             [variant.db]\npool = 16\nguard = \"conditional\"\n"
        )
    };
    // Fail over while the stock is selling, losing the last 200 ms of decrements.
    let fault = "[[fault]]\ncomponent = \"redis\"\nkind = \"crash\"\nat = \"150ms\"\nduration = \"1s\"\n\
                 replication_lag = \"200ms\"\nvariants = [\"failover\"]\n";
    let text = three_tier("failover") + &three_tier("steady") + fault;
    let r = run_scenario(&sale(3000, 300, &text), None).unwrap();
    let failover = metrics(&r, "failover");
    let steady = metrics(&r, "steady");
    assert!(failover.failures.lost_redis_writes > 0, "decrements lost on promotion");
    assert_eq!(steady.failures.lost_redis_writes, 0);
    assert_eq!(failover.oversold, 0, "the database's stock condition refuses the surplus");
    // Admitted by Redis, refused by the database: each such buyer is told "sold out" and
    // Redis is brought down to the database's stock, so the two agree at the end and the
    // buyers after them are answered "sold out" by Redis (not given back units forever).
    assert!(failover.failures.redis_resyncs > 0, "the database refused reserved units");
    assert_eq!(steady.failures.redis_resyncs, 0);
    for m in [&failover, &steady] {
        assert_eq!(m.stock_left_redis, Some(m.stock_left_db), "Redis and the database agree");
        assert_eq!(m.stock_left_db, 0, "sold out");
    }
    let sold_out = |m: &SaleMetrics| m.outcomes.get(models::sale::outcome::Outcome::SoldOut);
    assert!(sold_out(&failover) > 0);
}

#[test]
fn queue_stream_conserves_attempts_and_shares_the_traffic() {
    let variants = queue_stream("qs", "", "")
        + "[[variant]]\nname = \"tt\"\narchitecture = \"three_tier_redis\"\n";
    let r = run_with_timeline(&sale(3000, 100, &(variants + FLINK_CRASH)), None).unwrap();
    let (qs, tt) = (metrics(&r.summary, "qs"), metrics(&r.summary, "tt"));
    assert_eq!(qs.traffic_digest, tt.traffic_digest, "common random numbers");
    assert_eq!(qs.attempts_by_kind.first, tt.attempts_by_kind.first);
    assert!(qs.attempts_by_kind.poll > 0);
    let total: u64 = serde_json::to_value(&qs.outcomes)
        .unwrap()
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, qs.attempts, "every attempt, polls included, ends in one outcome");
    let qs_rows = crate::mechanisms::rows(&r, "qs");
    assert!(qs_rows.iter().all(|row| row.kafka_lag.is_some() && row.stream_stock.is_some()));
}

#[test]
fn a_waiting_room_admitting_slower_than_stock_sells_leaves_stock_unsold() {
    let room = |name: &str, rate: &str| {
        format!(
            "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n\
             [variant.waiting_room]\nadmit_rate = \"{rate}\"\norder = \"random\"\n\
             [variant.db]\nguard = \"conditional\"\n"
        )
    };
    // Buyers lose patience after ~10 s: a room letting 5 users a second through sells at most
    // ~50 of the 300 units before the room empties of patient buyers.
    let text = format!("{}{}", room("slow", "5/s"), room("fast", "5k/s"));
    let scn = {
        let t = format!(
            r#"[run]
seed = 7
[sale]
stock = 300
opens_at = "5s"
[traffic]
users = 2000
profile = {{ kind = "windows", windows = [{{ from = "-2s", until = "2s", share = 1.0 }}] }}
[traffic.client]
patience = {{ kind = "exponential", mean = "10s" }}
{text}"#
        );
        models::scenario::from_text(Path::new("room.toml"), &t, &[]).unwrap()
    };
    let r = run_scenario(&scn, None).unwrap();
    let slow = metrics(&r, "slow");
    let fast = metrics(&r, "fast");
    let slow_room = slow.waiting_room.as_ref().unwrap();
    assert!(slow_room.abandoned > 0, "buyers give up in a slow room");
    assert!(slow.undersold > 0, "stock left while buyers who wanted it left: {}", slow.undersold);
    assert!(slow.stock_left_db > 0);
    assert_eq!(fast.stock_left_db, 0, "a room faster than the sale lets it sell out");
    assert!(slow.outcomes.get(models::sale::outcome::Outcome::InRoom) > 0);
}

/// Purchased answers per variant in `[from, until)` seconds, from the timeline.
fn purchased_between(r: &RunResults, variant: &str, from: f64, until: f64) -> u64 {
    crate::mechanisms::rows(r, variant)
        .iter()
        .filter(|row| (from..until).contains(&crate::mechanisms::start_s(row)))
        .map(|row| row.outcomes.get(Outcome::Purchased))
        .sum()
}

#[test]
fn after_a_short_slowdown_retries_without_jitter_keep_goodput_down_and_a_budget_recovers() {
    let file = crate::support::workspace().join("scenarios/retry-storm.toml");
    let scn = models::scenario::load(&file, &[]).unwrap();
    let r = run_with_timeline(&scn, None).unwrap();
    // Same buyers, same service before the fault (opening at 1 s, slowdown from 11 s to 13 s).
    let before = |v| purchased_between(&r, v, 0.0, 11.0);
    assert_eq!(before("no-jitter"), before("jitter-budget"));
    assert!(before("no-jitter") > 5000);
    // Well after the trigger has gone, while buyers still arrive at the same rate.
    let after = |v| purchased_between(&r, v, 31.0, 61.0);
    let (storm, calm) = (after("no-jitter"), after("jitter-budget"));
    assert!(calm > 15_000, "the budgeted fleet recovers: {calm} purchases in 30 s");
    assert!(storm * 20 < calm, "the retry storm sustains itself: {storm} vs {calm}");
    // Without the trigger, the same fleets both keep up.
    let calm_scn = models::scenario::from_text(
        &file,
        &std::fs::read_to_string(&file).unwrap().replace("factor = 10.0", "factor = 1.0001"),
        &[],
    )
    .unwrap();
    let quiet = run_with_timeline(&calm_scn, None).unwrap();
    let storm_free = purchased_between(&quiet, "no-jitter", 31.0, 61.0);
    assert!(storm_free > 15_000, "no trigger, no storm: {storm_free}");
}

/// The job's books after a run: every entry decided once since the last restore (no lag left),
/// and with one key the stock in state is what the order table did not take.
fn assert_job_consistent(m: &SaleMetrics, name: &str) {
    let st = m.stream.as_ref().unwrap();
    assert!(st.peak_consumer_lag <= st.records_appended, "{name}: lag never wraps");
    assert_eq!(m.oversold, 0, "{name}");
    assert!(st.stock_left_in_job >= 0, "{name}");
}

#[test]
fn a_restarted_job_reads_each_entry_once_even_with_deliveries_still_on_their_way() {
    // Fetches take 300 ms, the job restarts 1 ms after a failure and decides slowly (2 ms a
    // record): deliveries scheduled before the failure arrive after the restart has re-read
    // their entries, while those entries still wait in the subtask's queue.
    let text = queue_stream(
        "qs",
        "restart_time = \"1ms\"\nrecord_time = { kind = \"constant\", value = \"2ms\" }",
        "[variant.kafka]\nfetch = { kind = \"constant\", value = \"300ms\" }\n",
    ) + "[[fault]]\ncomponent = \"flink\"\nkind = \"crash\"\nat = \"1s\"\nduration = \"1ms\"\n";
    let r = run_scenario(&sale(3000, 100, &text), None).unwrap();
    let m = metrics(&r, "qs");
    assert_job_consistent(&m, "qs");
    let st = m.stream.as_ref().unwrap();
    assert_eq!(st.decisions, st.records_appended + st.replayed, "each entry decided once per life");
}

#[test]
fn a_broker_lost_after_a_job_restart_loses_only_unread_entries() {
    let text = queue_stream(
        "qs",
        "record_time = { kind = \"constant\", value = \"1ms\" }",
        "[variant.kafka]\nacks = \"1\"\npartitions = 3\nbrokers = 3\n\
         replication = { kind = \"constant\", value = \"200ms\" }\n",
    ) + "[[fault]]\ncomponent = \"flink\"\nkind = \"crash\"\nat = \"1s\"\nduration = \"100ms\"\n\
         [[fault]]\ncomponent = \"kafka\"\nkind = \"crash\"\nat = \"1150ms\"\nduration = \"1s\"\n";
    let r = run_scenario(&sale(3000, 100, &text), None).unwrap();
    let m = metrics(&r, "qs");
    assert_job_consistent(&m, "qs");
    let st = m.stream.as_ref().unwrap();
    assert!(st.lost_records > 0);
    assert_eq!(st.decisions, st.records_appended - st.lost_records + st.replayed);
}

#[test]
fn polls_pass_the_waiting_room_and_each_user_polls_one_chain_at_a_time() {
    // Tokens expire before the first poll; polls must still reach the result store. Duplicate
    // clicks bring several "queued" answers per user, with polls every millisecond.
    let text = queue_stream(
        "qs",
        "",
        "[variant.cdn]\ndedupe = false\n[variant.results]\npoll_interval = \"2s\"\n\
         [variant.waiting_room]\nadmit_rate = \"1k/s\"\nsession = \"1s\"\n",
    ) + &queue_stream(
        "fast-polls",
        "",
        "[variant.cdn]\ndedupe = false\n[variant.results]\npoll_interval = \"1ms\"\n",
    );
    let extra = "duplicates = { share = 1.0, extra_clicks = 2.0, gap = { kind = \"exponential\", mean = \"5ms\" } }\n\
                 [traffic.client]\ntimeout = \"3s\"";
    let scn = crate::mechanisms::sale(100, 100, extra, &text);
    let r = run_scenario(&scn, None).unwrap();
    for name in ["qs", "fast-polls"] {
        let m = metrics(&r, name);
        assert_eq!(m.confirmed, m.sold, "{name}: one 'purchased' per order");
        assert_eq!(m.oversold, 0, "{name}");
        assert_eq!(m.unclaimed_orders, 0, "{name}: every buyer reads their answer");
    }
}

#[test]
fn a_stock_cache_turns_buyers_away_at_the_gateway_once_the_job_has_sold_out() {
    let variants =
        queue_stream("cache", "", "[variant.results]\nstock_cache_refresh = \"100ms\"\n")
            + &queue_stream("no-cache", "", "");
    let r = run_scenario(&sale(3000, 100, &variants), None).unwrap();
    let (cache, plain) = (metrics(&r, "cache"), metrics(&r, "no-cache"));
    let (c, p) = (cache.stream.unwrap(), plain.stream.unwrap());
    assert_eq!(p.stock_cache_rejections, 0);
    assert!(c.stock_cache_rejections > 0, "answered 'sold out' without queueing");
    assert!(
        c.produce_requests < p.produce_requests,
        "{} vs {}",
        c.produce_requests,
        p.produce_requests
    );
    assert_eq!(cache.sold, plain.sold, "the cache only answers once the stock is gone");
}

#[test]
fn buyers_who_give_up_while_their_request_waits_in_the_lag_still_get_orders() {
    // A slow job (5 ms a record on one key) builds seconds of lag; buyers give up after ~2 s.
    let slow = queue_stream("slow", "record_time = { kind = \"constant\", value = \"5ms\" }", "");
    let fast = queue_stream("fast", "", "");
    let extra =
        "[traffic.client]\ntimeout = \"3s\"\npatience = { kind = \"exponential\", mean = \"2s\" }";
    let scn = crate::mechanisms::sale(3000, 300, extra, &(slow + &fast));
    let r = run_scenario(&scn, None).unwrap();
    let (slow, fast) = (metrics(&r, "slow"), metrics(&r, "fast"));
    let late = |m: &SaleMetrics| m.stream.as_ref().unwrap().orders_after_give_up;
    // Some buyers give up within moments whatever the job's speed (patience is exponential);
    // a backlog of seconds turns that into a good share of the stock.
    assert!(late(&slow) > 5 * late(&fast).max(1), "{} vs {}", late(&slow), late(&fast));
    assert!(slow.unclaimed_orders >= late(&slow), "orders nobody was told of");
}
