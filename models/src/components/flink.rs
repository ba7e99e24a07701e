//! Flink: a keyed stream job that decides each purchase request in its state.
//!
//! The job reads the topic, keys records and runs the seckill decision per key: stock left? user
//! under the limit? then decrement and emit an order. Each parallel subtask is a one-server FIFO
//! station processing its records one at a time. Where the stock lives decides the parallelism
//! that matters: `one_key` keeps the item's stock (and the item's per-user counts) under one key,
//! so every record goes to one subtask — the hot subtask; `split` divides the stock evenly over
//! the subtasks and keys records by user, so the work spreads but one subtask can sell out while
//! another still holds units (its buyers are told "sold out": stranded stock).
//!
//! Checkpoints are taken every `checkpoint_interval` and complete `checkpoint_duration` later. On
//! a task failure the whole job restarts after `restart_time` from the last completed
//! checkpoint: state rolls back and every record processed since is replayed. The order sink is
//! `at_least_once` (orders are written as they are decided, so a replay writes them again —
//! duplicate orders, or an order the replay now decides differently) or `transactional` (orders
//! and results are committed when the next checkpoint completes: no duplicates, later answers).
//!
//! Defaults (parameters.md §4, §8, §11): per record LN(50 µs, 500 µs) (20–50k simple records/s
//! per core), parallelism 4, checkpoints every 5 s, restart 30 s [A], checkpoint duration 200 ms
//! [A], 64 B of state per key [A: no published seckill figure], sink write LN(1 ms, 10 ms) (a
//! MySQL statement), $0.11 per KPU-hour with one KPU per subtask plus one for the application
//! (Amazon Managed Service for Apache Flink).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{Issues, join_key};
use sim::rng::{self, RngStream};
use sim::{Admission, Dist, DistSpec, SimDuration, SimTime, Station};

use super::faults::FaultWindows;
use super::{count_or, dist_or, duration_or, lognormal, price_or};

mod state;
pub use state::{Decision, StockPlacement, StreamState};

/// How orders leave the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sink {
    /// Written when decided; replays write them again.
    AtLeastOnce,
    /// Committed with the next checkpoint (two-phase commit).
    Transactional,
}

/// The `[variant.flink]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlink {
    /// Parallel subtasks (default 4, at most 1024).
    pub parallelism: Option<i64>,
    /// `one_key` (default) or `split`.
    pub stock: Option<StockPlacement>,
    /// Processing time per record (default LN(50us, 500us)).
    pub record_time: Option<DistSpec>,
    /// Time between checkpoints (default 5s).
    pub checkpoint_interval: Option<sim::config::DurationLit>,
    /// Checkpoint trigger → completion (default 200ms).
    pub checkpoint_duration: Option<sim::config::DurationLit>,
    /// `at_least_once` (default) or `transactional`.
    pub sink: Option<Sink>,
    /// Time to write one order (and its result) in the sink (default LN(1ms, 10ms)).
    pub sink_write: Option<DistSpec>,
    /// Failure → processing again (default 30s).
    pub restart_time: Option<sim::config::DurationLit>,
    /// State bytes per key (default 64).
    pub state_bytes_per_key: Option<f64>,
    /// KPUs billed (default parallelism + 1).
    pub kpus: Option<i64>,
    /// Price per KPU-hour (default 0.11).
    pub price_per_kpu_hour: Option<f64>,
}

/// Validated Flink settings.
#[derive(Clone, Debug)]
pub struct FlinkSpec {
    pub parallelism: u32,
    pub stock: StockPlacement,
    pub record_time: Dist,
    pub checkpoint_interval: SimDuration,
    pub checkpoint_duration: SimDuration,
    pub sink: Sink,
    pub sink_write: Dist,
    pub restart_time: SimDuration,
    pub state_bytes_per_key: f64,
    pub kpus: u32,
    pub price_per_kpu_hour: f64,
}

