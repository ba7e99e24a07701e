//! Shards: a sweep split across machines. Shard i of n runs the points k with k mod n = i and
//! writes a file that opens with the plan's fingerprint and closes with a completion trailer.

use crate::experiment::sweep::grid::Grid;

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
                        index = index.saturating_sub(min) / step;
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

/// The first line of a shard file: what must agree across shards.
pub fn shard_preamble(
    fingerprint: &str,
    seed: u64,
    version: &str,
    shard: Shard,
    plan: &Grid,
) -> String {
    format!(
        "# sweep-shard plan={fingerprint} seed={seed} version={version} shard={}/{} points={} \
         replications={} axes={}",
        shard.index,
        shard.count,
        plan.points.len(),
        plan.replications,
        plan.paths.len()
    )
}

/// The last line of a shard that ran all its tasks.
pub fn shard_trailer(runs: usize) -> String {
    format!("# complete runs={runs}")
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
    }
}
