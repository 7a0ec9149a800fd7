//! Blocking reads on the caller's thread (issue 13): read-your-writes from
//! every thread whichever path a read takes, the bound and the idle shrink
//! of the read pool, and the jobs that have no pool.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use persistency::{Job, Op, Persistency, Result, ScanOptions};

fn file_instance() -> (tempfile::TempDir, Persistency) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Persistency::new(dir.path().to_str().expect("utf8")).expect("instance");
    (dir, db)
}

/// The pool bound the library promises: the number of cores, 4 to 8.
fn max_readers() -> u64 {
    thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(4)
        .clamp(4, 8) as u64
}

fn key(i: i64) -> [u8; 8] {
    i.to_be_bytes()
}

/// Waits (up to a generous bound) for `done`; tells whether it came true.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    done()
}

#[test]
fn a_quiet_job_reads_on_the_callers_thread() -> Result<()> {
    let (_dir, db) = file_instance();
    let job = db.open_job("quiet")?;
    assert_eq!(job.stats()?.readers, 0, "the pool opens lazily");
    job.put("c", b"k", b"v")?;
    job.flush()?;
    assert_eq!(job.get("c", b"k")?, Some(b"v".to_vec()));
    assert!(job.exists("c", b"k")?);
    assert_eq!(job.count("c", b"", b"")?, 1);
    let rows = job.scan("c", b"", b"", ScanOptions::new())?;
    assert_eq!(rows.to_pairs(), vec![(b"k".to_vec(), b"v".to_vec())]);
    let rows = job.get_many("c", vec![b"x".to_vec(), b"k".to_vec()])?;
    assert_eq!(rows.to_pairs(), vec![(b"k".to_vec(), b"v".to_vec())]);
    let stats = job.stats()?;
    assert_eq!(stats.readers, 1, "sequential reads share one connection");
    assert_eq!(stats.reads, 5);
    Ok(())
}

#[test]
fn each_thread_reads_its_own_writes() -> Result<()> {
    let (_dir, db) = file_instance();
    let job = db.open_job("own")?;
    let threads: Vec<_> = (0..4i64)
        .map(|t| {
            let job = job.clone();
            thread::spawn(move || -> Result<()> {
                for i in 0..300i64 {
                    let k = key(t * 1_000_000 + i);
                    job.put("c", &k, &i.to_le_bytes())?;
                    assert_eq!(job.get("c", &k)?, Some(i.to_le_bytes().to_vec()));
                    if i % 3 == 0 {
                        job.delete("c", &k)?;
                        assert!(!job.exists("c", &k)?, "thread {t} key {i}");
                        job.write(vec![Op::put("c", k.to_vec(), b"again".to_vec())])?;
                        assert_eq!(job.get("c", &k)?, Some(b"again".to_vec()));
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread")?;
    }
    assert_eq!(job.count("c", b"", b"")?, 1_200);
    Ok(())
}

/// A writer publishes how far it got only after `put` returned; readers on
/// other threads must then see that row, whether their read runs on the
/// worker (a write pending) or on a pool connection (all committed).
#[test]
fn a_read_sees_a_write_accepted_on_another_thread() -> Result<()> {
    let (_dir, db) = file_instance();
    let job = db.open_job("race")?;
    let published = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (job, published, stop) = (job.clone(), published.clone(), stop.clone());
            thread::spawn(move || -> Result<u64> {
                let mut checked = 0;
                while !stop.load(Ordering::Acquire) {
                    let i = published.load(Ordering::Acquire);
                    if i < 0 {
                        thread::yield_now();
                        continue;
                    }
                    let got = job.get("c", &key(i))?;
                    assert_eq!(got, Some(i.to_le_bytes().to_vec()), "row {i} not seen");
                    assert!(job.count("c", b"", b"")? > i as u64, "count misses row {i}");
                    checked += 1;
                }
                Ok(checked)
            })
        })
        .collect();
    for i in 0..3_000i64 {
        job.put("c", &key(i), &i.to_le_bytes())?;
        published.store(i, Ordering::Release);
        if i % 500 == 0 {
            // Let the writes commit now and then, so reads take both paths.
            job.flush()?;
            thread::sleep(Duration::from_millis(2));
        }
    }
    stop.store(true, Ordering::Release);
    let mut checked = 0;
    for r in readers {
        checked += r.join().expect("reader")?;
    }
    assert!(checked > 0, "the readers read");
    Ok(())
}

/// A read that starts right after another thread's write was accepted sees
/// it, also when the job was quiet (all committed) just before the write.
#[test]
fn a_read_right_after_a_queued_write_sees_it() -> Result<()> {
    let (_dir, db) = file_instance();
    let job = db.open_job("handoff")?;
    let (tx, rx) = mpsc::sync_channel::<i64>(0);
    let reader = {
        let job = job.clone();
        thread::spawn(move || -> Result<()> {
            for i in rx {
                assert_eq!(job.get("c", &key(i))?, Some(vec![1]), "row {i}");
            }
            Ok(())
        })
    };
    for i in 0..1_000i64 {
        job.flush()?;
        job.put("c", &key(i), &[1])?;
        tx.send(i).expect("send");
    }
    drop(tx);
    reader.join().expect("reader")?;
    Ok(())
}

#[test]
fn the_pool_stays_bounded_and_shrinks_when_idle() -> Result<()> {
    let (_dir, db) = file_instance();
    let job = db.open_job("bounded")?;
    for i in 0..100i64 {
        job.put("c", &key(i), b"v")?;
    }
    job.flush()?;
    let n = 12;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (job, barrier) = (job.clone(), barrier.clone());
            thread::spawn(move || -> Result<u64> {
                barrier.wait();
                let mut most = 0;
                for i in 0..500i64 {
                    assert_eq!(job.get("c", &key(i % 100))?, Some(b"v".to_vec()));
                    most = most.max(job.stats()?.readers);
                }
                Ok(most)
            })
        })
        .collect();
    for t in threads {
        let most = t.join().expect("thread")?;
        assert!(most <= max_readers(), "{most} readers open");
    }
    let open = job.stats()?.readers;
    assert!((1..=max_readers()).contains(&open), "{open} readers open");
    assert!(
        eventually(|| job.stats().map(|s| s.readers) == Ok(0)),
        "idle readers were not closed"
    );
    // And the pool opens again on demand.
    assert_eq!(job.get("c", &key(1))?, Some(b"v".to_vec()));
    assert_eq!(job.stats()?.readers, 1);
    Ok(())
}

#[test]
fn in_memory_jobs_read_through_the_worker() -> Result<()> {
    let db = Persistency::new(":memory:")?;
    let job = db.open_job("mem")?;
    job.put("c", b"k", b"v")?;
    job.flush()?;
    assert_eq!(job.get("c", b"k")?, Some(b"v".to_vec()));
    assert_eq!(job.stats()?.readers, 0);
    Ok(())
}

#[test]
fn closing_a_job_closes_its_readers() -> Result<()> {
    let (dir, db) = file_instance();
    let job: Job = db.open_job("closing")?;
    job.put("c", b"k", b"v")?;
    job.flush()?;
    assert_eq!(job.get("c", b"k")?, Some(b"v".to_vec()));
    db.close_job("closing")?;
    assert!(job.get("c", b"k").is_err(), "a closed job refuses reads");
    // The worker was the last connection: it removed the WAL on close.
    assert!(!dir.path().join("closing.db-wal").exists());
    let job = db.open_job("closing")?;
    assert_eq!(job.get("c", b"k")?, Some(b"v".to_vec()));
    db.drop_job("closing")?;
    Ok(())
}
