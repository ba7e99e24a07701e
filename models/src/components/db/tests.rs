//! Unit tests of the database component: guards, costs by what a statement does, the lock
//! queue with its deadlock rule and detection cost, batching, the pool.

use sim::config::Issues;
use sim::{SimDuration, SimTime};

use super::*;

fn db_with(raw: RawDb, stock: i64) -> Db<u32> {
    Db::new(&raw.check("db", &mut Issues::new()).unwrap(), stock, 4, 1)
}

fn db(guard: Guard, stock: i64) -> Db<u32> {
    db_with(RawDb { guard: Some(guard), max_lock_waiters: Some(2), ..RawDb::default() }, stock)
}

const T: SimTime = SimTime::ZERO;

/// Job `j` is user `j % 4` with what `reads[j]` holds.
fn run_one(d: &mut Db<u32>, job: u32, read: RowRead, writer: Writer) -> (RowDecision, SimDuration) {
    assert_eq!(d.lock(T, job, 0), LockRequest::Granted);
    let hold = d.start_work(T, 0, job, T, writer, |j| (j % 4, read));
    let (done, next) = d.finish_work(T + hold, 0);
    assert_eq!(next, None);
    let decision = done[0].decision;
    d.recycle(done);
    (decision, hold)
}

#[test]
fn without_a_guard_two_stale_reads_both_sell_and_write_the_same_stock() {
    let mut d = db(Guard::None, 5);
    let (a, b) = (d.read(0, 0), d.read(1, 0));
    let app = Writer::App { limit: crate::components::limit::LimitRule::per_buyer(1) };
    assert_eq!(run_one(&mut d, 0, a, app).0, RowDecision::Sold);
    assert_eq!(run_one(&mut d, 1, b, app).0, RowDecision::Sold);
    assert_eq!((d.row.orders, d.row.stock), (2, 4), "two orders, one unit gone: lost update");
}

#[test]
fn the_version_guard_refuses_a_stale_read_and_counts_the_conflict() {
    let mut d = db(Guard::Version, 5);
    let (a, b) = (d.read(0, 0), d.read(1, 0));
    assert_eq!(run_one(&mut d, 0, a, Writer::Reservation).0, RowDecision::Sold);
    assert_eq!(run_one(&mut d, 1, b, Writer::Reservation).0, RowDecision::VersionChanged);
    assert_eq!(d.counters.version_conflicts, 1);
    let fresh = d.read(1, 0);
    assert_eq!(run_one(&mut d, 1, fresh, Writer::Reservation).0, RowDecision::Sold);
    assert_eq!((d.row.orders, d.row.stock), (2, 3));
}

#[test]
fn conditional_and_for_update_never_go_below_zero_and_check_the_limit_for_the_app() {
    for guard in [Guard::Conditional, Guard::ForUpdate] {
        let mut d = db(guard, 1);
        let app = Writer::App { limit: crate::components::limit::LimitRule::per_buyer(1) };
        let stale = d.read(0, 0);
        assert_eq!(run_one(&mut d, 0, stale, app).0, RowDecision::Sold);
        assert_eq!(run_one(&mut d, 0, stale, app).0, RowDecision::NoStock, "{guard:?}");
        d.restock(5);
        assert_eq!(run_one(&mut d, 0, stale, app).0, RowDecision::OverLimit);
        assert_eq!(run_one(&mut d, 0, stale, Writer::Reservation).0, RowDecision::Sold);
    }
}

