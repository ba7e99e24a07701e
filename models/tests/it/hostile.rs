//! Issue #20: hostile and careless input — planted links, tampered shards, odd names, special
//! files, unwritable folders, signals. Each test reproduces a defect through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::workspace;

/// A fresh scratch folder for one test.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashsim-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary under test: this build's, or `FLASHSIM_BIN` (to see a test fail on an older build).
pub fn bin() -> String {
    std::env::var("FLASHSIM_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_flashsim").to_string())
}

/// Runs the binary from the workspace with `args`.
#[allow(dead_code)]
pub fn flashsim(args: &[&str]) -> Output {
    Command::new(bin()).current_dir(workspace()).args(args).output().unwrap()
}

/// The largest file named like `.{prefix}…` that a sweep is writing into `dir`, directly (a
/// shard) or in its staging folder `.partial-output.*`: how many bytes of rows are on disk.
pub fn rows_written(dir: &Path, prefix: &str) -> u64 {
    let mut folders = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(".partial-output.") {
            folders.push(entry.path());
        }
    }
    let files = folders.iter().flat_map(|f| std::fs::read_dir(f).into_iter().flatten().flatten());
    files
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .max()
        .unwrap_or(0)
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Defect 2, the issue's reproducer for `run` and the same for `sweep`'s rows file: the old
/// temporary names were `.NAME.tmp-PID` / `.NAME.partial-PID`, so a link planted by someone
/// who guesses the next process id (here, the shell that `exec`s flashsim) overwrote its target.
#[cfg(unix)]
#[test]
fn a_link_planted_at_the_temporary_name_overwrites_nothing() {
    let dir = scratch("symlink");
    let shared = dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let victim = dir.join("victim.txt");
    for (planted, command) in [
        (".summary.json.tmp-$$", "run scenarios/validation/mm1.toml --no-report"),
        (".sweep.csv.partial-$$", "sweep scenarios/validation/mm1.toml --no-report"),
        // Since outputs are staged, these two are the files still written straight into the
        // folder (the manifest, last; a shard): links at their old temporary names.
        (".manifest.json.tmp-$$", "run scenarios/validation/mm1.toml --no-report"),
        (
            ".sweep-shard-0-of-1.csv.tmp-$$",
            "sweep scenarios/validation/mm1.toml --no-report --shard 0/1",
        ),
    ] {
        std::fs::write(&victim, "precious\n").unwrap();
        let script = format!(
            "ln -s ../victim.txt {shared}/{planted}; exec {bin} {command} --out {shared} \
             > /dev/null",
            shared = shared.display(),
            bin = bin(),
        );
        let out = Command::new("sh").current_dir(workspace()).args(["-c", &script]).output();
        let out = out.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(text(&victim), "precious\n", "`{command}` followed the planted link");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Two shards of a small M/M/1 sweep (3 points × 2 replications), written once per test.
fn pristine_shards(dir: &Path) {
    for i in 0..2 {
        let out = flashsim(&[
            "sweep",
            "scenarios/validation/mm1.toml",
            "--grid",
            "variant[0].station[0].servers=1,2,3",
            "--set",
            "run.horizon=20000s",
            "--set",
            "run.warmup=1000s",
            "--replications",
            "2",
            "--no-report",
            "--shard",
            &format!("{i}/2"),
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Recomputes a shard's trailer after an edit, as someone covering their tracks would: the
/// checksum and row count then agree, and only the plan's invariants can catch the edit.
fn forge_trailer(lines: &mut [String]) {
    use sim::experiment::sweep::shard::Checksum;
    let n = lines.len();
    let Some(at) = lines[n - 1].find(" checksum=") else { return };
    let mut sum = Checksum::default();
    lines[1..n - 1].iter().for_each(|l| sum.line(l));
    let head = lines[n - 1][..at].to_string();
    let rows = n - 3;
    let head: String = head
        .split(' ')
        .map(|w| if w.starts_with("rows=") { format!("rows={rows}") } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ");
    lines[n - 1] = format!("{head} checksum={:016x}", sum.0);
}

/// Replaces cell `col` of line `line` of `lines`.
fn set_cell(lines: &mut [String], line: usize, col: usize, value: &str) {
    let mut cells: Vec<String> = lines[line].split(',').map(str::to_string).collect();
    cells[col] = value.to_string();
    lines[line] = cells.join(",");
}

/// Defect 3: a deleted or duplicated row, an edited seed, axis cell or trailer, or a NaN cell
/// each merged with exit 0 and wrong statistics. Each is now refused (exit 2), naming the file,
/// both as a careless edit (the checksum catches it) and with the trailer forged to match
/// (the plan's invariants catch it).
#[test]
fn merge_refuses_tampered_shards_and_names_the_file() {
    let dir = scratch("tamper");
    let pristine = dir.join("pristine");
    pristine_shards(&pristine);
    let victim = "sweep-shard-0-of-2.csv";
    // Shard 0 holds points 0 and 2: line 0 the preamble, 1 the header, 2..=5 rows, 6 the trailer.
    type Edit = fn(&mut Vec<String>);
    let cases: [(&str, Edit, &str); 6] = [
        ("a deleted row", |l| drop(l.remove(3)), "rows for 1 of its 2 replications"),
        ("a duplicated row", |l| l.insert(3, l[2].clone()), "a second row"),
        ("an edited seed", |l| set_cell(l, 3, 2, "12345"), "seed 12345"),
        ("a NaN cell", |l| set_cell(l, 2, 6, "NaN"), "not a finite number"),
        (
            "an edited axis cell",
            |l| {
                set_cell(l, 2, 4, "5");
                set_cell(l, 3, 4, "5");
            },
            "parameter cells",
        ),
        (
            "an edited run count",
            |l| *l.last_mut().unwrap() = l[6].replace("runs=4", "runs=3"),
            "runs=",
        ),
    ];
    for (what, edit, forged_message) in cases {
        for forge in [false, true] {
            let case = dir.join(format!("case-{}-{forge}", what.replace(' ', "-")));
            std::fs::create_dir_all(&case).unwrap();
            for name in [victim, "sweep-shard-1-of-2.csv"] {
                std::fs::copy(pristine.join(name), case.join(name)).unwrap();
            }
            let mut lines: Vec<String> =
                text(&case.join(victim)).lines().map(String::from).collect();
            edit(&mut lines);
            if forge {
                forge_trailer(&mut lines);
            }
            std::fs::write(case.join(victim), lines.join("\n") + "\n").unwrap();
            let out = flashsim(&["merge", case.to_str().unwrap()]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what} (forged: {forge}) merged: {stderr}");
            let expected = if forge { forged_message } else { "checksum" };
            let named = if expected == "parameter cells" { case.to_str().unwrap() } else { victim };
            assert!(stderr.contains(named), "{what}: the error names no file: {stderr}");
            assert!(
                stderr.contains(expected)
                    || (what.contains("run count") && stderr.contains("runs=")),
                "{what} (forged: {forge}): {stderr}"
            );
            assert!(!case.join("sweep.csv").exists(), "{what}: nothing is written");
        }
    }
    let out = flashsim(&["merge", pristine.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A shard whose point failed lists it in its trailer; merge accepts it and writes what the
/// unsharded sweep writes (the failed point's rows absent).
#[test]
fn a_shard_with_a_failed_point_merges_like_the_unsharded_sweep() {
    let dir = scratch("failed-point");
    let args = |out: &Path, shard: Option<&str>| {
        let mut v = vec![
            "sweep".to_string(),
            "scenarios/validation/mm1.toml".into(),
            "--grid".into(),
            "variant[0].station[0].servers=0,1,2".into(),
            "--set".into(),
            "run.horizon=5000s".into(),
            "--set".into(),
            "run.warmup=100s".into(),
            "--no-report".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ];
        if let Some(s) = shard {
            v.extend(["--shard".to_string(), s.to_string()]);
        }
        v
    };
    let run = |v: Vec<String>| {
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        let out = flashsim(&refs);
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let (whole, parts) = (dir.join("whole"), dir.join("parts"));
    run(args(&whole, None));
    run(args(&parts, Some("0/2")));
    let ok = flashsim(&args(&parts, Some("1/2")).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok.status.success());
    assert!(text(&parts.join("sweep-shard-0-of-2.csv")).contains("failed=0:"));
    let out = flashsim(&["merge", parts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["sweep.csv", "sweep-summary.csv"] {
        assert_eq!(text(&parts.join(name)), text(&whole.join(name)), "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 6: a variant name with a comma, quotes or a formula lead was written raw into
/// `timeline.csv` (breaking its rows) and spreadsheet formulas reached every CSV verbatim. Cells
/// are now quoted and formula-leading text gets a `'`.
#[test]
fn csv_cells_are_quoted_and_formulas_neutralised() {
    let dir = scratch("csv");
    let name = r#"=HYPERLINK("http://x","a,b")"#;
    let out = flashsim(&[
        "run",
        "scenarios/edu-live-class.toml",
        "--set",
        "traffic.users=300",
        "--set",
        "sale.stock=20",
        "--set",
        &format!("variant[0].name='{name}'"),
        "--no-report",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let timeline = text(&dir.join("timeline.csv"));
    let rows = csv_rows(&timeline);
    assert_eq!(rows.len(), timeline.lines().count(), "a row spans lines");
    for (cells, line) in rows.iter().zip(timeline.lines()) {
        assert_eq!(cells.len(), rows[0].len(), "a broken row: {line}");
        assert!(!cells[0].starts_with('='), "a formula reaches the spreadsheet: {line}");
    }
    assert!(timeline.contains(&format!("\"'{}\"", name.replace('"', "\"\""))));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The rows of a CSV file's text, read with the `csv` crate.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = sim::output::csv::reader(text.as_bytes());
    let rows = reader.records().map(|r| r.unwrap().iter().map(String::from).collect());
    rows.collect()
}

/// Names with a comma, quotes or a formula lead (variants `a"b,c` and `=cmd`, a station
/// `s,"x"`) survive a sweep's shards and `merge`: the merged files equal the unsharded run's,
/// every file reads back as RFC 4180 CSV with the names intact (`=cmd` neutralised to `'=cmd`),
/// and summary columns of a quoted metric name are quoted whole (`"….mean"`).
#[test]
fn odd_names_round_trip_through_shards_and_merge() {
    let dir = scratch("odd-names");
    let network = |name: &str, station: &str| {
        format!(
            "[[variant]]\nname = '{name}'\narchitecture = \"network\"\n[[variant.arrival]]\n\
             name = \"in\"\nto = '{station}'\nprocess = {{ kind = \"poisson\", rate = \"0.8/s\" }}\n\
             [[variant.station]]\nname = '{station}'\nservers = 1\n\
             service = {{ kind = \"exponential\", mean = \"1s\" }}\n"
        )
    };
    let scenario = format!(
        "[run]\nseed = 1\nhorizon = \"2000s\"\nwarmup = \"100s\"\n{}{}[sweep]\nreplications = 2\n\
         [[sweep.axis]]\npath = \"variant[1].station[0].servers\"\nvalues = [1, 2, 3]\n",
        network(r#"a"b,c"#, r#"s,"x""#),
        network("=cmd", "server")
    );
    let file = dir.join("odd.toml");
    std::fs::write(&file, scenario).unwrap();
    let (whole, parts) = (dir.join("whole"), dir.join("parts"));
    let mut runs = vec![vec!["--out", whole.to_str().unwrap()]];
    runs.extend(["0/2", "1/2"].map(|s| vec!["--shard", s, "--out", parts.to_str().unwrap()]));
    for extra in runs {
        let mut args = vec!["sweep", file.to_str().unwrap(), "--no-report"];
        args.extend(extra);
        let out = flashsim(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = flashsim(&["merge", parts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["sweep.csv", "sweep-summary.csv", "sweep-constants.csv"] {
        assert_eq!(text(&parts.join(name)), text(&whole.join(name)), "{name}");
        let rows = csv_rows(&text(&whole.join(name)));
        assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{name}: a broken row");
    }
    let rows = csv_rows(&text(&whole.join("sweep.csv")));
    let variants: Vec<&str> = rows[1..].iter().map(|r| r[3].as_str()).collect();
    assert_eq!(variants[..2], [r#"a"b,c"#, "'=cmd"]);
    let summary = csv_rows(&text(&whole.join("sweep-summary.csv")));
    assert!(summary[0].contains(&r#"stations.s,"x".offered_load.mean"#.to_string()));
    assert!(text(&whole.join("sweep-summary.csv")).contains(r#","stations.s,""x"".served.mean","#));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 12: names with control characters, NUL or 5,000 characters passed `validate`, and
/// variants `x.y` and `x,y` wrote the same figure files. Each is now an error naming the key.
#[test]
fn names_are_printable_bounded_and_distinct_as_file_names() {
    let dir = scratch("names");
    let long = format!("variant[0].name=\"{}\"", "x".repeat(5000));
    let cases: [(&[&str], &str, &str); 5] = [
        (&["name=\"red\\u001b[31m\""], "name", "printable"),
        (&["variant[0].name=\"nul\\u0000\""], "variant[0].name", "printable"),
        (&[&long], "variant[0].name", "at most 64 characters"),
        (&["variant[1].name=\"two\\nlines\""], "variant[1].name", "printable"),
        (&["variant[0].name=\"x.y\"", "variant[1].name=\"x,y\""], "variant[1].name", "file names"),
    ];
    for (sets, key, rule) in cases {
        let mut args = vec!["run", "scenarios/edu-live-class.toml", "--no-report"];
        args.extend(["--out", dir.to_str().unwrap()]);
        for set in sets {
            args.extend(["--set", set]);
        }
        let out = flashsim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key} ({rule}): {stderr}");
        assert!(stderr.contains(key) && stderr.contains(rule), "{stderr}");
        assert!(!stderr.contains('\u{1b}') && !stderr.contains('\0'), "raw control characters");
        assert!(stderr.len() < 2000, "the 5,000-character name is not repeated: {stderr}");
    }
    // Names inside a variant (stations, arrivals) reach the same tables and CSV cells; an
    // invisible right-to-left override turns a name round on screen.
    let cases = [
        (
            "scenarios/checkout-network.toml",
            "variant[0].station[0].name=\"db\\u001b[2J\"",
            "station[0].name",
            "printable",
        ),
        (
            "scenarios/checkout-network.toml",
            "variant[0].arrival[0].name=\"a\\u0007\"",
            "arrival[0].name",
            "printable",
        ),
        (
            "scenarios/edu-live-class.toml",
            "variant[0].name=\"exe.\\u202etxt\"",
            "variant[0].name",
            "visible",
        ),
    ];
    for (file, set, key, rule) in cases {
        let out =
            flashsim(&["run", file, "--no-report", "--out", dir.to_str().unwrap(), "--set", set]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key} ({rule}): {stderr}");
        assert!(stderr.contains(key) && stderr.contains(rule), "{stderr}");
        assert!(!stderr.contains(['\u{1b}', '\u{7}', '\u{202e}']), "raw characters: {stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Waits for `child` at most `secs` seconds (a hang fails the test instead of the suite).
pub fn wait_at_most(mut child: std::process::Child, secs: u64) -> Output {
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed().as_secs() >= secs {
            let _ = child.kill();
            panic!("still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Defect 8: `--jobs 1000000000` tried to start a billion threads and never finished. It is
/// refused (exit 2) above 1024, and a large allowed count is clamped to the runs.
#[test]
fn jobs_are_bounded() {
    let dir = scratch("jobs");
    let sweep = |jobs: &str| {
        let child = Command::new(bin())
            .current_dir(workspace())
            .args(["sweep", "scenarios/validation/mm1.toml", "--set", "run.horizon=2000s"])
            .args(["--set", "run.warmup=100s", "--no-report", "--jobs", jobs])
            .args(["--out", dir.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_at_most(child, 20)
    };
    let out = sweep("1000000000");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1024"));
    let out = sweep("1000");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 9: an unwritable `--out` was found only after the simulation (here one that would
/// fail its event budget, so the old order shows as the budget error), and `sweep` and `plan`
/// exited 2 for it where the README says 1.
#[test]
fn an_unwritable_out_is_found_first_and_exits_1() {
    let dir = scratch("unwritable");
    std::fs::write(dir.join("file"), "not a folder").unwrap();
    let out_arg = dir.join("file/results");
    let out_arg = out_arg.to_str().unwrap();
    let budget = ["--set", "run.max_events=1000"];
    let commands: [Vec<&str>; 3] = [
        [&["run", "scenarios/validation/mm1.toml"][..], &budget].concat(),
        [&["sweep", "scenarios/validation/mm1.toml"][..], &budget].concat(),
        vec!["plan", "scenarios/plan-edu-live-class.toml", "--set", "run.max_events=1000"],
    ];
    for mut args in commands {
        args.extend(["--out", out_arg]);
        let out = flashsim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", args[0]);
        assert!(stderr.contains("cannot write results to"), "{}: {stderr}", args[0]);
        assert!(!stderr.contains("budget"), "{}: the simulation ran first: {stderr}", args[0]);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 11: a report that could not be drawn (here `figures` is a file; on a full disk, the
/// same) left a partial report and exited 0.
#[test]
fn a_failed_report_exits_non_zero() {
    let dir = scratch("report");
    std::fs::write(dir.join("figures"), "in the way").unwrap();
    let args = ["--set", "traffic.users=300", "--set", "sale.stock=20", "--out"];
    let mut run = vec!["run", "scenarios/edu-live-class.toml"];
    run.extend(args);
    run.push(dir.to_str().unwrap());
    let out = flashsim(&run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the report could not be drawn"), "{stderr}");
    let out = flashsim(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 10: SIGTERM (what Slurm and Kubernetes send) killed a sweep outright, losing every
/// completed row; it now stops the sweep like Ctrl-C (exit 130, completed rows kept).
#[cfg(unix)]
#[test]
fn sigterm_stops_a_sweep_like_ctrl_c() {
    let dir = scratch("sigterm");
    let child = Command::new(bin())
        .current_dir(workspace())
        .args(["sweep", "scenarios/validation/mm1.toml", "--replications", "400", "--jobs", "1"])
        .args(["--set", "run.horizon=20000s", "--set", "run.warmup=100s", "--no-report"])
        .args(["--out", dir.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let has_rows = || rows_written(&dir, ".sweep.csv.") > 2000;
    let started = std::time::Instant::now();
    while !has_rows() && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let out = wait_at_most(child, 30);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let rows = text(&dir.join("sweep.csv")).lines().count() - 1;
    assert!(rows > 0 && rows < 400, "{rows} rows kept");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 5: a FIFO as scenario, trace, shard or `summary.json` hung the read (and
/// `/dev/zero` grew it to gigabytes); an oversized scenario was read whole. Non-regular files
/// and files over the documented size are refused, naming the file.
#[cfg(unix)]
#[test]
fn special_and_oversized_files_are_refused() {
    let dir = scratch("special");
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo_arg = fifo.to_str().unwrap();
    // A scenario whose trace is the FIFO.
    let trace_scenario = dir.join("trace.toml");
    let edu = text(&workspace().join("scenarios/edu-live-class.toml"));
    let start = edu.find("profile = { kind = \"windows\"").unwrap();
    let end = start + edu[start..].find("] }").unwrap() + 3;
    let traced = format!(
        "{}profile = {{ kind = \"trace\", file = \"fifo\", format = \"timestamps\" }}{}",
        &edu[..start],
        &edu[end..]
    );
    std::fs::write(&trace_scenario, traced).unwrap();
    let shards = dir.join("shards");
    std::fs::create_dir_all(&shards).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(shards.join("sweep-shard-0-of-1.csv"))
            .status()
            .unwrap()
            .success()
    );
    let report = dir.join("report");
    std::fs::create_dir_all(&report).unwrap();
    assert!(Command::new("mkfifo").arg(report.join("summary.json")).status().unwrap().success());
    // A plan folder whose frontier figure, inlined by the page, is a FIFO.
    let plan = dir.join("plan");
    std::fs::create_dir_all(plan.join("figures")).unwrap();
    std::fs::write(plan.join("plan.json"), r#"{"variants":[{"variant":"v"}]}"#).unwrap();
    let frontier = plan.join("figures/plan-frontier-v.svg");
    assert!(Command::new("mkfifo").arg(frontier).status().unwrap().success());
    let big = dir.join("big.toml");
    std::fs::File::create(&big).unwrap().set_len(17 << 20).unwrap();
    // Bad input is exit 2; `report` exits 1, as for any report it cannot draw.
    let cases: [(Vec<&str>, &str, i32); 6] = [
        (vec!["validate", fifo_arg], "not a regular file", 2),
        (vec!["validate", trace_scenario.to_str().unwrap()], "not a regular file", 2),
        (vec!["merge", shards.to_str().unwrap()], "not a regular file", 2),
        (vec!["report", report.to_str().unwrap()], "not a regular file", 1),
        (vec!["report", plan.to_str().unwrap()], "not a regular file", 1),
        (vec!["validate", big.to_str().unwrap()], "over the limit", 2),
    ];
    for (args, expected, code) in cases {
        let child = Command::new(bin())
            .current_dir(workspace())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_at_most(child, 20);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 4, in part: `run.max_in_system` had no upper bound, so an unstable network grew until
/// the allocator failed. It is now at most 50,000,000 (~3 GB).
#[test]
fn max_in_system_is_bounded() {
    let out = flashsim(&["validate", "scenarios/validation/mm1.toml"]);
    assert!(out.status.success());
    let dir = scratch("in-system");
    let out = flashsim(&[
        "run",
        "scenarios/validation/mm1.toml",
        "--set",
        "run.max_in_system=1000000000000",
        "--no-report",
        "--out",
        dir.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(dir).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("run.max_in_system") && stderr.contains("50000000"), "{stderr}");
}

/// Defect 1: a year-long sale (clocks off by up to a year spread 3,000 buyers over two years of
/// 100 ms intervals: 762k timeline rows) drew every row, so its report took 7 GB and wrote a
/// 621 MB page. The page is now a few hundred kB, and `report` alone redraws it under a 1.5 GB
/// address-space limit (`ulimit -v`: a generous bound, about three times the simulation's own
/// peak of ~0.5 GB here; not a timing).
#[test]
fn a_year_long_sale_draws_a_bounded_report() {
    let dir = scratch("year");
    let out = flashsim(&[
        "run",
        "scenarios/edu-live-class.toml",
        "--variant",
        "three-tier",
        "--set",
        "traffic.users=3000",
        "--set",
        "sale.stock=30",
        "--set",
        "traffic.clock_skew=\"8760h\"",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = text(&dir.join("timeline.csv")).lines().count();
    assert!(rows > 500_000, "the run spans a long sale: {rows} timeline rows");
    let page = std::fs::metadata(dir.join("report.html")).unwrap().len();
    assert!(page < 5 << 20, "report.html is {page} bytes");
    let script = format!("ulimit -v 1500000; exec {} report {}", bin(), dir.display());
    let redraw = Command::new("sh").current_dir(workspace()).args(["-c", &script]).output();
    let redraw = redraw.unwrap();
    assert!(redraw.status.success(), "{}", String::from_utf8_lossy(&redraw.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Defect 5: a trace was read whole and split into lines (a 1 GB trace needed 4.2 GB). It is
/// streamed now: memory grows with its distinct intervals, not its size. A 64 MB trace of 16 M
/// clicks in one interval validates under a 150 MB address-space limit (`ulimit -v`, a generous
/// bound: the streamed read peaks near 8 MB resident; reading it whole needs the 64 MB text plus
/// 256 MB of line slices).
#[test]
fn a_large_trace_is_streamed() {
    let dir = scratch("big-trace");
    let mut trace = String::with_capacity(64 << 20);
    trace.push_str("offset_s\n");
    trace.push_str(&"0.5\n".repeat(16_000_000));
    std::fs::write(dir.join("big.csv"), trace).unwrap();
    let edu = text(&workspace().join("scenarios/edu-live-class.toml"));
    let start = edu.find("profile = { kind = \"windows\"").unwrap();
    let end = start + edu[start..].find("] }").unwrap() + 3;
    let profile = "profile = { kind = \"trace\", file = \"big.csv\", format = \"timestamps\" }";
    let scenario = dir.join("trace.toml");
    std::fs::write(&scenario, format!("{}{profile}{}", &edu[..start], &edu[end..])).unwrap();
    let script = format!("ulimit -v 150000; exec {} validate {}", bin(), scenario.display());
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}
