//! Tidy rules over the source tree: the engine stays free of domain words, and no code reaches
//! for randomness, clocks or orderings that would make runs irreproducible.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Words of the flash-sale domain that must never appear in the generic engine.
const DOMAIN_WORDS: &[&str] = &[
    "flash",
    "sale",
    "seckill",
    "stock",
    "oversell",
    "oversold",
    "undersold",
    "inventory",
    "buyer",
    "purchase",
    "coupon",
    "redis",
    "kafka",
    "flink",
    "mysql",
    "cdn",
    "gateway",
    "waiting room",
    "waiting_room",
    "lua script",
    "checkout",
];

/// Lines of `text` that contain a domain word, as `file:line: word`.
fn domain_hits(name: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.to_lowercase().lines().enumerate() {
        for word in DOMAIN_WORDS {
            if line.contains(word) {
                found.push(format!("{name}:{}: `{word}`", n + 1));
            }
        }
    }
    found
}

#[test]
fn engine_has_no_domain_words() {
    let mut found = Vec::new();
    for file in rust_files(&workspace().join("sim/src")) {
        let text = fs::read_to_string(&file).unwrap();
        found.extend(domain_hits(&file.display().to_string(), &text));
    }
    assert!(found.is_empty(), "domain words in sim/src:\n{}", found.join("\n"));
}

#[test]
fn tidy_check_catches_a_domain_word() {
    // The scanner above must be able to fail.
    let fake = "//! A generic queue.\nlet remaining_Stock = 3;\n";
    assert_eq!(domain_hits("fake.rs", fake), ["fake.rs:2: `stock`"]);
    assert!(domain_hits("fake.rs", "let queue = 3;").is_empty());
}

/// APIs that break reproducibility: OS entropy, unstable generators, wall clocks, and hash maps
/// whose iteration order varies between runs.
const BANNED: &[&str] = &[
    "thread_rng",
    "rand::rng()",
    "StdRng",
    "SmallRng",
    "OsRng",
    "from_entropy",
    "from_os_rng",
    "DefaultHasher",
    "RandomState",
    "HashMap",
    "HashSet",
    "SystemTime",
    "Instant::now",
];

/// The one place wall-clock time is allowed: measuring how long a run took, reported apart from
/// the deterministic results.
const WALL_CLOCK_ALLOWED: &[&str] = &["sim/src/cli/run.rs"];

#[test]
fn no_irreproducible_apis() {
    let root = workspace();
    let mut found = Vec::new();
    for dir in ["sim/src", "models/src"] {
        for file in rust_files(&root.join(dir)) {
            let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            let text = fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap();
                for api in BANNED {
                    let allowed =
                        *api == "Instant::now" && WALL_CLOCK_ALLOWED.contains(&rel.as_str());
                    if code.contains(api) && !allowed {
                        found.push(format!("{rel}:{}: `{api}`", n + 1));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "irreproducible APIs:\n{}", found.join("\n"));
}

#[test]
fn models_depend_on_sim_and_never_the_reverse() {
    let manifest = fs::read_to_string(workspace().join("sim/Cargo.toml")).unwrap();
    assert!(!manifest.contains("models"), "sim must not depend on models");
    let manifest = fs::read_to_string(workspace().join("models/Cargo.toml")).unwrap();
    assert!(manifest.contains("sim = { path = \"../sim\" }"));
}
