//! The command line: the default run, `--version` and help, `--variant`, `NO_COLOR`, the
//! schema, and the table format.

use std::process::Command;

use crate::support::workspace;

#[test]
fn bare_invocation_runs_the_default_scenario() {
    // From a folder without scenarios/, the binary falls back to the workspace's default file
    // and writes output/<scenario>/ under the current folder.
    let dir = std::env::temp_dir().join(format!("flashsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flashsim")).current_dir(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("scenario edu-live-class") && stdout.contains("oversold"), "{stdout}");
    // The default is said first, with the command it stands for; the report is named last.
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with("no subcommand: running the bundled case study (flashsim run ")
            && first.ends_with(
                "scenarios/edu-live-class.toml --out output/edu-live-class); see flashsim --help"
            ),
        "{first}"
    );
    assert_eq!(stderr.lines().last(), Some("report: output/edu-live-class/report.html"));
    let out_dir = dir.join("output/edu-live-class");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scenario"], "edu-live-class");
    // The report opens with the scenario's name and description, then the verdict (#21 item 1).
    let description = summary["description"].as_str().expect("the description is kept");
    assert!(description.starts_with("Case study: live-class seats"), "{description}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    let headline = html.find("<p class=\"description\"><strong>Case study: live-class seats");
    let verdict = html.find("<h2>Verdict");
    assert!(headline.is_some() && headline < verdict, "description first, then the verdict");
    // Then the comparison as a table, the comparative figures, each variant's own figures in a
    // collapsible block, and the raw summary last.
    let at = |text: &str| html.find(text).unwrap_or_else(|| panic!("no {text} on the page"));
    let order = [
        at("<h2>Comparison</h2><table class=\"comparison\">"),
        at("<figure id=\"fig-success\">"),
        at("<h2>Per variant</h2>"),
        at("<details><summary>three-tier: attempts by outcome"),
        at("<figure id=\"fig-timeline-three-tier\">"),
        at("<h2>Summary</h2>"),
    ];
    assert!(verdict < Some(order[0]) && order.is_sorted(), "page order: {order:?}");
    for variant in summary["variants"].as_array().unwrap() {
        let m = &variant["metrics"];
        let outcomes: u64 =
            m["outcomes"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(outcomes, m["attempts"].as_u64().unwrap(), "outcomes add up to attempts");
    }
    let timeline = std::fs::read_to_string(out_dir.join("timeline.csv")).unwrap();
    assert!(timeline.lines().count() > 100);
    assert!(summary["engine"]["events"].as_u64().unwrap() > 0);
    let station = &summary["variants"][0]["stations"][0];
    for key in [
        "name",
        "servers",
        "arrivals",
        "served",
        "dropped",
        "reneged",
        "utilization",
        "mean_queue_len",
        "peak_queue_len",
        "mean_wait_s",
        "mean_sojourn_s",
        "p50_sojourn_s",
        "p90_sojourn_s",
        "p99_sojourn_s",
        "p999_sojourn_s",
    ] {
        assert!(!station[key].is_null(), "summary station lacks `{key}`");
    }
    let perf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("perf.json")).unwrap()).unwrap();
    assert!(perf["events_per_s"].as_f64().unwrap() > 0.0);
    assert!(summary.get("wall_s").is_none() && summary["engine"].get("wall_s").is_none());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs the binary from the workspace with `args`.
fn flashsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .current_dir(workspace())
        .args(args)
        .output()
        .unwrap()
}

/// A small edu-live-class sale, for tests that only need some run.
const SMALL_SALE: [&str; 5] =
    ["scenarios/edu-live-class.toml", "--set", "traffic.users=20000", "--set", "sale.stock=300"];

