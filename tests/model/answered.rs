//! Calls that answer: reads, `delete_acked` and `flush`, each made in its
//! blocking form (the answer is compared at once), its blocking form on
//! other threads (a read on [`READERS`] threads at once, each of which must
//! see every write the main thread had accepted), or its `_then` form (the
//! answer the model gives now is owed, and checked when the callback
//! arrives).

use persistency::{Job, Rows, ScanOptions};

use crate::harness::{Check, Harness};
use crate::model::{got, in_range, Model, Outcome};
use crate::CATEGORIES;

/// Threads that make a read of the [`Form::Elsewhere`] form at once.
pub const READERS: usize = 3;

/// Whether a call is made in its blocking form (on this thread or on other
/// threads) or its `_then` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Blocking,
    Then,
    /// Blocking, on other threads: [`READERS`] threads at once for a read,
    /// one for a call that changes data.
    Elsewhere,
}

/// The callback handed to a `_then` call.
pub trait Then<T>: FnOnce(persistency::Result<T>) + Send + 'static {}

impl<T, F: FnOnce(persistency::Result<T>) + Send + 'static> Then<T> for F {}

/// A call that answers: what the model says, and both forms of the call.
pub trait Answered {
    /// What the library answers with.
    type Answer: Into<Outcome> + Send + 'static;
    /// The call's name, for messages.
    const NAME: &'static str;
    /// The call only reads (so making it more than once is harmless).
    const READ_ONLY: bool = true;
    fn job(&self) -> usize;
    fn form(&self) -> Form;
    /// The model's answer (a call that changes data changes the model).
    fn expected(&self, model: &mut Model) -> Outcome;
    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer>;
    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()>;
}

impl Harness {
    /// Step `i`: makes `call` and compares its answer with the model's, now
    /// or when its callback arrives.
    pub fn answer<A: Answered + Sync>(&mut self, i: usize, call: &A) -> Check {
        let job = call.job();
        let expected = call.expected(&mut self.models[job]);
        match call.form() {
            Form::Blocking => {
                Self::compare(i, A::NAME, got(call.blocking(&self.jobs[job])), expected)
            }
            Form::Then => {
                let then = self.expect::<A::Answer>(job, i, expected);
                Self::accepted(i, call.then(&self.jobs[job], then))
            }
            Form::Elsewhere => {
                let threads = if A::READ_ONLY { READERS } else { 1 };
                let target = &self.jobs[job];
                let answers: Vec<_> = std::thread::scope(|scope| {
                    let running: Vec<_> = (0..threads)
                        .map(|_| scope.spawn(|| got(call.blocking(target))))
                        .collect();
                    running.into_iter().map(|t| t.join()).collect()
                });
                for (n, answer) in answers.into_iter().enumerate() {
                    let answer = answer.map_err(|_| format!("step {i}: reader {n} panicked"))?;
                    let what = format!("{} on reader thread {n}", A::NAME);
                    Self::compare(i, &what, answer, expected.clone())?;
                }
                Ok(())
            }
        }
    }

    /// Step `i`: a flush; once a blocking flush returns, every callback the
    /// job owes has arrived.
    pub fn flush(&mut self, i: usize, flush: &Flush) -> Check {
        self.answer(i, flush)?;
        match flush.form {
            Form::Blocking | Form::Elsewhere => self.settle(
                flush.job,
                &format!("after the blocking flush of step {i} returned"),
            ),
            Form::Then => Ok(()),
        }
    }
}

/// `get` / `get_then`.
#[derive(Debug, Clone)]
pub struct Get {
    pub job: usize,
    pub cat: usize,
    pub key: Vec<u8>,
    pub form: Form,
}

impl Answered for Get {
    type Answer = Option<Vec<u8>>;
    const NAME: &'static str = "get";

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, model: &mut Model) -> Outcome {
        Outcome::Value(model.get(self.cat, &self.key))
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        job.get(CATEGORIES[self.cat], &self.key)
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        job.get_then(CATEGORIES[self.cat], &self.key, then)
    }
}

/// `exists` / `exists_then`.
#[derive(Debug, Clone)]
pub struct Exists {
    pub job: usize,
    pub cat: usize,
    pub key: Vec<u8>,
    pub form: Form,
}

impl Answered for Exists {
    type Answer = bool;
    const NAME: &'static str = "exists";

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, model: &mut Model) -> Outcome {
        Outcome::Bool(model.get(self.cat, &self.key).is_some())
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        job.exists(CATEGORIES[self.cat], &self.key)
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        job.exists_then(CATEGORIES[self.cat], &self.key, then)
    }
}

