//! The README's examples are checked against the program, so they cannot drift: its sample output
//! against a real run, its error example against what `validate` prints, every command line
//! against the commands' own `--help`, every `--set` example against a bundled scenario, every
//! TOML example through `validate`, and the keys its comments list against the schema.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::support::{case_study_summary, workspace};

/// A fenced block of the README: its language tag, first line (1-based) and text.
struct Block {
    lang: String,
    line: usize,
    text: String,
}

fn readme() -> String {
    std::fs::read_to_string(workspace().join("README.md")).unwrap()
}

/// Every fenced block, indented ones (inside a list item) included, with the indent removed.
fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Block)> = None;
    for (i, line) in readme.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match (open.take(), trimmed.strip_prefix("```")) {
            (None, Some(lang)) => {
                let block = Block { lang: lang.trim().into(), line: i + 1, text: String::new() };
                open = Some((indent, block));
            }
            (Some((_, block)), Some(_)) => out.push(block),
            (Some((indent, mut block)), None) => {
                block.text.push_str(line.get(indent..).unwrap_or(line.trim_start()));
                block.text.push('\n');
                open = Some((indent, block));
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README: a fenced block is never closed");
    out
}

fn flashsim_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flashsim")).current_dir(dir).args(args).output().unwrap()
}

#[test]
fn the_readme_sample_output_is_what_run_prints() {
    let readme = readme();
    let blocks = blocks(&readme);
    let sample = blocks
        .iter()
        .find(|b| b.text.starts_with("$ cargo run --release -- run scenarios/edu-live-class.toml"))
        .expect("README: the sample run");
    let table = case_study_summary().table();
    let printed: BTreeSet<&str> = table.lines().collect();
    let shown: Vec<&str> = sample.text.lines().skip(1).filter(|l| *l != "...").collect();
    assert!(shown.len() >= 3, "README line {}: the sample shows no rows", sample.line);
    let stale: Vec<&&str> = shown.iter().filter(|l| !printed.contains(**l)).collect();
    assert!(
        stale.is_empty(),
        "README line {}: these sample lines are not what the run prints: {stale:#?}\nit prints:\n{table}",
        sample.line
    );
}

#[test]
fn the_readme_error_example_is_what_validate_prints() {
    let blocks = blocks(&readme());
    let example = blocks
        .iter()
        .find(|b| b.text.starts_with("$ flashsim validate x.toml y.toml"))
        .expect("README: the error example");
    let fixtures = workspace().join("models/tests/it/fixtures/readme");
    let out = flashsim_in(&fixtures, &["validate", "x.toml", "y.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let expected: String = example.text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&out.stderr), expected, "README line {}", example.line);
}

/// The options a command's `--help` lists (long names), `--help` and `--version` left out.
fn options_of(command: &str) -> BTreeSet<String> {
    let out = flashsim_in(&workspace(), &[command, "--help"]);
    assert!(out.status.success(), "flashsim {command} --help");
    let help = String::from_utf8_lossy(&out.stdout).to_string();
    long_options(&help).into_iter().filter(|o| o != "--help" && o != "--version").collect()
}

/// `--word` tokens of a text.
fn long_options(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let rest = &text[i + 2..];
        let len = rest.find(|c: char| !(c.is_ascii_lowercase() || c == '-')).unwrap_or(rest.len());
        let before = text[..i].chars().next_back();
        if len > 1 && !matches!(before, Some(c) if c.is_alphanumeric() || c == '-') {
            out.insert(format!("--{}", &rest[..len]));
        }
    }
    out
}

const COMMANDS: [&str; 7] = ["run", "validate", "schema", "sweep", "merge", "plan", "report"];

/// The synopsis under "Commands" lists exactly the options each command has.
#[test]
fn the_readme_synopsis_lists_every_option_of_every_command() {
    let blocks = blocks(&readme());
    let synopsis = blocks
        .iter()
        .find(|b| b.lang == "sh" && b.text.starts_with("flashsim run "))
        .expect("README: the commands' synopsis");
    let mut listed: Vec<(String, String)> = Vec::new();
    for line in synopsis.text.lines() {
        match line.strip_prefix("flashsim ") {
            Some(rest) => {
                let command = rest.split_whitespace().next().unwrap().to_string();
                listed.push((command, rest.split('#').next().unwrap().to_string()));
            }
            None => listed.last_mut().unwrap().1.push_str(line),
        }
    }
    let named: Vec<&str> = listed.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(named, COMMANDS, "README line {}: the commands", synopsis.line);
    for (command, text) in &listed {
        assert_eq!(
            long_options(text),
            options_of(command),
            "README line {}: `flashsim {command}` options (left: README, right: --help)",
            synopsis.line
        );
    }
}

/// Every `flashsim …` command the README shows (code spans and shell blocks) names a command
/// that exists and only options that command has.
#[test]
fn every_command_in_the_readme_uses_options_that_exist() {
    let readme = readme();
    let options: Vec<(&str, BTreeSet<String>)> =
        COMMANDS.iter().map(|c| (*c, options_of(c))).collect();
    let mut commands: Vec<(usize, String)> = Vec::new();
    for (i, line) in readme.lines().enumerate() {
        for (j, _) in line.match_indices("flashsim ") {
            let rest = line[j + "flashsim ".len()..].split(['`', '#', '"', ')']).next().unwrap();
            let command = rest.split_whitespace().next().unwrap_or("");
            if COMMANDS.contains(&command) {
                commands.push((i + 1, rest.to_string()));
            }
        }
        for (j, _) in line.match_indices("cargo run --release -- ") {
            let rest = line[j + "cargo run --release -- ".len()..].split(['`', '#']).next();
            // `cargo run --release -- <command> …` is a placeholder.
            if !rest.unwrap().starts_with('<') {
                commands.push((i + 1, rest.unwrap().to_string()));
            }
        }
    }
    assert!(commands.len() >= 20, "found only {} commands in the README", commands.len());
    for (line, text) in &commands {
        let command = text.split_whitespace().next().unwrap_or("");
        let known = options.iter().find(|(c, _)| *c == command);
        let (_, allowed) = known.unwrap_or_else(|| panic!("README line {line}: `{text}`"));
        for option in long_options(text) {
            assert!(
                allowed.contains(&option),
                "README line {line}: `flashsim {command}` has no option {option} (`{text}`)"
            );
        }
    }
}

/// `--set` examples, as the README writes them: `--set 'path=value'` or `--set path=value`.
fn set_examples(readme: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in readme.match_indices("--set ") {
        let rest = &readme[i + "--set ".len()..];
        let example = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.split('\'').next().unwrap(),
            None => rest.split(|c: char| c.is_whitespace() || c == '`' || c == ']').next().unwrap(),
        };
        // Placeholders: the synopsis's `key.path=value`, `--set <p's values>`, `--set …`.
        if example != "key.path=value" && !example.starts_with(['<', '…']) {
            out.insert(example.to_string());
        }
    }
    out
}

