//! Drawing a [`Chart`] on any plotters backend: one function per kind, the legend, vertical
//! markers and dashed reference levels. Lines take a dash pattern and width by series index,
//! so a line lying on another (two components at 100%) still shows.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::chart::{Band, Chart, Kind, Series, font, short, style};

/// Text next to a point: `((x, y), text)`.
type PointLabel = ((f64, f64), String);

pub(super) type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The data's bounds, with room above for the legend, which sits in the upper corner.
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
    ((x0, x1), (y0, y0 + (y1 - y0) * 1.3))
}

/// The ranges a chart is drawn on: the chart's own where it sets them, else the data's.
pub(super) fn ranges(
    chart: &Chart,
    points: impl Iterator<Item = (f64, f64)>,
) -> ((f64, f64), (f64, f64)) {
    let (x, y) = bounds(points);
    (chart.axes.x.unwrap_or(x), chart.axes.y.unwrap_or(y))
}

pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(&chart.title, font(title_size(&chart.title)))
        .margin(style::MARGIN)
        .x_label_area_size(50)
        .y_label_area_size(70);
    match &chart.kind {
        Kind::Lines { series, log_x, levels } => {
            draw_lines(&mut builder, chart, series, *log_x, levels)?
        }
        Kind::Stacked { series } => draw_stacked(&mut builder, chart, series)?,
        Kind::Bars { categories, series } => draw_bars(&mut builder, chart, categories, series)?,
        Kind::Scatter { series, levels, labels } => {
            draw_scatter(&mut builder, chart, series, (levels, labels))?
        }
        Kind::Bands { bands } => draw_bands(&mut builder, chart, bands)?,
    }
    root.present()?;
    Ok(())
}

/// The title's font size: smaller for a long title, so it fits the figure's width (DejaVu
/// Sans averages about 0.6 em per character).
pub(super) fn title_size(title: &str) -> u32 {
    let room = (style::WIDTH - 2 * style::MARGIN) as f64 / 0.6;
    let fits = (room / title.chars().count().max(1) as f64).floor() as u32;
    fits.clamp(12, style::TITLE_SIZE)
}

/// Series `i`'s colour.
fn colour(i: usize) -> RGBColor {
    style::PALETTE[i % style::PALETTE.len()]
}

/// Series `i`'s line: width, and dash (length, gap) in pixels (`None`: solid). The first
/// series is the widest and solid; later ones are thinner and dashed, drawn on top, so a line
/// lying on an earlier one shows both.
pub fn line_pattern(i: usize) -> (u32, Option<(u32, u32)>) {
    const DASHES: [Option<(u32, u32)>; 4] = [None, Some((10, 6)), Some((3, 4)), Some((16, 5))];
    let width = match i {
        0 => 4,
        1 => 3,
        _ => 2,
    };
    (width, DASHES[i % DASHES.len()])
}

/// Draws `points` as series `i`'s line: one path per run of drawable points (a NaN, or a value
/// a log axis cannot show, is a gap), with the legend entry in the same pattern.
fn draw_line<'a, DB, X, Y>(
    c: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    i: usize,
    name: &str,
    points: &[(f64, f64)],
    drawable: impl Fn(f64, f64) -> bool,
) -> DrawResult<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let (width, dash) = line_pattern(i);
    let line = colour(i).stroke_width(width);
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() && drawable(x, y) {
            runs.last_mut().expect("one run").push((x, y));
        } else if !runs.last().expect("one run").is_empty() {
            runs.push(Vec::new());
        }
    }
    // A lone point between gaps is a dot, not nothing.
    for run in runs.iter().filter(|r| r.len() == 1) {
        c.draw_series(std::iter::once(Circle::new(run[0], width, colour(i).filled())))?;
    }
    let runs = runs.into_iter().filter(|r| r.len() > 1);
    let annotation = match dash {
        None => c.draw_series(runs.map(|r| PathElement::new(r, line)))?,
        Some((on, off)) => {
            c.draw_series(runs.map(|r| DashedPathElement::new(r, on, off, line).into_dyn()))?
        }
    };
    annotation.label(name).legend(move |(x, y)| match dash {
        None => PathElement::new(vec![(x, y), (x + 24, y)], line).into_dyn(),
        Some((on, off)) => {
            DashedPathElement::new(vec![(x, y), (x + 24, y)], on, off, line).into_dyn()
        }
    });
    Ok(())
}

