//! A figure's name and chart, as every figure function returns it.

use sim::output::plot::Chart;

/// A figure's data and where it goes: `figures/<name>.svg` and `.png`.
pub struct Named {
    pub name: String,
    pub chart: Chart,
}

/// A file-name-safe form of a variant name.
pub(super) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}
