//! Merging shard files back into exactly the `sweep.csv` and `sweep-summary.csv` an unsharded
//! run writes, after checking every invariant the plan implies: each shard of the split there
//! once and complete, agreeing with the others; its trailer's checksum, row count and failed
//! points matching its rows; every (point, replication, variant) once, every replication of a
//! point that did not fail present; seeds derived from the plan's seed; parameter cells equal to
//! the plan's; numbers finite. Every error names the file (and the line).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::overrides::Override;
use crate::config::read::{MAX_DATA_BYTES, read_bounded};
use crate::experiment::sweep::grid::{Grid, MAX_POINTS};
use crate::experiment::sweep::rows::{parse_rows, summary_csv};
use crate::experiment::sweep::shard::{
    Checksum, Shard, Trailer, cells_text, plan_cells_hash, shard_runs,
};
use crate::output::csv::{Record, records};
use crate::rng::label_hash;

/// Merges the shard files in `dir` into `sweep.csv` and `sweep-summary.csv` text, exactly as an
/// unsharded run writes them. Returns `(sweep.csv, summary)`.
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
    merging.finish(dir)
}

/// The value of `key=` in a shard file's first line.
fn field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}="))).map(str::to_string)
}

/// The plan facts of the first line that the rows are checked against.
struct Plan {
    shard: Shard,
    seed: u64,
    points: usize,
    replications: u64,
    axes: usize,
}

/// Shards read so far.
#[derive(Default)]
struct Merging {
    /// The first shard's first line, which every other must agree with.
    first_line: Option<String>,
    header: Option<String>,
    /// The header's cell count.
    width: usize,
    /// Which shards of the split have been read, by which file.
    seen: Vec<Option<PathBuf>>,
    /// (point, replication, line order, line)
    body: Vec<(usize, u64, usize, String)>,
    /// Each point's parameter-cell hash, from its rows or its shard's failed list.
    cells: BTreeMap<usize, u64>,
    /// Each point's parameter cells, from its first row.
    values: BTreeMap<usize, Vec<String>>,
}

impl Merging {
    /// Reads the shard file at `path` (`first` is the first one read, for messages).
    fn add(&mut self, path: &Path, first: &Path) -> Result<(), String> {
        let text = read_bounded(path, MAX_DATA_BYTES)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let name = path.display().to_string();
        let lines: Vec<&str> = text.lines().collect();
        let line = *lines.first().ok_or_else(|| format!("{name} is empty"))?;
        let plan = self.check_first_line(&name, line, first)?;
        if let Some(other) = self.seen[plan.shard.index as usize].replace(path.into()) {
            return Err(format!(
                "{name}: shard {} of {} appears twice (also {})",
                plan.shard.index,
                plan.shard.count,
                other.display()
            ));
        }
        let expected = shard_runs(plan.shard, plan.points, plan.replications);
        let last = lines.last().copied().unwrap_or("");
        if lines.len() < 2 || !last.starts_with("# complete") {
            return Err(format!(
                "{name} is incomplete (it does not end with `# complete runs={expected} …`): \
                 the shard was interrupted or failed; run it again"
            ));
        }
        let trailer =
            Trailer::parse(last).map_err(|e| format!("{name}: {e}; run the shard again"))?;
        if trailer.runs != expected {
            return Err(format!(
                "{name}: its last line says runs={}, but the plan gives this shard {expected}",
                trailer.runs
            ));
        }
        let body = &lines[1..lines.len() - 1];
        let mut sum = Checksum::default();
        body.iter().for_each(|l| sum.line(l));
        if sum.0 != trailer.checksum {
            return Err(format!(
                "{name}: its lines do not match the checksum of its last line: the file was \
                 edited or damaged; run the shard again"
            ));
        }
        // Between the first and the last line: CSV, the header and then the rows.
        let body = body.join("\n");
        let records = records(&body).map_err(|e| format!("{name}: {e}"))?;
        let rows = match records.split_first() {
            Some((h, rows)) => {
                self.check_header(&name, h)?;
                rows
            }
            None => &[],
        };
        if rows.len() as u64 != trailer.rows {
            return Err(format!(
                "{name}: {} rows, but its last line says rows={}",
                rows.len(),
                trailer.rows
            ));
        }
        self.add_rows(&name, &plan, &trailer, rows)
    }

