//! What a case is made of, and how proptest generates it.
//!
//! Each kind of call has its own type (in [`crate::writes`] and
//! [`crate::answered`]) that knows both what it does to the model and how
//! the library is called; a [`Step`] names one of them.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::select;

use crate::answered::{Count, DeleteAcked, Exists, Flush, Form, Get, GetMany, Scan, ScanPrefix};
use crate::cursors::CursorPage;
use crate::harness::{Check, Harness};
use crate::writes::{Batch, BatchMode, BatchOp, Delete, DeletePrefix, Put};
use crate::{CATEGORIES, JOBS};

const ALPHABET: [u8; 4] = [0x00, 0x01, 0x61, 0xff];

#[derive(Debug, Clone)]
pub enum Step {
    /// Does nothing: what shrinking turns irrelevant steps into.
    Skip,
    Put(Put),
    Delete(Delete),
    DeletePrefix(DeletePrefix),
    Batch(Batch),
    Get(Get),
    Exists(Exists),
    Scan(Scan),
    ScanPrefix(ScanPrefix),
    Count(Count),
    DeleteAcked(DeleteAcked),
    GetMany(GetMany),
    CursorPage(CursorPage),
    Flush(Flush),
    /// Closes the job and opens it again.
    ReopenJob {
        job: usize,
    },
    /// Closes the instance (by `close`, or by dropping the last reference)
    /// and makes a new one over the same root.
    ReopenInstance {
        by_drop: bool,
    },
}

impl Step {
    /// Runs step `i` on the library and the model, and compares.
    pub fn run(&self, h: &mut Harness, i: usize) -> Check {
        match self {
            Step::Skip => Ok(()),
            Step::Put(put) => h.write(i, put),
            Step::Delete(delete) => h.write(i, delete),
            Step::DeletePrefix(delete) => h.write(i, delete),
            Step::Batch(batch) => h.batch(i, batch),
            Step::Get(get) => h.answer(i, get),
            Step::Exists(exists) => h.answer(i, exists),
            Step::Scan(scan) => h.answer(i, scan),
            Step::ScanPrefix(scan) => h.answer(i, scan),
            Step::Count(count) => h.answer(i, count),
            Step::DeleteAcked(delete) => h.answer(i, delete),
            Step::GetMany(get) => h.answer(i, get),
            Step::CursorPage(page) => h.cursor_page(i, page),
            Step::Flush(flush) => h.flush(i, flush),
            Step::ReopenJob { job } => h.reopen_job(*job),
            Step::ReopenInstance { by_drop } => h.reopen_instance(*by_drop),
        }
    }
}

/// A generated case: where the instance lives and what to do.
#[derive(Clone)]
pub struct Case {
    pub on_disk: bool,
    pub steps: Vec<Step>,
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

// ---- generators ---------------------------------------------------------------
//
// Changing the shape of a strategy (the order of alternatives, weights,
// tuple members) changes which cases a seed produces: a seed that found a
// failure would no longer reproduce it.

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
    prop_oneof![
        Just(Form::Blocking),
        Just(Form::Then),
        Just(Form::Elsewhere)
    ]
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
            .prop_map(|(job, cat, key, payload)| Step::Put(Put { job, cat, key, payload })),
        6 => (job(), cat(), key())
            .prop_map(|(job, cat, key)| Step::Delete(Delete { job, cat, key })),
        3 => (job(), cat(), key()).prop_map(|(job, cat, prefix)| {
            Step::DeletePrefix(DeletePrefix { job, cat, prefix })
        }),
        8 => (job(), prop::collection::vec(batch_op(), 0..6), batch_mode())
            .prop_map(|(job, ops, mode)| Step::Batch(Batch { job, ops, mode })),
        5 => (job(), cat(), key(), form()).prop_map(|(job, cat, key, form)| {
            Step::DeleteAcked(DeleteAcked { job, cat, key, form })
        }),
    ]
}

fn read_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (job(), cat(), key(), form())
            .prop_map(|(job, cat, key, form)| Step::Get(Get { job, cat, key, form })),
        5 => (job(), cat(), key(), form())
            .prop_map(|(job, cat, key, form)| Step::Exists(Exists { job, cat, key, form })),
        8 => (job(), cat(), key(), key(), any::<bool>(), 0u32..5, form()).prop_map(
            |(job, cat, start, stop, reverse, limit, form)| Step::Scan(Scan {
                job, cat, start, stop, reverse, limit, form
            })
        ),
        6 => (job(), cat(), key(), any::<bool>(), 0u32..5, form()).prop_map(
            |(job, cat, prefix, reverse, limit, form)| Step::ScanPrefix(ScanPrefix {
                job, cat, prefix, reverse, limit, form
            })
        ),
        5 => (job(), cat(), key(), key(), form()).prop_map(|(job, cat, start, stop, form)| {
            Step::Count(Count { job, cat, start, stop, form })
        }),
        4 => (job(), cat(), prop::collection::vec(key(), 0..5), form())
            .prop_map(|(job, cat, keys, form)| Step::GetMany(GetMany { job, cat, keys, form })),
        6 => (job(), cat(), any::<bool>(), 1u32..4, any::<bool>()).prop_map(
            |(job, cat, reverse, page_rows, elsewhere)| Step::CursorPage(CursorPage {
                job, cat, reverse, page_rows, elsewhere
            })
        ),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    // `Skip` comes first: shrinking moves towards earlier alternatives.
    prop_oneof![
        1 => Just(Step::Skip),
        42 => write_step(),
        38 => read_step(),
        3 => (job(), form()).prop_map(|(job, form)| Step::Flush(Flush { job, form })),
        1 => job().prop_map(|job| Step::ReopenJob { job }),
        1 => any::<bool>().prop_map(|by_drop| Step::ReopenInstance { by_drop }),
    ]
}

pub fn case(min_ops: usize, max_ops: usize) -> impl Strategy<Value = Case> {
    (
        prop::bool::weighted(0.125),
        prop::collection::vec(step(), min_ops..=max_ops),
    )
        .prop_map(|(on_disk, steps)| Case { on_disk, steps })
}
