//! Model-based test of the sync sets: random sequences of adds, removes,
//! prunes, reopens and queries run against the library and against a
//! brute-force model (a `BTreeSet<SyncId>` per set); every answer must be
//! the model's. Ids come from a small domain (times 0..60, eight hashes) so
//! equal timestamps, re-adds and removes of absent ids are common; batches
//! of up to 96 ids grow sets to several hundred elements, so buckets of
//! levels 1 and 2 form and split. Queries name one set or a union of two
//! or three (an id in several sets counts once per set). Cases run on a
//! file root: a reopen drops the worker's memory of the upper levels,
//! which must come back from the stored rows. `PROPTEST_CASES` (default
//! 2000) sets the number of sequences.

use std::collections::BTreeSet;

use persistency::{Job, Persistency, SplitPart, Summary, SyncId, SyncRange};
use proptest::prelude::*;

const SETS: [&str; 3] = ["a", "b", "c"];

fn hash(index: u8) -> [u8; 32] {
    std::array::from_fn(|k| {
        index
            .wrapping_mul(37)
            .wrapping_add((k as u8).wrapping_mul(11))
            ^ 0x5a
    })
}

fn id(time: i64, index: u8) -> SyncId {
    SyncId::new(time, hash(index))
}

#[derive(Debug, Clone)]
enum Step {
    Add(usize, Vec<SyncId>, bool),
    Remove(usize, Vec<SyncId>, bool),
    Prune(usize, i64),
    Summary(Vec<usize>, SyncRange),
    Split(Vec<usize>, SyncRange, u32),
    Items(Vec<usize>, SyncRange, u32),
    Len(usize),
    Reopen,
}

fn an_id() -> impl Strategy<Value = SyncId> {
    (0i64..60, 0u8..8).prop_map(|(t, i)| id(t, i))
}

fn a_bound() -> impl Strategy<Value = SyncId> {
    prop_oneof![
        8 => an_id(),
        1 => Just(SyncId::MIN),
        1 => Just(SyncId::MAX),
        1 => (-1i64..62).prop_map(|t| SyncId::new(t, [0; 32])),
    ]
}

fn a_range() -> impl Strategy<Value = SyncRange> {
    (a_bound(), a_bound()).prop_map(|(a, b)| SyncRange::new(a.min(b), a.max(b)))
}

fn some_sets() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        3 => (0usize..3).prop_map(|s| vec![s]),
        1 => Just(vec![0, 1]),
        1 => Just(vec![2, 0, 1]),
    ]
}

fn a_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..3, prop::collection::vec(an_id(), 1..96), any::<bool>())
            .prop_map(|(s, ids, acked)| Step::Add(s, ids, acked)),
        3 => (0usize..3, prop::collection::vec(an_id(), 1..24), any::<bool>())
            .prop_map(|(s, ids, acked)| Step::Remove(s, ids, acked)),
        1 => (0usize..3, -1i64..62).prop_map(|(s, t)| Step::Prune(s, t)),
        3 => (some_sets(), a_range()).prop_map(|(s, r)| Step::Summary(s, r)),
        2 => (some_sets(), a_range(), 1u32..10).prop_map(|(s, r, k)| Step::Split(s, r, k)),
        2 => (some_sets(), a_range(), 0u32..20).prop_map(|(s, r, l)| Step::Items(s, r, l)),
        1 => (0usize..3).prop_map(Step::Len),
        1 => Just(Step::Reopen),
    ]
}

struct Model {
    sets: Vec<BTreeSet<SyncId>>,
}

impl Model {
    /// The union's ids in `range`, in order, once per set holding them.
    fn ids(&self, sets: &[usize], range: &SyncRange) -> Vec<SyncId> {
        let mut out: Vec<SyncId> = sets
            .iter()
            .flat_map(|&s| {
                self.sets[s]
                    .iter()
                    .filter(|i| range.start <= **i && **i < range.stop)
                    .copied()
            })
            .collect();
        out.sort();
        out
    }

