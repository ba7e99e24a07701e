//! The `network` architecture's description: stations, external arrival streams and routing.
//!
//! ```toml
//! [[variant]]
//! name = "checkout"
//! architecture = "network"
//!
//! [[variant.arrival]]            # an external stream of jobs
//! name = "buyers"
//! to = "web"                     # the station they enter
//! process = { kind = "poisson", rate = "800/s" }
//! customers = 1_000_000          # optional: stop after this many
//!
//! [[variant.station]]
//! name = "web"
//! servers = 4
//! service = { kind = "lognormal", median = "2ms", p99 = "20ms" }
//! queue_capacity = 1000          # optional: arrivals finding it full are dropped
//! patience = { kind = "exponential", mean = "2s" }   # optional: waiting jobs give up
//! route = [{ to = "db", p = 0.3 }]                    # the rest leave the network
//! ```
//!
//! Validation solves the traffic equations λ = γ + Pᵀλ to report each station's offered load
//! ρ = λ·E[S]/c, and rejects routing from which some job could never leave.

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::{DurationLit, RateLit};
use sim::config::{Issues, join_index, join_key};
use sim::{Dist, DistSpec, Rate, SimDuration, SimTime};

/// One external arrival stream.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArrival {
    /// Names the stream's random numbers: keep it stable to keep its arrival times.
    pub name: String,
    /// The station arrivals enter.
    pub to: String,
    /// How arrival times are generated.
    pub process: RawProcess,
    /// Stop after this many arrivals (default: never).
    pub customers: Option<i64>,
    /// First possible arrival time (default 0s).
    pub start: Option<DurationLit>,
}

/// The family of an arrival process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessKind {
    /// Exponential gaps at a constant `rate`.
    Poisson,
    /// Equal gaps of 1/`rate`, the first at the stream's start.
    Deterministic,
    /// Independent gaps drawn from `interarrival`.
    Renewal,
    /// Poisson whose rate is constant within consecutive `windows`, each ending at `until`
    /// (measured from the stream's start); no arrivals after the last window.
    Piecewise,
}

/// How an arrival stream spaces its arrivals: `kind` and the fields that kind takes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    pub kind: ProcessKind,
    /// `poisson`, `deterministic`: arrivals per unit time.
    pub rate: Option<RateLit>,
    /// `renewal`: the gap distribution.
    pub interarrival: Option<DistSpec>,
    /// `piecewise`: the rate windows, in order.
    pub windows: Option<Vec<RawWindow>>,
}

/// One window of a piecewise-constant rate.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    /// End of the window, from the stream's start.
    pub until: DurationLit,
    /// Arrival rate within the window.
    pub rate: RateLit,
}

/// One queueing station.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStation {
    pub name: String,
    /// Identical servers sharing one FIFO queue (≥ 1).
    pub servers: i64,
    /// Service time per job.
    pub service: DistSpec,
    /// Most jobs waiting (not in service); arrivals beyond are dropped. Default: unbounded.
    pub queue_capacity: Option<i64>,
    /// How long a waiting job stays before giving up. Default: forever.
    pub patience: Option<DistSpec>,
    /// Where jobs go after service; the remaining probability leaves the network.
    #[serde(default)]
    pub route: Vec<RawRoute>,
    /// How the servers run jobs: `thread_pool` (default: one FIFO queue for all servers),
    /// `event_loop` (each job is bound on arrival to one of `servers` loops, at random, and
    /// waits in that loop's FIFO queue), or `goroutines` (every job present runs at once,
    /// sharing the `servers` cores: processor sharing; no patience, `queue_capacity` bounds the
    /// jobs beyond the cores).
    pub execution: Option<crate::server::config::Execution>,
}

/// A routing branch.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Destination station.
    pub to: String,
    /// Probability of taking this branch, in [0, 1].
    pub p: f64,
}

/// A validated arrival process.
#[derive(Clone, Debug)]
pub enum Process {
    Poisson(Rate),
    /// Arrival k (from 0) at start + k / rate, computed from k so no rounding accumulates.
    Deterministic(Rate),
    Renewal(Dist),
    /// `(window end from start, rate)`, ends increasing.
    Piecewise(Vec<(SimDuration, Rate)>),
}