    /// Checks the first line against the first shard's and returns the plan it states.
    fn check_first_line(&mut self, name: &str, line: &str, first: &Path) -> Result<Plan, String> {
        if !line.starts_with("# sweep-shard ") {
            return Err(format!("{name} is not a sweep shard file"));
        }
        let reference = self.first_line.get_or_insert_with(|| line.to_string()).clone();
        for key in ["plan", "seed", "version", "points", "replications", "axes", "cells"] {
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
            .ok_or_else(|| format!("{name}: bad shard=i/n in its first line"))?;
        let number = |key: &str| {
            field(line, key)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{name}: bad {key}= in its first line"))
        };
        let plan = Plan {
            shard,
            seed: number("seed")?,
            points: number("points")? as usize,
            replications: number("replications")?,
            axes: number("axes")? as usize,
        };
        if shard.count > MAX_POINTS as u64 || plan.points > MAX_POINTS {
            return Err(format!("{name}: implausible shard count or points in its first line"));
        }
        if field(line, "cells").is_none() {
            return Err(format!("{name}: no cells= in its first line (an older version?)"));
        }
        if self.seen.is_empty() {
            self.seen = vec![None; shard.count as usize];
        }
        if shard.count as usize != self.seen.len() {
            return Err(format!(
                "{name} belongs to a {}-way split, not {}",
                shard.count,
                self.seen.len()
            ));
        }
        Ok(plan)
    }

    fn check_header(&mut self, name: &str, header: &Record) -> Result<(), String> {
        match &self.header {
            None => {
                self.header = Some(header.text.to_string());
                self.width = header.cells.len();
            }
            Some(existing) if existing != header.text => {
                return Err(format!("{name} has a different header from the other shards"));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Checks a shard's rows (line 3 onwards of `name`) and keeps them.
    fn add_rows(
        &mut self,
        name: &str,
        plan: &Plan,
        trailer: &Trailer,
        rows: &[Record],
    ) -> Result<(), String> {
        let header = self.width;
        let failed: BTreeMap<usize, u64> = trailer.failed.iter().copied().collect();
        // point → replication → variants, in file order.
        let mut seen: BTreeMap<usize, BTreeMap<u64, Vec<String>>> = BTreeMap::new();
        let mut unique = BTreeSet::new();
        for (order, row) in rows.iter().enumerate() {
            // The body (`row.line` counts in) starts at the file's second line.
            let at = format!("{name}:{}", row.line + 1);
            let (cells, row) = (&row.cells, row.text);
            let bad = |what: &str| format!("{at}: bad {what} in `{row}`");
            if cells.len() != header || header < 4 + plan.axes {
                return Err(format!("{at}: {} cells, the header has {header}", cells.len()));
            }
            let point: usize = cells[0].parse().map_err(|_| bad("point"))?;
            let replication: u64 = cells[1].parse().map_err(|_| bad("replication"))?;
            let seed: u64 = cells[2].parse().map_err(|_| bad("seed"))?;
            if point >= plan.points || point as u64 % plan.shard.count != plan.shard.index {
                return Err(format!("{at}: point {point} does not belong to this shard"));
            }
            if replication >= plan.replications {
                return Err(format!("{at}: replication {replication} is not in the plan"));
            }
            if seed != Grid::seed(plan.seed, replication) {
                return Err(format!(
                    "{at}: seed {seed} is not replication {replication}'s seed under seed={}",
                    plan.seed
                ));
            }
            for cell in cells.iter().skip(4 + plan.axes) {
                if !cell.is_empty() && !cell.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err(format!("{at}: `{cell}` is not a finite number"));
                }
            }
            let variant = cells[3].to_string();
            if !unique.insert((point, replication, variant.clone())) {
                return Err(format!(
                    "{at}: a second row for point {point}, replication {replication}, variant \
                     `{variant}`"
                ));
            }
            let axes = || cells.iter().skip(4).take(plan.axes);
            let hash = label_hash(&cells_text(axes()));
            let known = *self.cells.entry(point).or_insert(hash);
            if known != hash || failed.get(&point).is_some_and(|h| *h != hash) {
                return Err(format!("{at}: the parameter cells of point {point} were edited"));
            }
            self.values.entry(point).or_insert_with(|| axes().map(str::to_string).collect());
            seen.entry(point).or_default().entry(replication).or_default().push(variant);
            self.body.push((point, replication, order, row.to_string()));
        }
        check_complete(name, plan, &failed, &seen)?;
        for (k, h) in failed {
            if *self.cells.entry(k).or_insert(h) != h {
                return Err(format!("{name}: the parameter cells of point {k} were edited"));
            }
        }
        Ok(())
    }

    /// Checks that every shard was read and writes `(sweep.csv, summary)`.
    fn finish(self, dir: &Path) -> Result<(String, String), String> {
        let missing: Vec<String> = self
            .seen
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_none())
            .map(|(i, _)| i.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing shards of {}: {} (in {})",
                self.seen.len(),
                missing.join(", "),
                dir.display()
            ));
        }
        let reference = self.first_line.unwrap_or_default();
        let axis_count: usize = field(&reference, "axes").and_then(|a| a.parse().ok()).unwrap_or(0);
        let points: usize = field(&reference, "points").and_then(|p| p.parse().ok()).unwrap_or(0);
        let stated = field(&reference, "cells").and_then(|c| u64::from_str_radix(&c, 16).ok());
        let hashes: Option<Vec<u64>> = (0..points).map(|k| self.cells.get(&k).copied()).collect();
        if hashes.map(|h| plan_cells_hash(h.into_iter())) != stated {
            return Err(format!(
                "the parameter cells of the shards in {} do not match the plan their first lines \
                 record (cells=): a cell or a failed point was edited",
                dir.display()
            ));
        }
        let Some(header) = self.header else {
            return Err("no shard has any successful run: nothing to merge".into());
        };
        let mut body = self.body;
        body.sort_by_key(|l| (l.0, l.1, l.2));
        let mut sweep_csv = header.clone();
        sweep_csv.push('\n');
        for (_, _, _, line) in &body {
            sweep_csv.push_str(line);
            sweep_csv.push('\n');
        }
        let (metrics, rows) =
            parse_rows(&sweep_csv, axis_count).map_err(|e| format!("{}: {e}", dir.display()))?;
        let header_cells = records(&header).map_err(|e| format!("{}: {e}", dir.display()))?;
        let paths: Vec<String> =
            header_cells[0].cells.iter().skip(4).take(axis_count).map(str::to_string).collect();
        // Point values come back from the rows' parameter cells.
        let mut point_values: Vec<Vec<toml::Value>> = vec![Vec::new(); points];
        for (point, values) in &self.values {
            point_values[*point] = values.iter().map(|c| Override::from_str_value(c)).collect();
        }
        let plan = Grid { paths, points: point_values, replications: 0 };
        let summary = summary_csv(&plan, &metrics, &rows);
        Ok((sweep_csv, summary))
    }
}

