//! Tests of output folders replaced whole (issue #20, defect 7).

use super::*;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sim-folder-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Commits `files` (results) and `report` files into `out` in one staged write.
fn commit(out: &Path, files: &[(&str, &str)], report: &[(&str, &str)]) -> Vec<PathBuf> {
    let mut staged = Staged::begin(out).unwrap();
    for (name, text) in files {
        write_atomic(&staged.dir().join(name), text.as_bytes()).unwrap();
    }
    staged.mark_results().unwrap();
    for (name, text) in report {
        write_atomic(&staged.dir().join(name), text.as_bytes()).unwrap();
    }
    staged.commit("test 1").unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut all = staged_files(dir).unwrap();
    all.retain(|n| n != MANIFEST);
    all
}

#[test]
fn a_second_write_removes_the_first_ones_files_and_keeps_the_users() {
    let out = scratch("replace");
    commit(
        &out,
        &[("summary.json", "{1}"), ("server-timeline.csv", "a\n")],
        &[("report.html", "<p>1"), ("figures/old.svg", "<svg/>")],
    );
    fs::write(out.join("notes.txt"), "mine").unwrap();
    // The user edits a file the program wrote: it is theirs now and is not deleted.
    fs::write(out.join("figures/old.svg"), "<svg>edited</svg>").unwrap();
    commit(&out, &[("summary.json", "{2}")], &[("report.html", "<p>2")]);
    assert_eq!(names(&out), ["figures/old.svg", "notes.txt", "report.html", "summary.json"]);
    assert_eq!(fs::read_to_string(out.join("summary.json")).unwrap(), "{2}");
    let manifest = Manifest::read(&out).unwrap().unwrap();
    assert!(manifest.complete && manifest.previous.is_empty());
    let listed: Vec<_> = manifest.files.iter().map(|e| (e.path.as_str(), e.role)).collect();
    assert_eq!(listed, [("report.html", Role::Report), ("summary.json", Role::Result)]);
    assert!(verify(&out).is_ok());
    // No staging folder or temporary file is left.
    let hidden: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    fs::remove_dir_all(out).unwrap();
}

#[test]
fn an_abandoned_write_leaves_the_previous_folder_whole() {
    let out = scratch("abandon");
    commit(&out, &[("summary.json", "{1}")], &[("report.html", "<p>1")]);
    {
        let staged = Staged::begin(&out).unwrap();
        write_atomic(&staged.dir().join("summary.json"), b"{2}").unwrap();
        // Dropped (an error half way): nothing reaches the folder.
    }
    assert_eq!(fs::read_to_string(out.join("summary.json")).unwrap(), "{1}");
    assert_eq!(names(&out), ["report.html", "summary.json"]);
    assert!(verify(&out).is_ok());
    fs::remove_dir_all(out).unwrap();
}

#[test]
fn verify_refuses_a_changed_result_an_incomplete_folder_but_not_a_redrawn_report() {
    let out = scratch("verify");
    commit(&out, &[("summary.json", "{1}")], &[("report.html", "<p>1")]);
    fs::write(out.join("report.html"), "<p>redrawn").unwrap();
    assert!(verify(&out).is_ok());
    fs::write(out.join("summary.json"), "{2}").unwrap();
    let err = verify(&out).unwrap_err();
    assert!(err.contains("summary.json: missing or changed"), "{err}");
    fs::remove_file(out.join("summary.json")).unwrap();
    assert!(verify(&out).is_err());
    let mut manifest = Manifest::read(&out).unwrap().unwrap();
    manifest.complete = false;
    manifest.write(&out).unwrap();
    assert!(verify(&out).unwrap_err().contains("is incomplete"));
    fs::remove_dir_all(out).unwrap();
}

#[test]
fn a_manifest_never_deletes_outside_the_folder_nor_a_users_manifest_is_overwritten() {
    let out = scratch("hostile");
    let dir = out.join("results");
    fs::create_dir_all(&dir).unwrap();
    fs::write(out.join("victim.txt"), "precious").unwrap();
    let (bytes, fnv64) = checksum(&out.join("victim.txt")).unwrap();
    let entry =
        |path: &str| Entry { path: path.into(), bytes, fnv64: fnv64.clone(), role: Role::Result };
    let planted = Manifest {
        manifest: MARKER.into(),
        written_by: "someone".into(),
        complete: true,
        files: vec![entry("../victim.txt"), entry(out.join("victim.txt").to_str().unwrap())],
        previous: Vec::new(),
    };
    planted.write(&dir).unwrap();
    commit(&dir, &[("summary.json", "{}")], &[]);
    assert_eq!(fs::read_to_string(out.join("victim.txt")).unwrap(), "precious");
    // A `manifest.json` that is not ours is never overwritten.
    fs::write(dir.join(MANIFEST), "{\"mine\": true}").unwrap();
    let err = Staged::begin(&dir).err().unwrap().to_string();
    assert!(err.contains("is not an output manifest"), "{err}");
    assert!(verify(&dir).is_ok());
    fs::remove_dir_all(out).unwrap();
}

#[test]
fn stale_temporaries_and_staging_folders_are_cleaned_live_ones_kept() {
    let out = scratch("stale");
    let old = SystemTime::now() - Duration::from_secs(3600);
    let age = |path: &Path| fs::File::options().write(true).open(path).unwrap().set_modified(old);
    // A dead writer's temporary file and staging folder, an hour old and unlocked.
    fs::write(out.join(".summary.json.a1B2c3.tmp"), "half").unwrap();
    age(&out.join(".summary.json.a1B2c3.tmp")).unwrap();
    fs::create_dir_all(out.join(".partial-output.zZ9yY8")).unwrap();
    fs::write(out.join(".partial-output.zZ9yY8/.lock"), "").unwrap();
    age(&out.join(".partial-output.zZ9yY8/.lock")).unwrap();
    // A live writer's temporary file (locked), a fresh one, and files of other shapes.
    let live = crate::output::atomic::temp_file_in(&out, "shard-0-of-2.csv").unwrap();
    age(live.path()).unwrap();
    fs::write(out.join(".x.q1w2e3.tmp"), "fresh").unwrap();
    fs::write(out.join(".hidden.tmp"), "user").unwrap();
    age(&out.join(".hidden.tmp")).unwrap();
    clean_stale(&out);
    let mut left: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let live_name = live.path().file_name().unwrap().to_string_lossy().into_owned();
    let mut expected = vec![".hidden.tmp".to_string(), ".x.q1w2e3.tmp".into(), live_name];
    expected.sort();
    assert_eq!(left, expected);
    drop(live);
    fs::remove_dir_all(out).unwrap();
}

#[test]
fn a_staging_folder_shows_as_its_output_folder() {
    assert_eq!(display_name(Path::new("output/mm1/.partial-output.abc123")), "mm1");
    assert_eq!(display_name(Path::new("output/mm1")), "mm1");
    assert!(is_temp_name(".summary.json.AbC123.tmp"));
    assert!(!is_temp_name(".summary.json.tmp") && !is_temp_name("summary.json"));
}
