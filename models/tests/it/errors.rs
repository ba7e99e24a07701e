//! Bad input gets a located, specific error and exit status 2 — never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::workspace;

const MM1: &str = "scenarios/validation/mm1.toml";

fn mm1_text() -> String {
    std::fs::read_to_string(workspace().join(MM1)).unwrap()
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashsim-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn flashsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashsim")).args(args).output().unwrap()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

/// Runs `flashsim run` on a broken copy of mm1.toml and checks exit 2, the file:line, key path
/// and message fragment in the error.
fn assert_rejected(name: &str, text: &str, line_needle: &str, key_path: &str, message: &str) {
    let path = write_temp(name, text);
    let out = flashsim(&["run", path.to_str().unwrap(), "--out", "/nonexistent/never-written"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    let line = line_of(text, line_needle);
    let place = format!("{}:{line}:", path.display());
    assert!(stderr.contains(&place), "{name}: expected `{place}` in: {stderr}");
    assert!(
        stderr.contains(&format!("`{key_path}`")),
        "{name}: expected `{key_path}` in: {stderr}"
    );
    assert!(stderr.contains(message), "{name}: expected `{message}` in: {stderr}");
    assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
}

#[test]
fn unknown_key_is_named_with_its_line_and_the_allowed_keys() {
    let text = mm1_text().replace("servers = 1", "servers = 1\nservrs = 2");
    assert_rejected(
        "unknown.toml",
        &text,
        "servrs",
        "variant[0].station[0].servrs",
        "unknown field `servrs`, expected one of `name`, `servers`",
    );
}

#[test]
fn negative_servers_are_rejected_with_the_rule() {
    let text = mm1_text().replace("servers = 1", "servers = -1");
    assert_rejected(
        "neg.toml",
        &text,
        "servers = -1",
        "variant[0].station[0].servers",
        "must be between 1 and",
    );
}

#[test]
fn an_unparseable_duration_says_what_is_allowed() {
    let text = mm1_text().replace("mean = \"1s\"", "mean = \"12 parsecs\"");
    assert_rejected(
        "parsecs.toml",
        &text,
        "12 parsecs",
        "variant[0].station[0].service.mean",
        "cannot read \"12 parsecs\" as a duration: expected a number followed by a unit",
    );
}

#[test]
fn an_unknown_kind_lists_the_kinds() {
    let text = mm1_text().replace("kind = \"exponential\"", "kind = \"expo\"");
    assert_rejected(
        "kind.toml",
        &text,
        "kind = \"expo\"",
        "variant[0].station[0].service.kind",
        "expected one of `constant`",
    );
}

#[test]
fn a_dangling_station_name_lists_the_stations() {
    let text = mm1_text().replace("to = \"server\"", "to = \"srv\"");
    assert_rejected(
        "to.toml",
        &text,
        "to = \"srv\"",
        "variant[0].arrival[0].to",
        "stations: server",
    );
}

#[test]
fn routing_probabilities_must_be_probabilities() {
    let text = std::fs::read_to_string(workspace().join("scenarios/validation/tandem.toml"))
        .unwrap()
        .replace("p = 1.0", "p = 1.5");
    assert_rejected(
        "p.toml",
        &text,
        "p = 1.5",
        "variant[0].station[0].route[0].p",
        "must be in [0, 1] (got 1.5)",
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let path = write_temp("syntax.toml", "name = \"x\"\n[run\nseed = 1\n");
    let out = flashsim(&["validate", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains(&format!("{}:2:", path.display())), "{stderr}");
}

#[test]
fn a_bad_override_names_the_override() {
    let mm1 = workspace().join(MM1);
    let out =
        flashsim(&["run", mm1.to_str().unwrap(), "--set", "variant[0].station[server].servers=0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("--set variant[0].station[server].servers=0"), "{stderr}");
    assert!(stderr.contains("`variant[0].station[0].servers` must be between 1"), "{stderr}");
    let out =
        flashsim(&["run", mm1.to_str().unwrap(), "--set", "variant[0].station[db].servers=2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no element named `db`"));
}

#[test]
fn validate_reports_every_error_of_every_file() {
    let text = mm1_text()
        .replace("servers = 1", "servers = 0\nservrs = 2")
        .replace("rate = \"0.8/s\"", "rate = \"fast\"")
        .replace("warmup = \"10000s\"", "warmup = \"1000000s\"");
    let a = write_temp("many-a.toml", &text);
    let b = write_temp("many-b.toml", &mm1_text().replace("[run]", "[run]\nspeed = 3"));
    let good = workspace().join(MM1);
    let out =
        flashsim(&["validate", a.to_str().unwrap(), good.to_str().unwrap(), b.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for expected in [
        "`variant[0].station[0].servers`",
        "`variant[0].arrival[0].process.rate`",
        "`run.warmup`",
        "`run.speed`",
        "`variant[0].station[0].servrs`",
        "2 of 3 files",
    ] {
        assert!(stderr.contains(expected), "expected {expected} in:\n{stderr}");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: "));
}

#[test]
fn the_event_budget_and_instability_stop_a_run_with_a_clear_message() {
    let mm1 = workspace().join(MM1);
    let out = flashsim(&[
        "run",
        mm1.to_str().unwrap(),
        "--set",
        "run.max_events=1000",
        "--out",
        "/nonexistent/x",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run.max_events = 1000"), "{stderr}");
    assert!(stderr.contains("reproduce with: flashsim run"), "{stderr}");

    let sets = ["variant[0].arrival[0].process.rate=2/s", "run.max_in_system=5000"];
    let out = flashsim(&[
        "run",
        mm1.to_str().unwrap(),
        "--set",
        sets[0],
        "--set",
        sets[1],
        "--out",
        "/nonexistent/x",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unstable") && stderr.contains("station `server`"), "{stderr}");
}

/// Every line deleted, and every value replaced by something hostile, in every bundled scenario:
/// loading returns a scenario or errors — never panics — and a loaded scenario runs (under a
/// small event budget) to a result or a clear failure.
#[test]
fn no_mutation_of_a_bundled_scenario_makes_it_panic() {
    const HOSTILE: &[&str] = &[
        "-1",
        "0",
        "1e400",
        "nan",
        "inf",
        "-inf",
        "99999999999999999999",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "\"12 parsecs\"",
        "\"-5s\"",
        "\"0s\"",
        "\"0/s\"",
        "\"1e9G/ns\"",
        "true",
        "1.5",
        "\"999999h\"",
        "\"1ns\"",
        "{ kind = \"constant\" }",
        "[{ to = \"nowhere\", p = 0.5 }]",
        "\"none\"",
        "\"leak\"",
        "\"get_then_decr\"",
        "{ kind = \"bursts\", bursts = [] }",
        "{ share = 1.0, extra_clicks = 1000.0, gap = { kind = \"constant\", value = \"0s\" } }",
    ];
    let budget: Vec<sim::config::Override> =
        ["run.max_events=200000"].iter().map(|s| s.parse().unwrap()).collect();
    // Flash-sale files run with a small crowd so that thousands of mutants stay quick.
    let small: Vec<sim::config::Override> =
        ["run.max_events=200000", "traffic.users=300", "sale.stock=30"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
    let mut files = vec![
        workspace().join("scenarios/checkout-network.toml"),
        workspace().join("scenarios/edu-live-class.toml"),
        workspace().join("scenarios/singles-day.toml"),
        workspace().join("scenarios/blocking-event-loop.toml"),
    ];
    let closed: Vec<sim::config::Override> =
        ["run.max_events=200000", "load.connections=20", "load.duration=1s"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
    for entry in std::fs::read_dir(workspace().join("scenarios/validation")).unwrap() {
        files.push(entry.unwrap().path());
    }
    files.sort();
    let mut loaded = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut variants = Vec::new();
        for i in 0..lines.len() {
            let mut without = lines.clone();
            without.remove(i);
            variants.push(without.join("\n"));
            if let Some(eq) = lines[i].find(" = ") {
                for value in HOSTILE {
                    let mut changed = lines.clone();
                    let replaced = format!("{} = {value}", &lines[i][..eq]);
                    changed[i] = &replaced;
                    variants.push(changed.join("\n"));
                }
            }
        }
        let overrides = if text.contains("[sale]") {
            &small
        } else if text.contains("[load]") {
            &closed
        } else {
            &budget
        };
        for text in variants {
            let path = Path::new("mutant.toml");
            if let Ok(scn) = models::scenario::from_text(path, &text, overrides) {
                loaded += 1;
                let _ = models::run::run_scenario(&scn, None);
            }
        }
    }
    assert!(loaded > 10, "some mutants are valid and run ({loaded})");
}

#[test]
fn a_warmup_longer_than_the_run_is_an_error() {
    let md1 = workspace().join("scenarios/validation/md1.toml");
    let out = flashsim(&[
        "run",
        md1.to_str().unwrap(),
        "--set",
        "variant[0].arrival[0].customers=5",
        "--set",
        "run.horizon=2000000s",
        "--set",
        "run.warmup=1000000s",
        "--out",
        "/nonexistent/x",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("warm-up (run.warmup = 1000000s) outlasted the run"), "{stderr}");
}

#[test]
fn a_type_error_and_an_unknown_key_are_reported_together() {
    let text =
        mm1_text().replace("servers = 1", "servers = \"two\"").replace("[run]", "[run]\nspeed = 1");
    let path = write_temp("mixed.toml", &text);
    let out = flashsim(&["validate", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("`run.speed` unknown field"), "{stderr}");
    assert!(stderr.contains("`variant[0].station[0].servers` invalid type"), "{stderr}");
    assert!(!stderr.contains("missing field"), "a consequence of setting a key aside: {stderr}");
}

/// Bad traffic parameters name the key and the value, with exit 2.
#[test]
fn bad_traffic_parameters_are_named() {
    let edu = std::fs::read_to_string(workspace().join("scenarios/edu-live-class.toml")).unwrap();
    let shares = edu.replace("share = 0.10 }", "share = 0.2 }");
    assert_rejected(
        "shares.toml",
        &shares,
        "profile = {",
        "traffic.profile.windows",
        "shares must add up to 1 (got 1.09",
    );
    let unheld = edu.replace("pre_open = \"hold\"\n", "");
    let place = "hold_release_rate = \"";
    assert_rejected("unheld.toml", &unheld, place, "sale.hold_release_rate", "only with pre_open");
    let no_rate = edu.replace("hold_release_rate = \"32k/s\"\n", "");
    assert_rejected("no-rate.toml", &no_rate, "[sale]", "sale.hold_release_rate", "required with");
    let users = edu.replace("users = 300_000", "users = -5");
    assert_rejected("users.toml", &users, "users = -5", "traffic.users", "(got -5)");
    let trace = "[sale]\nstock = 1\n[traffic]\nusers = 10\n\
        profile = { kind = \"trace\", file = \"missing.csv\", format = \"counts\" }\n\
        [[variant]]\nname = \"v\"\narchitecture = \"naive_db\"\n";
    assert_rejected("trace.toml", trace, "missing.csv", "traffic.profile.file", "cannot read");
}

#[test]
fn patience_is_refused_on_a_goroutine_station() {
    let file = crate::support::workspace().join("scenarios/validation/md1.toml");
    let text = std::fs::read_to_string(&file).unwrap()
        + "execution = \"goroutines\"\npatience = { kind = \"exponential\", mean = \"1s\" }\n";
    let err = models::scenario::from_text(&file, &text, &[]).unwrap_err().to_string();
    assert!(err.contains("variant[0].station[0].patience"), "{err}");
    assert!(err.contains("goroutines"), "{err}");
}

/// #20 defect 13: checking variant names against every earlier variant made validation
/// quadratic (50,000 variants took 104 s; commit f20472b). 70,000 minimal variants (15.8 MB,
/// under the 16 MiB cap) take about 2 s of CPU now; the quadratic check would need about
/// 200 s. Bounded by CPU seconds (`ulimit -t 30`, killed by SIGXCPU beyond), not by a clock:
/// another process on the machine does not move it, and the margin is large on both sides.
#[test]
#[ignore = "validates a 16 MB scenario (~1 GB, a few seconds); CI runs it with --ignored"]
fn many_variants_validate_in_linear_time() {
    let mut text = String::from("[run]\nhorizon = \"10s\"\n");
    for i in 0..70_000 {
        text.push_str(&format!(
            "[[variant]]\nname = \"v{i}\"\narchitecture = \"network\"\n\
             arrival = [{{ name = \"a\", to = \"s\", process = {{ kind = \"poisson\", rate = \"1/s\" }} }}]\n\
             station = [{{ name = \"s\", servers = 1, service = {{ kind = \"exponential\", mean = \"1ms\" }} }}]\n"
        ));
    }
    let file = write_temp("many-variants.toml", &text);
    let flashsim = env!("CARGO_BIN_EXE_flashsim");
    let script = format!("ulimit -t 30; exec {flashsim} validate {}", file.display());
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
}
