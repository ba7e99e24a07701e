//! Reading configuration files: TOML in, a typed value or a list of precise errors out.
//!
//! Loading goes in tiers. The text is parsed (syntax errors carry line and column), `--set`
//! overrides are applied to the parsed tree, and the tree is deserialized into the caller's raw
//! serde mirror (`deny_unknown_fields` catches misspelt keys). The caller then validates the raw
//! value into a typed one, reporting every rule broken through [`Issues`]. Every error, whichever
//! tier found it, is located by its key path (`variant[0].station[1].servers`) back to a file,
//! line and column, or to the `--set` that introduced the value.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

use crate::config::issues::{Issues, join_key};
use crate::config::overrides::{Override, Step, apply_override, parse_key_path, remove_key};

/// Where an error is: a place in a file, or a command-line override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File { line: usize, column: usize },
    Override(String),
    Unknown,
}

/// One located error in one configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub location: Location,
    /// Key path of the offending value; empty for syntax errors outside any key.
    pub key_path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match &self.location {
            Location::File { line, column } => write!(f, ":{line}:{column}")?,
            Location::Override(set) => write!(f, " (--set {})", terminal_safe(set))?,
            Location::Unknown => {}
        }
        if self.key_path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": `{}` {}", self.key_path, self.message)
        }
    }
}

/// `text` for a terminal: control characters escaped, at most 100 characters.
fn terminal_safe(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(100)
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect();
    if text.chars().count() > 100 {
        out.push('…');
    }
    out
}

/// Every error found in one or more files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// At most this many distinct errors are printed; the rest are counted in a last line.
const ERRORS_SHOWN: usize = 20;

