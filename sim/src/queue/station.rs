//! A queueing station: `c` identical servers in front of one FIFO queue.
//!
//! The station decides who is served when, and keeps its own statistics; it does not own the
//! clock or randomness. The caller samples service times, schedules the completion, and tells the
//! station when it happens ([`Station::depart`]). Two optional limits: a bound on the queue (an
//! arrival that finds it full is dropped) and patience (the caller schedules the deadline and calls
//! [`Station::renege`]; a job already in service stays). A reneged entry is left in place as a
//! tombstone and skipped; when tombstones outnumber the live entries the queue is compacted, so
//! memory follows the jobs actually waiting. Entries carry their ticket, which only grows along
//! the queue, so a ticket is found by binary search.
//!
//! Statistics follow the "reset at warm-up" convention: [`Station::end_warmup`] zeroes counters,
//! histograms and time integrals; jobs present then are still counted when they finish.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::stats::{BusiestWindow, DurationHistogram, DurationSummary, TimeWeighted};
use crate::time::{SimDuration, SimTime};

/// A place in a station's queue, for reneging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

impl Ticket {
    /// The ticket's number: with [`Station::with_first_ticket`], it tells stations apart.
    pub fn number(self) -> u64 {
        self.0
    }
}

/// What happened to an arriving job.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<J> {
    /// A server was free: the job starts service now.
    Serve(J),
    /// All servers busy: the job waits at this place in the queue.
    Queued(Ticket),
    /// The queue was full: the job is turned away.
    Dropped(J),
}

/// A job that has just started service, with the time it reached the station.
#[derive(Debug, PartialEq, Eq)]
pub struct Started<J> {
    pub job: J,
    pub arrived: SimTime,
}

#[derive(Debug)]
struct Waiting<J> {
    ticket: u64,
    /// `None` once the job has reneged.
    job: Option<J>,
    arrived: SimTime,
}

/// Counters and levels of one station since the end of warm-up.
#[derive(Clone, Debug, Default)]
pub struct StationStats {
    pub arrivals: u64,
    pub served: u64,
    pub dropped: u64,
    pub reneged: u64,
    pub busy: TimeWeighted,
    pub queue: TimeWeighted,
    pub in_system: TimeWeighted,
    /// Bounded queues: 1 while the queue is at its bound (arrivals are dropped), else 0.
    pub full: Option<TimeWeighted>,
    /// When asked for ([`Station::with_busiest_second`]): the busy servers' busiest second.
    pub busiest: Option<BusiestWindow>,
    pub wait: DurationHistogram,
    pub sojourn: DurationHistogram,
}

/// A station's figures at the end of a run, in report units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StationReport {
    pub servers: u32,
    pub arrivals: u64,
    pub served: u64,
    pub dropped: u64,
    pub reneged: u64,
    pub utilization: f64,
    pub mean_queue_len: f64,
    pub peak_queue_len: u64,
    pub mean_in_system: f64,
    pub arrival_rate_per_s: f64,
    pub mean_wait_s: f64,
    pub mean_sojourn_s: f64,
    pub p50_sojourn_s: f64,
    pub p90_sojourn_s: f64,
    pub p99_sojourn_s: f64,
    pub p999_sojourn_s: f64,
    pub max_sojourn_s: f64,
    pub wait: DurationSummary,
    /// Bounded queues: time spent at the bound, when every arrival was dropped (a peak queue
    /// equal to the bound does not say for how long).
    pub time_at_cap_s: Option<f64>,
    /// When asked for: the highest mean utilisation over ten consecutive 100 ms intervals.
    pub busiest_1s_utilization: Option<f64>,
}

/// A multi-server FIFO station with an optional queue bound.
#[derive(Debug)]
pub struct Station<J> {
    servers: u32,
    busy: u32,
    queue_capacity: Option<usize>,
    queue: VecDeque<Waiting<J>>,
    /// The ticket the next queued job gets.
    next_ticket: u64,
    /// Entries in `queue` that have not reneged.
    waiting: usize,
    stats_since: SimTime,
    stats: StationStats,
}

