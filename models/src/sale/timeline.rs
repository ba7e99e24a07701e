//! The per-interval timeline of a run (`timeline.csv`): what happened in each 100 ms.
//!
//! Counters (attempts sent, outcomes seen by clients) are summed per interval; levels (stock in
//! the database and in Redis, queue lengths, requests in flight) are the value at the end of the
//! interval, carried forward through intervals where nothing changed. Long format is avoided on
//! purpose: one row per interval with a fixed column order, documented in the README. The rows
//! are typed (`crate::timelines::SaleRow`), and written and read back in `crate::timelines`.

use sim::{SimDuration, SimTime, Station};

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
    /// `queue_stream`: the busiest Kafka partition's and Flink subtask's utilisation.
    stream_utilization: Option<[f64; 2]>,
    /// Final answers given in this interval: their latency's p50 and p99 (ns).
    answers: Option<[u64; 2]>,
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
    /// Latencies of the final answers given in interval `answer_row`, not yet summarised.
    answer_latencies: Vec<u64>,
    answer_row: usize,
    /// `queue_stream`: its stations' busy levels, integrated per interval.
    stream: Option<StreamBusy>,
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
            answer_latencies: Vec::new(),
            answer_row: 0,
            stream: None,
        }
    }

    /// A final answer given at `now`, `latency` after the buyer's first click.
    pub fn answer(&mut self, now: SimTime, latency: SimDuration) {
        let index = (now.as_nanos() / self.interval.as_nanos()) as usize;
        if index != self.answer_row {
            self.summarise_answers();
            self.answer_row = index;
        }
        self.answer_latencies.push(latency.as_nanos());
    }

    /// Writes the p50 and p99 (nearest rank) of the pending answers into their row.
    fn summarise_answers(&mut self) {
        let latencies = &mut self.answer_latencies;
        if latencies.is_empty() || self.answer_row >= MAX_ROWS {
            latencies.clear();
            return;
        }
        latencies.sort_unstable();
        let n = latencies.len();
        let rank = |q: f64| latencies[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let quantiles = [rank(0.5), rank(0.99)];
        latencies.clear();
        if self.rows.len() <= self.answer_row {
            self.rows.resize(self.answer_row + 1, Row::default());
        }
        self.rows[self.answer_row].answers = Some(quantiles);
    }

    /// `queue_stream`: the Kafka partitions' and Flink subtasks' busy levels at `now`.
    pub fn stream_busy(
        &mut self,
        now: SimTime,
        partitions: &[Station<u32>],
        subtasks: &[Station<u32>],
    ) {
        let stream = self.stream.get_or_insert_with(|| StreamBusy::new(partitions, subtasks));
        let busy = partitions.iter().chain(subtasks).map(|s| s.busy());
        if busy.clone().eq(stream.levels.iter().copied()) {
            return;
        }
        stream.advance(now.as_nanos(), self.interval.as_nanos(), &mut self.rows);
        stream.levels.clear();
        stream.levels.extend(busy);
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
        self.summarise_answers();
        if let Some(stream) = &mut self.stream {
            stream.close(end.as_nanos(), interval, &mut self.rows);
        }
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
                kafka_partition_utilization: with_stream
                    .then(|| row.stream_utilization.map_or(0.0, |u| u[0])),
                flink_subtask_utilization: with_stream
                    .then(|| row.stream_utilization.map_or(0.0, |u| u[1])),
                answer_latency_p50_s: row.answers.map(|a| a[0] as f64 * 1e-9),
                answer_latency_p99_s: row.answers.map(|a| a[1] as f64 * 1e-9),
            });
        }
        out
    }
}

/// The stream's stations (Kafka partitions, then Flink subtasks): busy levels integrated per
/// interval, each finished interval keeping its busiest partition's and subtask's utilisation.
#[derive(Clone, Debug)]
struct StreamBusy {
    partitions: usize,
    servers: Vec<u32>,
    levels: Vec<u32>,
    /// Integrated up to `since`, which lies in interval `row`; busy·ns per station in it.
    since: u64,
    row: usize,
    area: Vec<f64>,
}

impl StreamBusy {
    fn new(partitions: &[Station<u32>], subtasks: &[Station<u32>]) -> Self {
        let servers: Vec<u32> = partitions.iter().chain(subtasks).map(|s| s.servers()).collect();
        StreamBusy {
            partitions: partitions.len(),
            levels: vec![0; servers.len()],
            area: vec![0.0; servers.len()],
            servers,
            since: 0,
            row: 0,
            // The first call integrates zero levels from time zero.
        }
    }

    /// Integrates the levels up to `t`, finishing every interval it passes.
    fn advance(&mut self, t: u64, interval: u64, rows: &mut Vec<Row>) {
        while self.since < t {
            let boundary = (self.row as u64 + 1) * interval;
            let until = boundary.min(t);
            let piece = (until - self.since) as f64;
            for (area, level) in self.area.iter_mut().zip(&self.levels) {
                *area += *level as f64 * piece;
            }
            self.since = until;
            if until == boundary {
                self.finish(interval, rows);
                self.row += 1;
                if self.levels.iter().all(|&l| l == 0) {
                    // Idle: the intervals up to `t` stay at zero.
                    self.row = self.row.max((t / interval) as usize);
                    self.since = self.since.max(self.row as u64 * interval);
                }
            }
        }
    }

    /// Integrates up to the run's `end` and finishes the interval it falls in.
    fn close(&mut self, end: u64, interval: u64, rows: &mut Vec<Row>) {
        self.advance(end, interval, rows);
        let covered = end.saturating_sub(self.row as u64 * interval);
        if covered > 0 {
            self.finish(covered, rows);
        }
    }

    /// Writes the busiest partition's and subtask's utilisation over `covered` ns into the
    /// current interval's row, and starts the next.
    fn finish(&mut self, covered: u64, rows: &mut Vec<Row>) {
        let utilization = |range: std::ops::Range<usize>| {
            range
                .map(|i| self.area[i] / (covered as f64 * self.servers[i].max(1) as f64))
                .fold(0.0, f64::max)
        };
        let busiest =
            [utilization(0..self.partitions), utilization(self.partitions..self.area.len())];
        self.area.iter_mut().for_each(|a| *a = 0.0);
        if self.row >= MAX_ROWS || busiest == [0.0; 2] {
            return;
        }
        if rows.len() <= self.row {
            rows.resize(self.row + 1, Row::default());
        }
        rows[self.row].stream_utilization = Some(busiest);
    }
}
