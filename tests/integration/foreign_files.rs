//! Files that are not ours (issue 17, class 7): an existing, non-empty
//! database without this library's schema and version is refused with an
//! error naming the file, and left byte for byte as it was; an empty or a
//! missing file becomes a new job.

use std::path::{Path, PathBuf};

use persistency::{ErrorKind, Persistency};
use rusqlite::Connection;

fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let root = root.to_string_lossy().into_owned();
    (dir, root)
}

/// The database file of `job` under `root`.
fn file(root: &str, job: &str) -> PathBuf {
    Path::new(root).join(format!("{job}.db"))
}

/// Every file of the root with its bytes.
fn snapshot(root: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(root)
        .expect("read_dir")
        .map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("read"))
        })
        .collect();
    files.sort();
    files
}

/// Creates `<root>/<job>.db` with `sql` run through a connection of our own.
fn make(root: &str, job: &str, sql: &str) -> PathBuf {
    let path = file(root, job);
    let conn = Connection::open(&path).expect("sqlite");
    conn.execute_batch(sql).expect("foreign schema");
    drop(conn);
    path
}

/// Opening `job` is refused, twice, with a backend error naming the file,
/// and changes no byte of any file of the root.
fn assert_refused_unchanged(root: &str, job: &str) {
    let before = snapshot(root);
    let db = Persistency::new(root).expect("instance");
    for attempt in 0..2 {
        let err = db.open_job(job).expect_err("a foreign database was opened");
        assert_eq!(err.kind(), ErrorKind::Backend, "attempt {attempt}: {err}");
        let name = format!("{job}.db");
        assert!(err.message().contains(&name), "does not name {name}: {err}");
        assert!(
            err.message().contains("not a job file"),
            "does not say why: {err}"
        );
        assert!(!db.has_job(job));
    }
    db.close().expect("close");
    let after = snapshot(root);
    let names = |s: &[(String, Vec<u8>)]| s.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    let db_name = format!("{job}.db");
    let bytes = |s: &[(String, Vec<u8>)]| s.iter().find(|f| f.0 == db_name).map(|f| f.1.clone());
    assert!(bytes(&before) == bytes(&after), "{db_name} was modified");
    // Only SQLite's own empty -wal/-shm of a reader may appear next to a
    // WAL-mode file; every file that was there is unchanged.
    for (name, content) in &before {
        let now = after.iter().find(|f| &f.0 == name).map(|f| &f.1);
        assert!(
            now == Some(content) || name.ends_with("-shm"),
            "{name} changed"
        );
    }
    assert!(
        names(&after)
            .iter()
            .all(|n| names(&before).contains(n) || n.ends_with("-shm") || n.ends_with("-wal")),
        "files appeared: {:?} -> {:?}",
        names(&before),
        names(&after)
    );
}

#[test]
fn another_applications_database_is_refused_unchanged() {
    let (_dir, root) = setup();
    let path = make(
        &root,
        "app",
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT); \
         INSERT INTO messages(body) VALUES ('hello'), ('world'); \
         CREATE INDEX messages_body ON messages(body);",
    );
    assert_refused_unchanged(&root, "app");
    // Still the other application's database, in its own journal mode.
    let conn = Connection::open(&path).expect("reopen");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 2);
    let (version, mode): (i64, String) = conn
        .query_row(
            "SELECT * FROM pragma_user_version, pragma_journal_mode",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("pragmas");
    assert_eq!((version, mode.as_str()), (0, "delete"));
}

#[test]
fn a_kv_table_of_another_schema_is_refused_unchanged() {
    let (_dir, root) = setup();
    // user_version 0 and 1, a different kv, and ours with a rowid.
    let cases = [
        (
            "kv0",
            "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES ('a', 'b');",
        ),
        (
            "kv1",
            "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES ('a', 'b'); \
             PRAGMA user_version = 1;",
        ),
        (
            "rowid",
            "CREATE TABLE kv(category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, \
             PRIMARY KEY (category, key)); PRAGMA user_version = 1;",
        ),
        (
            "nullable",
            "CREATE TABLE kv(category BLOB, key BLOB, payload BLOB, \
             PRIMARY KEY (category, key)) WITHOUT ROWID; PRAGMA user_version = 1;",
        ),
        ("nokv", "CREATE TABLE other(x); PRAGMA user_version = 1;"),
        (
            "extra",
            "CREATE TABLE kv(category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, \
             PRIMARY KEY (category, key)) WITHOUT ROWID; CREATE TABLE t(x);",
        ),
    ];
    for (job, sql) in cases {
        make(&root, job, sql);
        assert_refused_unchanged(&root, job);
    }
}

#[test]
fn a_wal_database_with_uncheckpointed_frames_is_not_checkpointed() {
    let (_dir, root) = setup();
    let path = file(&root, "walapp");
    let conn = Connection::open(&path).expect("sqlite");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);",
    )
    .expect("wal db");
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .expect("no checkpoint on close");
    drop(conn);
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "the setup left no WAL frames"
    );
    assert_refused_unchanged(&root, "walapp");
}

#[test]
fn an_empty_or_missing_file_becomes_a_new_job() {
    let (_dir, root) = setup();
    std::fs::write(file(&root, "zero"), b"").expect("empty file");
    // A database with nothing in it (such as an interrupted creation).
    make(&root, "blank", "PRAGMA journal_mode = WAL;");
    let db = Persistency::new(&root).expect("instance");
    for job in ["zero", "blank", "missing"] {
        let j = db.open_job(job).expect("open");
        j.write(vec![persistency::Op::put(
            "c",
            b"k".to_vec(),
            job.as_bytes().to_vec(),
        )])
        .expect("write");
        db.close_job(job).expect("close");
        let j = db.open_job(job).expect("reopen");
        assert_eq!(
            j.get("c", b"k").expect("get"),
            Some(job.as_bytes().to_vec())
        );
    }
    db.close().expect("close");
}

#[test]
fn an_upstream_file_without_its_version_stamp_is_adopted() {
    let (_dir, root) = setup();
    // Upstream creates kv, then stamps the version in a second statement.
    let path = make(
        &root,
        "upstream",
        "CREATE TABLE kv (category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, \
         PRIMARY KEY (category, key)) WITHOUT ROWID; \
         INSERT INTO kv VALUES (x'63', x'6b', x'76');",
    );
    let db = Persistency::new(&root).expect("instance");
    let job = db.open_job("upstream").expect("open");
    assert_eq!(job.get("c", b"k").expect("get"), Some(b"v".to_vec()));
    db.close().expect("close");
    let conn = Connection::open(&path).expect("sqlite");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 1);
}
