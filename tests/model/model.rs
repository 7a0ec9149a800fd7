//! The model: what a job should contain, and the results both sides produce
//! in a form that can be compared.

use std::collections::BTreeMap;

use persistency::{ErrorKind, Rows};

use crate::CATEGORIES;

/// A job's expected contents: category → key → payload.
#[derive(Debug, Default, Clone)]
pub struct Model(BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>);

impl Model {
    fn cat(&mut self, cat: usize) -> &mut BTreeMap<Vec<u8>, Vec<u8>> {
        self.0
            .entry(CATEGORIES[cat].as_bytes().to_vec())
            .or_default()
    }

    pub fn put(&mut self, cat: usize, key: &[u8], payload: &[u8]) {
        self.cat(cat).insert(key.to_vec(), payload.to_vec());
    }

    /// Whether the key was there.
    pub fn delete(&mut self, cat: usize, key: &[u8]) -> bool {
        self.cat(cat).remove(key).is_some()
    }

    pub fn delete_prefix(&mut self, cat: usize, prefix: &[u8]) {
        self.cat(cat).retain(|k, _| !k.starts_with(prefix));
    }

    pub fn get(&mut self, cat: usize, key: &[u8]) -> Option<Vec<u8>> {
        self.cat(cat).get(key).cloned()
    }

    /// The keys in `start..stop` (an empty `stop` is no bound).
    pub fn count(&mut self, cat: usize, start: &[u8], stop: &[u8]) -> u64 {
        let n = self
            .cat(cat)
            .keys()
            .filter(|k| in_range(k, start, stop))
            .count();
        n as u64
    }

    /// Rows selected by `keep`, ordered, limited: what a scan returns.
    pub fn rows(
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

pub fn in_range(key: &[u8], start: &[u8], stop: &[u8]) -> bool {
    key >= start && (stop.is_empty() || key < stop)
}

/// A result, in a form both sides can produce and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
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

/// What the library answered.
pub type Got = Result<Outcome, (ErrorKind, String)>;

pub fn got<T: Into<Outcome>>(r: persistency::Result<T>) -> Got {
    r.map(Into::into).map_err(|e| (e.kind(), e.to_string()))
}
