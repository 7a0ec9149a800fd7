//! The guarantees this library adds over upstream: read-your-writes,
//! exactly-once completion, bounded queues, quotas, callback rules.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use persistency::{ErrorKind, FullPolicy, JobOptions, Op, Persistency, Result, ScanOptions};

use crate::common::{root_in, scratch_root};

/// Holds the job's worker inside a callback until the returned sender sends
/// (or is dropped), so the requests queued meanwhile wait together.
fn hold_worker(job: &persistency::Job) -> Result<mpsc::Sender<()>> {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    job.flush_then(move |_| {
        started_tx.send(()).expect("send");
        let _ = release_rx.recv();
    })?;
    started_rx.recv().expect("worker is in the callback");
    Ok(release_tx)
}

#[test]
fn read_your_writes_without_waiting() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let job = db.open_job("ryw")?;
    for i in 0..500u32 {
        job.put("c", &i.to_be_bytes(), &i.to_le_bytes())?;
        assert_eq!(
            job.get("c", &i.to_be_bytes())?,
            Some(i.to_le_bytes().to_vec())
        );
    }
    // Callback reads queued right behind fire-and-forget writes see them.
    let (tx, rx) = mpsc::channel();
    for i in 0..500u32 {
        job.delete("c", &i.to_be_bytes())?;
        let tx = tx.clone();
        job.exists_then("c", &i.to_be_bytes(), move |r| tx.send(r).expect("send"))?;
    }
    drop(tx);
    assert!(rx.iter().all(|r| r == Ok(false)));
    Ok(())
}

#[test]
fn thousands_of_requests_complete_exactly_once_across_a_close() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Persistency::new(&root_in(dir.path()))?;
    let job = db.open_job("once")?;
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let n = 5_000usize;
    for i in 0..n {
        let (seen, calls) = (seen.clone(), calls.clone());
        let record = move |tag: usize| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert!(
                seen.lock().expect("lock").insert(tag),
                "request {tag} completed twice"
            );
        };
        let key = (i as u32).to_be_bytes();
        match i % 4 {
            0 => job.write_then(vec![Op::put("c", key.to_vec(), b"v".to_vec())], move |r| {
                r.expect("write");
                record(i)
            })?,
            1 => job.get_then("c", &key, move |r| {
                r.expect("get");
                record(i)
            })?,
            2 => job.delete_acked_then("c", &key, move |r| {
                r.expect("delete_acked");
                record(i)
            })?,
            _ => job.flush_then(move |r| {
                r.expect("flush");
                record(i)
            })?,
        }
    }
    db.close_job("once")?;
    assert_eq!(calls.load(Ordering::SeqCst), n);
    assert_eq!(seen.lock().expect("lock").len(), n);
    // Refused requests never call back.
    let refused = Arc::new(AtomicUsize::new(0));
    let r = refused.clone();
    let err = job.get_then("c", b"k", move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(err.unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(refused.load(Ordering::SeqCst), 0);
    Ok(())
}

#[test]
fn callbacks_arrive_in_acceptance_order() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let job = db.open_job("order")?;
    let order = Arc::new(Mutex::new(Vec::new()));
    for i in 0..1_000u32 {
        let order = order.clone();
        let push = move || order.lock().expect("lock").push(i);
        if i % 2 == 0 {
            job.write_then(
                vec![Op::put("c", i.to_be_bytes().to_vec(), b"v".to_vec())],
                move |r| {
                    r.expect("write");
                    push()
                },
            )?;
        } else {
            job.count_then("c", b"", b"", move |r| {
                assert_eq!(r.expect("count"), u64::from(i).div_ceil(2));
                push()
            })?;
        }
    }
    job.flush()?;
    let order = order.lock().expect("lock");
    assert_eq!(*order, (0..1_000).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn fail_fast_backpressure_loses_nothing_accepted() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let options = JobOptions::default()
        .queue_capacity(4)
        .full_policy(FullPolicy::Fail);
    let job = db.open_job_with("bp", &options)?;
    // Hold the worker inside a callback so the queue fills up.
    let release_tx = hold_worker(&job)?;
    let mut accepted = Vec::new();
    for i in 0..3u32 {
        job.put("c", &i.to_be_bytes(), b"v")?;
        accepted.push(i);
    }
    // The fourth accepted request reports when everything before it is applied.
    let (applied_tx, applied_rx) = mpsc::channel();
    job.write_then(
        vec![Op::put("c", 3u32.to_be_bytes().to_vec(), b"v".to_vec())],
        move |r| applied_tx.send(r).expect("send"),
    )?;
    accepted.push(3);
    let mut busy = 0;
    for i in 4..64u32 {
        let err = job.put("c", &i.to_be_bytes(), b"v").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Busy);
        busy += 1;
        let refused = job.get_then("c", b"k", |_| panic!("a refused request never calls back"));
        assert_eq!(refused.unwrap_err().kind(), ErrorKind::Busy);
    }
    assert_eq!(busy, 60);
    assert_eq!(job.stats()?.queued, 4);
    release_tx.send(()).expect("release");
    applied_rx.recv().expect("applied")?;
    for i in &accepted {
        assert!(job.exists("c", &i.to_be_bytes())?);
    }
    assert_eq!(job.count("c", b"", b"")?, 4);
    Ok(())
}