impl Process {
    /// The highest rate the process reaches, per second.
    pub fn peak_rate_per_s(&self) -> f64 {
        match self {
            Process::Poisson(rate) => rate.as_per_sec(),
            Process::Deterministic(rate) => rate.as_per_sec(),
            Process::Renewal(dist) => 1.0 / dist.mean_secs(),
            Process::Piecewise(windows) => {
                windows.iter().map(|(_, r)| r.as_per_sec()).fold(0.0, f64::max)
            }
        }
    }
}

/// A validated arrival stream.
#[derive(Clone, Debug)]
pub struct ArrivalStream {
    pub name: String,
    pub to: usize,
    pub process: Process,
    pub customers: Option<u64>,
    pub start: SimTime,
}

impl ArrivalStream {
    /// Whether the stream stops by itself.
    pub fn is_finite(&self) -> bool {
        self.customers.is_some() || matches!(self.process, Process::Piecewise(_))
    }
}

/// A validated station.
#[derive(Clone, Debug)]
pub struct StationSpec {
    pub name: String,
    pub servers: u32,
    pub service: Dist,
    pub queue_capacity: Option<usize>,
    pub patience: Option<Dist>,
    /// `(destination, probability)`.
    pub routes: Vec<(usize, f64)>,
    pub execution: crate::server::config::Execution,
}

/// A validated network variant.
#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    pub arrivals: Vec<ArrivalStream>,
    pub stations: Vec<StationSpec>,
    /// Offered load ρ of each station at the streams' peak rates.
    pub offered_load: Vec<f64>,
}

const MAX_SERVERS: i64 = 1_000_000;

/// Validates a `network` variant under key path `path`, recording every broken rule.
pub fn check(
    name: &str,
    arrivals: &[RawArrival],
    stations: &[RawStation],
    path: &str,
    issues: &mut Issues,
) -> Option<Network> {
    NetworkParts { name, arrivals, stations }.check(path, issues)
}

/// The sections of a variant a network is built from.
struct NetworkParts<'a> {
    name: &'a str,
    arrivals: &'a [RawArrival],
    stations: &'a [RawStation],
}

impl NetworkParts<'_> {
    fn check(&self, path: &str, issues: &mut Issues) -> Option<Network> {
        let before = issues.len();
        let names: Vec<&str> = self.stations.iter().map(|s| s.name.as_str()).collect();
        let find = |name: &str, at: String, issues: &mut Issues| -> Option<usize> {
            let found = names.iter().position(|n| *n == name);
            if found.is_none() {
                // Escaped: a station's name may itself be the bad input.
                let listed: Vec<String> =
                    names.iter().map(|n| n.escape_debug().to_string()).collect();
                issues.push(
                    at,
                    format!("names no station (got {name:?}; stations: {})", listed.join(", ")),
                );
            }
            found
        };
        if self.stations.is_empty() {
            issues.push(join_key(path, "station"), "needs at least one [[…station]] (got none)");
        }
        if self.arrivals.is_empty() {
            issues.push(join_key(path, "arrival"), "needs at least one [[…arrival]] (got none)");
        }
        let mut stations = Vec::new();
        for (i, raw) in self.stations.iter().enumerate() {
            let at = join_index(&join_key(path, "station"), i);
            // Printed in tables and written in CSV cells, like a variant's name.
            sim::config::check_name(issues, &join_key(&at, "name"), &raw.name);
            if names[..i].contains(&raw.name.as_str()) {
                issues.push(
                    join_key(&at, "name"),
                    format!("must be unique (got {:?} twice)", raw.name),
                );
            }
            stations.push(raw.check(&at, &find, issues));
        }
        let mut arrivals = Vec::new();
        for (i, raw) in self.arrivals.iter().enumerate() {
            let at = join_index(&join_key(path, "arrival"), i);
            sim::config::check_name(issues, &join_key(&at, "name"), &raw.name);
            if self.arrivals[..i].iter().any(|a| a.name == raw.name) {
                issues.push(
                    join_key(&at, "name"),
                    format!("must be unique (got {:?} twice)", raw.name),
                );
            }
            let to = find(&raw.to, join_key(&at, "to"), issues);
            arrivals.push(raw.check(&at, to, issues));
        }
        if issues.len() > before {
            return None;
        }
        let stations: Vec<StationSpec> = stations.into_iter().map(Option::unwrap).collect();
        let arrivals: Vec<ArrivalStream> = arrivals.into_iter().map(Option::unwrap).collect();
        let Some(offered_load) = offered_load(&stations, &arrivals) else {
            issues.push(
                join_key(path, "station"),
                "routing traps jobs: from some station no chain of routes leads out of the \
                 network (probabilities along a cycle add up to 1)",
            );
            return None;
        };
        Some(Network { name: self.name.to_string(), arrivals, stations, offered_load })
    }
}

