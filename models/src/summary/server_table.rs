//! The side-by-side table of `server` variants.

use sim::output::table::{TextTable, flag, human_count, human_secs};

use super::server::ServerMetrics;
use super::variant::VariantSummary;

/// Side-by-side table of server variants.
pub fn comparison(variants: &[VariantSummary]) -> TextTable {
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
    t
}
