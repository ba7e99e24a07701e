//! `three_tier_redis`'s order path: the final write in the buyer's request (`sync`), or after the
//! answer through an order queue and its consumers (`async`, what production seckill systems do).
//!
//! Async: the stock script that reserves a unit also pushes an order record onto a list on the
//! same shard (one atomic script, parameters.md §1 "the classic seckill Lua pattern", step 4);
//! the buyer is answered "purchased" at once. `consumers` order-consumer threads pop records in
//! order and each runs the database transaction of the sync path (pool, guard, row lock). A
//! transaction that fails (pool or lock wait timeout, deadlock victim, version conflicts) is
//! delivered again after `retry_delay`, up to `max_deliveries`; then the record is dead-lettered
//! and the unit handled as `[variant.db] on_failure` says. The failure modes are mechanisms:
//! a Redis failover loses the records pushed in its replication-lag window that no consumer has
//! popped (with their decrements); consumer lag is the queue's wait; a consumer crash
//! (`[[fault]] component = "orders"`) stops consumption for its downtime, and the transactions
//! it had running are delivered again after the restart — the order table's unique key turns a
//! redelivery of a committed order into a no-op.
//!
//! Defaults [A] (docs/parameters.md "Order path"): 16 consumer threads, a 1 s retry delay,
//! 16 deliveries (RocketMQ's default `maxReconsumeTimes`), consumers on two 2-vCPU instances
//! billed like the app tier's ($0.0816 per instance-hour).

use std::collections::VecDeque;

use schemars::JsonSchema;
use serde::Deserialize;
use sim::config::Issues;
use sim::stats::DurationHistogram;
use sim::{SimDuration, SimTime};

use super::{count_or, duration_or, price_or};

/// Where the order row is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderPath {
    /// In the buyer's request, after the reservation: the answer waits for the commit.
    Sync,
    /// After the answer, by the order consumers.
    Async,
}

/// The `[variant.orders]` table (`three_tier_redis`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOrders {
    /// `sync` (default: the answer waits for the database commit) or `async` (answered after
    /// the reservation; an order queue and consumers write the row).
    pub path: Option<OrderPath>,
    /// Async: order-consumer threads, each running one transaction at a time (default 16).
    pub consumers: Option<i64>,
    /// Async: wait before a failed transaction's record is delivered again (default 1s).
    pub retry_delay: Option<sim::config::DurationLit>,
    /// Async: deliveries of one record before it is dead-lettered (default 16).
    pub max_deliveries: Option<i64>,
    /// Async: instances the consumers run on (default 2).
    pub instances: Option<i64>,
    /// Async: price per consumer instance-hour (default 0.0816).
    pub price_per_instance_hour: Option<f64>,
}

/// Validated order-path settings.
#[derive(Clone, Debug)]
pub struct OrdersSpec {
    pub path: OrderPath,
    pub consumers: u32,
    pub retry_delay: SimDuration,
    pub max_deliveries: u32,
    pub instances: u32,
    pub price_per_instance_hour: f64,
}

impl Default for OrdersSpec {
    fn default() -> Self {
        OrdersSpec {
            path: OrderPath::Sync,
            consumers: 16,
            retry_delay: SimDuration::from_secs(1),
            max_deliveries: 16,
            instances: 2,
            price_per_instance_hour: 0.0816,
        }
    }
}

impl RawOrders {
    pub fn check(&self, at: &str, issues: &mut Issues) -> Option<OrdersSpec> {
        let before = issues.len();
        let d = OrdersSpec::default();
        let consumers = count_or(self.consumers, at, "consumers", 16, (1, 100_000), issues) as u32;
        let retry_delay = duration_or(&self.retry_delay, at, "retry_delay", d.retry_delay, issues);
        let max_deliveries =
            count_or(self.max_deliveries, at, "max_deliveries", 16, (1, 1_000), issues) as u32;
        let instances = count_or(self.instances, at, "instances", 2, (1, 100_000), issues) as u32;
        let price = price_or(
            self.price_per_instance_hour,
            at,
            "price_per_instance_hour",
            d.price_per_instance_hour,
            issues,
        );
        if issues.len() > before {
            return None;
        }
        Some(OrdersSpec {
            path: self.path.unwrap_or(OrderPath::Sync),
            consumers,
            retry_delay: retry_delay?,
            max_deliveries,
            instances,
            price_per_instance_hour: price,
        })
    }
}

