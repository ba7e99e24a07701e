//! Figures: line charts, stacked areas, grouped bars and confidence bands, each drawn once as
//! SVG, with the style in one place; the PNG is the SVG rendered by `resvg`, so its text is laid
//! out as in the SVG.
//!
//! One embedded DejaVu Sans (permissive Bitstream Vera licence, see
//! `assets/DejaVuSans-LICENSE.txt`) serves twice: plotters measures the SVG's text with it (where
//! labels and legends go), and it is the only font `resvg` is given, so no system font is looked
//! up and the PNG's bytes are the same on every machine. SVG text names a generic family and lets
//! the viewer render it. A figure is data in, bytes out: the caller writes them.

use std::sync::{Arc, Once, OnceLock};

mod chart;
mod draw;

pub use chart::{Axes, Band, Chart, Kind, Series, short, style};
use draw::draw;
pub use draw::line_pattern;

use crate::output::thin;
use plotters::prelude::*;
use resvg::{tiny_skia, usvg};

/// The embedded font.
const FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
/// The family the embedded font declares.
const EMBEDDED_FAMILY: &str = "DejaVu Sans";

static FONT_ONCE: Once = Once::new();

/// Gives plotters the embedded font to measure text with, for the SVG's layout.
fn register_font() {
    FONT_ONCE.call_once(|| {
        // The embedded font is valid; a failure would only change how text is measured.
        let _ = plotters::style::register_font(style::FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// The fonts PNG text is drawn with: the embedded DejaVu Sans alone, which every family the
/// SVG names (`style::FONT`, a generic family) resolves to.
fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_font_data(FONT_BYTES.to_vec());
            db.set_sans_serif_family(EMBEDDED_FAMILY);
            Arc::new(db)
        })
        .clone()
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
    let png = rasterize(&svg, fonts())
        .and_then(|pixmap| pixmap.encode_png().map_err(|e| e.to_string()))
        .map_err(|e| format!("rendering `{}` as PNG: {e}", chart.title))?;
    Ok(Figure { svg, png })
}

/// `svg` drawn on an opaque white `style::WIDTH × style::HEIGHT` pixmap, its text in `fonts`.
fn rasterize(svg: &str, fonts: Arc<usvg::fontdb::Database>) -> Result<tiny_skia::Pixmap, String> {
    let options =
        usvg::Options { font_family: EMBEDDED_FAMILY.into(), fontdb: fonts, ..Default::default() };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| e.to_string())?;
    let mut pixmap = tiny_skia::Pixmap::new(style::WIDTH, style::HEIGHT)
        .ok_or_else(|| "an empty pixmap".to_string())?;
    pixmap.fill(tiny_skia::Color::WHITE);
    // The SVG is drawn at `style::WIDTH × style::HEIGHT`: one SVG unit is one pixel.
    resvg::render(&tree, tiny_skia::Transform::identity(), &mut pixmap.as_mut());
    Ok(pixmap)
}

#[cfg(test)]
mod tests;
