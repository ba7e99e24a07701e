//! The components of a flash-sale variant, as the model holds them.

use sim::SlabKey;

use super::arch::queue_stream::parts::StreamTiers;
use crate::components::cdn::Cdn;
use crate::components::db::Db;
use crate::components::gateway::Gateway;
use crate::components::orders::OrderQueue;
use crate::components::redis::Redis;
use crate::components::waiting_room::WaitingRoom;

/// The components of a variant, each with its own state, random streams, fault windows and
/// counters; the jobs they queue are attempts.
pub struct Tiers {
    pub cdn: Option<Cdn>,
    pub gateway: Gateway<SlabKey>,
    /// `three_tier_redis`: the stock shard.
    pub redis: Option<Redis<SlabKey>>,
    /// `three_tier_redis` with the async order path: the order queue and its consumers.
    pub orders: Option<OrderQueue<SlabKey>>,
    /// The stock row (`queue_stream`: the order table the sink writes).
    pub db: Db<SlabKey>,
    /// `queue_stream`: the topic, the job and the result store.
    pub stream: Option<StreamTiers>,
    pub room: Option<WaitingRoom>,
}
