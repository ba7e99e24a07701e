//! The `server` simulation: closed-loop connections against a server tier run by an execution
//! model.
//!
//! ```text
//!   connection ──request──► instance (c mod instances)
//!     ▲                      thread_pool: worker ─► CPU on a core │ io/block: worker held
//!     │                      event_loop:  loop (c mod loops) runs CPU+block slices; io frees it
//!     └──answer / timeout──  goroutines:  cores run CPU slices; io and block park the task
//! ```
//!
//! A request's steps are drawn when it arrives (`server/steps` stream). A *slice* is the run of
//! steps a request does on a resource without letting go: for an event loop, CPU and blocking
//! steps up to the next non-blocking wait; for goroutines and thread pools, CPU steps up to the
//! next wait. Creation and resume overheads are CPU added to the first slice and to slices after
//! a wait. Connections are bound to an instance (and, for event loops, to one loop), as keep-alive
//! connections are.

use sim::rng::{self, RngStream};
use sim::stats::DurationHistogram;
use sim::{Admission, Context, Model, SimDuration, SimTime, Slab, SlabKey, Station};

use rand::RngExt;

use super::config::{Execution, LoadSpec, ServerSpec, StepKind};

/// Everything that can happen under closed-loop load.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// A connection sends its next request.
    Send { conn: u32 },
    /// A request's current slice finishes on its core or loop.
    SliceDone { req: SlabKey },
    /// A request's wait (non-blocking I/O, or a blocking call that parks it) finishes.
    WaitDone { req: SlabKey },
    /// A connection gives up on its outstanding request.
    Timeout { conn: u32, serial: u32 },
    /// A queued request gets its thread.
    Start { req: SlabKey },
    /// A downstream component finishes a call.
    DownstreamDone { req: SlabKey },
}

/// A request at the server.
#[derive(Clone, Debug)]
struct Request {
    conn: u32,
    serial: u32,
    sent: SimTime,
    /// Kind, own time, downstream called.
    steps: Vec<(StepKind, SimDuration, Option<u16>)>,
    next: usize,
    instance: usize,
    /// Resource index: a loop (event loop) or an instance's core pool.
    resource: usize,
    /// When it joined the resource's queue, for the station's statistics.
    queued_at: SimTime,
    /// Steps `[next, slice_end)` make up the current slice.
    slice_end: usize,
    started: bool,
    /// Holds a worker thread (thread pool) since this time.
    worker_since: Option<SimTime>,
    /// Reached its current downstream component at this time.
    downstream_since: SimTime,
}

#[derive(Clone, Debug, Default)]
struct Connection {
    serial: u32,
    /// Whether the connection waits for an answer to request `serial`.
    waiting: bool,
}

/// Per-100 ms counts for the server timeline.
#[derive(Clone, Debug, Default)]
pub struct ServerRow {
    pub sent: u64,
    pub completed: u64,
    pub answered: u64,
    pub timeouts: u64,
    pub tasks_alive: Option<u64>,
    /// Loop-seconds spent in blocking calls during the interval (event loops).
    pub loop_blocked_s: f64,
}

/// What a run of a server variant leaves behind.
#[derive(Debug)]
pub struct ServerReport {
    pub sent: u64,
    pub completed: u64,
    pub answered: u64,
    /// Answered by the end of the load (what a load generator reports).
    pub answered_in_load: u64,
    pub timeouts: u64,
    pub late: u64,
    pub latency: DurationHistogram,
    pub peak_tasks: u64,
    /// Per instance: loop-seconds spent in blocking calls.
    pub loop_blocked_s: Vec<f64>,
    pub rows: Vec<ServerRow>,
    pub interval: SimDuration,
}

/// A server variant being simulated.
pub struct ServerModel<'a> {
    spec: &'a ServerSpec,
    load: &'a LoadSpec,
    end_of_load: SimTime,
    conns: Vec<Connection>,
    requests: Slab<Request>,
    /// Thread pool: one worker station per instance.
    workers: Vec<Station<SlabKey>>,
    /// Event loop: one single-server station per loop; otherwise one core station per instance.
    resources: Vec<Station<SlabKey>>,
    /// One station per downstream component.
    downstreams: Vec<Station<SlabKey>>,
    downstream_rng: RngStream,
    steps_rng: RngStream,
    think_rng: RngStream,
    tasks: u64,
    report: ServerReport,
}

