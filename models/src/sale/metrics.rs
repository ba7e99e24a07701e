//! Flash-sale metrics, defined once for every architecture, and the cost model.
//!
//! Definitions (the README repeats them with units):
//! - **attempt**: one request a client sends; each ends in exactly one outcome (checked).
//! - **confirmed**: "purchased" answers the system sent, including those that reached a client
//!   after it had timed out (the order is in the user's account either way).
//! - **sold**: orders committed in the system of record (the database).
//! - **oversold** = max(0, max(sold, confirmed) − stock − restocked units sold again).
//! - **limit violations**: users holding more orders than the per-user limit.
//! - **duplicate orders**: order rows written again for a decision already written (a stream
//!   job's replay through an at-least-once sink); reconciliation cancels them.
//! - **confirmed-then-cancelled** = duplicate orders: confirmations later revoked.
//! - **unclaimed orders**: orders whose user was never told they hold an item (the answer came
//!   after they stopped waiting, or they were told something else last): at risk of going unpaid.
//! - **claimed order rate** = (orders − unclaimed) ÷ (orders + duplicate orders): the share of
//!   order rows a buyer knows to pay — the nearest figure to a payment success rate.
//! - **undersold** = min(stock left unsold, human users who wanted an item and have none).
//! - **user success rate** = min(humans holding an item, stock) ÷ min(stock, humans).
//! - **order success rate** = honoured ÷ confirmed, honoured = min(confirmed, stock).
//! - **amplification** = attempts ÷ users (bots included).
//! - **cost** = Σ provisioned units × unit price × billed time + per-request charges.

use sim::stats::DurationHistogram;
use sim::{RunStats, SimDuration, SimTime, SlabKey, StationReport};

use super::config::{SaleSetup, SaleVariant};
use super::model::{AttemptKind, SaleModel, Tallies};
use super::outcome::{Outcome, UserOutcome};
use crate::summary::sale::{AllBuyersQuantiles, AttemptShares, Buyers, PeakUtilization};
pub use crate::summary::sale::{
    AttemptsByKind, Cost, CostLine, Failures, SaleMetrics, StreamMetrics,
};
use crate::summary::{StationSummary, VariantSummary};
use crate::timelines::{SaleRow, VariantTimeline};

/// What a finished run leaves behind for the metrics.
pub struct RunReport {
    pub tallies: Tallies,
    pub humans: u64,
    pub bots: u64,
    pub stock: u64,
    pub per_user_limit: u16,
    pub opens_at: SimTime,
    pub end: SimTime,
    pub orders: u64,
    pub db_stock: i64,
    pub sold_out_at: Option<SimTime>,
    pub humans_with_item: u64,
    /// Humans holding an order they know of (told "purchased" or "limit reached").
    pub humans_with_claimed_item: u64,
    pub unclaimed_orders: u64,
    /// Humans told "purchased" holding no order.
    pub humans_told_without_order: u64,
    pub bots_with_item: u64,
    pub limit_violations: u64,
    pub redis_stock: Option<i64>,
    pub redis_min_stock: i64,
    pub redis_peak_memory_bytes: Option<f64>,
    pub redis_compensations: u64,
    /// Request ids: repeats the script answered from a stored answer, and those told
    /// "purchased" again for a reservation already answered.
    pub redis_stored_answers: Option<u64>,
    pub redis_repeats_told_reserved: u64,
    pub redis_resyncs: u64,
    /// Redis decrements lost on failover.
    pub lost_redis_writes: u64,
    /// What the database counted.
    pub db: crate::components::db::DbCounters,
    pub observed: super::observed::ObservedTraffic,
    /// Requests whose CPU slice the gateway tier ran, and that CPU.
    pub gateway_requests: u64,
    pub gateway_cpu: SimDuration,
    pub cdn_requests: u64,
    pub cdn_deduped: u64,
    pub cdn_peak_table_bytes: Option<f64>,
    pub stations: Vec<(String, StationReport)>,
    pub timeline: super::timeline::Timeline,
    /// Gateway servers, database connections, Redis executors.
    pub servers: [u32; 4],
    pub stream: Option<StreamMetrics>,
    pub order_path: Option<crate::components::orders::OrderCounters>,
    pub payment: Option<crate::components::payment::PaymentMetrics>,
    /// Busiest seconds tracked by the stations themselves: the stock row lock (busiest row),
    /// the busiest Kafka partition and Flink subtask.
    pub busiest_stations: (f64, Option<f64>, Option<f64>),
    pub waiting_room: Option<crate::components::waiting_room::RoomMetrics>,
    pub pre_open_hold: Option<crate::components::hold::HoldMetrics>,
}

