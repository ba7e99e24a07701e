//! Thinning a chart before it is drawn, so that a figure (its SVG, its PNG and the report page
//! that inlines it) costs memory and time bounded by [`MAX_POINTS`] per series, not by the
//! length of the run. A long series is cut into buckets of consecutive points and each bucket
//! keeps its lowest and highest point, in order: peaks and troughs survive (a spike one
//! interval wide still shows), only the points a pixel could not separate are dropped. A
//! stacked chart keeps, per bucket, the intervals of the lowest and highest total, for every
//! layer, so the layers stay aligned. A bucket with no number keeps one gap. (`plot::thin`
//! applies this to a chart; this module knows only points, so it imports nothing.)

/// The most points drawn per series (the figures are 1,000-odd pixels wide).
pub const MAX_POINTS: usize = 2_000;

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

/// A series' points thinned to at most `MAX_POINTS + 2`.
pub fn thin_points(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let y: Vec<f64> = points.iter().map(|p| p.1).collect();
    keep(&y).iter().map(|&i| points[i]).collect()
}

/// Stacked layers thinned on their total, keeping the same intervals in every layer (cut to
/// the shortest layer, as the stack is drawn).
pub fn thin_layers(layers: Vec<Vec<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let n = layers.iter().map(Vec::len).min().unwrap_or(0);
    if layers.iter().all(|l| l.len() <= MAX_POINTS) {
        return layers;
    }
    let total: Vec<f64> =
        (0..n).map(|k| layers.iter().map(|l| l[k].1).filter(|y| y.is_finite()).sum()).collect();
    let kept = keep(&total);
    layers.iter().map(|l| kept.iter().map(|&i| l[i]).collect()).collect()
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
        let thin = thin_points(points.clone());
        assert!(thin.len() <= MAX_POINTS + 2, "{}", thin.len());
        assert!(thin.contains(&(123_457.0, 1e9)));
        assert!(thin.contains(&(999_999.0, -5.0)));
        assert_eq!(thin.first(), points.first());
        assert_eq!(thin.last(), points.last());
        assert!(thin.windows(2).all(|w| w[0].0 < w[1].0), "in order");
        assert_eq!(thin_points(vec![(0.0, 1.0), (1.0, f64::NAN)]).len(), 2);
        let stacked = thin_layers(vec![points.clone(), points]);
        assert_eq!(stacked[0].len(), stacked[1].len());
        assert!(stacked[0].len() <= MAX_POINTS + 2);
    }
}