const INTERVAL: SimDuration = SimDuration::from_millis(100);

impl<'a> ServerModel<'a> {
    pub fn new(
        spec: &'a ServerSpec,
        load: &'a LoadSpec,
        seed: u64,
        ctx: &mut Context<Event>,
    ) -> Self {
        let instances = spec.instances as usize;
        let (workers, resources) = match spec.execution {
            Execution::ThreadPool => (
                (0..instances).map(|_| Station::new(spec.workers, None)).collect(),
                (0..instances).map(|_| Station::new(spec.cores, None)).collect(),
            ),
            Execution::EventLoop => (
                Vec::new(),
                (0..instances * spec.cores as usize).map(|_| Station::new(1, None)).collect(),
            ),
            Execution::Goroutines => {
                (Vec::new(), (0..instances).map(|_| Station::new(spec.cores, None)).collect())
            }
        };
        for conn in 0..load.connections {
            ctx.at(SimTime::ZERO, Event::Send { conn });
        }
        ServerModel {
            spec,
            load,
            end_of_load: SimTime::ZERO + load.duration,
            conns: vec![Connection::default(); load.connections as usize],
            requests: Slab::new(),
            workers,
            resources,
            downstreams: spec.downstreams.iter().map(|d| Station::new(d.servers, None)).collect(),
            downstream_rng: rng::stream(seed, "server/downstream"),
            steps_rng: rng::stream(seed, "server/steps"),
            think_rng: rng::stream(seed, "load/think"),
            tasks: 0,
            report: ServerReport {
                sent: 0,
                completed: 0,
                answered: 0,
                answered_in_load: 0,
                timeouts: 0,
                late: 0,
                latency: DurationHistogram::new(),
                peak_tasks: 0,
                loop_blocked_s: vec![0.0; instances],
                rows: Vec::new(),
                interval: INTERVAL,
            },
        }
    }

    fn row(&mut self, now: SimTime) -> Option<&mut ServerRow> {
        let index = (now.as_nanos() / INTERVAL.as_nanos()) as usize;
        if index >= 1 << 20 {
            return None;
        }
        if self.report.rows.len() <= index {
            self.report.rows.resize(index + 1, ServerRow::default());
        }
        Some(&mut self.report.rows[index])
    }

    fn set_tasks(&mut self, now: SimTime, tasks: u64) {
        self.tasks = tasks;
        self.report.peak_tasks = self.report.peak_tasks.max(tasks);
        if let Some(row) = self.row(now) {
            row.tasks_alive = Some(tasks);
        }
    }

    fn on_send(&mut self, now: SimTime, conn: u32, ctx: &mut Context<Event>) {
        if now >= self.end_of_load {
            return;
        }
        let c = &mut self.conns[conn as usize];
        c.serial = c.serial.wrapping_add(1);
        c.waiting = true;
        let serial = c.serial;
        ctx.after(self.load.timeout, Event::Timeout { conn, serial });
        let rng = &mut self.steps_rng;
        let mut steps: Vec<(StepKind, SimDuration, Option<u16>)> =
            Vec::with_capacity(self.spec.steps.len());
        for step in &self.spec.steps {
            if step.share >= 1.0 || rng.random::<f64>() < step.share {
                steps.push((step.kind, step.time.sample(rng), step.to));
            }
        }
        let instance = conn as usize % self.spec.instances as usize;
        let resource = match self.spec.execution {
            Execution::EventLoop => conn as usize % self.resources.len(),
            _ => instance,
        };
        let req = self.requests.insert(Request {
            conn,
            serial,
            sent: now,
            steps,
            next: 0,
            instance,
            resource,
            queued_at: now,
            slice_end: 0,
            started: false,
            worker_since: None,
            downstream_since: now,
        });
        self.report.sent += 1;
        if let Some(row) = self.row(now) {
            row.sent += 1;
        }
        self.set_tasks(now, self.tasks + 1);
        match self.spec.execution {
            Execution::ThreadPool => {
                self.requests.get_mut(req).worker_since = Some(now);
                if let Admission::Serve(_) = self.workers[instance].arrive(now, req) {
                    self.advance(now, req, ctx);
                }
            }
            _ => self.advance(now, req, ctx),
        }
    }

