//! API gateway / app tier: instances with CPU cores, run by an execution model, behind a
//! token-bucket rate limit and a bounded queue.
//!
//! A request's work at an instance is CPU (`cpu`, queued for the instance's cores) and then
//! waits: its own (`wait`: session and auth lookups) and the architecture's downstream calls.
//! The parameters mean the same in every execution model; what differs is what a request holds
//! while it waits, as in the `server` architecture (`crate::server`):
//!
//! - `thread_pool` (default): a request takes one of the instance's `workers` threads and holds
//!   it through CPU and every wait; its CPU slice then queues for a core. Threads beyond what the
//!   cores can run wait for a core, so capacity is cores ÷ CPU, not threads ÷ wall time.
//! - `event_loop`: one loop per core runs a request's CPU; waits are awaited and free the loop —
//!   unless `blocking_downstream` (a synchronous driver in an async server), which holds the loop
//!   through every wait and freezes what is queued behind it.
//! - `goroutines`: CPU slices share the cores; waits park only their task.
//!
//! Load balancing is taken as perfect, so threads, cores and loops are pooled over the tier, with
//! instances × `queue_capacity` waiting places in front (for a thread, or for a core where no
//! thread is taken). A request finding no token is answered "rate limited" at once; one finding
//! the queue full is shed. Defaults (docs/parameters.md, "App tier"): CPU per request gamma with
//! mean 0.75 ms and shape 4 (≈ 1,333 simple requests/s per vCPU, inside the 1,000–2,000 range);
//! waits LN(1.5 ms, 15 ms), so CPU and waits add up to the app tier's LN(2 ms, 20 ms) per request
//! in the mean; 64 threads and 2 cores per instance; 1,024 pending per instance (Envoy's default);
//! $0.0816 per instance-hour (m7g.large, 2 vCPU).

#[cfg(test)]
mod tests;

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::RateLit;
use sim::config::{Issues, join_key};
use sim::rng::{self, RngStream};
use sim::{Admission, Dist, DistSpec, SimDuration, SimTime, Station, StationReport};

use super::faults::FaultWindows;
use super::{count_or, dist_or, lognormal, price_or};
use crate::server::config::Execution;

/// The `[variant.gateway]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// Instances behind the load balancer (default 4).
    pub instances: Option<i64>,
    /// `thread_pool`: worker threads per instance (default 64).
    pub workers: Option<i64>,
    /// Cores per instance (default 2): what every execution model runs CPU on.
    pub cores: Option<i64>,
    /// Waiting requests per instance before shedding (default 1024).
    pub queue_capacity: Option<i64>,
    /// Token-bucket refill rate for the whole tier (default: no limit).
    pub rate_limit: Option<RateLit>,
    /// Token-bucket size (default: one second of `rate_limit`).
    pub burst: Option<i64>,
    /// CPU time of one request on a core (default gamma, mean 0.75ms, shape 4).
    pub cpu: Option<DistSpec>,
    /// The request's own waits before the architecture's calls: session and auth lookups
    /// (default LN(1.5ms, 15ms)). A thread or a blocking loop is held through them.
    pub wait: Option<DistSpec>,
    /// `thread_pool` (default), `event_loop` or `goroutines`.
    pub execution: Option<Execution>,
    /// `event_loop`: waits and downstream calls use a blocking driver and hold the loop
    /// (default false).
    pub blocking_downstream: Option<bool>,
    /// Price per instance-hour (default 0.0816).
    pub price_per_instance_hour: Option<f64>,
    /// Removed: a request's work is `cpu` on the cores plus `wait`.
    #[schemars(skip)]
    pub service: Option<serde::de::IgnoredAny>,
    /// Removed: CPU is `cpu`, a distribution, and it is queued on the cores.
    #[schemars(skip)]
    pub cpu_per_request: Option<serde::de::IgnoredAny>,
}

/// Validated gateway settings.
#[derive(Clone, Debug)]
pub struct GatewaySpec {
    pub instances: u32,
    pub workers: u32,
    pub cores: u32,
    /// Waiting places over the whole tier.
    pub queue_capacity: u64,
    /// `(tokens per second, bucket size)`.
    pub rate_limit: Option<(f64, f64)>,
    pub execution: Execution,
    pub cpu: Dist,
    pub wait: Dist,
    pub blocking_downstream: bool,
    pub price_per_instance_hour: f64,
}

