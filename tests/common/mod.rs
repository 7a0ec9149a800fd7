//! Helpers shared by the integration tests.

mod rng;

pub use rng::Rng;
