//! The gateway's admission order, its fault windows, its token bucket, and its capacity under
//! saturation for every execution model (cores ÷ mean CPU, or loops ÷ held time).

use super::*;
use sim::stats::Estimate;
use sim::{Context, Limits, Model};

fn gateway(raw: RawGateway) -> Gateway<u32> {
    Gateway::new(&raw.check("gateway", &mut Issues::new()).unwrap(), 1)
}

#[test]
fn the_rate_limit_comes_first_then_a_thread_and_a_core_then_the_queue_then_shedding() {
    let raw = RawGateway {
        instances: Some(1),
        workers: Some(2),
        cores: Some(1),
        queue_capacity: Some(1),
        rate_limit: Some(RateLit("4/s".into())),
        burst: Some(4),
        ..RawGateway::default()
    };
    let mut g = gateway(raw);
    let t = SimTime::ZERO;
    let GatewayAdmission::Admitted(Some(first)) = g.arrive(t, 0) else { panic!("thread, core") };
    // The second thread is free but the only core is busy: the slice waits.
    assert_eq!(g.arrive(t, 1), GatewayAdmission::Admitted(None));
    assert_eq!((g.threads_busy(), g.cores_busy(), g.waiting()), (Some(2), 1, 1));
    assert_eq!(g.arrive(t, 2), GatewayAdmission::Admitted(None), "waits for a thread");
    assert_eq!(g.arrive(t, 3), GatewayAdmission::Shed, "the one waiting place is taken");
    assert_eq!(g.arrive(t, 4), GatewayAdmission::RateLimited, "the burst of 4 is spent");
    // The first slice ends: its core goes to request 1, its thread stays through the waits.
    let (next, _) = g.slice_done(t + first, t).unwrap();
    assert_eq!(next, 1);
    assert_eq!(g.threads_busy(), Some(2));
    // Request 0 answers: its thread goes to request 2, which waits for the core.
    let later = t + first + SimDuration::from_millis(5);
    let start = g.release(later, t).unwrap();
    assert_eq!(start, GatewayStart { job: 2, slice: None });
    assert_eq!(g.requests, 2, "two slices started");
}

#[test]
fn goroutines_free_the_core_after_the_cpu_and_hold_nothing_through_waits() {
    let raw = RawGateway {
        instances: Some(1),
        cores: Some(1),
        execution: Some(Execution::Goroutines),
        ..RawGateway::default()
    };
    let mut g = gateway(raw);
    let t = SimTime::ZERO;
    let GatewayAdmission::Admitted(Some(d)) = g.arrive(t, 0) else { panic!("a free core") };
    assert_eq!(g.arrive(t, 1), GatewayAdmission::Admitted(None));
    assert!(!g.holds_through_waits());
    assert_eq!(g.slice_done(t + d, t).map(|(j, _)| j), Some(1));
}

#[test]
fn a_blocking_event_loop_keeps_its_loop_until_the_answer() {
    let raw = RawGateway {
        instances: Some(1),
        cores: Some(1),
        execution: Some(Execution::EventLoop),
        blocking_downstream: Some(true),
        ..RawGateway::default()
    };
    let mut g = gateway(raw);
    let t = SimTime::ZERO;
    let GatewayAdmission::Admitted(Some(d)) = g.arrive(t, 0) else { panic!("a free loop") };
    assert_eq!(g.arrive(t, 1), GatewayAdmission::Admitted(None));
    assert_eq!(g.slice_done(t + d, t), None, "the loop is still held");
    let start = g.release(t + d + SimDuration::from_millis(3), t).unwrap();
    assert_eq!(start.job, 1);
    assert!(start.slice.is_some());
}

#[test]
fn removed_keys_are_refused_with_what_replaces_them() {
    let raw: RawGateway = toml::from_str(
        "service = { kind = \"constant\", value = \"2ms\" }\ncpu_per_request = \"1ms\"",
    )
    .unwrap();
    let mut issues = Issues::new();
    assert!(raw.check("variant[x].gateway", &mut issues).is_none());
    let text = format!("{issues:?}");
    assert!(text.contains("variant[x].gateway.service") && text.contains("`cpu`"), "{text}");
    assert!(text.contains("cpu_per_request"), "{text}");
}

