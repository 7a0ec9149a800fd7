//! Crash safety: a child process writes atomic batches with
//! `synchronous = Full` and reports each batch the library acknowledged
//! (the `write_then` callback said OK); the parent SIGKILLs it at a random
//! moment, then checks the job file:
//!
//! - `PRAGMA integrity_check` is `ok`, run by a rusqlite connection of the
//!   test's own, read-only on the file as the kill left it (or, when the
//!   write-ahead log needs a recovery that a read-only connection cannot
//!   run, on a copy of the file and its log);
//! - every acknowledged batch is present (reopened through the library);
//! - every batch is all-or-nothing: its rows, its marker and its deletion of
//!   an older batch are all there or none is.
//!
//! The child is this test binary itself, re-executed through
//! `std::env::current_exe()` with `CRASH_CHILD_DIR` set, running the ignored
//! test `crash_child` (which does nothing without that variable). It writes
//! `ACK <id>` lines on stdout from the callback, after the commit.
//!
//! Batch `i` (ids are unique across the child's lives: each life starts
//! after the highest id already stored) writes, in one `write_then`:
//! `rows/<i>/<j>` for `j < n(i)` with payloads naming `i`, `j`, `n(i)`
//! (sizes up to several pages, so a batch spans pages); `marks/<i>` = `n(i)`;
//! and, when `i % 4 == 3`, deletes every row of batch `i - 3` (a prefix
//! delete) and writes `gone/<i-3>`. Batches are pipelined (many in the
//! queue), so group commit and per-batch savepoints are exercised too.
//!
//! `CRASH_CYCLES` sets the number of kill cycles (default 50; a fresh file
//! every 50 cycles, so that a long run's checks stay linear); `CRASH_SEED`
//! the seed of the kill moments;
//! `scripts/soak.sh N` runs N of them and prints the totals.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use persistency::{JobOptions, Op, Persistency, ScanOptions, Synchronous};

use crate::common::{self, env_or, integrity_check_with, rng::Rng};

const CHILD_ENV: &str = "CRASH_CHILD_DIR";
const JOB: &str = "crash";
/// Kill cycles on one file before a long run starts a fresh one.
const EPOCH: u64 = 50;

fn batch_rows(id: u64) -> u64 {
    1 + id % 5
}

fn row_key(id: u64, j: u64) -> Vec<u8> {
    format!("rows/{id:010}/{j}").into_bytes()
}

fn batch_prefix(id: u64) -> Vec<u8> {
    format!("rows/{id:010}/").into_bytes()
}

fn mark_key(id: u64) -> Vec<u8> {
    format!("marks/{id:010}").into_bytes()
}

fn gone_key(id: u64) -> Vec<u8> {
    format!("gone/{id:010}").into_bytes()
}

/// The batch that batch `id` deletes, if any.
fn deleted_by(id: u64) -> Option<u64> {
    (id % 4 == 3).then(|| id - 3)
}

/// The payload of row `j` of batch `id`: self-describing, 10 B to ~5 KiB
/// (more than a 4 KiB page, so rows use overflow pages).
fn payload(id: u64, j: u64) -> Vec<u8> {
    let head = format!("{id}:{j}:{}:", batch_rows(id));
    let len = match (id * 7 + j) % 4 {
        0 => 0,
        1 => 100,
        2 => 1_500,
        _ => 5_000,
    };
    let mut p = head.into_bytes();
    p.extend((0..len).map(|k| (id as usize + k) as u8));
    p
}

fn batch_ops(id: u64) -> Vec<Op> {
    let mut ops: Vec<Op> = (0..batch_rows(id))
        .map(|j| Op::put("data", row_key(id, j), payload(id, j)))
        .collect();
    ops.push(Op::put(
        "data",
        mark_key(id),
        batch_rows(id).to_be_bytes().to_vec(),
    ));
    if let Some(old) = deleted_by(id) {
        ops.push(Op::delete_prefix("data", batch_prefix(old)));
        ops.push(Op::put("data", gone_key(old), id.to_be_bytes().to_vec()));
    }
    ops
}

fn options() -> JobOptions {
    JobOptions::default()
        .synchronous(Synchronous::Full)
        .queue_capacity(256)
}

