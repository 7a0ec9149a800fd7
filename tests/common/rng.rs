//! A small deterministic generator (splitmix64): no extra dependency, and a
//! seed reproduces a run. Shared by the integration tests (through
//! `common`) and the throughput benchmark (which includes this file with
//! `#[path]`), so there is one copy of it.

/// The generator's state; `Rng(seed)` starts a sequence.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Fills `out` with random bytes, eight (little-endian) per `next`.
    // Used by the benchmark; a test crate that does not fill bytes would
    // otherwise warn.
    #[allow(dead_code)]
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}