/// `scan` / `scan_then` over `start..stop`.
#[derive(Debug, Clone)]
pub struct Scan {
    pub job: usize,
    pub cat: usize,
    pub start: Vec<u8>,
    pub stop: Vec<u8>,
    pub reverse: bool,
    pub limit: u32,
    pub form: Form,
}

impl Scan {
    fn options(&self) -> ScanOptions {
        ScanOptions::new().reverse(self.reverse).limit(self.limit)
    }
}

impl Answered for Scan {
    type Answer = Rows;
    const NAME: &'static str = "scan";

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, model: &mut Model) -> Outcome {
        let keep = |k: &[u8]| in_range(k, &self.start, &self.stop);
        model.rows(self.cat, keep, self.reverse, self.limit)
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        let cat = CATEGORIES[self.cat];
        job.scan(cat, &self.start, &self.stop, self.options())
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        let cat = CATEGORIES[self.cat];
        job.scan_then(cat, &self.start, &self.stop, self.options(), then)
    }
}

/// `scan_prefix` / `scan_prefix_then`.
#[derive(Debug, Clone)]
pub struct ScanPrefix {
    pub job: usize,
    pub cat: usize,
    pub prefix: Vec<u8>,
    pub reverse: bool,
    pub limit: u32,
    pub form: Form,
}

impl ScanPrefix {
    fn options(&self) -> ScanOptions {
        ScanOptions::new().reverse(self.reverse).limit(self.limit)
    }
}

impl Answered for ScanPrefix {
    type Answer = Rows;
    const NAME: &'static str = "scan_prefix";

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, model: &mut Model) -> Outcome {
        let keep = |k: &[u8]| k.starts_with(&self.prefix);
        model.rows(self.cat, keep, self.reverse, self.limit)
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        job.scan_prefix(CATEGORIES[self.cat], &self.prefix, self.options())
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        let cat = CATEGORIES[self.cat];
        job.scan_prefix_then(cat, &self.prefix, self.options(), then)
    }
}

/// `count` / `count_then` over `start..stop`.
#[derive(Debug, Clone)]
pub struct Count {
    pub job: usize,
    pub cat: usize,
    pub start: Vec<u8>,
    pub stop: Vec<u8>,
    pub form: Form,
}

impl Answered for Count {
    type Answer = u64;
    const NAME: &'static str = "count";

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, model: &mut Model) -> Outcome {
        Outcome::Count(model.count(self.cat, &self.start, &self.stop))
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        job.count(CATEGORIES[self.cat], &self.start, &self.stop)
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        job.count_then(CATEGORIES[self.cat], &self.start, &self.stop, then)
    }
}

/// `delete_acked` / `delete_acked_then`: answers whether the key was there.
#[derive(Debug, Clone)]
pub struct DeleteAcked {
    pub job: usize,
    pub cat: usize,
    pub key: Vec<u8>,
    pub form: Form,
}

impl Answered for DeleteAcked {
    type Answer = bool;
    const NAME: &'static str = "delete_acked";
    const READ_ONLY: bool = false;

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, model: &mut Model) -> Outcome {
        Outcome::Bool(model.delete(self.cat, &self.key))
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        job.delete_acked(CATEGORIES[self.cat], &self.key)
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        job.delete_acked_then(CATEGORIES[self.cat], &self.key, then)
    }
}

/// `get_many` / `get_many_then`: the rows of the keys present, in the order
/// of `keys`.
#[derive(Debug, Clone)]
pub struct GetMany {
    pub job: usize,
    pub cat: usize,
    pub keys: Vec<Vec<u8>>,
    pub form: Form,
}

impl Answered for GetMany {
    type Answer = Rows;
    const NAME: &'static str = "get_many";

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, model: &mut Model) -> Outcome {
        let rows = self
            .keys
            .iter()
            .filter_map(|k| model.get(self.cat, k).map(|v| (k.clone(), v)))
            .collect();
        Outcome::Rows(rows, false)
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        job.get_many(CATEGORIES[self.cat], self.keys.clone())
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        job.get_many_then(CATEGORIES[self.cat], self.keys.clone(), then)
    }
}

/// `flush` / `flush_then`.
#[derive(Debug, Clone)]
pub struct Flush {
    pub job: usize,
    pub form: Form,
}

impl Answered for Flush {
    type Answer = ();
    const NAME: &'static str = "flush";
    const READ_ONLY: bool = false;

    fn job(&self) -> usize {
        self.job
    }

    fn form(&self) -> Form {
        self.form
    }

    fn expected(&self, _model: &mut Model) -> Outcome {
        Outcome::Unit
    }

    fn blocking(&self, job: &Job) -> persistency::Result<Self::Answer> {
        job.flush()
    }

    fn then(&self, job: &Job, then: impl Then<Self::Answer>) -> persistency::Result<()> {
        job.flush_then(then)
    }
}