#[test]
fn a_refusal_holds_the_lock_for_the_statement_alone_a_sale_pays_the_commit() {
    // Mean update 63.5 µs, mean commit 1.27 ms: over many transactions the refusals' mean
    // hold is the update's, the sales' the update's plus the commit's.
    let mut d = db(Guard::Conditional, 0);
    let n = 2000;
    let refusals: f64 = (0..n)
        .map(|j| run_one(&mut d, j % 4, RowRead::default(), Writer::Reservation))
        .inspect(|(decision, _)| assert_eq!(*decision, RowDecision::NoStock))
        .map(|(_, hold)| hold.as_secs_f64())
        .sum::<f64>()
        / n as f64;
    d.restock(i64::from(n as u16));
    let sales: f64 = (0..n)
        .map(|j| run_one(&mut d, j % 4, RowRead::default(), Writer::Reservation).1.as_secs_f64())
        .sum::<f64>()
        / n as f64;
    assert!((50e-6..80e-6).contains(&refusals), "refusal hold {refusals}");
    assert!((1.2e-3..1.5e-3).contains(&sales), "sale hold {sales}");
    assert_eq!(d.counters.commits, n as u64, "one flush per sale, none per refusal");
}

#[test]
fn the_row_lock_serialises_and_refuses_beyond_its_waiters() {
    let mut d = db(Guard::Conditional, 5);
    assert_eq!(d.lock(T, 0, 0), LockRequest::Granted);
    assert!(matches!(d.lock(T, 1, 0), LockRequest::Waiting(_)));
    let LockRequest::Waiting(ticket) = d.lock(T, 2, 0) else { panic!("second waiter") };
    assert!(matches!(d.lock(T, 3, 0), LockRequest::DeadlockVictim(_)), "more than 2 waiters");
    assert_eq!(d.counters.deadlock_victims, 1);
    assert!(d.give_up_lock(T, ticket), "waiter 2 times out");
    assert_eq!(d.counters.lock_timeouts, 1);
    let read = RowRead::default();
    let hold = d.start_work(T, 0, 0, T, Writer::Reservation, |j| (j, read));
    let (done, next) = d.finish_work(T + hold, 0);
    assert_eq!((done.len(), next), (1, Some((1, T))), "FIFO: the first waiter is next");
    d.recycle(done);
    let hold2 = d.start_work(T + hold, 0, 1, T, Writer::Reservation, |j| (j, read));
    let (_, next) = d.finish_work(T + hold + hold2, 0);
    assert_eq!(next, None);
    assert_eq!(d.row.stock, 3);
}

#[test]
fn contenders_stall_the_row_and_victims_queue_for_their_deadlock_check() {
    let raw = |detect| RawDb {
        guard: Some(Guard::Conditional),
        deadlock_detect: Some(detect),
        update: Some(constant_ms()),
        commit: Some(constant_ms()),
        contention_n0: detect.then_some(4.0),
        max_lock_waiters: detect.then_some(2),
        ..RawDb::default()
    };
    for detect in [true, false] {
        let mut d = db_with(raw(detect), 10);
        assert_eq!(d.lock(T, 0, 0), LockRequest::Granted);
        assert!(matches!(d.lock(T, 1, 0), LockRequest::Waiting(_)));
        assert!(matches!(d.lock(T, 2, 0), LockRequest::Waiting(_)));
        let read = RowRead::default();
        if detect {
            // Checks of 1 and 2 transactions ran (2 ms / 4 = 0.5 ms each): the victim's check
            // of 3 starts after them, at 1.5 ms, and ends at 3 ms.
            assert_eq!(d.lock(T, 3, 0), LockRequest::DeadlockVictim(SimDuration::from_millis(3)));
            assert_eq!(d.contenders(0), 3);
            // 2 ms of work × (1 + 3/4).
            let hold = d.start_work(T, 0, 0, T, Writer::Reservation, |j| (j, read));
            assert_eq!(hold, SimDuration::from_micros(3500));
            d.victim_rolled_back(0);
            assert_eq!(d.contenders(0), 2);
        } else {
            assert!(matches!(d.lock(T, 3, 0), LockRequest::Waiting(_)), "no waiter limit");
            let hold = d.start_work(T, 0, 0, T, Writer::Reservation, |j| (j, read));
            assert_eq!(hold, SimDuration::from_millis(2), "no stall without detection");
        }
    }
}

fn constant_ms() -> sim::DistSpec {
    let value = Some(sim::config::DurationLit("1ms".into()));
    sim::DistSpec { value, ..sim::DistSpec::of(sim::DistKind::Constant) }
}

