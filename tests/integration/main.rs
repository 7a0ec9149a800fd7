//! The integration tests that can share one process, as one test binary:
//! every test binary links the whole library and its bundled SQLite, so
//! one binary instead of one per file builds and links far less.
//!
//! A module belongs here only if it leaves the process alone: it installs
//! no fault-injection hook, keeps no process-wide state another module
//! reads or sets, measures nothing of the process, sets no environment
//! variable, and does not re-run the binary as a child. Two modules touch
//! process-wide state that no other module here uses: `instances` (the
//! process-wide instance) and one test of `guarantees`, which installs a
//! logger for a moment and looks only for its own job's message among
//! what it receives. Tests that need more are in binaries of their own:
//! `logger` (replaces the logger throughout), `stress` (measures the
//! resident set), `drop_race_hook` (the drop hook), `faults` (the
//! fault-injection hooks) and `child_process`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../watchdog/mod.rs"]
mod watchdog;

mod backend;
mod blocking_reads;
mod callback_deadlocks;
mod cursors;
mod disk_full;
mod drop_race;
mod ffi_handles;
mod foreign_files;
mod fuzz_ffi;
mod guarantees;
mod instances;
mod keys;
mod lifecycle;
mod notation;
mod open_errors;
mod same_file;
mod sync_fill;
mod sync_model;
mod sync_vectors;
