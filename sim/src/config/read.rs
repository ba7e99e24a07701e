//! Reading input files with limits: only regular files (a FIFO would hang the read, `/dev/zero`
//! would grow it without end), and no more bytes than a documented bound per kind of file.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Scenario files (TOML): 16 MiB, far above any hand-written or generated scenario.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;
/// Result files read back (`summary.json`, `plan.json`, `table.txt`): 256 MiB.
pub const MAX_SUMMARY_BYTES: u64 = 256 << 20;
/// Data files read back or merged (timelines, `sweep.csv`, shard files) and traces: 2 GiB.
pub const MAX_DATA_BYTES: u64 = 2 << 30;

/// Opens `path` for reading if it is a regular file of at most `max` bytes. The error says why
/// not, without the path (callers name the file).
pub fn open_bounded(path: &Path, max: u64) -> Result<File, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    check(&meta, max)?;
    let file = File::open(path).map_err(|e| e.to_string())?;
    // The path may have been swapped between the two looks: check what was opened.
    check(&file.metadata().map_err(|e| e.to_string())?, max)?;
    Ok(file)
}

fn check(meta: &std::fs::Metadata, max: u64) -> Result<(), String> {
    if !meta.is_file() {
        return Err(format!(
            "not a regular file ({}): only regular files are read",
            if meta.is_dir() { "a folder" } else { "a FIFO, socket or device" }
        ));
    }
    if meta.len() > max {
        return Err(format!(
            "{} bytes, over the limit of {} MiB for this kind of file",
            meta.len(),
            max >> 20
        ));
    }
    Ok(())
}

/// Reads `path` as UTF-8 text if it is a regular file of at most `max` bytes (a file that grows
/// while being read is cut off and refused, not followed).
pub fn read_bounded(path: &Path, max: u64) -> Result<String, String> {
    let file = open_bounded(path, max)?;
    let mut text = String::new();
    file.take(max + 1).read_to_string(&mut text).map_err(|e| e.to_string())?;
    if text.len() as u64 > max {
        return Err(format!("grew past the limit of {} MiB while being read", max >> 20));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_and_oversized_files_are_refused() {
        assert!(read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err().contains("regular"));
        assert!(read_bounded(Path::new("/"), 1 << 20).unwrap_err().contains("folder"));
        let path = std::env::temp_dir().join(format!("sim-read-{}", std::process::id()));
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap(), "0123456789");
        assert!(read_bounded(&path, 9).unwrap_err().contains("over the limit"));
        std::fs::remove_file(path).unwrap();
    }
}
