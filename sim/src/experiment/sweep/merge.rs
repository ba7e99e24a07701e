//! Merging shard files back into exactly the `sweep.csv` and `sweep-summary.csv` an unsharded
//! run writes, after checking that every shard of the split is there once, complete and agreeing.

use std::path::{Path, PathBuf};

use crate::config::overrides::Override;
use crate::experiment::sweep::grid::{Grid, MAX_POINTS};
use crate::experiment::sweep::rows::{parse_rows, summary_csv};
use crate::experiment::sweep::shard::{Shard, shard_runs, shard_trailer};
use crate::output::csv::{split_csv, unquote_cell};

/// Merges the shard files in `dir` into `sweep.csv` and `sweep-summary.csv` text, exactly as an
/// unsharded run writes them. Every shard of the split must be there once, complete, and agree
/// with the others on the plan, seed, version and header. Returns `(sweep.csv, summary)`.
pub fn merge(dir: &Path) -> Result<(String, String), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sweep-shard-") && n.ends_with(".csv"))
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("no sweep-shard-*.csv files in {}", dir.display()));
    }
    let mut merging = Merging::default();
    for path in &names {
        merging.add(path, &names[0])?;
    }
    merging.finish()
}

/// The value of `key=` in a shard file's first line.
fn field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}="))).map(str::to_string)
}

/// Shards read so far.
#[derive(Default)]
struct Merging {
    /// The first shard's first line, which every other must agree with.
    first_line: Option<String>,
    header: Option<String>,
    /// Which shards of the split have been read.
    seen: Vec<bool>,
    /// (point, replication, line order, line)
    body: Vec<(usize, u64, usize, String)>,
}

impl Merging {
    /// Reads the shard file at `path` (`first` is the first one read, for messages).
    fn add(&mut self, path: &Path, first: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let name = path.display();
        let lines: Vec<&str> = text.lines().collect();
        let line = *lines.first().ok_or_else(|| format!("{name} is empty"))?;
        if !line.starts_with("# sweep-shard ") {
            return Err(format!("{name} is not a sweep shard file"));
        }
        let reference = self.first_line.get_or_insert_with(|| line.to_string()).clone();
        for key in ["plan", "seed", "version", "points", "replications", "axes"] {
            if field(line, key) != field(&reference, key) {
                return Err(format!(
                    "{name} disagrees with {} on {key} ({:?} vs {:?}): shards of different sweeps",
                    first.display(),
                    field(line, key),
                    field(&reference, key)
                ));
            }
        }
        let shard = field(line, "shard")
            .and_then(|s| Shard::parse(&s).ok())
            .ok_or_else(|| format!("{name}: bad shard=i/n"))?;
        if shard.count > MAX_POINTS as u64 {
            return Err(format!("{name}: implausible shard count {}", shard.count));
        }
        if self.seen.is_empty() {
            self.seen = vec![false; shard.count as usize];
        }
        if shard.count as usize != self.seen.len() {
            return Err(format!(
                "{name} belongs to a {}-way split, not {}",
                shard.count,
                self.seen.len()
            ));
        }
        if std::mem::replace(&mut self.seen[shard.index as usize], true) {
            return Err(format!("shard {} of {} appears twice", shard.index, shard.count));
        }
        let number = |key: &str| field(line, key).and_then(|v| v.parse::<u64>().ok());
        let (points, replications) = (
            number("points").ok_or_else(|| format!("{name}: bad points="))? as usize,
            number("replications").ok_or_else(|| format!("{name}: bad replications="))?,
        );
        let expected = shard_runs(shard, points.min(MAX_POINTS), replications);
        let trailer = lines.last().copied().unwrap_or("");
        if trailer != shard_trailer(expected as usize) {
            return Err(format!(
                "{name} is incomplete (it does not end with `{}`): the shard was interrupted or \
                 failed; run it again",
                shard_trailer(expected as usize)
            ));
        }
        let rows = &lines[1..lines.len() - 1];
        let (shard_header, rows) = match rows.first() {
            Some(h) if !h.starts_with('#') => (Some(h.to_string()), &rows[1..]),
            _ => (None, rows),
        };
        if let Some(h) = shard_header {
            match &self.header {
                None => self.header = Some(h),
                Some(existing) if *existing != h => {
                    return Err(format!("{name} has a different header"));
                }
                Some(_) => {}
            }
        }
        for (order, row) in rows.iter().enumerate() {
            let mut cells = row.splitn(3, ',');
            let bad = || format!("{name}: bad row `{row}`");
            let point: usize = cells.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
            let replication: u64 = cells.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
            if point >= points || point as u64 % shard.count != shard.index {
                return Err(format!("{name}: row for point {point} does not belong to this shard"));
            }
            self.body.push((point, replication, order, row.to_string()));
        }
        Ok(())
    }

    /// Checks that every shard was read and writes `(sweep.csv, summary)`.
    fn finish(self) -> Result<(String, String), String> {
        let missing: Vec<String> = self
            .seen
            .iter()
            .enumerate()
            .filter(|(_, s)| !**s)
            .map(|(i, _)| i.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(format!("missing shards of {}: {}", self.seen.len(), missing.join(", ")));
        }
        let reference = self.first_line.unwrap_or_default();
        let Some(header) = self.header else {
            return Err("no shard has any successful run: nothing to merge".into());
        };
        let axis_count: usize = field(&reference, "axes").and_then(|a| a.parse().ok()).unwrap_or(0);
        let points: usize = field(&reference, "points").and_then(|p| p.parse().ok()).unwrap_or(0);
        let mut body = self.body;
        body.sort_by_key(|l| (l.0, l.1, l.2));
        let mut sweep_csv = header.clone();
        sweep_csv.push('\n');
        for (_, _, _, line) in &body {
            sweep_csv.push_str(line);
            sweep_csv.push('\n');
        }
        let (metrics, rows) = parse_rows(&sweep_csv, axis_count)?;
        let header_cells = split_csv(&header);
        if header_cells.len() < 4 + axis_count {
            return Err("the header has fewer columns than the plan has axes".into());
        }
        let paths: Vec<String> =
            header_cells[4..4 + axis_count].iter().map(|c| unquote_cell(c)).collect();
        // Point values come back from the rows' parameter cells.
        let mut point_values: Vec<Vec<toml::Value>> = vec![Vec::new(); points.min(MAX_POINTS)];
        for (point, _, _, line) in &body {
            if point_values[*point].is_empty() {
                let cells = split_csv(line);
                point_values[*point] = cells[4..4 + axis_count]
                    .iter()
                    .map(|c| Override::from_str_value(&unquote_cell(c)))
                    .collect();
            }
        }
        let plan = Grid { paths, points: point_values, replications: 0 };
        let summary = summary_csv(&plan, &metrics, &rows);
        Ok((sweep_csv, summary))
    }
}
