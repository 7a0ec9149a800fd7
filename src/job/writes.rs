//! A job's writes: fire-and-forget operations, atomic batches, flush and
//! the acknowledged delete.

use super::{check_category, reads::found, Job};
use crate::error::Result;
use crate::ops::Op;
use crate::protocol::Request;

fn check_ops(ops: &[Op]) -> Result<()> {
    ops.iter().try_for_each(super::maintenance::check_op)
}

impl Job {
    /// Queues an insert-or-replace (fire-and-forget: a failure is counted
    /// in the stats and logged).
    ///
    /// ```
    /// let db = persistency::Persistency::new(":memory:")?;
    /// let job = db.open_job("messages")?;
    /// job.put("msgs", b"k", b"hello")?;
    /// assert_eq!(job.get("msgs", b"k")?, Some(b"hello".to_vec()));
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn put(&self, category: impl AsRef<[u8]>, key: &[u8], payload: &[u8]) -> Result<()> {
        check_category(category.as_ref())?;
        self.submit(Request::Op(Op::put(category, key, payload)))
    }

    /// Queues a delete (fire-and-forget).
    pub fn delete(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<()> {
        check_category(category.as_ref())?;
        self.submit(Request::Op(Op::delete(category, key)))
    }

    /// Queues a delete of every key that starts with `prefix`
    /// (fire-and-forget).
    pub fn delete_prefix(&self, category: impl AsRef<[u8]>, prefix: &[u8]) -> Result<()> {
        check_category(category.as_ref())?;
        self.submit(Request::Op(Op::delete_prefix(category, prefix)))
    }

    /// Queues an atomic batch without waiting for it (fire-and-forget).
    pub fn submit_batch(&self, ops: Vec<Op>) -> Result<()> {
        check_ops(&ops)?;
        self.submit(Request::Batch { ops, done: None })
    }

    /// Queues an atomic batch; `then` runs on the worker after the commit
    /// (or failure) of the batch.
    pub fn write_then(
        &self,
        ops: Vec<Op>,
        then: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        check_ops(&ops)?;
        self.request(
            |done| Request::Batch {
                ops,
                done: Some(done),
            },
            |_| Ok(()),
            then,
        )
    }

    /// Applies an atomic batch and waits until it is committed.
    ///
    /// ```
    /// use persistency::{Op, Persistency};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// job.write(vec![Op::put("c", b"a".to_vec(), b"1".to_vec()), Op::delete("c", b"b".to_vec())])?;
    /// assert!(job.exists("c", b"a")?);
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn write(&self, ops: Vec<Op>) -> Result<()> {
        check_ops(&ops)?;
        self.wait(
            |done| Request::Batch {
                ops,
                done: Some(done),
            },
            |_| Ok(()),
        )
    }

    /// `then` runs once every operation accepted before is committed.
    pub fn flush_then(&self, then: impl FnOnce(Result<()>) + Send + 'static) -> Result<()> {
        self.request(Request::Flush, |_| Ok(()), then)
    }

    /// Waits until every operation accepted before is committed.
    pub fn flush(&self) -> Result<()> {
        self.wait(Request::Flush, |_| Ok(()))
    }

    /// Deletes a row and reports, after the commit, whether it existed.
    pub fn delete_acked_then(
        &self,
        category: impl AsRef<[u8]>,
        key: &[u8],
        then: impl FnOnce(Result<bool>) + Send + 'static,
    ) -> Result<()> {
        let category = category.as_ref();
        check_category(category)?;
        let (category, key) = (category.to_vec(), key.to_vec());
        self.request(
            |done| Request::DeleteAcked {
                category,
                key,
                done,
            },
            found,
            then,
        )
    }

    /// Deletes a row, waits for the commit and tells whether it existed.
    pub fn delete_acked(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<bool> {
        let category = category.as_ref();
        check_category(category)?;
        let (category, key) = (category.to_vec(), key.to_vec());
        self.wait(
            |done| Request::DeleteAcked {
                category,
                key,
                done,
            },
            found,
        )
    }
}
