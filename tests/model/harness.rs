//! The library side of a case: the instance and its jobs, the model of each
//! job, the callbacks owed and those that arrived, and the steps that close
//! and reopen.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use persistency::{ErrorKind, Job, Persistency, ScanOptions};

use crate::common::root_in;
use crate::cursors::OpenCursor;
use crate::model::{got, Got, Model, Outcome};
use crate::{CALLBACKS_CHECKED, CATEGORIES, JOBS, REOPENS};

pub type Check = Result<(), String>;

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Check {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

/// A callback result as it arrived.
struct Arrival {
    ticket: usize,
    got: Got,
}

/// A callback still owed.
struct Owed {
    ticket: usize,
    step: usize,
    expected: Outcome,
}

pub struct Harness {
    _dir: Option<tempfile::TempDir>,
    root: String,
    pub db: Persistency,
    pub jobs: Vec<Job>,
    pub models: Vec<Model>,
    /// Per job: callbacks that arrived, in arrival order.
    arrivals: Vec<Arc<Mutex<Vec<Arrival>>>>,
    /// Per job: callbacks owed, in acceptance order.
    owed: Vec<Vec<Owed>>,
    next_ticket: usize,
    /// Per job: the open cursor of the cursor steps, if any.
    pub cursors: Vec<Option<OpenCursor>>,
}

impl Harness {
    pub fn new(on_disk: bool) -> Result<Harness, String> {
        // Under PostgreSQL every case is kept (in a fresh schema): jobs
        // outlive a close there as on disk.
        let on_disk = on_disk || crate::common::postgres().is_some();
        let (dir, root) = if on_disk {
            let dir = scratch_dir().map_err(|e| e.to_string())?;
            let root = root_in(dir.path());
            (Some(dir), root)
        } else {
            (None, persistency::MEMORY_ROOT.to_string())
        };
        let db = Persistency::new(&root).map_err(|e| e.to_string())?;
        let mut h = Harness {
            _dir: dir,
            root,
            db,
            jobs: Vec::new(),
            models: vec![Model::default(); JOBS.len()],
            arrivals: (0..JOBS.len()).map(|_| Arc::default()).collect(),
            owed: (0..JOBS.len()).map(|_| Vec::new()).collect(),
            next_ticket: 0,
            cursors: (0..JOBS.len()).map(|_| None).collect(),
        };
        for id in JOBS {
            let job = h.db.open_job(id).map_err(|e| format!("open {id}: {e}"))?;
            h.jobs.push(job);
        }
        Ok(h)
    }

    fn on_disk(&self) -> bool {
        self._dir.is_some()
    }

    /// Records a callback owed with `expected` and returns the closure to
    /// hand to the `_then` call.
    pub fn expect<T: Into<Outcome> + Send + 'static>(
        &mut self,
        job: usize,
        step: usize,
        expected: Outcome,
    ) -> impl FnOnce(persistency::Result<T>) + Send + 'static {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.owed[job].push(Owed {
            ticket,
            step,
            expected,
        });
        let arrivals = self.arrivals[job].clone();
        move |r: persistency::Result<T>| {
            let got = got(r);
            arrivals
                .lock()
                .expect("arrivals lock")
                .push(Arrival { ticket, got });
        }
    }

    /// Checks that every callback owed by `job` arrived exactly once, in
    /// order, with the expected result.
    pub fn settle(&mut self, job: usize, when: &str) -> Check {
        let arrived = std::mem::take(&mut *self.arrivals[job].lock().expect("arrivals lock"));
        let owed = std::mem::take(&mut self.owed[job]);
        CALLBACKS_CHECKED.fetch_add(owed.len() as u64, Relaxed);
        ensure(arrived.len() == owed.len(), || {
            format!(
                "job {}: {} callbacks owed, {} arrived, {when}",
                JOBS[job],
                owed.len(),
                arrived.len()
            )
        })?;
        for (o, a) in owed.iter().zip(&arrived) {
            ensure(o.ticket == a.ticket, || {
                format!(
                    "job {}: callback of step {} (ticket {}) arrived as ticket {}: out of order or doubled, {when}",
                    JOBS[job], o.step, o.ticket, a.ticket
                )
            })?;
            ensure(a.got.as_ref() == Ok(&o.expected), || {
                format!(
                    "job {}: callback of step {}: got {:?}, model says {:?}",
                    JOBS[job], o.step, a.got, o.expected
                )
            })?;
        }
        Ok(())
    }

    pub fn compare(step: usize, what: &str, got: Got, expected: Outcome) -> Check {
        ensure(got.as_ref() == Ok(&expected), || {
            format!("step {step} ({what}): got {got:?}, model says {expected:?}")
        })
    }

    pub fn accepted(step: usize, r: persistency::Result<()>) -> Check {
        r.map_err(|e| format!("step {step}: call refused: {e}"))
    }

    /// Closes `job` and opens it again.
    pub fn reopen_job(&mut self, job: usize) -> Check {
        REOPENS.fetch_add(1, Relaxed);
        self.cursors[job] = None;
        let old = self.jobs[job].clone();
        self.db
            .close_job(JOBS[job])
            .map_err(|e| format!("close_job: {e}"))?;
        self.settle(job, "after close_job returned")?;
        let closed = old.get(CATEGORIES[0], b"");
        ensure(
            matches!(&closed, Err(e) if e.kind() == ErrorKind::Closed),
            || format!("a closed job's handle answered {closed:?}, not Closed"),
        )?;
        if !self.on_disk() {
            self.models[job] = Model::default();
        }
        self.jobs[job] = self
            .db
            .open_job(JOBS[job])
            .map_err(|e| format!("reopen {}: {e}", JOBS[job]))?;
        Ok(())
    }

    /// Closes the instance (by `close` or by dropping the last reference)
    /// and makes a new one over the same root.
    pub fn reopen_instance(&mut self, by_drop: bool) -> Check {
        REOPENS.fetch_add(1, Relaxed);
        self.cursors.iter_mut().for_each(|c| *c = None);
        let old = self.jobs.clone();
        if by_drop {
            let fresh = Persistency::new(&self.root).map_err(|e| e.to_string())?;
            self.jobs.clear();
            drop(std::mem::replace(&mut self.db, fresh));
        } else {
            self.db.close().map_err(|e| format!("close: {e}"))?;
            self.jobs.clear();
        }
        for (job, handle) in old.iter().enumerate() {
            self.settle(job, "after the instance was closed")?;
            let closed = handle.flush();
            ensure(
                matches!(&closed, Err(e) if e.kind() == ErrorKind::Closed),
                || format!("a job of a closed instance answered {closed:?}, not Closed"),
            )?;
        }
        drop(old);
        if !self.on_disk() {
            self.models.iter_mut().for_each(|m| *m = Model::default());
        }
        for id in JOBS {
            let job = self
                .db
                .open_job(id)
                .map_err(|e| format!("reopen {id}: {e}"))?;
            self.jobs.push(job);
        }
        Ok(())
    }

    /// Compares every category of every job with the model in full, and
    /// checks no write failed.
    pub fn final_check(&mut self) -> Check {
        for (job, id) in JOBS.iter().enumerate() {
            self.jobs[job]
                .flush()
                .map_err(|e| format!("final flush: {e}"))?;
            self.settle(job, "at the end")?;
            for (cat, name) in CATEGORIES.iter().enumerate() {
                let expected = self.models[job].rows(cat, |_| true, false, 0);
                let rows = self.jobs[job].scan(name, b"", b"", ScanOptions::default());
                Self::compare(usize::MAX, "final scan", got(rows), expected)?;
            }
            let stats = self.jobs[job].stats().map_err(|e| e.to_string())?;
            ensure(stats.ops_failed == 0, || {
                format!("job {id}: {} writes failed", stats.ops_failed)
            })?;
        }
        Ok(())
    }
}

/// A temporary directory for the on-disk cases: under `MODEL_DIR` if set,
/// else in `/dev/shm` when it exists (this test checks results, not
/// durability, and fsyncs on a real disk would dominate its run time), else
/// in the system's temporary directory.
fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    if let Some(dir) = std::env::var_os("MODEL_DIR") {
        return tempfile::tempdir_in(dir);
    }
    tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())
}
