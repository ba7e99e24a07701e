//! The `server` architecture's description: a server tier with an execution model, and the
//! load that drives it.
//!
//! ```toml
//! [load]                       # shared by every `server` variant of the scenario
//! connections = 1000           # closed loop: each sends its next request when answered
//! think = { kind = "constant", value = "0s" }
//! timeout = "2s"               # per request; the connection moves on, the server does not know
//! duration = "10s"             # connections stop sending after this
//!
//! [[variant]]
//! name = "asyncio"
//! architecture = "server"
//! [variant.server]
//! execution = "event_loop"     # thread_pool | event_loop | goroutines
//! instances = 1
//! cores = 1                    # per instance
//! [[variant.server.step]]      # a request's work, in order
//! kind = "cpu"                 # cpu | io (non-blocking wait) | block (blocking call)
//! time = { kind = "exponential", mean = "200us" }
//! [[variant.server.step]]
//! kind = "block"
//! time = { kind = "constant", value = "1s" }
//! share = 0.0002               # the step happens in this share of requests (default 1)
//! [[variant.server.step]]
//! kind = "io"                  # a non-blocking call to a downstream component: its queue and
//! to = "db"                    # service, plus `time` if given (the network round trip)
//! [[variant.server.downstream]]
//! name = "db"
//! servers = 8                  # served FIFO, like a connection pool in front of a database
//! service = { kind = "lognormal", median = "1ms", p99 = "10ms" }
//! ```
//!
//! Per-task overheads default to the figures the case-study article quotes
//! (`shared/reference/case-study.md`, "Other experiments"): creating a task costs 1.2 µs of CPU
//! under asyncio and 0.8 µs as a goroutine; resuming after I/O 180 ns and 320 ns; 10,000 live
//! tasks take about 42 MB and 28 MB (4.2 kB and 2.8 kB each). A thread pool defaults to no
//! creation cost (threads are pooled), 2 µs per switch and 1 MB per thread stack (Linux default
//! 8 MB virtual, ~1 MB typically touched) [A].

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::DurationLit;
use sim::config::{Issues, join_index, join_key};
use sim::{Dist, DistSpec, SimDuration};

use crate::components::{count_or, duration_or, price_or};

/// How a server runs requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    /// `workers` threads per instance; a request holds its thread throughout, blocking calls
    /// included; CPU steps share the instance's cores.
    ThreadPool,
    /// One loop per core; CPU steps and blocking calls run on the loop, one request at a time;
    /// non-blocking I/O releases the loop. A blocking call freezes the loop.
    EventLoop,
    /// M:N tasks on the instance's cores; CPU steps share the cores; I/O and blocking calls park
    /// only their task (the runtime moves the core to another thread).
    Goroutines,
}

/// What a step of a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// CPU work.
    Cpu,
    /// A non-blocking wait (a downstream call awaited asynchronously, a timer).
    Io,
    /// A blocking call (a synchronous sleep, a blocking driver).
    Block,
}

/// One step of a request's work.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub kind: StepKind,
    /// How long it takes (required, except for an `io` step with `to`, where it is the round
    /// trip added to the downstream's queueing and service; default 0s there).
    pub time: Option<DistSpec>,
    /// `io` steps: the downstream component called (a `[[…downstream]]` name).
    pub to: Option<String>,
    /// Share of requests that include this step (default 1).
    pub share: Option<f64>,
}

/// A downstream component the server calls: a FIFO station with its own servers.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDownstream {
    pub name: String,
    /// Parallel servers (connections, threads) (default 1).
    pub servers: Option<i64>,
    /// Service time of one call.
    pub service: DistSpec,
}

/// A validated downstream component.
#[derive(Clone, Debug)]
pub struct Downstream {
    pub name: String,
    pub servers: u32,
    pub service: Dist,
}

/// The `[variant.server]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub execution: Execution,
    /// Instances (default 1); connections are spread over them round robin.
    pub instances: Option<i64>,
    /// Cores per instance (default 1).
    pub cores: Option<i64>,
    /// `thread_pool`: threads per instance (default 64).
    pub workers: Option<i64>,
    /// CPU time to create a task (defaults by execution model, see the module doc).
    pub task_create: Option<DurationLit>,
    /// CPU time to resume a task after a wait.
    pub task_switch: Option<DurationLit>,
    /// Memory per live task, in bytes.
    pub task_memory_bytes: Option<f64>,
    /// The work of one request, in order.
    #[serde(rename = "step")]
    pub steps: Vec<RawStep>,
    /// Components that `io` steps call by name.
    #[serde(rename = "downstream", default)]
    pub downstreams: Vec<RawDownstream>,
}

/// The top-level `[load]` table: closed-loop connections.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    /// Connections, each with one request outstanding at a time.
    pub connections: i64,
    /// Pause between an answer and the next request (default none).
    pub think: Option<DistSpec>,
    /// A request unanswered this long counts as timed out; the connection sends the next one
    /// (default 2s, wrk's default).
    pub timeout: Option<DurationLit>,
    /// Connections send for this long (default 10s).
    pub duration: Option<DurationLit>,
}

/// A validated step.
#[derive(Clone, Debug)]
pub struct Step {
    pub kind: StepKind,
    pub time: Dist,
    /// Index of the downstream component called, if any.
    pub to: Option<u16>,
    pub share: f64,
}

/// A validated server.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub name: String,
    pub execution: Execution,
    pub instances: u32,
    pub cores: u32,
    pub workers: u32,
    pub task_create: SimDuration,
    pub task_switch: SimDuration,
    pub task_memory_bytes: f64,
    pub steps: Vec<Step>,
    pub downstreams: Vec<Downstream>,
}

/// Validated closed-loop load.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub connections: u32,
    pub think: Option<Dist>,
    pub timeout: SimDuration,
    pub duration: SimDuration,
}

