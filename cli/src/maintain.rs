//! `backup`, `check` and `compact`: the library's maintenance operations
//! on one job, from the shell. Each opens the job through the library (as a
//! node would) and waits for the operation, with a progress bar on stderr
//! fed by the library's progress reports (bytes done of bytes to do, rate
//! and ETA).

use indicatif::{ProgressBar, ProgressDrawTarget};
use persistency::{ErrorKind, Job, Persistency, Progress};

use crate::bar::{progress, Unit};
use crate::Failure;

/// A byte bar, or a hidden one when stderr is not a terminal or with
/// `--quiet`, and the closure that moves it on each report. The bar shows
/// from the first report on (before it, the total is not known yet).
fn bar(quiet: bool, what: &str) -> (ProgressBar, impl FnMut(Progress) + Send + 'static) {
    let bar = progress(quiet, Some(0), Unit::Bytes, what);
    let mut hidden = Some(bar.is_hidden()).filter(|h| !h);
    bar.set_draw_target(ProgressDrawTarget::hidden());
    let moved = bar.clone();
    (bar, move |p: Progress| {
        moved.set_length(p.total);
        moved.set_position(p.done);
        if hidden.take().is_some() {
            moved.set_draw_target(ProgressDrawTarget::stderr());
        }
    })
}

/// Opens an existing job through the library. With `exclusive`, a job that
/// another process holds is refused (the operation writes).
fn open_existing(root: &str, job: &str, exclusive: bool) -> Result<(Persistency, Job), Failure> {
    let path = persistency::job_path(root, job)
        .map_err(|e| Failure::from_lib(&e, "give an existing root directory and a job id"))?;
    let shown = path.display().to_string();
    if !path.is_file() {
        return Err(Failure::failed(format!(
            "{shown} does not exist; list the jobs with `persistency jobs {root}`"
        )));
    }
    if exclusive {
        match persistency::job_holder(root, job) {
            Ok(None) => {}
            Ok(Some(pid)) => {
                return Err(Failure::failed(format!(
                    "{shown} is open in process {pid} (a running node?); refused: stop that \
                     process, or let the node compact its own job (persistency_job_compact)"
                )))
            }
            Err(e) => {
                return Err(Failure::from_lib(
                    &e,
                    "check the permissions of the job's -shm file",
                ))
            }
        }
    }
    let db = Persistency::new(root)
        .map_err(|e| Failure::from_lib(&e, &format!("check the root directory {root}")))?;
    let handle = db.open_job(job).map_err(|e| {
        Failure::from_lib(
            &e,
            &format!("{shown}: check that it is a job file of this library"),
        )
    })?;
    Ok((db, handle))
}

/// `backup ROOT JOB DEST`: a consistent copy of the job, written atomically
/// to DEST (which must not exist). Works next to a running node.
pub fn backup(root: &str, job: &str, dest: &str, quiet: bool) -> Result<(), Failure> {
    let (db, handle) = open_existing(root, job, false)?;
    let (bar, report) = bar(quiet, "backup");
    let result = handle.backup_with_progress(dest, report);
    bar.finish_and_clear();
    let _ = db.close();
    result.map_err(|e| {
        let hint = match e.kind() {
            ErrorKind::InvalidArgument => {
                "give a destination that does not exist yet, in an existing directory"
            }
            _ => "check the destination's directory: its space and permissions",
        };
        Failure::from_lib(&e, hint)
    })?;
    println!("backed up {root}/{job}.db to {dest}");
    Ok(())
}

/// `check ROOT JOB`: SQLite's integrity check of the job's file.
pub fn check(root: &str, job: &str, quiet: bool) -> Result<(), Failure> {
    let (db, handle) = open_existing(root, job, false)?;
    let (bar, report) = bar(quiet, "check");
    let result = handle.check_with_progress(report);
    bar.finish_and_clear();
    let _ = db.close();
    result.map_err(|e| {
        Failure::failed(format!(
            "{}; restore the job from a backup, or export what still reads and import it into a new job",
            e.message()
        ))
    })?;
    println!("{root}/{job}.db: ok");
    Ok(())
}

/// `compact ROOT JOB`: gives the job's free pages back to the file system.
/// Refused next to a process that holds the job.
pub fn compact(root: &str, job: &str, quiet: bool) -> Result<(), Failure> {
    let (db, handle) = open_existing(root, job, true)?;
    let before = handle.stats().map(|s| s.db_bytes).unwrap_or(0);
    let (bar, report) = bar(quiet, "compact");
    let result = handle.compact_with_progress(report);
    bar.finish_and_clear();
    let after = handle.stats().map(|s| s.db_bytes).unwrap_or(0);
    let _ = db.close();
    result.map_err(|e| Failure::from_lib(&e, "check the file system's space and permissions"))?;
    println!("compacted {root}/{job}.db: {before} -> {after} bytes");
    Ok(())
}
