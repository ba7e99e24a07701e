//! Tests of the figures.

use super::*;

#[test]
fn every_kind_renders_to_svg_and_png() {
    let s = |name: &str, k: f64| Series {
        name: name.into(),
        points: (0..10).map(|i| (i as f64, k * i as f64)).collect(),
    };
    let kinds = [
        Kind::Lines { series: vec![s("a", 1.0), s("b", 2.0)], log_x: false, levels: Vec::new() },
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
            axes: Axes::default(),
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
            axes: Axes::default(),
        };
        let fig = render(&chart).unwrap();
        assert!(fig.svg.len() < 200_000, "{} bytes of SVG", fig.svg.len());
    }
}
