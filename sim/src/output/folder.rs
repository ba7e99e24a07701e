//! Output folders replaced whole: a run's files are written into a hidden staging folder inside
//! the output folder, then moved in and recorded in `manifest.json`, written last.
//!
//! Why staging plus a manifest (issue #20, defect 7), rather than swapping the whole folder:
//! `--out` may be a folder that holds the user's own files (or `.`), and shards of one sweep
//! write into one folder from many processes at once, so the folder itself is never renamed or
//! removed. Instead:
//!
//! * [`Staged::begin`] creates `OUT/.partial-output.XXXXXX/` (exclusive, unpredictable name,
//!   held by a lock for the process's life) and clears what dead writers left in `OUT`: staging
//!   folders and `.NAME.XXXXXX.tmp` files nobody holds a lock on.
//! * Results (and the report drawn from them) are written into the staging folder; until
//!   [`Staged::commit`] the output folder is untouched, so a process killed while simulating,
//!   writing or drawing leaves the previous results whole.
//! * `commit` writes a manifest marked incomplete, renames every staged file into place, deletes
//!   the files the previous manifest listed that this run did not write, and writes the complete
//!   manifest last. A kill during those renames leaves the incomplete manifest, and
//!   [`verify`] (what `report` calls) refuses the folder.
//!
//! The deletion rule: a file is deleted only if the folder's manifest lists it (so this program wrote
//! it), its path stays inside the folder, it is a regular file, and its size and checksum are
//! still what was written. A file the user created or edited is never deleted.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::output::atomic::{json_bytes, write_atomic};

/// The manifest's file name in an output folder.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's marker, so a user's own `manifest.json` is never taken for one.
const MARKER: &str = "sim output manifest v1";
/// Staging folders are `OUT/.partial-output.XXXXXX`.
const STAGE_PREFIX: &str = ".partial-output.";
/// The lock file inside a staging folder, held while its writer lives.
const LOCK: &str = ".lock";
/// A temporary file or staging folder nobody holds a lock on is stale once this old (the age
/// covers the instant between its creation and its lock).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// What a listed file is: a result the report reads, or a file the report drew.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Result,
    Report,
}

/// One file of the folder as it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the folder, `/`-separated.
    pub path: String,
    pub bytes: u64,
    /// FNV-1a 64 of the content, hexadecimal.
    pub fnv64: String,
    pub role: Role,
}

/// `manifest.json`: the files one command wrote into the folder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest: String,
    /// The program and version that wrote the folder.
    pub written_by: String,
    /// False while files are being moved into place.
    pub complete: bool,
    pub files: Vec<Entry>,
    /// While incomplete: the files of the manifest before, still to be cleaned up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<Entry>,
}

impl Manifest {
    /// The folder's manifest: `Ok(None)` when there is none or the file is not one of ours (a
    /// user's own `manifest.json`); an error when it cannot be read.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, String> {
        let path = dir.join(MANIFEST);
        if fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        let text = crate::config::read_bounded(&path, crate::config::MAX_SUMMARY_BYTES)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(serde_json::from_str::<Manifest>(&text).ok().filter(|m| m.manifest == MARKER))
    }

    fn write(&self, dir: &Path) -> io::Result<()> {
        write_atomic(&dir.join(MANIFEST), &json_bytes(self))
    }
}

/// FNV-1a 64 of a file's content and its size, streamed.
fn checksum(path: &Path) -> io::Result<(u64, String)> {
    let mut file = fs::File::open(path)?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((bytes, format!("{hash:016x}")));
        }
        bytes += n as u64;
        for &b in &buf[..n] {
            hash = (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Whether `entry` names a regular file inside `dir` whose content is still what was written.
fn unchanged(dir: &Path, entry: &Entry) -> bool {
    let Some(path) = inside(dir, &entry.path) else { return false };
    fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == entry.bytes)
        && checksum(&path).is_ok_and(|(_, sum)| sum == entry.fnv64)
}

/// `dir/relative` if `relative` is a plain relative path (no `..`, no root), else `None`.
fn inside(dir: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    let plain = !relative.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| dir.join(rel))
}

