//! API gateway / app tier: instances × workers behind one bounded queue, with a token-bucket
//! rate limit in front, run by an execution model.
//!
//! `thread_pool` (default): a request holds its thread for the whole request, downstream calls
//! included. `event_loop`: one loop per core runs a request's processing; awaiting Redis or the
//! database frees the loop — unless `blocking_downstream` (a synchronous driver inside an async
//! server), which holds the loop through the call and freezes everything queued behind it.
//! `goroutines`: processing shares the cores, downstream calls park only their task. Loops and
//! cores are pooled across the tier (perfect balancing).
//!
//! Load balancing is taken as perfect, so the tier is one station with instances × workers
//! servers and instances × `queue_capacity` waiting places. A worker is held for the whole
//! request, downstream calls included (a thread-pool server making blocking calls), so slow
//! downstreams eat gateway capacity. The token bucket refills at `rate_limit` up to `burst`; a
//! request finding no token is rejected at once ("rate limited"), one finding the queue full is
//! shed. CPU utilisation counts `cpu_per_request` for every request the tier processes against
//! its instances × cores (the thread pool's service time is wall time, not CPU). Defaults:
//! 0.75 ms of CPU per request (≈ 1,000–2,000 simple requests/s per vCPU, parameters.md §11); service LN(2 ms, 20 ms) [A]; Envoy-like 1,024 pending per instance; price
//! $0.0816 per instance-hour (m7g.large, parameters.md §8).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::RateLit;
use sim::config::{Issues, join_key};
use sim::rng::{self, RngStream};
use sim::{Admission, Dist, DistSpec, SimDuration, SimTime, Station};

use super::faults::FaultWindows;
use super::{count_or, dist_or, lognormal, price_or};

/// The `[variant.gateway]` table.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// Instances behind the load balancer (default 4).
    pub instances: Option<i64>,
    /// Worker threads per instance (default 64).
    pub workers: Option<i64>,
    /// Waiting requests per instance before shedding (default 1024).
    pub queue_capacity: Option<i64>,
    /// Token-bucket refill rate for the whole tier (default: no limit).
    pub rate_limit: Option<RateLit>,
    /// Token-bucket size (default: one second of `rate_limit`).
    pub burst: Option<i64>,
    /// Processing time per request, excluding downstream calls (default LN(2ms, 20ms)).
    pub service: Option<DistSpec>,
    /// `thread_pool` (default), `event_loop` or `goroutines`.
    pub execution: Option<crate::server::config::Execution>,
    /// Cores per instance: what `event_loop` and `goroutines` run on, and what CPU
    /// utilisation is measured against (default 2).
    pub cores: Option<i64>,
    /// CPU time one request costs the app tier, for its CPU utilisation (default 0.75ms).
    pub cpu_per_request: Option<sim::config::DurationLit>,
    /// `event_loop`: downstream calls use a blocking driver and hold the loop (default false).
    pub blocking_downstream: Option<bool>,
    /// Price per instance-hour (default 0.0816).
    pub price_per_instance_hour: Option<f64>,
}

/// Validated gateway settings.
#[derive(Clone, Debug)]
pub struct GatewaySpec {
    pub instances: u32,
    pub workers: u32,
    pub queue_capacity: u64,
    /// `(tokens per second, bucket size)`.
    pub rate_limit: Option<(f64, f64)>,
    pub execution: crate::server::config::Execution,
    pub cores: u32,
    pub cpu_per_request: SimDuration,
    pub blocking_downstream: bool,
    pub service: Dist,
    pub price_per_instance_hour: f64,
}

impl GatewaySpec {
    /// What serves requests: threads (thread pool) or loops and cores (the others).
    pub fn servers(&self) -> u32 {
        match self.execution {
            crate::server::config::Execution::ThreadPool => self.instances * self.workers,
            _ => self.instances * self.cores,
        }
    }

    /// Whether a request keeps its thread or loop through its downstream calls.
    pub fn holds_through_downstream(&self) -> bool {
        match self.execution {
            crate::server::config::Execution::ThreadPool => true,
            crate::server::config::Execution::EventLoop => self.blocking_downstream,
            crate::server::config::Execution::Goroutines => false,
        }
    }
}

impl RawGateway {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<GatewaySpec> {
        let before = issues.len();
        let instances = count_or(self.instances, at, "instances", 4, (1, 100_000), issues) as u32;
        let workers = count_or(self.workers, at, "workers", 64, (1, 100_000), issues) as u32;
        let cores = count_or(self.cores, at, "cores", 2, (1, 1024), issues);
        let cpu = super::duration_or(
            &self.cpu_per_request,
            at,
            "cpu_per_request",
            SimDuration::from_micros(750),
            issues,
        );
        if self.blocking_downstream.is_some()
            && self.execution != Some(crate::server::config::Execution::EventLoop)
        {
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
        let service = dist_or(
            &self.service,
            at,
            "service",
            lognormal(SimDuration::from_millis(2), SimDuration::from_millis(20)),
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
            execution: self.execution.unwrap_or(crate::server::config::Execution::ThreadPool),
            cores: cores as u32,
            cpu_per_request: cpu?,
            blocking_downstream: self.blocking_downstream.unwrap_or(false),
            queue_capacity: queue_capacity * instances as u64,
            rate_limit: rate_limit
                .map(|r| (r.as_per_sec(), burst.unwrap_or(r.as_per_sec().max(1.0)))),
            service: service?,
            price_per_instance_hour: price,
        })
    }
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

/// The gateway tier at run time: its rate limit, its servers and bounded queue, its processing
/// times and fault windows, and what it counts. Jobs are whatever the architecture queues.
pub struct Gateway<J> {
    pub spec: GatewaySpec,
    station: Station<J>,
    bucket: Option<TokenBucket>,
    /// Processing times (`gateway/service`).
    rng: RngStream,
    pub windows: FaultWindows,
    /// Requests the tier processed (for its CPU utilisation).
    pub requests: u64,
}

/// What the gateway does with a request that reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayAdmission {
    /// No token: answered "rate limited" at once.
    RateLimited,
    /// A server took it; its processing ends after this long.
    Serve(SimDuration),
    /// Waiting for a server.
    Queued,
    /// The queue is full: shed.
    Shed,
}

