//! Helpers shared by the integration tests.
//!
//! Each test crate includes this module (`mod common;`, or
//! `#[path = "../common/mod.rs"] mod common;` from a test folder) and uses
//! only some of it.
#![allow(dead_code, reason = "each test crate uses only some of these helpers")]

use std::path::Path;
use std::sync::mpsc;

use persistency::{Job, Op};

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

/// The root of an instance inside the scratch directory `dir`: a folder
/// the library has to create.
pub fn root_in(dir: &Path) -> String {
    dir.join("root").to_string_lossy().into_owned()
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