/// Checks `dir` against its manifest before `report` draws from it: every result file listed
/// must be there with the content written. A folder without a manifest (an older version's, or
/// one `plan` wrote) passes.
pub fn verify(dir: &Path) -> Result<(), String> {
    let Some(manifest) = Manifest::read(dir)? else { return Ok(()) };
    let folder = dir.display();
    if !manifest.complete {
        return Err(format!(
            "{folder} is incomplete: the command writing it stopped while moving files into \
             place ({} says so); run it again",
            dir.join(MANIFEST).display()
        ));
    }
    for entry in manifest.files.iter().filter(|e| e.role == Role::Result) {
        if !unchanged(dir, entry) {
            return Err(format!(
                "{}: missing or changed since {} wrote the folder (it does not match {}); run \
                 the command again",
                dir.join(&entry.path).display(),
                manifest.written_by,
                MANIFEST
            ));
        }
    }
    Ok(())
}

/// A staging folder inside an output folder; dropped without [`Staged::commit`], it is removed.
pub struct Staged {
    out: PathBuf,
    stage: Option<tempfile::TempDir>,
    /// Files present when [`Staged::mark_results`] was called.
    results: Option<BTreeSet<String>>,
    /// Held while this staging folder is in use, so no other process takes it for stale.
    _lock: fs::File,
}

impl Staged {
    /// Creates `out` if needed and a fresh staging folder in it, after clearing what dead
    /// writers left. Fails if `out` cannot be written or holds a `manifest.json` that is not
    /// ours (it would be overwritten).
    pub fn begin(out: &Path) -> io::Result<Staged> {
        fs::create_dir_all(out)?;
        let path = out.join(MANIFEST);
        if fs::symlink_metadata(&path).is_ok()
            && Manifest::read(out).map_err(io::Error::other)?.is_none()
        {
            return Err(io::Error::other(format!(
                "{} exists and is not an output manifest; move it or choose another folder",
                path.display()
            )));
        }
        clean_stale(out);
        let stage = tempfile::Builder::new().prefix(STAGE_PREFIX).tempdir_in(out)?;
        let lock = fs::File::create(stage.path().join(LOCK))?;
        lock.try_lock().map_err(io::Error::other)?;
        Ok(Staged { out: out.to_path_buf(), stage: Some(stage), results: None, _lock: lock })
    }

    /// The staging folder: write every output here.
    pub fn dir(&self) -> &Path {
        self.stage.as_ref().expect("staging folder present until commit").path()
    }

    /// Records the files written so far as results; files written later are the report's.
    pub fn mark_results(&mut self) -> io::Result<()> {
        self.results = Some(staged_files(self.dir())?.into_iter().collect());
        Ok(())
    }

    /// Removes every staged file that is not a result (a report that failed half way).
    pub fn drop_report(&mut self) -> io::Result<()> {
        let results = self.results.clone().unwrap_or_default();
        for rel in staged_files(self.dir())? {
            if !results.contains(&rel) {
                fs::remove_file(self.dir().join(&rel))?;
            }
        }
        Ok(())
    }

    /// Prepares the output folder for every staged file: creates the folders they go in, and
    /// fails (touching no file) if one cannot be made or a folder is in a file's way.
    pub fn prepare_targets(&self) -> io::Result<()> {
        for rel in staged_files(self.dir())? {
            let target = self.out.join(&rel);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
            }
            if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
                return Err(io::Error::other(format!("{} is a folder", target.display())));
            }
        }
        Ok(())
    }

    /// Moves every staged file into the output folder, deletes the files of the previous
    /// manifest this command did not write again, and writes the manifest last. `written_by`
    /// names the program and version. Returns the paths now in the folder.
    pub fn commit(mut self, written_by: &str) -> io::Result<Vec<PathBuf>> {
        self.prepare_targets()?;
        let stage = self.dir().to_path_buf();
        let results = self.results.take();
        let mut files = Vec::new();
        for rel in staged_files(&stage)? {
            let (bytes, fnv64) = checksum(&stage.join(&rel))?;
            let is_result = results.as_ref().is_none_or(|r| r.contains(&rel));
            let role = if is_result { Role::Result } else { Role::Report };
            files.push(Entry { path: rel, bytes, fnv64, role });
        }
        let old = Manifest::read(&self.out).map_err(io::Error::other)?;
        let previous: Vec<Entry> =
            old.map(|m| m.files.into_iter().chain(m.previous).collect()).unwrap_or_default();
        let mut manifest = Manifest {
            manifest: MARKER.to_string(),
            written_by: written_by.to_string(),
            complete: false,
            files,
            previous,
        };
        manifest.write(&self.out)?;
        for entry in &manifest.files {
            fs::rename(stage.join(&entry.path), self.out.join(&entry.path))?;
        }
        let written: BTreeSet<&str> = manifest.files.iter().map(|e| e.path.as_str()).collect();
        for entry in &manifest.previous {
            if !written.contains(entry.path.as_str()) && unchanged(&self.out, entry) {
                remove_listed(&self.out, &entry.path)?;
            }
        }
        manifest.previous.clear();
        manifest.complete = true;
        manifest.write(&self.out)?;
        Ok(manifest.files.iter().map(|e| self.out.join(&e.path)).collect())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(stage) = self.stage.take() {
            let _ = stage.close();
        }
    }
}

