//! export → import, refusal next to a running writer, reads next to a
//! busy writer, bad arguments.

mod common;

use common::{cli, library_job, root, stdout_of, upstream_job};
use persistency::{Persistency, SyncId, SyncRange};
use predicates::prelude::*;

#[test]
fn export_then_import_into_an_empty_job_gives_the_same_rows_byte_for_byte() {
    let (_dir, root) = root();
    library_job(&root, "src", 100_000);
    let exported = cli()
        .args(["export", &root, "src"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(exported.iter().filter(|&&b| b == b'\n').count(), 100_002);
    cli()
        .args(["import", &root, "copy"])
        .write_stdin(exported.clone())
        .assert()
        .success();
    let again = cli()
        .args(["export", &root, "copy"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(again == exported, "the re-export differs");

    // The hex form round-trips too, here for one category.
    let hex = cli()
        .args(["export", &root, "src", "-c", "meta", "--hex"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&hex).contains("\"key_hex\":\"fffe\""));
    cli()
        .args(["import", &root, "meta"])
        .write_stdin(hex)
        .assert()
        .success();
    let meta = cli()
        .args(["export", &root, "meta"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let want = cli()
        .args(["export", &root, "src", "-c", "meta"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(meta, want);
}

/// Sync sets travel as their elements: an export of a job with sets and
/// rows, imported into an empty job, gives the same sets (length, and the
/// fingerprint of every id) and the same export; the aggregates are
/// rebuilt, not copied. The hex form round-trips too.
#[test]
fn sync_sets_survive_export_and_import() {
    let (_dir, root) = root();
    library_job(&root, "src", 50);
    let ids = |seed: u8, n: usize| -> Vec<SyncId> {
        (0..n)
            .map(|i| {
                let mut hash = [seed; 32];
                hash[..8].copy_from_slice(&(i as u64 * 2_654_435_761).to_le_bytes());
                SyncId::new(1_700_000_000_000_000_000 + (i as i64 % 97) - 40, hash)
            })
            .collect()
    };
    {
        let db = Persistency::new(&root).unwrap();
        let job = db.open_job("src").unwrap();
        job.sync_add_acked("topic/a", &ids(1, 3000)).unwrap();
        job.sync_add_acked("b", &ids(2, 7)).unwrap();
        db.close().unwrap();
    }
    let summaries = |job: &str| {
        let db = Persistency::new(&root).unwrap();
        let job = db.open_job(job).unwrap();
        ["topic/a", "b"].map(|set| {
            (
                job.sync_len(set).unwrap(),
                job.sync_summary(&[set], SyncRange::all()).unwrap(),
            )
        })
    };
    let want = summaries("src");
    assert_eq!((want[0].0, want[1].0), (3000, 7));
    for (copy, hex) in [("copy", false), ("copy_hex", true)] {
        let mut args = vec!["export", &root, "src"];
        if hex {
            args.push("--hex");
        }
        let exported = stdout_of(&args);
        let text = String::from_utf8_lossy(&exported);
        assert_eq!(
            text.lines().count(),
            52 + 3007,
            "rows and elements, no aggregates"
        );
        assert!(
            !text.contains("category\":\"AHN5bm"),
            "a reserved category was exported"
        );
        cli()
            .args(["import", &root, copy, "--batch", "1000"])
            .write_stdin(exported.clone())
            .assert()
            .success();
        assert_eq!(summaries(copy), want, "{copy}");
        args[2] = copy;
        let again = stdout_of(&args);
        assert!(again == exported, "the re-export of {copy} differs");
    }

    // A bad element line is a usage error naming the line.
    cli()
        .args(["import", &root, "bad"])
        .write_stdin("{\"sync_set\":\"YQ==\",\"time\":1,\"hash\":\"AAAA\"}\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "stdin line 1: \"hash\" has 3 bytes, not 32",
        ));
}

#[test]
fn import_refuses_a_job_another_process_holds_and_reads_still_work() {
    let (_dir, root) = root();
    library_job(&root, "live", 10);
    // This test process is the running node: it has the job open.
    let node = Persistency::new(&root).unwrap();
    let job = node.open_job("live").unwrap();
    job.put("messages", b"fresh", b"committed").unwrap();
    job.flush().unwrap();
    let line = "{\"category\":\"bQ==\",\"key\":\"aw==\",\"payload\":\"cA==\"}\n";
    cli()
        .args(["import", &root, "live"])
        .write_stdin(line)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("live.db is open in process")
                .and(predicate::str::contains(std::process::id().to_string()))
                .and(predicate::str::contains("stop that process")),
        );
    assert_eq!(
        job.get("m", b"k").unwrap(),
        None,
        "the refused import wrote"
    );
    // Reading commands work next to the writer and see its commits.
    let rows = cli()
        .args(["export", &root, "live"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(rows.iter().filter(|&&b| b == b'\n').count(), 13);
    cli()
        .args(["get", &root, "live", "-c", "messages", "raw:0x6672657368"])
        .assert()
        .success()
        .stdout("committed\n");
    drop(job);
    node.close().unwrap();
    cli()
        .args(["import", &root, "live"])
        .write_stdin(line)
        .assert()
        .success();
}

#[test]
fn bad_arguments_exit_2_or_1_with_a_message_naming_the_file_and_what_to_do() {
    let (dir, root) = root();
    upstream_job(&root, "nim", 3);
    let missing = dir.path().join("absent");
    let missing = missing.to_str().unwrap();
    cli().args(["jobs", missing]).assert().code(2).stderr(
        predicate::str::contains(missing)
            .and(predicate::str::contains("is not an existing directory")),
    );
    cli().args(["stat", &root, "nope"]).assert().code(1).stderr(
        predicate::str::contains("nope.db does not exist")
            .and(predicate::str::contains("persistency jobs")),
    );
    cli().args(["stat", &root, "../x"]).assert().code(2);
    cli()
        .args(["scan", &root, "nim", "--from", "(\"a\", 0x1)"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("--from")
                .and(predicate::str::contains("odd number of hex digits")),
        );
    cli()
        .args(["get", &root, "nim", "(1)"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--category"));
    cli()
        .args(["scan", &root, "nim", "--payload", "octal"])
        .assert()
        .code(2);
    cli()
        .args(["import", &root, "nim2"])
        .write_stdin("{\"category\":\"bQ==\"}\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("stdin line 1").and(predicate::str::contains("\"key\"")));
    std::fs::write(
        dir.path().join("junk.db"),
        b"not a database at all, just text",
    )
    .unwrap();
    cli()
        .args(["scan", &root, "junk"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("junk.db"));
    cli()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage"));
}

#[test]
fn export_next_to_a_busy_writer_reads_one_snapshot_of_whole_batches() {
    let (_dir, root) = root();
    let node = Persistency::new(&root).unwrap();
    let job = node.open_job("busy").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (job, stop) = (job.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let ops = (0..100)
                    .map(|i| {
                        persistency::Op::put("m", (n * 100 + i).to_be_bytes().to_vec(), vec![1; 64])
                    })
                    .collect();
                job.write(ops).unwrap();
                n += 1;
            }
            n
        })
    };
    // Wait for a first commit, so the file exists for the readers.
    while job.count("m", b"", &[0xff; 9]).unwrap() == 0 {
        std::thread::yield_now();
    }
    for _ in 0..5 {
        let out = cli()
            .args(["export", &root, "busy"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let lines = out.iter().filter(|&&b| b == b'\n').count();
        assert!(
            lines > 0 && lines % 100 == 0,
            "{lines} rows: not whole batches"
        );
        cli().args(["stat", &root, "busy"]).assert().success();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    node.close().unwrap();
}

#[test]
fn import_refuses_a_job_held_in_exclusive_locking_mode() {
    let (_dir, root) = root();
    upstream_job(&root, "nim", 3);
    // Another program holds the file in exclusive locking mode (no -shm
    // locks): its lock on the database file keeps it.
    let conn = rusqlite::Connection::open(format!("{root}/nim.db")).unwrap();
    conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE; COMMIT;")
        .unwrap();
    cli()
        .args(["import", &root, "nim"])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nim.db is open in process"));
    drop(conn);
    cli()
        .args(["import", &root, "nim"])
        .write_stdin("")
        .assert()
        .success();
}
