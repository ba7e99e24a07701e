//! A processor-sharing station: every job present is served at once, `servers` of them at full
//! speed when few are present, each at `servers / n` of full speed when n > servers are.
//!
//! This is how M:N task runtimes (goroutines) share an instance's cores among many tasks, and the
//! classic PS discipline of queueing theory (for one server, the M/G/1-PS mean sojourn is
//! E[S] / (1 − ρ) whatever the service distribution). Service is tracked in virtual time: all
//! jobs progress at the same rate, so the station keeps one virtual clock `V` (work done by
//! each present job) and each job's finish tag `V(arrival) + work`; the next completion is the
//! smallest tag. The caller schedules a wake-up at the time [`SharedStation::arrive`] or
//! [`SharedStation::wake`] returns and hands its generation back: a wake-up made stale by a
//! later arrival is recognised and ignored.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::queue::station::{StationReport, StationStats};
use crate::time::{SimDuration, SimTime};

/// Jobs a wake-up found done (with their arrival times), and the next wake-up if jobs remain.
pub type Completions<J> = (Vec<(J, SimTime)>, Option<Wake>);

/// When the station next needs the caller's attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wake {
    pub at: SimTime,
    pub generation: u64,
}

struct Present<J> {
    /// Virtual time at which the job's work is done.
    finish: f64,
    seq: u64,
    arrived: SimTime,
    work: SimDuration,
    job: J,
}

impl<J> PartialEq for Present<J> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<J> Eq for Present<J> {}
impl<J> PartialOrd for Present<J> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<J> Ord for Present<J> {
    /// Reversed, so the binary heap pops the smallest tag first (ties: first come).
    fn cmp(&self, other: &Self) -> Ordering {
        other.finish.total_cmp(&self.finish).then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A processor-sharing station with `servers` servers and an optional bound on jobs present.
pub struct SharedStation<J> {
    servers: u32,
    capacity: Option<usize>,
    present: BinaryHeap<Present<J>>,
    /// Work done by each present job since the station started (virtual time, ns).
    virtual_ns: f64,
    last_update: SimTime,
    next_seq: u64,
    generation: u64,
    stats_since: SimTime,
    stats: StationStats,
}

/// Tags within this much (virtual ns) of the clock count as done: floating-point slack.
const SLACK_NS: f64 = 1e-3;

impl<J> SharedStation<J> {
    /// A station with `servers` ≥ 1 and at most `capacity` jobs present (`None`: unbounded).
    pub fn new(servers: u32, capacity: Option<usize>) -> Self {
        assert!(servers >= 1, "a station needs at least one server");
        SharedStation {
            servers,
            capacity,
            present: BinaryHeap::new(),
            virtual_ns: 0.0,
            last_update: SimTime::ZERO,
            next_seq: 0,
            generation: 0,
            stats_since: SimTime::ZERO,
            stats: StationStats::default(),
        }
    }

    /// Jobs present.
    pub fn len(&self) -> usize {
        self.present.len()
    }

    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    /// Work per nanosecond each present job receives.
    fn rate(&self) -> f64 {
        let n = self.present.len();
        if n == 0 { 0.0 } else { (self.servers as f64 / n as f64).min(1.0) }
    }

    /// Brings the virtual clock to `now`.
    fn advance(&mut self, now: SimTime) {
        let dt = (now - self.last_update).as_nanos() as f64;
        self.virtual_ns += dt * self.rate();
        self.last_update = now;
    }

    fn record_levels(&mut self, now: SimTime) {
        let n = self.present.len() as u64;
        let servers = self.servers as u64;
        self.stats.busy.set(now, n.min(servers));
        self.stats.queue.set(now, n.saturating_sub(servers));
        self.stats.in_system.set(now, n);
    }

    /// The next completion, as a wake-up to schedule (a new generation: older ones are stale).
    fn next_wake(&mut self) -> Option<Wake> {
        self.generation += 1;
        let head = self.present.peek()?;
        let remaining = (head.finish - self.virtual_ns).max(0.0);
        let ns = (remaining / self.rate()).ceil().max(1.0) as u64;
        Some(Wake {
            at: self.last_update + SimDuration::from_nanos(ns),
            generation: self.generation,
        })
    }

    /// A job needing `work` arrives at `now`. `Err(job)` if the station is full; otherwise the
    /// wake-up to schedule (every arrival changes everyone's speed).
    pub fn arrive(&mut self, now: SimTime, job: J, work: SimDuration) -> Result<Wake, J> {
        self.stats.arrivals += 1;
        if self.capacity.is_some_and(|cap| self.present.len() >= cap) {
            self.stats.dropped += 1;
            return Err(job);
        }
        self.advance(now);
        let seq = self.next_seq;
        self.next_seq += 1;
        let finish = self.virtual_ns + work.as_nanos() as f64;
        self.present.push(Present { finish, seq, arrived: now, work, job });
        self.record_levels(now);
        Ok(self.next_wake().expect("a job is present"))
    }

    /// The wake-up of `generation` is due at `now`: returns `None` if it is stale, else the jobs
    /// done (in finish order, with their arrival times) and the next wake-up, if any job remains.
    pub fn wake(&mut self, now: SimTime, generation: u64) -> Option<Completions<J>> {
        if generation != self.generation {
            return None;
        }
        self.advance(now);
        let mut done = Vec::new();
        while self.present.peek().is_some_and(|p| p.finish <= self.virtual_ns + SLACK_NS) {
            let p = self.present.pop().expect("peeked");
            let sojourn = now - p.arrived;
            self.stats.served += 1;
            self.stats.sojourn.record(sojourn);
            // The time it was present but not being served at full speed.
            self.stats.wait.record(SimDuration::from_nanos(
                sojourn.as_nanos().saturating_sub(p.work.as_nanos()),
            ));
            done.push((p.job, p.arrived));
        }
        self.record_levels(now);
        let next = self.next_wake();
        Some((done, next))
    }

    /// Starts statistics afresh at `now` (warm-up deletion).
    pub fn end_warmup(&mut self, now: SimTime) {
        let mut stats = std::mem::take(&mut self.stats);
        stats.busy.restart(now);
        stats.queue.restart(now);
        stats.in_system.restart(now);
        self.stats = StationStats {
            busy: stats.busy,
            queue: stats.queue,
            in_system: stats.in_system,
            ..StationStats::default()
        };
        self.stats_since = now;
    }

    /// The station's figures from the end of warm-up to `end`: busy servers are min(n, servers),
    /// the queue is the jobs beyond the servers, and a job's wait is its sojourn minus its work.
    pub fn report(&self, end: SimTime) -> StationReport {
        crate::queue::station::report_from(&self.stats, self.servers, self.stats_since, end)
    }
}
