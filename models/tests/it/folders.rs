//! Issue #20, defect 7: an output folder never mixes two runs. Results are staged, moved in and
//! recorded in `manifest.json` last; `report` refuses a folder that does not match it; files of
//! an earlier scenario are removed, the user's own files never.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::hostile::{flashsim, scratch};

fn run_into(scenario: &str, out: &Path, extra: &[&str]) {
    let mut args = vec!["run", scenario, "--out", out.to_str().unwrap()];
    args.extend(extra);
    let done = flashsim(&args);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_second_scenario_replaces_the_first_ones_files_and_keeps_the_users() {
    let dir = scratch("folder-replace");
    let out = dir.join("out");
    run_into("scenarios/retry-storm.toml", &out, &[]);
    assert!(out.join("timeline.csv").exists() && out.join("figures/stock.svg").exists());
    std::fs::write(out.join("notes.txt"), "mine\n").unwrap();
    // A dead writer's temporary file, an hour old.
    let stale = out.join(".summary.json.Ab12Cd.tmp");
    std::fs::write(&stale, "{half").unwrap();
    let file = std::fs::File::options().write(true).open(&stale).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
    run_into("scenarios/validation/mm1.toml", &out, &[]);
    // Before: the sale's timeline.csv and figures/ stayed next to the M/M/1 summary, and so
    // did the temporary file.
    assert_eq!(
        listing(&out),
        ["manifest.json", "notes.txt", "perf.json", "report.html", "summary.json", "table.txt"]
    );
    let report = flashsim(&["report", out.to_str().unwrap()]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn report_refuses_a_folder_mixing_two_runs() {
    let dir = scratch("folder-mixed");
    let (old, new) = (dir.join("old"), dir.join("new"));
    run_into("scenarios/retry-storm.toml", &old, &["--no-report"]);
    run_into("scenarios/retry-storm.toml", &new, &["--seed", "7", "--no-report"]);
    // What a kill half way through writing used to leave: a new summary next to old files.
    std::fs::copy(new.join("summary.json"), old.join("summary.json")).unwrap();
    let report = flashsim(&["report", old.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert_eq!(report.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("summary.json: missing or changed"), "{stderr}");
    assert!(!old.join("report.html").exists());
    // A run into the folder makes it whole again.
    run_into("scenarios/retry-storm.toml", &old, &["--no-report"]);
    let report = flashsim(&["report", old.to_str().unwrap()]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_users_manifest_is_never_overwritten() {
    let dir = scratch("folder-manifest");
    std::fs::write(dir.join("manifest.json"), "{\"mine\": 1}\n").unwrap();
    let done = flashsim(&["run", "scenarios/validation/mm1.toml", "--out", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not an output manifest"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("manifest.json")).unwrap(), "{\"mine\": 1}\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_sweep_and_a_merge_write_through_the_manifest() {
    let dir = scratch("folder-sweep");
    let out = dir.to_str().unwrap();
    let sweep = flashsim(&["sweep", "scenarios/validation/mm1.toml", "--out", out, "--no-report"]);
    assert!(sweep.status.success(), "{}", String::from_utf8_lossy(&sweep.stderr));
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"sweep.csv\"") && manifest.contains("\"sweep-summary.csv\""));
    for i in 0..2 {
        let shard = format!("{i}/2");
        let args = ["sweep", "scenarios/validation/mm1.toml", "--out", out, "--shard", &shard];
        assert!(flashsim(&args).status.success());
    }
    let merged = flashsim(&["merge", out]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert!(listing(&dir).iter().all(|n| !n.starts_with('.')), "{:?}", listing(&dir));
    std::fs::remove_dir_all(dir).unwrap();
}
