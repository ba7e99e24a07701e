//! Typed results read back what they write: `summary.json` into `Summary`, the timeline files
//! into their rows, byte for byte, for sale, network and server scenarios.

use models::run::{RunResults, run_with_timeline};
use models::summary::Summary;
use models::timelines::{self, SaleRow, ServerRow};
use sim::output::json_bytes;

use crate::support::scenario;

/// The summary as `flashsim run` writes it (through a JSON value), read back into the typed
/// summary, writes the same bytes again; so do the timeline files.
fn assert_round_trip(r: &RunResults) {
    let written = json_bytes(&serde_json::to_value(&r.summary).unwrap());
    assert_eq!(
        String::from_utf8_lossy(&json_bytes(&r.summary)),
        String::from_utf8_lossy(&written),
        "the typed summary serialises as the JSON value does"
    );
    let read: Summary = serde_json::from_slice(&written).unwrap();
    assert_eq!(String::from_utf8_lossy(&json_bytes(&read)), String::from_utf8_lossy(&written));
    let sale = timelines::write_csv(&r.timelines.sale);
    let read = timelines::read_csv::<SaleRow>(&sale).unwrap();
    assert_eq!(read.len(), r.timelines.sale.len());
    assert_eq!(timelines::write_csv(&read), sale);
    let server = timelines::write_csv(&r.timelines.server);
    let read = timelines::read_csv::<ServerRow>(&server).unwrap();
    assert_eq!(read.len(), r.timelines.server.len());
    assert_eq!(timelines::write_csv(&read), server);
}

#[test]
fn a_sale_summary_and_timeline_read_back_as_written() {
    let variants = [
        ("naive", "naive_db", ""),
        ("tt", "three_tier_redis", ""),
        ("room", "three_tier_redis", "[variant.waiting_room]\nadmit_rate = \"2k/s\"\n"),
        ("qs", "queue_stream", ""),
    ]
    .map(|(name, arch, extra)| {
        format!("[[variant]]\nname = \"{name}\"\narchitecture = \"{arch}\"\n{extra}")
    })
    .concat();
    let r = run_with_timeline(&crate::mechanisms::sale(3000, 100, "", &variants), None).unwrap();
    assert_eq!(r.timelines.sale.len(), 4);
    let naive = &r.timelines.sale[0].rows;
    assert!(naive.iter().all(|row| row.redis_queue.is_none() && row.kafka_lag.is_none()));
    assert!(r.timelines.sale[1].rows.iter().all(|row| row.redis_utilization.is_some()));
    assert_round_trip(&r);
}

#[test]
fn a_network_summary_reads_back_as_written() {
    let r = run_with_timeline(&scenario("scenarios/checkout-network.toml", &[]), None).unwrap();
    assert!(r.timelines.sale.is_empty() && r.timelines.server.is_empty());
    assert!(r.timelines.files().is_empty(), "no timeline files");
    assert_round_trip(&r);
}

#[test]
fn a_server_summary_and_timeline_read_back_as_written() {
    let r = run_with_timeline(&scenario("scenarios/blocking-event-loop.toml", &[]), None).unwrap();
    assert!(!r.timelines.server.is_empty() && r.timelines.sale.is_empty());
    let files: Vec<String> = r.timelines.files().into_iter().map(|(name, _)| name).collect();
    assert_eq!(files, ["server-timeline.csv"]);
    assert_round_trip(&r);
}