#[test]
fn a_bounded_wait_for_room_times_out_and_queues_nothing() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let job = db.open_job_with("bounded", &JobOptions::default().queue_capacity(2))?;
    let release_tx = hold_worker(&job)?;
    job.put("c", b"a", b"1")?;
    job.put("c", b"b", b"2")?;
    // Another thread, so the bound of this one stays unset.
    let refused = std::thread::scope(|s| {
        s.spawn(|| {
            let previous =
                persistency::set_wait_timeout(Some(std::time::Duration::from_millis(30)));
            assert_eq!(previous, None);
            let put = job.put("c", b"late", b"3");
            let read = job.get_then("c", b"a", |_| panic!("a refused request never calls back"));
            (put, read)
        })
        .join()
        .expect("thread")
    });
    assert_eq!(refused.0.unwrap_err().kind(), ErrorKind::Timeout);
    assert_eq!(refused.1.unwrap_err().kind(), ErrorKind::Timeout);
    assert_eq!(job.stats()?.queued, 2);
    release_tx.send(()).expect("release");
    // Unbounded again (the default): waits as long as it takes.
    job.put("c", b"after", b"4")?;
    assert!(!job.exists("c", b"late")?);
    assert_eq!(job.count("c", b"", b"")?, 3);
    Ok(())
}

#[test]
fn blocking_policy_waits_for_room() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let options = JobOptions::default().queue_capacity(2);
    let job = db.open_job_with("block", &options)?;
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let job = job.clone();
            s.spawn(move || {
                for i in 0..250u32 {
                    job.put("c", &[t.to_be_bytes(), i.to_be_bytes()].concat(), b"v")
                        .expect("put");
                }
            });
        }
    });
    assert_eq!(job.count("c", b"", b"")?, 1_000);
    Ok(())
}

#[test]
fn own_callback_never_waits_for_its_queue() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let options = JobOptions::default().queue_capacity(1);
    let job = db.open_job_with("own", &options)?;
    let inner = job.clone();
    let (tx, rx) = mpsc::channel();
    job.flush_then(move |_| {
        // The queue has room for one: the second must fail fast, not block.
        let first = inner.put("c", b"1", b"v");
        let second = inner.put("c", b"2", b"v");
        let blocking = inner.get("c", b"1");
        tx.send((first, second, blocking)).expect("send");
    })?;
    let (first, second, blocking) = rx.recv().expect("callback ran");
    assert!(first.is_ok());
    assert_eq!(second.unwrap_err().kind(), ErrorKind::Busy);
    assert_eq!(blocking.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(job.exists("c", b"1")?);
    Ok(())
}

#[test]
fn closing_from_a_callback_is_refused() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let job = db.open_job("self")?;
    let other = db.open_job("other")?;
    let (tx, rx) = mpsc::channel();
    let inner = db.clone();
    job.flush_then(move |_| {
        let results = (
            inner.close_job("self"),
            inner.drop_job("self"),
            inner.close(),
            inner.close_job("other"),
        );
        tx.send(results).expect("send");
    })?;
    let (close_self, drop_self, close_all, close_other) = rx.recv().expect("callback ran");
    assert_eq!(close_self.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(drop_self.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(close_all.unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(
        close_other.is_ok(),
        "another job's close does not wait for this worker"
    );
    assert!(db.has_job("self"), "nothing changed");
    assert_eq!(other.get("c", b"k").unwrap_err().kind(), ErrorKind::Closed);
    job.put("c", b"k", b"v")?;
    assert!(job.exists("c", b"k")?);
    Ok(())
}

#[test]
fn quota_refuses_growth_whole_batches_and_reads_go_on() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Persistency::new(&root_in(dir.path()))?;
    let options = JobOptions::default().max_db_bytes(256 * 1024);
    let job = db.open_job_with("quota", &options)?;
    job.put("c", b"first", b"kept")?;
    let payload = vec![7u8; 4096];
    let big: Vec<Op> = (0..200u32)
        .map(|i| Op::put("c", i.to_be_bytes().to_vec(), payload.clone()))
        .collect();
    let err = job.write(big).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full, "{err}");
    assert_eq!(
        job.count("c", b"", b"")?,
        1,
        "the over-quota batch changed nothing"
    );
    assert_eq!(job.get("c", b"first")?, Some(b"kept".to_vec()));
    // Writes that fit go on working, in the same group as failing ones.
    let small = vec![Op::put("c", b"small".to_vec(), b"x".to_vec())];
    job.write(small)?;
    job.put("c", b"huge", &vec![1u8; 512 * 1024])?;
    job.flush()?;
    assert!(!job.exists("c", b"huge")?);
    let stats = job.stats()?;
    assert!(stats.ops_failed >= 201, "{stats:?}");
    assert_eq!(job.count("c", b"", b"")?, 2);
    Ok(())
}