#[test]
fn version_and_help_name_flashsim_and_show_a_sale_example() {
    let out = flashsim(&["--version"]);
    assert!(out.status.success());
    let version = format!("flashsim {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), version);
    let help = String::from_utf8_lossy(&flashsim(&["--help"]).stdout).to_string();
    assert!(help.contains("Usage: flashsim"), "{help}");
    for sub in ["run", "sweep", "plan"] {
        let help = String::from_utf8_lossy(&flashsim(&[sub, "--help"]).stdout).to_string();
        // Help is wrapped to the terminal's width: compare words.
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("e.g. --set 'variant[three-tier].gateway.instances=40'"),
            "{sub}: {help}"
        );
    }
    // The example is a valid override of the case study.
    let dir = std::env::temp_dir().join(format!("flashsim-example-{}", std::process::id()));
    let mut args = vec!["run", "--no-report", "--format", "json", "--out", dir.to_str().unwrap()];
    args.extend(SMALL_SALE);
    args.extend(["--set", "variant[three-tier].gateway.instances=40", "--variant", "three-tier"]);
    let out = flashsim(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--variant` runs part of a file on the same traffic: the chosen variants' results equal
/// those of the full run; an unknown name is bad input that lists the variants there are.
#[test]
fn variant_runs_part_of_a_file_on_the_same_traffic() {
    let base = std::env::temp_dir().join(format!("flashsim-variant-{}", std::process::id()));
    let run = |dir: &str, extra: &[&str]| {
        let out_dir = base.join(dir);
        let mut args = vec!["run", "--out", out_dir.to_str().unwrap()];
        args.extend(SMALL_SALE);
        args.extend(extra);
        let out = flashsim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
        (summary, stderr, out_dir)
    };
    let (full, _, _) = run("full", &["--no-report"]);
    let (part, stderr, dir) =
        run("part", &["--variant", "queue-stream", "--variant", "three-tier"]);
    let names: Vec<&str> =
        part["variants"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["three-tier", "queue-stream"], "file order");
    for v in part["variants"].as_array().unwrap() {
        let whole = full["variants"].as_array().unwrap().iter().find(|w| w["name"] == v["name"]);
        let (m, w) = (&v["metrics"], &whole.unwrap()["metrics"]);
        for key in ["traffic_digest", "attempts", "outcomes", "confirmed", "oversold"] {
            assert!(!m[key].is_null(), "{key}");
            assert_eq!(m[key], w[key], "{}: {key}", v["name"]);
        }
        assert_eq!(v["events"], whole.unwrap()["events"]);
    }
    let report = format!("report: {}", dir.join("report.html").display());
    assert_eq!(stderr.lines().last(), Some(report.as_str()), "the last line names the report");
    let mut args = vec!["run", "--no-report", "--variant", "three-tier", "--variant", "nope"];
    args.extend(SMALL_SALE);
    let out = flashsim(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "no variant named `nope` (variants: three-tier, room-three-tier, three-tier-sync, \
             naive-for-update, naive-unguarded, queue-stream)"
        ),
        "{stderr}"
    );
    std::fs::remove_dir_all(base).unwrap();
}

/// On a terminal the table is coloured, unless `NO_COLOR` is set and non-empty. The terminal is
/// `script`'s pseudo-terminal; without `script` (not Linux) there is nothing to test.
#[test]
fn no_color_keeps_ansi_colour_off_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` command for a pseudo-terminal");
        return;
    }
    let dir = std::env::temp_dir().join(format!("flashsim-no-color-{}", std::process::id()));
    let command = format!(
        "{} run {} --no-report --out {}",
        env!("CARGO_BIN_EXE_flashsim"),
        SMALL_SALE.join(" "),
        dir.display()
    );
    let on_terminal = |no_color: Option<&str>| {
        let mut script = Command::new("script");
        script.current_dir(workspace()).args(["-qec", &command, "/dev/null"]);
        script.stdin(std::process::Stdio::null());
        match no_color {
            Some(value) => script.env("NO_COLOR", value),
            None => script.env_remove("NO_COLOR"),
        };
        let out = script.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success() && text.contains("oversold"), "{text}");
        text
    };
    assert!(on_terminal(None).contains("\x1b["), "coloured on a terminal");
    assert!(on_terminal(Some("")).contains("\x1b["), "an empty NO_COLOR is not set");
    assert!(!on_terminal(Some("1")).contains("\x1b["), "NO_COLOR=1 leaves no colour");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn committed_schema_is_current_and_strict() {
    let out = Command::new(env!("CARGO_BIN_EXE_flashsim")).arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read(workspace().join("scenarios/scenario.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&committed),
        "scenarios/scenario.schema.json is stale: regenerate with `flashsim schema`"
    );
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["additionalProperties"], false, "unknown top-level keys are rejected");
}

