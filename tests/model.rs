//! Model-based test: random sequences of operations are applied both to the
//! library (through the Rust API) and to an in-memory model, a
//! `BTreeMap<key, payload>` per category per job; every result must equal
//! the model's.
//!
//! - Keys come from a 4-letter alphabet (`00 01 61 ff`) and are 0 to 3 bytes
//!   long, so keys collide, prefixes overlap, and all-`ff` prefixes (whose
//!   range has no upper bound) occur often. Categories `""`, `"a"`, `"ab"`
//!   share prefixes too; two jobs run side by side in one instance.
//! - Blocking calls are mixed with the `_then` callback forms. A callback's
//!   expected result is taken from the model when the call is made (the
//!   library applies a job's operations in acceptance order); it is checked
//!   when the callback arrives. Callbacks of a job must arrive in acceptance
//!   order, exactly once, and all before a later blocking `flush` or
//!   `close_job` of that job returns.
//! - Fire-and-forget writes followed by reads must be visible
//!   (read-your-writes): nothing in the sequence waits between them.
//! - One case in eight runs on a temporary directory, where closing and
//!   reopening a job or the whole instance keeps the data; on `:memory:` a
//!   reopened job starts empty.
//!
//! A case is a sequence of `MODEL_MIN_OPS..=MODEL_MAX_OPS` steps (default
//! 150..=350). Shrinking replaces steps with `Skip` (the simplest step) and
//! simplifies the others; a failure prints the remaining steps and the seed.
//!
//! Environment: `PROPTEST_CASES` (default 2000), `PROPTEST_RNG_SEED`
//! (default fixed), `MODEL_MIN_OPS`, `MODEL_MAX_OPS`, `MODEL_DIR` (where the
//! on-disk cases live; default `/dev/shm` if present). `scripts/model_long.sh`
//! runs a longer version.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use persistency::{ErrorKind, Job, Op, Persistency, Rows, ScanOptions};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

const CATEGORIES: [&str; 3] = ["", "a", "ab"];
const ALPHABET: [u8; 4] = [0x00, 0x01, 0x61, 0xff];
const JOBS: [&str; 2] = ["alpha", "beta"];
const DEFAULT_SEED: u64 = 0x005e_ed0f_1e55;

/// Figures of the run, printed at the end.
static ON_DISK_CASES: AtomicU64 = AtomicU64::new(0);
static STEPS: AtomicU64 = AtomicU64::new(0);
static CALLBACKS_CHECKED: AtomicU64 = AtomicU64::new(0);
static REOPENS: AtomicU64 = AtomicU64::new(0);

/// Whether a call is made in its blocking form or its `_then` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Blocking,
    Then,
}

/// How a batch is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchMode {
    /// `write`: waits for the commit.
    Blocking,
    /// `write_then`: callback after the commit.
    Then,
    /// `submit_batch`: fire-and-forget.
    Submit,
}

/// One op of a batch.
#[derive(Debug, Clone)]
enum BatchOp {
    Put(usize, Vec<u8>, Vec<u8>),
    Delete(usize, Vec<u8>),
    DeletePrefix(usize, Vec<u8>),
}

#[derive(Debug, Clone)]
enum Step {
    /// Does nothing: what shrinking turns irrelevant steps into.
    Skip,
    Put {
        job: usize,
        cat: usize,
        key: Vec<u8>,
        payload: Vec<u8>,
    },
    Delete {
        job: usize,
        cat: usize,
        key: Vec<u8>,
    },
    DeletePrefix {
        job: usize,
        cat: usize,
        prefix: Vec<u8>,
    },
    Batch {
        job: usize,
        ops: Vec<BatchOp>,
        mode: BatchMode,
    },
    Get {
        job: usize,
        cat: usize,
        key: Vec<u8>,
        form: Form,
    },
    Exists {
        job: usize,
        cat: usize,
        key: Vec<u8>,
        form: Form,
    },
    Scan {
        job: usize,
        cat: usize,
        start: Vec<u8>,
        stop: Vec<u8>,
        reverse: bool,
        limit: u32,
        form: Form,
    },
    ScanPrefix {
        job: usize,
        cat: usize,
        prefix: Vec<u8>,
        reverse: bool,
        limit: u32,
        form: Form,
    },
    Count {
        job: usize,
        cat: usize,
        start: Vec<u8>,
        stop: Vec<u8>,
        form: Form,
    },
    DeleteAcked {
        job: usize,
        cat: usize,
        key: Vec<u8>,
        form: Form,
    },
    GetMany {
        job: usize,
        cat: usize,
        keys: Vec<Vec<u8>>,
        form: Form,
    },
    Flush {
        job: usize,
        form: Form,
    },
    ReopenJob {
        job: usize,
    },
    ReopenInstance {
        by_drop: bool,
    },
}