    /// Moves a request on from its next step: a slice on its resource, a wait, or completion.
    fn advance(&mut self, now: SimTime, req: SlabKey, ctx: &mut Context<Event>) {
        let execution = self.spec.execution;
        let r = self.requests.get_mut(req);
        let on_resource = |k: StepKind| match execution {
            Execution::EventLoop => k != StepKind::Io,
            Execution::Goroutines | Execution::ThreadPool => k == StepKind::Cpu,
        };
        // A request whose last step is a wait answers when the wait ends, without going back to
        // its loop or core: writing the answer is taken as free. (Charging a resume slice there
        // makes a saturated FIFO loop phase-lock its 1,000 connections into bursts — a real
        // convoy effect, left for a later, deliberate model of ready-queue order.)
        let Some(&(kind, time, to)) = r.steps.get(r.next) else {
            return self.complete(now, req, ctx);
        };
        if on_resource(kind) {
            let end =
                r.next + r.steps[r.next..].iter().take_while(|(k, _, _)| on_resource(*k)).count();
            r.slice_end = end;
            r.queued_at = now;
            let resource = r.resource;
            if let Admission::Serve(_) = self.resources[resource].arrive(now, req) {
                self.start_slice(now, req, ctx);
            }
        } else if let Some(d) = to {
            // The call queues at the component and is served; the step's own time (the round
            // trip) is added when the answer leaves it.
            r.downstream_since = now;
            if let Admission::Serve(_) = self.downstreams[d as usize].arrive(now, req) {
                let service =
                    self.spec.downstreams[d as usize].service.sample(&mut self.downstream_rng);
                ctx.after(service, Event::DownstreamDone { req });
            }
        } else {
            ctx.after(time, Event::WaitDone { req });
        }
    }

    /// The downstream call of `req` finished: free its server for the next call, and the
    /// request goes on after its round trip.
    fn on_downstream_done(&mut self, now: SimTime, req: SlabKey, ctx: &mut Context<Event>) {
        let r = self.requests.get(req);
        let (_, round_trip, to) = r.steps[r.next];
        let d = to.expect("a downstream call") as usize;
        if let Some(next) = self.downstreams[d].depart(now, r.downstream_since) {
            let service = self.spec.downstreams[d].service.sample(&mut self.downstream_rng);
            ctx.after(service, Event::DownstreamDone { req: next.job });
        }
        ctx.after(round_trip, Event::WaitDone { req });
    }

    /// The request's slice gets its core or loop at `now`.
    fn start_slice(&mut self, now: SimTime, req: SlabKey, ctx: &mut Context<Event>) {
        let spec = self.spec;
        let r = self.requests.get_mut(req);
        let overhead = if r.started { spec.task_switch } else { spec.task_create };
        r.started = true;
        let mut t = overhead;
        let mut blocked: Vec<(SimTime, SimDuration)> = Vec::new();
        for &(kind, d, _) in &r.steps[r.next..r.slice_end] {
            if kind == StepKind::Block {
                blocked.push((now + t, d));
            }
            t = t + d;
        }
        let instance = r.instance;
        for (start, d) in blocked {
            self.add_blocked(instance, start, d);
        }
        ctx.after(t, Event::SliceDone { req });
    }

    /// Spreads `d` of loop-blocked time starting at `start` over the timeline's intervals.
    fn add_blocked(&mut self, instance: usize, start: SimTime, d: SimDuration) {
        self.report.loop_blocked_s[instance] += d.as_secs_f64();
        let mut t = start.as_nanos();
        let end = t.saturating_add(d.as_nanos());
        while t < end {
            let boundary = (t / INTERVAL.as_nanos() + 1) * INTERVAL.as_nanos();
            let piece = boundary.min(end) - t;
            match self.row(SimTime::from_nanos(t)) {
                Some(row) => row.loop_blocked_s += piece as f64 * 1e-9,
                None => break,
            }
            t += piece;
        }
    }

    fn on_slice_done(&mut self, now: SimTime, req: SlabKey, ctx: &mut Context<Event>) {
        let r = self.requests.get_mut(req);
        r.next = r.slice_end;
        let (resource, queued_at) = (r.resource, r.queued_at);
        if let Some(next) = self.resources[resource].depart(now, queued_at) {
            self.start_slice(now, next.job, ctx);
        }
        self.advance(now, req, ctx);
    }

    fn on_wait_done(&mut self, now: SimTime, req: SlabKey, ctx: &mut Context<Event>) {
        self.requests.get_mut(req).next += 1;
        self.advance(now, req, ctx);
    }