#[test]
fn a_pause_delays_the_cpu_that_would_start_inside_it() {
    let mut g = gateway(RawGateway::default());
    let s = SimTime::ZERO + SimDuration::from_secs(1);
    g.windows.add(s, s + SimDuration::from_secs(2), None);
    let GatewayAdmission::Admitted(Some(d)) = g.arrive(s, 0) else { panic!("a free core") };
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

// ----- saturation -----

/// Closed loop: `clients` requests, each sent again as soon as it is answered, through the
/// gateway and one downstream call of a fixed time.
struct ClosedLoop {
    gateway: Gateway<u32>,
    downstream: SimDuration,
    /// Per client: joined the tier at, joined the core station at.
    since: Vec<(SimTime, SimTime)>,
    completed: u64,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Send(u32),
    SliceDone(u32),
    Answered(u32),
}

impl ClosedLoop {
    fn start(
        &mut self,
        now: SimTime,
        client: u32,
        slice: Option<SimDuration>,
        ctx: &mut Context<Step>,
    ) {
        self.since[client as usize].1 = now;
        if let Some(d) = slice {
            ctx.after(d, Step::SliceDone(client));
        }
    }
}

impl Model for ClosedLoop {
    type Event = Step;

    fn handle(&mut self, now: SimTime, event: Step, ctx: &mut Context<Step>) {
        match event {
            Step::Send(c) => match self.gateway.arrive(now, c) {
                GatewayAdmission::Admitted(slice) => {
                    self.since[c as usize].0 = now;
                    self.start(now, c, slice, ctx);
                }
                other => panic!("the tier must take every request: {other:?}"),
            },
            Step::SliceDone(c) => {
                if let Some((next, d)) = self.gateway.slice_done(now, self.since[c as usize].1) {
                    ctx.after(d, Step::SliceDone(next));
                }
                ctx.after(self.gateway.wait() + self.downstream, Step::Answered(c));
            }
            Step::Answered(c) => {
                self.completed += 1;
                if self.gateway.holds_through_waits() {
                    let (since, _) = self.since[c as usize];
                    if let Some(start) = self.gateway.release(now, since) {
                        self.start(now, start.job, start.slice, ctx);
                    }
                }
                ctx.at(now, Step::Send(c));
            }
        }
    }

    fn end_warmup(&mut self, _now: SimTime) {
        self.completed = 0;
    }
}

/// Requests per second of `raw` under a closed loop of `clients`, over 10 replications of
/// 4 s after 0.5 s of warm-up, with a 99% interval.
fn saturated_throughput(raw: &RawGateway, clients: u32) -> Estimate {
    let spec = raw.check("gateway", &mut Issues::new()).unwrap();
    let samples: Vec<f64> = (0..10)
        .map(|seed| {
            let mut model = ClosedLoop {
                gateway: Gateway::new(&spec, 1000 + seed),
                downstream: SimDuration::from_millis(2),
                since: vec![(SimTime::ZERO, SimTime::ZERO); clients as usize],
                completed: 0,
            };
            let mut ctx = Context::new();
            for c in 0..clients {
                ctx.at(SimTime::ZERO, Step::Send(c));
            }
            let limits = Limits {
                horizon: Some(SimTime::ZERO + SimDuration::from_millis(4500)),
                warmup: SimTime::ZERO + SimDuration::from_millis(500),
                ..Limits::default()
            };
            sim::run(&mut model, &mut ctx, limits);
            model.completed as f64 / 4.0
        })
        .collect();
    Estimate::from_samples(&samples, 0.99)
}

fn saturated(execution: Execution) -> RawGateway {
    RawGateway {
        instances: Some(4),
        cores: Some(2),
        workers: (execution == Execution::ThreadPool).then_some(64),
        execution: Some(execution),
        ..RawGateway::default()
    }
}

#[test]
fn a_saturated_tier_serves_cores_over_mean_cpu_in_every_execution_model() {
    for execution in [Execution::ThreadPool, Execution::EventLoop, Execution::Goroutines] {
        let raw = saturated(execution);
        // More requests than threads, so every thread is busy and cores always have work.
        let throughput = saturated_throughput(&raw, 4 * 64 + 200);
        let spec = raw.check("gateway", &mut Issues::new()).unwrap();
        // 8 cores ÷ 0.75 ms ≈ 10,667 requests/s, whatever holds what through the waits.
        let expected = spec.cpu_capacity_per_s();
        assert!((expected - 10_666.7).abs() < 1.0, "{expected}");
        assert!(
            throughput.contains(expected),
            "{execution:?}: {:.0} ± {:.0} requests/s, expected {expected:.0}",
            throughput.mean,
            throughput.half_width
        );
    }
}

#[test]
fn a_blocking_event_loop_serves_loops_over_the_time_it_holds_them() {
    let raw = RawGateway { blocking_downstream: Some(true), ..saturated(Execution::EventLoop) };
    let throughput = saturated_throughput(&raw, 400);
    let spec = raw.check("gateway", &mut Issues::new()).unwrap();
    // Each loop is held through CPU, the own waits and the 2 ms downstream call.
    let held_s = spec.cpu.mean_secs() + spec.wait.mean_secs() + 2e-3;
    let expected = spec.total_cores() as f64 / held_s;
    assert!(
        throughput.contains(expected),
        "{:.0} ± {:.0} requests/s, expected {expected:.0}",
        throughput.mean,
        throughput.half_width
    );
    assert!(expected < spec.cpu_capacity_per_s() / 4.0, "blocking costs most of the capacity");
}

#[test]
fn too_few_threads_bind_before_the_cores() {
    // 4 threads per instance held ≈ 5 ms each: ≈ 3,200/s over the tier, below the cores' 10,667.
    let raw = RawGateway { workers: Some(4), ..saturated(Execution::ThreadPool) };
    let throughput = saturated_throughput(&raw, 100);
    let spec = raw.check("gateway", &mut Issues::new()).unwrap();
    assert!(throughput.high() < 0.5 * spec.cpu_capacity_per_s(), "{throughput:?}");
}
