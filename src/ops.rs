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

    /// The category this op writes to.
    pub fn category(&self) -> &[u8] {
        match self {
            Op::Put { category, .. }
            | Op::Delete { category, .. }
            | Op::DeletePrefix { category, .. } => category,
        }
    }
}