    fn complete(&mut self, now: SimTime, req: SlabKey, ctx: &mut Context<Event>) {
        let r = self.requests.remove(req);
        if let Some(since) = r.worker_since
            && let Some(next) = self.workers[r.instance].depart(now, since)
        {
            // Started through the calendar, not by recursion: a queue of requests with no work
            // would otherwise nest one call per request.
            ctx.at(now, Event::Start { req: next.job });
        }
        self.report.completed += 1;
        self.set_tasks(now, self.tasks - 1);
        let c = &mut self.conns[r.conn as usize];
        let answered = c.waiting && c.serial == r.serial;
        if let Some(row) = self.row(now) {
            row.completed += 1;
            if answered {
                row.answered += 1;
            }
        }
        if !answered {
            self.report.late += 1;
            return;
        }
        if now <= self.end_of_load {
            self.report.answered_in_load += 1;
        }
        let c = &mut self.conns[r.conn as usize];
        c.waiting = false;
        self.report.answered += 1;
        self.report.latency.record(now - r.sent);
        self.next_request(now, r.conn, ctx);
    }

    fn next_request(&mut self, now: SimTime, conn: u32, ctx: &mut Context<Event>) {
        let think =
            self.load.think.as_ref().map_or(SimDuration::ZERO, |t| t.sample(&mut self.think_rng));
        if now + think < self.end_of_load {
            ctx.after(think, Event::Send { conn });
        }
    }

    fn on_timeout(&mut self, now: SimTime, conn: u32, serial: u32, ctx: &mut Context<Event>) {
        let c = &mut self.conns[conn as usize];
        if !c.waiting || c.serial != serial {
            return;
        }
        c.waiting = false;
        self.report.timeouts += 1;
        if let Some(row) = self.row(now) {
            row.timeouts += 1;
        }
        self.next_request(now, conn, ctx);
    }

    /// Statistics start over at the warm-up: counts, latency, peak tasks, blocked time and the
    /// stations' figures. (A blocking call already under way at the warm-up is not counted.)
    fn reset_statistics(&mut self, now: SimTime) {
        let r = &mut self.report;
        (r.sent, r.completed, r.answered, r.answered_in_load, r.timeouts, r.late) =
            (0, 0, 0, 0, 0, 0);
        r.latency = DurationHistogram::new();
        r.peak_tasks = self.tasks;
        r.loop_blocked_s.iter_mut().for_each(|b| *b = 0.0);
        let stations =
            self.workers.iter_mut().chain(&mut self.resources).chain(&mut self.downstreams);
        stations.for_each(|s| s.end_warmup(now));
    }

    /// The run's figures, with the end of load for interval counting.
    pub fn finish(self) -> (ServerReport, SimTime) {
        (self.report, self.end_of_load)
    }

    /// Figures of the stations (loops, cores, worker pools) at `end`.
    pub fn stations(&self, end: SimTime) -> Vec<(String, sim::StationReport)> {
        let mut out = Vec::new();
        for (i, w) in self.workers.iter().enumerate() {
            out.push((format!("instance{i}_workers"), w.report(end)));
        }
        let label = match self.spec.execution {
            Execution::EventLoop => "loop",
            _ => "cores",
        };
        for (i, s) in self.resources.iter().enumerate() {
            out.push((format!("{label}{i}"), s.report(end)));
        }
        for (d, s) in self.spec.downstreams.iter().zip(&self.downstreams) {
            out.push((format!("downstream_{}", d.name), s.report(end)));
        }
        out
    }
}

impl Model for ServerModel<'_> {
    type Event = Event;

    fn end_warmup(&mut self, now: SimTime) {
        self.reset_statistics(now);
    }

    fn handle(&mut self, now: SimTime, event: Event, ctx: &mut Context<Event>) {
        match event {
            Event::Send { conn } => self.on_send(now, conn, ctx),
            Event::SliceDone { req } => self.on_slice_done(now, req, ctx),
            Event::WaitDone { req } => self.on_wait_done(now, req, ctx),
            Event::Timeout { conn, serial } => self.on_timeout(now, conn, serial, ctx),
            Event::Start { req } => self.advance(now, req, ctx),
            Event::DownstreamDone { req } => self.on_downstream_done(now, req, ctx),
        }
    }
}