    fn summary(&self, sets: &[usize], range: &SyncRange) -> Summary {
        let mut s = Summary::default();
        for i in self.ids(sets, range) {
            s.count += 1;
            s.fingerprint
                .iter_mut()
                .zip(i.hash)
                .for_each(|(a, b)| *a ^= b);
        }
        s
    }

    fn split(&self, sets: &[usize], range: &SyncRange, k: u32) -> Vec<SplitPart> {
        let ids = self.ids(sets, range);
        let n = ids.len() as u64;
        let k = u64::from(k);
        let end = if range.is_empty() {
            range.start
        } else {
            range.stop
        };
        let mut bounds = vec![range.start];
        for i in 1..k {
            let r = n * i / k;
            bounds.push(if r < n { ids[r as usize] } else { end });
        }
        bounds.push(end);
        bounds
            .windows(2)
            .map(|w| {
                let part = SyncRange::new(w[0], w[1]);
                SplitPart {
                    range: part,
                    summary: self.summary(sets, &part),
                }
            })
            .collect()
    }
}

fn names(sets: &[usize]) -> Vec<&'static str> {
    sets.iter().map(|&s| SETS[s]).collect()
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "."
    })
    .unwrap();
    let root = dir.path().to_str().unwrap().to_string();
    let mut db = Persistency::new(&root).unwrap();
    let mut job: Job = db.open_job("sync").unwrap();
    let mut model = Model {
        sets: vec![BTreeSet::new(); 3],
    };
    for step in steps {
        match step {
            Step::Add(s, ids, acked) => {
                let new = ids
                    .iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .filter(|i| model.sets[*s].insert(**i))
                    .count() as u64;
                if *acked {
                    prop_assert_eq!(job.sync_add_acked(SETS[*s], ids).unwrap(), new);
                } else {
                    job.sync_add(SETS[*s], ids).unwrap();
                }
            }
            Step::Remove(s, ids, acked) => {
                let gone = ids
                    .iter()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .filter(|i| model.sets[*s].remove(*i))
                    .count() as u64;
                if *acked {
                    prop_assert_eq!(job.sync_remove_acked(SETS[*s], ids).unwrap(), gone);
                } else {
                    job.sync_remove(SETS[*s], ids).unwrap();
                }
            }
            Step::Prune(s, t) => {
                let before = model.sets[*s].len();
                model.sets[*s].retain(|i| i.time >= *t);
                let gone = (before - model.sets[*s].len()) as u64;
                prop_assert_eq!(job.sync_prune_acked(SETS[*s], *t).unwrap(), gone);
            }
            Step::Summary(sets, range) => {
                let got = job.sync_summary(&names(sets), *range).unwrap();
                prop_assert_eq!(got, model.summary(sets, range));
            }
            Step::Split(sets, range, k) => {
                let got = job.sync_split(&names(sets), *range, *k).unwrap();
                prop_assert_eq!(got, model.split(sets, range, *k));
            }
            Step::Items(sets, range, limit) => {
                let got = job.sync_items(&names(sets), *range, *limit).unwrap();
                let mut want = model.ids(sets, range);
                if *limit > 0 {
                    want.truncate(*limit as usize);
                }
                prop_assert_eq!(got, want);
            }
            Step::Len(s) => {
                prop_assert_eq!(job.sync_len(SETS[*s]).unwrap(), model.sets[*s].len() as u64);
            }
            Step::Reopen => {
                drop(job);
                drop(db);
                db = Persistency::new(&root).unwrap();
                job = db.open_job("sync").unwrap();
            }
        }
    }
    // At the end every set, whole, agrees.
    for (s, name) in SETS.iter().enumerate() {
        let all = SyncRange::all();
        prop_assert_eq!(
            job.sync_summary(&[name], all).unwrap(),
            model.summary(&[s], &all)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sync_sets_match_the_model(steps in prop::collection::vec(a_step(), 1..40)) {
        run(&steps)?;
    }
}

/// A set large enough for buckets of levels 3 and 4, against brute force
/// at random ranges and splits, and again after a reopen.
#[test]
fn a_large_set_matches_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let db = Persistency::new(root).unwrap();
    let job = db.open_job("large").unwrap();
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut all = BTreeSet::new();
    for _ in 0..40 {
        let batch: Vec<SyncId> = (0..1000)
            .map(|_| {
                let h = next();
                SyncId::new(
                    (h % 5000) as i64,
                    std::array::from_fn(|k| (h >> (k % 8 * 8)) as u8 ^ k as u8),
                )
            })
            .collect();
        all.extend(batch.iter().copied());
        job.sync_add(b"big", &batch).unwrap();
    }
    let removed: Vec<SyncId> = all.iter().step_by(7).copied().collect();
    for r in &removed {
        all.remove(r);
    }
    job.sync_remove(b"big", &removed).unwrap();
    let model = Model {
        sets: vec![all.clone()],
    };
    let check = |job: &Job, next: &mut dyn FnMut() -> u64| {
        assert_eq!(job.sync_len(b"big").unwrap(), all.len() as u64);
        for _ in 0..30 {
            let a = SyncId::new((next() % 5100) as i64, [0x80; 32]);
            let b = SyncId::new((next() % 5100) as i64, [0x80; 32]);
            let range = SyncRange::new(a.min(b), a.max(b));
            assert_eq!(
                job.sync_summary(&["big"], range).unwrap(),
                model.summary(&[0], &range)
            );
            assert_eq!(
                job.sync_split(&["big"], range, 8).unwrap(),
                model.split(&[0], &range, 8)
            );
        }
    };
    check(&job, &mut next);
    drop(job);
    drop(db);
    let db = Persistency::new(root).unwrap();
    let job = db.open_job("large").unwrap();
    check(&job, &mut next);
}

