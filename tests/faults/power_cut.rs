//! Simulated power cuts: with `synchronous = Full`, no acknowledged batch
//! is lost, none is torn, and batches commit in order, when the power goes
//! off at any write, truncation or fsync of the job's files (during the
//! open, a commit, or the checkpoint at close).
//!
//! The fault VFS records every change of the job's files not yet fsynced;
//! the cut undoes them on disk, as a power loss loses the page cache, and
//! fails every later call. In half of the cycles the cut instead keeps a
//! random half of the unsynced 512-byte sectors (torn writes that happened
//! to reach the disk). Then the power comes back, a fresh instance opens
//! the job (SQLite recovers from its WAL), and the parent checks:
//!
//! - every acknowledged batch is there (its marker row, and its rows unless
//!   a committed later batch deleted them);
//! - every batch is all or nothing: rows, marker, and for every fourth
//!   batch the deletion of an older batch with its tombstone;
//! - the committed batches are 0..n with no hole;
//! - `PRAGMA integrity_check` says ok.
//!
//! `POWER_CYCLES` (default 200) and `POWER_SEED` change the run,
//! `POWER_DEBUG=1` prints every cycle;
//! `POWER_SYNC=normal` runs the job with `synchronous = Normal`, which does
//! not fsync every commit: the check must then find acknowledged batches
//! lost (it is how the checker was validated).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use persistency::fault;
use persistency::{Job, JobOptions, Op, Persistency, ScanOptions, Synchronous};

/// Batches each life submits.
const BATCHES: u32 = 60;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Rows batch `i` writes (deterministic, so the check knows).
fn rows_in(i: u32) -> u32 {
    1 + i % 5
}

/// The batch that batch `i` deletes, if any: every fourth batch deletes the
/// one three before it.
fn deletes(i: u32) -> Option<u32> {
    (i >= 4 && i % 4 == 0).then(|| i - 3)
}

fn batch(i: u32) -> Vec<Op> {
    let mut ops: Vec<Op> = (0..rows_in(i))
        .map(|j| {
            let mut key = i.to_be_bytes().to_vec();
            key.extend_from_slice(&j.to_be_bytes());
            Op::put("r", key, vec![(i % 251) as u8; 500 + 700 * j as usize])
        })
        .collect();
    ops.push(Op::put("m", i.to_be_bytes().to_vec(), Vec::new()));
    if let Some(old) = deletes(i) {
        ops.push(Op::delete_prefix("r", old.to_be_bytes().to_vec()));
        ops.push(Op::put("t", old.to_be_bytes().to_vec(), Vec::new()));
    }
    ops
}

/// One life of the job: open, submit every batch through `write_then`,
/// flush, close. Returns the acknowledged batches.
fn live(root: &str, sync: Synchronous) -> Vec<u32> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let db = Persistency::new(root).expect("instance");
    let options = JobOptions::default().synchronous(sync);
    let Ok(job) = db.open_job_with("power", &options) else {
        // The power went off while the job opened.
        return Vec::new();
    };
    for i in 0..BATCHES {
        // Mostly pipelined callbacks; every third batch waits for its
        // commit, so a life is many group commits, not one.
        if i % 3 == 2 {
            match job.write(batch(i)) {
                Ok(()) => acked.lock().expect("acked").push(i),
                Err(_) => break,
            }
            continue;
        }
        let acked = acked.clone();
        let queued = job.write_then(batch(i), move |r| {
            if r.is_ok() {
                acked.lock().expect("acked").push(i);
            }
        });
        if queued.is_err() {
            break;
        }
    }
    let _ = job.flush();
    let _ = db.close();
    let acked = acked.lock().expect("acked").clone();
    acked
}

