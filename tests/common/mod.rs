//! Helpers shared by the integration tests.
//!
//! Each test crate includes this module (`mod common;`, or
//! `#[path = "../common/mod.rs"] mod common;` from a test folder) and uses
//! only some of it.
#![allow(dead_code, reason = "each test crate uses only some of these helpers")]

use std::path::Path;

/// A small deterministic generator (splitmix64): no extra dependency, and a
/// seed reproduces a run.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

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