/// Host writes and reads cannot reach the categories sync sets use.
#[test]
fn reserved_categories_are_refused() {
    let db = Persistency::new(":memory:").unwrap();
    let job = db.open_job("j").unwrap();
    let err = job.put(b"\0sync:e:a", b"k", b"v").unwrap_err();
    assert_eq!(err.kind(), persistency::ErrorKind::InvalidArgument);
    assert!(job.get(b"\0anything", b"k").is_err());
    assert!(job.sync_add_acked("a", &[SyncId::MAX]).is_err());
    assert!(job.sync_summary(&["a", "a"], SyncRange::all()).is_err());
    assert!(job.sync_split(&["a"], SyncRange::all(), 0).is_err());
}

/// Queries from other threads, interleaved with a stream of adds and
/// removes (queued without waiting, so groups of sync writes are open while
/// the queries run), see exactly the state after some whole number of
/// writes: never a write half-applied or uncommitted, never older than the
/// last write whose commit they had heard of before they started, nor
/// older than a write the same thread queued just before. Writes
/// are numbered; write k is in the state from k + 1 on. A query served on
/// the caller's thread from stale memory, or from memory ahead of the
/// committed rows, answers a state outside those bounds.
#[test]
fn queries_on_other_threads_see_whole_committed_writes() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const WRITES: usize = 240;
    let dir = tempfile::tempdir().unwrap();
    let db = Persistency::new(dir.path().to_str().unwrap()).unwrap();
    let job = db.open_job("threads").unwrap();
    // Each id's life: added by write `born`, removed by write `died` (or
    // never), as (id, born, died).
    let mut state = 0x0bad_5eed_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut lives: Vec<(SyncId, usize, usize)> = Vec::new();
    let mut writes: Vec<(bool, Vec<SyncId>)> = Vec::new();
    for k in 0..WRITES {
        if k % 4 == 3 {
            // Removes 20 ids still present.
            let alive: Vec<usize> = (0..lives.len())
                .filter(|&i| lives[i].2 == usize::MAX)
                .collect();
            let gone: Vec<usize> = (0..20)
                .map(|_| alive[(next() as usize) % alive.len()])
                .collect();
            let mut ids = Vec::new();
            for i in gone {
                if lives[i].2 == usize::MAX {
                    lives[i].2 = k;
                    ids.push(lives[i].0);
                }
            }
            writes.push((false, ids));
        } else {
            let ids: Vec<SyncId> = (0..60)
                .map(|_| {
                    let h = next();
                    SyncId::new(
                        (h % 100_000) as i64,
                        std::array::from_fn(|b| (h >> (b % 8 * 8)) as u8 ^ b as u8),
                    )
                })
                .collect();
            lives.extend(ids.iter().map(|id| (*id, k, usize::MAX)));
            writes.push((true, ids));
        }
    }
    // The summary of `range` after `done` writes.
    let lives = std::sync::Arc::new(lives);
    let model = {
        let lives = lives.clone();
        move |done: usize, range: &SyncRange| {
            let mut s = Summary::default();
            for (id, born, died) in lives.iter() {
                if *born < done && *died >= done && range.start <= *id && *id < range.stop {
                    s.count += 1;
                    s.fingerprint
                        .iter_mut()
                        .zip(id.hash)
                        .for_each(|(a, b)| *a ^= b);
                }
            }
            s
        }
    };
    let committed = std::sync::Arc::new(AtomicUsize::new(0));
    let submitted = std::sync::Arc::new(AtomicUsize::new(0));
    let finished = std::sync::Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (job, model) = (job.clone(), model.clone());
            let (committed, submitted, finished) =
                (committed.clone(), submitted.clone(), finished.clone());
            std::thread::spawn(move || {
                let mut checks = 0u64;
                let mut x = r + 1;
                let mine = format!("reader {r}");
                while !finished.load(Ordering::Acquire) || checks == 0 {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let a = ((x >> 20) % 100_000) as i64;
                    let b = ((x >> 40) % 100_000) as i64;
                    let range = SyncRange::new(
                        SyncId::new(a.min(b), [0; 32]),
                        SyncId::new(a.max(b), [0; 32]),
                    );
                    let low = committed.load(Ordering::Acquire);
                    let got = job.sync_summary(&["s"], range).unwrap();
                    let high = submitted.load(Ordering::Acquire);
                    assert!(
                        (low..=high).any(|done| model(done, &range) == got),
                        "a query saw no state after {low} to {high} writes"
                    );
                    checks += 1;
                    // Read-your-writes: a query sees this thread's own
                    // write, queued a moment before and perhaps not yet
                    // applied.
                    let own = SyncId::new(checks as i64, [r as u8; 32]);
                    job.sync_add(&mine, &[own]).unwrap();
                    assert_eq!(job.sync_len(&mine).unwrap(), checks);
                }
                checks
            })
        })
        .collect();
    for (k, (add, ids)) in writes.into_iter().enumerate() {
        submitted.store(k + 1, Ordering::Release);
        let committed = committed.clone();
        let then = move |r: persistency::Result<u64>| {
            r.unwrap();
            committed.fetch_max(k + 1, Ordering::AcqRel);
        };
        if add {
            job.sync_add_then("s", &ids, then).unwrap();
        } else {
            job.sync_remove_then("s", &ids, then).unwrap();
        }
        if k % 8 == 7 {
            // A pause with nothing pending, when queries run on the
            // callers' threads.
            job.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    job.flush().unwrap();
    finished.store(true, Ordering::Release);
    let checks: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(checks > 0);
    assert_eq!(
        job.sync_summary(&["s"], SyncRange::all()).unwrap(),
        model(WRITES, &SyncRange::all())
    );
    // Some queries were served on the callers' threads (they open readers).
    assert!(job.stats().unwrap().readers > 0);
}
