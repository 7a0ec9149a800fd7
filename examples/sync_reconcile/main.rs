//! Range-based set reconciliation (the Waku Sync protocol's shape) between
//! two jobs' sync sets, in one process.
//!
//! Two jobs each hold 100 000 ids: 99 000 shared, and 1 000 of their own
//! (so 2 000 differences). Each round, for every range still in question,
//! the initiator sends the range's fingerprint and count; the peer
//! compares them with its own: equal ranges are done; a range with fewer
//! than 100 ids on either side is settled by exchanging item lists (each
//! side adds what it lacks); a larger one is split by the initiator into
//! 8 parts of equal count, which the next round examines. The example
//! counts rounds and differences, checks that both sides end with the same
//! set (same fingerprint, same items), and prints
//! `reconciled: D differences in R rounds` last.
//!
//! Run: `examples/sync_reconcile/run.sh` (builds and runs it in release).

use std::collections::BTreeSet;

use persistency::{Job, Persistency, SyncId, SyncRange};

const SET: &str = "/waku/2/default-content/proto";
const PER_SIDE: u64 = 100_000;
const OWN: u64 = 1_000;
const SPLIT: u32 = 8;
const ITEMS_BELOW: u64 = 100;

fn id(n: u64) -> SyncId {
    // A deterministic stand-in for a message hash.
    let mut hash = [0u8; 32];
    let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5151;
    for chunk in hash.chunks_mut(8) {
        x ^= x >> 31;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    // Messages at random moments of an hour, to the millisecond (so some
    // share a timestamp); the differences are scattered over the range.
    let ms = (x >> 11) % 3_600_000;
    SyncId::new(1_700_000_000_000_000_000 + ms as i64 * 1_000_000, hash)
}

fn fill(job: &Job, ids: impl Iterator<Item = u64>) -> persistency::Result<()> {
    let ids: Vec<SyncId> = ids.map(id).collect();
    for batch in ids.chunks(1_000) {
        job.sync_add(SET, batch)?;
    }
    job.flush()
}

fn main() -> persistency::Result<()> {
    let dir = std::env::temp_dir().join(format!("sync_reconcile-{}", std::process::id()));
    let db = Persistency::new(dir.to_str().expect("a UTF-8 temporary directory"))?;
    let alice = db.open_job("alice")?;
    let bob = db.open_job("bob")?;
    let shared = PER_SIDE - OWN;
    fill(&alice, 0..PER_SIDE)?;
    fill(&bob, (0..shared).chain(PER_SIDE..PER_SIDE + OWN))?;
    println!(
        "alice holds {}, bob holds {}",
        alice.sync_len(SET)?,
        bob.sync_len(SET)?
    );

    let mut pending = vec![SyncRange::all()];
    let (mut rounds, mut differences) = (0u64, 0u64);
    let (mut fingerprints_sent, mut items_sent) = (0u64, 0u64);
    while !pending.is_empty() {
        rounds += 1;
        let mut next = Vec::new();
        for range in pending {
            let mine = alice.sync_summary(&[SET], range)?;
            let theirs = bob.sync_summary(&[SET], range)?;
            fingerprints_sent += 1;
            if mine == theirs {
                continue;
            }
            if mine.count < ITEMS_BELOW || theirs.count < ITEMS_BELOW {
                // Item lists both ways; each side adds what it lacks.
                let a: BTreeSet<SyncId> = alice.sync_items(&[SET], range, 0)?.into_iter().collect();
                let b: BTreeSet<SyncId> = bob.sync_items(&[SET], range, 0)?.into_iter().collect();
                items_sent += (a.len() + b.len()) as u64;
                let to_bob: Vec<SyncId> = a.difference(&b).copied().collect();
                let to_alice: Vec<SyncId> = b.difference(&a).copied().collect();
                differences += (to_bob.len() + to_alice.len()) as u64;
                bob.sync_add(SET, &to_bob)?;
                alice.sync_add(SET, &to_alice)?;
            } else {
                next.extend(
                    alice
                        .sync_split(&[SET], range, SPLIT)?
                        .into_iter()
                        .map(|part| part.range),
                );
            }
        }
        pending = next;
    }

    let (a, b) = (
        alice.sync_summary(&[SET], SyncRange::all())?,
        bob.sync_summary(&[SET], SyncRange::all())?,
    );
    let same_items = alice.sync_items(&[SET], SyncRange::all(), 0)?
        == bob.sync_items(&[SET], SyncRange::all(), 0)?;
    assert_eq!(a, b, "the sides disagree after reconciling");
    assert!(same_items, "the sides hold different items");
    assert_eq!(a.count, PER_SIDE + OWN);
    assert_eq!(differences, 2 * OWN);
    println!(
        "both sides hold {} ids; {fingerprints_sent} range fingerprints and {items_sent} items exchanged",
        a.count
    );
    drop((alice, bob));
    db.close()?;
    let _ = std::fs::remove_dir_all(&dir);
    println!("reconciled: {differences} differences in {rounds} rounds");
    Ok(())
}