impl RawServer {
    pub fn check(&self, name: &str, at: &str, issues: &mut Issues) -> Option<ServerSpec> {
        let before = issues.len();
        let instances = count_or(self.instances, at, "instances", 1, (1, 10_000), issues) as u32;
        let cores = count_or(self.cores, at, "cores", 1, (1, 1024), issues) as u32;
        let workers = count_or(self.workers, at, "workers", 64, (1, 100_000), issues) as u32;
        if instances as u64 * cores as u64 > 65_536 {
            issues.push(join_key(at, "cores"), "instances × cores must be at most 65536");
        } else if self.execution == Execution::EventLoop && instances as u64 * cores as u64 > 4096 {
            // One loop per core, each a station with its own statistics (~40 kB).
            issues
                .push(join_key(at, "cores"), "event_loop: instances × cores must be at most 4096");
        }
        if self.execution == Execution::ThreadPool && instances as u64 * workers as u64 > 10_000_000
        {
            issues.push(join_key(at, "workers"), "instances × workers must be at most 10,000,000");
        }
        let (create, switch, memory) = match self.execution {
            Execution::EventLoop => (1_200, 180, 4_200.0),
            Execution::Goroutines => (800, 320, 2_800.0),
            Execution::ThreadPool => (0, 2_000, 1_000_000.0),
        };
        let ns = SimDuration::from_nanos;
        let task_create = duration_or(&self.task_create, at, "task_create", ns(create), issues);
        let task_switch = duration_or(&self.task_switch, at, "task_switch", ns(switch), issues);
        let task_memory_bytes =
            price_or(self.task_memory_bytes, at, "task_memory_bytes", memory, issues);
        if self.steps.is_empty() {
            issues.push(join_key(at, "step"), "needs at least one [[…step]] (got none)");
        }
        let downstreams = self.check_downstreams(at, issues);
        let mut steps = Vec::new();
        for (i, raw) in self.steps.iter().enumerate() {
            let s_at = join_index(&join_key(at, "step"), i);
            let share = raw.share.unwrap_or(1.0);
            if !(0.0..=1.0).contains(&share) {
                issues.push(join_key(&s_at, "share"), format!("must be in [0, 1] (got {share})"));
            }
            let to = match &raw.to {
                None => None,
                Some(_) if raw.kind != StepKind::Io => {
                    issues.push(
                        join_key(&s_at, "to"),
                        "applies to `io` steps only (a blocking call takes a fixed `time`)",
                    );
                    None
                }
                Some(name) => match self.downstreams.iter().position(|d| d.name == *name) {
                    Some(index) => Some(index as u16),
                    None => {
                        let known: Vec<&str> =
                            self.downstreams.iter().map(|d| d.name.as_str()).collect();
                        issues.push(
                            join_key(&s_at, "to"),
                            format!("names no downstream (got {name:?}; known: {known:?})"),
                        );
                        None
                    }
                },
            };
            let time = match (&raw.time, &raw.to) {
                (Some(t), _) => t.check(&join_key(&s_at, "time"), issues),
                (None, Some(_)) => Some(Dist::Constant(SimDuration::ZERO)),
                (None, None) => {
                    issues.push(join_key(&s_at, "time"), "is required (unless the step has `to`)");
                    None
                }
            };
            if let Some(time) = time {
                steps.push(Step { kind: raw.kind, time, to, share });
            }
        }
        if issues.len() > before {
            return None;
        }
        Some(ServerSpec {
            name: name.to_string(),
            execution: self.execution,
            instances,
            cores,
            workers,
            task_create: task_create?,
            task_switch: task_switch?,
            task_memory_bytes,
            steps,
            downstreams,
        })
    }

    /// The downstream components `io` steps call, named as printable, distinct names.
    fn check_downstreams(&self, at: &str, issues: &mut Issues) -> Vec<Downstream> {
        let mut downstreams = Vec::new();
        for (i, raw) in self.downstreams.iter().enumerate() {
            let d_at = join_index(&join_key(at, "downstream"), i);
            sim::config::check_name(issues, &join_key(&d_at, "name"), &raw.name);
            if self.downstreams[..i].iter().any(|d| d.name == raw.name) {
                issues.push(
                    join_key(&d_at, "name"),
                    format!("must be unique (got {:?} twice)", raw.name),
                );
            }
            let servers = count_or(raw.servers, &d_at, "servers", 1, (1, 1_000_000), issues) as u32;
            if let Some(service) = raw.service.check(&join_key(&d_at, "service"), issues) {
                downstreams.push(Downstream { name: raw.name.clone(), servers, service });
            }
        }
        downstreams
    }
}

impl RawLoad {
    pub fn check(&self, issues: &mut Issues) -> Option<LoadSpec> {
        let before = issues.len();
        let connections =
            count_or(Some(self.connections), "load", "connections", 1, (1, 10_000_000), issues)
                as u32;
        let think = self.think.as_ref().map(|t| t.check("load.think", issues));
        let timeout =
            duration_or(&self.timeout, "load", "timeout", SimDuration::from_secs(2), issues);
        let duration =
            duration_or(&self.duration, "load", "duration", SimDuration::from_secs(10), issues);
        if timeout.is_some_and(|t| t.is_zero()) {
            issues.push("load.timeout", "must be > 0 (got 0s)");
        }
        if duration.is_some_and(|d| d.is_zero() || d > SimDuration::from_secs(365 * 24 * 3600)) {
            issues.push("load.duration", "must be > 0 and at most a year");
        }
        if issues.len() > before {
            return None;
        }
        Some(LoadSpec {
            connections,
            think: think.flatten(),
            timeout: timeout?,
            duration: duration?,
        })
    }
}
