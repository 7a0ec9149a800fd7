//! Write operations: the elements of an atomic batch.

/// One write operation. A batch of them is applied atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace the row under `key`.
    Put {
        /// The keyspace, as the bytes of its name.
        category: Vec<u8>,
        /// The key.
        key: Vec<u8>,
        /// The payload.
        payload: Vec<u8>,
    },
    /// Delete the row under `key`, if any.
    Delete {
        /// The keyspace.
        category: Vec<u8>,
        /// The key.
        key: Vec<u8>,
    },
    /// Delete every row whose key starts with `prefix` (every row of the
    /// category for an empty prefix).
    DeletePrefix {
        /// The keyspace.
        category: Vec<u8>,
        /// The prefix.
        prefix: Vec<u8>,
    },
    /// Delete every row with `start <= key < stop`; an empty `stop` means
    /// no upper bound. A `start` after a non-empty `stop` is refused.
    DeleteRange {
        /// The keyspace.
        category: Vec<u8>,
        /// The first key removed (inclusive).
        start: Vec<u8>,
        /// The end of the range (exclusive); empty: no upper bound.
        stop: Vec<u8>,
    },
}

impl Op {
    /// A put.
    pub fn put(
        category: impl AsRef<[u8]>,
        key: impl Into<Vec<u8>>,
        payload: impl Into<Vec<u8>>,
    ) -> Op {
        Op::Put {
            category: category.as_ref().to_vec(),
            key: key.into(),
            payload: payload.into(),
        }
    }

    /// A delete.
    pub fn delete(category: impl AsRef<[u8]>, key: impl Into<Vec<u8>>) -> Op {
        Op::Delete {
            category: category.as_ref().to_vec(),
            key: key.into(),
        }
    }

    /// A delete of every key that starts with `prefix`.
    pub fn delete_prefix(category: impl AsRef<[u8]>, prefix: impl Into<Vec<u8>>) -> Op {
        Op::DeletePrefix {
            category: category.as_ref().to_vec(),
            prefix: prefix.into(),
        }
    }

    /// A delete of every key in `[start, stop)` (`stop` empty: no upper
    /// bound).
    ///
    /// ```
    /// use persistency::{Op, Persistency};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// job.write((0u8..5).map(|i| Op::put("c", vec![i], b"x".to_vec())).collect())?;
    /// job.write(vec![Op::delete_range("c", vec![1], vec![3])])?;
    /// assert_eq!(job.count("c", b"", b"")?, 3);
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn delete_range(
        category: impl AsRef<[u8]>,
        start: impl Into<Vec<u8>>,
        stop: impl Into<Vec<u8>>,
    ) -> Op {
        Op::DeleteRange {
            category: category.as_ref().to_vec(),
            start: start.into(),
            stop: stop.into(),
        }
    }

    /// The category this op writes to.
    pub fn category(&self) -> &[u8] {
        match self {
            Op::Put { category, .. }
            | Op::Delete { category, .. }
            | Op::DeletePrefix { category, .. }
            | Op::DeleteRange { category, .. } => category,
        }
    }
}