impl<J: Copy> Gateway<J> {
    pub fn new(spec: &GatewaySpec, seed: u64) -> Self {
        Gateway {
            spec: spec.clone(),
            station: Station::new(spec.servers(), Some(spec.queue_capacity as usize)),
            bucket: spec.rate_limit.map(|(rate, size)| TokenBucket::new(rate, size)),
            rng: rng::stream(seed, "gateway/service"),
            windows: FaultWindows::default(),
            requests: 0,
        }
    }

    /// A request reaches the tier at `now`: the rate limit, then a server or the queue.
    pub fn arrive(&mut self, now: SimTime, job: J) -> GatewayAdmission {
        if let Some(bucket) = &mut self.bucket
            && !bucket.take(now)
        {
            return GatewayAdmission::RateLimited;
        }
        match self.station.arrive(now, job) {
            Admission::Serve(_) => GatewayAdmission::Serve(self.processing(now)),
            Admission::Queued(_) => GatewayAdmission::Queued,
            Admission::Dropped(_) => GatewayAdmission::Shed,
        }
    }

    /// A request that reached a server at `since` frees it at `now`; the next waiting request
    /// (if any) starts, and its processing ends after the returned time.
    pub fn release(&mut self, now: SimTime, since: SimTime) -> Option<(J, SimDuration)> {
        let next = self.station.depart(now, since)?;
        Some((next.job, self.processing(now)))
    }

    /// Whether a request keeps its server while it waits for a downstream call.
    pub fn holds_through_downstream(&self) -> bool {
        self.spec.holds_through_downstream()
    }

    /// The servers and queue, for levels and reports.
    pub fn station(&self) -> &Station<J> {
        &self.station
    }

    fn processing(&mut self, now: SimTime) -> SimDuration {
        let service = self.spec.service.sample(&mut self.rng);
        self.requests += 1;
        self.windows.apply(now, service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(raw: RawGateway) -> Gateway<u32> {
        Gateway::new(&raw.check("gateway", &mut Issues::new()).unwrap(), 1)
    }

    #[test]
    fn the_rate_limit_comes_first_then_servers_then_the_queue_then_shedding() {
        let raw = RawGateway {
            instances: Some(1),
            workers: Some(1),
            queue_capacity: Some(1),
            rate_limit: Some(RateLit("3/s".into())),
            burst: Some(3),
            ..RawGateway::default()
        };
        let mut g = gateway(raw);
        let t = SimTime::ZERO;
        assert!(matches!(g.arrive(t, 0), GatewayAdmission::Serve(_)));
        assert_eq!(g.arrive(t, 1), GatewayAdmission::Queued);
        assert_eq!(g.arrive(t, 2), GatewayAdmission::Shed);
        assert_eq!(g.arrive(t, 3), GatewayAdmission::RateLimited, "the burst of 3 is spent");
        // The server frees: the queued request starts; nothing is left behind it.
        let (next, _) = g.release(t + SimDuration::from_millis(5), t).unwrap();
        assert_eq!(next, 1);
        assert_eq!(
            g.release(t + SimDuration::from_millis(9), t + SimDuration::from_millis(5)),
            None
        );
        assert_eq!(g.requests, 2, "two requests were processed");
    }

    #[test]
    fn a_pause_delays_the_processing_that_would_start_inside_it() {
        let mut g = gateway(RawGateway::default());
        let s = SimTime::ZERO + SimDuration::from_secs(1);
        g.windows.add(s, s + SimDuration::from_secs(2), None);
        let GatewayAdmission::Serve(d) = g.arrive(s, 0) else { panic!("a free server") };
        assert!(d >= SimDuration::from_secs(2), "starts when the pause ends: {d}");
    }

    #[test]
    fn bucket_allows_its_burst_then_its_rate() {
        let mut bucket = TokenBucket::new(10.0, 3.0);
        let t0 = SimTime::ZERO;
        let granted = (0..5).filter(|_| bucket.take(t0)).count();
        assert_eq!(granted, 3);
        // 100 ms later one token has come back.
        let t1 = t0 + SimDuration::from_millis(100);
        assert!(bucket.take(t1));
        assert!(!bucket.take(t1));
        assert_eq!(bucket.rejected, 3);
    }
}
