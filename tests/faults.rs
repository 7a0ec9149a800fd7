//! Faults: what the library does when the disk quota is reached, when the
//! job file is not a database, truncated, deleted or replaced, when the root
//! cannot be written, when a host callback panics or blocks, and when a
//! request panics inside the library (the `fault-injection` feature).
//!
//! Every test asserts the observable outcome: the error kind and that its
//! message names the file, that the job keeps serving afterwards, and that
//! nothing accepted is lost or reordered. Run with
//! `cargo test --release --features fault-injection --test faults`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use persistency::{
    ErrorKind, FullPolicy, Job, JobOptions, Level, Op, Persistency, ScanOptions, Synchronous,
};

fn root_of(dir: &tempfile::TempDir) -> String {
    dir.path().join("root").to_string_lossy().into_owned()
}

fn fast() -> JobOptions {
    JobOptions {
        synchronous: Synchronous::Off,
        ..JobOptions::default()
    }
}

fn kind<T: std::fmt::Debug>(r: &persistency::Result<T>) -> Option<ErrorKind> {
    r.as_ref().err().map(persistency::Error::kind)
}

/// `PRAGMA integrity_check` through a read-only connection of our own.
fn integrity_check(db: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open read-only");
    let lines: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("integrity_check");
    lines.join("\n")
}

/// Log messages that mention `needle`, captured from the process-wide
/// logger (other tests of this binary may log concurrently).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn capture_log() {
    persistency::set_logger(
        Some(Arc::new(|level: Level, msg: &str| {
            if level <= Level::Warn {
                LOG.lock().expect("log lock").push(msg.to_string());
            }
        })),
        Level::Warn,
    );
}

fn logged(needle: &str) -> Vec<String> {
    LOG.lock()
        .expect("log lock")
        .iter()
        .filter(|m| m.contains(needle))
        .cloned()
        .collect()
}

// ---- disk quota ---------------------------------------------------------------

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

/// Writes 4 KiB batches until the quota refuses one; returns how many
/// batches of 3 rows went in.
fn fill(job: &Job, from: u32) -> u32 {
    for n in from.. {
        let ops = (0..3)
            .map(|j| Op::put("q", key(n * 3 + j), vec![n as u8; 1_400]))
            .collect();
        match job.write(ops) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Full, "a write past the quota: {e}");
                assert!(n > from, "the quota refused the first write");
                // The refused batch left nothing behind.
                for j in 0..3 {
                    assert_eq!(job.get("q", &key(n * 3 + j)).expect("get"), None);
                }
                return n;
            }
        }
        assert!(n < 10_000, "the quota never refused a write");
    }
    unreachable!()
}

#[test]
fn quota_refuses_growth_reads_go_on_and_deleting_makes_room() {
    capture_log();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_of(&dir);
    let db = Persistency::new(&root).expect("instance");
    let options = JobOptions {
        max_db_bytes: 256 * 1024,
        ..fast()
    };
    let job = db.open_job_with("quota-job", &options).expect("open");
    let batches = fill(&job, 0);
    let rows = u64::from(batches) * 3;

    // Reads go on, and see every acknowledged row.
    assert_eq!(job.count("q", b"", b"").expect("count"), rows);
    assert_eq!(job.get("q", &key(0)).expect("get"), Some(vec![0u8; 1_400]));

    // A fire-and-forget write past the quota is accepted, fails in the
    // worker, is counted and logged, and changes nothing.
    let failed_before = job.stats().expect("stats").ops_failed;
    job.put("q", b"big", &vec![1u8; 64 * 1024])
        .expect("put is queued");
    job.flush().expect("flush is OK even after a failed write");
    assert_eq!(job.stats().expect("stats").ops_failed, failed_before + 1);
    assert_eq!(job.get("q", b"big").expect("get"), None);
    assert!(
        !logged("quota-job").is_empty(),
        "the failed fire-and-forget write was not logged"
    );
    // A write_then past the quota reports Full to its callback.
    let (tx, rx) = std::sync::mpsc::channel();
    job.write_then(
        vec![Op::put("q", b"big".to_vec(), vec![1u8; 64 * 1024])],
        move |r| {
            tx.send(r).expect("send");
        },
    )
    .expect("write_then accepted");
    let r = rx.recv().expect("callback");
    assert_eq!(kind(&r), Some(ErrorKind::Full), "{r:?}");

    // Deleting data frees pages: writes fit again.
    job.delete_prefix("q", b"k0000").expect("delete_prefix");
    job.flush().expect("flush");
    let left = job.count("q", b"", b"").expect("count");
    assert!(left < rows, "nothing was deleted");
    let more = fill(&job, batches + 1);
    assert!(more > batches + 1, "no write fitted after deleting data");

    // Reopened with a cap below the current size: reads work, growth is
    // refused, writes that fit in the pages present go on.
    db.close_job("quota-job").expect("close");
    let small = JobOptions {
        max_db_bytes: 16 * 1024,
        ..fast()
    };
    let job = db.open_job_with("quota-job", &small).expect("reopen");
    let n = job.count("q", b"", b"").expect("count");
    assert!(n > 0);
    let r = job.write(vec![Op::put("q", b"huge".to_vec(), vec![2u8; 200 * 1024])]);
    assert_eq!(kind(&r), Some(ErrorKind::Full), "{r:?}");
    job.write(vec![Op::put("q", key(3), b"small".to_vec())])
        .expect("an overwrite that fits");
    assert_eq!(job.get("q", &key(3)).expect("get"), Some(b"small".to_vec()));
    db.close().expect("close");
}