/// Every replication of every owned point that did not fail is there, each with the variants of
/// the point's first replication; failed points are the shard's own.
fn check_complete(
    name: &str,
    plan: &Plan,
    failed: &BTreeMap<usize, u64>,
    seen: &BTreeMap<usize, BTreeMap<u64, Vec<String>>>,
) -> Result<(), String> {
    if let Some(k) = failed
        .keys()
        .find(|k| **k >= plan.points || **k as u64 % plan.shard.count != plan.shard.index)
    {
        return Err(format!("{name}: its last line lists point {k}, which it does not own"));
    }
    let owned = (plan.shard.index as usize..plan.points).step_by(plan.shard.count as usize);
    for k in owned {
        let reps = seen.get(&k);
        let variants = reps.and_then(|r| r.values().next());
        if !failed.contains_key(&k) && reps.map_or(0, |r| r.len() as u64) != plan.replications {
            let have = reps.map_or(0, |r| r.len());
            return Err(format!(
                "{name}: point {k} has rows for {have} of its {} replications (a row was \
                 deleted?)",
                plan.replications
            ));
        }
        if let Some((r, _)) = reps.into_iter().flatten().find(|(_, v)| Some(*v) != variants) {
            return Err(format!(
                "{name}: point {k}, replication {r} has other variants than its first replication"
            ));
        }
    }
    Ok(())
}
