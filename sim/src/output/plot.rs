//! Figures: line charts, stacked areas, grouped bars and confidence bands, each rendered as SVG
//! and PNG from one drawing function, with the style in one place.
//!
//! PNG text is drawn with an embedded DejaVu Sans (permissive Bitstream Vera licence, see
//! `assets/DejaVuSans-LICENSE.txt`), so no system font is looked up; SVG text names the family and
//! lets the viewer render it. A figure is data in, bytes out: the caller writes them.

use std::sync::Once;

use crate::output::thin;
use plotters::coord::Shift;
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

static FONT_ONCE: Once = Once::new();

fn register_font() {
    FONT_ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        // The embedded font is valid; a failure would only lose PNG text, not the figure.
        let _ = plotters::style::register_font(style::FONT, FontStyle::Normal, bytes);
    });
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
    /// Unconnected points, one colour per series.
    Scatter { series: Vec<Series> },
}

/// A chart: its kind, labels, and vertical markers `(x, label)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub kind: Kind,
    pub markers: Vec<(f64, String)>,
}

/// A rendered figure.
pub struct Figure {
    pub svg: String,
    pub png: Vec<u8>,
}

fn bounds(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, f64::NEG_INFINITY);
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if !y1.is_finite() || y1 <= y0 {
        y1 = y0 + 1.0;
    }
    // Room above the data for the legend, which sits in the upper corner.
    ((x0, x1), (y0, y0 + (y1 - y0) * 1.3))
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

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

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(&chart.title, font(style::TITLE_SIZE))
        .margin(style::MARGIN)
        .x_label_area_size(50)
        .y_label_area_size(70);
    match &chart.kind {
        Kind::Lines { series, log_x, levels } => {
            draw_lines(&mut builder, chart, series, log_x, levels)?
        }
        Kind::Stacked { series } => draw_stacked(&mut builder, chart, series)?,
        Kind::Bars { categories, series } => draw_bars(&mut builder, chart, categories, series)?,
        Kind::Scatter { series } => draw_scatter(&mut builder, chart, series)?,
        Kind::Bands { bands } => draw_bands(&mut builder, chart, bands)?,
    }
    root.present()?;
    Ok(())
}

/// The figure font at `size`.
fn font(size: u32) -> FontDesc<'static> {
    (style::FONT, size).into_font()
}

/// Series `i`'s colour.
fn colour(i: usize) -> RGBColor {
    style::PALETTE[i % style::PALETTE.len()]
}

