//! What `[[fault]]` windows and crashes do to a running variant: pauses and slowdowns become
//! each component's fault windows; a crash fails Redis over, loses a Kafka broker or a Flink
//! task, or pauses the rest.

use rand::RngExt;
use sim::Context;

use super::super::fault::{FaultComponent, FaultKind};
use super::super::model::{Event, SaleModel};
use super::queue_stream::stream;
use crate::components::faults::FaultWindows;
use sim::{SimDuration, SimTime};

impl SaleModel<'_> {
    /// Turns the scenario's faults that hit this variant into windows and crash events.
    pub(in crate::sale) fn plan_faults(&mut self, ctx: &mut Context<Event>) {
        let setup = self.setup;
        for (index, fault) in setup.faults.iter().enumerate() {
            if !fault.applies_to(&self.variant.name) || !self.has_component(fault.component) {
                continue;
            }
            let end = |d: SimDuration| fault.start + d;
            match (fault.kind, fault.duration) {
                (FaultKind::Pause, Some(d)) => {
                    self.windows_of(fault.component).add(fault.start, end(d), None)
                }
                (FaultKind::Slowdown, Some(d)) => {
                    self.windows_of(fault.component).add(fault.start, end(d), Some(fault.factor))
                }
                (FaultKind::Crash, _) => {
                    if let (FaultComponent::Redis, Some(redis)) =
                        (fault.component, &mut self.tiers.redis)
                    {
                        // Keep writes for the longest lag of any Redis crash to come.
                        redis.keep_writes_for(fault.replication_lag);
                    }
                    ctx.at(fault.start, Event::Fault { index: index as u16 });
                }
                (_, None) => unreachable!("validation requires a duration"),
            }
        }
    }

    /// The pause and slowdown windows of `component` (one this variant has).
    fn windows_of(&mut self, component: FaultComponent) -> &mut FaultWindows {
        let tiers = &mut self.tiers;
        match component {
            FaultComponent::Cdn => &mut tiers.cdn.as_mut().expect("a CDN").windows,
            FaultComponent::Gateway => &mut tiers.gateway.windows,
            FaultComponent::Redis => &mut tiers.redis.as_mut().expect("Redis").windows,
            FaultComponent::Db => &mut tiers.db.windows,
            FaultComponent::Kafka => &mut stream(tiers).topic.windows,
            FaultComponent::Flink => &mut stream(tiers).job.windows,
            FaultComponent::Results => &mut stream(tiers).results.windows,
            FaultComponent::Orders => unreachable!("the order consumers only crash (validated)"),
        }
    }

    fn has_component(&self, component: FaultComponent) -> bool {
        self.variant.has(component)
    }

    /// A crash happens now.
    pub(in crate::sale) fn on_fault(
        &mut self,
        now: SimTime,
        index: usize,
        ctx: &mut Context<Event>,
    ) {
        let fault = &self.setup.faults[index];
        self.tallies.crashes += 1;
        match fault.component {
            FaultComponent::Redis => {
                // Failover: detection, then an election; the shard serves nothing meanwhile.
                let down = fault.duration.unwrap_or_else(|| {
                    let election = self.fault_rng.random_range(500_000_000..=1_000_000_000u64);
                    SimDuration::from_nanos(15_000_000_000 + election)
                });
                let redis = self.tiers.redis.as_mut().expect("a Redis crash needs Redis");
                redis.fail_over(now, down, fault.replication_lag);
                let stock = redis.stock.stock;
                self.timeline.redis_stock(now, stock);
                self.lose_unreplicated_orders(now, fault.replication_lag);
            }
            FaultComponent::Kafka => {
                let down = fault.duration.unwrap_or(SimDuration::from_secs(10));
                let st = stream(&mut self.tiers);
                let broker = self.fault_rng.random_range(0..st.topic.spec.brokers);
                st.lose_broker(now, down, broker, &mut self.timeline);
            }
            FaultComponent::Flink => {
                let st = stream(&mut self.tiers);
                let restart = fault.duration.unwrap_or(st.job.spec.restart_time);
                st.fail_job(now, restart, &mut self.timeline, ctx);
            }
            FaultComponent::Orders => {
                let down = fault.duration.unwrap_or(SimDuration::from_secs(10));
                self.crash_order_consumers(now, down, ctx);
            }
            other => {
                let down = fault.duration.unwrap_or(SimDuration::from_secs(10));
                self.windows_of(other).add(now, now + down, None);
            }
        }
    }
}
