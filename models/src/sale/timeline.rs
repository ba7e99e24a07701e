//! The per-interval timeline of a run (`timeline.csv`): what happened in each 100 ms.
//!
//! Counters (attempts sent, outcomes seen by clients) are summed per interval; levels (stock in
//! the database and in Redis, queue lengths, requests in flight) are the value at the end of the
//! interval, carried forward through intervals where nothing changed. Long format is avoided on
//! purpose: one row per interval with a fixed column order, documented in the README.

use std::fmt::Write;

use sim::{SimDuration, SimTime};

use super::model::Tiers;
use super::outcome::Outcome;

/// At most this many intervals are kept (a 100 ms timeline of 29 hours, ~180 MB at most); later
/// events are not drawn, which the CSV's last row makes visible.
const MAX_ROWS: usize = 1 << 20;

#[derive(Clone, Debug, Default)]
struct Row {
    attempts: u64,
    outcomes: [u64; 10],
    /// Levels set during this interval: (db stock, redis stock, gateway queue, pool queue,
    /// lock queue, gateway busy).
    db_stock: Option<i64>,
    redis_stock: Option<i64>,
    queues: Option<[u64; 5]>,
    in_flight: Option<u64>,
}

/// Per-interval counters and levels.
#[derive(Clone, Debug)]
pub struct Timeline {
    interval: SimDuration,
    rows: Vec<Row>,
    current_index: usize,
    current_start: u64,
}

impl Timeline {
    pub fn new(interval: SimDuration) -> Self {
        Timeline { interval, rows: Vec::new(), current_index: 0, current_start: 0 }
    }

    fn row(&mut self, now: SimTime) -> Option<&mut Row> {
        // Most calls land in the current interval: skip the division then.
        let ns = now.as_nanos();
        let index =
            if ns >= self.current_start && ns - self.current_start < self.interval.as_nanos() {
                self.current_index
            } else {
                let index = (ns / self.interval.as_nanos()) as usize;
                self.current_index = index;
                self.current_start = index as u64 * self.interval.as_nanos();
                index
            };
        if index >= MAX_ROWS {
            return None;
        }
        if self.rows.len() <= index {
            self.rows.resize(index + 1, Row::default());
        }
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

    pub fn redis_stock(&mut self, now: SimTime, stock: i64) {
        if let Some(row) = self.row(now) {
            row.redis_stock = Some(stock);
        }
    }

    pub fn level(&mut self, now: SimTime, tiers: &Tiers) {
        let queues = [
            tiers.gateway.waiting() as u64,
            tiers.gateway.busy() as u64,
            tiers.pool.waiting() as u64,
            tiers.row_lock.waiting() as u64,
            tiers.redis_shard.as_ref().map_or(0, |s| s.waiting() as u64),
        ];
        if let Some(row) = self.row(now) {
            row.queues = Some(queues);
        }
    }

    /// Attempts sent per interval, for tests and plots.
    pub fn attempts_per_interval(&self) -> Vec<u64> {
        self.rows.iter().map(|r| r.attempts).collect()
    }

    /// The CSV: a header, then one row per interval from time zero to the last event.
    pub fn csv(&self, variant: &str, initial_stock: i64, with_redis: bool) -> String {
        let mut out = String::from("variant,t_s,attempts");
        for outcome in Outcome::ALL {
            write!(out, ",{}", outcome.name()).expect("writing to a string");
        }
        out.push_str(
            ",db_stock,redis_stock,gateway_queue,gateway_busy,db_pool_queue,row_lock_queue,redis_queue,in_flight\n",
        );
        let (mut db, mut redis, mut queues) = (initial_stock, initial_stock, [0u64; 5]);
        let mut in_flight = 0;
        for (i, row) in self.rows.iter().enumerate() {
            db = row.db_stock.unwrap_or(db);
            redis = row.redis_stock.unwrap_or(redis);
            queues = row.queues.unwrap_or(queues);
            in_flight = row.in_flight.unwrap_or(in_flight);
            let t = (i as u64 * self.interval.as_nanos()) as f64 * 1e-9;
            write!(out, "{variant},{t:.3},{}", row.attempts).expect("writing to a string");
            for count in row.outcomes {
                write!(out, ",{count}").expect("writing to a string");
            }
            let redis_text = if with_redis { redis.to_string() } else { String::new() };
            writeln!(
                out,
                ",{db},{redis_text},{},{},{},{},{},{in_flight}",
                queues[0], queues[1], queues[2], queues[3], queues[4]
            )
            .expect("writing to a string");
        }
        out
    }
}
