//! Test hooks of the `fault-injection` feature, which tests enable to
//! exercise the panic boundaries. Never enable it in production builds.

/// A request on this category panics inside the worker.
pub const PANIC_CATEGORY: &str = "persistency.fault.panic";

/// A C entry point called with this category panics before doing anything.
pub const PANIC_ENTRY_CATEGORY: &str = "persistency.fault.panic-entry";

/// Panics when a worker request names [`PANIC_CATEGORY`].
pub(crate) fn worker_request(category: &[u8]) {
    if category == PANIC_CATEGORY.as_bytes() {
        panic!("fault injection: worker request panics");
    }
}

/// Panics when a C entry point is given [`PANIC_ENTRY_CATEGORY`].
pub(crate) fn entry_point(category: &[u8]) {
    if category == PANIC_ENTRY_CATEGORY.as_bytes() {
        panic!("fault injection: entry point panics");
    }
}
