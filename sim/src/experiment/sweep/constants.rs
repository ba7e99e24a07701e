//! Constant columns of a sweep summary, moved to a side file: a metric whose mean, deviation
//! and interval are the same at every point and for every variant says nothing about the sweep,
//! and hundreds of them bury the dozens that move. `sweep-summary.csv` keeps the rest;
//! `sweep-constants.csv` lists each constant metric once (`metric,mean,sd,ci95`).

use csv::StringRecord;

use crate::output::csv::{line, reader};

/// The side file's name, next to `sweep-summary.csv`.
pub const CONSTANTS_FILE: &str = "sweep-constants.csv";

/// The side file's header.
const CONSTANTS_HEADER: &str = "metric,mean,sd,ci95";

/// Splits a summary (a header line, then rows) into the summary without its constant metrics
/// and the side file listing them. A metric is its three columns `M.mean`, `M.sd`, `M.ci95`;
/// the columns before the metrics (point, variant, replications, axes) are always kept. With
/// fewer than two rows nothing is constant: the summary is returned whole.
pub fn split_constants(summary: &str) -> (String, String) {
    let mut input = reader(summary.as_bytes());
    let mut lines = input.records().filter_map(Result::ok);
    let Some(columns) = lines.next() else {
        return (summary.to_string(), format!("{CONSTANTS_HEADER}\n"));
    };
    let rows: Vec<StringRecord> = lines.filter(|cells| cells.len() == columns.len()).collect();
    let mut keep = vec![true; columns.len()];
    let mut constants = format!("{CONSTANTS_HEADER}\n");
    let names: Vec<&str> = columns.iter().collect();
    let mut i = 0;
    while i + 2 < columns.len() {
        let Some(stem) = names[i].strip_suffix(".mean") else {
            i += 1;
            continue;
        };
        let triplet =
            names[i + 1] == format!("{stem}.sd") && names[i + 2] == format!("{stem}.ci95");
        let same = |k: usize| rows.iter().all(|r| r[k] == rows[0][k]);
        if triplet && rows.len() >= 2 && (i..i + 3).all(same) {
            keep[i..i + 3].iter_mut().for_each(|k| *k = false);
            constants.push_str(&line([stem, &rows[0][i], &rows[0][i + 1], &rows[0][i + 2]]));
            constants.push('\n');
        }
        i += if triplet { 3 } else { 1 };
    }
    let kept = |cells: &StringRecord| -> String {
        line(cells.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c)) + "\n"
    };
    let mut out = kept(&columns);
    for r in &rows {
        out.push_str(&kept(r));
    }
    (out, constants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_metrics_move_to_the_side_file() {
        let summary = "point,variant,replications,a,x.mean,x.sd,x.ci95,y.mean,y.sd,y.ci95\n\
                       0,v,2,1,5,0,0,1.5,0.5,4.5\n\
                       1,v,2,2,5,0,0,2.5,0.5,4.5\n";
        let (kept, constants) = split_constants(summary);
        assert_eq!(
            kept,
            "point,variant,replications,a,y.mean,y.sd,y.ci95\n0,v,2,1,1.5,0.5,4.5\n1,v,2,2,2.5,0.5,4.5\n"
        );
        assert_eq!(constants, "metric,mean,sd,ci95\nx,5,0,0\n");
        // One row: nothing is known to be constant.
        let one = "point,variant,replications,a,x.mean,x.sd,x.ci95\n0,v,1,1,5,,\n";
        assert_eq!(split_constants(one).0, one);
    }
}
