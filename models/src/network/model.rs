//! The `network` architecture's simulation: jobs arrive from external streams, visit stations
//! and follow routing probabilities until they leave.
//!
//! ```text
//!   arrival streams ──► station ──(p)──► station ──► … ──(1 − Σp)──► exit
//!                        │  queue full ──► dropped
//!                        └─ patience out ──► reneged
//! ```
//!
//! A station's servers run jobs by its execution model: `thread_pool`, one FIFO queue for all
//! servers; `event_loop`, each job bound at random to one loop with its own FIFO queue (as
//! connections are bound to loops); `goroutines`, processor sharing of the servers among all jobs
//! present.
//!
//! Random streams, all named so that adding a station or stream never shifts another's numbers:
//! `arrival/<stream>` (gaps), `station/<name>/service`, `station/<name>/patience`,
//! `station/<name>/route`, `station/<name>/lane`. Per-job state lives in a slab and is freed when
//! the job leaves.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim::rng::{self, RngStream};
use sim::stats::DurationHistogram;
use sim::stats::TimeWeighted;
use sim::{
    Admission, Context, Model, SharedStation, SimDuration, SimTime, Slab, SlabKey, Station,
    StationReport, Ticket, Wake,
};

use crate::server::config::Execution;

use super::config::{ArrivalStream, Network, Process, StationSpec};

/// Everything that can happen in a network.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next external arrival of stream `stream`.
    Arrival { stream: u32 },
    /// Station `station` finishes serving `job`.
    Departure { station: u32, job: SlabKey },
    /// A job waiting at `station` (in loop `lane`) with `ticket` runs out of patience.
    Renege { station: u32, lane: u32, ticket: Ticket },
    /// A processor-sharing station's next completion is due (unless a later change made it
    /// stale).
    Wake { station: u32, generation: u64 },
}

/// A job in the network.
#[derive(Clone, Copy, Debug)]
struct Job {
    entered_network: SimTime,
    entered_station: SimTime,
    /// The loop it is bound to at an event-loop station.
    lane: u32,
}

/// The servers of a station, by execution model.
enum Servers {
    /// One FIFO queue for all servers.
    Pool(Station<SlabKey>),
    /// One single-server FIFO station per loop, the levels summed over the loops (busy, waiting,
    /// in system) and their current totals.
    Loops {
        loops: Vec<Station<SlabKey>>,
        levels: [TimeWeighted; 3],
        totals: (u64, u64),
        lane_rng: RngStream,
    },
    /// Processor sharing.
    Shared(SharedStation<SlabKey>),
}

struct Node {
    spec: StationSpec,
    servers: Servers,
    service_rng: RngStream,
    patience_rng: RngStream,
    route_rng: RngStream,
}

impl Node {
    /// Jobs waiting (not being served), for the instability message.
    fn waiting(&self) -> usize {
        match &self.servers {
            Servers::Pool(s) => s.waiting(),
            Servers::Loops { loops, .. } => loops.iter().map(|s| s.waiting()).sum(),
            Servers::Shared(s) => s.len().saturating_sub(self.spec.servers as usize),
        }
    }

    /// Loop `lane`'s (busy, waiting), to compare before and after a change.
    fn lane_levels(&self, lane: u32) -> (u64, u64) {
        match &self.servers {
            Servers::Loops { loops, .. } => {
                let s = &loops[lane as usize];
                (s.busy() as u64, s.waiting() as u64)
            }
            _ => (0, 0),
        }
    }

    /// Moves the summed levels by loop `lane`'s change from `before` at `now`.
    fn update_levels(&mut self, now: SimTime, lane: u32, before: (u64, u64)) {
        let after = self.lane_levels(lane);
        if let Servers::Loops { levels, totals, .. } = &mut self.servers {
            totals.0 = totals.0 + after.0 - before.0;
            totals.1 = totals.1 + after.1 - before.1;
            levels[0].set(now, totals.0);
            levels[1].set(now, totals.1);
            levels[2].set(now, totals.0 + totals.1);
        }
    }

