//! Writes: the fire-and-forget `put`, `delete` and `delete_prefix`, and
//! atomic batches in their three forms. A write changes the model when it
//! is made; the library must be seen to have applied it by every later read
//! (nothing waits in between).

use persistency::{Job, Op};

use crate::harness::{Check, Harness};
use crate::model::{got, Model, Outcome};
use crate::CATEGORIES;

/// A fire-and-forget write.
pub trait Write {
    fn job(&self) -> usize;
    /// Makes the write in the model.
    fn apply(&self, model: &mut Model);
    /// Queues the write in the library.
    fn submit(&self, job: &Job) -> persistency::Result<()>;
}

impl Harness {
    /// Step `i`: `write` goes to the model and to the library, which must
    /// accept it.
    pub fn write(&mut self, i: usize, write: &impl Write) -> Check {
        write.apply(&mut self.models[write.job()]);
        Self::accepted(i, write.submit(&self.jobs[write.job()]))
    }

    /// Step `i`: an atomic batch, blocking, with a callback, or
    /// fire-and-forget.
    pub fn batch(&mut self, i: usize, batch: &Batch) -> Check {
        let job = batch.job;
        for op in &batch.ops {
            op.apply(&mut self.models[job]);
        }
        let ops: Vec<Op> = batch.ops.iter().map(BatchOp::to_op).collect();
        match batch.mode {
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
}

/// `put`.
#[derive(Debug, Clone)]
pub struct Put {
    pub job: usize,
    pub cat: usize,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Write for Put {
    fn job(&self) -> usize {
        self.job
    }

    fn apply(&self, model: &mut Model) {
        model.put(self.cat, &self.key, &self.payload);
    }

    fn submit(&self, job: &Job) -> persistency::Result<()> {
        job.put(CATEGORIES[self.cat], &self.key, &self.payload)
    }
}

/// `delete`.
#[derive(Debug, Clone)]
pub struct Delete {
    pub job: usize,
    pub cat: usize,
    pub key: Vec<u8>,
}

impl Write for Delete {
    fn job(&self) -> usize {
        self.job
    }

    fn apply(&self, model: &mut Model) {
        model.delete(self.cat, &self.key);
    }

    fn submit(&self, job: &Job) -> persistency::Result<()> {
        job.delete(CATEGORIES[self.cat], &self.key)
    }
}

/// `delete_prefix`.
#[derive(Debug, Clone)]
pub struct DeletePrefix {
    pub job: usize,
    pub cat: usize,
    pub prefix: Vec<u8>,
}

impl Write for DeletePrefix {
    fn job(&self) -> usize {
        self.job
    }

    fn apply(&self, model: &mut Model) {
        model.delete_prefix(self.cat, &self.prefix);
    }

    fn submit(&self, job: &Job) -> persistency::Result<()> {
        job.delete_prefix(CATEGORIES[self.cat], &self.prefix)
    }
}

/// An atomic batch.
#[derive(Debug, Clone)]
pub struct Batch {
    pub job: usize,
    pub ops: Vec<BatchOp>,
    pub mode: BatchMode,
}

/// How a batch is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMode {
    /// `write`: waits for the commit.
    Blocking,
    /// `write_then`: callback after the commit.
    Then,
    /// `submit_batch`: fire-and-forget.
    Submit,
}

/// One op of a batch: category, key or prefix, payload.
#[derive(Debug, Clone)]
pub enum BatchOp {
    Put(usize, Vec<u8>, Vec<u8>),
    Delete(usize, Vec<u8>),
    DeletePrefix(usize, Vec<u8>),
}

impl BatchOp {
    fn apply(&self, model: &mut Model) {
        match self {
            BatchOp::Put(c, k, p) => model.put(*c, k, p),
            BatchOp::Delete(c, k) => {
                model.delete(*c, k);
            }
            BatchOp::DeletePrefix(c, p) => model.delete_prefix(*c, p),
        }
    }

    fn to_op(&self) -> Op {
        match self {
            BatchOp::Put(c, k, p) => Op::put(CATEGORIES[*c], k.clone(), p.clone()),
            BatchOp::Delete(c, k) => Op::delete(CATEGORIES[*c], k.clone()),
            BatchOp::DeletePrefix(c, p) => Op::delete_prefix(CATEGORIES[*c], p.clone()),
        }
    }
}
