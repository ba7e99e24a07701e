//! Whether a dotted path names a number in a type's serialised form, checked from the type alone
//! (no value needed): a deserializer that walks the type's `Deserialize` impl along the path,
//! one field at a time, and stops at the first number or at the first field the type lacks.
//!
//! Used to refuse, at load time, a threshold on a metric a summary does not have. The paths are
//! those of the flattened summary (`stations.web.latency.p50_s`): struct fields are
//! checked against the field names; map keys and list entries (keyed by name or index when
//! flattened) depend on the run, so any key is accepted there.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

/// Why a path was refused, or that it names a number.
#[derive(Debug)]
enum Stop {
    /// The path ends at a number (or a flag).
    Number,
    /// The path ends at something that is not a number.
    NotNumber { at: String, what: String },
    /// The path runs on past something with nothing below it.
    Past { at: String, what: String, path: String },
    /// A struct along the path has no such field.
    Unknown { at: String, field: String, fields: &'static [&'static str] },
    /// A `Deserialize` impl failed in its own way.
    Other(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Number => f.write_str("a number"),
            Stop::NotNumber { at, what } => write!(f, "`{at}` is {what}, not a number"),
            Stop::Past { at, what, path } => {
                write!(f, "`{at}` is {what}, with nothing below it (got `{path}`)")
            }
            Stop::Unknown { at, field, fields } => {
                let here = if at.is_empty() { String::new() } else { format!("`{at}` has no ") };
                let what = if at.is_empty() { "no field " } else { "" };
                write!(f, "{here}{what}`{field}` (known: {})", fields.join(", "))
            }
            Stop::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Stop::Other(msg.to_string())
    }
}

/// Checks that `path` (dotted) names a number in `T` as serialised; the error says where the
/// path leaves `T` and, at a struct, which fields it has.
pub fn check_number_path<T: DeserializeOwned>(path: &str) -> Result<(), String> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("`{path}` is not a dotted path (an empty segment)"));
    }
    match T::deserialize(Probe { segments: &segments, depth: 0 }) {
        Err(Stop::Number) => Ok(()),
        // A type that deserialises without reading anything has no number either.
        Ok(_) => Err(format!("`{path}` is not a number")),
        Err(stop) => Err(stop.to_string()),
    }
}

/// The walk: `segments[..depth]` have been followed.
struct Probe<'p> {
    segments: &'p [&'p str],
    depth: usize,
}

impl<'p> Probe<'p> {
    fn at(&self) -> String {
        self.segments[..self.depth].join(".")
    }
    fn next(&self) -> Option<&'p str> {
        self.segments.get(self.depth).copied()
    }
    fn deeper(&self) -> Probe<'p> {
        Probe { segments: self.segments, depth: self.depth + 1 }
    }
    fn number(&self) -> Stop {
        match self.next() {
            None => Stop::Number,
            Some(_) => self.past("a number"),
        }
    }
    fn not_number(&self, what: &str) -> Stop {
        match self.next() {
            None => Stop::NotNumber { at: self.at(), what: what.into() },
            Some(_) => self.past(what),
        }
    }
    fn past(&self, what: &str) -> Stop {
        Stop::Past { at: self.at(), what: what.into(), path: self.segments.join(".") }
    }
    /// Any key, then the rest of the path: for maps and lists, whose keys depend on the run.
    fn any_key<V: Visitor<'p>>(self, what: &str, visitor: V, seq: bool) -> Result<V::Value, Stop> {
        let Some(key) = self.next() else {
            return Err(Stop::NotNumber { at: self.at(), what: what.into() });
        };
        let access = One { key: Some(key), value: Some(self.deeper()) };
        if seq { visitor.visit_seq(access) } else { visitor.visit_map(access) }
    }
}

macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'p>>(self, _: V) -> Result<V::Value, Stop> {
            Err(self.number())
        }
    )*};
}

macro_rules! texts {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'p>>(self, _: V) -> Result<V::Value, Stop> {
            Err(self.not_number("text"))
        }
    )*};
}

