//! Raw literals as they appear in configuration files, checked later into typed values.
//!
//! A raw scenario keeps durations and rates as the text the user wrote, so a bad literal is
//! reported with its key path and location instead of failing deserialization with a vague
//! message. [`DurationLit::check`] and [`RateLit::check`] do the conversion during validation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::issues::Issues;
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

/// A rate as written: `"20k/s"`, `"0.9/s"`, `"500/ms"` — or a plain number, read as per second
/// (so sweeps and capacity plans can set a rate like any other number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RateLit(pub String);

impl<'de> Deserialize<'de> for RateLit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RateLit;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a rate such as \"20k/s\", or a number per second")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RateLit, E> {
                Ok(RateLit(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RateLit, E> {
                Ok(RateLit(format!("{v}/s")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RateLit, E> {
                Ok(RateLit(format!("{v}/s")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RateLit, E> {
                Ok(RateLit(format!("{v}/s")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for RateLit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RateLit".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A rate: a count (optionally with k, M or G) per time unit, e.g. \"20k/s\", or a number per second",
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^\s*[0-9][0-9_]*(\.[0-9]+)?\s*[kKMG]?\s*/\s*1?(ns|us|µs|ms|s|m|min|h)\s*$"
                },
                { "type": "number", "minimum": 0 }
            ]
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        rate: RateLit,
    }

    #[test]
    fn a_rate_is_text_with_a_unit_or_a_number_per_second() {
        let read = |text: &str| toml::from_str::<Holder>(text).map(|h| h.rate);
        let mut issues = Issues::new();
        let per_sec =
            |lit: RateLit, issues: &mut Issues| lit.check("rate", issues).map(|r| r.as_per_sec());
        assert_eq!(per_sec(read("rate = \"20k/s\"").unwrap(), &mut issues), Some(20_000.0));
        assert_eq!(per_sec(read("rate = 40000").unwrap(), &mut issues), Some(40_000.0));
        assert_eq!(per_sec(read("rate = 2.5").unwrap(), &mut issues), Some(2.5));
        assert!(issues.is_empty());
        assert_eq!(per_sec(read("rate = -5").unwrap(), &mut issues), None);
        assert!(!issues.is_empty(), "a negative number is refused when checked");
        assert!(read("rate = true").is_err());
    }
}