fn draw_lines<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    series: &[Series],
    log_x: &bool,
    levels: &[(f64, String)],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, y1)) = bounds(series.iter().flat_map(|s| s.points.iter().copied()));
    if *log_x {
        let lo = x0.max(1e-9);
        let mut c = builder.build_cartesian_2d((lo..x1.max(lo * 10.0)).log_scale(), y0..y1)?;
        c.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .x_label_formatter(&|x| short(*x))
            .y_label_formatter(&|y| short(*y))
            .label_style(font(style::LABEL_SIZE))
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|(x, _)| *x >= lo).collect();
            c.draw_series(LineSeries::new(pts, colour(i).stroke_width(2)))?.label(&s.name).legend(
                move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour(i).stroke_width(2))
                },
            );
        }
        draw_markers(&mut c, &chart.markers, y0, y1)?;
        draw_levels(&mut c, levels, (lo, x1.max(lo * 10.0)))?;
        legend(&mut c, SeriesLabelPosition::LowerRight)?;
    } else {
        let mut c = builder.build_cartesian_2d(x0..x1, y0..y1)?;
        c.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .x_label_formatter(&|x| short(*x))
            .y_label_formatter(&|y| short(*y))
            .label_style(font(style::LABEL_SIZE))
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            c.draw_series(LineSeries::new(s.points.clone(), colour(i).stroke_width(2)))?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour(i).stroke_width(2))
                });
        }
        draw_markers(&mut c, &chart.markers, y0, y1)?;
        draw_levels(&mut c, levels, (x0, x1))?;
        legend(&mut c, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

fn draw_stacked<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    series: &[Series],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    // Layers share the x values; a ragged series is cut to the shortest.
    let n = series.iter().map(|s| s.points.len()).min().unwrap_or(0);
    let mut tops = vec![0.0f64; n];
    let mut layers: Vec<Vec<(f64, f64, f64)>> = Vec::new();
    for s in series {
        let layer: Vec<(f64, f64, f64)> = s
            .points
            .iter()
            .take(n)
            .enumerate()
            .map(|(k, (x, y))| {
                let low = tops[k];
                tops[k] += y;
                (*x, low, tops[k])
            })
            .collect();
        layers.push(layer);
    }
    let ((x0, x1), (y0, y1)) =
        bounds(layers.iter().flat_map(|l| l.iter().map(|(x, _, top)| (*x, *top))));
    let mut c = builder.build_cartesian_2d(x0..x1, y0..y1)?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .label_style(font(style::LABEL_SIZE))
        .draw()?;
    for (i, (s, layer)) in series.iter().zip(&layers).enumerate() {
        let mut polygon: Vec<(f64, f64)> = layer.iter().map(|(x, _, top)| (*x, *top)).collect();
        polygon.extend(layer.iter().rev().map(|(x, low, _)| (*x, *low)));
        c.draw_series(std::iter::once(Polygon::new(polygon, colour(i).mix(0.8).filled())))?
            .label(&s.name)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour(i).filled())
            });
    }
    draw_markers(&mut c, &chart.markers, y0, y1)?;
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    categories: &[String],
    series: &[Series],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let groups = categories.len().max(1);
    let per = series.len().max(1);
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0f64, f64::max);
    let y1 = if max > 0.0 { max * 1.15 } else { 1.0 };
    // Group i is centred on x = i, so integer ticks carry the category names.
    let mut c = builder.build_cartesian_2d(-0.5..groups as f64 - 0.5, 0.0..y1)?;
    let names = categories.to_vec();
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(groups + 1)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .y_label_formatter(&|y| short(*y))
        .label_style(font(style::LABEL_SIZE))
        .draw()?;
    let width = 0.8 / per as f64;
    for (j, s) in series.iter().enumerate() {
        let rects: Vec<Rectangle<(f64, f64)>> = s
            .points
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(g, v)| {
                let left = g - 0.4 + j as f64 * width;
                Rectangle::new([(left, 0.0), (left + width * 0.92, *v)], colour(j).filled())
            })
            .collect();
        c.draw_series(rects)?.label(&s.name).legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour(j).filled())
        });
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

fn draw_scatter<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    series: &[Series],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, y1)) = bounds(series.iter().flat_map(|s| s.points.iter().copied()));
    let pad = (x1 - x0) * 0.05;
    let mut c = builder.build_cartesian_2d((x0 - pad)..(x1 + pad), y0..y1)?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .label_style(font(style::LABEL_SIZE))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        c.draw_series(s.points.iter().map(|p| Circle::new(*p, 5, colour(i).filled())))?
            .label(&s.name)
            .legend(move |(x, y)| Circle::new((x + 7, y), 5, colour(i).filled()));
    }
    draw_markers(&mut c, &chart.markers, y0, y1)?;
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

fn draw_bands<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    bands: &[Band],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, y1)) = bounds(
        bands
            .iter()
            .flat_map(|b| b.points.iter().flat_map(|(x, lo, _, hi)| [(*x, *lo), (*x, *hi)])),
    );
    let mut c = builder.build_cartesian_2d(x0..x1, y0..y1)?;
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .label_style(font(style::LABEL_SIZE))
        .draw()?;
    for (i, b) in bands.iter().enumerate() {
        let mut polygon: Vec<(f64, f64)> = b.points.iter().map(|(x, _, _, hi)| (*x, *hi)).collect();
        polygon.extend(b.points.iter().rev().map(|(x, lo, _, _)| (*x, *lo)));
        c.draw_series(std::iter::once(Polygon::new(polygon, colour(i).mix(0.2).filled())))?;
        let mid: Vec<(f64, f64)> = b.points.iter().map(|(x, _, m, _)| (*x, *m)).collect();
        c.draw_series(LineSeries::new(mid.clone(), colour(i).stroke_width(2)))?
            .label(&b.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour(i).stroke_width(2))
            });
        c.draw_series(mid.into_iter().map(|p| Circle::new(p, 3, colour(i).filled())))?;
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// The legend box, in the style of every figure.
fn legend<'a, DB, CT>(
    c: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((style::FONT, style::LABEL_SIZE).into_font())
        .position(position)
        .draw()?;
    Ok(())
}