impl<'p> de::Deserializer<'p> for Probe<'p> {
    type Error = Stop;

    numbers! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64
    }
    texts! {
        deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_identifier
    }

    fn deserialize_any<V: Visitor<'p>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop::Other(format!("`{}` cannot be checked", self.segments.join("."))))
    }
    fn deserialize_ignored_any<V: Visitor<'p>>(self, v: V) -> Result<V::Value, Stop> {
        self.deserialize_any(v)
    }
    fn deserialize_option<V: Visitor<'p>>(self, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_some(self)
    }
    fn deserialize_unit<V: Visitor<'p>>(self, _: V) -> Result<V::Value, Stop> {
        Err(self.not_number("empty"))
    }
    fn deserialize_unit_struct<V: Visitor<'p>>(self, _: &str, v: V) -> Result<V::Value, Stop> {
        self.deserialize_unit(v)
    }
    fn deserialize_newtype_struct<V: Visitor<'p>>(self, _: &str, v: V) -> Result<V::Value, Stop> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'p>>(self, visitor: V) -> Result<V::Value, Stop> {
        self.any_key("a list", visitor, true)
    }
    fn deserialize_tuple<V: Visitor<'p>>(self, len: usize, v: V) -> Result<V::Value, Stop> {
        match self.next().map(str::parse::<usize>) {
            Some(Ok(i)) if i < len => {
                // Entries before `i` are skipped by yielding nothing for them: reach `i` by
                // probing it as the first entry (all entries of our tuples share a type).
                self.any_key("a list", v, true)
            }
            Some(_) => Err(self.past(&format!("a list of {len} (0 to {})", len.max(1) - 1))),
            None => Err(Stop::NotNumber { at: self.at(), what: "a list".into() }),
        }
    }
    fn deserialize_tuple_struct<V: Visitor<'p>>(
        self,
        _: &str,
        len: usize,
        v: V,
    ) -> Result<V::Value, Stop> {
        self.deserialize_tuple(len, v)
    }
    fn deserialize_map<V: Visitor<'p>>(self, visitor: V) -> Result<V::Value, Stop> {
        self.any_key("a table", visitor, false)
    }
    fn deserialize_struct<V: Visitor<'p>>(
        self,
        _: &str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        match self.next() {
            None => Err(Stop::NotNumber {
                at: self.at(),
                what: format!("a table (of {})", fields.join(", ")),
            }),
            Some(field) if fields.contains(&field) => {
                visitor.visit_map(One { key: Some(field), value: Some(self.deeper()) })
            }
            Some(field) => Err(Stop::Unknown { at: self.at(), field: field.into(), fields }),
        }
    }
    fn deserialize_enum<V: Visitor<'p>>(
        self,
        _: &str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        Err(self.not_number("text"))
    }
}

/// One entry of a map, struct or list: the key followed, and the probe for its value.
struct One<'p> {
    key: Option<&'p str>,
    value: Option<Probe<'p>>,
}

impl<'p> MapAccess<'p> for One<'p> {
    type Error = Stop;
    fn next_key_seed<K: DeserializeSeed<'p>>(&mut self, seed: K) -> Result<Option<K::Value>, Stop> {
        self.key.take().map(|k| seed.deserialize(k.into_deserializer())).transpose()
    }
    fn next_value_seed<S: DeserializeSeed<'p>>(&mut self, seed: S) -> Result<S::Value, Stop> {
        let probe = self.value.take().ok_or_else(|| Stop::Other("no value".into()))?;
        seed.deserialize(probe)
    }
}

impl<'p> SeqAccess<'p> for One<'p> {
    type Error = Stop;
    fn next_element_seed<S: DeserializeSeed<'p>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Stop> {
        self.value.take().map(|probe| seed.deserialize(probe)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Inner {
        p50_s: Option<f64>,
        ok: bool,
        label: String,
    }

    #[allow(dead_code)]
    #[derive(Deserialize)]
    struct Outer {
        count: u64,
        latency: Inner,
        maybe: Option<Inner>,
        lines: Vec<Inner>,
        by_name: std::collections::BTreeMap<String, u64>,
        cdf: Vec<(f64, f64)>,
    }

    #[test]
    fn numbers_along_fields_maps_and_lists_are_found() {
        for path in [
            "count",
            "latency.p50_s",
            "latency.ok",
            "maybe.p50_s",
            "lines.web.p50_s",
            "by_name.sold",
            "cdf.3.1",
        ] {
            assert_eq!(check_number_path::<Outer>(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn a_path_off_the_type_says_where_and_what_is_there() {
        let err = check_number_path::<Outer>("latency.p51_s").unwrap_err();
        assert_eq!(err, "`latency` has no `p51_s` (known: p50_s, ok, label)");
        let err = check_number_path::<Outer>("countt").unwrap_err();
        assert!(err.starts_with("no field `countt` (known: count, latency,"), "{err}");
        let err = check_number_path::<Outer>("latency").unwrap_err();
        assert_eq!(err, "`latency` is a table (of p50_s, ok, label), not a number");
        let err = check_number_path::<Outer>("latency.label").unwrap_err();
        assert_eq!(err, "`latency.label` is text, not a number");
        assert!(check_number_path::<Outer>("count.x").is_err());
        assert!(check_number_path::<Outer>("cdf.0.2").is_err());
        assert!(check_number_path::<Outer>("lines").is_err());
        assert!(check_number_path::<Outer>("latency..p50_s").is_err());
    }
}