/// The child: writes batches forever, acknowledging each one on stdout
/// from its callback. Runs only when re-executed by the parent.
#[test]
#[ignore = "child process of crash_cycles; does nothing when run directly"]
fn crash_child() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let db = Persistency::new(&root.to_string_lossy()).expect("child: instance");
    let job = db.open_job_with(JOB, &options()).expect("child: open job");
    let last = job
        .scan(
            "data",
            b"marks/",
            b"marks0",
            ScanOptions::new().reverse(true).limit(1),
        )
        .expect("child: last mark");
    let mut id = match last.get(0) {
        Some(row) => parse_id(&row.key[b"marks/".len()..]) + 1,
        None => 0,
    };
    say(&format!("READY {id}"));
    loop {
        let ack = move |r: persistency::Result<()>| match r {
            Ok(()) => say(&format!("ACK {id}")),
            Err(e) => say(&format!("ERR {id} {e}")),
        };
        if let Err(e) = job.write_then(batch_ops(id), ack) {
            say(&format!("ERR {id} {e}"));
            return;
        }
        id += 1;
    }
}

/// Writes a line to stdout and flushes it at once (from any thread).
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn parse_id(bytes: &[u8]) -> u64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad id {bytes:?}"))
}

/// What one child life reported.
#[derive(Debug, Default)]
struct Life {
    acked: Vec<u64>,
    errors: Vec<String>,
}

fn run_child(root: &Path, kill_after: Duration) -> Life {
    let mut child = common::child_test("crash::crash_child")
        .env(CHILD_ENV, root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let reader = std::thread::spawn(move || {
        let mut life = Life::default();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line.strip_prefix("ACK ") {
                life.acked.push(id.trim().parse().expect("ack id"));
            } else if line.starts_with("ERR ") {
                life.errors.push(line);
            }
        }
        life
    });
    std::thread::sleep(kill_after);
    common::sigkill(&mut child);
    reader.join().expect("reader thread")
}

/// How the integrity of a killed file was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    /// On the file itself, through a read-only connection.
    InPlace,
    /// The write-ahead log needed recovery, which a read-only connection
    /// cannot run (`SQLITE_READONLY_RECOVERY`): checked on a copy of the
    /// database and its log, so the job's own files stay untouched.
    OnCopy,
}

/// `PRAGMA integrity_check` on the file as the kill left it, through a
/// connection of our own (not the library's).
fn integrity_check(db: &Path) -> (String, Checked) {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let read_only =
        rusqlite::Connection::open_with_flags(db, flags).and_then(|c| integrity_check_with(&c));
    match read_only {
        Ok(result) => (result, Checked::InPlace),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_READONLY_RECOVERY =>
        {
            let copy = tempfile::tempdir().expect("tempdir");
            let target = copy.path().join("copy.db");
            std::fs::copy(db, &target).expect("copy db");
            let mut wal = db.as_os_str().to_owned();
            wal.push("-wal");
            if Path::new(&wal).exists() {
                std::fs::copy(&wal, copy.path().join("copy.db-wal")).expect("copy wal");
            }
            let conn = rusqlite::Connection::open(&target).expect("open copy");
            (
                integrity_check_with(&conn).expect("integrity_check on copy"),
                Checked::OnCopy,
            )
        }
        Err(e) => panic!("integrity_check of {}: {e}", db.display()),
    }
}

/// What the parent found in the file after a kill.
#[derive(Debug, Default)]
struct Verified {
    batches: u64,
    highest: Option<u64>,
}

/// Checks that every batch in the file is whole and every acknowledged
/// batch is there.
fn verify(root: &Path, acked: &BTreeSet<u64>) -> Verified {
    let db = Persistency::new(&root.to_string_lossy()).expect("instance");
    let job = db
        .open_job_with(JOB, &options())
        .expect("reopen after kill");
    let all = job
        .scan("data", b"", b"", ScanOptions::default())
        .expect("scan all");
    let mut marks = BTreeSet::new();
    let mut gone = BTreeSet::new();
    let mut rows: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for row in all.iter() {
        let key = std::str::from_utf8(row.key).expect("utf-8 key");
        let mut parts = key.split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("marks"), Some(id), None) => {
                let id: u64 = id.parse().expect("mark id");
                assert_eq!(row.payload, batch_rows(id).to_be_bytes(), "mark of {id}");
                marks.insert(id);
            }
            (Some("gone"), Some(id), None) => {
                let id: u64 = id.parse().expect("gone id");
                assert_eq!(row.payload, (id + 3).to_be_bytes(), "gone/{id}");
                gone.insert(id);
            }
            (Some("rows"), Some(id), Some(j)) => {
                let (id, j): (u64, u64) = (id.parse().expect("row id"), j.parse().expect("row j"));
                assert_eq!(row.payload, payload(id, j), "payload of {key}");
                rows.entry(id).or_default().push(j);
            }
            _ => panic!("unexpected key {key:?}"),
        }
    }
    for (&id, js) in &rows {
        assert!(
            marks.contains(&id),
            "rows of batch {id} without its mark: torn batch"
        );
        assert!(
            !gone.contains(&id),
            "batch {id} is marked deleted but has rows"
        );
        let want: Vec<u64> = (0..batch_rows(id)).collect();
        assert_eq!(js, &want, "batch {id} has rows {js:?}: not all-or-nothing");
    }
    for &id in &marks {
        if let Some(old) = deleted_by(id) {
            // Batch `id` deleted batch `old`: both effects or neither.
            assert!(gone.contains(&old), "batch {id} present without gone/{old}");
        }
        let deleted = gone.contains(&id);
        assert!(
            deleted || rows.contains_key(&id),
            "batch {id} has its mark but no rows and was not deleted"
        );
        if deleted {
            assert!(
                marks.contains(&(id + 3)),
                "gone/{id} without the mark of batch {}",
                id + 3
            );
        }
    }
    for &id in &gone {
        assert!(
            marks.contains(&(id + 3)),
            "gone/{id} without batch {}",
            id + 3
        );
    }
    // Marks are never deleted, so every batch ever committed has one.
    for id in acked {
        assert!(marks.contains(id), "acknowledged batch {id} is missing");
    }
    let highest = marks.iter().next_back().copied();
    if let Some(h) = highest {
        // Batches commit in order: no hole below the highest one.
        assert_eq!(
            marks.len() as u64,
            h + 1,
            "a committed batch below {h} is missing"
        );
    }
    db.close().expect("close");
    Verified {
        batches: marks.len() as u64,
        highest,
    }
}

