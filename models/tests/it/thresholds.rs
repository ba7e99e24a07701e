//! `[report] thresholds` end to end: a run with them writes `thresholds.json` and judges them in
//! the verdict table (a failure in red), changing nothing else on the page; a run without them
//! writes what it wrote before; a bad threshold is refused at load time with its key.

use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIO: &str = r#"name = "thresholds"
[run]
seed = 5
[sale]
stock = 100
opens_at = "5s"
[traffic]
users = 4000
profile = { kind = "windows", windows = [{ from = "0s", until = "2s", share = 1.0 }] }
[[variant]]
name = "unguarded"
architecture = "naive_db"
[variant.db]
pool = 16
guard = "none"
[[variant]]
name = "guarded"
architecture = "naive_db"
[variant.db]
pool = 16
guard = "conditional"
"#;

const REPORT: &str = "[report]\nthresholds = [\n  \"metrics.oversold == 0\",\n  \
    \"metrics.buyers.time_to_final_answer.p50_s <= 60\",\n]\n";

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashsim-thresholds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn flashsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flashsim")).args(args).output().unwrap()
}

/// Runs `text` into a fresh folder; returns the folder.
fn run(name: &str, text: &str) -> PathBuf {
    let file = temp(&format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let out = temp(name);
    let _ = std::fs::remove_dir_all(&out);
    let status = flashsim(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    out
}

/// The page split around its verdict table: (before, table, after).
fn split_verdict(dir: &Path) -> (String, String, String) {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let start = html.find("<h2>Verdict</h2>").expect("a verdict table");
    let end = start + html[start..].find("</table>").unwrap() + "</table>".len();
    (html[..start].into(), html[start..end].into(), html[end..].into())
}

#[test]
fn thresholds_are_judged_in_the_verdict_table_and_change_nothing_else() {
    let plain = run("plain", SCENARIO);
    let judged = run("judged", &format!("{SCENARIO}{REPORT}"));
    assert!(!plain.join("thresholds.json").exists(), "no thresholds, no file");
    let written = std::fs::read_to_string(judged.join("thresholds.json")).unwrap();
    assert!(written.contains("\"metrics.oversold == 0\""), "{written}");
    // summary.json does not know about thresholds.
    let summary = |d: &Path| std::fs::read(d.join("summary.json")).unwrap();
    assert_eq!(summary(&plain), summary(&judged));

    let (before_a, table_a, after_a) = split_verdict(&plain);
    let (before_b, table_b, after_b) = split_verdict(&judged);
    assert_eq!((before_a, after_a), (before_b, after_b), "only the verdict table differs");
    assert!(!table_a.contains("<code>"), "{table_a}");
    assert!(table_b.contains("<th><code>metrics.oversold == 0</code></th>"), "{table_b}");
    let rows: Vec<&str> = table_b.split("<tr>").skip(2).collect();
    assert!(rows[0].starts_with("<th>unguarded</th>") && rows[1].starts_with("<th>guarded</th>"));
    let cells = |row: &str| row.split("<td").skip(1).map(str::to_string).collect::<Vec<_>>();
    let (unguarded, guarded) = (cells(rows[0]), cells(rows[1]));
    assert!(unguarded[7].starts_with(" class=\"alarm\">") && unguarded[7].ends_with(" fail</td>"));
    assert!(guarded[7].starts_with(">0 pass</td>"), "{}", guarded[7]);
    assert!(unguarded[8].starts_with(">0.") && unguarded[8].contains(" pass</td>"), "{}", rows[0]);
    assert!(guarded[8].contains(" pass</td>"), "{}", rows[1]);

    // `flashsim report DIR` judges them from the files alone: the same page.
    let page = std::fs::read(judged.join("report.html")).unwrap();
    let redraw = flashsim(&["report", judged.to_str().unwrap()]);
    assert!(redraw.status.success(), "{}", String::from_utf8_lossy(&redraw.stderr));
    assert_eq!(std::fs::read(judged.join("report.html")).unwrap(), page);
}

#[test]
fn a_bad_threshold_is_refused_with_its_file_line_key_and_what_is_allowed() {
    let text = format!(
        "{SCENARIO}[report]\nthresholds = [\n  \"metrics.oversold == 0\",\n  \
         \"metrics.buyers.gave_up_shar <= 0.25\",\n  \"oversold == 0\",\n  \
         \"metrics.oversold = 0\",\n]\n"
    );
    let file = temp("bad.toml");
    std::fs::write(&file, &text).unwrap();
    let out = flashsim(&["validate", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let file = file.display();
    for (needle, key, message) in [
        (
            "gave_up_shar ",
            "report.thresholds[1]",
            "`metrics.buyers` has no `gave_up_shar` (known: humans, purchased_share,",
        ),
        ("\"oversold == 0\"", "report.thresholds[2]", "must start with `metrics.`"),
        ("oversold = 0", "report.thresholds[3]", "(ops: <=, <, >=, >, ==)"),
    ] {
        let expected = format!("{file}:{}:", line(needle));
        let error = stderr.lines().find(|l| l.contains(&format!("`{key}`"))).expect(key);
        assert!(error.contains(&expected), "{expected} in {error}");
        assert!(error.contains(message), "{message} in {error}");
    }
    assert_eq!(stderr.matches("report.thresholds[0]").count(), 0, "{stderr}");
}