impl RunReport {
    pub fn new(model: SaleModel<'_>, end: SimTime) -> Self {
        let humans = model.setup.traffic.users as u64;
        let bots = model.users.len() as u64 - humans;
        let limit = model.setup.sale.per_user_limit;
        let row = &model.tiers.db.row;
        let holders = |range: std::ops::Range<usize>| {
            row.per_user[range].iter().filter(|&&n| n > 0).count() as u64
        };
        let humans_with_item = holders(0..humans as usize);
        let claimed = |u: &super::model::User| {
            matches!(u.outcome, Some(UserOutcome::Purchased | UserOutcome::LimitReached))
        };
        let mut unclaimed_orders = 0;
        let mut humans_with_claimed_item = 0;
        let mut humans_told_without_order = 0;
        for (i, u) in model.users.iter().enumerate() {
            let orders = row.per_user[i] as u64;
            if u.told_purchased && orders == 0 && i < humans as usize {
                humans_told_without_order += 1;
            }
            if claimed(u) {
                if orders > 0 && i < humans as usize {
                    humans_with_claimed_item += 1;
                }
            } else {
                unclaimed_orders += orders;
            }
        }
        let bots_with_item = holders(humans as usize..model.users.len());
        let limit_violations = row.per_user.iter().filter(|&&n| n > limit).count() as u64;
        let redis = model.tiers.redis.as_ref();
        let mut stations: Vec<(String, sim::StationReport)> = (model.tiers.gateway.reports(end))
            .into_iter()
            .map(|(name, report)| (name.to_string(), report))
            .collect();
        if let Some(redis) = redis {
            stations.push(("redis_hot_shard".to_string(), redis.shard().report(end)));
        }
        let stream = model.tiers.stream.as_ref().map(|st| stream_metrics(st, end, &mut stations));
        stations.push(("db_pool".to_string(), model.tiers.db.pool().report(end)));
        let db = &model.tiers.db;
        for row in 0..db.row_count() as u16 {
            let name = match db.row_count() {
                1 => "stock_row_lock".to_string(),
                _ => format!("stock_row_lock[{row}]"),
            };
            stations.push((name, db.row_lock(row).report(end)));
        }
        RunReport {
            humans,
            bots,
            stock: model.setup.sale.stock,
            per_user_limit: limit,
            opens_at: model.setup.sale.opens_at,
            end,
            orders: row.orders,
            db_stock: row.stock,
            sold_out_at: row.sold_out_at,
            humans_with_item,
            humans_with_claimed_item,
            unclaimed_orders,
            humans_told_without_order,
            bots_with_item,
            limit_violations,
            redis_stock: redis.map(|r| r.stock.stock),
            redis_min_stock: redis.map_or(model.setup.sale.stock as i64, |r| r.stock.min_stock),
            redis_peak_memory_bytes: redis
                .map(|r| r.stock.peak_memory_bytes(&r.spec))
                .or(stream.as_ref().map(|s| s.result_store_peak_memory_bytes)),
            redis_compensations: redis.map_or(0, |r| r.stock.compensations),
            redis_stored_answers: redis
                .filter(|r| r.spec.request_ids)
                .map(|r| r.stock.stored_answers_returned),
            redis_repeats_told_reserved: redis.map_or(0, |r| r.stock.repeats_told_reserved),
            redis_resyncs: redis.map_or(0, |r| r.stock.resyncs),
            lost_redis_writes: redis.map_or(0, |r| r.lost_writes),
            db: model.tiers.db.counters.clone(),
            observed: model.observed.finish(),
            gateway_requests: model.tiers.gateway.requests,
            gateway_cpu: model.tiers.gateway.cpu_busy,
            cdn_requests: model.tiers.cdn.as_ref().map_or(0, |c| c.requests),
            cdn_deduped: model.tiers.cdn.as_ref().map_or(0, |c| c.deduped),
            cdn_peak_table_bytes: model.tiers.cdn.as_ref().map(|c| c.peak_table_bytes()),
            stations,
            servers: [
                model.variant.gateway.total_cores(),
                model.variant.gateway.total_threads().unwrap_or(0),
                model.variant.db.pool,
                1,
            ],
            busiest_stations: busiest_stations(&model, end),
            stream,
            order_path: model.tiers.orders.as_ref().map(|q| q.counters.clone()),
            payment: model.payments.as_ref().map(|p| p.finish()),
            waiting_room: model.tiers.room.as_ref().map(|r| r.figures.clone()),
            pre_open_hold: model.hold_report(),
            timeline: model.timeline,
            tallies: model.tallies,
        }
    }

