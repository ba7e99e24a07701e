//! Sweeps through the binary: determinism across job counts, shards merged back byte for byte,
//! a point's row equal to the single run with the same values, bad points reported by their
//! parameters, shard selection from job-array variables, and the sweep report redrawn from its
//! files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::workspace;

const FILE: &str = "scenarios/sweep-gateway.toml";

/// Small points so the tests stay quick: 5 instance counts × 2 crowd sizes × 2 replications.
const SMALL: [&str; 6] =
    ["--grid", "traffic.users=3000,6000", "--set", "sale.stock=100", "--replications", "2"];

fn flashsim(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flashsim"));
    cmd.current_dir(workspace()).args(args);
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashsim-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn sweep(out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["sweep", FILE];
    args.extend(SMALL);
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(extra);
    let output = flashsim(&args, env);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

#[test]
fn sweep_output_is_identical_across_job_counts() {
    let (a, b) = (temp("jobs1"), temp("jobs2"));
    let with_report = sweep(&a, &["--jobs", "1"], &[]);
    let without = sweep(&b, &["--jobs", "2", "--no-report"], &[]);
    // The last line names the report, when there is one.
    let last = |o: &Output| String::from_utf8_lossy(&o.stderr).lines().last().unwrap().to_string();
    assert_eq!(last(&with_report), format!("report: {}", a.join("report.html").display()));
    assert!(!last(&without).starts_with("report:"), "{}", last(&without));
    assert!(a.join("report.html").exists() && !b.join("report.html").exists());
    assert!(!b.join("figures").exists());
    assert_eq!(read(&a, "sweep.csv"), read(&b, "sweep.csv"));
    assert_eq!(read(&a, "sweep-summary.csv"), read(&b, "sweep-summary.csv"));
    let rows = read(&a, "sweep.csv");
    // 5 × 2 points × 2 replications × 1 variant, plus the header.
    assert_eq!(rows.lines().count(), 21);
    let summary = read(&a, "sweep-summary.csv");
    assert_eq!(summary.lines().count(), 11);
    assert!(summary.lines().next().unwrap().contains("metrics.user_latency.p99_s.ci95"));
    // Constant metrics (the stock, the same at every point) are in the side file, not the
    // summary; a metric that moves stays (#21 item 3).
    let header = summary.lines().next().unwrap();
    let constants = read(&a, "sweep-constants.csv");
    assert!(constants.starts_with("metric,mean,sd,ci95\n"), "{constants}");
    assert!(constants.lines().any(|l| l.starts_with("metrics.stock,100,0,0")), "{constants}");
    assert!(!header.split(',').any(|c| c == "metrics.stock.mean"), "{header}");
    assert!(header.split(',').any(|c| c == "metrics.attempts.mean"), "{header}");
    for line in constants.lines().skip(1) {
        let metric = line.split(',').next().unwrap();
        assert!(!header.contains(&format!("{metric}.mean,")), "{metric} is in both files");
    }
    assert_eq!(read(&a, "sweep-constants.csv"), read(&b, "sweep-constants.csv"));
    // The terminal summary: the metrics by point, with their intervals, axes by short labels.
    let stdout = String::from_utf8_lossy(&with_report.stdout);
    assert!(stdout.contains("gateway.instances (three-tier)"), "{stdout}");
    assert!(stdout.contains("buyers.gave_up_share"), "{stdout}");
    assert!(stdout.contains("time_to_final_answer.p90_s"), "{stdout}");
    assert!(stdout.contains(" ± "), "{stdout}");
    let rows = stdout.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count();
    assert_eq!(rows, 10, "{stdout}");
    // The report is redrawn from the sweep's files alone, byte for byte.
    // (stock_to_buyers_rate is 1 at every point here: a constant, not drawn.)
    let figure = a.join("figures/sweep-metrics-cost-total_usd.svg");
    let drawn = std::fs::read(&figure).unwrap();
    std::fs::remove_dir_all(a.join("figures")).unwrap();
    std::fs::remove_file(a.join("report.html")).unwrap();
    let again = flashsim(&["report", a.to_str().unwrap()], &[]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read(&figure).unwrap(), drawn);
    assert!(read(&a, "report.html").contains("sweep-metrics-cost-total_usd"));
    assert!(!a.join("figures/sweep-metrics-stock_to_buyers_rate.svg").exists());
    for dir in [a, b] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn shards_merge_into_exactly_the_unsharded_files() {
    let (whole, parts, merged) = (temp("whole"), temp("parts"), temp("merged"));
    sweep(&whole, &[], &[]);
    for i in 0..4 {
        sweep(&parts, &["--shard", &format!("{i}/4")], &[]);
    }
    // A missing shard is refused.
    let hidden = parts.join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    std::fs::rename(parts.join("sweep-shard-2-of-4.csv"), hidden.join("x.csv")).unwrap();
    let out = flashsim(&["merge", parts.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    // Every merge error names where it is (#20 defect 13): here the folder.
    let missing = format!("missing shards of 4: 2 (in {})", parts.display());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&missing));
    // A shard present twice (copied under another name) names both files.
    std::fs::copy(parts.join("sweep-shard-1-of-4.csv"), parts.join("sweep-shard-1-of-4-copy.csv"))
        .unwrap();
    let out = flashsim(&["merge", parts.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("appears twice"), "{stderr}");
    assert!(
        stderr.contains("sweep-shard-1-of-4.csv") && stderr.contains("sweep-shard-1-of-4-copy.csv"),
        "{stderr}"
    );
    std::fs::remove_file(parts.join("sweep-shard-1-of-4-copy.csv")).unwrap();
    std::fs::rename(hidden.join("x.csv"), parts.join("sweep-shard-2-of-4.csv")).unwrap();
    let out = flashsim(&["merge", parts.to_str().unwrap(), "--out", merged.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read(&merged, "sweep.csv"), read(&whole, "sweep.csv"));
    assert_eq!(read(&merged, "sweep-summary.csv"), read(&whole, "sweep-summary.csv"));
    assert_eq!(read(&merged, "sweep-constants.csv"), read(&whole, "sweep-constants.csv"));
    // A shard of another sweep (another seed) does not mix in.
    let other = temp("other");
    sweep(&other, &["--shard", "1/4", "--seed", "7"], &[]);
    std::fs::copy(other.join("sweep-shard-1-of-4.csv"), parts.join("sweep-shard-1-of-4.csv"))
        .unwrap();
    let out = flashsim(&["merge", parts.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Both files: the one that disagrees and the one it is compared with.
    assert!(stderr.contains("sweep-shard-1-of-4.csv disagrees with"), "{stderr}");
    assert!(stderr.contains("sweep-shard-0-of-4.csv on seed"), "{stderr}");
    for dir in [whole, parts, merged, other] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn job_array_variables_pick_the_shard() {
    let dir = temp("env");
    sweep(&dir, &[], &[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")]);
    assert!(dir.join("sweep-shard-1-of-3.csv").exists());
    sweep(&dir, &["--shards", "2"], &[("JOB_COMPLETION_INDEX", "0")]);
    assert!(dir.join("sweep-shard-0-of-2.csv").exists());
    // An explicit flag wins over the environment.
    sweep(
        &dir,
        &["--shard", "2/3"],
        &[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "3")],
    );
    assert!(dir.join("sweep-shard-2-of-3.csv").exists());
    // Half a pair is an error.
    let mut args = vec!["sweep", FILE];
    args.extend(SMALL);
    args.extend(["--out", dir.to_str().unwrap()]);
    let out = flashsim(&args, &[("SLURM_ARRAY_TASK_ID", "1")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SLURM_ARRAY_TASK_ID is set but"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_point_row_equals_the_single_run_with_its_values() {
    let dir = temp("point");
    sweep(&dir, &[], &[]);
    let rows = read(&dir, "sweep.csv");
    let header: Vec<&str> = rows.lines().next().unwrap().split(',').collect();
    // Point 1 = instances 4, users 6000 (file axis first, CLI axis last); replication 0.
    let row: Vec<&str> = rows.lines().find(|l| l.starts_with("1,0,")).unwrap().split(',').collect();
    assert_eq!((row[4], row[5]), ("4", "6000"));
    let out = flashsim(
        &[
            "run",
            FILE,
            "--format",
            "json",
            "--set",
            "sale.stock=100",
            "--set",
            "variant[three-tier].gateway.instances=4",
            "--set",
            "traffic.users=6000",
            "--out",
            dir.join("single").to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let single = sim::experiment::sweep::flatten_numbers(&summary["variants"][0]);
    assert!(single.len() > 50);
    for (key, value) in single {
        let column =
            header.iter().position(|h| *h == key).unwrap_or_else(|| panic!("no column {key}"));
        assert_eq!(row[column], sim::output::csv::number_cell(value), "column {key}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_point_is_named_and_the_others_are_written() {
    let dir = temp("bad");
    let out = flashsim(
        &[
            "sweep",
            FILE,
            "--grid",
            "traffic.users=3000",
            "--grid",
            "variant[three-tier].gateway.instances=0,2",
            "--set",
            "sale.stock=100",
            "--replications",
            "1",
            "--out",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("point 0 (traffic.users=3000, variant[three-tier].gateway.instances=0)"),
        "{stderr}"
    );
    assert!(stderr.contains("must be between 1 and 100000 (got 0)"), "{stderr}");
    let rows = read(&dir, "sweep.csv");
    assert_eq!(rows.lines().count(), 2, "the good point's row is written:\n{rows}");
    assert!(rows.lines().nth(1).unwrap().starts_with("1,0,"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ctrl_c_stops_cleanly_and_keeps_completed_rows() {
    let dir = temp("interrupt");
    let child = Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .current_dir(workspace())
        .args([
            "sweep",
            FILE,
            "--replications",
            "30",
            "--jobs",
            "2",
            "--out",
            dir.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first chunk of rows is on disk (the file is written as it goes).
    let partial = || crate::hostile::rows_written(&dir, ".sweep.csv.") > 0;
    let started = std::time::Instant::now();
    while !partial() && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: completed rows kept"), "{stderr}");
    let rows = read(&dir, "sweep.csv");
    let done = rows.lines().count() - 1;
    assert!(done > 0 && done < 9 * 30, "{done} rows kept");
    assert!(dir.join("sweep-summary.csv").exists());
    assert!(
        !std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// More shards than points (some shards own none), a metric that is null at point 0 (no
/// sell-out with a tiny crowd) but not later, and an interrupted shard, which merge refuses.
#[test]
fn merge_handles_empty_shards_and_null_metrics_and_refuses_incomplete_ones() {
    let (whole, parts) = (temp("nulls-whole"), temp("nulls-parts"));
    let args = |out: &Path, shard: Option<String>| {
        let mut v: Vec<String> = [
            "sweep",
            FILE,
            "--grid",
            "traffic.users=150,3000",
            "--set",
            "sale.stock=200",
            "--replications",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(s) = shard {
            v.extend(["--shard".to_string(), s]);
        }
        v
    };
    let run = |v: Vec<String>| {
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        let out = flashsim(&refs, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(args(&whole, None));
    let rows = read(&whole, "sweep.csv");
    let header: Vec<&str> = rows.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "metrics.time_to_sell_out_s").expect("column kept");
    let first: Vec<&str> = rows.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first[col], "", "150 users cannot buy 200 seats: no sell-out, an empty cell");
    // 6 points over 8 shards: shards 6 and 7 own nothing.
    for i in 0..8 {
        run(args(&parts, Some(format!("{i}/8"))));
    }
    let out = flashsim(&["merge", parts.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read(&parts, "sweep.csv"), rows);
    assert_eq!(read(&parts, "sweep-summary.csv"), read(&whole, "sweep-summary.csv"));
    // Cut the trailer off one shard: it now looks interrupted, and merge refuses it.
    let path = parts.join("sweep-shard-3-of-8.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let cut: Vec<&str> = text.lines().filter(|l| !l.starts_with("# complete")).collect();
    std::fs::write(&path, cut.join("\n") + "\n").unwrap();
    let out = flashsim(&["merge", parts.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is incomplete"));
    for dir in [whole, parts] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
