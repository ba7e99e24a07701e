//! Helpers every subcommand shares: reading `--set` and `--jobs` arguments, the worker count,
//! checking the output folder before any work, whether to colour, and the process's peak memory.

use std::path::Path;

use crate::config::overrides::Override;
use crate::output::atomic::temp_file_in;
use crate::output::folder::clean_stale;

/// The most worker threads `--jobs` accepts (a typo like `--jobs 1000000000` would otherwise
/// try to start a billion threads).
pub const MAX_JOBS: usize = 1024;

/// Parses `--jobs N`: a whole number from 1 to [`MAX_JOBS`].
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {MAX_JOBS} (got `{text}`)")),
    }
}

/// Creates the output folder if needed and proves it writable by creating (and removing) a
/// temporary file in it — before any simulation, so a bad `--out` costs no minutes of work.
/// Temporary files dead writers left there are removed ([`clean_stale`]).
pub fn check_out_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map(|()| clean_stale(dir))
        .and_then(|()| temp_file_in(dir, "write-check").map(drop))
        .map_err(|e| format!("error: cannot write results to {}: {e}", dir.display()))
}

/// Parses a `--set key.path=value` argument (shared by every command that takes one).
pub fn parse_override(text: &str) -> Result<Override, String> {
    text.parse()
}

/// The worker threads to use: `jobs` if given, else one per core (at most [`MAX_JOBS`]).
pub fn jobs_or_cores(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, MAX_JOBS)
}

/// Whether output bound for a terminal (`on_terminal`) may carry ANSI colour: not when the
/// `NO_COLOR` environment variable is set and non-empty (<https://no-color.org>).
pub fn colour_wanted(on_terminal: bool) -> bool {
    colour_allowed(on_terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// [`colour_wanted`] with the value of `NO_COLOR` given.
fn colour_allowed(on_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    on_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The process's peak resident set size, from `/proc/self/status` on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_non_empty_turns_colour_off() {
        use std::ffi::OsStr;
        assert!(colour_allowed(true, None));
        assert!(colour_allowed(true, Some(OsStr::new(""))), "an empty NO_COLOR is not set");
        assert!(!colour_allowed(true, Some(OsStr::new("1"))));
        assert!(!colour_allowed(true, Some(OsStr::new("false"))), "any non-empty value");
        assert!(!colour_allowed(false, None), "never colour what is not a terminal");
    }
}
