//! `run.warmup` is honoured or refused by every architecture, never ignored: networks and
//! servers reset their statistics at it; flash sales refuse it at validation (exit 2).

use std::path::Path;
use std::process::Command;

use models::run::run_scenario;
use models::scenario::from_text;

use crate::support::*;

const SALE: &str = r#"
[run]
seed = 3
warmup = "15s"
[sale]
stock = 10
[traffic]
users = 200
profile = { kind = "bursts", bursts = [{ at = "0s", spread = "1s", share = 1.0, shape = "normal" }] }
[[variant]]
name = "v"
architecture = "ARCH"
"#;

#[test]
fn every_flash_sale_architecture_refuses_a_warmup_with_exit_2() {
    let dir = std::env::temp_dir().join(format!("flashsim-warmup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for arch in ["three_tier_redis", "naive_db", "queue_stream"] {
        let path = dir.join(format!("{arch}.toml"));
        std::fs::write(&path, SALE.replace("ARCH", arch)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_flashsim"))
            .args(["run", path.to_str().unwrap(), "--out"])
            .arg(dir.join("out"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arch}: {stderr}");
        assert!(
            stderr.contains("`run.warmup` must be 0s when a variant is a flash sale"),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("variant `v` is {arch}")), "{stderr}");
        assert!(stderr.contains("(got 15s)"), "{stderr}");
        // Without the warm-up the same file is valid.
        let valid = SALE.replace("ARCH", arch).replace("warmup = \"15s\"", "warmup = \"0s\"");
        from_text(Path::new("sale.toml"), &valid, &[]).unwrap_or_else(|e| panic!("{arch}: {e}"));
    }
}

const SERVER: &str = r#"
[run]
seed = 5
[load]
connections = 50
timeout = "2s"
duration = "4s"
[[variant]]
name = "pool"
architecture = "server"
[variant.server]
execution = "thread_pool"
workers = 8
cores = 2
[[variant.server.step]]
kind = "cpu"
time = { kind = "exponential", mean = "1ms" }
"#;

#[test]
fn a_server_resets_its_statistics_at_the_warmup() {
    let run = |warmup: &str| {
        let text = SERVER.replace("seed = 5", &format!("seed = 5\nwarmup = \"{warmup}\""));
        let scn = from_text(Path::new("server.toml"), &text, &[]).unwrap();
        let s = run_scenario(&scn, None).unwrap();
        s.variants[0].server.clone().unwrap()
    };
    let (whole, half) = (run("0s"), run("2s"));
    // The same run (same seed, same events); statistics cover the last 2 s of 4 only.
    let share = half.sent as f64 / whole.sent as f64;
    assert!((0.45..0.55).contains(&share), "sent after the warm-up: {share}");
    assert_eq!(half.intervals, 20, "100 ms intervals after a 2 s warm-up of a 4 s load");
    assert_eq!(whole.intervals, 40);
    // Saturated and steady: throughput per second of measured load agrees within 5%.
    let ratio = half.throughput_per_s / whole.throughput_per_s;
    assert!((0.95..1.05).contains(&ratio), "throughput ratio {ratio}");
    // A warm-up as long as the load leaves nothing to measure: refused.
    let text = SERVER.replace("seed = 5", "seed = 5\nwarmup = \"4s\"");
    let err = from_text(Path::new("server.toml"), &text, &[]).unwrap_err().to_string();
    assert!(err.contains("`run.warmup` must be shorter than load.duration (4s)"), "{err}");
}

#[test]
fn a_network_resets_its_statistics_at_the_warmup() {
    let served = |warmup: &str| {
        let sets = ["run.horizon=2000s".to_string(), format!("run.warmup={warmup}")];
        let scn = scenario("scenarios/validation/mm1.toml", &sets);
        let s = run_scenario(&scn, None).unwrap();
        station(&s, "server").report.served
    };
    let (whole, half) = (served("0s"), served("1000s"));
    let share = half as f64 / whole as f64;
    assert!((0.4..0.6).contains(&share), "served after the warm-up: {share}");
}