impl RawFlink {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<FlinkSpec> {
        let before = issues.len();
        let us = SimDuration::from_micros;
        let ms = SimDuration::from_millis;
        let parallelism = count_or(self.parallelism, at, "parallelism", 4, (1, 1024), issues);
        let record_time =
            dist_or(&self.record_time, at, "record_time", lognormal(us(50), us(500)), issues);
        let interval =
            duration_or(&self.checkpoint_interval, at, "checkpoint_interval", ms(5_000), issues);
        let duration =
            duration_or(&self.checkpoint_duration, at, "checkpoint_duration", ms(200), issues);
        if interval.is_some_and(|i| i < ms(1)) {
            issues.push(join_key(at, "checkpoint_interval"), "must be ≥ 1ms");
        }
        if let (Some(i), Some(d)) = (interval, duration)
            && d >= i
        {
            issues.push(
                join_key(at, "checkpoint_duration"),
                format!("must be shorter than checkpoint_interval ({i}) (got {d})"),
            );
        }
        let sink_write =
            dist_or(&self.sink_write, at, "sink_write", lognormal(ms(1), ms(10)), issues);
        let restart = duration_or(&self.restart_time, at, "restart_time", ms(30_000), issues);
        let state_bytes =
            price_or(self.state_bytes_per_key, at, "state_bytes_per_key", 64.0, issues);
        let kpus = count_or(self.kpus, at, "kpus", parallelism + 1, (1, 100_000), issues);
        let price = price_or(self.price_per_kpu_hour, at, "price_per_kpu_hour", 0.11, issues);
        if issues.len() > before {
            return None;
        }
        Some(FlinkSpec {
            parallelism: parallelism as u32,
            stock: self.stock.unwrap_or(StockPlacement::OneKey),
            record_time: record_time?,
            checkpoint_interval: interval?,
            checkpoint_duration: duration?,
            sink: self.sink.unwrap_or(Sink::AtLeastOnce),
            sink_write: sink_write?,
            restart_time: restart?,
            state_bytes_per_key: state_bytes,
            kpus: kpus as u32,
            price_per_kpu_hour: price,
        })
    }
}

impl FlinkSpec {
    /// The subtask that decides a user's records.
    pub fn subtask_of(&self, user: u32) -> u32 {
        match self.stock {
            StockPlacement::OneKey => 0,
            StockPlacement::Split => {
                ((user as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 32) as u32 % self.parallelism
            }
        }
    }
}

/// What the job counts.
#[derive(Clone, Debug, Default)]
pub struct JobCounters {
    pub decisions: u64,
    /// Decisions undone by a restore, to be taken again.
    pub replayed: u64,
    pub checkpoints: u64,
    pub failures: u64,
    /// Orders the sink wrote again for a decision already written.
    pub duplicate_orders: u64,
    /// Orders written for users who had already given up.
    pub orders_after_give_up: u64,
}

/// One record decided: its answer code, and when the at-least-once sink writes it (none: the
/// transactional sink holds it until a checkpoint completes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decided {
    pub decision: Decision,
    pub code: u8,
    pub sink_after: Option<SimDuration>,
}

/// A checkpoint trigger: when the checkpoint it starts completes (none: the job is down or one
/// is still in progress), and the next trigger, if there is work left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub complete_after: Option<SimDuration>,
    pub next_at: Option<SimTime>,
}

/// The job at run time: its subtasks (one record at a time each), the keyed state, the
/// checkpoint in progress, what a failure replays, the transactional sink's open transactions,
/// the random streams, fault windows and counters. Records are log entries, named by offset.
pub struct Job {
    pub spec: FlinkSpec,
    subtasks: Vec<Station<u32>>,
    /// Per subtask: the entry being decided and when it reached the subtask.
    head: Vec<(u32, SimTime)>,
    /// Per subtask: the latest delivery time handed out (fetches stay in offset order).
    last_delivery: Vec<SimTime>,
    pub state: StreamState,
    /// Per entry: the epoch in which it was last handed to a subtask (`u32::MAX`: never): a
    /// restarted job re-reads it once, however many deliveries were scheduled for it.
    enqueued_epoch: Vec<u32>,
    /// Per entry: orders the sink wrote for it (more than one: duplicates).
    orders_written: Vec<u8>,
    /// Entries decided since the last checkpoint was triggered, and before it (replayed if the
    /// checkpoint in progress does not complete).
    processed_since_trigger: Vec<u32>,
    processed_before_trigger: Vec<u32>,
    /// Transactional sink: outputs after the last trigger, and those of the checkpoint in
    /// progress.
    uncommitted: Vec<(u32, u8)>,
    precommitted: Vec<(u32, u8)>,
    /// Bumped by a failure: work scheduled before it is ignored.
    pub epoch: u32,
    pub down: bool,
    checkpoint_armed: bool,
    checkpoint_in_progress: bool,
    /// Per-record processing times (`flink/record`).
    record_rng: RngStream,
    /// Sink write times (`flink/sink`).
    sink_rng: RngStream,
    pub windows: FaultWindows,
    pub counters: JobCounters,
}