/// The ranges of a line chart, with a log axis starting above zero.
fn line_ranges(chart: &Chart, series: &[Series], log_x: bool) -> ((f64, f64), (f64, f64)) {
    let log_y = chart.axes.log_y;
    let positive = |v: f64| v > 0.0 && v.is_finite();
    let points = series.iter().flat_map(|s| s.points.iter().copied());
    let drawn = points.filter(|&(x, y)| (!log_x || positive(x)) && (!log_y || positive(y)));
    let ((x0, x1), (y0, y1)) = ranges(chart, drawn.clone());
    let x = if log_x { (x0.max(1e-9), x1.max(x0.max(1e-9) * 10.0)) } else { (x0, x1) };
    let y = match (log_y, chart.axes.y) {
        (false, _) | (true, Some(_)) => (y0, y1),
        (true, None) => {
            // Down to the smallest value shown, up a decade for the legend.
            let low = drawn.map(|p| p.1).fold(f64::INFINITY, f64::min);
            let low = if low.is_finite() { low.min(1.0) } else { 1.0 };
            let high = (y1 / 1.3).max(low * 10.0);
            (low * 0.8, high * 20.0)
        }
    };
    (x, y)
}

fn draw_lines<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    series: &[Series],
    log_x: bool,
    levels: &[(f64, String)],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, y1)) = line_ranges(chart, series, log_x);
    let position =
        if log_x { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperRight };
    let on = LinesOn { chart, series, levels, x: (x0, x1), position };
    match (log_x, chart.axes.log_y) {
        (false, false) => on.draw(builder.build_cartesian_2d(x0..x1, y0..y1)?),
        (true, false) => on.draw(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?),
        (false, true) => on.draw(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?),
        (true, true) => {
            on.draw(builder.build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?)
        }
    }
}

/// A line chart's parts, drawn on whichever coordinates its axes need.
struct LinesOn<'c> {
    chart: &'c Chart,
    series: &'c [Series],
    levels: &'c [(f64, String)],
    x: (f64, f64),
    position: SeriesLabelPosition,
}

impl LinesOn<'_> {
    fn draw<'a, DB, X, Y>(self, mut c: ChartContext<'a, DB, Cartesian2d<X, Y>>) -> DrawResult<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        mesh(&mut c, self.chart)?;
        let x_lo = self.x.0;
        let log_y = self.chart.axes.log_y;
        for (i, s) in self.series.iter().enumerate() {
            draw_line(&mut c, i, &s.name, &s.points, |x, y| x >= x_lo && (!log_y || y > 0.0))?;
        }
        let y = c.y_range();
        draw_markers(&mut c, &self.chart.markers, y.start, y.end)?;
        draw_levels(&mut c, self.levels, self.x)?;
        legend(&mut c, self.position)
    }
}

/// The axes' descriptions, tick labels and grid, in the style of every figure.
fn mesh<'a, DB, X, Y>(
    c: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    chart: &Chart,
) -> DrawResult<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    c.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .label_style(font(style::LABEL_SIZE))
        .draw()?;
    Ok(())
}

/// A linear range for `build_cartesian_2d`.
fn linear(range: (f64, f64)) -> std::ops::Range<f64> {
    range.0..range.1
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
    let (x, y) = ranges(chart, layers.iter().flat_map(|l| l.iter().map(|(x, _, top)| (*x, *top))));
    let mut c = builder.build_cartesian_2d(linear(x), linear(y))?;
    mesh(&mut c, chart)?;
    for (i, (s, layer)) in series.iter().zip(&layers).enumerate() {
        let mut polygon: Vec<(f64, f64)> = layer.iter().map(|(x, _, top)| (*x, *top)).collect();
        polygon.extend(layer.iter().rev().map(|(x, low, _)| (*x, *low)));
        c.draw_series(std::iter::once(Polygon::new(polygon, colour(i).mix(0.8).filled())))?
            .label(&s.name)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour(i).filled())
            });
    }
    draw_markers(&mut c, &chart.markers, y.0, y.1)?;
    legend(&mut c, SeriesLabelPosition::UpperRight)
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
    // Room above the tallest bar for the legend, a row per series.
    let y1 = if max > 0.0 { max * (1.25 + 0.08 * per as f64) } else { 1.0 };
    // Group i is centred on x = i, so integer ticks carry the category names.
    let (y0, y1) = chart.axes.y.unwrap_or((0.0, y1));
    let mut c = builder.build_cartesian_2d(-0.5..groups as f64 - 0.5, y0..y1)?;
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
    legend(&mut c, SeriesLabelPosition::UpperRight)
}