/// What the order path counted.
#[derive(Clone, Debug, Default)]
pub struct OrderCounters {
    /// Records pushed by the stock script.
    pub pushed: u64,
    /// Orders committed by a consumer.
    pub committed: u64,
    /// Records lost with their decrement on a Redis failover, before any consumer popped them.
    pub lost_on_failover: u64,
    /// Records given up after `max_deliveries` failed transactions.
    pub dead_lettered: u64,
    /// Records the database refused for want of stock (Redis over-admitted them).
    pub refused_no_stock: u64,
    /// Deliveries after a failed transaction.
    pub redeliveries: u64,
    /// Deliveries after a consumer crash of a record whose order was already committed (the
    /// unique key makes them no-ops).
    pub duplicate_deliveries: u64,
    /// Consumer crashes.
    pub crashes: u64,
    pub peak_queue: u64,
    /// Push → commit, per committed order.
    pub lag: DurationHistogram,
}

/// The order queue and its consumers at run time; the jobs are the order records.
#[derive(Debug)]
pub struct OrderQueue<J> {
    pub spec: OrdersSpec,
    queue: VecDeque<J>,
    idle: u32,
    /// Consumption stopped until then (a consumer crash).
    paused_until: SimTime,
    /// Bumped by every crash: a transaction started under an older epoch lost its consumer.
    pub epoch: u16,
    pub counters: OrderCounters,
}

impl<J: Copy + PartialEq> OrderQueue<J> {
    pub fn new(spec: &OrdersSpec) -> Self {
        OrderQueue {
            spec: spec.clone(),
            queue: VecDeque::new(),
            idle: spec.consumers,
            paused_until: SimTime::ZERO,
            epoch: 0,
            counters: OrderCounters::default(),
        }
    }

    /// A record joins the queue's tail (`fresh`: pushed by the script, not a redelivery).
    pub fn push(&mut self, record: J, fresh: bool) {
        if fresh {
            self.counters.pushed += 1;
        }
        self.queue.push_back(record);
        self.counters.peak_queue = self.counters.peak_queue.max(self.queue.len() as u64);
    }

    /// The next record an idle consumer takes at `now`, if any (the consumer is then busy).
    pub fn take(&mut self, now: SimTime) -> Option<J> {
        if self.idle == 0 || now < self.paused_until {
            return None;
        }
        let record = self.queue.pop_front()?;
        self.idle -= 1;
        Some(record)
    }

    /// A consumer finished with its record (whatever came of it).
    pub fn release(&mut self) {
        self.idle += 1;
        debug_assert!(self.idle <= self.spec.consumers);
    }

    /// The consumers crash at `now` and are back after `down`: returns when consumption resumes.
    pub fn crash(&mut self, now: SimTime, down: SimDuration) -> SimTime {
        self.counters.crashes += 1;
        self.epoch = self.epoch.wrapping_add(1);
        // The restarted consumers are all idle; the transactions of the dead ones free nothing.
        self.idle = self.spec.consumers;
        self.paused_until = self.paused_until.max(now + down);
        self.paused_until
    }

    /// Removes the queued records `lost` says a failover lost; returns them.
    pub fn lose(&mut self, mut lost: impl FnMut(J) -> bool) -> Vec<J> {
        let mut gone = Vec::new();
        self.queue.retain(|&r| {
            let keep = !lost(r);
            if !keep {
                gone.push(r);
            }
            keep
        });
        self.counters.lost_on_failover += gone.len() as u64;
        gone
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(consumers: u32) -> OrderQueue<u32> {
        OrderQueue::new(&OrdersSpec { consumers, ..OrdersSpec::default() })
    }

    #[test]
    fn consumers_take_records_in_order_one_each() {
        let mut q = queue(2);
        for r in 0..4 {
            q.push(r, true);
        }
        let t = SimTime::ZERO;
        assert_eq!((q.take(t), q.take(t), q.take(t)), (Some(0), Some(1), None));
        q.release();
        assert_eq!(q.take(t), Some(2));
        assert_eq!(q.counters.peak_queue, 4);
    }

    #[test]
    fn a_crash_stops_consumption_for_its_downtime() {
        let mut q = queue(4);
        q.push(7, true);
        let at = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let resume = q.crash(at(1), SimDuration::from_secs(10));
        assert_eq!(resume, at(11));
        assert_eq!(q.take(at(5)), None);
        assert_eq!(q.take(resume), Some(7));
        assert_eq!(q.epoch, 1);
    }

    #[test]
    fn a_failover_removes_only_the_records_it_names() {
        let mut q = queue(1);
        for r in 0..5 {
            q.push(r, true);
        }
        assert_eq!(q.lose(|r| r >= 3), vec![3, 4]);
        assert_eq!(q.queued(), 3);
        assert_eq!(q.counters.lost_on_failover, 2);
    }
}