impl fmt::Display for ConfigErrors {
    /// The distinct errors in the order found (an error repeated word for word is printed once),
    /// at most [`ERRORS_SHOWN`] of them, then a line counting what was left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seen = std::collections::BTreeSet::new();
        let distinct: Vec<String> =
            self.0.iter().map(|e| e.to_string()).filter(|text| seen.insert(text.clone())).collect();
        for (i, text) in distinct.iter().take(ERRORS_SHOWN).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {text}")?;
        }
        let hidden = distinct.len().saturating_sub(ERRORS_SHOWN);
        let repeated = self.0.len() - distinct.len();
        match (hidden, repeated) {
            (0, 0) => {}
            (0, _) => write!(f, "\nerror: … the errors above repeated {repeated} times, left out")?,
            (_, 0) => write!(f, "\nerror: … and {hidden} more errors not shown")?,
            (_, _) => write!(
                f,
                "\nerror: … and {hidden} more errors not shown ({repeated} repeats of errors above \
                 left out)"
            )?,
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The toml parser refuses a key of more than this many dotted parts ("recursion limit").
const TOML_KEY_PARTS_LIMIT: usize = 80;

/// A parser message that comes without a place, made to say what is wrong.
fn spanless_hint(message: &str) -> String {
    if message == "recursion limit" {
        format!(
            "recursion limit: a key or table name of {TOML_KEY_PARTS_LIMIT} or more dotted parts"
        )
    } else {
        message.to_string()
    }
}
/// A configuration document held for locating errors after it was parsed.
pub struct Document {
    file: PathBuf,
    text: String,
    /// Canonical key paths set on the command line, with the override as written.
    overridden: Vec<(String, String)>,
    /// Errors found while deserializing whose keys were set aside; reported with the
    /// validation issues.
    set_aside: Vec<ConfigError>,
    /// Key paths removed from the tree after their error was recorded.
    removed: Vec<String>,
}

impl Document {
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where the value at `key_path` is: the override that set it, else the deepest existing
    /// value on the path.
    pub fn locate(&self, key_path: &str) -> Location {
        self.find(key_path, false)
    }

    /// Like [`Document::locate`], but pointing at the key itself (for unknown keys).
    pub fn locate_key(&self, key_path: &str) -> Location {
        self.find(key_path, true)
    }

    fn find(&self, key_path: &str, at_key: bool) -> Location {
        for (path, text) in &self.overridden {
            if key_path == path || key_path.starts_with(&format!("{path}.")) {
                return Location::Override(text.clone());
            }
        }
        let Ok(root) = DeTable::parse(&self.text) else {
            return Location::Unknown;
        };
        enum Node<'a, 'i> {
            Table(&'a DeTable<'i>),
            Value(&'a DeValue<'i>),
        }
        let mut span = root.span();
        let mut key_span = None;
        let mut current = Node::Table(root.get_ref());
        for step in parse_key_path(key_path).unwrap_or_default() {
            let next = match (&step, &current) {
                (Step::Key(key), Node::Table(table)) => {
                    table.get_key_value(key.as_str()).map(|(k, v)| {
                        key_span = Some(k.span());
                        v
                    })
                }
                (Step::Index(i), Node::Value(value)) => {
                    key_span = None;
                    value.get(*i)
                }
                _ => None,
            };
            let Some(next) = next else { break };
            span = next.span();
            current = match next.get_ref() {
                DeValue::Table(table) => Node::Table(table),
                value => Node::Value(value),
            };
        }
        match key_span {
            Some(key) if at_key => self.position(key.start),
            _ => self.position(span.start),
        }
    }

    fn position(&self, offset: usize) -> Location {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
        Location::File { line, column }
    }

    /// Where a parser error that carries no place happened, where the text shows it: for the
    /// key-depth limit, the first line holding that many dotted parts; else unknown.
    fn locate_spanless(&self, message: &str) -> Location {
        if message != "recursion limit" {
            return Location::Unknown;
        }
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            if line.matches('.').count() + 1 >= TOML_KEY_PARTS_LIMIT {
                return self.position(offset);
            }
            offset += line.len();
        }
        Location::Unknown
    }

    /// Turns validation issues, and the errors set aside while deserializing, into located
    /// errors. Issues about a key that was set aside (or below it) are its consequences and
    /// are dropped.
    pub fn errors(&self, issues: &Issues) -> ConfigErrors {
        let is_removed = |path: &str| {
            self.removed.iter().any(|r| {
                path == r
                    || path
                        .strip_prefix(r.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            })
        };
        let located =
            issues.iter().filter(|issue| !is_removed(&issue.path)).map(|issue| ConfigError {
                file: self.file.clone(),
                location: self.locate(&issue.path),
                key_path: issue.path.clone(),
                message: issue.message.clone(),
            });
        ConfigErrors(self.set_aside.iter().cloned().chain(located).collect())
    }

    /// `Ok` when neither validation nor deserialization found anything wrong.
    pub fn check(&self, issues: &Issues) -> Result<(), ConfigErrors> {
        if issues.is_empty() && self.set_aside.is_empty() {
            Ok(())
        } else {
            Err(self.errors(issues))
        }
    }

    fn error(&self, location: Location, key_path: String, message: String) -> ConfigErrors {
        ConfigErrors(vec![ConfigError { file: self.file.clone(), location, key_path, message }])
    }
}

/// Reads `file`, applies `overrides` and deserializes the raw mirror `T`.
pub fn load<T: DeserializeOwned>(
    file: &Path,
    overrides: &[Override],
) -> Result<(T, Document), ConfigErrors> {
    let text = crate::config::read::read_bounded(file, crate::config::read::MAX_SCENARIO_BYTES)
        .map_err(|err| {
            ConfigErrors(vec![ConfigError {
                file: file.to_path_buf(),
                location: Location::Unknown,
                key_path: String::new(),
                message: format!("cannot read the file: {err}"),
            }])
        })?;
    parse(file, text, overrides)
}

/// Like [`load`] for text already in memory; `file` names it in errors.
pub fn parse<T: DeserializeOwned>(
    file: &Path,
    text: String,
    overrides: &[Override],
) -> Result<(T, Document), ConfigErrors> {
    let mut doc = Document {
        file: file.to_path_buf(),
        text,
        overridden: Vec::new(),
        set_aside: Vec::new(),
        removed: Vec::new(),
    };
    let (_, syntax_errors) = DeTable::parse_recoverable(&doc.text);
    if !syntax_errors.is_empty() {
        let errors = syntax_errors
            .iter()
            .map(|err| ConfigError {
                file: doc.file.clone(),
                location: match err.span() {
                    Some(s) => doc.position(s.start),
                    None => doc.locate_spanless(err.message()),
                },
                key_path: String::new(),
                message: format!("invalid TOML: {}", spanless_hint(err.message())),
            })
            .collect();
        return Err(ConfigErrors(errors));
    }
    let mut value = match toml::from_str::<toml::Value>(&doc.text) {
        Ok(value) => value,
        Err(err) => {
            let location = err.span().map_or(Location::Unknown, |s| doc.position(s.start));
            return Err(doc.error(location, String::new(), err.message().to_string()));
        }
    };
    for set in overrides {
        match apply_override(&mut value, set) {
            Ok(canonical) => doc.overridden.push((canonical, set.text.clone())),
            Err(message) => {
                return Err(doc.error(
                    Location::Override(set.text.clone()),
                    String::new(),
                    message,
                ));
            }
        }
    }
    // Serde stops at the first error. To report more than one per pass, the offending key is
    // set aside — reported, removed, and the rest deserialized again — until the file
    // deserializes (then validation adds its issues) or an error cannot be set aside (a missing
    // field). A "missing field" for a key removed here is a consequence, not news, and is dropped.
    for _ in 0..set_aside_passes(doc.text.len()) {
        let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(raw) => return Ok((raw, doc)),
            Err(err) => err,
        };
        let key_path = err.path().to_string();
        let key_path = if key_path == "." { String::new() } else { key_path };
        let message = err.inner().message();
        let consequence = missing_field(message)
            .is_some_and(|field| doc.removed.contains(&join_key(&key_path, field)));
        if !consequence {
            let location = if message.starts_with("unknown field") {
                doc.locate_key(&key_path)
            } else {
                doc.locate(&key_path)
            };
            doc.set_aside.push(ConfigError {
                file: doc.file.clone(),
                location,
                key_path: key_path.clone(),
                message: plain_types(message),
            });
        }
        if consequence || !remove_key(&mut value, &key_path) {
            return Err(ConfigErrors(doc.set_aside));
        }
        doc.removed.push(key_path);
    }
    Err(ConfigErrors(doc.set_aside))
}