#[test]
fn quota_applies_to_memory_jobs_too() {
    let db = Persistency::new(persistency::MEMORY_ROOT).expect("instance");
    let job = db
        .open_job_with(
            "mem",
            &JobOptions {
                max_db_bytes: 128 * 1024,
                ..JobOptions::default()
            },
        )
        .expect("open");
    let batches = fill(&job, 0);
    assert_eq!(
        job.count("q", b"", b"").expect("count"),
        u64::from(batches) * 3
    );
    job.delete_prefix("q", b"").expect("delete all");
    assert_eq!(job.count("q", b"", b"").expect("count"), 0);
    assert!(fill(&job, 0) > 0);
}

// ---- bad job files --------------------------------------------------------------

fn assert_names(err: &persistency::Error, file: &Path) {
    let name = file.file_name().expect("file name").to_string_lossy();
    assert!(
        err.message().contains(&*name),
        "the error does not name {}: {err}",
        file.display()
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_of(&dir);
    std::fs::create_dir_all(&root).expect("mkdir");
    let file = Path::new(&root).join("junk.db");
    std::fs::write(&file, vec![0x42u8; 9_000]).expect("write junk");
    let db = Persistency::new(&root).expect("instance");
    for attempt in 0..2 {
        // Twice: a failed open leaves nothing held behind.
        let err = db.open_job("junk").expect_err("junk opened");
        assert_eq!(err.kind(), ErrorKind::Backend, "attempt {attempt}: {err}");
        assert_names(&err, &file);
        assert!(!db.has_job("junk"));
    }
    // The file is left alone, and the instance goes on serving other jobs.
    assert_eq!(std::fs::read(&file).expect("read").len(), 9_000);
    let other = db.open_job("fine").expect("another job");
    other.put("c", b"k", b"v").expect("put");
    assert_eq!(other.get("c", b"k").expect("get"), Some(b"v".to_vec()));
    // A database of another schema version is refused too.
    let foreign = Path::new(&root).join("foreign.db");
    let conn = rusqlite::Connection::open(&foreign).expect("sqlite");
    conn.execute_batch("PRAGMA user_version = 7; CREATE TABLE t(x);")
        .expect("foreign schema");
    drop(conn);
    let err = db.open_job("foreign").expect_err("foreign schema opened");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert_names(&err, &foreign);
    db.close().expect("close");
}

#[test]
fn a_truncated_database_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_of(&dir);
    let db = Persistency::new(&root).expect("instance");
    let job = db.open_job_with("cut", &fast()).expect("open");
    for i in 0..1_000u32 {
        job.put("c", &i.to_be_bytes(), &[7u8; 1_000]).expect("put");
    }
    db.close_job("cut").expect("close");
    let file = Path::new(&root).join("cut.db");
    let whole = std::fs::read(&file).expect("read");
    assert!(
        !Path::new(&root).join("cut.db-wal").exists(),
        "close left a WAL"
    );
    for cut in [50, 100, 4_096, 8_192, whole.len() / 2, whole.len() - 4_096] {
        std::fs::write(&file, &whole[..cut]).expect("truncate");
        let err = db
            .open_job_with("cut", &fast())
            .expect_err(&format!("a file cut to {cut} bytes opened"));
        assert_eq!(err.kind(), ErrorKind::Backend, "cut {cut}: {err}");
        assert_names(&err, &file);
    }
    // Restored, it opens with every row.
    std::fs::write(&file, &whole).expect("restore");
    let job = db.open_job_with("cut", &fast()).expect("open restored");
    assert_eq!(job.count("c", b"", b"").expect("count"), 1_000);
    db.close().expect("close");
}