    /// The station's figures at `end`: the loops' counts and histograms merged, with their
    /// summed levels.
    pub fn report(&self, end: SimTime) -> StationReport {
        match &self.servers {
            Servers::Pool(s) => s.report(end),
            Servers::Shared(s) => s.report(end),
            Servers::Loops { loops, levels, .. } => {
                let mut stats = sim::queue::StationStats::default();
                for s in loops {
                    let l = s.stats();
                    stats.arrivals += l.arrivals;
                    stats.served += l.served;
                    stats.dropped += l.dropped;
                    stats.reneged += l.reneged;
                    stats.wait.merge(&l.wait);
                    stats.sojourn.merge(&l.sojourn);
                }
                let [busy, queue, in_system] = levels.clone();
                stats.busy = busy;
                stats.queue = queue;
                stats.in_system = in_system;
                let since = loops[0].stats_since();
                sim::queue::report_from(&stats, self.spec.servers, since, end)
            }
        }
    }
}

struct Source {
    spec: ArrivalStream,
    rng: RngStream,
    emitted: u64,
    /// Index of the current piecewise window.
    window: usize,
}

/// Network-wide counts since the end of warm-up.
#[derive(Clone, Debug, Default)]
pub struct NetworkTotals {
    pub entered: u64,
    pub completed: u64,
    pub dropped: u64,
    pub reneged: u64,
    pub response: DurationHistogram,
}

/// A network being simulated.
pub struct NetworkModel {
    nodes: Vec<Node>,
    sources: Vec<Source>,
    jobs: Slab<Job>,
    max_in_system: u64,
    totals: NetworkTotals,
}

impl NetworkModel {
    /// Builds the model and schedules each stream's first arrival.
    pub fn new(net: &Network, seed: u64, max_in_system: u64, ctx: &mut Context<Event>) -> Self {
        let nodes = net
            .stations
            .iter()
            .map(|spec| Node {
                servers: match spec.execution {
                    Execution::ThreadPool => {
                        Servers::Pool(Station::new(spec.servers, spec.queue_capacity))
                    }
                    Execution::EventLoop => Servers::Loops {
                        loops: (0..spec.servers)
                            .map(|_| Station::new(1, spec.queue_capacity))
                            .collect(),
                        levels: Default::default(),
                        totals: (0, 0),
                        lane_rng: rng::stream(seed, &format!("station/{}/lane", spec.name)),
                    },
                    Execution::Goroutines => Servers::Shared(SharedStation::new(
                        spec.servers,
                        spec.queue_capacity.map(|q| q + spec.servers as usize),
                    )),
                },
                service_rng: rng::stream(seed, &format!("station/{}/service", spec.name)),
                patience_rng: rng::stream(seed, &format!("station/{}/patience", spec.name)),
                route_rng: rng::stream(seed, &format!("station/{}/route", spec.name)),
                spec: spec.clone(),
            })
            .collect();
        let mut model = NetworkModel {
            nodes,
            sources: Vec::new(),
            jobs: Slab::new(),
            max_in_system,
            totals: NetworkTotals::default(),
        };
        for (i, spec) in net.arrivals.iter().enumerate() {
            let mut source = Source {
                rng: rng::stream(seed, &format!("arrival/{}", spec.name)),
                spec: spec.clone(),
                emitted: 0,
                window: 0,
            };
            if let Some(first) = source.next_arrival(spec.start) {
                ctx.at(first, Event::Arrival { stream: i as u32 });
            }
            model.sources.push(source);
        }
        model
    }

    /// Each station's spec and figures at `end`.
    pub fn station_reports(
        &self,
        end: SimTime,
    ) -> impl Iterator<Item = (&StationSpec, StationReport)> {
        self.nodes.iter().map(move |n| (&n.spec, n.report(end)))
    }

    pub fn totals(&self) -> &NetworkTotals {
        &self.totals
    }

    /// Jobs still in the network.
    pub fn in_system(&self) -> usize {
        self.jobs.len()
    }

