//! Memory bounded in bytes (issue 17, class 5): `max_queue_bytes` bounds
//! what waiting requests hold, whatever their count, with `Busy` (policy
//! `Fail`) or a wait (policy `Block`) when there is no room.
//!
//! The measurement runs in a child process (this binary re-executed on the
//! ignored test `memory_child`), so no other test's allocations count. The
//! child fires 256 puts of 4 MiB at a job whose worker is held inside a
//! callback, then again with the blocking policy, and reports its resident
//! set; the parent asserts the peak growth stays under a bound derived from
//! the option. No timing is asserted.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use persistency::{ErrorKind, FullPolicy, Job, JobOptions, Persistency, Synchronous};

use crate::common::hold_worker;

/// The `max_queue_bytes` of the child's jobs.
const LIMIT: u64 = 16 << 20;
/// The payload of each put.
const PAYLOAD: usize = 4 << 20;
/// Puts per phase.
const PUTS: usize = 256;

/// The peak resident set may grow by at most this much over the baseline:
/// the bytes bound covers the queue and the round being applied; on top
/// come SQLite's copies of the request being written and its page cache,
/// and the allocator's slack.
const fn rss_bound() -> u64 {
    4 * LIMIT + (48 << 20)
}

/// A field of `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

fn key(i: usize) -> Vec<u8> {
    format!("k{}", i % 4).into_bytes()
}

/// Flushes a fail-fast job, retrying while its queue is still full.
fn flush(job: &Job) {
    loop {
        match job.flush() {
            Err(e) if e.kind() == ErrorKind::Busy => std::thread::yield_now(),
            r => return r.expect("flush"),
        }
    }
}

#[test]
#[ignore = "run by queued_bytes_stay_bounded in a child process"]
fn memory_child() {
    let Ok(root) = std::env::var("MEMORY_CHILD_DIR") else {
        return;
    };
    let db = Persistency::new(&root).expect("instance");
    let options = JobOptions::default()
        .synchronous(Synchronous::Off)
        .max_queue_bytes(LIMIT);
    let fail = db
        .open_job_with("fail", &options.clone().full_policy(FullPolicy::Fail))
        .expect("open");
    let block = db
        .open_job_with("block", &options.full_policy(FullPolicy::Block))
        .expect("open");
    let payload = Arc::new(vec![7u8; PAYLOAD]);
    // Warm-up: SQLite's caches and the allocator's arenas as in use.
    for job in [&fail, &block] {
        for i in 0..8 {
            while let Err(e) = job.put("c", &key(i), &payload) {
                assert_eq!(e.kind(), ErrorKind::Busy, "warm-up put: {e}");
                std::thread::yield_now();
            }
        }
        flush(job);
    }
    let base = status_kib("VmRSS");

    // Fail fast: the worker is held; puts are accepted until the bound.
    let go = hold_worker(&fail);
    let (mut accepted, mut busy) = (0, 0);
    for i in 0..PUTS {
        match fail.put("c", &key(i), &payload) {
            Ok(()) => accepted += 1,
            Err(e) if e.kind() == ErrorKind::Busy => busy += 1,
            Err(e) => panic!("put: {e}"),
        }
    }
    let held = status_kib("VmRSS");
    drop(go);
    flush(&fail);
    let failed = fail.stats().expect("stats").ops_failed;

    // Block: a thread puts 256 times; the worker is released once the
    // thread has had as many accepted as fit, then works the rest off.
    let go = hold_worker(&block);
    let done = Arc::new(AtomicUsize::new(0));
    let pusher = {
        let (block, payload, done) = (block.clone(), payload.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..PUTS {
                block.put("c", &key(i), &payload).expect("blocking put");
                done.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while done.load(Ordering::SeqCst) < accepted.max(1) {
        std::thread::yield_now();
    }
    drop(go);
    pusher.join().expect("pusher");
    block.flush().expect("flush");
    let block_failed = block.stats().expect("stats").ops_failed;
    let peak = status_kib("VmHWM");
    println!(
        "MEMORY accepted={accepted} busy={busy} failed={failed} block_failed={block_failed} \
         base={base} held={held} peak={peak}"
    );
    db.close().expect("close");
}

#[test]
fn queued_bytes_stay_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "--exact",
            "memory_bound::memory_child",
            "--ignored",
            "--nocapture",
        ])
        .env("MEMORY_CHILD_DIR", dir.path().join("root"))
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("MEMORY "))
        .unwrap_or_else(|| panic!("no MEMORY line in {stdout}"));
    println!("{line}");
    let figure = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    let fit = LIMIT / PAYLOAD as u64;
    let accepted = figure("accepted");
    assert!(
        (1..=fit).contains(&accepted),
        "{accepted} puts of 4 MiB accepted under max_queue_bytes {LIMIT} (at most {fit} fit)"
    );
    assert_eq!(accepted + figure("busy"), PUTS as u64);
    assert_eq!(figure("failed"), 0, "accepted puts failed");
    assert_eq!(figure("block_failed"), 0, "blocking puts failed");
    let (base, held, peak) = (figure("base"), figure("held"), figure("peak"));
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    println!(
        "RSS base {:.0} MiB, held {:.0} MiB, peak {:.0} MiB, bound +{:.0} MiB",
        mib(base),
        mib(held),
        mib(peak),
        mib(rss_bound())
    );
    assert!(
        held.saturating_sub(base) < rss_bound(),
        "RSS grew by {:.0} MiB with the worker held (bound {:.0} MiB)",
        mib(held - base),
        mib(rss_bound())
    );
    assert!(
        peak.saturating_sub(base) < rss_bound(),
        "peak RSS grew by {:.0} MiB (bound {:.0} MiB)",
        mib(peak - base),
        mib(rss_bound())
    );
}