/// A generated case: where the instance lives and what to do.
#[derive(Clone)]
struct Case {
    on_disk: bool,
    steps: Vec<Step>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Case {{ on_disk: {}, {} steps, not Skip:",
            self.on_disk,
            self.steps.len()
        )?;
        for (i, step) in self.steps.iter().enumerate() {
            if !matches!(step, Step::Skip) {
                writeln!(f, "  [{i}] {step:?}")?;
            }
        }
        write!(f, "}}")
    }
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(&ALPHABET[..]), 0..=3)
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..6)
}

fn job() -> impl Strategy<Value = usize> {
    0..JOBS.len()
}

fn cat() -> impl Strategy<Value = usize> {
    0..CATEGORIES.len()
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![Just(Form::Blocking), Just(Form::Then)]
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    prop_oneof![
        6 => (cat(), key(), payload()).prop_map(|(c, k, p)| BatchOp::Put(c, k, p)),
        3 => (cat(), key()).prop_map(|(c, k)| BatchOp::Delete(c, k)),
        1 => (cat(), key()).prop_map(|(c, k)| BatchOp::DeletePrefix(c, k)),
    ]
}

fn batch_mode() -> impl Strategy<Value = BatchMode> {
    prop_oneof![
        Just(BatchMode::Blocking),
        Just(BatchMode::Then),
        Just(BatchMode::Submit)
    ]
}

fn write_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => (job(), cat(), key(), payload())
            .prop_map(|(job, cat, key, payload)| Step::Put { job, cat, key, payload }),
        6 => (job(), cat(), key()).prop_map(|(job, cat, key)| Step::Delete { job, cat, key }),
        3 => (job(), cat(), key())
            .prop_map(|(job, cat, prefix)| Step::DeletePrefix { job, cat, prefix }),
        8 => (job(), prop::collection::vec(batch_op(), 0..6), batch_mode())
            .prop_map(|(job, ops, mode)| Step::Batch { job, ops, mode }),
        5 => (job(), cat(), key(), form())
            .prop_map(|(job, cat, key, form)| Step::DeleteAcked { job, cat, key, form }),
    ]
}

fn read_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (job(), cat(), key(), form())
            .prop_map(|(job, cat, key, form)| Step::Get { job, cat, key, form }),
        5 => (job(), cat(), key(), form())
            .prop_map(|(job, cat, key, form)| Step::Exists { job, cat, key, form }),
        8 => (job(), cat(), key(), key(), any::<bool>(), 0u32..5, form()).prop_map(
            |(job, cat, start, stop, reverse, limit, form)| Step::Scan {
                job, cat, start, stop, reverse, limit, form
            }
        ),
        6 => (job(), cat(), key(), any::<bool>(), 0u32..5, form()).prop_map(
            |(job, cat, prefix, reverse, limit, form)| Step::ScanPrefix {
                job, cat, prefix, reverse, limit, form
            }
        ),
        5 => (job(), cat(), key(), key(), form())
            .prop_map(|(job, cat, start, stop, form)| Step::Count { job, cat, start, stop, form }),
        4 => (job(), cat(), prop::collection::vec(key(), 0..5), form())
            .prop_map(|(job, cat, keys, form)| Step::GetMany { job, cat, keys, form }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    // `Skip` comes first: shrinking moves towards earlier alternatives.
    prop_oneof![
        1 => Just(Step::Skip),
        42 => write_step(),
        38 => read_step(),
        3 => (job(), form()).prop_map(|(job, form)| Step::Flush { job, form }),
        1 => job().prop_map(|job| Step::ReopenJob { job }),
        1 => any::<bool>().prop_map(|by_drop| Step::ReopenInstance { by_drop }),
    ]
}

fn case(min_ops: usize, max_ops: usize) -> impl Strategy<Value = Case> {
    (
        prop::bool::weighted(0.125),
        prop::collection::vec(step(), min_ops..=max_ops),
    )
        .prop_map(|(on_disk, steps)| Case { on_disk, steps })
}

// ---- the model ------------------------------------------------------------

