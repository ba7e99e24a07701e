//! The sale's settings: `[sale]`, the validated flash-sale variant, and what every variant
//! shares (the sale, its traffic, its faults).

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::DurationLit;
use sim::config::{Issues, join_key};
use sim::{Dist, SimDuration, SimTime};

use crate::architecture::kind::Architecture;
use crate::components::cdn::{CdnSpec, RawCdn};
use crate::components::db::DbSpec;
use crate::components::flink::FlinkSpec;
use crate::components::gateway::GatewaySpec;
use crate::components::kafka::KafkaSpec;
use crate::components::orders::OrdersSpec;
use crate::components::redis::{RawRedis, RedisSpec};
use crate::components::results::ResultsSpec;
use crate::components::{dist_or, lognormal};
use crate::traffic::Traffic;
use crate::variant::RawVariant;

/// The `[sale]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSale {
    /// Units for sale.
    pub stock: i64,
    /// Units one user may buy (default 1).
    pub per_user_limit: Option<i64>,
    /// Simulated time of the opening; clicks before it are answered "not open" (default 10s).
    pub opens_at: Option<DurationLit>,
    /// Provisioned time billed for every component (default 1h).
    pub billed_time: Option<DurationLit>,
    /// What a click before the opening meets: `origin` (default: the gateway answers "not
    /// open"), `edge` (the CDN answers it, for variants with one), `disabled` (the button is
    /// off until the page's clock says open; the click waits for it) or `hold` (the first tier
    /// keeps the request and passes it on from the opening at `hold_release_rate`).
    pub pre_open: Option<PreOpen>,
    /// With `pre_open = "hold"` (required there, refused otherwise): held requests passed on
    /// per second from the opening, in arrival order, e.g. "100k/s".
    pub hold_release_rate: Option<sim::config::RateLit>,
    /// The payment stage: a window per order, cancellation and restock (default: none).
    pub payment: Option<crate::components::payment::RawPayment>,
    /// What `per_user_limit` counts: `user` (default), `account` (the same here) or `coupon`
    /// (an account's stackable coupons count as separate buyers: the case study's oversell).
    pub limit_key: Option<crate::components::limit::LimitKey>,
}

/// What happens to a click before the opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreOpen {
    /// The request travels to the gateway, which answers "not open".
    Origin,
    /// The CDN answers "not open" (variants without a CDN: the gateway).
    Edge,
    /// The page holds the click until its clock says open (clock skew included).
    Disabled,
    /// The first tier (the CDN, else the load balancer before the gateway) keeps a request that
    /// reaches it before the opening, the page showing its countdown, and passes the held
    /// requests on from the opening at `hold_release_rate`, in arrival order; a request arriving
    /// while some are still held joins them. The client's timeout runs from the release.
    Hold,
}

/// Validated sale settings.
#[derive(Clone, Debug)]
pub struct SaleSpec {
    pub stock: u64,
    pub per_user_limit: u16,
    pub opens_at: SimTime,
    pub billed_time: SimDuration,
    pub pre_open: PreOpen,
    /// `pre_open = "hold"`: time between two releases of held requests.
    pub hold_release_every: Option<SimDuration>,
    pub payment: Option<crate::components::payment::PaymentSpec>,
    pub limit_key: crate::components::limit::LimitKey,
}

impl RawSale {
    pub fn check(&self, issues: &mut Issues) -> Option<SaleSpec> {
        let before = issues.len();
        if !(0..=1_000_000_000).contains(&self.stock) {
            issues.push(
                "sale.stock",
                format!("must be between 0 and 1000000000 (got {})", self.stock),
            );
        }
        let limit = self.per_user_limit.unwrap_or(1);
        if !(1..=10_000).contains(&limit) {
            issues
                .push("sale.per_user_limit", format!("must be between 1 and 10000 (got {limit})"));
        }
        let opens_at = self
            .opens_at
            .as_ref()
            .map_or(Some(SimDuration::from_secs(10)), |o| o.check("sale.opens_at", issues));
        if opens_at.is_some_and(|o| o.as_nanos() > crate::traffic::profile::MAX_OFFSET_NS as u64) {
            issues.push("sale.opens_at", "must be within a year of time zero");
        }
        let billed = self
            .billed_time
            .as_ref()
            .map_or(Some(SimDuration::from_secs(3600)), |b| b.check("sale.billed_time", issues));
        let payment = self.payment.as_ref().map(|p| p.check("sale.payment", issues));
        let pre_open = self.pre_open.unwrap_or(PreOpen::Origin);
        let hold_release_every = self.check_hold_release(pre_open, issues);
        if issues.len() > before {
            return None;
        }
        Some(SaleSpec {
            payment: payment.flatten(),
            limit_key: self.limit_key.unwrap_or_default(),
            stock: self.stock as u64,
            per_user_limit: limit as u16,
            opens_at: SimTime::ZERO + opens_at?,
            billed_time: billed?,
            pre_open,
            hold_release_every,
        })
    }

    /// `hold_release_rate`: required with `pre_open = "hold"`, refused without.
    fn check_hold_release(&self, pre_open: PreOpen, issues: &mut Issues) -> Option<SimDuration> {
        const KEY: &str = "sale.hold_release_rate";
        match (&self.hold_release_rate, pre_open) {
            (None, PreOpen::Hold) => {
                issues.push(KEY, "required with pre_open = \"hold\", e.g. \"100k/s\"");
                None
            }
            (Some(_), p) if p != PreOpen::Hold => {
                issues.push(KEY, "only with pre_open = \"hold\"");
                None
            }
            (Some(rate), _) => {
                let per_s = rate.check(KEY, issues)?.as_per_sec();
                if per_s > 0.0 && per_s <= 1e9 {
                    Some(SimDuration::from_nanos((1e9 / per_s).round().max(1.0) as u64))
                } else {
                    issues.push(KEY, format!("must be > 0 and at most 1G/s (got {per_s}/s)"));
                    None
                }
            }
            (None, _) => None,
        }
    }
}

