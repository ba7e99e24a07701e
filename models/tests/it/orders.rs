//! Three-tier's async order path on the case study's traffic: the buyer is answered after the
//! reservation, consumers write the orders, and a failover or a consumer crash does what it does
//! in production (records lost with their decrements; transactions delivered again).

use models::run::run_scenario;

use crate::support::{case_study_unheld_with, case_study_with, metrics};

/// A three-tier variant on 8 instances (where the sync path's answers wait past the timeout).
fn variant(name: &str, path: &str) -> String {
    format!(
        "[[variant]]\nname = \"{name}\"\narchitecture = \"three_tier_redis\"\n\
         [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
         [variant.redis]\nshards = 3\n\
         [variant.orders]\npath = \"{path}\"\n\
         [variant.db]\npool = 32\nguard = \"version\"\n"
    )
}

#[test]
fn the_async_path_answers_before_the_commit_and_never_oversells() {
    let scn = case_study_with(&(variant("sync", "sync") + &variant("async", "async")));
    let s = run_scenario(&scn, None).unwrap();
    let (sync, async_) = (metrics(&s, "sync"), metrics(&s, "async"));
    assert_eq!(sync.traffic_digest, async_.traffic_digest, "same buyers");
    let o = async_.order_path.as_ref().expect("async reports its order path");
    assert_eq!((async_.sold, async_.confirmed, async_.oversold), (3000, 3000, 0));
    assert_eq!(
        (o.records_pushed, o.orders_committed, async_.users_told_without_order),
        (3000, 3000, 0)
    );
    // Every order was committed after its buyer was answered: the push → commit lag.
    assert!(o.lag.p50_s > 0.5, "lag {:?}", o.lag);
    // Buyers hear "purchased" in time: no answer of a reservation arrives after its timeout.
    let purchased_late = |m: &models::sale::metrics::SaleMetrics| m.late_answers.get(p());
    assert_eq!(purchased_late(&async_), 0);
    assert!(purchased_late(&sync) > 100, "sync: {} late", purchased_late(&sync));
    assert!(async_.claimed_order_rate.unwrap() > sync.claimed_order_rate.unwrap() + 0.1);
    assert!(sync.order_path.is_none());
}

fn p() -> models::sale::outcome::Outcome {
    models::sale::outcome::Outcome::Purchased
}

#[test]
fn a_failover_loses_the_order_records_it_loses_the_decrements_of() {
    // Redis sells out within ~0.1 s of the opening: a failover 50 ms in, losing 30 ms of
    // writes, takes records no consumer has popped with it. Their buyers were told
    // "purchased"; the units go back to Redis's stock and are sold again — to other buyers.
    let fault = "[[fault]]\ncomponent = \"redis\"\nkind = \"crash\"\nat = \"50ms\"\n\
                 duration = \"2s\"\nreplication_lag = \"30ms\"\n";
    let scn = case_study_with(&(variant("async", "async") + fault));
    let m = metrics(&run_scenario(&scn, None).unwrap(), "async");
    let o = m.order_path.as_ref().unwrap();
    assert!(o.records_lost_on_failover > 100, "{o:?}");
    assert_eq!(o.records_lost_on_failover, m.failures.lost_redis_writes, "record and decrement");
    assert_eq!(m.users_told_without_order, o.records_lost_on_failover);
    assert_eq!(m.sold, 3000, "the lost units were sold again");
    assert_eq!(m.confirmed, 3000 + o.records_lost_on_failover, "promised beyond the stock");
    assert_eq!(m.oversold, o.records_lost_on_failover);
    assert_eq!(m.limit_violations, 0);
}

#[test]
fn a_consumer_crash_delays_orders_and_redelivers_without_a_second_order() {
    let crash = |at: &str| {
        format!(
            "[[fault]]\ncomponent = \"orders\"\nkind = \"crash\"\nat = \"{at}\"\nduration = \"5s\"\n"
        )
    };
    let base = case_study_with(&variant("async", "async"));
    let calm = metrics(&run_scenario(&base, None).unwrap(), "async");
    let scn = case_study_with(&(variant("async", "async") + &crash("1s")));
    let m = metrics(&run_scenario(&scn, None).unwrap(), "async");
    let o = m.order_path.as_ref().unwrap();
    assert_eq!(o.consumer_crashes, 1);
    assert!(o.duplicate_deliveries > 0, "transactions running at the crash committed: {o:?}");
    assert_eq!((m.sold, m.oversold, m.limit_violations), (3000, 0, 0), "no second order");
    let calm_lag = calm.order_path.unwrap().lag.max_s;
    assert!(o.lag.max_s > calm_lag + 4.0, "{} vs {calm_lag}", o.lag.max_s);
}

#[test]
fn a_repeated_request_gets_its_stored_answer_and_buyers_learn_they_hold_a_seat() {
    // Sync on 8 instances, early buyers clicking again at the opening: reservations wait on the hot row past the 3 s timeout and the client
    // resubmits. The stock-first script tells the holder "sold out"; with request ids the
    // script returns the stored answer, "purchased".
    let with_ids = |name: &str, ids: bool| {
        variant(name, "sync").replace("shards = 3\n", &format!("shards = 3\nrequest_ids = {ids}\n"))
    };
    let scn = case_study_unheld_with(&(with_ids("plain", false) + &with_ids("ids", true)));
    let s = run_scenario(&scn, None).unwrap();
    let (plain, ids) = (metrics(&s, "plain"), metrics(&s, "ids"));
    assert_eq!(plain.redis_stored_answers, None);
    assert!(ids.redis_stored_answers.unwrap() > 1000, "{:?}", ids.redis_stored_answers);
    assert_eq!((ids.sold, ids.oversold, ids.limit_violations), (3000, 0, 0));
    assert!(
        ids.unclaimed_orders < plain.unclaimed_orders / 2,
        "{} vs {}",
        ids.unclaimed_orders,
        plain.unclaimed_orders
    );
    assert!(ids.redis_peak_memory_bytes.unwrap() > plain.redis_peak_memory_bytes.unwrap());
}
