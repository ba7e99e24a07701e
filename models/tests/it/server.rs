//! Execution models under closed-loop load: the event loop frozen by a blocking call, and the
//! closed-loop M/M/1 (machine-repairman) law.

use std::path::Path;

use models::run::run_scenario;
use models::server::ServerMetrics;

use crate::support::*;

fn server(summary: &models::summary::Summary, name: &str) -> ServerMetrics {
    summary.variants.iter().find(|v| v.name == name).unwrap().server.clone().unwrap()
}

#[test]
fn a_blocking_call_freezes_the_event_loop_and_nothing_else() {
    let scn = scenario("scenarios/blocking-event-loop.toml", &[]);
    let s = run_scenario(&scn, None).unwrap();
    let blocking = server(&s, "event-loop-blocking");
    let non_blocking = server(&s, "event-loop-non-blocking");
    let goroutines = server(&s, "goroutines-blocking");
    assert!(blocking.zero_throughput_intervals >= 10, "frozen: {blocking:?}");
    assert!(blocking.loop_blocked_s[0] >= 1.0);
    assert_eq!(non_blocking.zero_throughput_intervals, 0);
    assert_eq!(goroutines.zero_throughput_intervals, 0, "a goroutine parks alone");
    assert!(blocking.throughput_per_s < 0.7 * non_blocking.throughput_per_s);
    assert!(goroutines.throughput_per_s > 0.95 * non_blocking.throughput_per_s);
    // Goroutines only get slower: without the call, no request takes a second; with it, the
    // requests making it do.
    let text = std::fs::read_to_string(workspace().join("scenarios/blocking-event-loop.toml"))
        .unwrap()
        .replace("share = 0.0005", "share = 0.0");
    let scn = models::scenario::from_text(Path::new("no-call.toml"), &text, &[]).unwrap();
    let without = server(&run_scenario(&scn, None).unwrap(), "goroutines-blocking");
    assert!(without.latency.max_s < 0.5 && goroutines.latency.max_s >= 1.0);
}

#[test]
fn a_thread_pool_with_enough_threads_rides_out_the_blocking_call() {
    let text = std::fs::read_to_string(workspace().join("scenarios/blocking-event-loop.toml"))
        .unwrap()
        .replacen("execution = \"event_loop\"", "execution = \"thread_pool\"\nworkers = 64", 1);
    let scn = models::scenario::from_text(Path::new("pool.toml"), &text, &[]).unwrap();
    let s = run_scenario(&scn, None).unwrap();
    let pool = server(&s, "event-loop-blocking");
    assert_eq!(pool.execution, "thread_pool");
    assert_eq!(
        pool.zero_throughput_intervals, 0,
        "one blocked thread of 64 does not stop the rest"
    );
    // With a single thread, the same call stops everything.
    let one = text.replacen("workers = 64", "workers = 1", 1);
    let scn = models::scenario::from_text(Path::new("pool1.toml"), &one, &[]).unwrap();
    let s = run_scenario(&scn, None).unwrap();
    assert!(server(&s, "event-loop-blocking").zero_throughput_intervals > 0);
}

/// N connections, no think time, one exponential server: the server never idles, so throughput
/// is μ, and by Little's law the mean response time is N/μ.
#[test]
fn closed_loop_mm1_obeys_the_machine_repairman_law() {
    let (n, mu) = (10.0, 1000.0);
    let text = format!(
        "[load]\nconnections = {n}\nduration = \"100s\"\ntimeout = \"1h\"\n\
         [[variant]]\nname = \"mm1\"\narchitecture = \"server\"\n[variant.server]\n\
         execution = \"event_loop\"\ntask_create = \"0s\"\ntask_switch = \"0s\"\n\
         [[variant.server.step]]\nkind = \"cpu\"\ntime = {{ kind = \"exponential\", mean = \"1ms\" }}\n"
    );
    let scn = models::scenario::from_text(Path::new("closed.toml"), &text, &[]).unwrap();
    let runs = replicate(&scn, 12);
    let get = |s: &models::summary::Summary| server(s, "mm1");
    assert_agrees("closed-loop throughput", estimate(&runs, |s| get(s).throughput_per_s), mu, 0.03);
    assert_agrees(
        "closed-loop mean response",
        estimate(&runs, |s| get(s).latency.mean_s),
        n / mu,
        0.03,
    );
}

#[test]
fn a_downstream_bottleneck_sets_throughput_and_latency_by_the_repairman_law() {
    // An async server with negligible CPU awaits a database of 2 connections (exponential
    // 10 ms calls). With 40 connections the database never idles: throughput is its rate,
    // 2 × 100/s, and by Little's law (every connection always has a request out) a request takes
    // connections ÷ throughput.
    let (n, servers, mean_s) = (40.0, 2.0, 0.010);
    let text = format!(
        "[load]\nconnections = {n}\nduration = \"200s\"\ntimeout = \"1h\"\n\
         [[variant]]\nname = \"io\"\narchitecture = \"server\"\n[variant.server]\n\
         execution = \"event_loop\"\ntask_create = \"0s\"\ntask_switch = \"0s\"\n\
         [[variant.server.step]]\nkind = \"cpu\"\ntime = {{ kind = \"constant\", value = \"1us\" }}\n\
         [[variant.server.step]]\nkind = \"io\"\nto = \"db\"\n\
         [[variant.server.downstream]]\nname = \"db\"\nservers = {servers}\n\
         service = {{ kind = \"exponential\", mean = \"10ms\" }}\n"
    );
    let scn = models::scenario::from_text(Path::new("downstream.toml"), &text, &[]).unwrap();
    let runs = replicate(&scn, 8);
    let get = |s: &models::summary::Summary| server(s, "io");
    let rate = servers / mean_s;
    assert_agrees(
        "throughput at the database's rate",
        estimate(&runs, |s| get(s).throughput_per_s),
        rate,
        0.03,
    );
    assert_agrees(
        "response = connections ÷ throughput",
        estimate(&runs, |s| get(s).latency.mean_s),
        n / rate,
        0.03,
    );
    // The same call as a fixed 10 ms wait has no queue: 40 connections get 4,000 answers a second.
    let fixed = text.replace(
        "kind = \"io\"\nto = \"db\"",
        "kind = \"io\"\ntime = { kind = \"constant\", value = \"10ms\" }",
    );
    let scn = models::scenario::from_text(Path::new("fixed.toml"), &fixed, &[]).unwrap();
    let s = run_scenario(&scn, None).unwrap();
    assert!(get(&s).throughput_per_s > 3500.0, "{}", get(&s).throughput_per_s);
}

#[test]
fn a_step_calling_an_unknown_downstream_is_refused_with_its_path() {
    let text = "[load]\nconnections = 1\n[[variant]]\nname = \"x\"\narchitecture = \"server\"\n\
                [variant.server]\nexecution = \"goroutines\"\n\
                [[variant.server.step]]\nkind = \"io\"\nto = \"cache\"\n";
    let err =
        models::scenario::from_text(Path::new("bad.toml"), text, &[]).unwrap_err().to_string();
    assert!(err.contains("variant[0].server.step[0].to"), "{err}");
    assert!(err.contains("names no downstream"), "{err}");
}
