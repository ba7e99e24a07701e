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
        let raw_value = raw_value.trim();
        let value = match toml::from_str::<toml::Table>(&format!("v = {raw_value}")) {
            Ok(mut table) => table.remove("v").expect("parsed key"),
            Err(_) => toml::Value::String(raw_value.to_string()),
        };
        Ok(Override { path: path.to_string(), value, text: text.to_string() })
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
                table.get_mut(key.as_str()).ok_or_else(|| {
                    format!(
                        "`{canonical}` does not exist in the file, so nothing below it can be set"
                    )
                })?
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
    /// Unknown keys found while deserializing; reported with the validation issues.
    unknown_keys: Vec<ConfigError>,
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

    /// Turns validation issues, and any unknown keys found earlier, into located errors.
    pub fn errors(&self, issues: &Issues) -> ConfigErrors {
        let located = issues.iter().map(|issue| ConfigError {
            file: self.file.clone(),
            location: self.locate(&issue.path),
            key_path: issue.path.clone(),
            message: issue.message.clone(),
        });
        ConfigErrors(self.unknown_keys.iter().cloned().chain(located).collect())
    }

    /// `Ok` when neither validation nor deserialization found anything wrong.
    pub fn check(&self, issues: &Issues) -> Result<(), ConfigErrors> {
        if issues.is_empty() && self.unknown_keys.is_empty() {
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
    let mut doc =
        Document { file: file.to_path_buf(), text, overridden: Vec::new(), unknown_keys: vec![] };
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
    // Serde stops at the first error. An unknown key is set aside (reported, removed, and the
    // rest deserialized again) so one pass reports every misspelt key along with the
    // validation errors; any other error ends the pass.
    for _ in 0..MAX_UNKNOWN_KEYS {
        let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(raw) => return Ok((raw, doc)),
            Err(err) => err,
        };
        let key_path = err.path().to_string();
        let key_path = if key_path == "." { String::new() } else { key_path };
        let message = err.inner().message();
        if message.starts_with("unknown field") && remove_key(&mut value, &key_path) {
            let location = doc.locate_key(&key_path);
            doc.unknown_keys.push(ConfigError {
                file: doc.file.clone(),
                location,
                key_path,
                message: message.to_string(),
            });
            continue;
        }
        let location = doc.locate(&key_path);
        let mut errors = doc.unknown_keys.clone();
        errors.push(ConfigError {
            file: doc.file.clone(),
            location,
            key_path,
            message: plain_types(message),
        });
        return Err(ConfigErrors(errors));
    }
    Err(ConfigErrors(doc.unknown_keys))
}

/// Unknown keys reported in one pass before giving up on a file.
const MAX_UNKNOWN_KEYS: usize = 50;

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
