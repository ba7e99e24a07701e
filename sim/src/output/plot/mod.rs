//! Figures: line charts, stacked areas, grouped bars and confidence bands, each rendered as SVG
//! and PNG from one drawing function, with the style in one place.
//!
//! PNG text is drawn with an embedded DejaVu Sans (permissive Bitstream Vera licence, see
//! `assets/DejaVuSans-LICENSE.txt`), so no system font is looked up; SVG text names the family and
//! lets the viewer render it. A figure is data in, bytes out: the caller writes them.

use std::sync::Once;

mod chart;
mod draw;

pub use chart::{Axes, Band, Chart, Kind, Series, short, style};
use draw::draw;
pub use draw::line_pattern;

use crate::output::thin;
use plotters::prelude::*;

static FONT_ONCE: Once = Once::new();

fn register_font() {
    FONT_ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
        // The embedded font is valid; a failure would only lose PNG text, not the figure.
        let _ = plotters::style::register_font(style::FONT, FontStyle::Normal, bytes);
    });
}

/// A rendered figure.
pub struct Figure {
    pub svg: String,
    pub png: Vec<u8>,
}

fn is_long(chart: &Chart) -> bool {
    let long = |series: &[Series]| series.iter().any(|s| s.points.len() > thin::MAX_POINTS);
    match &chart.kind {
        Kind::Lines { series, .. } | Kind::Scatter { series, .. } | Kind::Stacked { series } => {
            long(series)
        }
        _ => false,
    }
}

/// `chart` with every series thinned to about [`thin::MAX_POINTS`] points (see [`thin`]).
pub fn thin(mut chart: Chart) -> Chart {
    match &mut chart.kind {
        Kind::Lines { series, .. } | Kind::Scatter { series, .. } => {
            for s in series {
                s.points = thin::thin_points(std::mem::take(&mut s.points));
            }
        }
        Kind::Stacked { series } => {
            let layers = series.iter_mut().map(|s| std::mem::take(&mut s.points)).collect();
            for (s, points) in series.iter_mut().zip(thin::thin_layers(layers)) {
                s.points = points;
            }
        }
        _ => {}
    }
    chart
}

/// Renders `chart` as SVG and PNG.
pub fn render(chart: &Chart) -> Result<Figure, String> {
    register_font();
    // At most `thin::MAX_POINTS` per series are drawn, whatever the run's length.
    let thinned;
    let chart = if is_long(chart) {
        thinned = thin(chart.clone());
        &thinned
    } else {
        chart
    };
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (style::WIDTH, style::HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(|e| format!("drawing `{}` as SVG: {e}", chart.title))?;
    }
    let mut rgb = vec![0u8; (style::WIDTH * style::HEIGHT * 3) as usize];
    {
        let root =
            BitMapBackend::with_buffer(&mut rgb, (style::WIDTH, style::HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(|e| format!("drawing `{}` as PNG: {e}", chart.title))?;
    }
    let png = encode_png(&rgb, style::WIDTH, style::HEIGHT)?;
    Ok(Figure { svg, png })
}

/// Encodes an RGB buffer as PNG (compressed, deterministic).
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, width, height, image::ColorType::Rgb8)
        .map_err(|e| format!("encoding PNG: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests;
