//! What a figure is, before it is drawn: series, bands, the chart's kind, labels and axes; the
//! style every figure shares, and tick labels for people.

use plotters::prelude::*;

/// Style constants shared by every figure.
pub mod style {
    use plotters::style::RGBColor;
    pub const WIDTH: u32 = 960;
    pub const HEIGHT: u32 = 540;
    pub const FONT: &str = "sans-serif";
    pub const TITLE_SIZE: u32 = 22;
    pub const LABEL_SIZE: u32 = 15;
    pub const MARGIN: u32 = 12;
    /// A colour-blind-safe palette (Okabe–Ito), in series order.
    pub const PALETTE: [RGBColor; 8] = [
        RGBColor(0, 114, 178),
        RGBColor(230, 159, 0),
        RGBColor(0, 158, 115),
        RGBColor(213, 94, 0),
        RGBColor(204, 121, 167),
        RGBColor(86, 180, 233),
        RGBColor(240, 228, 66),
        RGBColor(0, 0, 0),
    ];
    pub const MARKER: RGBColor = RGBColor(120, 120, 120);
}

/// One named series of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One named band: `(x, low, mid, high)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub name: String,
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// What a chart shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Lines, optionally on a log x axis, with dashed horizontal reference lines `(y, label)`
    /// (a CDF's median and 99th percentile, say).
    Lines { series: Vec<Series>, log_x: bool, levels: Vec<(f64, String)> },
    /// Series stacked on a shared x (all series have the same x values).
    Stacked { series: Vec<Series> },
    /// Bars: one group per category, one bar per series (values by category index).
    Bars { categories: Vec<String>, series: Vec<Series> },
    /// Mean lines with shaded low–high bands.
    Bands { bands: Vec<Band> },
    /// Unconnected points, one colour per series; dashed horizontal levels `(y, label)` (an
    /// SLO's bound) and text next to chosen points `((x, y), text)`.
    Scatter { series: Vec<Series>, levels: Vec<(f64, String)>, labels: Vec<((f64, f64), String)> },
}

/// A chart: its kind, labels, vertical markers `(x, label)` and axis options.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub kind: Kind,
    pub markers: Vec<(f64, String)>,
    pub axes: Axes,
}

/// Axis options: fixed ranges (so figures compared side by side share a scale) and a log y
/// axis. The defaults draw the data's ranges, with room above for the legend.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Axes {
    /// The x range drawn, `(from, to)`.
    pub x: Option<(f64, f64)>,
    /// The y range drawn, `(from, to)`.
    pub y: Option<(f64, f64)>,
    /// Lines only: a log y axis (values ≤ 0 are gaps), so a series a hundred times smaller
    /// than another still shows.
    pub log_y: bool,
}

/// The figure font at `size`.
pub(super) fn font(size: u32) -> FontDesc<'static> {
    (style::FONT, size).into_font()
}

/// Tick labels for people: `0`, `0.25`, `12`, `3.5k`, `1.4M`.
pub fn short(x: f64) -> String {
    let a = x.abs();
    let (v, unit) = if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e4 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let text = if (v == v.trunc() && v.abs() < 1e4) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        // Three significant figures, however small (latency ticks in microseconds).
        let digits = (2 - v.abs().log10().floor() as i32).clamp(1, 12) as usize;
        let text = format!("{v:.digits$}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("{text}{unit}")
}