#[test]
fn a_file_overwritten_with_junk_while_open_gives_backend_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_of(&dir);
    let db = Persistency::new(&root).expect("instance");
    let job = db.open_job_with("smashed", &fast()).expect("open");
    for i in 0..200u32 {
        job.put("c", &i.to_be_bytes(), &[7u8; 1_000]).expect("put");
    }
    db.close_job("smashed").expect("close");
    let job = db.open_job_with("smashed", &fast()).expect("reopen");
    assert_eq!(job.count("c", b"", b"").expect("count"), 200);
    std::fs::write(Path::new(&root).join("smashed.db"), vec![0x5au8; 100_000]).expect("smash");
    let r = job.count("c", b"", b"");
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    let r = job.scan("c", b"", b"", ScanOptions::default());
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    let r = job.write(vec![Op::put("c", b"x".to_vec(), b"y".to_vec())]);
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    let r = job.delete_acked("c", &1u32.to_be_bytes());
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    job.flush().expect("flush still answers");
    db.close_job("smashed").expect("close");
    let err = db.open_job("smashed").expect_err("smashed file opened");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    db.close().expect("close");
}

/// Every call returns OK or a backend error; nothing else.
fn ok_or_backend<T: std::fmt::Debug>(what: &str, r: persistency::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.kind() == ErrorKind::Backend => None,
        Err(e) => panic!("{what}: {e}"),
    }
}

#[test]
fn the_job_file_deleted_while_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_of(&dir);
    let db = Persistency::new(&root).expect("instance");
    let job = db.open_job("deleted").expect("open");
    job.write(vec![Op::put("c", b"a".to_vec(), b"1".to_vec())])
        .expect("write");
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(Path::new(&root).join(format!("deleted.db{suffix}"))).expect("rm");
    }
    // SQLite keeps the unlinked file open: reads go on answering, but a
    // write would only live as long as the open file, so it is refused
    // instead of being acknowledged and lost.
    if let Some(v) = ok_or_backend("get", job.get("c", b"a")) {
        assert_eq!(v, Some(b"1".to_vec()));
    }
    let err = job
        .write(vec![Op::put("c", b"b".to_vec(), b"2".to_vec())])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("moved or deleted"), "{err}");
    assert_names(&err, &Path::new(&root).join("deleted.db"));
    let failed = job.stats().expect("stats").ops_failed;
    job.put("c", b"c", b"3").expect("put is queued");
    job.flush().expect("flush");
    assert_eq!(
        job.stats().expect("stats").ops_failed,
        failed + 1,
        "the put failed too"
    );
    ok_or_backend("count", job.count("c", b"", b""));
    job.stats().expect("stats");
    db.close_job("deleted").expect("close");
    // Reopened, the job is a new, empty, working database.
    let job = db.open_job("deleted").expect("reopen");
    assert_eq!(job.count("c", b"", b"").expect("count"), 0);
    job.write(vec![Op::put("c", b"d".to_vec(), b"4".to_vec())])
        .expect("write");
    db.close_job("deleted").expect("close");
    assert_eq!(integrity_check(&Path::new(&root).join("deleted.db")), "ok");
    db.close().expect("close");
}