impl Job {
    pub fn new(spec: &FlinkSpec, stock: u64, users: usize, seed: u64) -> Self {
        let n = spec.parallelism as usize;
        Job {
            spec: spec.clone(),
            subtasks: (0..n).map(|_| Station::new(1, None).with_busiest_second()).collect(),
            head: vec![(0, SimTime::ZERO); n],
            last_delivery: vec![SimTime::ZERO; n],
            state: StreamState::new(spec.stock, spec.parallelism, stock, users),
            enqueued_epoch: Vec::new(),
            orders_written: Vec::new(),
            processed_since_trigger: Vec::new(),
            processed_before_trigger: Vec::new(),
            uncommitted: Vec::new(),
            precommitted: Vec::new(),
            epoch: 0,
            down: false,
            checkpoint_armed: false,
            checkpoint_in_progress: false,
            record_rng: rng::stream(seed, "flink/record"),
            sink_rng: rng::stream(seed, "flink/sink"),
            windows: FaultWindows::default(),
            counters: JobCounters::default(),
        }
    }

    /// When `user`'s entry, readable from `earliest`, is delivered: never before an entry
    /// delivered earlier to the same subtask.
    pub fn delivery_time(&mut self, user: u32, earliest: SimTime) -> SimTime {
        let last = &mut self.last_delivery[self.spec.subtask_of(user) as usize];
        *last = earliest.max(*last);
        *last
    }

    /// Hands undecided `entry` of `user` to its subtask at `now`, unless it was already in this
    /// epoch. If the subtask was idle, returns it and when the entry is decided (from now).
    pub fn enqueue(&mut self, now: SimTime, entry: u32, user: u32) -> Option<(u32, SimDuration)> {
        if self.enqueued_epoch.len() <= entry as usize {
            self.enqueued_epoch.resize(entry as usize + 1, u32::MAX);
        }
        let epoch = &mut self.enqueued_epoch[entry as usize];
        if *epoch == self.epoch {
            return None;
        }
        *epoch = self.epoch;
        let subtask = self.spec.subtask_of(user);
        match self.subtasks[subtask as usize].arrive(now, entry) {
            Admission::Serve(_) => {
                self.head[subtask as usize] = (entry, now);
                Some((subtask, self.record_time(now)))
            }
            _ => None,
        }
    }

    /// `subtask` finished the entry at its head (work of `epoch`; a stale epoch: nothing).
    /// Returns the entry, and the processing time of the next one waiting, which starts now.
    pub fn finish(
        &mut self,
        now: SimTime,
        subtask: u32,
        epoch: u32,
    ) -> Option<(u32, Option<SimDuration>)> {
        if epoch != self.epoch {
            return None;
        }
        let (entry, since) = self.head[subtask as usize];
        let next = self.subtasks[subtask as usize].depart(now, since).map(|next| {
            self.head[subtask as usize] = (next.job, next.arrived);
            self.record_time(now)
        });
        Some((entry, next))
    }

    /// Decides `entry` of `user` on `subtask` in keyed state.
    pub fn decide(&mut self, entry: u32, subtask: u32, user: u32, limit: u16) -> Decided {
        let share = match self.spec.stock {
            StockPlacement::OneKey => 0,
            StockPlacement::Split => subtask as usize,
        };
        let decision = self.state.decide(share, user, limit);
        self.counters.decisions += 1;
        self.processed_since_trigger.push(entry);
        let code = decision.code();
        let sink_after = match self.spec.sink {
            Sink::AtLeastOnce => Some(self.spec.sink_write.sample(&mut self.sink_rng)),
            Sink::Transactional => {
                self.uncommitted.push((entry, code));
                None
            }
        };
        Decided { decision, code, sink_after }
    }

    /// The sink writes an order for `entry`: whether it is the first (a later one is a
    /// duplicate order). `gave_up`: its user had stopped waiting.
    pub fn write_order(&mut self, entry: u32, gave_up: bool) -> bool {
        if self.orders_written.len() <= entry as usize {
            self.orders_written.resize(entry as usize + 1, 0);
        }
        let written = &mut self.orders_written[entry as usize];
        *written = written.saturating_add(1);
        if *written == 1 {
            if gave_up {
                self.counters.orders_after_give_up += 1;
            }
            true
        } else {
            self.counters.duplicate_orders += 1;
            false
        }
    }

    /// Arms the next checkpoint trigger (on the interval's grid after `now`), unless armed.
    pub fn arm_checkpoint(&mut self, now: SimTime) -> Option<SimTime> {
        if self.checkpoint_armed {
            return None;
        }
        self.checkpoint_armed = true;
        Some(super::next_tick(now, self.spec.checkpoint_interval))
    }