/// The acceptance check through the binary: `run mmc.toml --format json --set …` at a
/// parameter set of our choosing agrees with Erlang C (one long run, within 3%).
#[test]
fn cli_run_with_overrides_agrees_with_erlang_c() {
    let out = Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .current_dir(workspace())
        .args(["run", "scenarios/validation/mmc.toml", "--format", "json"])
        .args(["--set", "variant[0].arrival[0].process.rate=2.1/s"])
        .args(["--set", "variant[0].station[servers].servers=3"])
        .args(["--set", "run.horizon=400000s"])
        .arg("--out")
        .arg(std::env::temp_dir().join(format!("flashsim-cli-mmc-{}", std::process::id())))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wait = summary["variants"][0]["stations"][0]["mean_wait_s"].as_f64().unwrap();
    let theory = crate::support::erlang_c(3, 2.1) / (3.0 - 2.1);
    assert!((wait - theory).abs() / theory < 0.03, "simulated {wait}, Erlang C {theory}");
}

/// The report: figures from the run's files, consistent with the summary, and `flashsim
/// report DIR` redraws the same bytes.
#[test]
fn the_report_draws_what_the_run_measured() {
    let dir = std::env::temp_dir().join(format!("flashsim-report-{}", std::process::id()));
    let (summary, header_cells, rows_cells) = run_to(
        &dir,
        &[
            "scenarios/edu-live-class.toml",
            "--set",
            "traffic.users=20000",
            "--set",
            "sale.stock=300",
        ],
    );
    // The report's own reading of the files: the typed summary and timeline.
    let typed: models::summary::Summary = serde_json::from_value(summary.clone()).unwrap();
    let timeline =
        models::timelines::read_file::<models::timelines::SaleRow>(&dir.join("timeline.csv"))
            .unwrap()
            .unwrap();
    let figures = models::report::run_figures(&typed, Some(&timeline), None);
    // Every figure over time shows one window: from a few seconds before the opening to the
    // last final answer, the same for every variant (#21 item 2).
    let over_time: Vec<_> = figures
        .iter()
        .filter(|f| {
            ["timeline-", "queues-", "utilisation-", "stock", "answer-latency"]
                .iter()
                .any(|p| f.name.starts_with(p))
        })
        .collect();
    assert!(over_time.len() >= 3 * 5 + 3, "{} figures over time", over_time.len());
    let window = over_time[0].chart.axes.x.expect("a fixed window");
    let opens = summary["variants"][0]["metrics"]["opens_at_s"].as_f64().unwrap();
    assert_eq!(window.0, opens - models::report::LEAD_S);
    let last_answer = rows_cells
        .iter()
        .filter(|r| {
            !r[header_cells.iter().position(|h| h == "answer_latency_p50_s").unwrap()].is_empty()
        })
        .map(|r| r[1].parse::<f64>().unwrap() + 0.1)
        .fold(0.0, f64::max);
    assert!((window.1 - last_answer).abs() < 1e-9, "{window:?} vs {last_answer}");
    for f in &over_time {
        assert_eq!(f.chart.axes.x, Some(window), "{}", f.name);
    }
    for v in summary["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let fig = figures.iter().find(|f| f.name == format!("timeline-{name}")).unwrap();
        let sim::output::plot::Kind::Lines { series, .. } = &fig.chart.kind else {
            panic!("lines")
        };
        // On a log scale purchases show beside the refusals.
        assert!(fig.chart.axes.log_y);
        let purchased = series.iter().find(|s| s.name == "purchased").unwrap();
        assert!(purchased.points.iter().any(|p| p.1 > 0.0), "{name}");
        assert_eq!(fig.chart.markers[0].0, v["metrics"]["opens_at_s"].as_f64().unwrap());
        // Only the components the variant has are drawn: Kafka and Flink for queue+stream.
        let util = figures.iter().find(|f| f.name == format!("utilisation-{name}")).unwrap();
        let sim::output::plot::Kind::Lines { series, .. } = &util.chart.kind else { panic!() };
        let has = |label: &str| series.iter().any(|s| s.name.starts_with(label));
        let stream = v["architecture"] == "queue_stream";
        assert_eq!(has("Kafka busiest partition"), stream, "{name}");
        assert_eq!(has("Flink busiest subtask"), stream, "{name}");
        if v["architecture"] == "naive_db" {
            assert!(!has("Redis"), "{name}");
        }
    }
    // Per-interval utilisation integrates to the station's utilisation over the run, for every
    // station the timeline follows: each change of its busy servers must reach the timeline.
    for (column, station_name) in [
        ("gateway_cpu_utilization", "gateway_cores"),
        ("gateway_threads_utilization", "gateway_threads"),
        ("db_pool_utilization", "db_pool"),
        ("redis_utilization", "redis_hot_shard"),
        // All records go to one subtask (the single stock key): it is the busiest every time.
        ("flink_subtask_utilization", "flink_hot_subtask"),
    ] {
        let util_col = header_cells.iter().position(|h| h == column).unwrap();
        for v in summary["variants"].as_array().unwrap() {
            let name = v["name"].as_str().unwrap();
            let Some(station) =
                v["stations"].as_array().unwrap().iter().find(|s| s["name"] == station_name)
            else {
                continue;
            };
            let end_s = v["end_s"].as_f64().unwrap();
            let mean = time_weighted_mean(&rows_cells, name, util_col, end_s);
            let station = station["utilization"].as_f64().unwrap();
            assert!(
                (mean - station).abs() < 0.01 * station.max(0.01),
                "{name} {column}: {mean} vs {station}"
            );
        }
    }
    let cdf = figures.iter().find(|f| f.name == "latency-cdf").unwrap();
    let sim::output::plot::Kind::Lines { series, log_x: true, .. } = &cdf.chart.kind else {
        panic!("log lines")
    };
    for s in series {
        assert!(s.points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1), "a CDF rises");
    }
    // A share's axis ends at 1.
    assert_eq!(cdf.chart.axes.y, Some((0.0, 1.0)));
    // The answer latency per interval: p50 at most p99 wherever buyers were answered.
    let column = |name: &str| header_cells.iter().position(|h| h == name).unwrap();
    let (p50, p99) = (column("answer_latency_p50_s"), column("answer_latency_p99_s"));
    let answered: Vec<(f64, f64)> = rows_cells
        .iter()
        .filter(|r| !r[p50].is_empty())
        .map(|r| (r[p50].parse().unwrap(), r[p99].parse().unwrap()))
        .collect();
    assert!(answered.len() > 10);
    assert!(answered.iter().all(|(a, b)| a <= b && *a > 0.0));
    for name in ["answer-latency-p99", "answer-latency-p50"] {
        let f = figures.iter().find(|f| f.name == name).unwrap();
        let sim::output::plot::Kind::Lines { series, .. } = &f.chart.kind else { panic!() };
        assert_eq!(series.len(), summary["variants"].as_array().unwrap().len(), "a line each");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // Every figure is inlined in the page.
    let figure_count = std::fs::read_dir(dir.join("figures")).unwrap().count() / 2;
    assert!(figure_count >= 8);
    assert_eq!(html.matches("<figure id=").count(), figure_count);
    assert_eq!(html.matches("<svg").count(), figure_count);
    // Self-contained: no external stylesheet, script or image.
    assert!(!html.contains("<link") && !html.contains("src=\"http") && !html.contains("<script"));
    let before = std::fs::read(dir.join("figures/timeline-three-tier.svg")).unwrap();
    let again = Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .args(["report", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read(dir.join("figures/timeline-three-tier.svg")).unwrap(), before);
    assert!(std::fs::read(dir.join("figures/cost.png")).unwrap().starts_with(b"\x89PNG"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs `flashsim run ARGS --out DIR` from the workspace; returns the summary, and the timeline's
/// header and rows split into cells.
fn run_to(
    dir: &std::path::Path,
    args: &[&str],
) -> (serde_json::Value, Vec<String>, Vec<Vec<String>>) {
    let out = Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .current_dir(workspace())
        .arg("run")
        .args(args)
        .args(["--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let timeline = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    let mut lines = timeline.lines().map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>());
    let header = lines.next().unwrap();
    (summary, header, lines.collect())
}

/// The mean of a per-interval utilisation column over a run ending at `end_s`, each row weighted
/// by the part of its 100 ms the run covered (the last row covers less).
fn time_weighted_mean(rows: &[Vec<String>], variant: &str, column: usize, end_s: f64) -> f64 {
    rows.iter()
        .filter(|r| r[0] == variant)
        .map(|r| {
            let start: f64 = r[1].parse().unwrap();
            r[column].parse::<f64>().unwrap() * (end_s - start).min(0.1)
        })
        .sum::<f64>()
        / end_s
}

/// A run stopped at a round horizon: the timeline ends with the interval the horizon closes (no
/// empty row starting at it), that row's utilisation is over the part of it the run covered, and
/// the attempts still in flight at the end appear in the `in_flight_at_end` column.
#[test]
fn a_run_stopped_at_its_horizon_closes_its_last_interval() {
    let dir = std::env::temp_dir().join(format!("flashsim-horizon-{}", std::process::id()));
    let (summary, header, rows) =
        run_to(&dir, &["scenarios/retry-storm.toml", "--no-report", "--set", "run.horizon=20s"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for v in summary["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        assert_eq!(v["stop"], "horizon", "{name}");
        let end_s = v["end_s"].as_f64().unwrap();
        assert_eq!(end_s, 20.0);
        let mine: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == name).collect();
        // retry-storm's variants have no Redis: its columns are empty, not zero.
        for column in ["redis_stock", "redis_queue", "redis_utilization"] {
            assert!(mine.iter().all(|r| r[col(column)].is_empty()), "{name} {column}");
        }
        let last_start: f64 = mine.last().unwrap()[1].parse().unwrap();
        assert!(last_start < end_s && end_s - last_start <= 0.1 + 1e-9, "{name}: {last_start}");
        let metrics = &v["metrics"];
        let still_waiting = metrics["outcomes"]["in_flight_at_end"].as_u64().unwrap();
        assert!(still_waiting > 0, "{name}: the horizon cuts the run while attempts wait");
        let column_sum: u64 =
            mine.iter().map(|r| r[col("in_flight_at_end")].parse::<u64>().unwrap()).sum();
        assert_eq!(column_sum, still_waiting, "{name}");
        // Every attempt sent ends in exactly one outcome column.
        let first_outcome = col("attempts") + 1;
        let ended: u64 = mine
            .iter()
            .flat_map(|r| r[first_outcome..col("db_stock")].iter())
            .map(|c| c.parse::<u64>().unwrap())
            .sum();
        assert_eq!(ended, metrics["attempts"].as_u64().unwrap(), "{name}");
        for (column, station_name) in
            [("gateway_cpu_utilization", "gateway_cores"), ("db_pool_utilization", "db_pool")]
        {
            let station =
                v["stations"].as_array().unwrap().iter().find(|s| s["name"] == station_name);
            let station = station.unwrap()["utilization"].as_f64().unwrap();
            let mean = time_weighted_mean(&rows, name, col(column), end_s);
            assert!(
                (mean - station).abs() < 1e-3 * station.max(0.01),
                "{name} {column}: {mean} vs {station}"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