impl GatewaySpec {
    /// Cores (one loop each under `event_loop`) over the tier.
    pub fn total_cores(&self) -> u32 {
        self.instances * self.cores
    }

    /// Worker threads over the tier (`thread_pool` only).
    pub fn total_threads(&self) -> Option<u32> {
        (self.execution == Execution::ThreadPool).then_some(self.instances * self.workers)
    }

    /// Whether a request keeps its thread or loop through its waits and downstream calls.
    pub fn holds_through_waits(&self) -> bool {
        match self.execution {
            Execution::ThreadPool => true,
            Execution::EventLoop => self.blocking_downstream,
            Execution::Goroutines => false,
        }
    }

    /// Whether a request keeps its core (loop) after its CPU: a blocking event loop.
    fn holds_core_through_waits(&self) -> bool {
        self.execution == Execution::EventLoop && self.blocking_downstream
    }

    /// Requests per second the tier's cores can process: cores ÷ mean CPU per request.
    pub fn cpu_capacity_per_s(&self) -> f64 {
        self.total_cores() as f64 / self.cpu.mean_secs()
    }
}

impl RawGateway {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<GatewaySpec> {
        let before = issues.len();
        if self.service.is_some() {
            issues.push(
                join_key(at, "service"),
                "was removed: a request's work is now `cpu` (queued on the instance's cores) \
                 plus `wait` (its own lookups), whatever the execution model",
            );
        }
        if self.cpu_per_request.is_some() {
            issues.push(
                join_key(at, "cpu_per_request"),
                "was removed: use `cpu`, a distribution (e.g. { kind = \"gamma\", mean = \
                 \"750us\", shape = 4 }), which is now queued on the cores",
            );
        }
        let instances = count_or(self.instances, at, "instances", 4, (1, 100_000), issues) as u32;
        let workers = count_or(self.workers, at, "workers", 64, (1, 100_000), issues) as u32;
        let cores = count_or(self.cores, at, "cores", 2, (1, 1024), issues) as u32;
        if self.workers.is_some() && self.execution.is_some_and(|e| e != Execution::ThreadPool) {
            issues.push(
                join_key(at, "workers"),
                "applies to execution = \"thread_pool\" only (loops and goroutines run on `cores`)",
            );
        }
        if self.blocking_downstream.is_some() && self.execution != Some(Execution::EventLoop) {
            issues.push(
                join_key(at, "blocking_downstream"),
                "applies to execution = \"event_loop\" only (threads always hold, goroutines park)",
            );
        }
        let queue_capacity =
            count_or(self.queue_capacity, at, "queue_capacity", 1024, (0, 100_000_000), issues);
        if instances as u64 * workers as u64 > 10_000_000 {
            issues.push(join_key(at, "workers"), "instances × workers must be ≤ 10,000,000");
        }
        if instances as u64 * cores as u64 > 1_000_000 {
            issues.push(join_key(at, "cores"), "instances × cores must be ≤ 1,000,000");
        }
        let rate_limit =
            self.rate_limit.as_ref().and_then(|r| r.check(&join_key(at, "rate_limit"), issues));
        if rate_limit.is_some_and(|r| r.as_per_sec() <= 0.0) {
            issues.push(join_key(at, "rate_limit"), "must be > 0/s");
        }
        let burst = self.burst.map(|b| {
            if b < 1 {
                issues.push(join_key(at, "burst"), format!("must be ≥ 1 (got {b})"));
            }
            b as f64
        });
        if burst.is_some() && rate_limit.is_none() && self.rate_limit.is_none() {
            issues.push(join_key(at, "burst"), "needs `rate_limit`");
        }
        let cpu = dist_or(&self.cpu, at, "cpu", default_cpu(), issues);
        if cpu.as_ref().is_some_and(|c| c.mean_secs() <= 0.0) {
            issues.push(join_key(at, "cpu"), "must have a mean above zero (a request costs CPU)");
        }
        let wait = dist_or(
            &self.wait,
            at,
            "wait",
            lognormal(SimDuration::from_micros(1500), SimDuration::from_millis(15)),
            issues,
        );
        let price =
            price_or(self.price_per_instance_hour, at, "price_per_instance_hour", 0.0816, issues);
        if issues.len() > before {
            return None;
        }
        Some(GatewaySpec {
            instances,
            workers,
            cores,
            execution: self.execution.unwrap_or(Execution::ThreadPool),
            cpu: cpu?,
            wait: wait?,
            blocking_downstream: self.blocking_downstream.unwrap_or(false),
            queue_capacity: queue_capacity * instances as u64,
            rate_limit: rate_limit
                .map(|r| (r.as_per_sec(), burst.unwrap_or(r.as_per_sec().max(1.0)))),
            price_per_instance_hour: price,
        })
    }
}