fn draw_markers<DB: DrawingBackend, X: plotters::coord::ranged1d::Ranged<ValueType = f64>>(
    c: &mut ChartContext<'_, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    markers: &[(f64, String)],
    y0: f64,
    y1: f64,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    for (x, label) in markers {
        c.draw_series(LineSeries::new(vec![(*x, y0), (*x, y1)], style::MARKER.stroke_width(2)))?
            .label(label)
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], style::MARKER.stroke_width(2))
            });
    }
    Ok(())
}

/// Dashed horizontal reference lines across `x_span`, each labelled at its left end.
fn draw_levels<DB: DrawingBackend, X: plotters::coord::ranged1d::Ranged<ValueType = f64>>(
    c: &mut ChartContext<'_, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    levels: &[(f64, String)],
    (x_from, x_to): (f64, f64),
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    for (y, label) in levels {
        c.draw_series(DashedLineSeries::new(
            vec![(x_from, *y), (x_to, *y)],
            6,
            4,
            style::MARKER.stroke_width(1),
        ))?;
        let text = (style::FONT, style::LABEL_SIZE).into_font().color(&style::MARKER);
        // Anchored at the line's left end, nudged up in pixels so it sits above the dashes.
        c.draw_series(std::iter::once(
            EmptyElement::at((x_from, *y)) + Text::new(label.clone(), (4, -18), text),
        ))?;
    }
    Ok(())
}

fn is_long(chart: &Chart) -> bool {
    let long = |series: &[Series]| series.iter().any(|s| s.points.len() > thin::MAX_POINTS);
    match &chart.kind {
        Kind::Lines { series, .. } | Kind::Scatter { series } | Kind::Stacked { series } => {
            long(series)
        }
        _ => false,
    }
}

/// `chart` with every series thinned to about [`thin::MAX_POINTS`] points (see [`thin`]).
pub fn thin(mut chart: Chart) -> Chart {
    match &mut chart.kind {
        Kind::Lines { series, .. } | Kind::Scatter { series } => {
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
mod tests {
    use super::*;

    #[test]
    fn every_kind_renders_to_svg_and_png() {
        let s = |name: &str, k: f64| Series {
            name: name.into(),
            points: (0..10).map(|i| (i as f64, k * i as f64)).collect(),
        };
        let kinds = [
            Kind::Lines {
                series: vec![s("a", 1.0), s("b", 2.0)],
                log_x: false,
                levels: Vec::new(),
            },
            Kind::Lines {
                series: vec![Series { name: "cdf".into(), points: vec![(0.01, 0.1), (1.0, 0.9)] }],
                log_x: true,
                levels: vec![(0.5, "median".into())],
            },
            Kind::Stacked { series: vec![s("a", 1.0), s("b", 2.0)] },
            Kind::Bars {
                categories: vec!["x".into(), "y".into()],
                series: vec![Series { name: "v".into(), points: vec![(0.0, 1.0), (1.0, 2.0)] }],
            },
            Kind::Bands {
                bands: vec![Band {
                    name: "m".into(),
                    points: vec![(1.0, 0.5, 1.0, 1.5), (2.0, 1.5, 2.0, 2.5)],
                }],
            },
        ];
        for kind in kinds {
            let chart = Chart {
                title: "t".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                kind,
                markers: vec![(1.0, "open".into())],
            };
            let fig = render(&chart).unwrap();
            assert!(fig.svg.starts_with("<svg") && fig.svg.contains("<text"), "svg with text");
            assert_eq!(&fig.png[1..4], b"PNG");
            assert!(fig.png.len() > 1000);
        }
    }

    /// Issue #20, defect 1: every point of a long run was drawn (a 621 MB report.html). A
    /// series of 100,000 points now draws as at most `thin::MAX_POINTS`, spikes kept.
    #[test]
    fn a_long_series_draws_a_bounded_figure() {
        let points: Vec<(f64, f64)> =
            (0..100_000).map(|i| (i as f64 * 0.1, if i == 54_321 { 999.0 } else { 1.0 })).collect();
        for kind in [
            Kind::Lines {
                series: vec![Series { name: "a".into(), points: points.clone() }],
                log_x: false,
                levels: Vec::new(),
            },
            Kind::Stacked { series: vec![Series { name: "a".into(), points }] },
        ] {
            let chart = Chart {
                title: "t".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                kind,
                markers: Vec::new(),
            };
            let fig = render(&chart).unwrap();
            assert!(fig.svg.len() < 200_000, "{} bytes of SVG", fig.svg.len());
        }
    }
}
