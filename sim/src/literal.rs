//! Raw literals as they appear in configuration files, checked later into typed values.
//!
//! A raw scenario keeps durations and rates as the text the user wrote, so a bad literal is
//! reported with its key path and location instead of failing deserialization with a vague
//! message. [`DurationLit::check`] and [`RateLit::check`] do the conversion during validation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Issues;
use crate::time::{Rate, SimDuration, parse_duration, parse_offset_ns, parse_rate};

/// A duration as written: `"250ms"`, `"30us"`, `"1.5s"`, `"2m"`, `"1h"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(
    description = "A duration: a number and a unit (ns, us, ms, s, m, h), e.g. \"250ms\", \"1.5s\"",
    extend("pattern" = r"^\s*[0-9][0-9_]*(\.[0-9]+)?\s*(ns|us|µs|ms|s|m|min|h)\s*$")
)]
pub struct DurationLit(pub String);

impl DurationLit {
    /// The duration, or an issue recorded at `path`.
    pub fn check(&self, path: &str, issues: &mut Issues) -> Option<SimDuration> {
        issues.check(path, parse_duration(&self.0))
    }
}

impl From<&str> for DurationLit {
    fn from(text: &str) -> Self {
        DurationLit(text.to_string())
    }
}

/// A rate as written: `"20k/s"`, `"0.9/s"`, `"500/ms"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(
    description = "A rate: a count (optionally with k, M or G) per time unit, e.g. \"20k/s\"",
    extend("pattern" = r"^\s*[0-9][0-9_]*(\.[0-9]+)?\s*[kKMG]?\s*/\s*1?(ns|us|µs|ms|s|m|min|h)\s*$")
)]
pub struct RateLit(pub String);

impl RateLit {
    /// The rate, or an issue recorded at `path`.
    pub fn check(&self, path: &str, issues: &mut Issues) -> Option<Rate> {
        issues.check(path, parse_rate(&self.0))
    }
}

impl From<&str> for RateLit {
    fn from(text: &str) -> Self {
        RateLit(text.to_string())
    }
}

/// A signed time offset from a reference instant: `"-5s"`, `"0s"`, `"+1.8s"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(
    description = "A signed time offset: optional sign, a number and a unit, e.g. \"-5s\", \"1.8s\"",
    extend("pattern" = r"^\s*[+-]?\s*[0-9][0-9_]*(\.[0-9]+)?\s*(ns|us|µs|ms|s|m|min|h)\s*$")
)]
pub struct OffsetLit(pub String);

impl OffsetLit {
    /// The offset in signed nanoseconds, or an issue recorded at `path`.
    pub fn check(&self, path: &str, issues: &mut Issues) -> Option<i64> {
        issues.check(path, parse_offset_ns(&self.0))
    }
}

impl From<&str> for OffsetLit {
    fn from(text: &str) -> Self {
        OffsetLit(text.to_string())
    }
}
