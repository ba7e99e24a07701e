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

/// One broken rule, found while validating: the key path and what is wrong with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

/// The rules broken so far while validating one document.
#[derive(Clone, Debug, Default)]
pub struct Issues(Vec<Issue>);

impl Issues {
    pub fn new() -> Self {
        Issues(Vec::new())
    }
    /// Records that the value at `path` breaks a rule; `message` says the rule and the value.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue { path: path.into(), message: message.into() });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Issue> {
        self.0.iter()
    }
    /// Runs a parse of the value at `path`, recording its error; `None` if it failed.
    pub fn check<T, E: fmt::Display>(&mut self, path: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.push(path, err.to_string());
                None
            }
        }
    }
}

/// Joins key-path segments the way error messages print them: `a.b[2].c`.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

/// `parent[index]`.
pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

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
            Location::Override(set) => write!(f, " (--set {set})")?,
            Location::Unknown => {}
        }
        if self.key_path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": `{}` {}", self.key_path, self.message)
        }
    }
}

/// Every error found in one or more files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A `--set key.path=value` override. The value is read as a TOML value (`2`, `0.5`, `true`,
/// `"text"`); anything that is not valid TOML is taken as a bare string (`--set rate=20k/s`).
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub path: String,
    pub value: toml::Value,
    /// The override as the user wrote it, for error messages.
    pub text: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (path, raw_value) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not of the form key.path=value"))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(format!("`{text}` has an empty key path"));
        }
        let value = Override::from_str_value(raw_value.trim());
        Ok(Override { path: path.to_string(), value, text: text.to_string() })
    }
}

impl Override {
    /// Reads a value as TOML (`2`, `0.5`, `true`, `"text"`), or as a bare string otherwise.
    pub fn from_str_value(text: &str) -> toml::Value {
        match toml::from_str::<toml::Table>(&format!("v = {text}")) {
            Ok(mut table) => table.remove("v").expect("parsed key"),
            Err(_) => toml::Value::String(text.to_string()),
        }
    }
}

/// One step of a key path: a table key, an array index, or an array element chosen by its
/// `name` field (`station[db]`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Named(String),
}

fn parse_key_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() {
            return Err(format!("key path `{path}` has an empty key"));
        }
        steps.push(Step::Key(key.to_string()));
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
            let selector = &inner[..close];
            steps.push(match selector.parse::<usize>() {
                Ok(index) => Step::Index(index),
                Err(_) if !selector.is_empty() => Step::Named(selector.to_string()),
                Err(_) => return Err(format!("empty `[]` in `{path}`")),
            });
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("unexpected `{rest}` in key path `{path}`"));
        }
    }
    Ok(steps)
}

/// The value at `key_path` in a parsed tree (`a.b[2].c`, or `a.b[name].c` by `name` field).
pub fn lookup<'a>(root: &'a toml::Value, key_path: &str) -> Option<&'a toml::Value> {
    let mut current = root;
    for step in parse_key_path(key_path).ok()? {
        current = match step {
            Step::Key(key) => current.as_table()?.get(&key)?,
            Step::Index(i) => current.as_array()?.get(i)?,
            Step::Named(name) => current
                .as_array()?
                .iter()
                .find(|v| v.get("name").and_then(|n| n.as_str()) == Some(name.as_str()))?,
        };
    }
    Some(current)
}

/// Applies one override to a parsed tree, as loading does; returns the canonical path.
pub fn apply_override_to(root: &mut toml::Value, set: &Override) -> Result<String, String> {
    apply_override(root, set)
}

/// Applies one override to the parsed tree; returns the canonical path (names resolved to indices).
fn apply_override(root: &mut toml::Value, set: &Override) -> Result<String, String> {
    let steps = parse_key_path(&set.path)?;
    let mut canonical = String::new();
    let mut current: &mut toml::Value = root;
    let last = steps.len() - 1;
    for (i, step) in steps.iter().enumerate() {
        let is_last = i == last;
        current = match step {
            Step::Key(key) => {
                canonical = join_key(&canonical, key);
                let table = current
                    .as_table_mut()
                    .ok_or_else(|| format!("`{canonical}`: its parent is not a table"))?;
                if is_last {
                    if let Some(existing) = table.get(key.as_str())
                        && (existing.is_table() || existing.is_array())
                    {
                        return Err(format!(
                            "`{canonical}` is a table or array; --set takes a scalar path"
                        ));
                    }
                    table.insert(key.clone(), set.value.clone());
                    return Ok(canonical);
                }
                // A missing table on the way is created, so `--set run.horizon=1h` works in a
                // file without `[run]`; validation then judges the result like any file.
                table.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            Step::Index(index) => {
                canonical = join_index(&canonical, *index);
                let array = current
                    .as_array_mut()
                    .ok_or_else(|| format!("`{canonical}`: its parent is not an array"))?;
                let len = array.len();
                array.get_mut(*index).ok_or_else(|| {
                    format!("`{canonical}` is out of range: the array has {len} elements")
                })?
            }
            Step::Named(name) => {
                let array = current.as_array_mut().ok_or_else(|| {
                    format!("`{canonical}[{name}]`: `{canonical}` is not an array")
                })?;
                let index = array
                    .iter()
                    .position(|v| v.get("name").and_then(|n| n.as_str()) == Some(name))
                    .ok_or_else(|| format!("`{canonical}` has no element named `{name}`"))?;
                canonical = join_index(&canonical, index);
                &mut array[index]
            }
        };
        if is_last {
            return Err(format!("`{canonical}` is not a scalar key; --set takes a scalar path"));
        }
    }
    unreachable!("the loop returns at the last step")
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
    let text = std::fs::read_to_string(file).map_err(|err| {
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
                location: err.span().map_or(Location::Unknown, |s| doc.position(s.start)),
                key_path: String::new(),
                message: format!("invalid TOML: {}", err.message()),
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
    for _ in 0..MAX_SET_ASIDE {
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

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Removes the key at `key_path` from the tree; `false` if there is no such key.
fn remove_key(root: &mut toml::Value, key_path: &str) -> bool {
    let Ok(mut steps) = parse_key_path(key_path) else { return false };
    let Some(Step::Key(last)) = steps.pop() else { return false };
    let mut current = root;
    for step in steps {
        let next = match step {
            Step::Key(key) => current.as_table_mut().and_then(|t| t.get_mut(key.as_str())),
            Step::Index(i) => current.as_array_mut().and_then(|a| a.get_mut(i)),
            Step::Named(_) => None,
        };
        let Some(next) = next else { return false };
        current = next;
    }
    current.as_table_mut().is_some_and(|t| t.remove(last.as_str()).is_some())
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
