//! The `network` architecture's simulation: jobs arrive from external streams, visit stations
//! and follow routing probabilities until they leave.
//!
//! ```text
//!   arrival streams ──► station ──(p)──► station ──► … ──(1 − Σp)──► exit
//!                        │  queue full ──► dropped
//!                        └─ patience out ──► reneged
//! ```
//!
//! Random streams, all named so that adding a station or stream never shifts another's numbers:
//! `arrival/<stream>` (gaps), `station/<name>/service`, `station/<name>/patience`,
//! `station/<name>/route`. Per-job state lives in a slab and is freed when the job leaves.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim::rng::{self, RngStream};
use sim::stats::DurationHistogram;
use sim::{Admission, Context, Model, SimDuration, SimTime, Slab, SlabKey, Station, Ticket};

use super::config::{ArrivalStream, Network, Process, StationSpec};

/// Everything that can happen in a network.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next external arrival of stream `stream`.
    Arrival { stream: u32 },
    /// Station `station` finishes serving `job`.
    Departure { station: u32, job: SlabKey },
    /// A job waiting at `station` with `ticket` runs out of patience.
    Renege { station: u32, ticket: Ticket },
}

/// A job in the network.
#[derive(Clone, Copy, Debug)]
struct Job {
    entered_network: SimTime,
    entered_station: SimTime,
}

struct Node {
    spec: StationSpec,
    station: Station<SlabKey>,
    service_rng: RngStream,
    patience_rng: RngStream,
    route_rng: RngStream,
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
                station: Station::new(spec.servers, spec.queue_capacity),
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

    pub fn stations(&self) -> impl Iterator<Item = (&StationSpec, &Station<SlabKey>)> {
        self.nodes.iter().map(|n| (&n.spec, &n.station))
    }

    pub fn totals(&self) -> &NetworkTotals {
        &self.totals
    }

    /// Jobs still in the network.
    pub fn in_system(&self) -> usize {
        self.jobs.len()
    }

    fn enter(&mut self, now: SimTime, index: usize, job: SlabKey, ctx: &mut Context<Event>) {
        self.jobs.get_mut(job).entered_station = now;
        let node = &mut self.nodes[index];
        match node.station.arrive(now, job) {
            Admission::Serve(job) => {
                let service = node.spec.service.sample(&mut node.service_rng);
                ctx.after(service, Event::Departure { station: index as u32, job });
            }
            Admission::Queued(ticket) => {
                if let Some(patience) = &node.spec.patience {
                    let wait = patience.sample(&mut node.patience_rng);
                    ctx.after(wait, Event::Renege { station: index as u32, ticket });
                }
            }
            Admission::Dropped(job) => {
                self.jobs.remove(job);
                self.totals.dropped += 1;
            }
        }
    }

    fn on_arrival(&mut self, now: SimTime, stream: u32, ctx: &mut Context<Event>) {
        let source = &mut self.sources[stream as usize];
        source.emitted += 1;
        let target = source.spec.to;
        if let Some(next) = source.next_arrival(now) {
            ctx.at(next, Event::Arrival { stream });
        }
        self.totals.entered += 1;
        let job = self.jobs.insert(Job { entered_network: now, entered_station: now });
        self.enter(now, target, job, ctx);
        if self.jobs.len() as u64 > self.max_in_system {
            let (name, queue) = self
                .nodes
                .iter()
                .map(|n| (&n.spec.name, n.station.waiting()))
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
        let arrived = self.jobs.get(job).entered_station;
        if let Some(next) = node.station.depart(now, arrived) {
            let service = node.spec.service.sample(&mut node.service_rng);
            ctx.after(service, Event::Departure { station: index as u32, job: next.job });
        }
        match route(&node.spec.routes, &mut node.route_rng) {
            Some(to) => self.enter(now, to, job, ctx),
            None => {
                let done = self.jobs.remove(job);
                self.totals.completed += 1;
                self.totals.response.record(now - done.entered_network);
            }
        }
    }

    fn on_renege(&mut self, now: SimTime, index: usize, ticket: Ticket) {
        if let Some(job) = self.nodes[index].station.renege(now, ticket) {
            self.jobs.remove(job);
            self.totals.reneged += 1;
        }
    }
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
            Event::Renege { station, ticket } => self.on_renege(now, station as usize, ticket),
        }
    }

    fn end_warmup(&mut self, now: SimTime) {
        for node in &mut self.nodes {
            node.station.end_warmup(now);
        }
        self.totals = NetworkTotals::default();
    }
}
