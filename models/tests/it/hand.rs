//! Runs small enough to compute by hand: every figure below is worked out in the comments.

use std::path::Path;

use models::run::run_scenario;
use models::summary::Summary;

fn run_text(text: &str) -> Summary {
    let scn = models::scenario::from_text(Path::new("hand.toml"), text, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&scn, None).unwrap()
}

const THREE_CUSTOMERS: &str = r#"
[[variant]]
name = "hand"
architecture = "network"
[[variant.arrival]]
name = "c"
to = "s"
process = { kind = "deterministic", rate = "1/s" }
customers = 3
[[variant.station]]
name = "s"
servers = 1
service = { kind = "constant", value = "1.5s" }
"#;

/// Arrivals at 0, 1, 2 s; service 1.5 s. Starts 0, 1.5, 3; departures 1.5, 3, 4.5.
#[test]
fn three_customers_through_one_server() {
    let s = run_text(THREE_CUSTOMERS);
    let v = &s.variants[0];
    let r = &v.stations[0].report;
    assert_eq!(v.end_s, 4.5);
    assert_eq!((r.arrivals, r.served, r.dropped, r.reneged), (3, 3, 0, 0));
    // Waits 0, 0.5, 1.0 s.
    assert!((r.mean_wait_s - 0.5).abs() < 1e-12);
    assert!((r.wait.max_s - 1.0).abs() < 1e-3);
    // Sojourns 1.5, 2.0, 2.5 s.
    assert!((r.mean_sojourn_s - 2.0).abs() < 1e-12);
    // Busy throughout [0, 4.5].
    assert!((r.utilization - 1.0).abs() < 1e-12);
    // One waiting during [1, 1.5) and [2, 3): 1.5 job-seconds over 4.5 s.
    assert!((r.mean_queue_len - 1.5 / 4.5).abs() < 1e-12);
    assert_eq!(r.peak_queue_len, 1);
    // Four events per customer? No: one arrival and one departure each.
    assert_eq!(v.events, 6);
    assert_eq!(v.network.as_ref().unwrap().completed, 3);
}

/// Same, with a constant patience of 0.4 s: customer 2 (arrives 1 s, would start at 1.5 s)
/// gives up at 1.4 s; customer 3 arrives at 2 s to an idle server and leaves at 3.5 s.
#[test]
fn impatient_customer_reneges_and_the_next_finds_the_server_idle() {
    let text =
        THREE_CUSTOMERS.to_string() + "patience = { kind = \"constant\", value = \"400ms\" }\n";
    let s = run_text(&text);
    let v = &s.variants[0];
    let r = &v.stations[0].report;
    assert_eq!((r.served, r.reneged), (2, 1));
    assert_eq!(v.network.as_ref().unwrap().reneged, 1);
    assert_eq!(v.end_s, 3.5);
    // Busy [0, 1.5) and [2, 3.5): 3 s of 3.5 s.
    assert!((r.utilization - 3.0 / 3.5).abs() < 1e-12);
    // Waits of served customers: 0 and 0.
    assert_eq!(r.mean_wait_s, 0.0);
}

/// A queue bound of 0: only arrivals that find the server free get in. Customer 2 (at 1 s, the
/// server busy until 1.5 s) is dropped; customer 3 (at 2 s) is served.
#[test]
fn zero_queue_capacity_drops_whoever_finds_the_server_busy() {
    let text = THREE_CUSTOMERS.to_string() + "queue_capacity = 0\n";
    let s = run_text(&text);
    let r = &s.variants[0].stations[0].report;
    assert_eq!((r.arrivals, r.served, r.dropped), (3, 2, 1));
    assert_eq!(s.variants[0].network.as_ref().unwrap().dropped, 1);
}

/// Routing: with p = 1 to a second station, every job visits both, in order.
#[test]
fn routed_jobs_visit_each_station() {
    let text = THREE_CUSTOMERS
        .replace("name = \"s\"\n", "name = \"s\"\nroute = [{ to = \"t\", p = 1.0 }]\n")
        + "[[variant.station]]\nname = \"t\"\nservers = 1\nservice = { kind = \"constant\", value = \"100ms\" }\n";
    let s = run_text(&text);
    let v = &s.variants[0];
    assert_eq!(v.stations[1].report.served, 3);
    // Departures from t at 1.6, 3.1, 4.6: responses 1.6, 2.1, 2.6 s.
    assert!((v.network.as_ref().unwrap().response.mean_s - 2.1).abs() < 1e-12);
    assert_eq!(v.end_s, 4.6);
}
