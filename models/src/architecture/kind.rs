//! The names of the architectures: the one enum every other part refers to (a leaf, so that
//! results and architectures can name it without importing the seam).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
