//! Same scenario and seed ⇒ the same bytes; a different seed ⇒ different numbers; named random
//! streams ⇒ adding an unrelated station leaves existing results untouched.

use std::path::Path;
use std::process::Command;

use models::run::run_scenario;

use crate::support::workspace;

fn run_cli(out: &Path, extra: &[&str]) -> Vec<u8> {
    let status = Command::new(env!("CARGO_BIN_EXE_flashsim"))
        .current_dir(workspace())
        .args(["run", "scenarios/checkout-network.toml", "--format", "json", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let file = std::fs::read(out.join("summary.json")).unwrap();
    assert_eq!(file, status.stdout, "--format json prints exactly summary.json");
    file
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flashsim-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn same_seed_gives_byte_identical_summaries() {
    let (a, b, c) = (temp_dir("det-a"), temp_dir("det-b"), temp_dir("det-c"));
    let first = run_cli(&a, &[]);
    let second = run_cli(&b, &[]);
    assert_eq!(first, second);
    let other = run_cli(&c, &["--seed", "7"]);
    assert_ne!(first, other, "a different seed must change the numbers");
    for dir in [a, b, c] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn adding_an_unrelated_station_changes_nothing_else() {
    let base =
        std::fs::read_to_string(workspace().join("scenarios/validation/tandem.toml")).unwrap();
    let extended = base.clone()
        + "\n[[variant.arrival]]\nname = \"other\"\nto = \"side\"\n\
           process = { kind = \"poisson\", rate = \"5/s\" }\n\
           [[variant.station]]\nname = \"side\"\nservers = 2\n\
           service = { kind = \"exponential\", mean = \"300ms\" }\n";
    let sets: Vec<sim::config::Override> = vec!["run.horizon=20000s".parse().unwrap()];
    let load = |text: &str| models::scenario::from_text(Path::new("t.toml"), text, &sets).unwrap();
    let a = run_scenario(&load(&base), None).unwrap();
    let b = run_scenario(&load(&extended), None).unwrap();
    let (va, vb) = (&a.variants[0], &b.variants[0]);
    assert_eq!(vb.stations.len(), 3);
    for (sa, sb) in va.stations.iter().zip(&vb.stations) {
        assert_eq!(sa.name, sb.name);
        assert_eq!(sa.report, sb.report, "station `{}` changed when another was added", sa.name);
    }
    assert!(vb.events > va.events);
}

#[test]
fn variants_share_traffic_through_named_streams() {
    // Two variants with the same arrival stream name see the same arrivals (common random
    // numbers), even when their stations differ: same arrival count, different waits.
    let text = std::fs::read_to_string(workspace().join("scenarios/validation/mm1.toml")).unwrap();
    let copy = text[text.find("[[variant]]").unwrap()..]
        .replace("name = \"mm1\"", "name = \"faster\"")
        .replace("mean = \"1s\"", "mean = \"900ms\"");
    let sets: Vec<sim::config::Override> =
        vec!["run.horizon=5000s".parse().unwrap(), "run.warmup=0s".parse().unwrap()];
    let scn = models::scenario::from_text(Path::new("twice.toml"), &(text + &copy), &sets).unwrap();
    let s = run_scenario(&scn, None).unwrap();
    let (a, b) = (&s.variants[0].stations[0].report, &s.variants[1].stations[0].report);
    assert_eq!(a.arrivals, b.arrivals, "both variants see the same arrivals");
    assert!(b.mean_wait_s < a.mean_wait_s, "the faster server waits less");
}

#[test]
fn sale_output_is_byte_identical_whatever_the_thread_count() {
    let run = |threads: &str, dir: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_flashsim"))
            .current_dir(workspace())
            .env("RAYON_NUM_THREADS", threads)
            .args(["run", "scenarios/edu-live-class.toml", "--format", "json"])
            .args(["--set", "traffic.users=20000", "--set", "sale.stock=200", "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        // The figures, PNGs included, by name.
        let mut figures: Vec<_> = std::fs::read_dir(dir.join("figures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_owned(), std::fs::read(&p).unwrap()))
            .collect();
        figures.sort();
        (read("summary.json"), read("timeline.csv"), figures)
    };
    let (a, b) = (temp_dir("threads-1"), temp_dir("threads-2"));
    let one = run("1", &a);
    let two = run("2", &b);
    assert!(one == two, "1 thread and 2 threads differ");
    assert!(one.1.starts_with(b"variant,t_s,attempts,purchased"));
    assert!(one.2.iter().any(|(name, _)| name.to_string_lossy().ends_with(".png")));
    for dir in [a, b] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
