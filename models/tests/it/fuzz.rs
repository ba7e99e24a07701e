//! Issue #20's fuzz target: mutated scenario text must never panic or hang validation; a
//! scenario that validates runs, and the binary exits 0, 1 (the run failed, e.g. its event
//! budget) or 2 (bad input) — never a crash. The quick suite checks validation in process
//! (256 cases, well under a second of work); the ignored suite (`--ignored`, run once in CI)
//! also runs 48 mutants through the binary under a time limit.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;

use crate::support::workspace;

/// Bundled scenarios the mutations start from: every architecture family.
const SEEDS: [&str; 5] = [
    "scenarios/validation/mm1.toml",
    "scenarios/validation/tandem.toml",
    "scenarios/checkout-network.toml",
    "scenarios/edu-live-class.toml",
    "scenarios/blocking-event-loop.toml",
];

/// Values a careless or hostile hand might write.
const VALUES: [&str; 24] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "9223372036854775807",
    "18446744073709551616",
    "0.5",
    "1.0000001",
    "\"\"",
    "\"250ms\"",
    "\"-5s\"",
    "\"1e9h\"",
    "\"12 parsecs\"",
    "\"0/s\"",
    "\"1e30/s\"",
    "true",
    "[]",
    "{}",
    "[[]]",
    "\"\\u0000\"",
    "\"=cmd|x\"",
    "{ kind = \"nope\" }",
];

/// Lines that may be inserted anywhere.
const LINES: [&str; 8] = [
    "[run]",
    "[[variant]]",
    "unknown_key = 1",
    "max_in_system = 1",
    "users = 0",
    "[traffic]\n[traffic]",
    "name = \"a\\nb\"",
    "\u{feff}# bom",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the value after `=` on line `n` (mod the line count).
    Value(usize, usize),
    Delete(usize),
    Insert(usize, usize),
    /// Cut the text at a byte fraction (mod the length, on a char boundary).
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0..VALUES.len()).prop_map(|(n, v)| Mutation::Value(n, v)),
        2 => any::<usize>().prop_map(Mutation::Delete),
        2 => (any::<usize>(), 0..LINES.len()).prop_map(|(n, l)| Mutation::Insert(n, l)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for m in mutations {
        let len = lines.len().max(1);
        match m {
            Mutation::Value(n, v) => {
                if let Some(line) = lines.get_mut(n % len)
                    && let Some(eq) = line.find('=')
                {
                    *line = format!("{}= {}", &line[..eq], VALUES[*v]);
                }
            }
            Mutation::Delete(n) => {
                if !lines.is_empty() {
                    lines.remove(n % len);
                }
            }
            Mutation::Insert(n, l) => lines.insert(n % (lines.len() + 1), LINES[*l].to_string()),
            Mutation::Truncate(n) => {
                let text = lines.join("\n");
                let mut cut = n % (text.len() + 1);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                lines = text[..cut].lines().map(str::to_string).collect();
            }
        }
    }
    lines.join("\n")
}

fn mutant() -> impl Strategy<Value = (usize, String)> {
    (0..SEEDS.len(), prop::collection::vec(mutation(), 1..4)).prop_map(|(seed, ms)| {
        let text = std::fs::read_to_string(workspace().join(SEEDS[seed])).unwrap();
        (seed, mutate(&text, &ms))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Validation of any mutant returns a scenario or located errors; a panic fails the case.
    #[test]
    fn validation_never_panics((seed, text) in mutant()) {
        let file = workspace().join(SEEDS[seed]);
        if let Err(errors) = models::scenario::from_text(&file, &text, &[]) {
            prop_assert!(!errors.0.is_empty());
            prop_assert!(errors.to_string().starts_with("error: "));
        }
    }
}

proptest! {
    // Shrinking is bounded too: a hanging mutant costs 120 s a try.
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 16, failure_persistence: None, ..ProptestConfig::default() })]

    /// Mutants through the binary: `run` exits 0, 1 or 2 within a time limit, with no panic.
    #[test]
    #[ignore = "runs the binary on 48 mutants (about a minute); CI runs it with --ignored"]
    fn the_binary_never_crashes_or_hangs((seed, text) in mutant()) {
        let dir = std::env::temp_dir().join(format!("flashsim-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let name = Path::new(SEEDS[seed]).file_name().unwrap();
        let file = dir.join(name);
        std::fs::write(&file, &text).unwrap();
        let child = Command::new(crate::hostile::bin())
            .current_dir(workspace())
            .args(["run", file.to_str().unwrap(), "--no-report", "--out"])
            .arg(dir.join("out"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = crate::hostile::wait_at_most(child, 120);
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert!(matches!(out.status.code(), Some(0..=2)), "{:?}: {stderr}\n{text}", out.status);
        // Bad input is 2. Exit 1 only for a run the engine stopped (its event budget spent, the
        // system unstable), which says so and prints the command that reproduces it.
        if out.status.code() == Some(1) {
            prop_assert!(stderr.contains("reproduce with: "), "exit 1 without a stopped run: {stderr}\n{text}");
        }
        prop_assert!(!stderr.contains("panicked"), "{stderr}\n{text}");
    }
}
