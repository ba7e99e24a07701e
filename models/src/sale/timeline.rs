//! The per-interval timeline of a run (`timeline.csv`): what happened in each 100 ms.
//!
//! Counters (attempts sent, outcomes seen by clients) are summed per interval; levels (stock in
//! the database and in Redis, queue lengths, requests in flight) are the value at the end of the
//! interval, carried forward through intervals where nothing changed. Long format is avoided on
//! purpose: one row per interval with a fixed column order, documented in the README. The rows
//! are typed (`crate::timelines::SaleRow`), and written and read back in `crate::timelines`.

use sim::{SimDuration, SimTime};

use super::outcome::{Outcome, OutcomeCounts};
use super::tiers::Tiers;
use crate::timelines::SaleRow;

/// At most this many intervals are kept (a 100 ms timeline of 29 hours, ~180 MB at most); later
/// events are not drawn, which the CSV's last row makes visible.
const MAX_ROWS: usize = 1 << 20;

/// Busy levels integrated per interval: gateway cores, gateway threads, pool, Redis shard.
const BUSY: usize = 4;

#[derive(Clone, Debug, Default)]
struct Row {
    attempts: u64,
    outcomes: [u64; Outcome::COUNT],
    /// Levels set during this interval: (db stock, redis stock, gateway queue, pool queue,
    /// lock queue, gateway busy).
    db_stock: Option<i64>,
    redis_stock: Option<i64>,
    queues: Option<[u64; 5]>,
    /// Busy-server time within the interval (server·ns): gateway cores, gateway threads,
    /// database pool, Redis shard.
    busy_ns: [f64; BUSY],
    in_flight: Option<u64>,
    /// `queue_stream`: consumer lag and the stock in the job's state.
    lag: Option<u64>,
    stream_stock: Option<i64>,
}

/// Per-interval counters and levels.
#[derive(Clone, Debug)]
pub struct Timeline {
    interval: SimDuration,
    rows: Vec<Row>,
    /// Busy levels since `busy_since`, integrated into the rows on every change.
    busy: [u64; BUSY],
    busy_since: SimTime,
    current_index: usize,
    current_start: u64,
    /// The end of the run, once closed: the last row covers only up to it.
    end: Option<SimTime>,
}

impl Timeline {
    pub fn new(interval: SimDuration) -> Self {
        Timeline {
            interval,
            // The first interval's row exists from the start, as the current one.
            rows: vec![Row::default()],
            busy: [0; BUSY],
            busy_since: SimTime::ZERO,
            current_index: 0,
            current_start: 0,
            end: None,
        }
    }

    /// The row of `now`'s interval; `None` past the last kept row.
    #[inline]
    fn row(&mut self, now: SimTime) -> Option<&mut Row> {
        // Nearly every call lands in the current interval, whose row exists (see `new`).
        if now.as_nanos().wrapping_sub(self.current_start) < self.interval.as_nanos() {
            return self.rows.get_mut(self.current_index);
        }
        self.switch_row(now)
    }

    /// Makes `now`'s interval the current one, adding rows up to it.
    #[cold]
    fn switch_row(&mut self, now: SimTime) -> Option<&mut Row> {
        let index = (now.as_nanos() / self.interval.as_nanos()) as usize;
        if index >= MAX_ROWS {
            return None;
        }
        if self.rows.len() <= index {
            self.rows.resize(index + 1, Row::default());
        }
        self.current_index = index;
        self.current_start = index as u64 * self.interval.as_nanos();
        Some(&mut self.rows[index])
    }

    pub fn attempt(&mut self, now: SimTime) {
        if let Some(row) = self.row(now) {
            row.attempts += 1;
        }
    }

    pub fn outcome(&mut self, now: SimTime, outcome: Outcome) {
        if let Some(row) = self.row(now) {
            row.outcomes[outcome.index()] += 1;
        }
    }

    pub fn db_stock(&mut self, now: SimTime, stock: i64) {
        if let Some(row) = self.row(now) {
            row.db_stock = Some(stock);
        }
    }

    /// Attempts sent whose client is still waiting.
    pub fn in_flight(&mut self, now: SimTime, count: u64) {
        if let Some(row) = self.row(now) {
            row.in_flight = Some(count);
        }
    }

    /// `queue_stream`: consumer lag (entries not yet decided) and, when known, the job's stock.
    pub fn stream_levels(&mut self, now: SimTime, lag: u64, stock: Option<i64>) {
        if let Some(row) = self.row(now) {
            row.lag = Some(lag);
            if stock.is_some() {
                row.stream_stock = stock;
            }
        }
    }

    pub fn redis_stock(&mut self, now: SimTime, stock: i64) {
        if let Some(row) = self.row(now) {
            row.redis_stock = Some(stock);
        }
    }