fn draw_scatter<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    series: &[Series],
    (levels, labels): (&[(f64, String)], &[PointLabel]),
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    // The levels are in range too: an SLO bound above every point still shows.
    let level_points = levels
        .iter()
        .flat_map(|(y, _)| series.iter().flat_map(|s| s.points.first().map(|p| (p.0, *y))));
    let ((x0, x1), y) =
        ranges(chart, series.iter().flat_map(|s| s.points.iter().copied()).chain(level_points));
    let pad = if chart.axes.x.is_some() { 0.0 } else { (x1 - x0) * 0.05 };
    let mut c = builder.build_cartesian_2d(linear((x0 - pad, x1 + pad)), linear(y))?;
    mesh(&mut c, chart)?;
    for (i, s) in series.iter().enumerate() {
        c.draw_series(s.points.iter().map(|p| Circle::new(*p, 5, colour(i).filled())))?
            .label(&s.name)
            .legend(move |(x, y)| Circle::new((x + 7, y), 5, colour(i).filled()));
    }
    let text = font(style::LABEL_SIZE - 3).color(&BLACK);
    c.draw_series(labels.iter().map(|(at, label)| {
        EmptyElement::at(*at) + Text::new(label.clone(), (7, -16), text.clone())
    }))?;
    draw_markers(&mut c, &chart.markers, y.0, y.1)?;
    draw_levels(&mut c, levels, (x0 - pad, x1 + pad))?;
    legend(&mut c, SeriesLabelPosition::UpperRight)
}

fn draw_bands<DB: DrawingBackend>(
    builder: &mut ChartBuilder<'_, '_, DB>,
    chart: &Chart,
    bands: &[Band],
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let (x, y) = ranges(
        chart,
        bands
            .iter()
            .flat_map(|b| b.points.iter().flat_map(|(x, lo, _, hi)| [(*x, *lo), (*x, *hi)])),
    );
    let mut c = builder.build_cartesian_2d(linear(x), linear(y))?;
    mesh(&mut c, chart)?;
    for (i, b) in bands.iter().enumerate() {
        let mut polygon: Vec<(f64, f64)> = b.points.iter().map(|(x, _, _, hi)| (*x, *hi)).collect();
        polygon.extend(b.points.iter().rev().map(|(x, lo, _, _)| (*x, *lo)));
        c.draw_series(std::iter::once(Polygon::new(polygon, colour(i).mix(0.2).filled())))?;
        let mid: Vec<(f64, f64)> = b.points.iter().map(|(x, _, m, _)| (*x, *m)).collect();
        draw_line(&mut c, i, &b.name, &mid, |_, _| true)?;
        c.draw_series(mid.into_iter().map(|p| Circle::new(p, 3, colour(i).filled())))?;
    }
    draw_markers(&mut c, &chart.markers, y.0, y.1)?;
    legend(&mut c, SeriesLabelPosition::UpperRight)
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

/// Vertical lines at `(x, label)` from `y0` to `y1`, each labelled next to its top.
fn draw_markers<'a, DB, X, Y>(
    c: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    markers: &[(f64, String)],
    y0: f64,
    y1: f64,
) -> DrawResult<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (x, label) in markers {
        c.draw_series(LineSeries::new(vec![(*x, y0), (*x, y1)], style::MARKER.stroke_width(2)))?
            .label(label)
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], style::MARKER.stroke_width(2))
            });
    }
    Ok(())
}

/// Dashed horizontal reference lines across `x_span`, each labelled at its left end.
fn draw_levels<'a, DB, X, Y>(
    c: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    levels: &[(f64, String)],
    (x_from, x_to): (f64, f64),
) -> DrawResult<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
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