impl<J> Station<J> {
    /// A station with `servers` ≥ 1 servers and at most `queue_capacity` waiting jobs.
    pub fn new(servers: u32, queue_capacity: Option<usize>) -> Self {
        assert!(servers >= 1, "a station needs at least one server");
        Station {
            servers,
            busy: 0,
            queue_capacity,
            queue: VecDeque::new(),
            next_ticket: 0,
            waiting: 0,
            stats_since: SimTime::ZERO,
            stats: StationStats {
                full: queue_capacity.map(|_| TimeWeighted::default()),
                ..StationStats::default()
            },
        }
    }

    /// The same station, also tracking its busiest second (reported as
    /// `busiest_1s_utilization`).
    pub fn with_busiest_second(mut self) -> Self {
        self.stats.busiest = Some(BusiestWindow::one_second());
        self
    }

    /// The same station with tickets numbered from `first`: stations that share one kind of
    /// timeout event keep their tickets apart, so a ticket names its station.
    pub fn with_first_ticket(mut self, first: u64) -> Self {
        self.next_ticket = first;
        self
    }

    pub fn servers(&self) -> u32 {
        self.servers
    }
    pub fn busy(&self) -> u32 {
        self.busy
    }
    /// Jobs waiting (not in service).
    pub fn waiting(&self) -> usize {
        self.waiting
    }
    /// When the statistics started (time zero, or the end of warm-up).
    pub fn stats_since(&self) -> SimTime {
        self.stats_since
    }
    pub fn stats(&self) -> &StationStats {
        &self.stats
    }

    #[inline]
    fn record_levels(&mut self, now: SimTime) {
        self.stats.busy.set(now, self.busy as u64);
        self.stats.queue.set(now, self.waiting as u64);
        self.stats.in_system.set(now, self.busy as u64 + self.waiting as u64);
        if let (Some(full), Some(cap)) = (&mut self.stats.full, self.queue_capacity) {
            full.set(now, u64::from(self.waiting >= cap));
        }
        if let Some(busiest) = &mut self.stats.busiest {
            busiest.set(now, self.busy as u64);
        }
    }

    /// A job arrives at `now`.
    #[inline]
    pub fn arrive(&mut self, now: SimTime, job: J) -> Admission<J> {
        self.stats.arrivals += 1;
        if self.busy < self.servers {
            self.busy += 1;
            self.stats.wait.record(SimDuration::ZERO);
            self.record_levels(now);
            return Admission::Serve(job);
        }
        if self.queue_capacity.is_some_and(|cap| self.waiting >= cap) {
            self.stats.dropped += 1;
            return Admission::Dropped(job);
        }
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.queue.push_back(Waiting { ticket: ticket.0, job: Some(job), arrived: now });
        self.waiting += 1;
        self.record_levels(now);
        Admission::Queued(ticket)
    }

    /// The job at `ticket` gives up waiting at `now`; returns it if it was still waiting.
    pub fn renege(&mut self, now: SimTime, ticket: Ticket) -> Option<J> {
        let index = self.queue.binary_search_by_key(&ticket.0, |w| w.ticket).ok()?;
        let job = self.queue[index].job.take()?;
        self.waiting -= 1;
        self.stats.reneged += 1;
        self.record_levels(now);
        let tombstones = self.queue.len() - self.waiting;
        if tombstones > 64 && tombstones > self.waiting {
            self.queue.retain(|w| w.job.is_some());
        }
        Some(job)
    }

    /// One server finishes, at `now`, the job that reached the station at `arrived`. Returns the
    /// next job to start on the freed server, if one is waiting.
    #[inline]
    pub fn depart(&mut self, now: SimTime, arrived: SimTime) -> Option<Started<J>> {
        debug_assert!(self.busy > 0, "departure from an idle station");
        self.stats.served += 1;
        self.stats.sojourn.record(now - arrived);
        while let Some(entry) = self.queue.pop_front() {
            if let Some(job) = entry.job {
                self.waiting -= 1;
                self.stats.wait.record(now - entry.arrived);
                self.record_levels(now);
                return Some(Started { job, arrived: entry.arrived });
            }
        }
        self.busy -= 1;
        self.record_levels(now);
        None
    }