    pub fn level(&mut self, now: SimTime, tiers: &Tiers) {
        let (gateway, pool) = (&tiers.gateway, tiers.db.pool());
        let redis = tiers.redis.as_ref().map(|r| r.shard());
        let queues = [
            gateway.waiting() as u64,
            gateway.cores_busy() as u64,
            pool.waiting() as u64,
            tiers.db.lock_waiters() as u64,
            redis.map_or(0, |s| s.waiting() as u64),
        ];
        if let Some(row) = self.row(now) {
            row.queues = Some(queues);
        }
        let busy = [
            gateway.cores_busy() as u64,
            gateway.threads_busy().unwrap_or(0) as u64,
            pool.busy() as u64,
            redis.map_or(0, |s| s.busy() as u64),
        ];
        if busy != self.busy {
            self.integrate_busy(now);
            self.busy = busy;
        }
    }

    /// Closes the timeline at `end`, the end of the run: records the final levels and
    /// integrates the busy levels up to it. Returns the instant to which end-of-run outcomes
    /// belong: `end` itself, unless `end` is the boundary that closes the last interval (a run
    /// stopped at a round horizon), where it is the last nanosecond before — so no empty row
    /// starts at `end`.
    pub fn close(&mut self, end: SimTime, tiers: &Tiers) -> SimTime {
        let interval = self.interval.as_nanos();
        let end_ns = end.as_nanos();
        let starts_a_row =
            end_ns.is_multiple_of(interval) && (end_ns / interval) as usize >= self.rows.len();
        let closing =
            if end_ns > 0 && starts_a_row { SimTime::from_nanos(end_ns - 1) } else { end };
        self.level(closing, tiers);
        self.integrate_busy(end);
        self.end = Some(end);
        closing
    }

    /// Adds the busy levels held since the last change to the intervals they span.
    fn integrate_busy(&mut self, now: SimTime) {
        let interval = self.interval.as_nanos();
        let mut t = self.busy_since.as_nanos();
        let end = now.as_nanos();
        self.busy_since = now;
        if self.busy == [0; BUSY] {
            return;
        }
        while t < end {
            let busy = self.busy;
            if self.row(SimTime::from_nanos(t)).is_none() {
                return;
            }
            // `row` made `t`'s interval the current one: its end needs no division.
            let boundary = self.current_start + interval;
            let piece = (boundary.min(end) - t) as f64;
            let row = &mut self.rows[self.current_index];
            for (acc, level) in row.busy_ns.iter_mut().zip(busy) {
                *acc += level as f64 * piece;
            }
            t = boundary.min(end);
        }
    }

    /// Attempts sent per interval, for tests and plots.
    pub fn attempts_per_interval(&self) -> Vec<u64> {
        self.rows.iter().map(|r| r.attempts).collect()
    }

    /// The rows, one per interval from time zero to the last event (written by
    /// `crate::timelines`). `servers`: gateway cores (or loops), gateway threads (0: none),
    /// database connections, Redis (1), for utilisation.
    pub fn rows(
        &self,
        initial_stock: i64,
        with_redis: bool,
        with_stream: bool,
        servers: [u32; BUSY],
    ) -> Vec<SaleRow> {
        let (mut db, mut redis, mut queues) = (initial_stock, initial_stock, [0u64; 5]);
        let mut in_flight = 0;
        let (mut lag, mut stream_stock) = (0, initial_stock);
        let mut out = Vec::with_capacity(self.rows.len());
        for (i, row) in self.rows.iter().enumerate() {
            db = row.db_stock.unwrap_or(db);
            redis = row.redis_stock.unwrap_or(redis);
            queues = row.queues.unwrap_or(queues);
            in_flight = row.in_flight.unwrap_or(in_flight);
            lag = row.lag.unwrap_or(lag);
            stream_stock = row.stream_stock.unwrap_or(stream_stock);
            // Utilisation: busy-server time over the capacity of the part of the interval the
            // run covered (all of it but in the last row).
            let start_ns = i as u64 * self.interval.as_nanos();
            let covered_ns = self.end.map_or(self.interval.as_nanos(), |end| {
                end.as_nanos().saturating_sub(start_ns).min(self.interval.as_nanos())
            });
            let utilization = |k: usize| {
                let capacity = covered_ns as f64 * servers[k].max(1) as f64;
                if capacity > 0.0 { row.busy_ns[k] / capacity } else { 0.0 }
            };
            // Without Redis (or a stream) its columns are empty, not zero.
            out.push(SaleRow {
                t_s: start_ns as f64 * 1e-9,
                attempts: row.attempts,
                outcomes: OutcomeCounts(row.outcomes),
                db_stock: db,
                redis_stock: with_redis.then_some(redis),
                gateway_queue: queues[0],
                gateway_cores_busy: queues[1],
                db_pool_queue: queues[2],
                row_lock_queue: queues[3],
                redis_queue: with_redis.then_some(queues[4]),
                in_flight,
                gateway_cpu_utilization: utilization(0),
                gateway_threads_utilization: (servers[1] > 0).then(|| utilization(1)),
                db_pool_utilization: utilization(2),
                redis_utilization: with_redis.then(|| utilization(3)),
                kafka_lag: with_stream.then_some(lag),
                stream_stock: with_stream.then_some(stream_stock),
            });
        }
        out
    }
}
