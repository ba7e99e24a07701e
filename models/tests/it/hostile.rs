//! Issue #20: hostile and careless input — planted links, tampered shards, odd names, special
//! files, unwritable folders, signals. Each test reproduces a defect through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::workspace;

/// A fresh scratch folder for one test.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashsim-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary under test: this build's, or `FLASHSIM_BIN` (to see a test fail on an older build).
pub fn bin() -> String {
    std::env::var("FLASHSIM_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_flashsim").to_string())
}

/// Runs the binary from the workspace with `args`.
#[allow(dead_code)]
pub fn flashsim(args: &[&str]) -> Output {
    Command::new(bin()).current_dir(workspace()).args(args).output().unwrap()
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Defect 2, the reproducer for `run` and the same for `sweep`'s rows file: the old
/// temporary names were `.NAME.tmp-PID` / `.NAME.partial-PID`, so a link planted by someone
/// who guesses the next process id (here, the shell that `exec`s flashsim) overwrote its target.
#[cfg(unix)]
#[test]
fn a_link_planted_at_the_temporary_name_overwrites_nothing() {
    let dir = scratch("symlink");
    let shared = dir.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let victim = dir.join("victim.txt");
    for (planted, command) in [
        (".summary.json.tmp-$$", "run scenarios/validation/mm1.toml --no-report"),
        (".sweep.csv.partial-$$", "sweep scenarios/validation/mm1.toml --no-report"),
    ] {
        std::fs::write(&victim, "precious\n").unwrap();
        let script = format!(
            "ln -s ../victim.txt {shared}/{planted}; exec {bin} {command} --out {shared} \
             > /dev/null",
            shared = shared.display(),
            bin = bin(),
        );
        let out = Command::new("sh").current_dir(workspace()).args(["-c", &script]).output();
        let out = out.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(text(&victim), "precious\n", "`{command}` followed the planted link");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
