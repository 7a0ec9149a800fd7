//! Size-capped retention: the oldest rows of the named categories go, the
//! files come back under the cap, the newest rows stay.

use std::path::Path;

use persistency::{ErrorKind, Job, JobOptions, Op, Persistency};

use crate::{key, tmp};

const CAP: u64 = 2 << 20;
const ROW: usize = 400;
const BATCH: u64 = 100; // 100 rows of ~400 bytes: 40 KiB, well under CAP / 2

fn file_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), wal.into()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn keys_of(job: &Job, category: &str) -> Vec<u64> {
    job.scan(category, b"", b"", Default::default())
        .expect("scan")
        .iter()
        .map(|r| u64::from_be_bytes(r.key.try_into().expect("8-byte key")))
        .collect()
}

/// 20 cycles of writing twice the cap: after every commit settles the
/// files are within 15 % of the cap, and the rows kept are exactly the
/// newest ones (a contiguous run ending at the last key written).
#[test]
fn twenty_cycles_of_twice_the_cap() {
    let dir = tmp();
    let db = Persistency::new(&crate::common::root_in(dir.path())).expect("instance");
    let job = db
        .open_job_with("capped", &JobOptions::default().retention(CAP, ["msgs"]))
        .expect("job");
    job.put("other", b"config", b"kept").expect("put");
    let file = dir.path().join("root/capped.db");
    let per_cycle = 2 * CAP / (BATCH * ROW as u64);
    let mut next = 0u64;
    let mut largest = 0u64;
    for _cycle in 0..20 {
        for _ in 0..per_cycle {
            let ops = (next..next + BATCH)
                .map(|k| Op::put("msgs", key(k), vec![k as u8; ROW]))
                .collect();
            job.write(ops).expect("write");
            next += BATCH;
            // Retention runs after the commit's callbacks: a flush queued
            // now completes once it is done.
            job.flush().expect("flush");
            let size = file_bytes(&file);
            largest = largest.max(size);
            assert!(
                size as f64 <= CAP as f64 * 1.15,
                "{size} bytes on disk after key {next}, cap {CAP}"
            );
        }
        let kept = keys_of(&job, "msgs");
        let first = *kept.first().expect("rows kept");
        assert_eq!(
            kept,
            (first..next).collect::<Vec<_>>(),
            "the newest rows, contiguous"
        );
        assert!(first > 0, "retention removed the oldest rows");
    }
    assert_eq!(
        job.get("other", b"config").expect("get").as_deref(),
        Some(&b"kept"[..])
    );
    let stats = job.stats().expect("stats");
    assert!(stats.live_bytes <= CAP, "live {} > cap", stats.live_bytes);
    assert!(
        largest > CAP / 2,
        "the job did fill up to the cap ({largest})"
    );
    job.check().expect("sound");
}

#[test]
fn a_write_over_half_the_cap_is_refused_whole() {
    let db = Persistency::new(":memory:").expect("instance");
    let job = db
        .open_job_with("c", &JobOptions::default().retention(1 << 20, ["m"]))
        .expect("job");
    let err = job
        .write(vec![
            Op::put("m", key(1), vec![0; 1000]),
            Op::put("m", key(2), vec![0; 600 << 10]),
        ])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Full, "{err}");
    assert!(err.message().contains("retention cap"), "{err}");
    assert_eq!(job.count("m", b"", b"").expect("count"), 0);
    job.write(vec![Op::put("m", key(3), vec![0; 400 << 10])])
        .expect("under half the cap");
    assert_eq!(job.stats().expect("stats").errors(ErrorKind::Full), 1);
}

/// Retention cannot name a category the library reserves: deleting sync
/// set elements one by one would leave their aggregates wrong.
#[test]
fn reserved_categories_cannot_be_retained() {
    let db = Persistency::new(":memory:").expect("instance");
    let options = JobOptions::default().retention(1 << 20, ["m", "\0sync:e:topic"]);
    let err = db.open_job_with("r", &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("reserves"), "{err}");
    assert!(!db.has_job("r"));
    db.open_job_with("r", &JobOptions::default().retention(1 << 20, ["m"]))
        .expect("ordinary categories");
}

/// Categories are trimmed in the order named; others are never touched,
/// and in memory the same holds.
#[test]
fn categories_in_order_and_in_memory() {
    let db = Persistency::new(":memory:").expect("instance");
    let job = db
        .open_job_with(
            "m",
            &JobOptions::default().retention(1 << 20, ["first", "second"]),
        )
        .expect("job");
    job.write(
        (0..200)
            .map(|k| Op::put("second", key(k), vec![2; 1000]))
            .collect(),
    )
    .expect("second");
    job.write(
        (0..200)
            .map(|k| Op::put("keep", key(k), vec![3; 1000]))
            .collect(),
    )
    .expect("keep");
    job.write(
        (0..300)
            .map(|k| Op::put("first", key(k), vec![1; 1000]))
            .collect(),
    )
    .expect("first");
    job.flush().expect("flush");
    assert!(job.stats().expect("stats").live_bytes <= 1 << 20);
    assert_eq!(job.count("keep", b"", b"").expect("count"), 200);
    // "first" is emptied before "second" loses anything.
    let first = job.count("first", b"", b"").expect("count");
    let second = job.count("second", b"", b"").expect("count");
    assert!(
        first == 0 || second == 200,
        "first {first}, second {second}"
    );
    assert!(first + second < 500, "something was removed");
}
