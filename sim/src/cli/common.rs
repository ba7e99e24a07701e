//! Helpers every subcommand shares: reading `--set` arguments, the worker count, and the
//! process's peak memory.

use crate::config::overrides::Override;

/// Parses a `--set key.path=value` argument (shared by every command that takes one).
pub fn parse_override(text: &str) -> Result<Override, String> {
    text.parse()
}

/// The worker threads to use: `jobs` if given, else one per core.
pub fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The process's peak resident set size, from `/proc/self/status` on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
