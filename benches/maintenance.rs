//! What an online backup and a compaction cost the writers of the same job
//! (issue 14): writer throughput before, during a backup, and during a
//! compaction, with the duration of each.
//!
//! ```text
//! cargo bench --bench maintenance              # 128 MiB job, 5 repetitions
//! cargo bench --bench maintenance -- --quick   # 16 MiB job, 3 repetitions
//! ```
//!
//! Writers are host threads each writing acknowledged batches of 100 rows
//! of 200 bytes (`Job::write`, blocking until the commit) over a bounded
//! key space (replacing rows, so the job keeps its size), through the Rust
//! API (the C ABI adds a copy of each argument, the same in every phase).
//! Each repetition fills a fresh job, measures the writers alone for a
//! fixed window, then while one backup runs, then deletes the older half
//! of the rows with `delete_range` and measures while one compaction runs.
//! The median and range of each figure over the repetitions are printed
//! as a Markdown table. No figure is asserted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use persistency::{Job, Op, Persistency};

const WRITERS: u64 = 2;
const BATCH: u64 = 100;
const ROW: usize = 200;
const FILL_ROW: usize = 500;

struct Figures {
    before: f64,
    during_backup: f64,
    backup_secs: f64,
    during_compact: f64,
    compact_secs: f64,
    file_mib_before: f64,
    file_mib_after: f64,
}

fn key(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

fn file_mib(path: &std::path::Path) -> f64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let bytes: u64 = [path.to_path_buf(), wal.into()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    bytes as f64 / (1024.0 * 1024.0)
}

/// Runs the writers until `stop`; `rows` counts acknowledged rows.
fn writers(
    job: &Job,
    stop: &Arc<AtomicBool>,
    rows: &Arc<AtomicU64>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..WRITERS)
        .map(|t| {
            let (job, stop, rows) = (job.clone(), stop.clone(), rows.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ops = (0..BATCH)
                        .map(|i| {
                            // A bounded key space: the job keeps its size.
                            let k = [key(t), key((n * BATCH + i) % 20_000)].concat();
                            Op::put("writes", k, vec![t as u8; ROW])
                        })
                        .collect();
                    job.write(ops).expect("write");
                    rows.fetch_add(BATCH, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect()
}

/// Writer rows per second while `during` runs (or for `window` when it
/// returns at once), and how long `during` took.
fn measure(job: &Job, window: Option<Duration>, during: impl FnOnce()) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let rows = Arc::new(AtomicU64::new(0));
    let threads = writers(job, &stop, &rows);
    std::thread::sleep(Duration::from_millis(200)); // writers under way
    let start_rows = rows.load(Ordering::Relaxed);
    let start = Instant::now();
    during();
    if let Some(window) = window {
        std::thread::sleep(window);
    }
    let secs = start.elapsed().as_secs_f64();
    let done = rows.load(Ordering::Relaxed) - start_rows;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("writer");
    }
    (done as f64 / secs, secs)
}

fn repetition(dir: &std::path::Path, rep: usize, fill_mib: u64) -> Figures {
    let root = dir.join(format!("rep{rep}"));
    let db = Persistency::new(root.to_str().expect("utf8")).expect("instance");
    let job = db.open_job("bench").expect("job");
    let fill_rows = fill_mib * 1024 * 1024 / FILL_ROW as u64;
    for chunk in (0..fill_rows).step_by(5000) {
        let end = (chunk + 5000).min(fill_rows);
        job.write(
            (chunk..end)
                .map(|i| Op::put("fill", key(i), vec![7; FILL_ROW]))
                .collect(),
        )
        .expect("fill");
    }
    job.compact().expect("checkpoint the fill");
    let (before, _) = measure(&job, Some(Duration::from_secs(2)), || {});
    let dest = dir.join(format!("backup-{rep}.db"));
    let (during_backup, backup_secs) = measure(&job, None, || job.backup(&dest).expect("backup"));
    job.delete_range("fill", b"", &key(fill_rows / 2))
        .expect("delete");
    job.flush().expect("flush");
    let file = root.join("bench.db");
    let file_mib_before = file_mib(&file);
    let (during_compact, compact_secs) = measure(&job, None, || job.compact().expect("compact"));
    let file_mib_after = file_mib(&file);
    db.close().expect("close");
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_file(&dest);
    Figures {
        before,
        during_backup,
        backup_secs,
        during_compact,
        compact_secs,
        file_mib_before,
        file_mib_after,
    }
}

/// Median, min and max.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (fill_mib, reps) = if quick { (16, 3) } else { (128, 5) };
    let dir = tempfile::tempdir().expect("temp dir");
    println!("maintenance cost: {fill_mib} MiB job, {WRITERS} writer threads, {reps} repetitions");
    let figures: Vec<Figures> = (0..reps)
        .map(|r| repetition(dir.path(), r, fill_mib))
        .collect();
    let col = |f: fn(&Figures) -> f64| spread(figures.iter().map(f).collect());
    let ratio = |f: fn(&Figures) -> f64| spread(figures.iter().map(|x| f(x) / x.before).collect());
    println!("| figure | median | min | max |");
    println!("|---|---:|---:|---:|");
    let rows: [(&str, (f64, f64, f64), &str); 9] = [
        ("writer rows/s, alone", col(|f| f.before), ""),
        (
            "writer rows/s during a backup",
            col(|f| f.during_backup),
            "",
        ),
        ("… as a share of alone", ratio(|f| f.during_backup), "×"),
        ("backup duration", col(|f| f.backup_secs), " s"),
        (
            "writer rows/s during a compaction",
            col(|f| f.during_compact),
            "",
        ),
        ("… as a share of alone", ratio(|f| f.during_compact), "×"),
        ("compaction duration", col(|f| f.compact_secs), " s"),
        (
            "file before compaction (MiB)",
            col(|f| f.file_mib_before),
            "",
        ),
        ("file after compaction (MiB)", col(|f| f.file_mib_after), ""),
    ];
    for (name, (median, min, max), unit) in rows {
        println!("| {name} | {median:.2}{unit} | {min:.2} | {max:.2} |");
    }
}