/// A job's expected contents: category → key → payload.
#[derive(Debug, Default, Clone)]
struct Model(BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>);

impl Model {
    fn cat(&mut self, cat: usize) -> &mut BTreeMap<Vec<u8>, Vec<u8>> {
        self.0
            .entry(CATEGORIES[cat].as_bytes().to_vec())
            .or_default()
    }

    fn put(&mut self, cat: usize, key: &[u8], payload: &[u8]) {
        self.cat(cat).insert(key.to_vec(), payload.to_vec());
    }

    fn delete(&mut self, cat: usize, key: &[u8]) -> bool {
        self.cat(cat).remove(key).is_some()
    }

    fn delete_prefix(&mut self, cat: usize, prefix: &[u8]) {
        self.cat(cat).retain(|k, _| !k.starts_with(prefix));
    }

    fn apply(&mut self, op: &BatchOp) {
        match op {
            BatchOp::Put(c, k, p) => self.put(*c, k, p),
            BatchOp::Delete(c, k) => {
                self.delete(*c, k);
            }
            BatchOp::DeletePrefix(c, p) => self.delete_prefix(*c, p),
        }
    }

    fn get(&mut self, cat: usize, key: &[u8]) -> Option<Vec<u8>> {
        self.cat(cat).get(key).cloned()
    }

    /// Rows selected by `keep`, ordered, limited: what a scan returns.
    fn rows(
        &mut self,
        cat: usize,
        keep: impl Fn(&[u8]) -> bool,
        reverse: bool,
        limit: u32,
    ) -> Outcome {
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = self
            .cat(cat)
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if reverse {
            rows.reverse();
        }
        let limit = limit as usize;
        let has_more = limit != 0 && rows.len() > limit;
        if limit != 0 {
            rows.truncate(limit);
        }
        Outcome::Rows(rows, has_more)
    }
}

fn in_range(key: &[u8], start: &[u8], stop: &[u8]) -> bool {
    key >= start && (stop.is_empty() || key < stop)
}

/// A result, in a form both sides can produce and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Unit,
    Value(Option<Vec<u8>>),
    Bool(bool),
    Count(u64),
    Rows(Vec<(Vec<u8>, Vec<u8>)>, bool),
}

impl From<()> for Outcome {
    fn from((): ()) -> Outcome {
        Outcome::Unit
    }
}

impl From<Option<Vec<u8>>> for Outcome {
    fn from(v: Option<Vec<u8>>) -> Outcome {
        Outcome::Value(v)
    }
}

impl From<bool> for Outcome {
    fn from(b: bool) -> Outcome {
        Outcome::Bool(b)
    }
}

impl From<u64> for Outcome {
    fn from(n: u64) -> Outcome {
        Outcome::Count(n)
    }
}

impl From<Rows> for Outcome {
    fn from(rows: Rows) -> Outcome {
        Outcome::Rows(rows.to_pairs(), rows.has_more())
    }
}

type Got = Result<Outcome, (ErrorKind, String)>;

