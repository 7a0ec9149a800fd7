//! `backup`, `check` and `compact` run as a user runs them: on job files
//! made by the library, next to a running writer, and with bad arguments.

mod common;

use common::{cli, library_job, root};
use persistency::{Op, Persistency};
use predicates::prelude::*;

#[test]
fn backup_copies_a_job_that_opens_and_checks_sound() {
    let (_dir, root) = root();
    library_job(&root, "store", 500);
    let (_out, out) = common::root();
    let dest = format!("{out}/copy.db");
    cli()
        .args(["--quiet", "backup", &root, "store", &dest])
        .assert()
        .success()
        .stdout(predicate::str::contains("backed up"));
    // The copy is a job file: the tool reads and checks it in its new root.
    cli()
        .args(["check", &out, "copy"])
        .assert()
        .success()
        .stdout(predicate::str::contains("copy.db: ok"));
    let rows = cli()
        .args(["export", &out, "copy"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(rows.iter().filter(|&&b| b == b'\n').count(), 502);
    // An existing destination is never overwritten.
    cli()
        .args(["backup", &root, "store", &dest])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist yet"));
}

#[test]
fn backup_works_next_to_a_running_writer() {
    let (_dir, root) = root();
    library_job(&root, "live", 10);
    let node = Persistency::new(&root).unwrap();
    let job = node.open_job("live").unwrap();
    job.write(vec![Op::put("messages", b"fresh".to_vec(), b"v".to_vec())])
        .unwrap();
    let (_out, out) = common::root();
    cli()
        .args(["backup", &root, "live", &format!("{out}/live.db")])
        .assert()
        .success();
    let copy = Persistency::new(&out).unwrap();
    assert_eq!(
        copy.open_job("live")
            .unwrap()
            .get("messages", b"fresh")
            .unwrap(),
        Some(b"v".to_vec()),
        "the backup misses a write committed before it"
    );
}

#[test]
fn check_reports_a_damaged_file() {
    let (_dir, root) = root();
    library_job(&root, "bad", 3_000);
    // Overwrite a page in the middle of the file (not the header).
    let path = format!("{root}/bad.db");
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.len() > 8 * 4096,
        "the job file is too small to damage"
    );
    for b in &mut bytes[5 * 4096..6 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&path, bytes).unwrap();
    cli()
        .args(["check", &root, "bad"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("restore the job from a backup"));
}

#[test]
fn compact_gives_space_back_and_refuses_a_held_job() {
    let (_dir, root) = root();
    library_job(&root, "big", 20_000);
    {
        let db = Persistency::new(&root).unwrap();
        let job = db.open_job("big").unwrap();
        job.write(vec![Op::delete_prefix("messages", Vec::new())])
            .unwrap();
        db.close().unwrap();
    }
    let size = |p: &str| std::fs::metadata(p).unwrap().len();
    let path = format!("{root}/big.db");
    let before = size(&path);
    cli()
        .args(["--quiet", "compact", &root, "big"])
        .assert()
        .success()
        .stdout(predicate::str::contains("compacted"));
    let after = size(&path);
    assert!(after < before / 2, "compact left {after} of {before} bytes");

    let node = Persistency::new(&root).unwrap();
    let _held = node.open_job("big").unwrap();
    cli()
        .args(["compact", &root, "big"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is open in process"));
}

#[test]
fn maintenance_commands_name_what_is_missing() {
    let (_dir, root) = root();
    cli()
        .args(["check", &root, "nothing"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("persistency jobs"));
    cli()
        .args(["compact", "/nonexistent-root-of-the-test", "j"])
        .assert()
        .failure();
    cli().args(["backup", &root]).assert().code(2);
}

/// Runs the tool with `args` on a pseudo-terminal (util-linux `script`),
/// as an operator at a terminal does; returns what the terminal showed.
fn on_terminal(args: &[&str]) -> String {
    let bin = assert_cmd::cargo::cargo_bin("persistency");
    let mut command = bin.display().to_string();
    for a in args {
        command.push_str(&format!(" '{a}'"));
    }
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("util-linux `script` runs the tool on a pseudo-terminal");
    assert!(out.status.success(), "{command}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn maintenance_shows_bytes_rate_and_eta_on_a_terminal() {
    let (_dir, root) = root();
    let node = Persistency::new(&root).unwrap();
    let job = node.open_job("big").unwrap();
    // Rows of 1,000 bytes spill into an overflow page each: ~12 MiB.
    for chunk in 0..3u64 {
        job.write(
            (chunk * 1000..chunk * 1000 + 1000)
                .map(|i| Op::put("c", i.to_be_bytes().to_vec(), vec![7; 1000]))
                .collect(),
        )
        .unwrap();
    }
    job.delete_range("c", &1000u64.to_be_bytes(), b"").unwrap();
    node.close().unwrap();
    let (_out, out) = common::root();
    let bar =
        predicate::str::is_match(r"\] [0-9.]+ [KM]iB/[0-9.]+ MiB, [0-9.]+ [KMG]?i?B/s, ETA \d+s")
            .unwrap();
    for what in ["backup", "check", "compact"] {
        let run = |quiet: bool, dest: &str| {
            let mut args = if quiet { vec!["--quiet"] } else { vec![] };
            args.extend([what, root.as_str(), "big"]);
            if what == "backup" {
                args.push(dest);
            }
            on_terminal(&args)
        };
        let shown = run(false, &format!("{out}/copy.db"));
        assert!(
            shown.contains(&format!("{what} [")) && bar.eval(&shown),
            "{what}: no bar with bytes, rate and ETA in {shown:?}"
        );
        let shown = run(true, &format!("{out}/quiet.db"));
        assert!(
            !shown.contains("ETA"),
            "{what} --quiet drew a bar: {shown:?}"
        );
    }
}