fn bundled_scenarios() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for dir in ["scenarios", "scenarios/validation"] {
        for entry in std::fs::read_dir(workspace().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Each `--set` example is an override some bundled scenario accepts (its path exists, its value
/// validates).
#[test]
fn every_set_example_in_the_readme_applies_to_a_bundled_scenario() {
    let examples = set_examples(&readme());
    assert!(examples.len() >= 6, "found only {examples:?}");
    let scenarios = bundled_scenarios();
    for example in &examples {
        let set: sim::config::Override =
            example.parse().unwrap_or_else(|e| panic!("README `--set '{example}'`: {e}"));
        let accepted =
            scenarios.iter().any(|file| models::load(file, std::slice::from_ref(&set)).is_ok());
        assert!(accepted, "README `--set '{example}'`: no bundled scenario accepts it");
    }
}

/// The TOML blocks: complete scenarios validate as they are; `[sweep]`, `[plan]` and `[report]`
/// sections validate added to the case study; the queue+stream tables added to the sale example with a
/// queue+stream variant.
#[test]
fn every_toml_example_in_the_readme_validates() {
    let blocks = blocks(&readme());
    let toml: Vec<&Block> = blocks.iter().filter(|b| b.lang == "toml").collect();
    assert!(toml.len() >= 6, "found {} TOML blocks", toml.len());
    let case_study = std::fs::read_to_string(workspace().join("scenarios/edu-live-class.toml"));
    let case_study = case_study.unwrap();
    let sale = toml.iter().find(|b| b.text.starts_with("[sale]")).expect("the sale example");
    let dir = tempfile::tempdir().unwrap();
    for block in &toml {
        let first_table = block.text.lines().find(|l| l.starts_with('[')).unwrap_or("");
        let section = ["[sweep]", "[plan]", "[report]"].iter().any(|s| first_table.starts_with(s));
        let text = if section {
            format!("{case_study}\n{}", block.text)
        } else if first_table.starts_with("[variant.kafka]") {
            let variant = "[[variant]]\nname = \"queue-stream\"\narchitecture = \"queue_stream\"\n";
            format!("{}\n{variant}{}", sale.text, block.text)
        } else {
            block.text.clone()
        };
        let file = dir.path().join(format!("readme-line-{}.toml", block.line));
        std::fs::write(&file, text).unwrap();
        let out = flashsim_in(dir.path(), &["validate", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "README line {}: the TOML example does not validate:\n{}",
            block.line,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The keys a `[variant.X]  # key = default, …` comment lists are fields of that table in the
/// schema, so a renamed key cannot stay documented under its old name.
#[test]
fn the_keys_the_readme_comments_list_are_in_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("scenarios/scenario.schema.json")).unwrap(),
    )
    .unwrap();
    let defs = &schema["$defs"];
    let fields_of = |table: &str| -> BTreeSet<String> {
        let property = &defs["RawVariant"]["properties"][table];
        let reference = property["$ref"]
            .as_str()
            .or_else(|| property["anyOf"][0]["$ref"].as_str())
            .unwrap_or_else(|| panic!("the schema has no table variant.{table}"));
        let def = &defs[reference.trim_start_matches("#/$defs/")];
        def["properties"].as_object().unwrap().keys().cloned().collect()
    };
    let blocks = blocks(&readme());
    let mut checked = 0;
    for block in blocks.iter().filter(|b| b.lang == "toml") {
        let mut table: Option<(String, BTreeSet<String>)> = None;
        for (i, line) in block.text.lines().enumerate() {
            // A table shown commented out (`# [variant.x]`) documents its keys the same way.
            let header = line.strip_prefix("# ").unwrap_or(line);
            if let Some(rest) = header.strip_prefix("[variant.") {
                let name = rest.split(']').next().unwrap().to_string();
                table = Some((name.clone(), fields_of(&name)));
            } else if !line.trim_start().starts_with('#') {
                table = None;
            }
            let (Some((name, fields)), Some((_, comment))) = (&table, line.split_once('#')) else {
                continue;
            };
            for (j, _) in comment.match_indices(" = ") {
                let key = comment[..j].rsplit([' ', ',', '(', ';']).next().unwrap();
                assert!(
                    fields.contains(key),
                    "README line {}: `{key}` is not a field of [variant.{name}]: {fields:?}",
                    block.line + 1 + i
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "only {checked} documented keys found");
}
