//! Faults: what the library does when the disk quota is reached, when the
//! job file is not a database, truncated, deleted or replaced, when the root
//! cannot be written, when a host callback panics or blocks, and when a
//! request panics inside the library (the `fault-injection` feature).
//!
//! Every test asserts the observable outcome: the error kind and that its
//! message names the file, that the job keeps serving afterwards, and that
//! nothing accepted is lost or reordered. Run with
//! `cargo test --release --features fault-injection --test faults`
//! (Cargo.toml declares the feature as required: without it this test
//! crate is skipped).
//!
//! One module per kind of fault: [`quota`], [`bad_files`] (refused at open),
//! [`changed_files`] (changed under an open job), [`unwritable`] (roots),
//! [`callbacks`] (host callbacks that misbehave), [`injected_panics`]
//! (requests that panic in the worker), [`c_abi`] (entry points that
//! panic), [`disk_faults`] (I/O errors from the fault VFS) and
//! [`power_cut`] (simulated power cuts).
//!
//! The fault VFS's plan is process-wide, but its rules match files by a
//! substring of their path: each test uses its own temporary directory as
//! that substring, so the tests of this binary run side by side.

mod bad_files;
mod c_abi;
mod callbacks;
mod changed_files;
mod disk_faults;
mod injected_panics;
mod power_cut;
mod quota;
mod read_ahead;
mod sync_fill;
mod unwritable;

#[path = "../common/mod.rs"]
mod common;

use std::path::Path;

use persistency::{ErrorKind, JobOptions, Synchronous};

/// Job options for tests that do not need durability: no fsync.
fn fast() -> JobOptions {
    JobOptions::default().synchronous(Synchronous::Off)
}

/// The error kind of `r`, if it failed.
fn kind<T: std::fmt::Debug>(r: &persistency::Result<T>) -> Option<ErrorKind> {
    r.as_ref().err().map(persistency::Error::kind)
}

/// Asserts that `err`'s message names `file`.
fn assert_names(err: &persistency::Error, file: &Path) {
    let name = file.file_name().expect("file name").to_string_lossy();
    assert!(
        err.message().contains(&*name),
        "the error does not name {}: {err}",
        file.display()
    );
}