    fn enter(&mut self, now: SimTime, index: usize, job: SlabKey, ctx: &mut Context<Event>) {
        let node = &mut self.nodes[index];
        let station = index as u32;
        let (lane, queue) = match &mut node.servers {
            Servers::Pool(s) => (0, s),
            Servers::Loops { loops, lane_rng, .. } => {
                let lane = lane_rng.random_range(0..loops.len());
                (lane as u32, &mut loops[lane])
            }
            Servers::Shared(s) => {
                let work = node.spec.service.sample(&mut node.service_rng);
                let j = self.jobs.get_mut(job);
                j.entered_station = now;
                match s.arrive(now, job, work) {
                    Ok(wake) => schedule_wake(ctx, station, wake),
                    Err(job) => {
                        self.jobs.remove(job);
                        self.totals.dropped += 1;
                    }
                }
                return;
            }
        };
        let j = self.jobs.get_mut(job);
        j.entered_station = now;
        j.lane = lane;
        let before = (queue.busy() as u64, queue.waiting() as u64);
        match queue.arrive(now, job) {
            Admission::Serve(job) => {
                let service = node.spec.service.sample(&mut node.service_rng);
                ctx.after(service, Event::Departure { station, job });
            }
            Admission::Queued(ticket) => {
                if let Some(patience) = &node.spec.patience {
                    let wait = patience.sample(&mut node.patience_rng);
                    ctx.after(wait, Event::Renege { station, lane, ticket });
                }
            }
            Admission::Dropped(job) => {
                self.jobs.remove(job);
                self.totals.dropped += 1;
            }
        }
        node.update_levels(now, lane, before);
    }

    fn on_arrival(&mut self, now: SimTime, stream: u32, ctx: &mut Context<Event>) {
        let source = &mut self.sources[stream as usize];
        source.emitted += 1;
        let target = source.spec.to;
        if let Some(next) = source.next_arrival(now) {
            ctx.at(next, Event::Arrival { stream });
        }
        self.totals.entered += 1;
        let job = self.jobs.insert(Job { entered_network: now, entered_station: now, lane: 0 });
        self.enter(now, target, job, ctx);
        if self.jobs.len() as u64 > self.max_in_system {
            let (name, queue) = self
                .nodes
                .iter()
                .map(|n| (&n.spec.name, n.waiting()))
                .max_by_key(|(_, q)| *q)
                .expect("a network has stations");
            ctx.stop(format!(
                "unstable: more than {} jobs in the network at {now} (station `{name}` has {queue} \
                 waiting); arrivals exceed capacity — add servers, bound the queue \
                 (queue_capacity), or raise run.max_in_system",
                self.max_in_system
            ));
        }
    }

    fn on_departure(&mut self, now: SimTime, index: usize, job: SlabKey, ctx: &mut Context<Event>) {
        let node = &mut self.nodes[index];
        let j = self.jobs.get(job);
        let (arrived, lane) = (j.entered_station, j.lane);
        let queue = match &mut node.servers {
            Servers::Pool(s) => s,
            Servers::Loops { loops, .. } => &mut loops[lane as usize],
            Servers::Shared(_) => unreachable!("processor sharing completes by wake-ups"),
        };
        let before = (queue.busy() as u64, queue.waiting() as u64);
        if let Some(next) = queue.depart(now, arrived) {
            let service = node.spec.service.sample(&mut node.service_rng);
            ctx.after(service, Event::Departure { station: index as u32, job: next.job });
        }
        node.update_levels(now, lane, before);
        self.leave_station(now, index, job, ctx);
    }

    /// A processor-sharing station's wake-up: every job it finished moves on.
    fn on_wake(&mut self, now: SimTime, index: usize, generation: u64, ctx: &mut Context<Event>) {
        let Servers::Shared(s) = &mut self.nodes[index].servers else {
            unreachable!("wake-ups only at processor-sharing stations")
        };
        let Some((done, next)) = s.wake(now, generation) else { return };
        if let Some(wake) = next {
            schedule_wake(ctx, index as u32, wake);
        }
        for (job, _) in done {
            self.leave_station(now, index, job, ctx);
        }
    }

