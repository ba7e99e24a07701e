//! The components of `queue_stream` together, and the routing that touches only them.

use sim::{Context, SimTime, SlabKey, Station};

use super::super::super::event::{Event, StreamEvent};
use crate::components::flink::{FlinkSpec, Job};
use crate::components::kafka::{Acks, KafkaSpec, Topic};
use crate::components::results::{Results, ResultsSpec};

/// The components of `queue_stream`: the topic (its produce requests answer an attempt of a
/// given serial), the job, and the result store (its GETs answer attempts).
pub struct StreamTiers {
    pub topic: Topic<(SlabKey, u32)>,
    pub job: Job,
    pub results: Results<SlabKey>,
}

impl StreamTiers {
    pub fn new(
        (kafka, flink, results): (Option<&KafkaSpec>, Option<&FlinkSpec>, Option<&ResultsSpec>),
        stock: i64,
        users: usize,
        seed: u64,
    ) -> Option<Self> {
        let (kafka, flink, results) = (kafka?, flink?, results?);
        Some(StreamTiers {
            topic: Topic::new(kafka, seed),
            job: Job::new(flink, stock.max(0) as u64, users, seed),
            results: Results::new(results, stock, users, seed),
        })
    }

    /// Hints the per-user entries an event of `user` reads.
    #[inline]
    pub fn prefetch(&self, user: u32) {
        self.results.prefetch(user);
    }

    /// Index of the busiest station in `stations` by utilisation, for the report.
    pub fn hottest(stations: &[Station<u32>], end: SimTime) -> usize {
        let mut best = (0, -1.0);
        for (i, s) in stations.iter().enumerate() {
            let u = s.report(end).utilization;
            if u > best.1 {
                best = (i, u);
            }
        }
        best.0
    }

    /// The producer sends (or resends) a copy of `request`.
    pub(super) fn send_copy(&mut self, now: SimTime, request: u32, ctx: &mut Context<Event>) {
        let (delay, send) = self.topic.send(request);
        ctx.after(delay, Event::Stream(StreamEvent::AtPartition { request }));
        if self.topic.spec.acks != Acks::None {
            let timeout = now + self.topic.spec.request_timeout;
            ctx.at(timeout, Event::Stream(StreamEvent::ProduceTimeout { request, send }));
        }
    }
}
