//! Helpers shared by the integration tests.
//!
//! Each test crate includes this module (`mod common;`, or
//! `#[path = "../common/mod.rs"] mod common;` from a test folder) and uses
//! only some of it.
#![allow(dead_code, reason = "each test crate uses only some of these helpers")]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc;

use persistency::{Job, Op, Summary, SyncId, SyncRange};

pub mod rng;

/// The value of the environment variable `name`, or `default` when it is
/// not set; panics when it is set to something that does not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// The environment variable that runs the behavioural tests against
/// PostgreSQL: a root URI of a scratch database (`scripts/test-postgres.sh`
/// sets it). Each root the helpers below hand out is then a fresh schema
/// of that database.
pub const POSTGRES_ENV: &str = "PERSISTENCY_TEST_POSTGRES";

/// The PostgreSQL root URI the tests run against, if any.
pub fn postgres() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|v| !v.is_empty())
}

/// A root URI naming a schema no other root of this run uses.
fn fresh_schema(uri: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!(
        "{uri}{sep}schema=t_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The root of an instance inside the scratch directory `dir`: a folder
/// the library has to create; under PostgreSQL, a fresh schema.
pub fn root_in(dir: &Path) -> String {
    match postgres() {
        Some(uri) => fresh_schema(&uri),
        None => dir.join("root").to_string_lossy().into_owned(),
    }
}

/// A root whose jobs nobody else sees: `:memory:`, or under PostgreSQL a
/// fresh schema (whose jobs, unlike in-memory ones, outlive a close).
pub fn scratch_root() -> String {
    match postgres() {
        Some(uri) => fresh_schema(&uri),
        None => persistency::MEMORY_ROOT.to_string(),
    }
}

/// Whether a test that only means something for SQLite job files should
/// skip itself: under PostgreSQL it says so and returns true.
pub fn skip_on_postgres(why: &str) -> bool {
    if postgres().is_some() {
        eprintln!("skipped under PostgreSQL: {why}");
        return true;
    }
    false
}

/// `PRAGMA integrity_check` through `conn`, a connection of the test's own
/// (not the library's): `"ok"` for a sound database.
pub fn integrity_check_with(conn: &rusqlite::Connection) -> rusqlite::Result<String> {
    let lines: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(lines.join("\n"))
}

/// Holds the job's worker inside the callback of a small write (a row
/// `h`/`hold`, committed first) until the returned sender sends or is
/// dropped, so the requests queued meanwhile wait together.
pub fn hold_worker(job: &Job) -> mpsc::Sender<()> {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    job.write_then(vec![Op::put("h", b"hold".to_vec(), Vec::new())], move |r| {
        r.expect("the holding write");
        entered_tx.send(()).expect("entered");
        let _ = go_rx.recv();
    })
    .expect("holding write");
    entered_rx.recv().expect("the worker is held");
    go_tx
}

/// This test binary re-run to execute only the ignored test `name` (a
/// child process's body), quietly and on one thread. `name` is the test's
/// full name in its binary, module path included (`crash::crash_child`).
pub fn child_test(name: &str) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().expect("current_exe"));
    command.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ]);
    command
}

/// Kills a child process with SIGKILL (what `Child::kill` sends on Unix)
/// and reaps it; panics if it had already ended by itself.
pub fn sigkill(child: &mut std::process::Child) {
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("wait child");
    assert!(!status.success(), "the child ended by itself: {status:?}");
}

/// The count and fingerprint of the ids of `all` in `range`, by brute
/// force.
pub fn brute_summary(all: &BTreeSet<SyncId>, range: &SyncRange) -> Summary {
    let mut summary = Summary::default();
    for id in all.range(range.start..range.stop) {
        summary.count += 1;
        summary
            .fingerprint
            .iter_mut()
            .zip(&id.hash)
            .for_each(|(f, h)| *f ^= h);
    }
    summary
}