    /// Every attempt ended in exactly one outcome, and every human user too.
    pub fn check_conservation(&self) -> Result<(), String> {
        let t = &self.tallies;
        if t.outcomes.total() != t.attempts {
            return Err(format!(
                "conservation broken: {} attempts but {} outcomes ({:?})",
                t.attempts,
                t.outcomes.total(),
                t.outcomes
            ));
        }
        if t.users.total() != self.humans {
            return Err(format!(
                "conservation broken: {} users but {} user outcomes",
                self.humans,
                t.users.total()
            ));
        }
        Ok(())
    }

    /// The variant's timeline rows.
    pub fn timeline(&self, variant: &str) -> VariantTimeline<SaleRow> {
        VariantTimeline {
            variant: variant.to_string(),
            rows: self.timeline.rows(
                self.stock as i64,
                self.redis_stock.is_some(),
                self.stream.is_some(),
                self.servers,
            ),
        }
    }
}

fn cost(setup: &SaleSetup, variant: &SaleVariant, report: &RunReport, sold: u64) -> Cost {
    let hours = setup.sale.billed_time.as_secs_f64() / 3600.0;
    let mut lines = Vec::new();
    let mut line = |component: &str, units: f64, unit_price_usd: f64, billed_hours: f64| {
        let usd = if billed_hours > 0.0 {
            units * unit_price_usd * billed_hours
        } else {
            units * unit_price_usd
        };
        lines.push(CostLine {
            component: component.to_string(),
            units,
            unit_price_usd,
            billed_hours,
            usd,
        });
    };
    if let Some(cdn) = &variant.cdn {
        line("cdn", report.cdn_requests as f64 / 10_000.0, cdn.price_per_10k_requests, 0.0);
    }
    let gw = &variant.gateway;
    line("gateway", gw.instances as f64, gw.price_per_instance_hour, hours);
    if let Some(redis) = &variant.redis {
        line("redis", redis.shards as f64, redis.price_per_shard_hour, hours);
    }
    if report.order_path.is_some() {
        let o = &variant.orders;
        line("order_consumers", o.instances as f64, o.price_per_instance_hour, hours);
    }
    if let (Some(kafka), Some(stream)) = (&variant.kafka, &report.stream) {
        line("kafka", kafka.brokers as f64, kafka.price_per_broker_hour, hours);
        // Retained log, replicated on every broker... of its replication factor (3), billed per
        // GB-month (730 h) for the billed time.
        let gb = stream.retained_bytes * 3.0 / 1e9;
        line("kafka_storage", gb, kafka.price_per_gb_month / 730.0, hours);
    }
    if let Some(flink) = &variant.flink {
        line("flink", flink.kpus as f64, flink.price_per_kpu_hour, hours);
    }
    if let Some(results) = &variant.results {
        line("result_store", results.shards as f64, results.price_per_shard_hour, hours);
    }
    line("db", 1.0, variant.db.price_per_hour, hours);
    let total_usd: f64 = lines.iter().map(|l| l.usd).sum();
    Cost {
        total_usd,
        per_item_sold_usd: (sold > 0).then(|| total_usd / sold as f64),
        components: lines,
    }
}

/// App-tier CPU utilisation over this variant's run (time zero to its end); `crate::run` puts
/// every variant of a run on the longest one's window. The CPU is that of the slices the cores
/// ran (under a blocking event loop, the loops' CPU only).
fn app_cpu(variant: &SaleVariant, report: &RunReport) -> f64 {
    let span_ns = report.end.as_nanos() as f64;
    let cores = variant.gateway.total_cores() as f64;
    let cpu_ns = report.gateway_cpu.as_nanos() as f64;
    if span_ns <= 0.0 { 0.0 } else { cpu_ns / (cores * span_ns) }
}

/// Every "purchased" answer the system sent, whether or not its client was still waiting (the
/// order shows up in the user's account either way); a repeat answered from a stored
/// "reserved" confirms a reservation already confirmed and does not count again.
fn confirmed_purchases(report: &RunReport) -> u64 {
    let (t, purchased) = (&report.tallies, Outcome::Purchased);
    t.outcomes.get(purchased) + t.late_answers.get(purchased) - report.redis_repeats_told_reserved
}

