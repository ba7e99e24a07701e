//! A `server` variant's results (`variants[].server`) and their side-by-side table.

use serde::{Deserialize, Serialize};
use sim::output::table::{TextTable, flag, human_count, human_secs};
use sim::stats::DurationSummary;

use super::VariantSummary;

/// The server metrics of one variant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerMetrics {
    pub execution: String,
    pub connections: u32,
    pub load_duration_s: f64,
    /// Requests sent by the connections.
    pub sent: u64,
    /// Requests the server finished (answered or not).
    pub completed: u64,
    /// Requests answered while their connection still waited.
    pub answered: u64,
    pub timeouts: u64,
    /// Requests finished after their connection had given up.
    pub late: u64,
    /// Requests answered by the end of the load, per second of load (as wrk counts).
    pub throughput_per_s: f64,
    /// Send → answer, for answered requests.
    pub latency: DurationSummary,
    /// 100 ms intervals within the load in which the server finished nothing.
    pub zero_throughput_intervals: u64,
    pub intervals: u64,
    pub peak_tasks_alive: u64,
    /// Peak live tasks × memory per task (thread pool: all threads, pooled).
    pub peak_task_memory_bytes: f64,
    /// Per instance: loop-seconds spent in blocking calls (event loops; 0 otherwise).
    pub loop_blocked_s: Vec<f64>,
}

/// Side-by-side table of server variants.
pub fn comparison(variants: &[VariantSummary], colour: bool) -> String {
    let servers: Vec<(&str, &ServerMetrics)> =
        variants.iter().filter_map(|v| v.server.as_ref().map(|m| (v.name.as_str(), m))).collect();
    let mut header = vec!["metric".to_string()];
    header.extend(servers.iter().map(|(n, _)| n.to_string()));
    let mut t = TextTable::new(header);
    let mut row = |name: &str, cell: &dyn Fn(&ServerMetrics) -> String| {
        let mut cells = vec![name.to_string()];
        cells.extend(servers.iter().map(|(_, m)| cell(m)));
        t.row(cells);
    };
    row("execution", &|m| m.execution.clone());
    row("answered", &|m| human_count(m.answered as f64));
    row("throughput (answered/s)", &|m| human_count(m.throughput_per_s));
    row("timeouts", &|m| flag(human_count(m.timeouts as f64), m.timeouts > 0));
    row("latency p50", &|m| human_secs(m.latency.p50_s));
    row("latency p99", &|m| human_secs(m.latency.p99_s));
    row("latency max", &|m| human_secs(m.latency.max_s));
    row("zero-throughput 100 ms intervals", &|m| {
        let text = format!("{} of {}", m.zero_throughput_intervals, m.intervals);
        flag(text, m.zero_throughput_intervals > 0)
    });
    row("loop blocked", &|m| human_secs(m.loop_blocked_s.iter().sum()));
    row("peak tasks alive", &|m| human_count(m.peak_tasks_alive as f64));
    row("task memory", &|m| format!("{:.1} MB", m.peak_task_memory_bytes / 1e6));
    t.render_with(colour)
}