/// CPU per request: gamma with mean 0.75 ms and shape 4 (a coefficient of variation of 0.5).
fn default_cpu() -> Dist {
    Dist::gamma(4.0, SimDuration::from_micros(750)).expect("the default CPU law is valid")
}

/// A token bucket, refilled lazily from the elapsed time.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_per_s: f64,
    size: f64,
    tokens: f64,
    last: SimTime,
    pub rejected: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_s: f64, size: f64) -> Self {
        TokenBucket { rate_per_s, size, tokens: size, last: SimTime::ZERO, rejected: 0 }
    }

    /// Takes one token at `now` if there is one.
    pub fn take(&mut self, now: SimTime) -> bool {
        let elapsed = (now - self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate_per_s).min(self.size);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.rejected += 1;
            false
        }
    }
}

/// The gateway tier at run time: its rate limit, its threads (thread pool) and cores (or loops),
/// the CPU and wait times it draws, its fault windows, and what it counts. Jobs are whatever the
/// architecture queues.
///
/// A request's path: [`Gateway::arrive`] (a thread, then a core; or a core) → its CPU slice ends
/// ([`Gateway::slice_done`], which frees the core unless a blocking loop keeps it) → its waits
/// ([`Gateway::wait`]) and the architecture's calls → its answer ([`Gateway::release`], which
/// frees what it held through the waits).
pub struct Gateway<J> {
    pub spec: GatewaySpec,
    /// `thread_pool`: the tier's threads, with the waiting places in front.
    threads: Option<Station<J>>,
    /// The tier's cores (one loop each under `event_loop`); the waiting places are here when no
    /// thread is taken first.
    cores: Station<J>,
    bucket: Option<TokenBucket>,
    cpu_rng: RngStream,
    wait_rng: RngStream,
    pub windows: FaultWindows,
    /// Requests whose CPU slice started.
    pub requests: u64,
    /// CPU time of the slices started (pauses and slowdowns included), for CPU utilisation.
    pub cpu_busy: SimDuration,
}

/// What the gateway does with a request that reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayAdmission {
    /// No token: answered "rate limited" at once.
    RateLimited,
    /// The queue is full: shed.
    Shed,
    /// Taken in: its CPU slice started and ends after this long, or (`None`) it waits for a
    /// thread or a core.
    Admitted(Option<SimDuration>),
}

/// A request that got a thread when another freed one: its CPU slice started (and ends after
/// this long), or it waits for a core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewayStart<J> {
    pub job: J,
    pub slice: Option<SimDuration>,
}

impl<J: Copy> Gateway<J> {
    pub fn new(spec: &GatewaySpec, seed: u64) -> Self {
        let capacity = Some(spec.queue_capacity as usize);
        let threads = spec.total_threads().map(|n| Station::new(n, capacity));
        // Behind a thread pool, cores are waited for by threads (at most one each).
        let core_queue = if threads.is_some() { None } else { capacity };
        Gateway {
            spec: spec.clone(),
            threads,
            cores: Station::new(spec.total_cores(), core_queue),
            bucket: spec.rate_limit.map(|(rate, size)| TokenBucket::new(rate, size)),
            cpu_rng: rng::stream(seed, "gateway/cpu"),
            wait_rng: rng::stream(seed, "gateway/wait"),
            windows: FaultWindows::default(),
            requests: 0,
            cpu_busy: SimDuration::ZERO,
        }
    }

