//! The C ABI (`include/persistency.h`, documented in `docs/c-api.md`):
//! thin wrappers that validate and copy C arguments, call [`Persistency`],
//! [`Job`] and the other public core types, and turn results into status
//! codes and `persistency_result` views. No storage logic lives here; the
//! C plumbing does (handles, C strings, code conversions). Every entry point
//! runs inside one panic boundary (`boundary.rs`).
//!
//! The Rust names are CamelCase; `cbindgen.toml` renames them to the C
//! names of the contract (`JobHandle` is `persistency_job`, and so on).
//!
//! Every function here is `unsafe`: it takes raw pointers from C, and its
//! `# Safety` section says what they must point at. The module is hidden
//! from the documented Rust API; Rust programs use [`Persistency`] and
//! [`Job`]. The benchmark and the FFI tests call it as a C host does.
//!
//! [`Persistency`]: crate::Persistency
//! [`Job`]: crate::Job

mod args;
mod blocking;
mod boundary;
mod callback;
mod cursor;
mod handles;
mod instance;
mod job;
mod keys;
mod log;
mod maintenance;
mod reads;
mod status;
mod sync;
mod writes;

pub use blocking::*;
pub use callback::{CBytes, CResult, CRow, Callback};
pub use cursor::*;
pub use handles::{JobHandle, PersistencyHandle};
pub use instance::*;
pub use job::*;
pub use keys::*;
pub use log::*;
pub use maintenance::*;
pub use reads::*;
pub use status::*;
pub use sync::*;
pub use writes::*;
