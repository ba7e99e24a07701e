//! Writing result files atomically: a reader sees the old file or the new one, never half of one.
//!
//! Exporters turn results into bytes; [`write_atomic`] is the one function that writes them: to a
//! temporary file in the same directory, flushed to disk, then renamed over the target. The
//! temporary file has an unpredictable name and is created exclusively (`O_EXCL`, via the
//! `tempfile` crate), so a symbolic link planted in a shared output folder is never followed.

use std::fs;
use std::io::Write;
use std::path::Path;

pub use tempfile::NamedTempFile;

/// Creates a fresh temporary file for `name` in `dir`: exclusive creation of an unpredictable
/// name (`.NAME.XXXXXX.tmp`), with the permissions `File::create` would give (0666 less the
/// umask). Dropped without [`NamedTempFile::persist`], it removes itself. The file is locked
/// (`flock`) while it is open, so a later run can tell a dead writer's leftover from a live
/// writer's file ([`crate::output::folder::clean_stale`]).
pub fn temp_file_in(dir: &Path, name: &str) -> std::io::Result<NamedTempFile> {
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir)?;
    // A file system without locks only loses the stale-file cleaning, not the write.
    let _ = tmp.as_file().try_lock();
    Ok(tmp)
}

/// Writes `bytes` to `path` atomically, creating parent directories as needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("output");
    let mut tmp = temp_file_in(dir, name)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Serialises `value` as pretty JSON with a trailing newline.
pub fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("report values serialise");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sim-output-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("nested/out.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        fs::remove_dir_all(dir).unwrap();
    }

    /// Issue #20, defect 2: the old temporary name `.NAME.tmp-PID` was predictable and opened
    /// with create + truncate, so a planted symbolic link overwrote its target.
    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_at_the_old_temporary_name_is_not_followed() {
        let dir = scratch("symlink");
        fs::create_dir_all(dir.join("shared")).unwrap();
        fs::write(dir.join("victim.txt"), "precious\n").unwrap();
        let planted = dir.join(format!("shared/.summary.json.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink("../victim.txt", &planted).unwrap();
        write_atomic(&dir.join("shared/summary.json"), b"{}\n").unwrap();
        assert_eq!(fs::read_to_string(dir.join("victim.txt")).unwrap(), "precious\n");
        assert_eq!(fs::read(dir.join("shared/summary.json")).unwrap(), b"{}\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn results_keep_the_permissions_file_create_gives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        write_atomic(&dir.join("out.json"), b"{}").unwrap();
        fs::File::create(dir.join("probe")).unwrap();
        let mode = |name: &str| fs::metadata(dir.join(name)).unwrap().permissions().mode();
        assert_eq!(mode("out.json"), mode("probe"));
        fs::remove_dir_all(dir).unwrap();
    }
}