    /// The next waiting job joins the job in service on a busy server, to be served with it (a
    /// batch): it leaves the queue at `now`, and finishes with [`Station::leave`], not
    /// [`Station::depart`], so the server stays with the batch's first job.
    pub fn join(&mut self, now: SimTime) -> Option<Started<J>> {
        debug_assert!(self.busy > 0, "a job joins a batch in service");
        while let Some(entry) = self.queue.pop_front() {
            if let Some(job) = entry.job {
                self.waiting -= 1;
                self.stats.wait.record(now - entry.arrived);
                self.record_levels(now);
                return Some(Started { job, arrived: entry.arrived });
            }
        }
        None
    }

    /// A job that joined a batch (it reached the station at `arrived`) finishes at `now`.
    pub fn leave(&mut self, now: SimTime, arrived: SimTime) {
        self.stats.served += 1;
        self.stats.sojourn.record(now - arrived);
    }

    /// The station fails at `now`: every server stops and every waiting job is removed and
    /// returned in queue order (the caller knows which jobs were in service and must ignore
    /// their pending completions).
    pub fn clear(&mut self, now: SimTime) -> Vec<J> {
        let jobs: Vec<J> = self.queue.drain(..).filter_map(|w| w.job).collect();
        self.waiting = 0;
        self.busy = 0;
        self.record_levels(now);
        jobs
    }

    /// Starts statistics afresh at `now` (warm-up deletion).
    pub fn end_warmup(&mut self, now: SimTime) {
        let mut stats = std::mem::take(&mut self.stats);
        stats.busy.restart(now);
        stats.queue.restart(now);
        stats.in_system.restart(now);
        if let Some(full) = &mut stats.full {
            full.restart(now);
        }
        self.stats = StationStats {
            busy: stats.busy,
            queue: stats.queue,
            in_system: stats.in_system,
            full: stats.full,
            busiest: stats.busiest.map(|_| {
                let mut fresh = BusiestWindow::one_second();
                fresh.set(now, self.busy as u64);
                fresh
            }),
            ..StationStats::default()
        };
        self.stats_since = now;
    }

    /// The station's figures for the period from the end of warm-up to `end`.
    pub fn report(&self, end: SimTime) -> StationReport {
        report_from(&self.stats, self.servers, self.stats_since, end)
    }
}