#[test]
fn a_batch_decides_in_order_commits_once_and_hides_its_writes_until_then() {
    let raw = RawDb {
        guard: Some(Guard::Conditional),
        batching: Some(true),
        max_batch: Some(3),
        ..RawDb::default()
    };
    let mut d = db_with(raw, 2);
    for j in 0..5 {
        d.lock(T, j, 0);
    }
    let read = RowRead::default();
    let hold = d.start_work(T, 0, 0, T, Writer::Reservation, |j| (j % 4, read));
    assert_eq!(d.row_lock(0).waiting(), 2, "two joined the holder, two still wait");
    assert_eq!(d.read(1, 0).stock, 2, "nothing committed yet");
    let (done, next) = d.finish_work(T + hold, 0);
    let decisions: Vec<RowDecision> = done.iter().map(|m| m.decision).collect();
    assert_eq!(decisions, [RowDecision::Sold, RowDecision::Sold, RowDecision::NoStock]);
    assert_eq!(next.map(|n| n.0), Some(3));
    assert_eq!((d.row.stock, d.row.orders, d.counters.commits), (0, 2, 1));
}

#[test]
fn batching_refuses_for_update_and_max_batch_needs_batching() {
    let mut issues = Issues::new();
    let raw = RawDb { guard: Some(Guard::ForUpdate), batching: Some(true), ..RawDb::default() };
    assert!(raw.check("db", &mut issues).is_none());
    let raw = RawDb { max_batch: Some(8), ..RawDb::default() };
    assert!(raw.check("db", &mut issues).is_none());
    assert_eq!(issues.len(), 2);
}

#[test]
fn a_full_pool_queues_and_a_wait_can_run_out() {
    let raw = RawDb { pool: Some(1), ..RawDb::default() };
    let mut d = db_with(raw, 5);
    assert_eq!(d.connect(T, 0), None);
    let ticket = d.connect(T, 1).expect("waits");
    assert!(d.give_up_connection(T, ticket));
    assert_eq!(d.counters.pool_timeouts, 1);
    assert_eq!(d.disconnect(T, T), None, "nobody is left waiting");
}

#[test]
fn a_closed_loop_of_512_contenders_gets_the_calibrated_500_tps() {
    // parameters.md §2: stock MySQL, one hot row, 512 client threads: 500 TPS. With the
    // default update and commit (μ0 ≈ 750/s) and n0 = 1024: 750 / (1 + 511/1024) ≈ 500/s.
    let raw = RawDb {
        guard: Some(Guard::Conditional),
        max_lock_waiters: Some(10_000),
        ..RawDb::default()
    };
    let mut d = db_with(raw, 1_000_000);
    for j in 0..512 {
        d.lock(T, j, 0);
    }
    let read = RowRead::default();
    let sales = 20_000u32;
    let mut now = T;
    let mut hold = d.start_work(now, 0, 0, T, Writer::Reservation, |j| (j % 4, read));
    for _ in 0..sales {
        now += hold;
        let (done, next) = d.finish_work(now, 0);
        let finished = done[0].job;
        d.recycle(done);
        // Every thread asks again at once: one holds the row, 511 wait.
        assert!(matches!(d.lock(now, finished, 0), LockRequest::Waiting(_)));
        assert_eq!(d.contenders(0), 511);
        let (job, asked) = next.unwrap();
        hold = d.start_work(now, 0, job, asked, Writer::Reservation, |j| (j % 4, read));
    }
    let tps = f64::from(sales) / now.as_secs_f64();
    // A sale's hold has a coefficient of variation of ≈ 0.75: over 20,000 sales the mean is
    // within ±1.1% at two standard errors; the band allows 3%.
    assert!((485.0..515.0).contains(&tps), "{tps:.1} TPS at 512 contenders");
    // A third below the row's rate at low concurrency (μ0 ≈ 750/s).
    assert!(tps < 0.7 / 1.3339e-3);
}