#[test]
fn a_failing_batch_rolls_back_alone_in_its_group() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Persistency::new(&root_in(dir.path()))?;
    let options = JobOptions::default().max_db_bytes(192 * 1024);
    let job = db.open_job_with("group", &options)?;
    // Hold the worker so the next requests are committed as one group.
    let release_tx = hold_worker(&job)?;
    let results = Arc::new(Mutex::new(Vec::new()));
    for i in 0..6u32 {
        let results = results.clone();
        let ops = if i == 3 {
            (0..100u32)
                .map(|k| Op::put("c", [9, k as u8].to_vec(), vec![0u8; 8192]))
                .collect()
        } else {
            vec![Op::put("c", vec![i as u8], b"ok".to_vec())]
        };
        job.write_then(ops, move |r| {
            results
                .lock()
                .expect("lock")
                .push((i, r.map_err(|e| e.kind())))
        })?;
    }
    release_tx.send(()).expect("release");
    job.flush()?;
    let results = results.lock().expect("lock").clone();
    let expected: Vec<_> = (0..6u32)
        .map(|i| (i, if i == 3 { Err(ErrorKind::Full) } else { Ok(()) }))
        .collect();
    assert_eq!(results, expected);
    assert_eq!(job.count("c", b"", b"")?, 5);
    Ok(())
}

#[test]
fn stats_follow_the_work() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Persistency::new(&root_in(dir.path()))?;
    let job = db.open_job("stats")?;
    job.write(vec![
        Op::put("c", b"a".to_vec(), b"1".to_vec()),
        Op::put("c", b"b".to_vec(), b"2".to_vec()),
    ])?;
    job.put("c", b"c", b"3")?;
    assert!(job.delete_acked("c", b"a")?);
    job.get("c", b"b")?;
    job.scan("c", b"", b"", ScanOptions::default())?;
    let s = job.stats()?;
    assert_eq!(s.ops_applied, 4);
    assert_eq!(s.ops_failed, 0);
    assert_eq!(s.reads, 2);
    assert!(s.transactions >= 1 && s.transactions <= 4, "{s:?}");
    assert!(s.db_bytes > 0);
    assert_eq!(s.queued, 0);
    Ok(())
}

#[test]
fn logger_reports_failed_fire_and_forget_writes() -> Result<()> {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let sink = messages.clone();
    persistency::set_logger(
        Some(Arc::new(move |level, msg: &str| {
            sink.lock().expect("lock").push((level, msg.to_string()))
        })),
        persistency::Level::Warn,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Persistency::new(&root_in(dir.path()))?;
    let options = JobOptions::default().max_db_bytes(64 * 1024);
    let job = db.open_job_with("logged", &options)?;
    job.put("c", b"huge", &vec![1u8; 256 * 1024])?;
    job.flush()?;
    persistency::set_logger(None, persistency::Level::Error);
    let messages = messages.lock().expect("lock");
    assert!(
        messages.iter().any(|(l, m)| *l == persistency::Level::Error
            && m.contains("logged")
            && m.contains("failed")),
        "{messages:?}"
    );
    assert!(messages.iter().all(|(l, _)| *l <= persistency::Level::Warn));
    assert_eq!(job.stats()?.ops_failed, 1);
    Ok(())
}

#[test]
fn queue_capacity_counts_operations_not_requests() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let options = JobOptions::default()
        .queue_capacity(10)
        .full_policy(FullPolicy::Fail);
    let job = db.open_job_with("weights", &options)?;
    let release_tx = hold_worker(&job)?;
    let batch = |n: u8| {
        (0..n)
            .map(|i| Op::put("c", vec![n, i], b"v".to_vec()))
            .collect::<Vec<_>>()
    };
    job.submit_batch(batch(8))?;
    assert_eq!(job.stats()?.queued, 8, "a batch of 8 weighs 8");
    assert_eq!(
        job.submit_batch(batch(3)).unwrap_err().kind(),
        ErrorKind::Busy
    );
    let (applied_tx, applied_rx) = mpsc::channel();
    job.write_then(batch(2), move |r| applied_tx.send(r).expect("send"))?;
    assert_eq!(
        job.put("c", b"k", b"v").unwrap_err().kind(),
        ErrorKind::Busy
    );
    release_tx.send(()).expect("release");
    applied_rx.recv().expect("applied")?;
    // An empty queue accepts even a batch heavier than the whole capacity.
    job.write(batch(30))?;
    assert_eq!(job.count("c", b"", b"")?, 40);
    Ok(())
}
