//! The tests whose bodies run in a child process: this binary re-run on one
//! ignored test (by its full name, `module::test`), which a parent kills
//! with SIGKILL (`crash`, `sync_crash`) or whose resident set it measures
//! (`memory_bound`). What the child does or measures is its own; the
//! parents only spawn, kill and check files, so they share this binary
//! without sharing the `integration` tests' process.

#[path = "../common/mod.rs"]
mod common;

mod crash;
mod memory_bound;
mod sync_crash;