/// A validated flash-sale variant.
#[derive(Clone, Debug)]
pub struct SaleVariant {
    pub name: String,
    pub architecture: Architecture,
    /// Client ↔ first tier round trip.
    pub client_rtt: Dist,
    pub cdn: Option<CdnSpec>,
    pub gateway: GatewaySpec,
    pub redis: Option<RedisSpec>,
    /// `three_tier_redis`: where the order row is written (other architectures: `sync`, unused).
    pub orders: OrdersSpec,
    pub db: DbSpec,
    /// The variant's own client timeout and retry behaviour, replacing `[traffic.client]`'s.
    pub client: Option<crate::traffic::client::ClientSpec>,
    /// A waiting room in front, if any.
    pub waiting_room: Option<crate::components::waiting_room::WaitingRoomSpec>,
    /// `queue_stream` only, all three.
    pub kafka: Option<KafkaSpec>,
    pub flink: Option<FlinkSpec>,
    pub results: Option<ResultsSpec>,
}

/// The sale and its traffic, shared by all variants.
#[derive(Clone, Debug)]
pub struct SaleSetup {
    pub sale: SaleSpec,
    pub traffic: Traffic,
    /// `[[fault]]` windows, each applied to the variants it names (default all).
    pub faults: Vec<super::fault::Fault>,
}

/// Validates a flash-sale variant's sections.
pub fn check_variant(
    raw: &RawVariant,
    architecture: Architecture,
    at: &str,
    issues: &mut Issues,
) -> Option<SaleVariant> {
    let before = issues.len();
    let client_rtt = dist_or(
        &raw.client_rtt,
        at,
        "client_rtt",
        lognormal(SimDuration::from_millis(30), SimDuration::from_millis(150)),
        issues,
    );
    let default_cdn = RawCdn::default();
    // The architecture seam has refused the sections this architecture lacks.
    let cdn = matches!(architecture, Architecture::ThreeTierRedis | Architecture::QueueStream)
        .then(|| raw.cdn.as_ref().unwrap_or(&default_cdn).check(&join_key(at, "cdn"), issues))
        .flatten();
    let default_redis = RawRedis::default();
    let redis = (architecture == Architecture::ThreeTierRedis)
        .then(|| raw.redis.as_ref().unwrap_or(&default_redis).check(&join_key(at, "redis"), issues))
        .flatten();
    let orders = match &raw.orders {
        Some(o) => o.check(&join_key(at, "orders"), issues),
        None => Some(OrdersSpec::default()),
    };
    let stream = architecture == Architecture::QueueStream;
    let kafka = stream
        .then(|| raw.kafka.clone().unwrap_or_default().check(&join_key(at, "kafka"), issues))
        .flatten();
    let flink = stream
        .then(|| raw.flink.clone().unwrap_or_default().check(&join_key(at, "flink"), issues))
        .flatten();
    let results = stream
        .then(|| raw.results.clone().unwrap_or_default().check(&join_key(at, "results"), issues))
        .flatten();
    let client = raw.client.as_ref().and_then(|c| {
        let c_at = join_key(at, "client");
        if c.patience.is_some() {
            issues.push(
                join_key(&c_at, "patience"),
                "belongs to the shared traffic: set it in [traffic.client] (every variant sees \
                 the same users)",
            );
        }
        c.check(&c_at, issues)
    });
    let waiting_room =
        raw.waiting_room.as_ref().and_then(|w| w.check(&join_key(at, "waiting_room"), issues));
    let gateway = raw.gateway.clone().unwrap_or_default().check(&join_key(at, "gateway"), issues);
    let db = raw.db.clone().unwrap_or_default().check(&join_key(at, "db"), issues);
    if stream && raw.db.as_ref().is_some_and(|d| d.stock_rows.is_some()) {
        // Its orders are inserted by the sink; the stock lives in the Flink job's state.
        issues.push(
            join_key(&join_key(at, "db"), "stock_rows"),
            "queue_stream keeps the stock in Flink state: split it with `[variant.flink] stock`",
        );
    }
    if issues.len() > before {
        return None;
    }
    Some(SaleVariant {
        name: raw.name.clone(),
        architecture,
        client_rtt: client_rtt?,
        cdn,
        gateway: gateway?,
        redis,
        orders: orders?,
        db: db?,
        client,
        waiting_room,
        kafka,
        flink,
        results,
    })
}

impl SaleVariant {
    /// Whether this variant has the component a `[[fault]]` names.
    pub fn has(&self, component: super::fault::FaultComponent) -> bool {
        use super::fault::FaultComponent as C;
        match component {
            C::Cdn => self.cdn.is_some(),
            C::Gateway | C::Db => true,
            C::Redis => self.redis.is_some(),
            C::Kafka => self.kafka.is_some(),
            C::Flink => self.flink.is_some(),
            C::Results => self.results.is_some(),
            C::Orders => {
                self.redis.is_some()
                    && self.orders.path == crate::components::orders::OrderPath::Async
            }
        }
    }
}