#[test]
fn the_job_file_replaced_while_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_of(&dir);
    let db = Persistency::new(&root).expect("instance");
    let donor = db.open_job("donor").expect("open donor");
    for i in 0..300u32 {
        donor
            .put("c", &i.to_be_bytes(), &[9u8; 1_000])
            .expect("put");
    }
    db.close_job("donor").expect("close donor");
    let job = db.open_job("replaced").expect("open");
    for i in 0..20u32 {
        job.put("c", &(1_000 + i).to_be_bytes(), b"mine")
            .expect("put");
    }
    job.flush().expect("flush");
    let file = Path::new(&root).join("replaced.db");
    let tmp = Path::new(&root).join("replaced.tmp");
    std::fs::copy(Path::new(&root).join("donor.db"), &tmp).expect("copy");
    std::fs::rename(&tmp, &file).expect("rename over the open file");
    ok_or_backend("count", job.count("c", b"", b""));
    let err = job
        .write(vec![Op::put("c", b"x".to_vec(), b"y".to_vec())])
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Backend,
        "a write to a replaced file is refused: {err}"
    );
    job.put("c", b"z", b"w").expect("put is queued");
    job.flush().expect("flush");
    db.close_job("replaced").expect("close");
    // Reopened: either refused with a backend error naming the file, or a
    // sound database that serves reads and writes.
    match db.open_job("replaced") {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
            assert_names(&e, &file);
        }
        Ok(job) => {
            job.count("c", b"", b"").expect("count");
            job.put("c", b"after", b"1").expect("put");
            assert_eq!(job.get("c", b"after").expect("get"), Some(b"1".to_vec()));
            db.close_job("replaced").expect("close");
            assert_eq!(integrity_check(&file), "ok");
        }
    }
    db.close().expect("close");
}

// ---- unwritable roots ----------------------------------------------------------

/// A directory made immutable with `chattr +i` (which stops root too), made
/// mutable again when dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(dir.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// Makes `dir` unwritable: `chattr +i` when available (it stops root), else
/// mode 0555 (which stops other users). `None` if neither stops us.
fn unwritable(dir: &Path) -> Option<Box<dyn std::any::Any>> {
    if let Some(guard) = Immutable::set(dir) {
        return Some(Box::new(guard));
    }
    use std::os::unix::fs::PermissionsExt;
    struct Mode(PathBuf);
    impl Drop for Mode {
        fn drop(&mut self) {
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).ok()?;
    let guard = Mode(dir.to_path_buf());
    let probe = dir.join("probe");
    if std::fs::write(&probe, b"x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        return None;
    }
    Some(Box::new(guard))
}

#[test]
fn a_root_that_cannot_be_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("locked");
    std::fs::create_dir(&root).expect("mkdir");
    let root_s = root.to_string_lossy().into_owned();
    // A job created while the root was writable.
    let db = Persistency::new(&root_s).expect("instance");
    db.open_job("old")
        .expect("open")
        .put("c", b"k", b"v")
        .expect("put");
    db.close().expect("close");
    assert!(!root.join("old.db-wal").exists());

    let guard = unwritable(&root);
    if let Some(_guard) = guard {
        // A new job: its file cannot be created.
        let err = db
            .open_job("new")
            .expect_err("opened in an unwritable root");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert_names(&err, &root.join("new.db"));
        assert!(!root.join("new.db").exists());
        // An existing job: its WAL cannot be created next to it.
        let err = db
            .open_job("old")
            .expect_err("reopened in an unwritable root");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert_names(&err, &root.join("old.db"));
    } else {
        eprintln!("neither chattr +i nor chmod stops this user: only the /proc cases ran");
    }
    // Writable again, the existing job opens with its data.
    let job = db.open_job("old").expect("reopen");
    assert_eq!(job.get("c", b"k").expect("get"), Some(b"v".to_vec()));
    db.close().expect("close");

    // A root that cannot be created: under /proc nobody may make a
    // directory. Valid as a path (its first existing ancestor is a
    // directory), it fails at the first open, naming the root.
    let db = Persistency::new("/proc/persistency-faults/root").expect("valid path");
    let err = db.open_job("j").expect_err("created a root under /proc");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(
        err.message().contains("/proc/persistency-faults/root"),
        "{err}"
    );
    // A root that exists and is a directory, where no file can be made.
    let db = Persistency::new("/proc").expect("valid path");
    let err = db
        .open_job("persistency-faults")
        .expect_err("created a file in /proc");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("persistency-faults.db"), "{err}");
    // A root under a regular file is refused up front.
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").expect("write");
    let err =
        Persistency::new(&file.join("root").to_string_lossy()).expect_err("root under a file");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}

// ---- host callbacks that misbehave -------------------------------------------------

