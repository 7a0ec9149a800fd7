//! The rows every writer inserts: deterministic keys and payloads.

use std::ffi::CString;

use crate::config::{CATEGORY, KEY_LEN, PAYLOAD_LEN};

/// SplitMix64: a small deterministic generator, so every run inserts the
/// same keys.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

pub type Key = [u8; KEY_LEN];

pub fn keys(seed: u64, n: usize) -> Vec<Key> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let mut k = [0u8; KEY_LEN];
            rng.fill(&mut k);
            k
        })
        .collect()
}

/// 64 distinct random payloads, used round-robin.
pub fn payloads() -> Vec<[u8; PAYLOAD_LEN]> {
    let mut rng = Rng(0xFACE);
    (0..64)
        .map(|_| {
            let mut p = [0u8; PAYLOAD_LEN];
            rng.fill(&mut p);
            p
        })
        .collect()
}

pub struct Data {
    pub category: CString,
    payloads: Vec<[u8; PAYLOAD_LEN]>,
}

impl Data {
    pub fn new() -> Data {
        Data {
            category: CString::new(CATEGORY).expect("no NUL"),
            payloads: payloads(),
        }
    }

    pub fn payload(&self, i: usize) -> &[u8] {
        &self.payloads[i % self.payloads.len()]
    }
}