fn job_file(root: &Path) -> PathBuf {
    root.join(format!("{JOB}.db"))
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    let cycles: u64 = env_or("CRASH_CYCLES", 50);
    let seed: u64 = env_or("CRASH_SEED", 0xc4a5_4001);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut dir = tempfile::tempdir().expect("tempdir");
    let mut acked = BTreeSet::new();
    let mut batches_total = 0u64;
    let mut acks_total = 0u64;
    let mut committed_unacked = 0u64;
    let mut killed_before_first_ack = 0u64;
    let mut last = Verified::default();
    let mut checked = 0u64;
    let mut checked_on_copy = 0u64;
    for cycle in 0..cycles {
        if cycle > 0 && cycle % EPOCH == 0 {
            // A fresh file, so the checks of a long soak stay linear.
            batches_total += last.batches;
            last = Verified::default();
            acked.clear();
            dir = tempfile::tempdir().expect("tempdir");
        }
        let root = dir.path().join("root");
        // Most kills land in the middle of writing; some during start-up,
        // open or recovery of the previous crash.
        let kill_after = match rng.below(8) {
            0 => Duration::from_millis(rng.below(15)),
            _ => Duration::from_millis(15 + rng.below(90)),
        };
        let life = run_child(&root, kill_after);
        assert!(
            life.errors.is_empty(),
            "cycle {cycle}: the child reported {:?}",
            life.errors
        );
        if life.acked.is_empty() {
            killed_before_first_ack += 1;
        }
        let before = acked.len();
        acks_total += life.acked.len() as u64;
        acked.extend(life.acked.iter().copied());
        assert_eq!(
            acked.len() - before,
            life.acked.len(),
            "an id was acknowledged twice"
        );
        if !job_file(&root).exists() {
            assert!(acked.is_empty(), "cycle {cycle}: the job file is gone");
            continue;
        }
        let (check, how) = integrity_check(&job_file(&root));
        assert_eq!(check, "ok", "cycle {cycle}: integrity_check ({how:?})");
        checked += 1;
        checked_on_copy += u64::from(how == Checked::OnCopy);
        let v = verify(&root, &acked);
        let highest_acked = acked.iter().next_back().copied();
        if v.highest > highest_acked {
            committed_unacked += v.highest.unwrap_or(0) - highest_acked.map_or(0, |h| h + 1) + 1;
        }
        // Whatever committed beyond the acknowledgements counts as
        // acknowledged from now on: the next life builds on it.
        acked.extend(0..v.highest.map_or(0, |h| h + 1));
        last = v;
    }
    assert!(acks_total > 0, "no batch was ever acknowledged");
    let summary = format!(
        "crash: {cycles} kill cycles, {acks_total} batches acknowledged, {} batches found committed, \
         {committed_unacked} committed but killed before the acknowledgement, \
         {killed_before_first_ack} lives killed before their first acknowledgement, \
         acknowledged batches lost: 0, torn batches: 0, integrity_check ok: {checked} \
         ({checked_on_copy} of them on a copy, as the log needed recovery), {:.1?}",
        batches_total + last.batches,
        started.elapsed()
    );
    eprintln!("{summary}");
    if let Some(path) = std::env::var_os("CRASH_SUMMARY") {
        std::fs::write(path, summary + "\n").expect("write CRASH_SUMMARY");
    }
}
