//! The memory budget: what a scenario is estimated to need (the catalogue says) against what the
//! machine can give — `--max-memory` if given, else the smaller of the cgroup's limit and
//! `MemAvailable` in `/proc/meminfo` — checked before anything is simulated (issue #20, defect 4).

use std::path::Path;

/// What a scenario is estimated to need at its peak, and what drives the estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    pub bytes: u64,
    /// The scenario key that drives the estimate (e.g. a population size), to name in errors.
    pub field: String,
    /// How the figure was made, for people (e.g. "3 variants × 1,000,000 users").
    pub basis: String,
}

/// The memory a run may use, and where that figure comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub bytes: u64,
    pub source: String,
}

/// Parses `--max-memory`: a whole number of bytes with an optional unit `K`, `M`, `G`, `T`
/// (powers of 1024; `KiB`, `MB`, … are read the same way), e.g. `8G`, `512M`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().trim_end_matches('B').trim_end_matches('I') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use K, M, G or T)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size like 8G"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("`{text}` must be at least 1 byte and below an exabyte"));
    }
    Ok(bytes as u64)
}

/// A number of bytes as people read it (`1.5 GB`), in powers of 1000.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match b {
        _ if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        _ if b >= 1e6 => format!("{:.0} MB", b / 1e6),
        _ => format!("{:.0} kB", b / 1e3),
    }
}

/// The value in kB of `key` in a `/proc/meminfo`-style text, in bytes.
fn meminfo_bytes(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.split(':').next() == Some(key))?;
    let kib: u64 = line.split(':').nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// A cgroup limit file's value: a number of bytes, `None` for `max` or an absurd "no limit".
fn cgroup_limit(path: &Path) -> Option<u64> {
    let text = crate::config::read_bounded(path, 4096).ok()?;
    text.trim().parse::<u64>().ok().filter(|&b| b < 1 << 60)
}

/// The machine's budget: the smaller of the cgroup's memory limit (v2 `memory.max` of this
/// process's cgroup, else v1 `memory.limit_in_bytes`) and `MemAvailable` (else `MemTotal`).
/// `None` when neither can be read (not Linux): then only `--max-memory` is enforced.
pub fn machine_budget() -> Option<Budget> {
    let meminfo = crate::config::read_bounded(Path::new("/proc/meminfo"), 1 << 16).ok();
    let available = meminfo.as_deref().and_then(|text| {
        meminfo_bytes(text, "MemAvailable")
            .map(|b| Budget { bytes: b, source: "MemAvailable in /proc/meminfo".into() })
            .or_else(|| {
                meminfo_bytes(text, "MemTotal")
                    .map(|b| Budget { bytes: b, source: "MemTotal in /proc/meminfo".into() })
            })
    });
    let own = crate::config::read_bounded(Path::new("/proc/self/cgroup"), 1 << 16)
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("0::").map(str::to_string)));
    let mut candidates = Vec::new();
    if let Some(rel) = own {
        candidates.push(Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/')));
    }
    candidates.push("/sys/fs/cgroup".into());
    let cgroup = candidates
        .iter()
        .map(|dir| dir.join("memory.max"))
        .chain([Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").to_path_buf()])
        .find_map(|path| {
            cgroup_limit(&path).map(|b| Budget { bytes: b, source: path.display().to_string() })
        });
    match (available, cgroup) {
        (Some(a), Some(c)) => Some(if c.bytes < a.bytes { c } else { a }),
        (a, c) => a.or(c),
    }
}

/// Refuses `concurrent` runs of `estimate` each that do not fit in `budget` (the flag's, else
/// the machine's); the message names the field, the estimate and the budget's source.
pub fn check(
    estimate: &MemoryEstimate,
    concurrent: usize,
    max_memory: Option<u64>,
) -> Result<(), String> {
    let budget = match max_memory {
        Some(bytes) => Budget { bytes, source: "--max-memory".into() },
        None => match machine_budget() {
            Some(budget) => budget,
            None => return Ok(()),
        },
    };
    let need = estimate.bytes.saturating_mul(concurrent.max(1) as u64);
    if need <= budget.bytes {
        return Ok(());
    }
    let runs = if concurrent > 1 {
        format!(" × {concurrent} runs at once (--jobs) = {}", human(need))
    } else {
        String::new()
    };
    Err(format!(
        "error: `{}`: this scenario needs about {} of memory ({}){runs}, more than the {} \
         available ({}); lower `{}`{}, or set the budget with --max-memory (e.g. \
         --max-memory 64G) if the machine has more",
        estimate.field,
        human(estimate.bytes),
        estimate.basis,
        human(budget.bytes),
        budget.source,
        estimate.field,
        if concurrent > 1 { " or --jobs" } else { "" },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("8G"), Ok(8 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5g"), Ok(3 << 29));
        assert!(parse_bytes("8X").is_err() && parse_bytes("").is_err());
        assert!(parse_bytes("0").is_err() && parse_bytes("-1G").is_err());
    }

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n";
        assert_eq!(meminfo_bytes(text, "MemAvailable"), Some(1_024_000));
        assert_eq!(meminfo_bytes(text, "MemFree"), None);
    }

    #[test]
    fn a_run_over_the_budget_is_refused_naming_the_field() {
        let estimate =
            MemoryEstimate { bytes: 3_000_000_000, field: "population".into(), basis: "b".into() };
        assert!(check(&estimate, 1, Some(4 << 30)).is_ok());
        let err = check(&estimate, 2, Some(4 << 30)).unwrap_err();
        assert!(err.contains("`population`") && err.contains("3.0 GB"), "{err}");
        assert!(err.contains("6.0 GB") && err.contains("--max-memory"), "{err}");
    }
}
