//! The one architecture seam: every architecture a variant can have is named, its sections
//! checked, its variant validated and its simulation dispatched here — nowhere else.
//!
//! | architecture       | module                 | sections of `[[variant]]`                     |
//! |--------------------|------------------------|-----------------------------------------------|
//! | `network`          | `crate::network`       | `arrival`, `station`                          |
//! | `server`           | `crate::server`        | `server`                                      |
//! | `three_tier_redis` | `crate::sale::arch`    | `client_rtt`, `cdn`, `gateway`, `redis`, `db`, `client`, `waiting_room` |
//! | `naive_db`         | `crate::sale::arch`    | `client_rtt`, `gateway`, `db`, `client`, `waiting_room` |
//! | `queue_stream`     | `crate::sale::arch`    | `client_rtt`, `cdn`, `gateway`, `db`, `kafka`, `flink`, `results`, `client`, `waiting_room` |
//!
//! Warm-up (`run.warmup`): `network` and `server` reset their statistics at it. A flash sale is
//! a transient measured from its first click to its last answer, with every attempt accounted
//! for, so its architectures refuse a warm-up at validation rather than ignore it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sim::config::{Issues, join_key};

use crate::limits::RunSettings;
use crate::scenario::{RawVariant, Scenario, Variant};
use crate::summary::VariantSummary;
use crate::timelines::{SaleRow, ServerRow, VariantTimeline};
use crate::traffic::Population;

/// The architectures a variant can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// An open queueing network of stations: `arrival` streams and `station`s.
    Network,
    /// One server tier with an execution model under the closed-loop `[load]`.
    Server,
    /// CDN dedupe → gateway → atomic Redis stock script → DB final decrement.
    ThreeTierRedis,
    /// App server → DB: SELECT stock, then UPDATE.
    NaiveDb,
    /// Gateway → Kafka → Flink keyed state → order sink; clients poll a result store.
    QueueStream,
}

impl Architecture {
    /// The name written in scenario files and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Network => "network",
            Architecture::Server => "server",
            Architecture::ThreeTierRedis => "three_tier_redis",
            Architecture::NaiveDb => "naive_db",
            Architecture::QueueStream => "queue_stream",
        }
    }

    /// A flash-sale architecture: it needs `[sale]` and `[traffic]`.
    pub fn is_sale(self) -> bool {
        matches!(
            self,
            Architecture::ThreeTierRedis | Architecture::NaiveDb | Architecture::QueueStream
        )
    }

    /// Whether `[[variant]]` section `section` belongs to this architecture.
    fn has_section(self, section: &str) -> bool {
        use Architecture::*;
        match section {
            "arrival" | "station" => self == Network,
            "server" => self == Server,
            "client_rtt" | "gateway" | "db" | "client" | "waiting_room" => self.is_sale(),
            "cdn" => matches!(self, ThreeTierRedis | QueueStream),
            "redis" => self == ThreeTierRedis,
            "kafka" | "flink" | "results" => self == QueueStream,
            other => unreachable!("unknown variant section `{other}`"),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
            crate::network::config::check(raw, at, issues).map(Variant::Network)
        }
        Architecture::Server => crate::server::check_variant(raw, at, issues).map(Variant::Server),
        Architecture::ThreeTierRedis | Architecture::NaiveDb | Architecture::QueueStream => {
            crate::sale::check_variant(raw, raw.architecture, at, issues)
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

/// What one variant leaves besides its summary.
pub enum RunTimeline {
    None,
    Sale(VariantTimeline<SaleRow>),
    Server(VariantTimeline<ServerRow>),
}

/// A variant's results: its summary and its timeline.
pub type VariantRun = (VariantSummary, RunTimeline);

/// Simulates one variant of `scenario` with `seed`; flash-sale variants run on `population`.
pub fn simulate(
    variant: &Variant,
    scenario: &Scenario,
    population: Option<&Population>,
    seed: u64,
) -> Result<VariantRun, String> {
    let limits = scenario.run.limits_for(variant.name());
    match variant {
        Variant::Network(net) => crate::network::simulate(net, &scenario.run, &limits, seed)
            .map(|s| (s, RunTimeline::None)),
        Variant::Sale(v) => {
            let setup = scenario.sale.as_ref().expect("validation requires [sale]");
            let population = population.expect("generated with the sale");
            crate::sale::simulate(setup, v, population, &limits, seed)
                .map(|(s, t)| (s, RunTimeline::Sale(t)))
        }
        Variant::Server(spec) => {
            let load = scenario.load.as_ref().expect("validation requires [load]");
            crate::server::simulate(spec, load, &scenario.run, &limits, seed)
                .map(|(s, t)| (s, RunTimeline::Server(t)))
        }
    }
}