#[test]
fn a_panicking_callback_does_not_stop_the_job_or_break_order() {
    let db = Persistency::new(persistency::MEMORY_ROOT).expect("instance");
    let job = db.open_job("panicky").expect("open");
    let seen = Arc::new(Mutex::new(Vec::new()));
    for i in 0..300u32 {
        let seen = seen.clone();
        let record = move |tag: u32, panic: bool| {
            seen.lock().expect("seen").push(tag);
            if panic {
                panic!("host callback {tag} panics (on purpose)");
            }
        };
        match i % 3 {
            0 => job
                .write_then(
                    vec![Op::put("c", i.to_be_bytes().to_vec(), b"v".to_vec())],
                    move |r| {
                        r.expect("write");
                        record(i, i % 2 == 0);
                    },
                )
                .expect("write_then"),
            1 => job
                .get_then("c", &(i - 1).to_be_bytes(), move |r| {
                    assert_eq!(r.expect("get"), Some(b"v".to_vec()));
                    record(i, i % 2 == 0);
                })
                .expect("get_then"),
            _ => job
                .flush_then(move |r| {
                    r.expect("flush");
                    record(i, true);
                })
                .expect("flush_then"),
        }
    }
    job.flush().expect("flush after panicking callbacks");
    let seen = seen.lock().expect("seen").clone();
    assert_eq!(
        seen,
        (0..300).collect::<Vec<_>>(),
        "callbacks lost or out of order"
    );
    assert_eq!(job.count("c", b"", b"").expect("count"), 100);
    job.put("c", b"later", b"x").expect("put");
    assert_eq!(job.get("c", b"later").expect("get"), Some(b"x".to_vec()));
    db.close().expect("close");
}

#[test]
fn a_blocking_callback_holds_only_its_own_job() {
    let db = Persistency::new(persistency::MEMORY_ROOT).expect("instance");
    let slow = db
        .open_job_with(
            "slow",
            &JobOptions {
                queue_capacity: 8,
                full_policy: FullPolicy::Fail,
                ..JobOptions::default()
            },
        )
        .expect("open slow");
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let timed_out = Arc::new(AtomicBool::new(false));
    let order = Arc::new(Mutex::new(Vec::new()));
    {
        let (order, timed_out) = (order.clone(), timed_out.clone());
        slow.write_then(vec![Op::put("c", b"0".to_vec(), b"v".to_vec())], move |r| {
            r.expect("write");
            entered_tx.send(()).expect("entered");
            // Blocks until the test has worked with the other jobs.
            if release_rx.recv_timeout(Duration::from_secs(60)).is_err() {
                timed_out.store(true, Ordering::SeqCst);
            }
            order.lock().expect("order").push(0u32);
        })
        .expect("write_then");
    }
    entered_rx.recv().expect("the callback started");
    // Meanwhile the slow job still accepts work up to its queue capacity,
    // then says Busy instead of blocking the host; nothing is dropped.
    let mut accepted = Vec::new();
    let mut busy = 0;
    for i in 1..=40u32 {
        let order = order.clone();
        match slow.get_then("c", b"0", move |r| {
            assert_eq!(r.expect("get"), Some(b"v".to_vec()));
            order.lock().expect("order").push(i);
        }) {
            Ok(()) => accepted.push(i),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
                busy += 1;
            }
        }
    }
    assert!(busy > 0, "a full queue never said Busy");
    assert!(!accepted.is_empty());
    // Other jobs work, open and close while the slow job's worker blocks.
    let other = db.open_job("other").expect("open other");
    for i in 0..100u32 {
        other.put("c", &i.to_be_bytes(), b"x").expect("put");
    }
    assert_eq!(other.count("c", b"", b"").expect("count"), 100);
    let third = db.open_job("third").expect("open third");
    third
        .write(vec![Op::put("c", b"k".to_vec(), b"v".to_vec())])
        .expect("write");
    db.close_job("third").expect("close third");
    assert!(
        order.lock().expect("order").is_empty(),
        "the blocked callback finished early"
    );
    release_tx.send(()).expect("release");
    // Closing waits for every accepted request and callback (a flush could
    // still find the queue full and, with this policy, say Busy).
    db.close_job("slow").expect("close slow");
    assert!(
        !timed_out.load(Ordering::SeqCst),
        "the other jobs were held up"
    );
    let mut want = vec![0];
    want.extend(&accepted);
    assert_eq!(*order.lock().expect("order"), want, "the slow job's order");
    db.close().expect("close");
}

