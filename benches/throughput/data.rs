//! The rows every writer inserts: deterministic keys and payloads.

use std::ffi::CString;

use crate::config::{CATEGORY, KEY_LEN, PAYLOAD_LEN};
use crate::rng::Rng;

pub type Key = [u8; KEY_LEN];

/// A key of `table`, picked at random.
pub fn pick<'a>(rng: &mut Rng, table: &'a [Key]) -> &'a Key {
    &table[rng.below(table.len() as u64) as usize]
}

/// `n` random keys: the same `seed` gives the same keys in every run.
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
