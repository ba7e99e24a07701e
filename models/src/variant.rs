//! One `[[variant]]` as written: its architecture and every section an architecture may have,
//! checked against the architecture in `crate::architecture`.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::architecture::kind::Architecture;
use crate::components::cdn::RawCdn;
use crate::components::db::RawDb;
use crate::components::gateway::RawGateway;
use crate::components::redis::RawRedis;
use crate::network::config::{RawArrival, RawStation};

/// One system to simulate: its architecture and that architecture's sections. (A flat table
/// rather than a serde-tagged enum, so that every error keeps its full key path.)
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    /// The variant's name, unique in the scenario.
    pub name: String,
    pub architecture: Architecture,
    /// `network`: external arrival streams.
    pub arrival: Option<Vec<RawArrival>>,
    /// `network`: queueing stations.
    pub station: Option<Vec<RawStation>>,
    /// Flash sale: client ↔ first tier round trip (default LN(30ms, 150ms)).
    pub client_rtt: Option<sim::DistSpec>,
    /// `three_tier_redis`: the CDN edge.
    pub cdn: Option<RawCdn>,
    /// Flash sale: the gateway / app tier.
    pub gateway: Option<RawGateway>,
    /// `three_tier_redis`: Redis.
    pub redis: Option<RawRedis>,
    /// Flash sale: the database (`queue_stream`: the order database, billed only).
    pub db: Option<RawDb>,
    /// `queue_stream`: the topic requests are queued on.
    pub kafka: Option<crate::components::kafka::RawKafka>,
    /// `queue_stream`: the stream job deciding purchases.
    pub flink: Option<crate::components::flink::RawFlink>,
    /// Flash sale: this variant's clients retry differently (timeout, retry policy, attempts,
    /// budget); clicks and patience stay those of `[traffic]`.
    pub client: Option<crate::traffic::client::RawClient>,
    /// Flash sale: a waiting room in front of the architecture.
    pub waiting_room: Option<crate::components::waiting_room::RawWaitingRoom>,
    /// `three_tier_redis`: where the order row is written (`sync` in the request, `async` by
    /// order consumers after the answer).
    pub orders: Option<crate::components::orders::RawOrders>,
    /// `queue_stream`: the result store clients poll.
    pub results: Option<crate::components::results::RawResults>,
    /// `server`: the server tier and its execution model.
    pub server: Option<crate::server::config::RawServer>,
}