impl RawStation {
    fn check(
        &self,
        at: &str,
        find: &dyn Fn(&str, String, &mut Issues) -> Option<usize>,
        issues: &mut Issues,
    ) -> Option<StationSpec> {
        let before = issues.len();
        if !(1..=MAX_SERVERS).contains(&self.servers) {
            issues.push(
                join_key(at, "servers"),
                format!("must be between 1 and {MAX_SERVERS} (got {})", self.servers),
            );
        }
        let service = self.service.check(&join_key(at, "service"), issues);
        let queue_capacity = match self.queue_capacity {
            Some(cap) if cap < 0 => {
                issues.push(join_key(at, "queue_capacity"), format!("must be ≥ 0 (got {cap})"));
                None
            }
            other => other.map(|c| c as usize),
        };
        let patience = self.patience.as_ref().map(|p| p.check(&join_key(at, "patience"), issues));
        let execution = self.execution.unwrap_or(crate::server::config::Execution::ThreadPool);
        // Each loop is a station with its own statistics; a million of them would not fit.
        if execution == crate::server::config::Execution::EventLoop && self.servers > 4096 {
            issues.push(
                join_key(at, "servers"),
                format!("event_loop: at most 4096 loops (got {})", self.servers),
            );
        }
        if execution == crate::server::config::Execution::Goroutines && self.patience.is_some() {
            issues.push(
                join_key(at, "patience"),
                "does not apply to goroutines: every job present is running, none waits",
            );
        }
        let mut routes = Vec::new();
        let mut total = 0.0;
        for (i, route) in self.route.iter().enumerate() {
            let route_at = join_index(&join_key(at, "route"), i);
            if !(0.0..=1.0).contains(&route.p) {
                issues
                    .push(join_key(&route_at, "p"), format!("must be in [0, 1] (got {})", route.p));
            }
            total += route.p;
            if let Some(to) = find(&route.to, join_key(&route_at, "to"), issues) {
                routes.push((to, route.p));
            }
        }
        if total > 1.0 + 1e-9 {
            issues.push(
                join_key(at, "route"),
                format!("probabilities must add up to ≤ 1 (got {total})"),
            );
        }
        if issues.len() > before {
            return None;
        }
        Some(StationSpec {
            name: self.name.clone(),
            servers: self.servers as u32,
            service: service?,
            queue_capacity,
            patience: patience.flatten(),
            routes,
            execution,
        })
    }
}

impl RawArrival {
    fn check(&self, at: &str, to: Option<usize>, issues: &mut Issues) -> Option<ArrivalStream> {
        let before = issues.len();
        let process_at = join_key(at, "process");
        let process = self.process.check(&process_at, issues);
        let customers = match self.customers {
            Some(n) if n < 1 => {
                issues.push(join_key(at, "customers"), format!("must be ≥ 1 (got {n})"));
                None
            }
            other => other.map(|n| n as u64),
        };
        let start = self.start.as_ref().map(|s| s.check(&join_key(at, "start"), issues));
        if issues.len() > before {
            return None;
        }
        Some(ArrivalStream {
            name: self.name.clone(),
            to: to?,
            process: process?,
            customers,
            start: SimTime::ZERO + start.flatten().unwrap_or(SimDuration::ZERO),
        })
    }
}

