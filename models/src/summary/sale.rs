//! A flash-sale variant's results, as `summary.json` holds them (`variants[].metrics`); their
//! definitions are in `crate::sale::metrics`, which computes them.

use serde::{Deserialize, Serialize};
use sim::stats::DurationSummary;

use crate::components::waiting_room::RoomMetrics;
use crate::sale::outcome::{OutcomeCounts, UserOutcomeCounts};

/// Attempts by why they were sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttemptsByKind {
    pub first: u64,
    pub duplicate: u64,
    pub retry: u64,
    pub bot: u64,
    pub poll: u64,
}

/// Why downstream steps failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Failures {
    pub db_pool_timeouts: u64,
    pub lock_wait_timeouts: u64,
    pub deadlock_victims: u64,
    pub version_conflicts: u64,
    /// Units reserved in Redis whose final write failed and were not given back.
    pub leaked_reservations: u64,
    pub compensations: u64,
    /// Units Redis reserved that the database had no stock for (Redis is then brought down
    /// to the database's stock).
    pub redis_resyncs: u64,
    /// Deadlock checks' time on the lock system's mutex (s).
    pub deadlock_check_s: f64,
    /// "Sold out" answered by an empty stock row while other rows still held stock.
    pub empty_row_refusals: u64,
    pub retries_denied_by_budget: u64,
    /// Crashes from `[[fault]]` entries that hit this variant.
    pub crashes: u64,
    /// Redis decrements lost on failover (acknowledged, never replicated).
    pub lost_redis_writes: u64,
}

/// What the queue+stream components did (`queue_stream` only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamMetrics {
    /// Purchase requests the gateway queued (one per attempt that got that far).
    pub produce_requests: u64,
    /// Copies in the log (requests plus duplicates).
    pub records_appended: u64,
    /// Copies appended beyond a request's first (resends without idempotence).
    pub duplicate_records: u64,
    /// Resent copies an idempotent broker dropped.
    pub duplicates_dropped: u64,
    pub producer_resends: u64,
    /// Requests the producer gave up on (answered "failed").
    pub producer_failures: u64,
    /// Entries lost with their broker before a follower had them (acks 0 or 1).
    pub lost_records: u64,
    /// Most log entries appended but not yet decided.
    pub peak_consumer_lag: u64,
    /// Log retained at the end, bytes.
    pub retained_bytes: f64,
    /// Decisions the job made, replays included.
    pub decisions: u64,
    /// Entries decided again after a restore.
    pub replayed: u64,
    pub checkpoints: u64,
    pub job_failures: u64,
    /// Keyed state at its largest: stock keys and per-user keys, bytes.
    pub flink_state_peak_bytes: f64,
    /// Stock left in the job's state at the end (all subtasks).
    pub stock_left_in_job: i64,
    pub polls: u64,
    /// Purchases the gateway answered "sold out" from its stock cache.
    pub stock_cache_rejections: u64,
    pub result_keys_peak: u64,
    pub result_store_peak_memory_bytes: f64,
    /// Orders written for users who had already given up waiting.
    pub orders_after_give_up: u64,
    pub duplicate_orders: u64,
}

/// One component's share of the cost.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CostLine {
    pub component: String,
    /// Instances, shards, or 10k-request blocks.
    pub units: f64,
    pub unit_price_usd: f64,
    /// Hours billed (0 for per-request charges).
    pub billed_hours: f64,
    pub usd: f64,
}

/// The cost of a variant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cost {
    pub total_usd: f64,
    /// Total ÷ units sold within the stock (oversold units are not counted as sold).
    pub per_item_sold_usd: Option<f64>,
    pub components: Vec<CostLine>,
}

/// Each component's busiest second: the highest mean utilisation over ten consecutive 100 ms
/// intervals of the timeline (a run's mean hides a burst).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeakUtilization {
    /// The gateway's cores (its loops under `event_loop`).
    pub gateway_cpu: f64,
    /// The gateway's threads (`thread_pool` only).
    pub gateway_threads: Option<f64>,
    pub db_pool: f64,
    /// The hot Redis shard (`three_tier_redis` only).
    pub redis_shard: Option<f64>,
    /// The stock row's lock (the busiest row's, with split stock).
    pub stock_row_lock: f64,
    /// `queue_stream`: the busiest Kafka partition and Flink subtask.
    pub kafka_partition: Option<f64>,
    pub flink_subtask: Option<f64>,
}

/// What the human would-be buyers lived through: shares of them by what they were last told,
/// and how long a final answer took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Buyers {
    pub humans: u64,
    /// Told "purchased".
    pub purchased_share: f64,
    /// Told "sold out".
    pub sold_out_share: f64,
    /// Told they already hold their limit.
    pub limit_reached_share: f64,
    /// Never given a final answer: they stopped trying (attempts, patience or retry budget spent
    /// on timeouts, shed, rate-limited or de-duplicated requests)...
    pub gave_up_share: f64,
    /// ...or were still trying when the run ended.
    pub still_trying_share: f64,
    /// First click → final answer, for the buyers given one. It rises as capacity lets more of
    /// the slow buyers through: judge a design by `time_to_final_answer` instead.
    pub answer_latency: DurationSummary,
    /// First click → final answer over *all* buyers, a buyer never answered counting as never
    /// answered: the time by which half (90%) of the buyers had one, or `None` when more than
    /// half (10%) never did. Falls as capacity grows.
    pub time_to_final_answer: AllBuyersQuantiles,
}

/// Quantiles over every buyer of a time some buyers never reach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllBuyersQuantiles {
    pub p50_s: Option<f64>,
    pub p90_s: Option<f64>,
}