/// A station's report from its statistics (shared by the FIFO and processor-sharing stations).
pub fn report_from(s: &StationStats, servers: u32, since: SimTime, end: SimTime) -> StationReport {
    let span_s = (end - since).as_secs_f64();
    let sojourn = s.sojourn.summary();
    StationReport {
        servers,
        arrivals: s.arrivals,
        served: s.served,
        dropped: s.dropped,
        reneged: s.reneged,
        utilization: s.busy.mean(end) / servers as f64,
        mean_queue_len: s.queue.mean(end),
        peak_queue_len: s.queue.peak(),
        mean_in_system: s.in_system.mean(end),
        arrival_rate_per_s: if span_s > 0.0 { s.arrivals as f64 / span_s } else { 0.0 },
        mean_wait_s: s.wait.mean_secs(),
        mean_sojourn_s: sojourn.mean_s,
        p50_sojourn_s: sojourn.p50_s,
        p90_sojourn_s: sojourn.p90_s,
        p99_sojourn_s: sojourn.p99_s,
        p999_sojourn_s: sojourn.p999_s,
        max_sojourn_s: sojourn.max_s,
        wait: s.wait.summary(),
        time_at_cap_s: s.full.as_ref().map(|full| full.mean(end) * span_s),
        busiest_1s_utilization: s.busiest.as_ref().map(|b| b.peak_mean(end) / servers as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    #[test]
    fn fifo_with_two_servers_and_a_bound() {
        let mut st = Station::new(2, Some(1));
        assert_eq!(st.arrive(t(0), 'a'), Admission::Serve('a'));
        assert_eq!(st.arrive(t(1), 'b'), Admission::Serve('b'));
        assert!(matches!(st.arrive(t(2), 'c'), Admission::Queued(_)));
        assert_eq!(st.arrive(t(3), 'd'), Admission::Dropped('d'));
        assert_eq!(st.depart(t(10), t(0)), Some(Started { job: 'c', arrived: t(2) }));
        assert_eq!(st.depart(t(11), t(1)), None);
        assert_eq!(st.depart(t(12), t(2)), None);
        assert_eq!(st.busy(), 0);
        let r = st.report(t(20));
        assert_eq!((r.arrivals, r.served, r.dropped), (4, 3, 1));
        // Waits: a 0, b 0, c 8 ns.
        assert!((r.mean_wait_s - 8e-9 / 3.0).abs() < 1e-15);
        // Busy: 2 servers over [1,11), 1 over [0,1) and [11,12): 22 server-ns over 2×20.
        assert!((r.utilization - 22.0 / 40.0).abs() < 1e-12);
        // The one waiting place was taken over [2, 10): 8 ns at the bound.
        assert!((r.time_at_cap_s.unwrap() - 8e-9).abs() < 1e-18);
        assert_eq!(Station::<u8>::new(1, None).report(t(5)).time_at_cap_s, None);
    }

    #[test]
    fn a_batch_joins_the_job_in_service_and_skips_reneged_waiters() {
        let mut st = Station::new(1, None);
        assert_eq!(st.arrive(t(0), 'a'), Admission::Serve('a'));
        let Admission::Queued(b) = st.arrive(t(1), 'b') else { panic!() };
        st.arrive(t(2), 'c');
        st.arrive(t(3), 'd');
        assert_eq!(st.renege(t(4), b), Some('b'));
        assert_eq!(st.join(t(5)), Some(Started { job: 'c', arrived: t(2) }));
        assert_eq!((st.busy(), st.waiting()), (1, 1), "the server stays with the first job");
        st.leave(t(9), t(2));
        assert_eq!(st.depart(t(9), t(0)), Some(Started { job: 'd', arrived: t(3) }));
        assert_eq!(st.join(t(9)), None, "nobody left to join");
        let r = st.report(t(10));
        assert_eq!((r.served, r.reneged), (2, 1));
    }

    #[test]
    fn reneged_jobs_are_skipped_and_counted() {
        let mut st = Station::new(1, None);
        assert_eq!(st.arrive(t(0), 1), Admission::Serve(1));
        let Admission::Queued(t2) = st.arrive(t(1), 2) else { panic!() };
        let Admission::Queued(t3) = st.arrive(t(2), 3) else { panic!() };
        assert_eq!(st.renege(t(5), t2), Some(2));
        assert_eq!(st.renege(t(6), t2), None, "a job reneges once");
        assert_eq!(st.waiting(), 1);
        assert_eq!(st.depart(t(10), t(0)), Some(Started { job: 3, arrived: t(2) }));
        assert_eq!(st.renege(t(11), t3), None, "a job in service does not renege");
        assert_eq!(st.stats().reneged, 1);
    }

    #[test]
    fn tombstones_are_compacted_and_tickets_still_found() {
        let mut st = Station::new(1, None);
        st.arrive(t(0), 0u32);
        let tickets: Vec<Ticket> = (1..=1000u32)
            .map(|j| match st.arrive(t(j as u64), j) {
                Admission::Queued(ticket) => ticket,
                other => panic!("{other:?}"),
            })
            .collect();
        // All but every tenth job give up; the queue shrinks to the live ones.
        for (i, ticket) in tickets.iter().enumerate() {
            if i % 10 != 0 {
                assert_eq!(st.renege(t(2000), *ticket), Some(i as u32 + 1));
            }
        }
        assert_eq!(st.waiting(), 100);
        assert!(st.queue.len() <= 2 * st.waiting() + 64, "queue holds {}", st.queue.len());
        assert_eq!(st.renege(t(2001), tickets[10]), Some(11), "found after compaction");
        assert_eq!(st.depart(t(3000), t(0)).map(|s| s.job), Some(1));
    }

    #[test]
    fn warmup_resets_counts_but_keeps_jobs() {
        let mut st = Station::new(1, None);
        st.arrive(t(0), ());
        st.arrive(t(1), ());
        st.end_warmup(t(100));
        assert_eq!(st.stats().arrivals, 0);
        assert!(st.depart(t(150), t(0)).is_some());
        let r = st.report(t(200));
        assert_eq!(r.served, 1);
        assert_eq!(r.utilization, 1.0);
        assert_eq!(r.mean_queue_len, 0.5);
    }
}