    /// A request reaches the tier at `now`: the rate limit, then a thread and a core (or their
    /// queue), or shedding. An admitted request is "in the core station" from `now`.
    pub fn arrive(&mut self, now: SimTime, job: J) -> GatewayAdmission {
        if let Some(bucket) = &mut self.bucket
            && !bucket.take(now)
        {
            return GatewayAdmission::RateLimited;
        }
        let admission = match &mut self.threads {
            Some(threads) => match threads.arrive(now, job) {
                Admission::Serve(job) => {
                    return GatewayAdmission::Admitted(self.ask_for_core(now, job));
                }
                other => other,
            },
            None => self.cores.arrive(now, job),
        };
        match admission {
            Admission::Serve(_) => GatewayAdmission::Admitted(Some(self.slice(now))),
            Admission::Queued(_) => GatewayAdmission::Admitted(None),
            Admission::Dropped(_) => GatewayAdmission::Shed,
        }
    }

    /// The CPU slice of the request that joined the core station at `cpu_since` ends at `now`:
    /// its core goes to the next waiting slice (returned with its length) — unless a blocking
    /// event loop keeps the loop through the request's waits.
    pub fn slice_done(&mut self, now: SimTime, cpu_since: SimTime) -> Option<(J, SimDuration)> {
        if self.spec.holds_core_through_waits() {
            return None;
        }
        let next = self.cores.depart(now, cpu_since)?;
        Some((next.job, self.slice(now)))
    }

    /// The request's own waits (session and auth lookups), drawn when its CPU slice ends.
    pub fn wait(&mut self) -> SimDuration {
        self.spec.wait.sample(&mut self.wait_rng)
    }

    /// Whether a request keeps its thread or loop through its waits and downstream calls.
    pub fn holds_through_waits(&self) -> bool {
        self.spec.holds_through_waits()
    }

    /// A request that joined the tier at `since` and holds its thread or blocking loop answers
    /// at `now`: what it held goes to the next waiting request, which starts its slice or (a
    /// thread got) waits for a core. That request is in the core station from `now`.
    pub fn release(&mut self, now: SimTime, since: SimTime) -> Option<GatewayStart<J>> {
        if let Some(threads) = &mut self.threads {
            let next = threads.depart(now, since)?;
            let slice = self.ask_for_core(now, next.job);
            return Some(GatewayStart { job: next.job, slice });
        }
        debug_assert!(self.spec.holds_core_through_waits(), "only threads and blocking loops");
        // Without threads a request joins the cores (loops) when it joins the tier.
        let next = self.cores.depart(now, since)?;
        Some(GatewayStart { job: next.job, slice: Some(self.slice(now)) })
    }

    /// Requests waiting for a thread or a core.
    pub fn waiting(&self) -> usize {
        self.threads.as_ref().map_or(0, |t| t.waiting()) + self.cores.waiting()
    }

    /// Cores (or loops) busy.
    pub fn cores_busy(&self) -> u32 {
        self.cores.busy()
    }

    /// Threads busy (`thread_pool`).
    pub fn threads_busy(&self) -> Option<u32> {
        self.threads.as_ref().map(|t| t.busy())
    }

    /// The stations' reports: the cores (or loops) and, for a thread pool, the threads.
    pub fn reports(&self, end: SimTime) -> Vec<(&'static str, StationReport)> {
        let mut out = vec![("gateway_cores", self.cores.report(end))];
        if let Some(threads) = &self.threads {
            out.push(("gateway_threads", threads.report(end)));
        }
        out
    }

    /// A request that got a thread at `now` asks for a core.
    fn ask_for_core(&mut self, now: SimTime, job: J) -> Option<SimDuration> {
        match self.cores.arrive(now, job) {
            Admission::Serve(_) => Some(self.slice(now)),
            Admission::Queued(_) => None,
            Admission::Dropped(_) => unreachable!("the cores' queue behind threads is unbounded"),
        }
    }

    fn slice(&mut self, now: SimTime) -> SimDuration {
        let cpu = self.spec.cpu.sample(&mut self.cpu_rng);
        self.requests += 1;
        let slice = self.windows.apply(now, cpu);
        self.cpu_busy = self.cpu_busy + slice;
        slice
    }
}