/// The stock plus the units of cancelled orders that went back on sale and were sold again:
/// selling them again is not an oversell (a cancellation after the sale repairs no oversell).
fn units_on_sale(report: &RunReport) -> u64 {
    report.stock + report.payment.as_ref().map_or(0, |p| p.cancelled.min(p.sold_after_restock))
}

/// Builds the variant's summary from its run.
pub fn variant_summary(
    setup: &SaleSetup,
    variant: &SaleVariant,
    report: &RunReport,
    timeline: &VariantTimeline<SaleRow>,
    stats: &RunStats,
) -> VariantSummary {
    let t = &report.tallies;
    let confirmed = confirmed_purchases(report);
    let sold = report.orders;
    let stock = report.stock;
    let oversold = sold.max(confirmed).saturating_sub(units_on_sale(report));
    let stock_left = units_on_sale(report).saturating_sub(sold.min(units_on_sale(report)));
    let humans_without = report.humans - report.humans_with_item;
    let could_serve = stock.min(report.humans);
    let duplicate_orders = report.stream.as_ref().map_or(0, |s| s.duplicate_orders);
    let metrics = SaleMetrics {
        stock,
        opens_at_s: report.opens_at.as_secs_f64(),
        users: report.humans,
        bots: report.bots,
        traffic_digest: format!("{:016x}", t.traffic_digest),
        attempts: t.attempts,
        traffic_observed: report.observed.clone(),
        attempts_by_kind: AttemptsByKind {
            first: t.by_kind[AttemptKind::First as usize],
            duplicate: t.by_kind[AttemptKind::Duplicate as usize],
            retry: t.by_kind[AttemptKind::Retry as usize],
            bot: t.by_kind[AttemptKind::Bot as usize],
            poll: t.by_kind[AttemptKind::Poll as usize],
        },
        outcomes: t.outcomes.clone(),
        late_answers: t.late_answers.clone(),
        user_outcomes: t.users.clone(),
        confirmed,
        sold,
        db_commits: report.db.commits,
        oversold,
        undersold: stock_left.min(humans_without),
        limit_violations: report.limit_violations,
        confirmed_then_cancelled: duplicate_orders,
        duplicate_orders,
        unclaimed_orders: report.unclaimed_orders,
        claimed_order_rate: (sold + duplicate_orders > 0).then(|| {
            sold.saturating_sub(report.unclaimed_orders) as f64 / (sold + duplicate_orders) as f64
        }),
        users_with_item: report.humans_with_item,
        users_told_of_item: report.humans_with_claimed_item,
        users_told_without_order: report.humans_told_without_order,
        bots_with_item: report.bots_with_item,
        // Orders beyond the stock cannot be honoured (they count under oversold), so at most
        // `stock` users count as served.
        stock_to_buyers_rate: if could_serve == 0 {
            1.0
        } else {
            report.humans_with_item.min(stock) as f64 / could_serve as f64
        },
        order_success_rate: (confirmed > 0).then(|| confirmed.min(stock) as f64 / confirmed as f64),
        stock_left_db: report.db_stock,
        stock_left_redis: report.redis_stock,
        redis_min_stock: report.redis_stock.map(|_| report.redis_min_stock),
        time_to_sell_out_s: report
            .sold_out_at
            .map(|t| (t.as_nanos() as f64 - report.opens_at.as_nanos() as f64) * 1e-9),
        amplification: t.attempts as f64 / (report.humans + report.bots).max(1) as f64,
        buyers: buyers(report.humans, t),
        attempt_shares: AttemptShares {
            shed: share(t.outcomes.get(Outcome::Shed), t.attempts),
            rate_limited: share(t.outcomes.get(Outcome::RateLimited), t.attempts),
            timed_out: share(t.outcomes.get(Outcome::TimedOut), t.attempts),
        },
        user_latency: t.user_latency.summary(),
        user_latency_cdf: t.user_latency.cdf_points(),
        attempt_latency: t.attempt_latency.summary(),
        failures: failures(report),
        redis_peak_memory_bytes: report.redis_peak_memory_bytes,
        cdn_requests: report.cdn_requests,
        cdn_deduped: report.cdn_deduped,
        cdn_fingerprint_peak_bytes: report.cdn_peak_table_bytes,
        app_cpu_utilization: app_cpu(variant, report),
        app_cpu_s: report.gateway_cpu.as_secs_f64(),
        app_cores: variant.gateway.total_cores(),
        peak_1s_utilization: PeakUtilization {
            stock_row_lock: report.busiest_stations.0,
            kafka_partition: report.busiest_stations.1,
            flink_subtask: report.busiest_stations.2,
            ..peak_1s_utilization(&timeline.rows)
        },
        stream: report.stream.clone(),
        order_path: report.order_path.as_ref().map(Into::into),
        redis_stored_answers: report.redis_stored_answers,
        payment: report.payment.clone(),
        waiting_room: report.waiting_room.clone(),
        pre_open_hold: report.pre_open_hold.clone(),
        // Oversold units cannot be delivered: they never make a design look cheaper.
        cost: cost(setup, variant, report, sold.min(stock)),
    };
    summary_of(variant, report, stats, metrics)
}

