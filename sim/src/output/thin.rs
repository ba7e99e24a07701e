//! Thinning a chart before it is drawn, so that a figure (its SVG, its PNG and the report page
//! that inlines it) costs memory and time bounded by [`MAX_POINTS`] per series, not by the
//! length of the run. A long series is cut into buckets of consecutive points and each bucket
//! keeps its lowest and highest point, in order: peaks and troughs survive (a spike one
//! interval wide still shows), only the points a pixel could not separate are dropped. A
//! stacked chart keeps, per bucket, the intervals of the lowest and highest total, for every
//! layer, so the layers stay aligned. A bucket with no number keeps one gap.

use std::borrow::Cow;

use crate::output::plot::{Chart, Kind, Series};

/// The most points drawn per series (the figures are 1,000-odd pixels wide).
pub const MAX_POINTS: usize = 2_000;

/// `chart` with every series of more than [`MAX_POINTS`] points thinned.
pub fn thin_chart(chart: &Chart) -> Cow<'_, Chart> {
    let long = |series: &[Series]| series.iter().any(|s| s.points.len() > MAX_POINTS);
    let kind = match &chart.kind {
        Kind::Lines { series, log_x, levels } if long(series) => Kind::Lines {
            series: series.iter().map(thin_series).collect(),
            log_x: *log_x,
            levels: levels.clone(),
        },
        Kind::Scatter { series } if long(series) => {
            Kind::Scatter { series: series.iter().map(thin_series).collect() }
        }
        Kind::Stacked { series } if long(series) => Kind::Stacked { series: thin_stacked(series) },
        _ => return Cow::Borrowed(chart),
    };
    Cow::Owned(Chart { kind, ..chart.clone_labels() })
}

/// `chart` thinned, taking it (a figure's full series are dropped as soon as it is built).
pub fn thin_owned(chart: Chart) -> Chart {
    match thin_chart(&chart) {
        Cow::Borrowed(_) => chart,
        Cow::Owned(thin) => thin,
    }
}

impl Chart {
    /// The chart's labels and markers with an empty kind (for rebuilding it thinned).
    fn clone_labels(&self) -> Chart {
        Chart {
            title: self.title.clone(),
            x_label: self.x_label.clone(),
            y_label: self.y_label.clone(),
            kind: Kind::Scatter { series: Vec::new() },
            markers: self.markers.clone(),
        }
    }
}

/// The ranges of consecutive indices, at most `MAX_POINTS / 2` of them, covering `0..n`.
fn buckets(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let size = n.div_ceil(MAX_POINTS / 2).max(1);
    (0..n).step_by(size).map(move |start| start..(start + size).min(n))
}

/// The indices to keep of values `y` (first, last, and each bucket's lowest and highest
/// finite value; a bucket without one keeps its first index, a gap), in increasing order.
fn keep(y: &[f64]) -> Vec<usize> {
    let mut kept = vec![0];
    for range in buckets(y.len()) {
        let finite = range.clone().filter(|&i| y[i].is_finite());
        let lo = finite.clone().min_by(|&a, &b| y[a].total_cmp(&y[b]));
        let hi = finite.max_by(|&a, &b| y[a].total_cmp(&y[b]));
        match (lo, hi) {
            (Some(lo), Some(hi)) => kept.extend([lo.min(hi), lo.max(hi)]),
            _ => kept.push(range.start),
        }
    }
    kept.push(y.len().saturating_sub(1));
    kept.sort_unstable();
    kept.dedup();
    kept
}

/// One series thinned to at most `MAX_POINTS + 2` points.
pub fn thin_series(series: &Series) -> Series {
    if series.points.len() <= MAX_POINTS {
        return series.clone();
    }
    let y: Vec<f64> = series.points.iter().map(|p| p.1).collect();
    Series {
        name: series.name.clone(),
        points: keep(&y).iter().map(|&i| series.points[i]).collect(),
    }
}

/// Stacked layers thinned on their total, keeping the same intervals in every layer.
fn thin_stacked(series: &[Series]) -> Vec<Series> {
    let n = series.iter().map(|s| s.points.len()).min().unwrap_or(0);
    let total: Vec<f64> = (0..n)
        .map(|k| series.iter().map(|s| s.points[k].1).filter(|y| y.is_finite()).sum())
        .collect();
    let kept = keep(&total);
    series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: kept.iter().map(|&i| s.points[i]).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_series_keep_their_extremes_within_the_bound() {
        let n = 1 << 20;
        let mut points: Vec<(f64, f64)> = (0..n).map(|i| (i as f64, (i % 7) as f64)).collect();
        points[123_457].1 = 1e9; // a one-interval spike
        points[999_999].1 = -5.0;
        points[500_000].1 = f64::NAN;
        let s = Series { name: "s".into(), points };
        let thin = thin_series(&s);
        assert!(thin.points.len() <= MAX_POINTS + 2, "{}", thin.points.len());
        assert!(thin.points.contains(&(123_456.0 + 1.0, 1e9)));
        assert!(thin.points.contains(&(999_999.0, -5.0)));
        assert_eq!(thin.points.first(), s.points.first());
        assert_eq!(thin.points.last(), s.points.last());
        assert!(thin.points.windows(2).all(|w| w[0].0 < w[1].0), "in order");
        let short = Series { name: "s".into(), points: vec![(0.0, 1.0), (1.0, f64::NAN)] };
        assert_eq!(thin_series(&short).points.len(), 2);
        let layers = vec![s.clone(), Series { name: "t".into(), points: s.points.clone() }];
        let stacked = thin_stacked(&layers);
        assert_eq!(stacked[0].points.len(), stacked[1].points.len());
        assert!(stacked[0].points.len() <= MAX_POINTS + 2);
    }
}