/// The checks of the module doc; returns the committed batches.
fn verify(job: &Job, acked: &[u32], cycle: u32) -> u32 {
    let present = |cat: &str, i: u32| job.exists(cat, &i.to_be_bytes()).expect("exists");
    let committed: BTreeSet<u32> = (0..BATCHES).filter(|&i| present("m", i)).collect();
    let n = committed.len() as u32;
    assert!(
        committed.iter().copied().eq(0..n),
        "cycle {cycle}: committed batches have holes: {committed:?}"
    );
    for &i in acked {
        assert!(
            committed.contains(&i),
            "cycle {cycle}: acknowledged batch {i} is lost"
        );
    }
    for i in 0..BATCHES {
        let rows = job
            .scan_prefix("r", &i.to_be_bytes(), ScanOptions::default())
            .expect("scan")
            .len() as u32;
        let deleted_by = (i + 3 < BATCHES && deletes(i + 3) == Some(i)).then_some(i + 3);
        let tombstone = present("t", i);
        let expected = match (committed.contains(&i), deleted_by) {
            (false, _) => 0,
            (true, Some(d)) if committed.contains(&d) => 0,
            (true, _) => rows_in(i),
        };
        assert_eq!(rows, expected, "cycle {cycle}: batch {i} is torn");
        let expect_tombstone = deleted_by.is_some_and(|d| committed.contains(&d));
        assert_eq!(
            tombstone, expect_tombstone,
            "cycle {cycle}: the deletion of batch {i} is torn"
        );
    }
    n
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}

#[test]
fn a_power_cut_loses_no_acknowledged_batch_under_full_sync() {
    let cycles: u32 = std::env::var("POWER_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let sync = match std::env::var("POWER_SYNC").as_deref() {
        Ok("normal") => Synchronous::Normal,
        _ => Synchronous::Full,
    };
    let seed: u64 = std::env::var("POWER_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_cafe);
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().expect("tempdir");

    // Calibration: how many mutating calls one life makes, so that cuts
    // land anywhere in it.
    let calib = dir.path().join("calibration");
    let tag = calib.to_string_lossy().into_owned();
    fault::track_power(&tag, None, None);
    let acked = live(&tag, sync);
    let (_, mutations) = fault::power_state(&tag);
    fault::power_on(&tag);
    assert_eq!(
        acked.len() as u32,
        BATCHES,
        "the calibration life lost writes"
    );
    assert!(
        mutations > 10,
        "the VFS saw only {mutations} mutating calls"
    );

    let (mut total_acked, mut total_committed, mut dropped, mut survived, mut lost) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut lives_without_ack = 0;
    let mut dropped_bytes = 0u64;
    for cycle in 0..cycles {
        let root = dir.path().join(format!("cycle-{cycle}"));
        let tag = root.to_string_lossy().into_owned();
        let cut_at = 1 + rng.below(mutations + mutations / 10);
        let torn = cycle % 2 == 1;
        fault::track_power(&tag, Some(cut_at), torn.then(|| rng.next()));
        let acked = live(&tag, sync);
        let report = fault::power_cut(&tag);
        fault::power_on(&tag);
        if acked.is_empty() {
            lives_without_ack += 1;
        }
        dropped += report.unsynced_changes;
        dropped_bytes += report.unsynced_bytes;
        survived += report.surviving_sectors;
        lost += report.lost_sectors;

        let db = Persistency::new(&tag).expect("instance after the cut");
        let job = db.open_job("power").expect("reopen after the cut");
        let committed = verify(&job, &acked, cycle);
        if std::env::var("POWER_DEBUG").is_ok() {
            println!(
                "cycle {cycle} cut_at {cut_at} acked {} committed {committed} {report:?}",
                acked.len()
            );
        }
        db.close().expect("close");
        assert_eq!(integrity(&root.join("power.db")), "ok", "cycle {cycle}");
        total_acked += acked.len() as u64;
        total_committed += u64::from(committed);
    }
    println!(
        "POWER sync={sync:?} cycles={cycles} seed={seed} calibration_mutations={mutations} \
         acked={total_acked} committed={total_committed} unsynced_changes_dropped={dropped} unsynced_bytes_dropped={dropped_bytes} \
         torn_sectors_kept={survived} sectors_rolled_back={lost} lives_without_ack={lives_without_ack} \
         acknowledged_lost=0"
    );
}