#[test]
fn a_callback_reaches_the_instance_while_its_job_is_closed_and_reopened() {
    // The closing job's callback needs the instance's job map while another
    // thread reopens the same job file and waits for the close to finish:
    // the reopen must not wait with the map locked.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(&root_of(&dir)).expect("instance");
    let job = db.open_job("x").expect("open");
    let (tx, rx) = std::sync::mpsc::channel();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let inner = db.clone();
    job.flush_then(move |_| {
        started_tx.send(()).expect("started");
        // Give the closer and the opener time to get going (ordering only;
        // the outcome does not depend on it).
        std::thread::sleep(Duration::from_millis(200));
        let _ = inner.has_job("other");
        let _ = inner.open_job("other").map(|j| j.put("c", b"k", b"v"));
        tx.send(()).expect("done");
    })
    .expect("flush_then");
    started_rx.recv().expect("callback started");
    let closer = {
        let db = db.clone();
        std::thread::spawn(move || db.close_job("x"))
    };
    std::thread::sleep(Duration::from_millis(50));
    let opener = {
        let db = db.clone();
        std::thread::spawn(move || db.open_job("x").map(|j| j.id().to_string()))
    };
    rx.recv_timeout(Duration::from_secs(30))
        .expect("deadlock: the callback never reached the instance");
    closer.join().expect("closer").expect("close_job");
    assert_eq!(opener.join().expect("opener").expect("reopen"), "x");
    assert!(db.has_job("x") && db.has_job("other"));
    db.close().expect("close");
}

// ---- injected panics inside the library -------------------------------------------

#[test]
fn a_panicking_request_fails_alone_and_the_job_keeps_serving() {
    let fault = persistency::FAULT_PANIC_CATEGORY;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(&root_of(&dir)).expect("instance");
    let job = db.open_job_with("faulty", &fast()).expect("open");
    let results = Arc::new(Mutex::new(Vec::new()));
    let push = |tag: &'static str| {
        let results = results.clone();
        move |r: persistency::Result<()>| {
            results
                .lock()
                .expect("results")
                .push((tag, r.map_err(|e| e.kind())))
        }
    };
    // In one group: a write before, a batch that panics halfway, writes after.
    job.put("c", b"before", b"1").expect("put");
    job.write_then(
        vec![Op::put("c", b"b1".to_vec(), b"1".to_vec())],
        push("b1"),
    )
    .expect("write_then");
    job.write_then(
        vec![
            Op::put("c", b"torn".to_vec(), b"1".to_vec()),
            Op::put(fault, b"k".to_vec(), b"1".to_vec()),
        ],
        push("panics"),
    )
    .expect("write_then");
    job.write_then(
        vec![Op::put("c", b"b2".to_vec(), b"1".to_vec())],
        push("b2"),
    )
    .expect("write_then");
    job.put("c", b"after", b"1").expect("put");
    job.flush().expect("flush");
    assert_eq!(
        *results.lock().expect("results"),
        vec![
            ("b1", Ok(())),
            ("panics", Err(ErrorKind::Internal)),
            ("b2", Ok(()))
        ]
    );
    let keys: BTreeSet<Vec<u8>> = job
        .scan("c", b"", b"", ScanOptions::default())
        .expect("scan")
        .iter()
        .map(|r| r.key.to_vec())
        .collect();
    let want: BTreeSet<Vec<u8>> = [&b"after"[..], b"b1", b"b2", b"before"]
        .iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(keys, want, "the panicking batch was not all-or-nothing");
    assert_eq!(
        job.count(fault, b"", b"").map_err(|e| e.kind()),
        Err(ErrorKind::Internal)
    );

    // Reads and acked deletes that panic report Internal, blocking or not.
    assert_eq!(kind(&job.get(fault, b"k")), Some(ErrorKind::Internal));
    assert_eq!(kind(&job.exists(fault, b"k")), Some(ErrorKind::Internal));
    assert_eq!(
        kind(&job.scan(fault, b"", b"", ScanOptions::default())),
        Some(ErrorKind::Internal)
    );
    assert_eq!(
        kind(&job.delete_acked(fault, b"k")),
        Some(ErrorKind::Internal)
    );
    let (tx, rx) = std::sync::mpsc::channel();
    job.get_then(fault, b"k", move |r| {
        tx.send(r.map_err(|e| e.kind())).expect("send")
    })
    .expect("get_then");
    assert_eq!(rx.recv().expect("callback"), Err(ErrorKind::Internal));
    // A fire-and-forget write that panics is counted as failed.
    let failed = job.stats().expect("stats").ops_failed;
    job.put(fault, b"k", b"v").expect("put is queued");
    job.flush().expect("flush");
    assert_eq!(job.stats().expect("stats").ops_failed, failed + 1);

    // The job keeps serving, and what it acknowledged is on disk.
    job.write(vec![Op::put("c", b"last".to_vec(), b"1".to_vec())])
        .expect("write");
    assert_eq!(job.count("c", b"", b"").expect("count"), 5);
    db.close_job("faulty").expect("close");
    let job = db.open_job("faulty").expect("reopen");
    assert_eq!(job.count("c", b"", b"").expect("count"), 5);
    db.close().expect("close");
}

