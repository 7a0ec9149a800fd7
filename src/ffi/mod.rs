//! The C ABI of API.md: thin wrappers that validate and copy C arguments,
//! call the core, and turn results into status codes and
//! `persistency_result` views. No logic lives here. Every entry point runs
//! inside one panic boundary (the private `boundary` module).
//!
//! The functions are also callable from Rust (as `unsafe extern "C"`), the
//! way the benchmark and the fuzz tests drive the library exactly as a C
//! host does.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]
// The entry points take raw pointers from C by design; each dereference is
// behind the NULL checks of `args` and documented in the header.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod args;
mod boundary;
mod instance;
mod job;
mod keys;
mod log;
mod reads;
mod status;
mod writes;

pub use instance::*;
pub use job::*;
pub use keys::*;
pub use log::*;
pub use reads::*;
pub use status::*;
pub use writes::*;