    /// The checkpoint trigger fires at `now`; `lag`: entries still to decide.
    pub fn trigger_checkpoint(&mut self, now: SimTime, lag: u64) -> Trigger {
        self.checkpoint_armed = false;
        let work_left = lag > 0
            || !self.processed_since_trigger.is_empty()
            || !self.uncommitted.is_empty()
            || self.down;
        let mut complete_after = None;
        // One checkpoint at a time (a slow one delays the next, as with Flink's default).
        if !self.down && !self.checkpoint_in_progress {
            self.checkpoint_in_progress = true;
            self.state.trigger_checkpoint();
            self.processed_before_trigger = std::mem::take(&mut self.processed_since_trigger);
            self.precommitted = std::mem::take(&mut self.uncommitted);
            complete_after = Some(self.spec.checkpoint_duration);
        }
        let next_at = if work_left { self.arm_checkpoint(now) } else { None };
        Trigger { complete_after, next_at }
    }

    /// The checkpoint of `epoch` completes (a stale epoch: nothing). Returns the outputs the
    /// transactional sink commits now.
    pub fn complete_checkpoint(&mut self, epoch: u32) -> Option<Vec<(u32, u8)>> {
        if epoch != self.epoch {
            return None;
        }
        self.checkpoint_in_progress = false;
        self.state.complete_checkpoint();
        self.processed_before_trigger.clear();
        self.counters.checkpoints += 1;
        Some(std::mem::take(&mut self.precommitted))
    }

    /// A task fails at `now`: the job stops, its state rolls back to the last completed
    /// checkpoint and open transactions abort. Returns the entries decided since then (to be
    /// decided again), or none if the job was already down.
    pub fn fail(&mut self, now: SimTime) -> Option<Vec<u32>> {
        if self.down {
            return None;
        }
        self.epoch += 1;
        self.down = true;
        self.checkpoint_in_progress = false;
        self.counters.failures += 1;
        for subtask in &mut self.subtasks {
            subtask.clear(now);
        }
        self.state.restore();
        let mut replay = std::mem::take(&mut self.processed_before_trigger);
        replay.append(&mut self.processed_since_trigger);
        self.counters.replayed += replay.len() as u64;
        self.uncommitted.clear();
        self.precommitted.clear();
        Some(replay)
    }

    /// The job of `epoch` runs again at `now` (a stale epoch: nothing, false).
    pub fn restart(&mut self, now: SimTime, epoch: u32) -> bool {
        if epoch != self.epoch {
            return false;
        }
        self.down = false;
        self.last_delivery.fill(now);
        true
    }

    /// Whether a delivery of `epoch` still counts.
    pub fn takes_delivery(&self, epoch: u32) -> bool {
        epoch == self.epoch && !self.down
    }

    /// The subtasks, for reports.
    pub fn subtasks(&self) -> &[Station<u32>] {
        &self.subtasks
    }