    /// A job served at station `index` follows its routing: to another station, or out.
    fn leave_station(
        &mut self,
        now: SimTime,
        index: usize,
        job: SlabKey,
        ctx: &mut Context<Event>,
    ) {
        let node = &mut self.nodes[index];
        match route(&node.spec.routes, &mut node.route_rng) {
            Some(to) => self.enter(now, to, job, ctx),
            None => {
                let done = self.jobs.remove(job);
                self.totals.completed += 1;
                self.totals.response.record(now - done.entered_network);
            }
        }
    }

    fn on_renege(&mut self, now: SimTime, index: usize, lane: u32, ticket: Ticket) {
        let node = &mut self.nodes[index];
        let queue = match &mut node.servers {
            Servers::Pool(s) => s,
            Servers::Loops { loops, .. } => &mut loops[lane as usize],
            Servers::Shared(_) => unreachable!("nobody waits under processor sharing"),
        };
        let before = (queue.busy() as u64, queue.waiting() as u64);
        if let Some(job) = queue.renege(now, ticket) {
            self.jobs.remove(job);
            self.totals.reneged += 1;
        }
        node.update_levels(now, lane, before);
    }
}

fn schedule_wake(ctx: &mut Context<Event>, station: u32, wake: Wake) {
    ctx.at(wake.at, Event::Wake { station, generation: wake.generation });
}

/// Picks the next station, or `None` to leave the network.
#[inline]
fn route(routes: &[(usize, f64)], rng: &mut RngStream) -> Option<usize> {
    if routes.is_empty() {
        return None;
    }
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for &(to, p) in routes {
        acc += p;
        if u < acc {
            return Some(to);
        }
    }
    None
}

impl Source {
    /// The next arrival time after the one at `now` (the stream's start for the first), or
    /// `None` when the stream is exhausted.
    fn next_arrival(&mut self, now: SimTime) -> Option<SimTime> {
        if self.spec.customers.is_some_and(|n| self.emitted >= n) {
            return None;
        }
        match &self.spec.process {
            Process::Poisson(rate) => {
                let gap: f64 = Exp1.sample(&mut self.rng);
                Some(now + SimDuration::from_secs_f64(gap / rate.as_per_sec()))
            }
            Process::Deterministic(rate) => {
                let offset = self.emitted as f64 / rate.as_per_sec();
                Some(self.spec.start + SimDuration::from_secs_f64(offset))
            }
            Process::Renewal(dist) => Some(now + dist.sample(&mut self.rng)),
            Process::Piecewise(windows) => {
                let mut t = now;
                loop {
                    let &(until, rate) = windows.get(self.window)?;
                    let end = self.spec.start + until;
                    if t >= end {
                        self.window += 1;
                        continue;
                    }
                    let gap: f64 = Exp1.sample(&mut self.rng);
                    let candidate = t + SimDuration::from_secs_f64(gap / rate.as_per_sec());
                    if candidate < end && rate.as_per_sec() > 0.0 {
                        return Some(candidate);
                    }
                    // Memorylessness: restarting the draw at the window's end is exact.
                    t = end;
                    self.window += 1;
                }
            }
        }
    }
}

impl Model for NetworkModel {
    type Event = Event;

    #[inline]
    fn handle(&mut self, now: SimTime, event: Event, ctx: &mut Context<Event>) {
        match event {
            Event::Arrival { stream } => self.on_arrival(now, stream, ctx),
            Event::Departure { station, job } => self.on_departure(now, station as usize, job, ctx),
            Event::Renege { station, lane, ticket } => {
                self.on_renege(now, station as usize, lane, ticket)
            }
            Event::Wake { station, generation } => {
                self.on_wake(now, station as usize, generation, ctx)
            }
        }
    }

    fn end_warmup(&mut self, now: SimTime) {
        for node in &mut self.nodes {
            match &mut node.servers {
                Servers::Pool(s) => s.end_warmup(now),
                Servers::Shared(s) => s.end_warmup(now),
                Servers::Loops { loops, levels, .. } => {
                    for s in loops {
                        s.end_warmup(now);
                    }
                    for level in levels {
                        level.restart(now);
                    }
                }
            }
        }
        self.totals = NetworkTotals::default();
    }
}
