//! Validation issues: the rules a document breaks, each at a key path, collected before any
//! is reported; and the key-path joiners the messages use.

use std::fmt;

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
