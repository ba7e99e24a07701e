//! Shards: a sweep split across machines. Shard i of n runs the points k with k mod n = i and
//! writes a file that opens with the plan's fingerprint and closes with a completion trailer:
//! the runs and rows it holds, the points that failed, and a checksum of every line between,
//! so `merge` refuses a file that was cut, extended or edited.

use crate::experiment::sweep::grid::{Grid, value_text};
use crate::output::csv::{line, text_cell};
use crate::rng::label_hash;

/// Which shard to run: an explicit `--shard i/n` wins; else the index comes from a job array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Parses `i/n` with 0 ≤ i < n.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) =
            text.split_once('/').ok_or_else(|| format!("`{text}` is not of the form i/n"))?;
        let parse = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| format!("`{text}`: `{s}` is not a whole number"))
        };
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index >= count {
            return Err(format!("`{text}`: need 0 ≤ i < n"));
        }
        Ok(Shard { index, count })
    }

    /// The shard from job-array variables (`get` reads the environment), if any is set.
    /// Slurm: `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`;
    /// AWS Batch: `AWS_BATCH_JOB_ARRAY_INDEX` of `AWS_BATCH_JOB_ARRAY_SIZE`; Kubernetes Indexed
    /// Jobs: `JOB_COMPLETION_INDEX` of `count` (the `--shards` flag). Half a pair is an error.
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        count: Option<u64>,
    ) -> Result<Option<Shard>, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            get(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| format!("{name}={v} is not a whole number"))
                })
                .transpose()
        };
        let pairs: [(&str, Option<&str>); 3] = [
            ("SLURM_ARRAY_TASK_ID", Some("SLURM_ARRAY_TASK_COUNT")),
            ("AWS_BATCH_JOB_ARRAY_INDEX", Some("AWS_BATCH_JOB_ARRAY_SIZE")),
            ("JOB_COMPLETION_INDEX", None),
        ];
        for (index_var, count_var) in pairs {
            let index = number(index_var)?;
            let total = match count_var {
                Some(var) => number(var)?.or(count),
                None => count,
            };
            match (index, total) {
                (None, None) => continue,
                (None, Some(_))
                    if count_var.is_some() && number(count_var.unwrap_or(""))?.is_some() =>
                {
                    return Err(format!(
                        "{} is set but {index_var} is not",
                        count_var.unwrap_or("")
                    ));
                }
                (None, Some(_)) => continue,
                (Some(_), None) => {
                    return Err(format!(
                        "{index_var} is set but the shard count is not ({}--shards N)",
                        count_var.map_or(String::new(), |v| format!("{v} or "))
                    ));
                }
                (Some(mut index), Some(total)) => {
                    if index_var == "SLURM_ARRAY_TASK_ID" {
                        // Arrays like --array=1-31:2 number tasks MIN, MIN+STEP, …
                        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
                        if index < min || (index - min) % step != 0 {
                            return Err(format!(
                                "SLURM_ARRAY_TASK_ID={index} is not a task of the array \
                                 (SLURM_ARRAY_TASK_MIN={min}, SLURM_ARRAY_TASK_STEP={step})"
                            ));
                        }
                        index = (index - min) / step;
                    }
                    return Shard::parse(&format!("{index}/{total}")).map(Some);
                }
            }
        }
        if count.is_some() {
            return Err(
                "--shards N needs a shard index: JOB_COMPLETION_INDEX (or use --shard i/n)".into(),
            );
        }
        Ok(None)
    }

    /// The shard file name.
    pub fn file_name(&self) -> String {
        format!("sweep-shard-{}-of-{}.csv", self.index, self.count)
    }
}

/// The first line of a shard file: what must agree across shards, including `cells=`, a hash
/// of every point's parameter cells (see [`plan_cells_hash`]).
pub fn shard_preamble(
    fingerprint: &str,
    seed: u64,
    version: &str,
    shard: Shard,
    plan: &Grid,
) -> String {
    let cells = plan_cells_hash((0..plan.points.len()).map(|k| label_hash(&point_cells(plan, k))));
    format!(
        "# sweep-shard plan={fingerprint} seed={seed} version={version} shard={}/{} points={} \
         replications={} axes={} cells={cells:016x}",
        shard.index,
        shard.count,
        plan.points.len(),
        plan.replications,
        plan.paths.len()
    )
}

/// Point `k`'s parameter cells as its rows hold them, comma-separated.
pub fn point_cells(plan: &Grid, k: usize) -> String {
    cells_text(plan.points[k].iter().map(value_text))
}

/// Parameter cells as a row holds them, comma-separated: the text that `cells=` in a shard's
/// first line and a failed point's hash cover. Text is neutralised like every text cell (a no-op
/// on cells read back from a row). No cells or one empty cell is the empty text, as it was before
/// the `csv` crate wrote these (it quotes a lone empty cell), so older shards still merge.
pub fn cells_text<S: AsRef<str>>(texts: impl IntoIterator<Item = S>) -> String {
    let cells: Vec<String> =
        texts.into_iter().map(|t| text_cell(t.as_ref()).into_owned()).collect();
    if cells.len() <= 1 && cells.iter().all(String::is_empty) {
        return String::new();
    }
    line(&cells)
}

