//! Typed timelines and their files: a row type per timeline kind, one writer that writes a
//! file's header and rows, and one reader that turns the file back into the same rows.
//!
//! - `timeline.csv` ([`SaleRow`]): flash-sale variants, what happened in each 100 ms (see
//!   `crate::sale::timeline` for how counters and levels are recorded).
//! - `server-timeline.csv` ([`ServerRow`]): `server` variants, requests per 100 ms.
//!
//! A file holds one block of rows per variant, in variant order, under one header. Cells a
//! variant does not have (Redis columns without Redis, stream columns without a stream) are
//! empty, not zero.

use std::fmt::Display;
use std::path::Path;

use crate::sale::outcome::{Outcome, OutcomeCounts};

/// The flash-sale timeline's file name.
pub const SALE_FILE: &str = "timeline.csv";
/// The server timeline's file name.
pub const SERVER_FILE: &str = "server-timeline.csv";

/// One variant's timeline: a row per interval from time zero.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantTimeline<R> {
    pub variant: String,
    pub rows: Vec<R>,
}

/// The timelines a run leaves, in variant order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timelines {
    pub sale: Vec<VariantTimeline<SaleRow>>,
    pub server: Vec<VariantTimeline<ServerRow>>,
}

impl Timelines {
    /// The timeline files (name, bytes): `timeline.csv` when a flash-sale variant ran,
    /// `server-timeline.csv` when a `server` variant left rows.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        if !self.sale.is_empty() {
            files.push((SALE_FILE.to_string(), write_csv(&self.sale).into_bytes()));
        }
        if self.server.iter().any(|t| !t.rows.is_empty()) {
            files.push((SERVER_FILE.to_string(), write_csv(&self.server).into_bytes()));
        }
        files
    }
}

/// A timeline row and its cells in a file.
pub trait TimelineRow: Sized {
    /// The columns after `variant`, in order.
    fn columns() -> Vec<String>;
    /// Appends the row's cells.
    fn write_cells(&self, cells: &mut Vec<String>);
    /// The row from its cells (after `variant`); `None` when one does not parse.
    fn parse_cells(cells: &[&str]) -> Option<Self>;
}

fn header<R: TimelineRow>() -> String {
    let mut columns = vec!["variant".to_string()];
    columns.extend(R::columns());
    sim::output::csv::line(&columns)
}

/// The file: the header, then every variant's rows.
pub fn write_csv<R: TimelineRow>(timelines: &[VariantTimeline<R>]) -> String {
    let mut out = sim::output::csv::writer(Vec::new());
    let mut write = |cells: &[String]| out.write_record(cells).expect("writing to memory");
    let mut cells = vec!["variant".to_string()];
    cells.extend(R::columns());
    write(&cells);
    for timeline in timelines {
        // Formula-neutralised like every text cell (and quoted by the writer when need be).
        let variant = sim::output::csv::text_cell(&timeline.variant);
        for row in &timeline.rows {
            cells.clear();
            cells.push(variant.to_string());
            row.write_cells(&mut cells);
            write(&cells);
        }
    }
    let bytes = out.into_inner().expect("writing to memory");
    String::from_utf8(bytes).expect("cells are text")
}

/// The timelines of a file written by [`write_csv`]. A header other than this version's is an
/// error; a damaged row is skipped (fewer points, not a failed report).
pub fn read_csv<R: TimelineRow>(text: &str) -> Result<Vec<VariantTimeline<R>>, String> {
    read_from(text.as_bytes())
}

/// [`read_csv`] over bytes as they are read (a file need not be held whole).
fn read_from<R: TimelineRow>(input: impl std::io::Read) -> Result<Vec<VariantTimeline<R>>, String> {
    let mut input = sim::output::csv::reader(input);
    let mut records = input.records();
    let expected = header::<R>();
    let found = records.next().transpose().map_err(|e| e.to_string())?;
    let found = found.map(|h| sim::output::csv::line(&h)).unwrap_or_default();
    if found != expected {
        return Err(format!("unexpected header `{found}` (this version writes `{expected}`)"));
    }
    let mut timelines: Vec<VariantTimeline<R>> = Vec::new();
    for record in records {
        let record = record.map_err(|e| e.to_string())?;
        let cells: Vec<&str> = record.iter().collect();
        let Some((variant, cells)) = cells.split_first() else { continue };
        let Some(row) = R::parse_cells(cells) else { continue };
        match timelines.iter_mut().rev().find(|t| t.variant == *variant) {
            Some(timeline) => timeline.rows.push(row),
            None => {
                timelines.push(VariantTimeline { variant: variant.to_string(), rows: vec![row] })
            }
        }
    }
    Ok(timelines)
}