// ---- the C ABI's panic boundary ---------------------------------------------------

mod c_abi {
    use std::ffi::{c_void, CStr, CString};
    use std::sync::atomic::{AtomicU64, Ordering};

    use ::persistency::ffi::*;

    static CALLS: AtomicU64 = AtomicU64::new(0);

    unsafe extern "C" fn count_call(result: *const persistency_result, user_data: *mut c_void) {
        // SAFETY: the library passes a valid result for the callback's duration.
        let status = unsafe { (*result).status };
        assert_eq!(status, PERSISTENCY_OK);
        assert!(user_data.is_null());
        CALLS.fetch_add(1, Ordering::SeqCst);
    }

    fn last_error() -> String {
        let p = persistency_last_error();
        assert!(!p.is_null(), "no last error");
        // SAFETY: NUL-terminated, valid until the next call on this thread.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    #[test]
    fn an_entry_point_that_panics_returns_internal() {
        let entry = CString::new(::persistency::FAULT_PANIC_ENTRY_CATEGORY).expect("cstring");
        let worker = CString::new(::persistency::FAULT_PANIC_CATEGORY).expect("cstring");
        let good = CString::new("c").expect("cstring");
        let root = CString::new(::persistency::MEMORY_ROOT).expect("cstring");
        let id = CString::new("c-abi-faults").expect("cstring");
        let mut p = std::ptr::null_mut();
        assert_eq!(persistency_new(root.as_ptr(), &mut p), PERSISTENCY_OK);
        let mut job = std::ptr::null_mut();
        assert_eq!(
            persistency_open_job(p, id.as_ptr(), &mut job),
            PERSISTENCY_OK
        );
        let (k, v) = (b"k", b"v");

        let before = CALLS.load(Ordering::SeqCst);
        let st = persistency_put(job, entry.as_ptr(), k.as_ptr(), 1, v.as_ptr(), 1);
        assert_eq!(st, PERSISTENCY_ERR_INTERNAL);
        assert!(last_error().contains("panic"), "{}", last_error());
        let st = persistency_get(
            job,
            entry.as_ptr(),
            k.as_ptr(),
            1,
            Some(count_call),
            std::ptr::null_mut(),
        );
        assert_eq!(st, PERSISTENCY_ERR_INTERNAL, "an entry that panicked");
        let op = persistency_op {
            kind: PERSISTENCY_OP_PUT,
            category: entry.as_ptr(),
            key: k.as_ptr(),
            key_len: 1,
            payload: v.as_ptr(),
            payload_len: 1,
        };
        let st = persistency_write(job, &op, 1, Some(count_call), std::ptr::null_mut());
        assert_eq!(st, PERSISTENCY_ERR_INTERNAL);

        // A worker-side panic behind the C ABI: accepted, then fails alone.
        let st = persistency_put(job, worker.as_ptr(), k.as_ptr(), 1, v.as_ptr(), 1);
        assert_eq!(st, PERSISTENCY_OK);

        // The job keeps serving through the C ABI, and no callback of a
        // refused call ever ran.
        let st = persistency_put(job, good.as_ptr(), k.as_ptr(), 1, v.as_ptr(), 1);
        assert_eq!(st, PERSISTENCY_OK);
        assert_eq!(
            persistency_flush(job, Some(count_call), std::ptr::null_mut()),
            PERSISTENCY_OK
        );
        let mut stats = persistency_stats {
            queued: 0,
            ops_applied: 0,
            ops_failed: 0,
            transactions: 0,
            reads: 0,
            db_bytes: 0,
        };
        assert_eq!(persistency_close_job(p, id.as_ptr()), PERSISTENCY_OK);
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            before + 1,
            "callbacks of refused calls ran"
        );
        assert_eq!(
            persistency_job_stats(job, &mut stats),
            PERSISTENCY_ERR_CLOSED
        );
        persistency_job_release(job);
        persistency_release(p);
    }
}