/// The hash of a whole plan's parameter cells from each point's `label_hash(point_cells)`.
pub fn plan_cells_hash(points: impl Iterator<Item = u64>) -> u64 {
    let mut sum = Checksum::default();
    for h in points {
        sum.line(&format!("{h:016x}"));
    }
    sum.0
}

/// FNV-1a-64 over lines, each followed by a newline: the shard trailer's checksum. It detects
/// cut, added and edited lines; it is not a signature (anyone can recompute it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksum(pub u64);

impl Default for Checksum {
    fn default() -> Self {
        Checksum(label_hash(""))
    }
}

impl Checksum {
    /// Adds `line` and its newline.
    pub fn line(&mut self, line: &str) {
        for b in line.bytes().chain([b'\n']) {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The last line of a shard that ran all its tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Tasks (point × replication) the shard owns, all of which ran.
    pub runs: u64,
    /// Result lines between the header and the trailer.
    pub rows: u64,
    /// Points that failed (some of their replications may have rows), with the hash of their
    /// parameter cells, in increasing order.
    pub failed: Vec<(usize, u64)>,
    /// [`Checksum`] of every line between the first and the last.
    pub checksum: u64,
}

impl Trailer {
    /// The line, without its newline.
    pub fn line(&self) -> String {
        let failed = if self.failed.is_empty() {
            "-".to_string()
        } else {
            let parts: Vec<String> =
                self.failed.iter().map(|(k, h)| format!("{k}:{h:016x}")).collect();
            parts.join(",")
        };
        format!(
            "# complete runs={} rows={} failed={failed} checksum={:016x}",
            self.runs, self.rows, self.checksum
        )
    }

    /// Reads a trailer line back.
    pub fn parse(line: &str) -> Result<Trailer, String> {
        let rest = line.strip_prefix("# complete ").ok_or("it does not end with `# complete …`")?;
        let field = |key: &str| {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix(key).and_then(|w| w.strip_prefix('=')))
                .ok_or(format!("its last line has no {key}= (written by an older version?)"))
        };
        let bad = |key: &str| format!("its last line has a malformed {key}=");
        let runs = field("runs")?.parse().map_err(|_| bad("runs"))?;
        let rows = field("rows")?.parse().map_err(|_| bad("rows"))?;
        let checksum = u64::from_str_radix(field("checksum")?, 16).map_err(|_| bad("checksum"))?;
        let failed = match field("failed")? {
            "-" => Vec::new(),
            list => list
                .split(',')
                .map(|part| {
                    let (k, h) = part.split_once(':')?;
                    Some((k.parse().ok()?, u64::from_str_radix(h, 16).ok()?))
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("failed"))?,
        };
        Ok(Trailer { runs, rows, failed, checksum })
    }
}

/// Tasks (point × replication) of `shard` in a plan of `points` points.
pub fn shard_runs(shard: Shard, points: usize, replications: u64) -> u64 {
    let mine = (0..points as u64).filter(|k| k % shard.count == shard.index).count() as u64;
    mine * replications
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_read_back() {
        for failed in [vec![], vec![(3, 0xabc), (7, u64::MAX)]] {
            let t = Trailer { runs: 12, rows: 30, failed, checksum: 0x0123_4567_89ab_cdef };
            assert_eq!(Trailer::parse(&t.line()).unwrap(), t);
        }
        assert!(Trailer::parse("# complete runs=4").unwrap_err().contains("older version"));
    }

    #[test]
    fn job_array_variables_give_the_shard_and_half_a_pair_is_an_error() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            Shard::from_env(
                env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4")]),
                None
            )
            .unwrap(),
            Some(Shard { index: 3, count: 4 })
        );
        assert_eq!(
            Shard::from_env(
                env(&[
                    ("SLURM_ARRAY_TASK_ID", "4"),
                    ("SLURM_ARRAY_TASK_MIN", "1"),
                    ("SLURM_ARRAY_TASK_COUNT", "4")
                ]),
                None
            )
            .unwrap(),
            Some(Shard { index: 3, count: 4 })
        );
        assert_eq!(
            Shard::from_env(
                env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), ("AWS_BATCH_JOB_ARRAY_SIZE", "2")]),
                None
            )
            .unwrap(),
            Some(Shard { index: 0, count: 2 })
        );
        assert_eq!(
            Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")]), Some(3)).unwrap(),
            Some(Shard { index: 1, count: 3 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")]), None).is_err());
        assert!(Shard::from_env(env(&[("SLURM_ARRAY_TASK_ID", "1")]), None).is_err());
        assert!(Shard::from_env(env(&[("AWS_BATCH_JOB_ARRAY_SIZE", "2")]), None).is_err());
        assert!(
            Shard::from_env(
                env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_COUNT", "4")]),
                None
            )
            .is_err()
        );
        assert_eq!(Shard::from_env(env(&[]), None).unwrap(), None);
        // --array=1-7:2 numbers tasks 1, 3, 5, 7: task 5 is the third shard.
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(Shard::from_env(stepped, None).unwrap(), Some(Shard { index: 2, count: 4 }));
        assert!(Shard::from_env(env(&[]), Some(4)).is_err(), "--shards without an index");
        // Issue #20: a task id below the minimum silently ran shard 0.
        let below = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(Shard::from_env(below, None).is_err());
    }
}