/// Rewrites the manifest of `dir` after `report` redrew it in place: the report entries become
/// `drawn` (paths inside `dir`); earlier report files not drawn again are deleted if unchanged.
/// A folder without a manifest gets none.
pub fn record_report(dir: &Path, drawn: &[PathBuf]) -> Result<(), String> {
    let Some(mut manifest) = Manifest::read(dir)? else { return Ok(()) };
    let mut report = Vec::new();
    for path in drawn {
        let Ok(rel) = path.strip_prefix(dir) else { continue };
        let rel = slash_path(rel);
        let (bytes, fnv64) =
            checksum(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        report.push(Entry { path: rel, bytes, fnv64, role: Role::Report });
    }
    let fresh: BTreeSet<&str> = report.iter().map(|e| e.path.as_str()).collect();
    for entry in manifest.files.iter().filter(|e| e.role == Role::Report) {
        if !fresh.contains(entry.path.as_str()) && unchanged(dir, entry) {
            remove_listed(dir, &entry.path)
                .map_err(|e| format!("cannot remove {}: {e}", dir.join(&entry.path).display()))?;
        }
    }
    manifest.files.retain(|e| e.role == Role::Result && !fresh.contains(e.path.as_str()));
    manifest.files.extend(report);
    manifest.write(dir).map_err(|e| format!("cannot write {}: {e}", dir.join(MANIFEST).display()))
}

/// Removes the listed file `dir/rel`, and its parent folders inside `dir` if that left them
/// empty (a `figures/` whose figures are gone).
fn remove_listed(dir: &Path, rel: &str) -> io::Result<()> {
    let path = dir.join(rel);
    fs::remove_file(&path)?;
    let mut parent = path.parent();
    while let Some(p) = parent.filter(|p| *p != dir && p.starts_with(dir)) {
        if fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
    Ok(())
}

/// A relative path as the manifest writes it (`/`-separated).
fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every regular file under the staging folder `stage` (its lock excluded), as sorted
/// `/`-separated relative paths. Symbolic links are not followed.
fn staged_files(stage: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = vec![stage.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                let rel = path.strip_prefix(stage).map_err(io::Error::other)?;
                if rel != Path::new(LOCK) {
                    out.push(slash_path(rel));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `name` has the shape of our temporary files: `.NAME.XXXXXX.tmp`.
fn is_temp_name(name: &str) -> bool {
    let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let Some((head, random)) = stem.rsplit_once('.') else { return false };
    !head.is_empty() && random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether the file at `path` is older than [`STALE_AFTER`] and no process holds its lock.
fn abandoned(path: &Path) -> bool {
    let old = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| SystemTime::now().duration_since(t).is_ok_and(|age| age > STALE_AFTER));
    old && fs::File::open(path).is_ok_and(|f| f.try_lock().is_ok())
}

/// Removes, in `out` and its `figures/`, our temporary files and staging folders whose writer
/// is gone (no lock held, older than a minute). Best effort: what cannot be removed stays.
pub fn clean_stale(out: &Path) {
    for dir in [out.to_path_buf(), out.join("figures")] {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            let path = entry.path();
            if kind.is_file() && is_temp_name(&name) && abandoned(&path) {
                let _ = fs::remove_file(&path);
            } else if kind.is_dir() && dir == out && name.starts_with(STAGE_PREFIX) {
                let lock = path.join(LOCK);
                let gone = if fs::symlink_metadata(&lock).is_ok() {
                    abandoned(&lock)
                } else {
                    abandoned(&path)
                };
                if gone {
                    let _ = fs::remove_dir_all(&path);
                }
            }
        }
    }
}

/// The name to show for an output folder: a staging folder shows as the folder it belongs to.
pub fn display_name(dir: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match name(dir) {
        Some(n) if n.starts_with(STAGE_PREFIX) => dir.parent().and_then(name).unwrap_or_default(),
        other => other.unwrap_or_default(),
    }
}

#[cfg(test)]
#[path = "folder_tests.rs"]
mod tests;