    fn record_time(&mut self, now: SimTime) -> SimDuration {
        let t = self.spec.record_time.sample(&mut self.record_rng);
        self.windows.apply(now, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::results::{ANSWER_PURCHASED, ANSWER_SOLD_OUT};

    const T: SimTime = SimTime::ZERO;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    /// One subtask holding `stock` in one key; records take 1 ms, sink writes 2 ms.
    fn job(sink: Sink, stock: u64) -> Job {
        let mut spec = RawFlink::default().check("flink", &mut Issues::new()).unwrap();
        spec.parallelism = 1;
        spec.sink = sink;
        spec.record_time = Dist::Constant(ms(1));
        spec.sink_write = Dist::Constant(ms(2));
        Job::new(&spec, stock, 8, 1)
    }

    /// Decides entries `entries` (entry `i` of user `i`) in order, limit 1.
    fn decide_all(j: &mut Job, entries: std::ops::Range<u32>) -> Vec<Decided> {
        entries.map(|e| j.decide(e, 0, e, 1)).collect()
    }

    #[test]
    fn records_are_decided_in_keyed_state_stock_first_then_the_limit() {
        let mut j = job(Sink::AtLeastOnce, 2);
        let d = |j: &mut Job, entry, user| j.decide(entry, 0, user, 1).decision;
        assert_eq!(d(&mut j, 0, 0), Decision::Purchased);
        assert_eq!(d(&mut j, 1, 0), Decision::LimitReached);
        assert_eq!(d(&mut j, 2, 1), Decision::Purchased);
        assert_eq!(d(&mut j, 3, 0), Decision::SoldOut, "stock is checked before the limit");
        assert_eq!(d(&mut j, 4, 2), Decision::SoldOut);
        assert_eq!((j.state.stock_left(), j.state.user_keys), (0, 2));
        assert_eq!(j.counters.decisions, 5);
        let decided = j.decide(5, 0, 3, 1);
        assert_eq!((decided.code, decided.sink_after), (ANSWER_SOLD_OUT, Some(ms(2))));
    }

    #[test]
    fn a_subtask_decides_one_entry_at_a_time_and_each_once_per_epoch() {
        let mut j = job(Sink::AtLeastOnce, 2);
        assert_eq!(j.enqueue(T, 0, 0), Some((0, ms(1))), "idle: decided after 1 ms");
        assert_eq!(j.enqueue(T, 1, 1), None, "waits its turn");
        assert_eq!(j.enqueue(T, 0, 0), None, "already handed over in this epoch");
        assert_eq!(j.finish(T + ms(1), 0, 0), Some((0, Some(ms(1)))), "the next one starts");
        assert_eq!(j.finish(T + ms(2), 0, 0), Some((1, None)));
        assert_eq!(j.finish(T + ms(2), 0, 7), None, "work of another epoch is ignored");
    }

    #[test]
    fn a_failure_restores_the_checkpoint_and_replays_what_was_decided_after_it() {
        let mut j = job(Sink::AtLeastOnce, 5);
        decide_all(&mut j, 0..2);
        let trigger = j.trigger_checkpoint(T, 0);
        assert_eq!(trigger.complete_after, Some(j.spec.checkpoint_duration));
        assert_eq!(j.complete_checkpoint(0), Some(vec![]), "nothing held back");
        decide_all(&mut j, 2..4);
        for entry in 0..4 {
            assert!(j.write_order(entry, false), "the first order of each decision");
        }
        assert_eq!(j.fail(T + ms(10)), Some(vec![2, 3]), "decided after the checkpoint");
        assert_eq!(j.fail(T + ms(11)), None, "already down");
        assert_eq!((j.state.stock_left(), j.state.per_user[..4].to_vec()), (3, vec![1, 1, 0, 0]));
        assert_eq!((j.epoch, j.counters.failures, j.counters.replayed), (1, 1, 2));
        assert!(!j.takes_delivery(1), "down until the restart");
        assert!(!j.restart(T + ms(20), 0), "a stale restart");
        assert!(j.restart(T + ms(20), 1));
        // The replay decides them again; the at-least-once sink writes their orders again.
        decide_all(&mut j, 2..4);
        let again = [j.write_order(2, false), j.write_order(3, true)];
        assert_eq!(again, [false, false], "duplicates");
        assert_eq!((j.counters.duplicate_orders, j.counters.orders_after_give_up), (2, 0));
    }

    #[test]
    fn a_failure_during_a_checkpoint_replays_from_the_one_before() {
        let mut j = job(Sink::AtLeastOnce, 5);
        decide_all(&mut j, 0..2);
        j.trigger_checkpoint(T, 0);
        decide_all(&mut j, 2..3);
        assert_eq!(j.fail(T + ms(100)), Some(vec![0, 1, 2]), "the checkpoint never completed");
        assert_eq!(j.state.stock_left(), 5);
        assert_eq!(j.complete_checkpoint(0), None, "its completion is stale");
    }

    #[test]
    fn the_transactional_sink_commits_only_when_a_checkpoint_completes() {
        let mut j = job(Sink::Transactional, 5);
        let decided = decide_all(&mut j, 0..2);
        assert!(decided.iter().all(|d| d.sink_after.is_none()), "nothing leaves at once");
        let trigger = j.trigger_checkpoint(T + ms(5), 0);
        assert_eq!(trigger.next_at, Some(T + j.spec.checkpoint_interval), "work left: re-armed");
        decide_all(&mut j, 2..3); // after the trigger: the next checkpoint's
        let committed = j.complete_checkpoint(0).unwrap();
        assert_eq!(committed, [(0, ANSWER_PURCHASED), (1, ANSWER_PURCHASED)]);
        // A failure aborts the open transaction: its outputs are never committed.
        assert_eq!(j.fail(T + ms(300)), Some(vec![2]));
        assert!(j.restart(T + ms(400), 1));
        j.trigger_checkpoint(T + ms(500), 0);
        assert_eq!(j.complete_checkpoint(1), Some(vec![]));
    }

    #[test]
    fn deliveries_to_a_subtask_keep_offset_order() {
        let mut j = job(Sink::AtLeastOnce, 1);
        assert_eq!(j.delivery_time(0, T + ms(9)), T + ms(9));
        assert_eq!(j.delivery_time(1, T + ms(4)), T + ms(9), "not before the earlier entry");
        assert_eq!(j.arm_checkpoint(T + ms(1)), Some(T + j.spec.checkpoint_interval));
        assert_eq!(j.arm_checkpoint(T + ms(2)), None, "armed already");
    }
}
