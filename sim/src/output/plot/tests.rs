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
        let png = tiny_skia::Pixmap::decode_png(&fig.png).unwrap();
        assert_eq!((png.width(), png.height()), (style::WIDTH, style::HEIGHT));
        assert!(png.pixels().iter().all(|p| p.alpha() == 255), "opaque");
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

fn titled(title: &str) -> Chart {
    Chart {
        title: title.into(),
        x_label: "time (s)".into(),
        y_label: "rate".into(),
        kind: Kind::Lines {
            series: vec![Series { name: "a".into(), points: vec![(0.0, 1.0), (10.0, 2.0)] }],
            log_x: false,
            levels: Vec::new(),
        },
        markers: Vec::new(),
        axes: Axes::default(),
    }
}

/// The PNG is the same bytes every time, whichever thread draws it.
#[test]
fn a_png_is_the_same_bytes_every_time() {
    let chart = titled("User success rate");
    let once = render(&chart).unwrap().png;
    assert_eq!(render(&chart).unwrap().png, once);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4).map(|_| scope.spawn(|| render(&chart).unwrap().png)).collect();
        for thread in threads {
            assert!(thread.join().unwrap() == once, "a thread drew other bytes");
        }
    });
}

/// The columns of the title's band (the figure's top 36 pixels, above the plot) holding dark
/// pixels.
fn title_ink(png: &tiny_skia::Pixmap) -> Vec<u32> {
    (0..png.width())
        .filter(|&x| (0..36).any(|y| png.pixel(x, y).is_some_and(|p| p.red() < 128)))
        .collect()
}

/// Issue #21: PNG text is drawn with the embedded font, where the SVG puts it (the title is
/// centred); with no font there would be no text at all.
#[test]
fn png_text_is_drawn_with_the_embedded_font_where_the_svg_puts_it() {
    let svg = render(&titled("User success rate")).unwrap().svg;
    let ink = title_ink(&rasterize(&svg, fonts()).unwrap());
    assert!(ink.len() > 100, "title ink in {} columns", ink.len());
    let (left, right) = (ink[0], ink[ink.len() - 1]);
    assert!(right - left > 150, "title ink in columns {left}..{right}");
    let centre = (left + right) as f64 / 2.0;
    assert!((centre - style::WIDTH as f64 / 2.0).abs() < 4.0, "title centred at {centre}");
    let empty = Arc::new(usvg::fontdb::Database::new());
    assert!(title_ink(&rasterize(&svg, empty).unwrap()).is_empty(), "a title without a font");
}
