//! A `server` variant's results (`variants[].server`).

use serde::{Deserialize, Serialize};
use sim::stats::DurationSummary;

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
