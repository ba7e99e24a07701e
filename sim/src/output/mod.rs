//! Output for people and machines: result files written atomically ([`atomic`]), output
//! folders replaced whole with a manifest ([`folder`]), CSV through the `csv` crate
//! ([`csv`]), aligned terminal tables ([`table`]) and figures as SVG and PNG ([`plot`]).

pub mod atomic;
pub mod csv;
pub mod folder;
pub mod plot;
pub mod table;
pub mod thin;

pub use atomic::{json_bytes, write_atomic};
