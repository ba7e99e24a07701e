//! A figure's name and chart, as every figure function returns it.

use sim::output::plot::Chart;

/// A figure's data and where it goes: `figures/<name>.svg` and `.png`.
pub struct Named {
    pub name: String,
    pub chart: Chart,
}

/// A file-name-safe form of a variant name (validation keeps variants distinct under it).
pub(super) use sim::config::file_safe;
