//! Stations: where jobs wait for servers. [`station`] is `c` servers in front of a FIFO queue
//! (optionally bounded, with reneging); [`shared`] is processor sharing, every job served at once.

pub mod shared;
pub mod station;

pub use shared::{Completions, SharedStation, Wake};
pub use station::{Admission, Started, Station, StationReport, StationStats, Ticket, report_from};