/// The queue+stream figures, adding the hottest partition, the hottest subtask and the result
/// store to `stations`.
fn stream_metrics(
    st: &super::arch::queue_stream::StreamTiers,
    end: SimTime,
    stations: &mut Vec<(String, StationReport)>,
) -> StreamMetrics {
    use super::arch::queue_stream::StreamTiers;
    let (topic, job, results) = (&st.topic, &st.job, &st.results);
    let hot = StreamTiers::hottest(topic.partitions(), end);
    stations.push(("kafka_hot_partition".to_string(), topic.partitions()[hot].report(end)));
    let hot = StreamTiers::hottest(job.subtasks(), end);
    stations.push(("flink_hot_subtask".to_string(), job.subtasks()[hot].report(end)));
    stations.push(("result_store".to_string(), results.shard().report(end)));
    let (k, j, r) = (&topic.counters, &job.counters, &results.counters);
    let state_keys = job.state.stock.len() as u64 + job.state.peak_user_keys;
    StreamMetrics {
        produce_requests: k.produce_requests,
        records_appended: topic.log.len() as u64,
        duplicate_records: k.duplicate_records,
        duplicates_dropped: k.duplicates_dropped,
        producer_resends: k.resends,
        producer_failures: k.producer_failures,
        lost_records: k.lost_records,
        peak_consumer_lag: k.peak_lag,
        retained_bytes: topic.log.len() as f64 * topic.spec.record_bytes,
        decisions: j.decisions,
        replayed: j.replayed,
        checkpoints: j.checkpoints,
        job_failures: j.failures,
        flink_state_peak_bytes: state_keys as f64 * job.spec.state_bytes_per_key,
        stock_left_in_job: job.state.stock_left(),
        polls: r.polls,
        stock_cache_rejections: r.cache_rejections,
        result_keys_peak: results.store.peak_keys,
        result_store_peak_memory_bytes: results.store.peak_memory_bytes(&results.spec),
        orders_after_give_up: j.orders_after_give_up,
        duplicate_orders: j.duplicate_orders,
    }
}

/// What failed along the way, from the components' counters and the tallies.
fn failures(report: &RunReport) -> Failures {
    let t = &report.tallies;
    Failures {
        db_pool_timeouts: report.db.pool_timeouts,
        lock_wait_timeouts: report.db.lock_timeouts,
        deadlock_victims: report.db.deadlock_victims,
        version_conflicts: report.db.version_conflicts,
        leaked_reservations: t.leaked,
        compensations: report.redis_compensations,
        redis_resyncs: report.redis_resyncs,
        deadlock_check_s: report.db.deadlock_check_ns as f64 * 1e-9,
        empty_row_refusals: report.db.empty_row_refusals,
        retries_denied_by_budget: t.budget_denied,
        crashes: t.crashes,
        lost_redis_writes: report.lost_redis_writes,
    }
}

/// The variant's summary around its sale metrics.
fn summary_of(
    variant: &SaleVariant,
    report: &RunReport,
    stats: &RunStats,
    metrics: SaleMetrics,
) -> VariantSummary {
    VariantSummary {
        name: variant.name.clone(),
        architecture: variant.architecture,
        events: stats.events,
        // The sale's end: payment windows run on after it (`crate::sale::payment`).
        end_s: report.end.as_secs_f64(),
        stop: crate::summary::StopKind::of(stats),
        network: None,
        metrics: Some(metrics),
        server: None,
        stations: report
            .stations
            .iter()
            .map(|(name, r)| StationSummary {
                name: name.clone(),
                offered_load: None,
                report: r.clone(),
            })
            .collect(),
    }
}