impl RawProcess {
    fn check(&self, at: &str, issues: &mut Issues) -> Option<Process> {
        let (takes, field_names): (&[bool], &str) = match self.kind {
            ProcessKind::Poisson | ProcessKind::Deterministic => (&[true, false, false], "rate"),
            ProcessKind::Renewal => (&[false, true, false], "interarrival"),
            ProcessKind::Piecewise => (&[false, false, true], "windows"),
        };
        let present = [self.rate.is_some(), self.interarrival.is_some(), self.windows.is_some()];
        for ((name, is_set), wanted) in
            ["rate", "interarrival", "windows"].iter().zip(present).zip(takes)
        {
            if is_set && !wanted {
                issues.push(
                    join_key(at, name),
                    format!("is not a field of kind {:?}, which takes: {field_names}", self.kind)
                        .to_lowercase(),
                );
                return None;
            }
            if !is_set && *wanted {
                issues.push(at, format!("kind {:?} needs `{name}`", self.kind).to_lowercase());
                return None;
            }
        }
        match self.kind {
            ProcessKind::Poisson | ProcessKind::Deterministic => {
                let rate_at = join_key(at, "rate");
                let rate = self.rate.as_ref()?.check(&rate_at, issues);
                let rate = positive_rate(rate, &rate_at, issues)?;
                Some(if self.kind == ProcessKind::Poisson {
                    Process::Poisson(rate)
                } else {
                    Process::Deterministic(rate)
                })
            }
            ProcessKind::Renewal => {
                let gap_at = join_key(at, "interarrival");
                let gap = self.interarrival.as_ref()?.check(&gap_at, issues)?;
                if gap.mean_secs() <= 0.0 {
                    issues.push(gap_at, "must have a mean > 0");
                    return None;
                }
                Some(Process::Renewal(gap))
            }
            ProcessKind::Piecewise => check_windows(self.windows.as_ref()?, at, issues),
        }
    }
}

fn positive_rate(rate: Option<Rate>, at: &str, issues: &mut Issues) -> Option<Rate> {
    let rate = rate?;
    if rate.as_per_sec() <= 0.0 {
        issues.push(at, format!("must be > 0 (got {rate})"));
        return None;
    }
    Some(rate)
}

fn check_windows(windows: &[RawWindow], at: &str, issues: &mut Issues) -> Option<Process> {
    let windows_at = join_key(at, "windows");
    if windows.is_empty() {
        issues.push(&windows_at, "needs at least one window (got none)");
        return None;
    }
    let mut checked = Vec::new();
    let mut previous = SimDuration::ZERO;
    for (i, w) in windows.iter().enumerate() {
        let w_at = join_index(&windows_at, i);
        let until = w.until.check(&join_key(&w_at, "until"), issues);
        let rate = w.rate.check(&join_key(&w_at, "rate"), issues);
        if let Some(until) = until {
            if until <= previous {
                issues.push(
                    join_key(&w_at, "until"),
                    format!(
                        "must be later than the previous window's end ({previous}) (got {until})"
                    ),
                );
            }
            previous = until;
        }
        if let (Some(until), Some(rate)) = (until, rate) {
            checked.push((until, rate));
        }
    }
    (checked.len() == windows.len()).then_some(Process::Piecewise(checked))
}

/// Solves the traffic equations for each station's arrival rate and returns ρ per station, or
/// `None` when the routing matrix traps jobs (I − Pᵀ is singular).
pub fn offered_load(stations: &[StationSpec], arrivals: &[ArrivalStream]) -> Option<Vec<f64>> {
    let n = stations.len();
    // Build (I − Pᵀ) λ = γ as an augmented matrix.
    let mut m = vec![vec![0.0f64; n + 1]; n];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for (from, station) in stations.iter().enumerate() {
        for &(to, p) in &station.routes {
            m[to][from] -= p;
        }
    }
    for stream in arrivals {
        m[stream.to][n] += stream.process.peak_rate_per_s();
    }
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-9 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *x -= factor * p;
                }
            }
        }
    }
    Some(
        stations
            .iter()
            .enumerate()
            .map(|(i, s)| m[i][n] / m[i][i] * s.service.mean_secs() / s.servers as f64)
            .collect(),
    )
}
