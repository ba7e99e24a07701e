//! Configuration: TOML files in, typed values or precise located errors out.
//!
//! [`load`](mod@load) reads a file in tiers (syntax, `--set` [`overrides`], deserialization) and locates
//! every error by key path; callers validate the raw value into a typed one, collecting broken
//! rules as [`Issues`]. [`literal`] holds durations, rates and offsets as written, checked later.

pub mod issues;
pub mod literal;
pub mod load;
pub mod name;
pub mod number_path;
pub mod overrides;
pub mod read;

pub use issues::{Issue, Issues, join_index, join_key};
pub use literal::{DurationLit, OffsetLit, RateLit};
pub use load::{ConfigError, ConfigErrors, Document, Location, load, parse};
pub use name::{MAX_NAME_CHARS, check_name, file_safe};
pub use number_path::check_number_path;
pub use overrides::{Override, apply_override_to, lookup};
pub use read::{MAX_DATA_BYTES, MAX_SCENARIO_BYTES, MAX_SUMMARY_BYTES, open_bounded, read_bounded};
