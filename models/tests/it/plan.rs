//! The planner: an answer known from queueing theory, an infeasible SLO answered with the
//! closest failing SLO, identical plans across job counts, a non-monotone plan caught by the
//! planner's own check, and headroom at its limit reported as a lower bound.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{erlang_c, workspace};

fn flashsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .current_dir(workspace())
        .args(args)
        .output()
        .unwrap()
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flashsim-plan-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// M/M/c with λ = 3/s, μ = 1/s: the fewest servers whose mean wait meets the bound, from Erlang C.
fn erlang_c_answer(bound: f64) -> u32 {
    (4..100).find(|&c| erlang_c(c, 3.0) / (c as f64 - 3.0) <= bound).unwrap()
}

fn plan(out: &Path, slo: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "plan",
        "scenarios/validation/mmc.toml",
        "--slo",
        slo,
        "--vary",
        "variant[mmc].station[servers].servers=4..16",
        "--set",
        "run.horizon=20000s",
        "--set",
        "run.warmup=1000s",
        "--replications",
        "4",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let output = flashsim(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report = format!("report: {}", out.join("report.html").display());
    assert_eq!(stderr.lines().last(), Some(report.as_str()), "the last line names the report");
    // Written like a run's: staged, moved in, the manifest last, listing the plan as a result.
    let manifest = std::fs::read_to_string(out.join("manifest.json")).expect("a manifest");
    assert!(manifest.contains("\"plan.json\"") && manifest.contains("report.html"), "{manifest}");
    let leftovers: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no staging folder or temp file left: {leftovers:?}");
    serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap()
}

#[test]
fn the_planner_finds_the_erlang_c_answer() {
    for bound in [0.2, 0.03] {
        let dir = temp(&format!("erlang-{bound}"));
        let p = plan(&dir, &format!("stations.servers.mean_wait_s<={bound}"), &[]);
        let v = &p["variants"][0];
        let want = erlang_c_answer(bound);
        assert_eq!(v["feasible"], true);
        assert_eq!(v["capacities"]["variant[mmc].station[servers].servers"], want, "bound {bound}");
        let simulated = v["configurations_simulated"].as_u64().unwrap();
        assert!(simulated < 13, "bisection, not the whole grid: {simulated} of 13");
        // Waiting falls with every server added: one step above and the maximum both pass.
        let m = &v["monotonicity"];
        assert_eq!(m["checked"].as_array().unwrap().len(), 2, "{m}");
        assert_eq!(m["violations"].as_array().unwrap().len(), 0, "{m}");
        // The page shows each SLO with its bound and verdict, counts as integers, and the
        // frontier draws the SLO's line (#21 item 3).
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        let slo = format!("<code>stations.servers.mean_wait_s &lt;= {bound}</code>");
        assert!(html.contains("<h3>SLOs at the chosen configuration</h3>") && html.contains(&slo));
        assert!(html.contains("<td>pass</td>") && !html.contains(">fail<"));
        assert!(html.contains(&format!("<td>{simulated} of 13</td>")), "integer counts");
        let frontier = std::fs::read_to_string(dir.join("figures/plan-frontier-mmc.svg")).unwrap();
        assert!(frontier.contains(&format!("SLO &lt;= {bound}")));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn an_infeasible_slo_gets_the_closest_failing_answer() {
    let dir = temp("infeasible");
    // No number of servers makes a job's time in the system shorter than its 1 s service.
    // The closest failing SLO listed second: the frontier must still draw it, not the first.
    let p = plan(
        &dir,
        "stations.servers.p99_sojourn_s<=1.0",
        &["--slo", "stations.servers.mean_sojourn_s<=0.5"],
    );
    let v = &p["variants"][0];
    assert_eq!(v["feasible"], false);
    let closest = &v["closest_failing_slo"];
    // Mean sojourn ≈ 1 s misses 0.5 by ~100%; p99 ≈ 4.6 s misses 1 s by ~360%.
    assert_eq!(closest["slo"], "stations.servers.mean_sojourn_s <= 0.5");
    assert!(closest["shortfall"].as_f64().unwrap() > 0.0);
    assert_eq!(
        v["capacities"]["variant[mmc].station[servers].servers"], 16,
        "reported at the maximum"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<td class=\"alarm\">fail</td>"), "a failed SLO is marked");
    let frontier = std::fs::read_to_string(dir.join("figures/plan-frontier-mmc.svg")).unwrap();
    assert!(frontier.contains("mean_sojourn_s (mean)"), "the frontier draws the failing SLO");
    // Captions name the figure in the output folder, never the staging folder it was drawn in.
    assert!(html.contains("frontier — figures/plan-frontier-mmc.svg, .png</figcaption>"));
    assert!(!html.contains(".partial-output"), "no staging path on the page");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plans_are_identical_across_job_counts() {
    // Two variants, planned side by side, each on its own dimension, and the headroom of both
    // arrival rates (a plain number is per second): the search, its batches and the headroom
    // sections must not depend on how many workers run them.
    let (a, b, c) = (temp("jobs1"), temp("jobs2"), temp("jobs3"));
    let file = a.with_extension("toml");
    let base =
        std::fs::read_to_string(crate::support::workspace().join("scenarios/validation/mmc.toml"))
            .unwrap()
            .replace("rate = \"3/s\"", "rate = 3.0");
    let second = base[base.find("[[variant]]").unwrap()..]
        .replace("name = \"mmc\"", "name = \"faster\"")
        .replace("mean = \"1s\"", "mean = \"800ms\"");
    let headroom = "[plan.headroom]\nscale = [\"variant[mmc].arrival[customers].process.rate\", \
                    \"variant[faster].arrival[customers].process.rate\"]\nmax = 2.0\n";
    std::fs::write(&file, format!("{base}\n{second}\n{headroom}")).unwrap();
    let run = |out: &Path, jobs: &str| {
        let output = flashsim(&[
            "plan",
            file.to_str().unwrap(),
            "--slo",
            "stations.servers.mean_wait_s<=0.05",
            "--vary",
            "variant[mmc].station[servers].servers=4..16",
            "--vary",
            "variant[faster].station[servers].servers=3..16",
            "--set",
            "run.horizon=20000s",
            "--set",
            "run.warmup=1000s",
            "--replications",
            "3",
            "--jobs",
            jobs,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        std::fs::read(out.join("plan.json")).unwrap()
    };
    let (one, two, three) = (run(&a, "1"), run(&b, "2"), run(&c, "3"));
    assert!(one == two && one == three, "plan.json differs between --jobs 1, 2 and 3");
    let p: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let servers = |i: usize, name: &str| {
        p["variants"][i]["capacities"][format!("variant[{name}].station[servers].servers")]
            .as_u64()
            .unwrap()
    };
    // Faster service needs no more servers than the original.
    assert!(servers(1, "faster") <= servers(0, "mmc"));
    for v in 0..2 {
        let headroom = p["variants"][v]["headroom"].as_f64().unwrap();
        assert!((1.0..=2.0).contains(&headroom), "headroom {headroom}");
        let checked = p["variants"][v]["monotonicity"]["checked"].as_array().unwrap().len();
        assert!(checked >= 1, "the answer is checked against larger configurations");
    }
    for dir in [a, b, c] {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::remove_file(file).unwrap();
}

/// A plan of the M/M/c station's servers and its arrival rate: a rate is no capacity (more of
/// it makes waiting worse), so the plan is deliberately not monotone.
fn non_monotone_plan(out: &Path, jobs: &str) -> (Vec<u8>, String) {
    let output = flashsim(&[
        "plan",
        "scenarios/validation/mmc.toml",
        "--slo",
        "stations.servers.mean_wait_s<=0.2",
        "--vary",
        "variant[mmc].station[servers].servers=4..16",
        "--vary",
        "variant[mmc].arrival[customers].process.rate=2..10",
        "--set",
        "run.horizon=20000s",
        "--set",
        "run.warmup=1000s",
        "--replications",
        "3",
        "--jobs",
        jobs,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    (std::fs::read(out.join("plan.json")).unwrap(), stdout)
}

#[test]
fn the_planner_reports_a_larger_configuration_that_fails() {
    let (a, b) = (temp("nonmono1"), temp("nonmono2"));
    let (json, stdout) = non_monotone_plan(&a, "1");
    let p: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let v = &p["variants"][0];
    // The search, trusting monotonicity, lowers the rate to its minimum and the servers with it:
    // 4 servers at 2/s (ρ = 0.5) wait about 0.08 s. One step up in rate, 3/s, waits about 0.5 s.
    let rate = "variant[mmc].arrival[customers].process.rate";
    assert_eq!(v["capacities"][rate], 2);
    assert_eq!(v["capacities"]["variant[mmc].station[servers].servers"], 4);
    let m = &v["monotonicity"];
    assert_eq!(m["checked"].as_array().unwrap().len(), 3, "two steps and the corner: {m}");
    let violations = m["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{m}");
    let violation = &violations[0];
    assert_eq!(violation["at"][rate], 3);
    assert_eq!(violation["position"], "one step above");
    assert_eq!(violation["slo"], "stations.servers.mean_wait_s <= 0.2");
    assert!(violation["value"].as_f64().unwrap() > 0.2, "{violation}");
    assert!(violation["answer_value"].as_f64().unwrap() <= 0.2, "{violation}");
    assert!(
        stdout.contains(&format!(
            "not monotone: at {rate}=3 (one step above) stations.servers.mean_wait_s = "
        )),
        "{stdout}"
    );
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("not monotone: at variant[mmc].arrival"), "the report says so too");
    // The check runs its probes in a round like the search's: the same at any job count.
    let (other, _) = non_monotone_plan(&b, "2");
    assert!(json == other, "plan.json differs between --jobs 1 and 2");
    for dir in [a, b] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn headroom_that_reaches_its_limit_is_a_lower_bound() {
    // 4 servers wait well under 100 s even at 1.2 × 3/s (ρ = 0.9): the headroom search stops at
    // its maximum, which says "at least", not "exactly".
    let dir = temp("at-limit");
    let file = dir.with_extension("toml");
    let mmc = std::fs::read_to_string(workspace().join("scenarios/validation/mmc.toml")).unwrap();
    let headroom = "[plan.headroom]\nscale = [\"variant[mmc].arrival[customers].process.rate\"]\n\
                    max = 1.2\n";
    std::fs::write(&file, format!("{}\n{headroom}", mmc.replace("rate = \"3/s\"", "rate = 3.0")))
        .unwrap();
    let output = flashsim(&[
        "plan",
        file.to_str().unwrap(),
        "--slo",
        "stations.servers.mean_wait_s<=100",
        "--vary",
        "variant[mmc].station[servers].servers=4..8",
        "--set",
        "run.horizon=20000s",
        "--set",
        "run.warmup=1000s",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("plan.json")).unwrap()).unwrap();
    let v = &p["variants"][0];
    assert_eq!((v["headroom"].as_f64(), v["headroom_at_limit"].as_bool()), (Some(1.2), Some(true)));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("≥ 1.20× variant[mmc].arrival[customers].process.rate"), "{stdout}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<td>≥ 1.20×</td>"), "the report's plan table too");
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_file(file).unwrap();
}
