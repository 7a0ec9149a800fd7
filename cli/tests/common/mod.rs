//! Job files for the command tests: made by the library, or by another
//! program (rusqlite) with the upstream schema.

#![allow(dead_code)]

use assert_cmd::Command;
use persistency::{encode_key, Op, Persistency};

pub const TOPIC: &str = "/waku/2/default";

/// The key of message `i`: (topic, timestamp, hash).
pub fn key(i: u64) -> Vec<u8> {
    let hash: Vec<u8> = (0..4u8)
        .map(|b| (i as u8).wrapping_mul(31).wrapping_add(b))
        .collect();
    encode_key(&(TOPIC, 1_700_000_000_000i64 + i as i64, hash.as_slice())).unwrap()
}

/// The payload of message `i`: text for even `i`, binary (with a zero
/// byte and invalid UTF-8) for odd, empty for multiples of 7.
pub fn payload(i: u64) -> Vec<u8> {
    if i % 7 == 0 {
        Vec::new()
    } else if i % 2 == 0 {
        format!("message {i}").into_bytes()
    } else {
        vec![0, 0xff, (i % 251) as u8, b'\n', b'"']
    }
}

/// A job of `n` messages in category "messages" and 2 in "meta", written
/// through the library and closed.
pub fn library_job(root: &str, job: &str, n: u64) {
    let db = Persistency::new(root).unwrap();
    let handle = db.open_job(job).unwrap();
    let ids: Vec<u64> = (0..n).collect();
    for chunk in ids.chunks(10_000) {
        let ops = chunk
            .iter()
            .map(|&i| Op::put("messages", key(i), payload(i)))
            .collect();
        handle.write(ops).unwrap();
    }
    handle
        .write(vec![
            Op::put("meta", encode_key("version").unwrap(), b"1".to_vec()),
            Op::put("meta", vec![0xff, 0xfe], vec![1, 2, 3]),
        ])
        .unwrap();
    db.close().unwrap();
}

/// A job file with the upstream schema written by plain SQLite: `n` rows
/// in "messages", one transaction.
pub fn upstream_job(root: &str, job: &str, n: u64) {
    let conn = rusqlite::Connection::open(format!("{root}/{job}.db")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS kv (category BLOB NOT NULL, key BLOB NOT NULL,
           payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID;
         PRAGMA user_version = 1;
         BEGIN;",
    )
    .unwrap();
    {
        let mut insert = conn
            .prepare("INSERT INTO kv (category, key, payload) VALUES (?1, ?2, ?3)")
            .unwrap();
        for i in 0..n {
            insert
                .execute(rusqlite::params![&b"messages"[..], key(i), payload(i)])
                .unwrap();
        }
    }
    conn.execute_batch("COMMIT;").unwrap();
}

/// The command under test.
pub fn cli() -> Command {
    Command::cargo_bin("persistency").unwrap()
}

/// The stdout of a command that must succeed.
pub fn stdout_of(args: &[&str]) -> Vec<u8> {
    cli()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

/// A new root directory.
pub fn root() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    (dir, path)
}
