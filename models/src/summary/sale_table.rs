//! The side-by-side comparison table of flash-sale variants: one column per variant.

use sim::output::table::{TextTable, flag, human_count, human_secs};

use super::sale::Buyers;
use super::variant::VariantSummary;
use crate::sale::outcome::Outcome;

fn rate(r: f64) -> String {
    format!("{:.2}%", r * 100.0)
}

fn opt<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "-".to_string(), show)
}

/// The comparison of every flash-sale variant in `variants`.
pub fn comparison(variants: &[VariantSummary]) -> TextTable {
    let sale: Vec<&VariantSummary> = variants.iter().filter(|v| v.metrics.is_some()).collect();
    let mut header = vec!["metric".to_string()];
    header.extend(sale.iter().map(|v| v.name.clone()));
    let mut t = TextTable::new(header);
    let row = |t: &mut TextTable, name: &str, cell: &dyn Fn(&VariantSummary) -> String| {
        let mut cells = vec![name.to_string()];
        cells.extend(sale.iter().map(|v| cell(v)));
        t.row(cells);
    };
    let m = |v: &VariantSummary| v.metrics.clone().expect("sale variant");
    row(&mut t, "architecture", &|v| v.architecture.to_string());
    row(&mut t, "attempts", &|v| human_count(m(v).attempts as f64));
    row(&mut t, "amplification (attempts/user)", &|v| format!("{:.2}", m(v).amplification));
    row(&mut t, "confirmed", &|v| human_count(m(v).confirmed as f64));
    row(&mut t, "sold (committed)", &|v| human_count(m(v).sold as f64));
    row(&mut t, "oversold", &|v| flag(m(v).oversold.to_string(), m(v).oversold > 0));
    row(&mut t, "undersold", &|v| flag(m(v).undersold.to_string(), m(v).undersold > 0));
    row(&mut t, "limit violations", &|v| {
        flag(m(v).limit_violations.to_string(), m(v).limit_violations > 0)
    });
    row(&mut t, "duplicate orders", &|v| {
        flag(m(v).duplicate_orders.to_string(), m(v).duplicate_orders > 0)
    });
    row(&mut t, "unclaimed orders", &|v| {
        flag(m(v).unclaimed_orders.to_string(), m(v).unclaimed_orders > 0)
    });
    row(&mut t, "claimed order rate", &|v| {
        let r = m(v).claimed_order_rate;
        flag(opt(r, rate), r.is_some_and(|r| r < 1.0))
    });
    row(&mut t, "stock to buyers", &|v| rate(m(v).stock_to_buyers_rate));
    row(&mut t, "order success rate", &|v| {
        let r = m(v).order_success_rate;
        flag(opt(r, rate), r.is_some_and(|r| r < 1.0))
    });
    row(&mut t, "time to sell-out", &|v| opt(m(v).time_to_sell_out_s, human_secs));
    buyer_rows(&mut t, &sale);
    row(&mut t, "user latency p50", &|v| human_secs(m(v).user_latency.p50_s));
    row(&mut t, "user latency p99", &|v| human_secs(m(v).user_latency.p99_s));
    row(&mut t, "attempt latency p99", &|v| human_secs(m(v).attempt_latency.p99_s));
    for (label, outcome) in [
        ("purchased", Outcome::Purchased),
        ("sold out", Outcome::SoldOut),
        ("limit reached", Outcome::LimitReached),
        ("deduped", Outcome::Deduped),
        ("rate limited", Outcome::RateLimited),
        ("shed", Outcome::Shed),
        ("not open", Outcome::NotOpen),
        ("failed (waiting page)", Outcome::Failed),
        ("timed out", Outcome::TimedOut),
        ("in waiting room", Outcome::InRoom),
        ("queued", Outcome::Queued),
        ("polls pending", Outcome::Pending),
    ] {
        row(&mut t, &format!("attempts {label}"), &|v| {
            human_count(m(v).outcomes.get(outcome) as f64)
        });
    }
    component_rows(&mut t, &sale);
    let room = |v: &VariantSummary| m(v).waiting_room;
    if sale.iter().any(|v| room(v).is_some()) {
        row(&mut t, "waiting room admitted / left", &|v| {
            opt(room(v), |r| {
                format!("{} / {}", human_count(r.admitted as f64), human_count(r.abandoned as f64))
            })
        });
    }
    let stream = |v: &VariantSummary| m(v).stream;
    if sale.iter().any(|v| stream(v).is_some()) {
        row(&mut t, "kafka peak consumer lag", &|v| {
            opt(stream(v), |s| human_count(s.peak_consumer_lag as f64))
        });
        row(&mut t, "flink hot subtask utilisation", &|v| station_util(v, "flink_hot_subtask"));
        row(&mut t, "polls", &|v| opt(stream(v), |s| human_count(s.polls as f64)));
        row(&mut t, "job failures / replayed", &|v| {
            opt(stream(v), |s| format!("{} / {}", s.job_failures, s.replayed))
        });
    }
    row(&mut t, "row lock peak waiters", &|v| station_peak(v, "stock_row_lock"));
    row(&mut t, "redis peak memory", &|v| {
        opt(m(v).redis_peak_memory_bytes, |b| format!("{:.1} MB", b / 1e6))
    });
    row(&mut t, "cost", &|v| format!("${:.2}", m(v).cost.total_usd));
    row(&mut t, "cost per item sold", &|v| opt(m(v).cost.per_item_sold_usd, usd_3_significant));
    t
}