/// Keys set aside in one pass before giving up on a file.
const MAX_SET_ASIDE: usize = 50;

/// Each key set aside costs a pass over the whole document (a copy of its tree, a deserialize,
/// a parse to locate the key): passes stop once they have read this much, so a hostile file of
/// millions of unknown keys costs a few passes, not fifty.
const SET_ASIDE_BUDGET_BYTES: usize = 32 << 20;

/// How many keys may be set aside for a document of `bytes`: 50 for any ordinary scenario,
/// down to 2 for a 16 MiB one.
fn set_aside_passes(bytes: usize) -> usize {
    (SET_ASIDE_BUDGET_BYTES / bytes.max(1)).clamp(1, MAX_SET_ASIDE)
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Serde names Rust types in its messages; say what a TOML writer would call them.
fn plain_types(message: &str) -> String {
    [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
        ("expected a string", "expected a string (in quotes)"),
    ]
    .iter()
    .fold(message.to_string(), |text, (from, to)| text.replace(from, to))
}

#[cfg(test)]
mod error_list_tests {
    use super::*;

    fn error(message: String) -> ConfigError {
        ConfigError {
            file: PathBuf::from("x.toml"),
            location: Location::Unknown,
            key_path: String::new(),
            message,
        }
    }

    #[test]
    fn a_long_error_list_is_capped_and_repeats_are_folded() {
        let mut errors: Vec<ConfigError> = (0..30).map(|i| error(format!("bad {i}"))).collect();
        errors.extend((0..2920).map(|_| error("the same".into())));
        let text = ConfigErrors(errors).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), ERRORS_SHOWN + 1, "{text}");
        assert_eq!(lines[0], "error: x.toml: bad 0");
        assert_eq!(
            lines[ERRORS_SHOWN],
            "error: … and 11 more errors not shown (2919 repeats of errors above left out)"
        );
    }

    #[test]
    fn repeats_alone_are_counted_without_a_hidden_count() {
        let errors: Vec<ConfigError> = (0..5).map(|_| error("the same".into())).collect();
        let text = ConfigErrors(errors).to_string();
        assert_eq!(
            text,
            "error: x.toml: the same\nerror: … the errors above repeated 4 times, left out"
        );
    }

    #[test]
    fn the_key_depth_limit_is_located_on_its_line() {
        let mut text = String::from("[run]\nseed = 1\n");
        for depth in 1..=100 {
            text.push_str(&format!("[{}]\n", vec!["t"; depth].join(".")));
        }
        let Err(err) = parse::<toml::Value>(Path::new("deep.toml"), text, &[]) else {
            panic!("a key of 80 parts parses")
        };
        let shown = err.to_string();
        // The header of 80 parts is on line 2 + 80.
        assert!(
            shown.starts_with("error: deep.toml:82:1: invalid TOML: recursion limit: a key"),
            "{shown}"
        );
        assert!(!shown.contains("0 more errors"), "{shown}");
    }

    #[test]
    fn a_short_list_is_printed_whole() {
        let text = ConfigErrors(vec![error("a".into()), error("b".into())]).to_string();
        assert_eq!(text, "error: x.toml: a\nerror: x.toml: b");
    }
}

#[cfg(test)]
mod set_aside_tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Run {
        seed: Option<i64>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Top {
        run: Run,
    }

    /// Loads a `[run]` table holding `keys` unknown keys; returns how many were reported.
    fn reported(keys: usize, name: &str) -> usize {
        let mut text = String::from("[run]\nseed = 1\n");
        for i in 0..keys {
            text.push_str(&format!("unknown_key_{i:07} = 1\n"));
        }
        let file =
            std::env::temp_dir().join(format!("sim-config-{}-{name}.toml", std::process::id()));
        std::fs::write(&file, &text).unwrap();
        let result = load::<Top>(&file, &[]);
        std::fs::remove_file(&file).unwrap();
        match result {
            Ok(_) => panic!("unknown keys are refused"),
            Err(errors) => errors.0.len(),
        }
    }

    #[test]
    fn a_huge_file_of_unknown_keys_costs_a_few_passes_not_fifty() {
        // ≈ 4 MiB: 32 MiB of passes allow 8; an ordinary file still gets its 50.
        assert_eq!(reported(160_000, "huge"), 8);
        assert_eq!(reported(60, "small"), MAX_SET_ASIDE);
    }
}