impl SaleModel<'_> {
    /// Closes the books at `end`: attempts still in flight and users still trying get their
    /// terminal outcomes.
    pub fn finish(mut self, end: SimTime) -> super::metrics::RunReport {
        // Close the busy integrals and the levels at the end of the run.
        let closing = self.timeline.close(end, &self.tiers);
        let mut open: Vec<SlabKey> = Vec::new();
        self.attempts.for_each_key(|k| open.push(k));
        for key in open {
            let a = self.attempts.get_mut(key);
            if a.client_waiting {
                a.client_waiting = false;
                let user = a.user;
                self.tallies.outcomes.add(Outcome::InFlightAtEnd);
                self.timeline.outcome(closing, Outcome::InFlightAtEnd);
                self.users[user as usize].in_flight -= 1;
            }
        }
        for user in 0..self.users.len() {
            if self.users[user].outcome.is_none() {
                self.finish_user(end, user as u32, UserOutcome::StillTrying);
            }
        }
        for u in &self.users {
            if let (Some(outcome), false) = (u.outcome, u.is_bot) {
                self.tallies.users.add(outcome);
            }
        }
        RunReport::new(self, end)
    }
}

/// `part` of `whole`, 0 when there is no whole.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// The buyers' shares by what they were last told, and their latency to a final answer.
fn buyers(humans: u64, t: &Tallies) -> Buyers {
    let of = |outcome: UserOutcome| share(t.users.get(outcome), humans);
    Buyers {
        humans,
        purchased_share: of(UserOutcome::Purchased),
        sold_out_share: of(UserOutcome::SoldOut),
        limit_reached_share: of(UserOutcome::LimitReached),
        gave_up_share: of(UserOutcome::GaveUp),
        still_trying_share: of(UserOutcome::StillTrying),
        answer_latency: t.answer_latency.summary(),
        time_to_final_answer: AllBuyersQuantiles {
            p50_s: over_all_buyers(&t.answer_latency, humans, 0.5),
            p90_s: over_all_buyers(&t.answer_latency, humans, 0.9),
        },
    }
}

/// The `q`-quantile over `humans` buyers of a time recorded in `answered` for those who reached
/// it (the others never did): `None` when fewer than `q` of them reached it.
fn over_all_buyers(answered: &DurationHistogram, humans: u64, q: f64) -> Option<f64> {
    let reached = answered.count();
    let within = q * humans as f64 / reached.max(1) as f64;
    (reached > 0 && within <= 1.0).then(|| answered.quantile_secs(within))
}

/// The busiest second of the stations that track their own: the stock row lock (the busiest
/// row), and for `queue_stream` the busiest partition and subtask.
fn busiest_stations(model: &SaleModel<'_>, end: SimTime) -> (f64, Option<f64>, Option<f64>) {
    let busiest = |reports: &mut dyn Iterator<Item = StationReport>| {
        reports
            .filter_map(|r| r.busiest_1s_utilization)
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    };
    let db = &model.tiers.db;
    let rows = busiest(&mut (0..db.row_count() as u16).map(|row| db.row_lock(row).report(end)));
    let stream = model.tiers.stream.as_ref();
    let partitions =
        stream.and_then(|st| busiest(&mut st.topic.partitions().iter().map(|p| p.report(end))));
    let subtasks =
        stream.and_then(|st| busiest(&mut st.job.subtasks().iter().map(|s| s.report(end))));
    (rows.unwrap_or(0.0), partitions, subtasks)
}

/// The busiest second of each component, from the 100 ms timeline.
fn peak_1s_utilization(rows: &[SaleRow]) -> PeakUtilization {
    let peak = |of: &dyn Fn(&SaleRow) -> f64| {
        let n = rows.len().min(10);
        if n == 0 {
            return 0.0;
        }
        rows.windows(n).map(|w| w.iter().map(of).sum::<f64>() / n as f64).fold(0.0, f64::max)
    };
    PeakUtilization {
        gateway_cpu: peak(&|r| r.gateway_cpu_utilization),
        gateway_threads: rows
            .first()
            .and_then(|r| r.gateway_threads_utilization)
            .map(|_| peak(&|r| r.gateway_threads_utilization.unwrap_or(0.0))),
        db_pool: peak(&|r| r.db_pool_utilization),
        redis_shard: rows
            .first()
            .and_then(|r| r.redis_utilization)
            .map(|_| peak(&|r| r.redis_utilization.unwrap_or(0.0))),
        stock_row_lock: 0.0,
        kafka_partition: None,
        flink_subtask: None,
    }
}
