//! What a sweep prints when it ends: per point and variant, the axis values and the chosen
//! metrics as `mean ± 95% half-width`, read from the summary it has just written. Axes are
//! named by a short label ([`axis_label`]), metrics by the last two segments of their key.

use crate::output::csv::reader;
use crate::output::table::TextTable;

/// A short label for an axis path: `variant[fast].station[web].servers` →
/// `station[web].servers (fast)`; another path keeps at most its last two segments
/// (`traffic.users`, `retry.max_attempts`).
pub fn axis_label(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("variant[")
        && let Some((variant, key)) = rest.split_once("].")
    {
        return format!("{key} ({variant})");
    }
    last_segments(path)
}

/// A key's last two dotted segments: `a.b.c.d` → `c.d`.
fn last_segments(key: &str) -> String {
    let segments: Vec<&str> = key.split('.').collect();
    segments[segments.len().saturating_sub(2)..].join(".")
}

/// A number for people: whole numbers as integers, others to four significant figures.
pub fn human_number(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{x:.digits$}")
}

/// The table of `metrics` (dotted keys, as in the summary's `<key>.mean` columns) by point and
/// variant, from `summary` (the text of `sweep-summary.csv`, every column still in it); `None`
/// when none of them is in the summary.
pub fn terminal_summary(summary: &str, metrics: &[String], paths: &[String]) -> Option<String> {
    let mut input = reader(summary.as_bytes());
    let mut lines = input.records().filter_map(Result::ok);
    let header: Vec<String> = lines.next()?.iter().map(str::to_string).collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let found: Vec<(&String, usize, Option<usize>)> = metrics
        .iter()
        .filter_map(|m| Some((m, col(&format!("{m}.mean"))?, col(&format!("{m}.ci95")))))
        .collect();
    if found.is_empty() {
        return None;
    }
    let axes: Vec<(String, usize)> =
        paths.iter().filter_map(|p| Some((axis_label(p), col(p)?))).collect();
    let mut titles = vec!["point".to_string(), "variant".to_string()];
    titles.extend(axes.iter().map(|(label, _)| label.clone()));
    titles.extend(found.iter().map(|(m, _, _)| last_segments(m)));
    let mut table = TextTable::new(titles);
    for cells in lines {
        if cells.len() != header.len() {
            continue;
        }
        let mut row = vec![cells[0].to_string(), cells[1].to_string()];
        row.extend(axes.iter().map(|(_, i)| cells[*i].to_string()));
        for (_, mean, ci) in &found {
            let mean: f64 = cells[*mean].parse().unwrap_or(f64::NAN);
            let ci = ci.and_then(|i| cells[i].parse::<f64>().ok()).filter(|h| h.is_finite());
            row.push(match ci {
                Some(h) => format!("{} ± {}", human_number(mean), human_number(h)),
                None => human_number(mean),
            });
        }
        table.row(row);
    }
    Some(format!("means over the replications ± 95% confidence half-width\n{}", table.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chosen_metrics_print_with_their_intervals() {
        let summary = "point,variant,replications,variant[v].web.servers,a.b.mean,a.b.sd,a.b.ci95\n\
                       0,v,3,4,0.25,0.1,0.012345\n\
                       1,v,3,8,4064,0,0\n";
        let paths = ["variant[v].web.servers".to_string()];
        let text = terminal_summary(summary, &["a.b".into(), "missing".into()], &paths).unwrap();
        assert!(text.contains("web.servers (v)"), "{text}");
        assert!(text.contains("0.2500 ± 0.01235"), "{text}");
        assert!(text.contains("4064 ± 0"), "{text}");
        assert!(!text.contains("missing"));
        assert!(terminal_summary(summary, &["missing".into()], &paths).is_none());
        assert_eq!(axis_label("traffic.client.retry.max_attempts"), "retry.max_attempts");
    }
}
