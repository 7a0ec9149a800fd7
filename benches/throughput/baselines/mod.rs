//! What the library is compared with.

pub mod lmdb;
pub mod raw_sqlite;
pub mod upstream;