fn got<T: Into<Outcome>>(r: persistency::Result<T>) -> Got {
    r.map(Into::into).map_err(|e| (e.kind(), e.to_string()))
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

// ---- the harness ------------------------------------------------------------

struct Harness {
    _dir: Option<tempfile::TempDir>,
    root: String,
    db: Persistency,
    jobs: Vec<Job>,
    models: Vec<Model>,
    /// Per job: callbacks that arrived, in arrival order.
    arrivals: Vec<Arc<Mutex<Vec<Arrival>>>>,
    /// Per job: callbacks owed, in acceptance order.
    owed: Vec<Vec<Owed>>,
    next_ticket: usize,
}

type Check = Result<(), String>;

fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Check {
    if cond {
        Ok(())
    } else {
        Err(msg())
    }
}

impl Harness {
    fn new(on_disk: bool) -> Result<Harness, String> {
        let (dir, root) = if on_disk {
            let dir = scratch_dir().map_err(|e| e.to_string())?;
            let root = dir.path().join("root").to_string_lossy().into_owned();
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
    fn expect<T: Into<Outcome> + Send + 'static>(
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
    fn settle(&mut self, job: usize, when: &str) -> Check {
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

    fn compare(step: usize, what: &str, got: Got, expected: Outcome) -> Check {
        ensure(got.as_ref() == Ok(&expected), || {
            format!("step {step} ({what}): got {got:?}, model says {expected:?}")
        })
    }

    fn accepted(step: usize, r: persistency::Result<()>) -> Check {
        r.map_err(|e| format!("step {step}: call refused: {e}"))
    }

    /// Closes `job` and opens it again.
    fn reopen_job(&mut self, job: usize) -> Check {
        REOPENS.fetch_add(1, Relaxed);
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
    fn reopen_instance(&mut self, by_drop: bool) -> Check {
        REOPENS.fetch_add(1, Relaxed);
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

    fn run_step(&mut self, i: usize, step: &Step) -> Check {
        match step.clone() {
            Step::Skip => Ok(()),
            Step::Put {
                job,
                cat,
                key,
                payload,
            } => {
                self.models[job].put(cat, &key, &payload);
                Self::accepted(i, self.jobs[job].put(CATEGORIES[cat], &key, &payload))
            }
            Step::Delete { job, cat, key } => {
                self.models[job].delete(cat, &key);
                Self::accepted(i, self.jobs[job].delete(CATEGORIES[cat], &key))
            }
            Step::DeletePrefix { job, cat, prefix } => {
                self.models[job].delete_prefix(cat, &prefix);
                Self::accepted(i, self.jobs[job].delete_prefix(CATEGORIES[cat], &prefix))
            }
            Step::Batch { job, ops, mode } => {
                ops.iter().for_each(|op| self.models[job].apply(op));
                let ops: Vec<Op> = ops
                    .iter()
                    .map(|op| match op {
                        BatchOp::Put(c, k, p) => Op::put(CATEGORIES[*c], k.clone(), p.clone()),
                        BatchOp::Delete(c, k) => Op::delete(CATEGORIES[*c], k.clone()),
                        BatchOp::DeletePrefix(c, p) => Op::delete_prefix(CATEGORIES[*c], p.clone()),
                    })
                    .collect();
                match mode {
                    BatchMode::Blocking => {
                        Self::compare(i, "write", got(self.jobs[job].write(ops)), Outcome::Unit)
                    }
                    BatchMode::Then => {
                        let then = self.expect::<()>(job, i, Outcome::Unit);
                        Self::accepted(i, self.jobs[job].write_then(ops, then))
                    }
                    BatchMode::Submit => Self::accepted(i, self.jobs[job].submit_batch(ops)),
                }
            }
            Step::Get {
                job,
                cat,
                key,
                form,
            } => {
                let expected = Outcome::Value(self.models[job].get(cat, &key));
                let c = CATEGORIES[cat];
                match form {
                    Form::Blocking => {
                        Self::compare(i, "get", got(self.jobs[job].get(c, &key)), expected)
                    }
                    Form::Then => {
                        let then = self.expect::<Option<Vec<u8>>>(job, i, expected);
                        Self::accepted(i, self.jobs[job].get_then(c, &key, then))
                    }
                }
            }
            Step::Exists {
                job,
                cat,
                key,
                form,
            } => {
                let expected = Outcome::Bool(self.models[job].get(cat, &key).is_some());
                let c = CATEGORIES[cat];
                match form {
                    Form::Blocking => {
                        Self::compare(i, "exists", got(self.jobs[job].exists(c, &key)), expected)
                    }
                    Form::Then => {
                        let then = self.expect::<bool>(job, i, expected);
                        Self::accepted(i, self.jobs[job].exists_then(c, &key, then))
                    }
                }
            }
            Step::Scan {
                job,
                cat,
                start,
                stop,
                reverse,
                limit,
                form,
            } => {
                let expected =
                    self.models[job].rows(cat, |k| in_range(k, &start, &stop), reverse, limit);
                let c = CATEGORIES[cat];
                let options = ScanOptions { reverse, limit };
                match form {
                    Form::Blocking => Self::compare(
                        i,
                        "scan",
                        got(self.jobs[job].scan(c, &start, &stop, options)),
                        expected,
                    ),
                    Form::Then => {
                        let then = self.expect::<Rows>(job, i, expected);
                        Self::accepted(i, self.jobs[job].scan_then(c, &start, &stop, options, then))
                    }
                }
            }
            Step::ScanPrefix {
                job,
                cat,
                prefix,
                reverse,
                limit,
                form,
            } => {
                let expected =
                    self.models[job].rows(cat, |k| k.starts_with(&prefix), reverse, limit);
                let c = CATEGORIES[cat];
                let options = ScanOptions { reverse, limit };
                match form {
                    Form::Blocking => Self::compare(
                        i,
                        "scan_prefix",
                        got(self.jobs[job].scan_prefix(c, &prefix, options)),
                        expected,
                    ),
                    Form::Then => {
                        let then = self.expect::<Rows>(job, i, expected);
                        Self::accepted(
                            i,
                            self.jobs[job].scan_prefix_then(c, &prefix, options, then),
                        )
                    }
                }
            }
            Step::Count {
                job,
                cat,
                start,
                stop,
                form,
            } => {
                let n = self.models[job]
                    .cat(cat)
                    .keys()
                    .filter(|k| in_range(k, &start, &stop))
                    .count();
                let expected = Outcome::Count(n as u64);
                let c = CATEGORIES[cat];
                match form {
                    Form::Blocking => Self::compare(
                        i,
                        "count",
                        got(self.jobs[job].count(c, &start, &stop)),
                        expected,
                    ),
                    Form::Then => {
                        let then = self.expect::<u64>(job, i, expected);
                        Self::accepted(i, self.jobs[job].count_then(c, &start, &stop, then))
                    }
                }
            }
            Step::DeleteAcked {
                job,
                cat,
                key,
                form,
            } => {
                let expected = Outcome::Bool(self.models[job].delete(cat, &key));
                let c = CATEGORIES[cat];
                match form {
                    Form::Blocking => Self::compare(
                        i,
                        "delete_acked",
                        got(self.jobs[job].delete_acked(c, &key)),
                        expected,
                    ),
                    Form::Then => {
                        let then = self.expect::<bool>(job, i, expected);
                        Self::accepted(i, self.jobs[job].delete_acked_then(c, &key, then))
                    }
                }
            }
            Step::GetMany {
                job,
                cat,
                keys,
                form,
            } => {
                let rows = keys
                    .iter()
                    .filter_map(|k| self.models[job].get(cat, k).map(|v| (k.clone(), v)))
                    .collect();
                let expected = Outcome::Rows(rows, false);
                let c = CATEGORIES[cat];
                match form {
                    Form::Blocking => Self::compare(
                        i,
                        "get_many",
                        got(self.jobs[job].get_many(c, keys)),
                        expected,
                    ),
                    Form::Then => {
                        let then = self.expect::<Rows>(job, i, expected);
                        Self::accepted(i, self.jobs[job].get_many_then(c, keys, then))
                    }
                }
            }
            Step::Flush { job, form } => match form {
                Form::Blocking => {
                    Self::compare(i, "flush", got(self.jobs[job].flush()), Outcome::Unit)?;
                    self.settle(
                        job,
                        &format!("after the blocking flush of step {i} returned"),
                    )
                }
                Form::Then => {
                    let then = self.expect::<()>(job, i, Outcome::Unit);
                    Self::accepted(i, self.jobs[job].flush_then(then))
                }
            },
            Step::ReopenJob { job } => self.reopen_job(job),
            Step::ReopenInstance { by_drop } => self.reopen_instance(by_drop),
        }
    }

    /// Compares every category of every job with the model in full, and
    /// checks no write failed.
    fn final_check(&mut self) -> Check {
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

fn run_case(case: &Case) -> Check {
    ON_DISK_CASES.fetch_add(u64::from(case.on_disk), Relaxed);
    STEPS.fetch_add(case.steps.len() as u64, Relaxed);
    let mut h = Harness::new(case.on_disk)?;
    for (i, step) in case.steps.iter().enumerate() {
        h.run_step(i, step)?;
    }
    h.final_check()?;
    h.db.close().map_err(|e| format!("close: {e}"))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

#[test]
fn library_matches_the_model() {
    let cases: u32 = env_or("PROPTEST_CASES", 2000);
    let seed: u64 = env_or("PROPTEST_RNG_SEED", DEFAULT_SEED);
    let min_ops: usize = env_or("MODEL_MIN_OPS", 150);
    let max_ops: usize = env_or("MODEL_MAX_OPS", 350).max(min_ops);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(min_ops, max_ops), |case| {
        run_case(&case).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("seed {seed}: {e}");
    }
    eprintln!(
        "model: {cases} sequences ({} on disk), {} steps, {} callbacks checked, \
         {} job/instance reopens, seed {seed}, {:.1?}",
        ON_DISK_CASES.load(Relaxed),
        STEPS.load(Relaxed),
        CALLBACKS_CHECKED.load(Relaxed),
        REOPENS.load(Relaxed),
        started.elapsed()
    );
}
