//! Golden snapshots of every bundled run scenario: its terminal table, its `summary.json`, and
//! a digest of its timelines. A change that moves any number fails here; update the snapshots
//! on purpose (`cargo insta review`, or `INSTA_UPDATE=always`) and say why in the commit.

use std::path::Path;
use std::process::Command;

use crate::support::workspace;

/// FNV-1a over the file's bytes: a short, stable fingerprint of a file too large to snapshot.
fn digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!(
        "{} bytes, {} lines, fnv1a64 {hash:016x}",
        bytes.len(),
        bytes.split(|b| *b == b'\n').count() - 1
    )
}

/// Runs a bundled scenario through the binary and snapshots what it writes.
fn pin(rel: &str) {
    pin_file(&workspace().join("scenarios").join(rel), true);
}

/// Runs a regression fixture (`tests/it/fixtures/`) and snapshots its table and the digests of
/// its files (their summaries are large; the table shows the figures that move).
fn pin_fixture(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures");
    pin_file(&dir.join(format!("{name}.toml")), false);
}

fn pin_file(file: &Path, whole_summary: bool) {
    let rel = file.strip_prefix(workspace()).unwrap().to_string_lossy().to_string();
    let name = file.file_stem().unwrap().to_string_lossy().to_string();
    let name = if rel.starts_with("scenarios/") {
        rel.trim_start_matches("scenarios/").trim_end_matches(".toml").replace('/', "_")
    } else {
        name
    };
    let out = std::env::temp_dir().join(format!("flashsim-snap-{}-{name}", std::process::id()));
    let run = Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .args(["run", "--no-report", "--out"])
        .arg(&out)
        .arg(file)
        .output()
        .unwrap();
    assert!(run.status.success(), "{rel}: {}", String::from_utf8_lossy(&run.stderr));
    let read = |file: &str| std::fs::read(out.join(file)).ok();
    let text = |file: &str| String::from_utf8(read(file).expect(file)).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!(format!("{name}.table"), text("table.txt"));
        let mut digests = Vec::new();
        if whole_summary {
            insta::assert_snapshot!(format!("{name}.summary"), text("summary.json"));
        } else {
            digests.push(format!("summary.json: {}", digest(&read("summary.json").unwrap())));
        }
        let timelines: Vec<String> = ["timeline.csv", "server-timeline.csv"]
            .iter()
            .filter_map(|f| read(f).map(|bytes| format!("{f}: {}", digest(&bytes))))
            .collect();
        digests.extend(timelines);
        insta::assert_snapshot!(format!("{name}.timelines"), digests.join("\n"));
    });
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn fault_paths_of_three_tier_and_naive_db() {
    pin_fixture("faults-three-tier-naive");
}

#[test]
fn fault_paths_of_queue_stream() {
    for name in ["a", "b", "c", "d"] {
        pin_fixture(&format!("faults-queue-stream-{name}"));
    }
}

#[test]
fn edu_live_class() {
    pin("edu-live-class.toml");
}

#[test]
fn singles_day() {
    pin("singles-day.toml");
}

#[test]
fn retry_storm() {
    pin("retry-storm.toml");
}

#[test]
fn blocking_event_loop() {
    pin("blocking-event-loop.toml");
}

#[test]
fn coupon_oversell() {
    pin("coupon-oversell.toml");
}

#[test]
fn checkout_network() {
    pin("checkout-network.toml");
}

#[test]
fn bench_mm1_1m() {
    pin("bench/mm1-1m.toml");
}

#[test]
fn bench_burst_400ms() {
    pin("bench/burst-400ms.toml");
}

#[test]
fn validation_scenarios() {
    for rel in ["validation/md1.toml", "validation/mm1.toml", "validation/mmc.toml"] {
        pin(rel);
    }
    pin("validation/tandem.toml");
}

/// Every bundled run scenario has a snapshot test above (plans and sweeps have their own).
#[test]
fn every_bundled_scenario_is_pinned() {
    let source = include_str!("snapshots.rs");
    let mut missing = Vec::new();
    let mut stack = vec![workspace().join("scenarios")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(workspace().join("scenarios")).unwrap();
            let rel = rel.to_str().unwrap().to_string();
            let is_run =
                rel.ends_with(".toml") && !rel.starts_with("plan-") && !rel.starts_with("sweep-");
            if is_run && !source.contains(&format!("\"{rel}\"")) {
                missing.push(rel);
            }
        }
    }
    assert!(missing.is_empty(), "bundled scenarios without a snapshot test: {missing:?}");
}
