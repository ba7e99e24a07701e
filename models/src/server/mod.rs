//! The `server` architecture: one server tier under closed-loop load, run by an execution model
//! (thread pool, event loop, goroutines) — the experiment of an event loop frozen by one
//! blocking call, and the general lesson behind it.
//!
//! ```text
//!   N connections ─send─► instance (conn mod instances) ─► steps in order:
//!        ▲                  cpu   → a slice on the instance's cores (or its loop)
//!        │                  io    → a wait (holds a thread; frees a loop or a goroutine's core);
//!        │                          with `to`: a downstream station, then its round trip
//!        │                  block → a wait that holds even a loop
//!        └── answer (or the client's timeout) ─ think ─ next request, until load.duration
//! ```

pub mod config;
pub mod model;

use sim::Context;

use crate::limits::{RunLimits, RunSettings};
pub use crate::summary::server::ServerMetrics;
use crate::summary::{StationSummary, VariantSummary};
use crate::timelines::{ServerRow, VariantTimeline};
use config::{Execution, LoadSpec, ServerSpec};
use model::ServerModel;

pub fn execution_name(e: Execution) -> &'static str {
    match e {
        Execution::ThreadPool => "thread_pool",
        Execution::EventLoop => "event_loop",
        Execution::Goroutines => "goroutines",
    }
}

/// Simulates one server variant; returns its summary and timeline.
pub fn simulate(
    spec: &ServerSpec,
    load: &LoadSpec,
    run: &RunSettings,
    limits: &RunLimits,
    seed: u64,
) -> Result<(VariantSummary, VariantTimeline<ServerRow>), String> {
    let mut ctx = Context::new();
    let mut model = ServerModel::new(spec, load, seed, &mut ctx);
    let stats = limits.run(&mut model, &mut ctx)?;
    let stations = model.stations(stats.end);
    let (report, end_of_load) = model.finish();
    let interval_ns = report.interval.as_nanos();
    // Intervals of the load after the warm-up that the run covered (a horizon may cut it short)
    // and the timeline holds.
    let covered = end_of_load.min(stats.end).as_nanos();
    let first = (run.warmup.as_nanos() / interval_ns).min(1 << 20);
    let last = covered.div_ceil(interval_ns).min(1 << 20);
    let intervals = last.saturating_sub(first);
    let zero = (first as usize..last as usize)
        .filter(|&i| report.rows.get(i).is_none_or(|r| r.completed == 0))
        .count() as u64;
    let memory = match spec.execution {
        Execution::ThreadPool => (spec.workers * spec.instances) as f64 * spec.task_memory_bytes,
        _ => report.peak_tasks as f64 * spec.task_memory_bytes,
    };
    // Throughput is over the load after the warm-up (validation keeps the warm-up shorter).
    let duration_s = load.duration.as_secs_f64();
    let measured_s = duration_s - run.warmup_duration().as_secs_f64();
    let metrics = ServerMetrics {
        execution: execution_name(spec.execution).to_string(),
        connections: load.connections,
        load_duration_s: duration_s,
        sent: report.sent,
        completed: report.completed,
        answered: report.answered,
        timeouts: report.timeouts,
        late: report.late,
        throughput_per_s: report.answered_in_load as f64 / measured_s,
        latency: report.latency.summary(),
        zero_throughput_intervals: zero,
        intervals,
        peak_tasks_alive: report.peak_tasks,
        peak_task_memory_bytes: memory,
        loop_blocked_s: report.loop_blocked_s.clone(),
    };
    let mut tasks = 0;
    let rows = report
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            tasks = row.tasks_alive.unwrap_or(tasks);
            ServerRow {
                t_s: (i as u64 * interval_ns) as f64 * 1e-9,
                sent: row.sent,
                completed: row.completed,
                answered: row.answered,
                timeouts: row.timeouts,
                tasks_alive: tasks,
                loop_blocked_s: row.loop_blocked_s,
            }
        })
        .collect();
    let summary = VariantSummary {
        name: spec.name.clone(),
        architecture: crate::architecture::kind::Architecture::Server,
        events: stats.events,
        end_s: stats.end.as_secs_f64(),
        stop: crate::summary::StopKind::of(&stats),
        network: None,
        metrics: None,
        server: Some(metrics),
        stations: stations
            .into_iter()
            .map(|(name, report)| StationSummary { name, offered_load: None, report })
            .collect(),
    };
    Ok((summary, VariantTimeline { variant: spec.name.clone(), rows }))
}

/// Validates a `server` variant's sections.
pub fn check_variant(
    raw: &crate::variant::RawVariant,
    at: &str,
    issues: &mut sim::config::Issues,
) -> Option<ServerSpec> {
    use sim::config::join_key;
    let Some(server) = &raw.server else {
        issues.push(at, "architecture server needs a [variant.server] table");
        return None;
    };
    server.check(&raw.name, &join_key(at, "server"), issues)
}
