//! The rows every writer inserts: deterministic keys and payloads.

use std::ffi::CString;

use crate::config::{BATCH, CATEGORY, KEY_LEN, PAYLOAD_LEN};
use crate::rng::Rng;

pub type Key = [u8; KEY_LEN];

/// `n` random byte arrays: the same `seed` gives the same arrays in every
/// run.
fn random<const LEN: usize>(seed: u64, n: usize) -> Vec<[u8; LEN]> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let mut a = [0u8; LEN];
            rng.fill(&mut a);
            a
        })
        .collect()
}

/// `n` random keys, the same for the same `seed`.
pub fn keys(seed: u64, n: usize) -> Vec<Key> {
    random(seed, n)
}

/// A key of `table`, picked at random.
pub fn pick<'a>(rng: &mut Rng, table: &'a [Key]) -> &'a Key {
    &table[rng.below(table.len() as u64) as usize]
}

/// `keys` in batches of `BATCH`, each with the index of its first key (from
/// which its rows take their payloads).
pub fn batches(keys: &[Key]) -> impl Iterator<Item = (usize, &[Key])> {
    keys.chunks(BATCH)
        .enumerate()
        .map(|(c, chunk)| (c * BATCH, chunk))
}

/// The category and payloads of every row.
pub struct Data {
    pub category: CString,
    /// 64 distinct random payloads, used round-robin.
    payloads: Vec<[u8; PAYLOAD_LEN]>,
}

impl Data {
    pub fn new() -> Data {
        Data {
            category: CString::new(CATEGORY).expect("no NUL"),
            payloads: random(0xFACE, 64),
        }
    }

    /// The payload of row `i`.
    pub fn payload(&self, i: usize) -> &[u8] {
        &self.payloads[i % self.payloads.len()]
    }
}