/// The timelines in `path`, `None` when there is no such file.
/// The file must be a regular file of at most [`sim::config::MAX_DATA_BYTES`].
pub fn read_file<R: TimelineRow>(path: &Path) -> Result<Option<Vec<VariantTimeline<R>>>, String> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let file = sim::config::open_bounded(path, sim::config::MAX_DATA_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // Streamed: the rows are kept, not the text as well.
    read_from(file).map(Some).map_err(|e| format!("{}: {e}", path.display()))
}

/// An empty cell for `None`.
fn cell<T: Display>(value: Option<T>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// A cell: empty is `None`; anything else must parse.
fn parse_opt<T: std::str::FromStr>(cell: &str) -> Option<Option<T>> {
    if cell.is_empty() { Some(None) } else { cell.parse().ok().map(Some) }
}

/// One 100 ms of a flash-sale variant. Counters are sums over the interval; levels are the value
/// at its end.
#[derive(Clone, Debug, PartialEq)]
pub struct SaleRow {
    /// Start of the interval, seconds.
    pub t_s: f64,
    pub attempts: u64,
    /// Attempts ending in the interval, by outcome.
    pub outcomes: OutcomeCounts,
    pub db_stock: i64,
    /// Without Redis: `None`.
    pub redis_stock: Option<i64>,
    /// Requests waiting for a gateway thread or core.
    pub gateway_queue: u64,
    /// Gateway cores (event loops) running a request.
    pub gateway_cores_busy: u64,
    pub db_pool_queue: u64,
    pub row_lock_queue: u64,
    /// Without Redis: `None`.
    pub redis_queue: Option<u64>,
    pub in_flight: u64,
    /// Busy-server time over capacity within the interval (the part the run covered): the
    /// gateway's cores (its loops under `event_loop`, held through blocking calls).
    pub gateway_cpu_utilization: f64,
    /// `thread_pool`: the gateway's threads; otherwise `None`.
    pub gateway_threads_utilization: Option<f64>,
    pub db_pool_utilization: f64,
    /// Without Redis: `None`.
    pub redis_utilization: Option<f64>,
    /// `queue_stream` only: consumer lag and the stock in the job's state.
    pub kafka_lag: Option<u64>,
    pub stream_stock: Option<i64>,
    /// `queue_stream` only: the busiest Kafka partition's and Flink subtask's utilisation in
    /// the interval.
    pub kafka_partition_utilization: Option<f64>,
    pub flink_subtask_utilization: Option<f64>,
    /// Final answers given in the interval (purchased, sold out, limit): p50 and p99 of their
    /// latency from the buyer's first click, seconds; `None` when no answer was given.
    pub answer_latency_p50_s: Option<f64>,
    pub answer_latency_p99_s: Option<f64>,
}

impl TimelineRow for SaleRow {
    fn columns() -> Vec<String> {
        let mut columns = vec!["t_s".to_string(), "attempts".to_string()];
        columns.extend(Outcome::ALL.iter().map(|o| o.name().to_string()));
        columns.extend(
            [
                "db_stock",
                "redis_stock",
                "gateway_queue",
                "gateway_cores_busy",
                "db_pool_queue",
                "row_lock_queue",
                "redis_queue",
                "in_flight",
                "gateway_cpu_utilization",
                "gateway_threads_utilization",
                "db_pool_utilization",
                "redis_utilization",
                "kafka_lag",
                "stream_stock",
                "kafka_partition_utilization",
                "flink_subtask_utilization",
                "answer_latency_p50_s",
                "answer_latency_p99_s",
            ]
            .map(str::to_string),
        );
        columns
    }

    fn write_cells(&self, cells: &mut Vec<String>) {
        cells.extend([format!("{:.3}", self.t_s), self.attempts.to_string()]);
        cells.extend(self.outcomes.0.iter().map(|count| count.to_string()));
        cells.extend([
            self.db_stock.to_string(),
            cell(self.redis_stock),
            self.gateway_queue.to_string(),
            self.gateway_cores_busy.to_string(),
            self.db_pool_queue.to_string(),
            self.row_lock_queue.to_string(),
            cell(self.redis_queue),
            self.in_flight.to_string(),
        ]);
        let utilizations = [
            Some(self.gateway_cpu_utilization),
            self.gateway_threads_utilization,
            Some(self.db_pool_utilization),
            self.redis_utilization,
        ];
        cells.extend(utilizations.map(|u| cell(u.map(|u| format!("{u:.4}")))));
        cells.extend([cell(self.kafka_lag), cell(self.stream_stock)]);
        let utilizations = [self.kafka_partition_utilization, self.flink_subtask_utilization];
        cells.extend(utilizations.map(|u| cell(u.map(|u| format!("{u:.4}")))));
        let latencies = [self.answer_latency_p50_s, self.answer_latency_p99_s];
        cells.extend(latencies.map(|s| cell(s.map(|s| format!("{s:.6}")))));
    }

    fn parse_cells(cells: &[&str]) -> Option<Self> {
        let [t_s, attempts, rest @ ..] = cells else { return None };
        let (outcomes, rest) = rest.split_at_checked(Outcome::COUNT)?;
        let [
            db_stock,
            redis_stock,
            gateway_queue,
            gateway_cores_busy,
            db_pool_queue,
            row_lock_queue,
            redis_queue,
            in_flight,
            gateway_cpu_utilization,
            gateway_threads_utilization,
            db_pool_utilization,
            redis_utilization,
            kafka_lag,
            stream_stock,
            kafka_partition_utilization,
            flink_subtask_utilization,
            answer_latency_p50_s,
            answer_latency_p99_s,
        ] = rest
        else {
            return None;
        };
        let mut counts = OutcomeCounts::default();
        for (count, text) in counts.0.iter_mut().zip(outcomes) {
            *count = text.parse().ok()?;
        }
        Some(SaleRow {
            t_s: t_s.parse().ok()?,
            attempts: attempts.parse().ok()?,
            outcomes: counts,
            db_stock: db_stock.parse().ok()?,
            redis_stock: parse_opt(redis_stock)?,
            gateway_queue: gateway_queue.parse().ok()?,
            gateway_cores_busy: gateway_cores_busy.parse().ok()?,
            db_pool_queue: db_pool_queue.parse().ok()?,
            row_lock_queue: row_lock_queue.parse().ok()?,
            redis_queue: parse_opt(redis_queue)?,
            in_flight: in_flight.parse().ok()?,
            gateway_cpu_utilization: gateway_cpu_utilization.parse().ok()?,
            gateway_threads_utilization: parse_opt(gateway_threads_utilization)?,
            db_pool_utilization: db_pool_utilization.parse().ok()?,
            redis_utilization: parse_opt(redis_utilization)?,
            kafka_lag: parse_opt(kafka_lag)?,
            stream_stock: parse_opt(stream_stock)?,
            kafka_partition_utilization: parse_opt(kafka_partition_utilization)?,
            flink_subtask_utilization: parse_opt(flink_subtask_utilization)?,
            answer_latency_p50_s: parse_opt(answer_latency_p50_s)?,
            answer_latency_p99_s: parse_opt(answer_latency_p99_s)?,
        })
    }
}

/// One 100 ms of a `server` variant.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerRow {
    /// Start of the interval, seconds.
    pub t_s: f64,
    pub sent: u64,
    pub completed: u64,
    pub answered: u64,
    pub timeouts: u64,
    /// Tasks alive at the end of the interval.
    pub tasks_alive: u64,
    /// Loop-seconds spent in blocking calls during the interval (event loops).
    pub loop_blocked_s: f64,
}

impl TimelineRow for ServerRow {
    fn columns() -> Vec<String> {
        ["t_s", "sent", "completed", "answered", "timeouts", "tasks_alive", "loop_blocked_s"]
            .map(str::to_string)
            .to_vec()
    }

    fn write_cells(&self, cells: &mut Vec<String>) {
        cells.push(format!("{:.3}", self.t_s));
        cells.extend(
            [self.sent, self.completed, self.answered, self.timeouts, self.tasks_alive]
                .map(|n| n.to_string()),
        );
        cells.push(self.loop_blocked_s.to_string());
    }

    fn parse_cells(cells: &[&str]) -> Option<Self> {
        let [t_s, sent, completed, answered, timeouts, tasks_alive, loop_blocked_s] = cells else {
            return None;
        };
        Some(ServerRow {
            t_s: t_s.parse().ok()?,
            sent: sent.parse().ok()?,
            completed: completed.parse().ok()?,
            answered: answered.parse().ok()?,
            timeouts: timeouts.parse().ok()?,
            tasks_alive: tasks_alive.parse().ok()?,
            loop_blocked_s: loop_blocked_s.parse().ok()?,
        })
    }
}
