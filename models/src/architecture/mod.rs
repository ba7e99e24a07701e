//! The one architecture seam: every architecture a variant can have is named, its sections
//! checked, its variant validated and its simulation dispatched here — nowhere else.
//!
//! | architecture       | module                 | sections of `[[variant]]`                     |
//! |--------------------|------------------------|-----------------------------------------------|
//! | `network`          | `crate::network`       | `arrival`, `station`                          |
//! | `server`           | `crate::server`        | `server`                                      |
//! | `three_tier_redis` | `crate::sale::arch`    | `client_rtt`, `cdn`, `gateway`, `redis`, `orders`, `db`, `client`, `waiting_room` |
//! | `naive_db`         | `crate::sale::arch`    | `client_rtt`, `gateway`, `db`, `client`, `waiting_room` |
//! | `queue_stream`     | `crate::sale::arch`    | `client_rtt`, `cdn`, `gateway`, `db`, `kafka`, `flink`, `results`, `client`, `waiting_room` |
//!
//! Warm-up (`run.warmup`): `network` and `server` reset their statistics at it. A flash sale is
//! a transient measured from its first click to its last answer, with every attempt accounted
//! for, so its architectures refuse a warm-up at validation rather than ignore it.

pub mod kind;

use sim::config::{Issues, join_key};

use crate::limits::RunSettings;
use crate::network::config::Network;
use crate::sale::config::{SaleSetup, SaleVariant};
use crate::server::config::{LoadSpec, ServerSpec};
use crate::summary::VariantSummary;
use crate::timelines::{SaleRow, ServerRow, VariantTimeline};
use crate::traffic::Population;
use crate::variant::RawVariant;
pub use kind::Architecture;

impl Architecture {
    /// Whether `[[variant]]` section `section` belongs to this architecture.
    fn has_section(self, section: &str) -> bool {
        use Architecture::*;
        match section {
            "arrival" | "station" => self == Network,
            "server" => self == Server,
            "client_rtt" | "gateway" | "db" | "client" | "waiting_room" => self.is_sale(),
            "cdn" => matches!(self, ThreeTierRedis | QueueStream),
            "redis" | "orders" => self == ThreeTierRedis,
            "kafka" | "flink" | "results" => self == QueueStream,
            other => unreachable!("unknown variant section `{other}`"),
        }
    }
}

/// Records every section of `raw` that its architecture does not have.
fn check_sections(raw: &RawVariant, at: &str, issues: &mut Issues) {
    let present = [
        ("arrival", raw.arrival.is_some()),
        ("station", raw.station.is_some()),
        ("client_rtt", raw.client_rtt.is_some()),
        ("cdn", raw.cdn.is_some()),
        ("gateway", raw.gateway.is_some()),
        ("redis", raw.redis.is_some()),
        ("db", raw.db.is_some()),
        ("kafka", raw.kafka.is_some()),
        ("flink", raw.flink.is_some()),
        ("client", raw.client.is_some()),
        ("waiting_room", raw.waiting_room.is_some()),
        ("results", raw.results.is_some()),
        ("orders", raw.orders.is_some()),
        ("server", raw.server.is_some()),
    ];
    let architecture = raw.architecture;
    for (section, _) in present.iter().filter(|(s, here)| *here && !architecture.has_section(s)) {
        issues.push(
            join_key(at, section),
            format!("is not a section of architecture {}", architecture.name()),
        );
    }
}

/// Validates one `[[variant]]` at key path `at`, whatever its architecture.
pub fn check_variant(raw: &RawVariant, at: &str, issues: &mut Issues) -> Option<Variant> {
    check_sections(raw, at, issues);
    match raw.architecture {
        Architecture::Network => {
            let arrivals = raw.arrival.as_deref().unwrap_or_default();
            let stations = raw.station.as_deref().unwrap_or_default();
            crate::network::config::check(&raw.name, arrivals, stations, at, issues)
                .map(Variant::Network)
        }
        Architecture::Server => crate::server::check_variant(raw, at, issues).map(Variant::Server),
        Architecture::ThreeTierRedis | Architecture::NaiveDb | Architecture::QueueStream => {
            crate::sale::config::check_variant(raw, raw.architecture, at, issues)
                .map(|v| Variant::Sale(Box::new(v)))
        }
    }
}

/// Checks what the variants need of the scenario's `[run]`: a flash sale has no warm-up (see
/// the module doc).
pub fn check_run(raw: &[RawVariant], run: &RunSettings, issues: &mut Issues) {
    if run.warmup == sim::SimTime::ZERO {
        return;
    }
    if let Some(sale) = raw.iter().find(|v| v.architecture.is_sale()) {
        issues.push(
            "run.warmup",
            format!(
                "must be 0s when a variant is a flash sale (variant `{}` is {}): a sale is a \
                 transient measured from the first click to the last answer, with every attempt \
                 counted, so there is no steady state to warm up to (got {})",
                sale.name,
                sale.architecture.name(),
                run.warmup_duration()
            ),
        );
    }
}

/// A validated variant.
#[derive(Clone, Debug)]
pub enum Variant {
    Network(Network),
    Sale(Box<SaleVariant>),
    Server(ServerSpec),
}

impl Variant {
    pub fn name(&self) -> &str {
        match self {
            Variant::Network(n) => &n.name,
            Variant::Sale(v) => &v.name,
            Variant::Server(s) => &s.name,
        }
    }
    pub fn architecture(&self) -> Architecture {
        match self {
            Variant::Network(_) => Architecture::Network,
            Variant::Sale(v) => v.architecture,
            Variant::Server(_) => Architecture::Server,
        }
    }
}

/// What one variant leaves besides its summary.
pub enum RunTimeline {
    None,
    Sale(VariantTimeline<SaleRow>),
    Server(VariantTimeline<ServerRow>),
}

/// A variant's results: its summary and its timeline.
pub type VariantRun = (VariantSummary, RunTimeline);

/// What the variants of a scenario share: `[run]`, and the sale (with its generated clicks)
/// or the closed-loop load when there are variants that need them.
pub struct Shared<'a> {
    pub run: &'a RunSettings,
    pub sale: Option<(&'a SaleSetup, &'a Population)>,
    pub load: Option<&'a LoadSpec>,
}

/// Simulates one variant with `seed`.
pub fn simulate(variant: &Variant, shared: &Shared, seed: u64) -> Result<VariantRun, String> {
    let run = shared.run;
    let limits = run.limits_for(variant.name());
    match variant {
        Variant::Network(net) => {
            crate::network::simulate(net, run, &limits, seed).map(|s| (s, RunTimeline::None))
        }
        Variant::Sale(v) => {
            let (setup, population) = shared.sale.expect("validation requires [sale]");
            crate::sale::simulate(setup, v, population, &limits, seed)
                .map(|(s, t)| (s, RunTimeline::Sale(t)))
        }
        Variant::Server(spec) => {
            let load = shared.load.expect("validation requires [load]");
            crate::server::simulate(spec, load, run, &limits, seed)
                .map(|(s, t)| (s, RunTimeline::Server(t)))
        }
    }
}
