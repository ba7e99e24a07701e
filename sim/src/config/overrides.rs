//! `--set key.path=value` overrides: parsing them, and reading or replacing the value at a key
//! path (`variant[0].station[db].servers`) in a parsed TOML tree.

use crate::config::issues::{join_index, join_key};

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
pub(crate) enum Step {
    Key(String),
    Index(usize),
    Named(String),
}

pub(crate) fn parse_key_path(path: &str) -> Result<Vec<Step>, String> {
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
pub(crate) fn apply_override(root: &mut toml::Value, set: &Override) -> Result<String, String> {
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

/// Removes the key at `key_path` from the tree; `false` if there is no such key.
pub(crate) fn remove_key(root: &mut toml::Value, key_path: &str) -> bool {
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
