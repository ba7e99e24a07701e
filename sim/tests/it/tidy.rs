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

/// Where the file-system clock is allowed: telling a dead writer's leftover temporary file from a
/// live one by its age, which decides what is cleaned from an output folder, never a result.
const FILE_AGE_ALLOWED: &[&str] = &["sim/src/output/folder.rs", "sim/src/output/folder_tests.rs"];

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
                    let allowed = (*api == "Instant::now"
                        && WALL_CLOCK_ALLOWED.contains(&rel.as_str()))
                        || (*api == "SystemTime" && FILE_AGE_ALLOWED.contains(&rel.as_str()));
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

/// The module path of a file under `sim/src`: `cli/plan.rs` → `cli::plan`, `cli/mod.rs` → `cli`,
/// `lib.rs` → `` (the crate root).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> =
        rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// The modules a file's code names (not its comments or tests): `crate::a::b::Item` counts as
/// the longest known module prefix, `a::b`; `child::…` in a folder's `mod.rs` (a re-export, a
/// call) counts as the child. Items used through a re-export count as the re-exporting module.
fn imports(module: &str, text: &str, modules: &[String]) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap();
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap().trim();
        let mut paths: Vec<String> = line
            .match_indices("crate::")
            // A visibility (`pub(in crate::a)`) names a module but imports nothing from it.
            .filter(|(i, _)| !line[..*i].ends_with("pub(in "))
            .map(|(i, _)| line[i + "crate::".len()..].to_string())
            .collect();
        // `super::` (repeated) names an ancestor: the parent of this module, and so on.
        for (i, _) in line.match_indices("super::") {
            if line[..i].ends_with("super::") {
                continue;
            }
            let mut rest = &line[i..];
            let mut up: Vec<&str> = module.split("::").filter(|m| !m.is_empty()).collect();
            while let Some(r) = rest.strip_prefix("super::") {
                up.pop();
                rest = r;
            }
            let base = up.join("::");
            paths.push(if base.is_empty() { rest.to_string() } else { format!("{base}::{rest}") });
        }
        // A folder's `mod.rs` (or the root) names its children by relative paths: `run::RunArgs`.
        let prefix = if module.is_empty() { String::new() } else { format!("{module}::") };
        for child in modules.iter().filter_map(|m| m.strip_prefix(&prefix)) {
            if child.is_empty() || child.contains("::") {
                continue;
            }
            let named = line.match_indices(&format!("{child}::")).any(|(i, _)| {
                !line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if named {
                paths.push(format!("{prefix}{child}"));
            }
        }
        for path in paths {
            // The path itself: up to the first character that cannot be part of one.
            let path: String = path
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segments: Vec<&str> = path
                .split("::")
                .map(|s| s.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_')))
                .collect();
            let target = (0..=segments.len())
                .rev()
                .map(|n| segments[..n].join("::"))
                .find(|m| modules.contains(m))
                .unwrap_or_default();
            if target != module && !found.contains(&target) {
                found.push(target);
            }
        }
    }
    found
}

#[test]
fn sim_modules_import_each_other_without_cycles() {
    assert_no_import_cycle("sim/src");
}

#[test]
fn models_modules_import_each_other_without_cycles() {
    assert_no_import_cycle("models/src");
}

/// Fails naming the first import cycle between the modules of the crate at `crate_src`.
fn assert_no_import_cycle(crate_src: &str) {
    let src = workspace().join(crate_src);
    let files = rust_files(&src);
    let modules: Vec<String> =
        files.iter().map(|f| module_of(f.strip_prefix(&src).unwrap())).collect();
    let edges: Vec<Vec<usize>> = files
        .iter()
        .zip(&modules)
        .map(|(file, module)| {
            let text = fs::read_to_string(file).unwrap();
            imports(module, &text, &modules)
                .iter()
                .map(|t| modules.iter().position(|m| m == t).unwrap())
                .collect()
        })
        .collect();
    // Depth-first search; a grey node met again closes a cycle.
    fn visit(n: usize, edges: &[Vec<usize>], state: &mut [u8], path: &mut Vec<usize>) -> bool {
        state[n] = 1;
        path.push(n);
        for &m in &edges[n] {
            if state[m] == 1 {
                path.push(m);
                return true;
            }
            if state[m] == 0 && visit(m, edges, state, path) {
                return true;
            }
        }
        path.pop();
        state[n] = 2;
        false
    }
    let mut state = vec![0u8; modules.len()];
    for start in 0..modules.len() {
        let mut path = Vec::new();
        if state[start] == 0 && visit(start, &edges, &mut state, &mut path) {
            let names: Vec<String> = path
                .iter()
                .map(|&i| if modules[i].is_empty() { "crate".into() } else { modules[i].clone() })
                .collect();
            panic!("import cycle in {crate_src}: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_check_sees_imports_and_re_exports() {
    let modules: Vec<String> =
        ["", "config", "config::issues", "cli", "cli::run"].iter().map(|m| m.to_string()).collect();
    let text = "use crate::config::issues::{Issues, join_key};\nuse crate::cli::Catalogue;\n";
    assert_eq!(imports("cli::run", text, &modules), ["config::issues", "cli"]);
    assert_eq!(imports("config", "pub use issues::Issues;\n", &modules), ["config::issues"]);
    assert_eq!(imports("", "pub use config::Issues;\n", &modules), ["config"]);
    assert_eq!(
        imports("cli", "Some(Command::Run(args)) => run::run::<C>(args),\n", &modules),
        ["cli::run"]
    );
    assert!(imports("cli", "//! see [`crate::config`]\n", &modules).is_empty());
    let text = "use super::super::config::Issues;\nuse super::Catalogue;\n";
    assert_eq!(imports("cli::run", text, &modules), ["config", "cli"], "super:: is relative");
    let text = "pub(in crate::cli) fn f(x: crate::cli::run::Args) -> Y {\n";
    assert_eq!(imports("config", text, &modules), ["cli::run"], "a visibility is no import");
}

#[test]
fn engine_names_no_metric_of_a_model() {
    // Metric names (and the default objective) come from the catalogue, never from sim.
    let mut found = Vec::new();
    for file in rust_files(&workspace().join("sim/src")) {
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("\"metrics.") {
                found.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "metric names in sim/src:\n{}", found.join("\n"));
}

/// Longest source file, in lines: a file past it is asking to be split along a seam.
const MAX_FILE_LINES: usize = 600;
/// Longest function, in lines (signature to closing brace).
const MAX_FUNCTION_LINES: usize = 100;

/// Functions allowed past `MAX_FUNCTION_LINES`, each with its reason: `(file, function, why)`.
const LONG_FUNCTIONS: &[(&str, &str, &str)] = &[];

/// `(lines, name)` of every function in `text`, as rustfmt lays them out: from the line that
/// starts with `fn` (after visibility and qualifiers) to the first line at its indentation
/// that closes a brace.
fn function_lengths(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let mut rest = body;
        for prefix in ["pub(crate) ", "pub(super) ", "pub ", "const ", "unsafe ", "async "] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        if rest.starts_with("pub(in ") {
            rest = rest.split_once(") ").map_or(rest, |(_, r)| r);
        }
        let Some(signature) = rest.strip_prefix("fn ") else { continue };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String =
            signature.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let close = format!("{indent}}}");
        let end = lines[i + 1..].iter().position(|l| l.starts_with(&close)).map_or(0, |p| p + 1);
        out.push((end + 1, name));
    }
    out
}

#[test]
fn source_files_and_functions_stay_short() {
    let mut problems = Vec::new();
    for crate_dir in ["sim/src", "models/src"] {
        for file in rust_files(&workspace().join(crate_dir)) {
            let text = fs::read_to_string(&file).unwrap();
            let rel = file.strip_prefix(workspace()).unwrap().to_string_lossy().to_string();
            let lines = text.lines().count();
            if lines > MAX_FILE_LINES {
                problems.push(format!("{rel}: {lines} lines (at most {MAX_FILE_LINES})"));
            }
            for (length, name) in function_lengths(&text) {
                let allowed = LONG_FUNCTIONS.iter().any(|(f, n, _)| *f == rel && *n == name);
                if length > MAX_FUNCTION_LINES && !allowed {
                    problems.push(format!(
                        "{rel}: fn {name} has {length} lines (at most {MAX_FUNCTION_LINES})"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "split these along a seam:\n{}", problems.join("\n"));
}

#[test]
fn the_length_check_measures_functions_as_laid_out() {
    let text = "fn short() {\n    a();\n}\n\nimpl X {\n    pub(in crate::m) fn long(\n        \
                x: u8,\n    ) {\n        if x {\n        }\n    }\n    fn decl();\n}\n";
    assert_eq!(
        function_lengths(text),
        vec![(3, "short".to_string()), (6, "long".to_string())],
        "lengths run from `fn` to the brace at the same indentation"
    );
}