/// The rows on the buyers: what they were told, and how long a final answer took.
fn buyer_rows(t: &mut TextTable, sale: &[&VariantSummary]) {
    let row = |t: &mut TextTable, name: &str, cell: &dyn Fn(&Buyers) -> String| {
        let mut cells = vec![name.to_string()];
        cells.extend(sale.iter().map(|v| cell(&v.metrics.as_ref().expect("sale variant").buyers)));
        t.row(cells);
    };
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    row(t, "buyers told purchased", &|b| pct(b.purchased_share));
    row(t, "buyers told sold out / limit", &|b| {
        format!("{} / {}", pct(b.sold_out_share), pct(b.limit_reached_share))
    });
    row(t, "buyers with no final answer", &|b| {
        flag(pct(b.gave_up_share + b.still_trying_share), b.gave_up_share > 0.0)
    });
    let never = |t: Option<f64>| t.map_or("never".into(), human_secs);
    row(t, "buyers answered by (p50 / p90)", &|b| {
        let q = &b.time_to_final_answer;
        format!("{} / {}", never(q.p50_s), never(q.p90_s))
    });
    row(t, "answered buyers' latency p99", &|b| human_secs(b.answer_latency.p99_s));
}

/// The rows on the components: the app tier's CPU and threads, Redis and the pool.
fn component_rows(t: &mut TextTable, sale: &[&VariantSummary]) {
    let row = |t: &mut TextTable, name: &str, cell: &dyn Fn(&VariantSummary) -> String| {
        let mut cells = vec![name.to_string()];
        cells.extend(sale.iter().map(|v| cell(v)));
        t.row(cells);
    };
    let m = |v: &VariantSummary| v.metrics.clone().expect("sale variant");
    row(t, "app tier CPU", &|v| format!("{:.1}%", m(v).app_cpu_utilization * 100.0));
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    row(t, "gateway CPU busiest second", &|v| pct(m(v).peak_1s_utilization.gateway_cpu));
    if sale.iter().any(|v| m(v).peak_1s_utilization.gateway_threads.is_some()) {
        row(t, "gateway threads busiest second", &|v| {
            m(v).peak_1s_utilization.gateway_threads.map_or("-".into(), pct)
        });
    }
    // Requests wait for a thread where there are threads, otherwise for a core.
    row(t, "gateway peak queue", &|v| {
        let threads = v.stations.iter().any(|s| s.name == "gateway_threads");
        station_peak(v, if threads { "gateway_threads" } else { "gateway_cores" })
    });
    row(t, "gateway time at queue cap", &|v| {
        let threads = v.stations.iter().any(|s| s.name == "gateway_threads");
        let name = if threads { "gateway_threads" } else { "gateway_cores" };
        let station = v.stations.iter().find(|s| s.name == name);
        station.and_then(|s| s.report.time_at_cap_s).map_or("-".into(), human_secs)
    });
    row(t, "redis hot shard utilisation", &|v| station_util(v, "redis_hot_shard"));
    row(t, "redis hot shard busiest second", &|v| {
        m(v).peak_1s_utilization.redis_shard.map_or("-".into(), pct)
    });
    row(t, "db pool utilisation", &|v| station_util(v, "db_pool"));
    row(t, "db pool busiest second", &|v| pct(m(v).peak_1s_utilization.db_pool));
    row(t, "stock row lock busiest second", &|v| pct(m(v).peak_1s_utilization.stock_row_lock));
    if sale.iter().any(|v| m(v).peak_1s_utilization.kafka_partition.is_some()) {
        row(t, "kafka partition busiest second", &|v| {
            m(v).peak_1s_utilization.kafka_partition.map_or("-".into(), pct)
        });
        row(t, "flink subtask busiest second", &|v| {
            m(v).peak_1s_utilization.flink_subtask.map_or("-".into(), pct)
        });
    }
}

/// Dollars to three significant digits (`$0.00178`), so a small unit cost is never `$0.0000`.
pub fn usd_3_significant(usd: f64) -> String {
    if usd >= 100.0 || usd <= 0.0 || !usd.is_finite() {
        return format!("${usd:.2}");
    }
    let decimals = (2 - usd.log10().floor() as i32).max(2) as usize;
    format!("${usd:.decimals$}")
}

fn station_util(v: &VariantSummary, name: &str) -> String {
    v.stations
        .iter()
        .find(|s| s.name == name)
        .map_or("-".into(), |s| format!("{:.1}%", s.report.utilization * 100.0))
}

fn station_peak(v: &VariantSummary, name: &str) -> String {
    v.stations
        .iter()
        .find(|s| s.name == name)
        .map_or("-".into(), |s| s.report.peak_queue_len.to_string())
}