/// Shares of the attempts that the system turned away or never answered in time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptShares {
    pub shed: f64,
    pub rate_limited: f64,
    pub timed_out: f64,
}

/// The flash-sale metrics of one variant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SaleMetrics {
    pub stock: u64,
    /// Simulated time of the opening.
    pub opens_at_s: f64,
    pub users: u64,
    pub bots: u64,
    /// Digest of the exogenous clicks this variant consumed: equal across variants means they
    /// saw the same traffic (common random numbers).
    pub traffic_digest: String,
    pub attempts: u64,
    pub attempts_by_kind: AttemptsByKind,
    /// The requests sent, as a production log would count them.
    pub traffic_observed: crate::sale::observed::ObservedTraffic,
    pub outcomes: OutcomeCounts,
    /// Answers that arrived after their client had timed out.
    pub late_answers: OutcomeCounts,
    pub user_outcomes: UserOutcomeCounts,
    pub confirmed: u64,
    pub sold: u64,
    /// Commit flushes of the stock row(s): fewer than `sold` when updates are grouped.
    pub db_commits: u64,
    pub oversold: u64,
    pub undersold: u64,
    pub limit_violations: u64,
    pub confirmed_then_cancelled: u64,
    pub duplicate_orders: u64,
    pub unclaimed_orders: u64,
    pub claimed_order_rate: Option<f64>,
    /// Human users holding at least one order.
    pub users_with_item: u64,
    /// Human users holding an order they know of (told "purchased" or "limit reached").
    pub users_told_of_item: u64,
    /// Human users told "purchased" who hold no order: broken promises (an async order record
    /// lost, dead-lettered or refused by the database).
    pub users_told_without_order: u64,
    pub bots_with_item: u64,
    /// Of the stock that could reach buyers (min(stock, humans)), the share human buyers hold:
    /// the stock's success, not the buyers' (see `buyers`).
    pub stock_to_buyers_rate: f64,
    pub order_success_rate: Option<f64>,
    pub stock_left_db: i64,
    pub stock_left_redis: Option<i64>,
    /// Lowest value the Redis stock key reached (negative: over-admitted).
    pub redis_min_stock: Option<i64>,
    pub time_to_sell_out_s: Option<f64>,
    pub amplification: f64,
    pub buyers: Buyers,
    pub attempt_shares: AttemptShares,
    /// First click → final answer, per human user.
    pub user_latency: DurationSummary,
    /// Points `[seconds, probability]` of the user latency's distribution, for plots.
    pub user_latency_cdf: Vec<(f64, f64)>,
    /// Send → answer or timeout, per attempt.
    pub attempt_latency: DurationSummary,
    pub failures: Failures,
    /// Redis at its largest: the stock shard (`three_tier_redis`) or the result store
    /// (`queue_stream`), bytes.
    pub redis_peak_memory_bytes: Option<f64>,
    pub cdn_requests: u64,
    pub cdn_deduped: u64,
    pub cdn_fingerprint_peak_bytes: Option<f64>,
    /// App tier CPU: the CPU the gateway's cores ran ÷ (instances × cores × one window shared
    /// by the run's variants: time zero to the end of the longest), so variants compare.
    pub app_cpu_utilization: f64,
    /// The CPU the gateway's cores ran, seconds, and the cores it had.
    pub app_cpu_s: f64,
    pub app_cores: u32,
    /// Each component's busiest second.
    pub peak_1s_utilization: PeakUtilization,
    pub stream: Option<StreamMetrics>,
    /// The payment stage (`[sale.payment]`): orders paid, cancelled and sold again.
    pub payment: Option<crate::components::payment::PaymentMetrics>,
    /// `three_tier_redis` with request ids: repeats answered from the script's stored answer.
    pub redis_stored_answers: Option<u64>,
    /// `three_tier_redis` with the async order path: its queue and consumers.
    pub order_path: Option<OrderPathMetrics>,
    /// The waiting room in front, if any.
    pub waiting_room: Option<RoomMetrics>,
    /// `pre_open = "hold"`: the requests the first tier held until the opening (absent
    /// otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_open_hold: Option<crate::components::hold::HoldMetrics>,
    pub cost: Cost,
}

/// The async order path of `three_tier_redis`: records pushed by the stock script and what
/// became of them (`crate::components::orders`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderPathMetrics {
    pub records_pushed: u64,
    pub orders_committed: u64,
    /// Lost with their decrement on a Redis failover before a consumer took them.
    pub records_lost_on_failover: u64,
    /// Given up after the last delivery failed.
    pub records_dead_lettered: u64,
    /// Refused by the database for want of stock (Redis over-admitted them).
    pub records_refused_no_stock: u64,
    /// Deliveries after a failed transaction.
    pub redeliveries: u64,
    /// Deliveries after a consumer crash of records already committed (no-ops).
    pub duplicate_deliveries: u64,
    pub consumer_crashes: u64,
    pub peak_queue: u64,
    /// Push → commit (consumer lag included), per committed order.
    pub lag: DurationSummary,
}

impl From<&crate::components::orders::OrderCounters> for OrderPathMetrics {
    fn from(c: &crate::components::orders::OrderCounters) -> Self {
        OrderPathMetrics {
            records_pushed: c.pushed,
            orders_committed: c.committed,
            records_lost_on_failover: c.lost_on_failover,
            records_dead_lettered: c.dead_lettered,
            records_refused_no_stock: c.refused_no_stock,
            redeliveries: c.redeliveries,
            duplicate_deliveries: c.duplicate_deliveries,
            consumer_crashes: c.crashes,
            peak_queue: c.peak_queue,
            lag: c.lag.summary(),
        }
    }
}
