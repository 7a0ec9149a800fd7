//! LMDB through heed.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{CATEGORY, KEY_LEN};
use crate::data::{batches, Data, Key};

/// Inserts `keys` into a new LMDB environment in `dir`, 1,000 per write
/// transaction; returns the time the inserts took.
pub fn lmdb_insert(dir: &Path, data: &Data, keys: &[Key]) -> Duration {
    use heed::types::Bytes;
    use heed::{EnvFlags, EnvOpenOptions};
    let mut opts = EnvOpenOptions::new();
    opts.map_size(4 << 30).max_dbs(1);
    // NO_SYNC: commits reach the OS but are not fsynced, the durability of
    // SQLite's WAL with synchronous = NORMAL (safe across a process crash).
    // SAFETY: the flag only gives up durability across a machine crash, and
    // the database is a scratch file deleted after the run.
    unsafe { opts.flags(EnvFlags::NO_SYNC) };
    // SAFETY: `dir` is a fresh scratch directory, opened once, that nothing
    // else maps or writes while `env` lives.
    let env = unsafe { opts.open(dir) }.expect("open LMDB");
    let mut wtxn = env.write_txn().expect("txn");
    let db = env
        .create_database::<Bytes, Bytes>(&mut wtxn, None)
        .expect("db");
    wtxn.commit().expect("commit");
    let mut composite = Vec::with_capacity(CATEGORY.len() + KEY_LEN);
    let start = Instant::now();
    for (first, chunk) in batches(keys) {
        let mut wtxn = env.write_txn().expect("txn");
        for (i, k) in chunk.iter().enumerate() {
            composite.clear();
            composite.extend_from_slice(CATEGORY.as_bytes());
            composite.extend_from_slice(k);
            db.put(&mut wtxn, &composite, data.payload(first + i))
                .expect("put");
        }
        wtxn.commit().expect("commit");
    }
    start.elapsed()
}
