//! Sync sets against the node's design (issue 18), in one run on one
//! machine: the Waku node keeps its sync set in memory as a sorted array
//! (binary-search insert, which shifts the tail; a fingerprint walks the
//! range XORing hashes) and reloads it at every start. Written here in
//! Rust as `NodeSet`.
//!
//! ```text
//! cargo bench --bench sync              # 10^6 elements
//! cargo bench --bench sync -- --quick   # 10^5 elements (CI)
//! ```
//!
//! Figures (median and min–max over the samples; all through the Rust API
//! except where marked C ABI):
//!
//! - random-order inserts per second (batches of 1 000 `sync_add`, then a
//!   flush; one sample per tenth of the set) and the node's binary-search
//!   inserts into its full array;
//! - the fingerprint of a random range of 10^5 to 2·10^5 elements (a tenth
//!   of that in quick mode) through `persistency_sync_summary_sync`: µs per
//!   query, median and p99 of 1 000 queries per sample; the node's walk
//!   over the same ranges;
//! - the same fingerprints again (warm: the buckets they touch are in
//!   memory), median;
//! - an 8-way split of such a range through `persistency_sync_split_sync`
//!   (µs, median of 200 per sample);
//! - opening the existing set (instance, job and first query) in ms, and
//!   the RSS it adds, measured in a child process (this executable re-run
//!   with `--child-open ROOT`, which opens the set, queries it once and
//!   reports its `VmRSS` and `VmHWM` growth from /proc); the node's reload
//!   (every element read and sorted).
//!
//! Goals (BENCHMARKS.md): fingerprint ≥ 100× the walk, p99 ≤ 100 µs; split
//! ≤ 1 ms; inserts ≥ 100 000/s; open ≤ 50 ms and ≤ 64 MiB. Results are
//! printed as a table and written to `target/bench/sync.json` (and under
//! `"sync"` in `target/bench/results.json` when that file exists). No
//! figure is asserted.

use std::time::Instant;

use persistency::ffi::{
    persistency_new, persistency_open_job, persistency_sync_split_sync,
    persistency_sync_summary_sync,
};
use persistency::{Persistency, SyncId, SyncRange};
use serde_json::{json, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn id(&mut self) -> SyncId {
        let mut hash = [0u8; 32];
        for chunk in hash.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        // One hour of nanoseconds.
        SyncId::new(
            1_700_000_000_000_000_000 + self.below(3_600_000_000_000) as i64,
            hash,
        )
    }
}

/// The node's design: a sorted array.
struct NodeSet(Vec<SyncId>);

impl NodeSet {
    fn insert(&mut self, id: SyncId) {
        if let Err(at) = self.0.binary_search(&id) {
            self.0.insert(at, id);
        }
    }

    fn fingerprint(&self, range: &SyncRange) -> (u64, [u8; 32]) {
        let lo = self.0.partition_point(|x| *x < range.start);
        let hi = self.0.partition_point(|x| *x < range.stop);
        let mut fp = [0u8; 32];
        for id in &self.0[lo..hi] {
            fp.iter_mut().zip(&id.hash).for_each(|(a, b)| *a ^= b);
        }
        ((hi - lo) as u64, fp)
    }
}

fn stats(samples: &[f64]) -> (f64, f64, f64) {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    (s[s.len() / 2], s[0], s[s.len() - 1])
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A `/proc/self/status` figure, in KiB (0 where there is none).
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `--child-open ROOT`: opens the existing set through the C ABI, takes one
/// fingerprint of every element, and prints the growth of `VmRSS` and
/// `VmHWM` in KiB over the process's resident size before the open.
/// An id as the C ABI takes it.
fn c_id(id: SyncId) -> persistency::ffi::CSyncId {
    persistency::ffi::CSyncId {
        time: id.time,
        hash: id.hash,
    }
}

fn child_open(root: &str) {
    let before = proc_status("VmRSS");
    let root_c = std::ffi::CString::new(root).unwrap();
    let (mut instance, mut job) = (std::ptr::null_mut(), std::ptr::null_mut());
    let all = SyncRange::all();
    let mut out = persistency::ffi::CSyncSummary {
        count: 0,
        fingerprint: [0; 32],
    };
    let sets = [c"topic".as_ptr()];
    // SAFETY: valid C strings and out-pointers; the handles are released
    // once, after their last use.
    unsafe {
        assert_eq!(persistency_new(root_c.as_ptr(), &mut instance), 0);
        assert_eq!(
            persistency_open_job(instance, c"sync".as_ptr(), &mut job),
            0
        );
        let rc = persistency_sync_summary_sync(
            job,
            sets.as_ptr(),
            1,
            &c_id(all.start),
            &c_id(all.stop),
            &mut out,
        );
        assert_eq!(rc, 0);
    }
    assert!(out.count > 0);
    let (rss, hwm) = (proc_status("VmRSS"), proc_status("VmHWM"));
    println!(
        "RESULT rss_kib={} hwm_kib={}",
        rss.saturating_sub(before),
        hwm.saturating_sub(before)
    );
    // SAFETY: the handles from above, released once.
    unsafe {
        persistency::ffi::persistency_job_release(job);
        persistency::ffi::persistency_close(instance);
        persistency::ffi::persistency_release(instance);
    }
}

/// Runs `child_open` in a child process: (RSS, peak RSS) growth in MiB.
fn open_rss_in_child(root: &str) -> (f64, f64) {
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args(["--child-open", root])
        .output()
        .expect("run the child");
    assert!(out.status.success(), "child failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .expect("a RESULT line");
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .expect("a figure")
    };
    (field("rss_kib") / 1024.0, field("hwm_kib") / 1024.0)
}

struct Figures(Vec<(String, String, Vec<f64>)>);

impl Figures {
    fn add(&mut self, name: &str, unit: &str, samples: Vec<f64>) {
        self.0.push((name.into(), unit.into(), samples));
    }

    fn get(&self, name: &str) -> (f64, f64, f64) {
        let (_, _, s) = self.0.iter().find(|f| f.0 == name).expect("figure");
        stats(s)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child-open") {
        return child_open(&args[at + 1]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let n: usize = if quick { 100_000 } else { 1_000_000 };
    let span = n / 10;
    let reps = 5;
    let started = Instant::now();
    let mut rng = Rng(18);
    let ids: Vec<SyncId> = (0..n).map(|_| rng.id()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let root = dir.path().to_str().unwrap().to_string();
    let mut f = Figures(Vec::new());

    // Inserts, random order, batches of 1 000: one sample per tenth.
    {
        let db = Persistency::new(&root).unwrap();
        let job = db.open_job("sync").unwrap();
        let mut rates = Vec::new();
        for tenth in ids.chunks(n / 10) {
            let t = Instant::now();
            for batch in tenth.chunks(1000) {
                job.sync_add("topic", batch).unwrap();
            }
            job.flush().unwrap();
            rates.push(tenth.len() as f64 / t.elapsed().as_secs_f64());
        }
        assert_eq!(job.sync_len("topic").unwrap(), n as u64);
        f.add(
            "inserts per second (random order, batches of 1000)",
            "ops/s",
            rates,
        );
    }
    // The node's inserts into its full array.
    let mut node = NodeSet(sorted.clone());
    let mut node_rates = Vec::new();
    for _ in 0..reps {
        let extra: Vec<SyncId> = (0..2000).map(|_| rng.id()).collect();
        let t = Instant::now();
        for id in &extra {
            node.insert(*id);
        }
        node_rates.push(extra.len() as f64 / t.elapsed().as_secs_f64());
        node.0.retain(|x| !extra.contains(x));
    }
    f.add(
        "node: inserts per second into the full array",
        "ops/s",
        node_rates,
    );

    // Random ranges of span..2·span elements, bounded by elements.
    let ranges: Vec<SyncRange> = (0..1000)
        .map(|_| {
            let lo = rng.below((n - 2 * span) as u64) as usize;
            let hi = lo + span + rng.below(span as u64) as usize;
            SyncRange::new(sorted[lo], sorted[hi])
        })
        .collect();

    // Opening the existing set, and the fingerprints through the C ABI.
    let mut open_ms = Vec::new();
    let (mut open_rss, mut open_hwm) = (Vec::new(), Vec::new());
    let (mut fp_median, mut fp_p99, mut split_us, mut walk_us) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut fp_warm = Vec::new();
    for _ in 0..reps {
        let (rss, hwm) = open_rss_in_child(&root);
        open_rss.push(rss);
        open_hwm.push(hwm);
        let t = Instant::now();
        let root_c = std::ffi::CString::new(root.clone()).unwrap();
        let mut instance = std::ptr::null_mut();
        let mut job = std::ptr::null_mut();
        // SAFETY: valid C strings and out-pointers.
        unsafe {
            assert_eq!(persistency_new(root_c.as_ptr(), &mut instance), 0);
            assert_eq!(
                persistency_open_job(instance, c"sync".as_ptr(), &mut job),
                0
            );
        }
        let sets = [c"topic".as_ptr()];
        let summary = |range: &SyncRange| {
            let (start, stop) = (range.start, range.stop);
            let mut out = persistency::ffi::CSyncSummary {
                count: 0,
                fingerprint: [0; 32],
            };
            // SAFETY: live job handle, one set name, ids and out on the stack.
            let rc = unsafe {
                persistency_sync_summary_sync(
                    job,
                    sets.as_ptr(),
                    1,
                    &c_id(start),
                    &c_id(stop),
                    &mut out,
                )
            };
            assert_eq!(rc, 0);
            (out.count, out.fingerprint)
        };
        summary(&ranges[0]);
        open_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let mut times = Vec::with_capacity(ranges.len());
        for range in &ranges {
            let t = Instant::now();
            let got = summary(range);
            times.push(t.elapsed().as_secs_f64() * 1e6);
            debug_assert_eq!(got, node.fingerprint(range));
        }
        fp_median.push(percentile(times.clone(), 0.5));
        fp_p99.push(percentile(times, 0.99));
        // The same ranges again: their buckets are in memory now.
        let mut times = Vec::with_capacity(ranges.len());
        for range in &ranges {
            let t = Instant::now();
            std::hint::black_box(summary(range));
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        fp_warm.push(percentile(times, 0.5));
        // The same ranges walked.
        let t = Instant::now();
        let mut check = 0u64;
        for range in &ranges {
            let (count, fp) = std::hint::black_box(node.fingerprint(range));
            check = check.wrapping_add(count + u64::from(fp[0]));
        }
        walk_us.push(t.elapsed().as_secs_f64() * 1e6 / ranges.len() as f64);
        assert!(check > 0);
        // Splits through the C ABI.
        let mut times = Vec::new();
        for range in ranges.iter().take(200) {
            let mut parts = [persistency::ffi::CSyncPart {
                start: c_id(SyncId::MIN),
                stop: c_id(SyncId::MIN),
                count: 0,
                fingerprint: [0; 32],
            }; 8];
            let t = Instant::now();
            // SAFETY: live job handle, one set name, 8 writable parts.
            let rc = unsafe {
                persistency_sync_split_sync(
                    job,
                    sets.as_ptr(),
                    1,
                    &c_id(range.start),
                    &c_id(range.stop),
                    8,
                    parts.as_mut_ptr(),
                    8,
                )
            };
            times.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(rc, 0);
        }
        split_us.push(percentile(times, 0.5));
        // SAFETY: handles from the calls above, released once.
        unsafe {
            persistency::ffi::persistency_job_release(job);
            persistency::ffi::persistency_close(instance);
            persistency::ffi::persistency_release(instance);
        }
    }
    f.add(
        "open existing set + first fingerprint (C ABI)",
        "ms",
        open_ms,
    );
    f.add("RSS added by the open (child process)", "MiB", open_rss);
    f.add(
        "peak RSS added by the open (child process)",
        "MiB",
        open_hwm,
    );
    f.add(
        "fingerprint of a random range, median (C ABI)",
        "µs",
        fp_median,
    );
    f.add("fingerprint of a random range, p99 (C ABI)", "µs", fp_p99);
    f.add(
        "fingerprint of a random range, warm, median (C ABI)",
        "µs",
        fp_warm,
    );
    f.add("node: fingerprint walk of the same ranges", "µs", walk_us);
    f.add(
        "8-way split of a random range, median (C ABI)",
        "µs",
        split_us,
    );

    // The node's reload: every element read back and sorted.
    let mut reload = Vec::new();
    for _ in 0..reps.min(3) {
        let t = Instant::now();
        let db = Persistency::new(&root).unwrap();
        let job = db.open_job("sync").unwrap();
        let mut all = job.sync_items(&["topic"], SyncRange::all(), 0).unwrap();
        all.sort();
        reload.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(all.len(), n);
    }
    f.add("node: reload of every element at start", "ms", reload);

    let speed_up = |name: &str| -> Vec<f64> {
        let (_, _, w) =
            f.0.iter()
                .find(|x| x.0.starts_with("node: fingerprint"))
                .unwrap();
        let (_, _, o) = f.0.iter().find(|x| x.0 == name).unwrap();
        w.iter().zip(o).map(|(w, o)| w / o).collect()
    };
    let cold = speed_up("fingerprint of a random range, median (C ABI)");
    let warm = speed_up("fingerprint of a random range, warm, median (C ABI)");
    f.add("fingerprint speed-up over the walk", "×", cold);
    f.add("fingerprint speed-up over the walk, warm", "×", warm);

    let goals: [(&str, &str, f64, bool); 6] = [
        ("fingerprint speed-up over the walk", "≥", 100.0, true),
        (
            "fingerprint of a random range, p99 (C ABI)",
            "≤",
            100.0,
            false,
        ),
        (
            "8-way split of a random range, median (C ABI)",
            "≤",
            1000.0,
            false,
        ),
        (
            "inserts per second (random order, batches of 1000)",
            "≥",
            100_000.0,
            true,
        ),
        (
            "open existing set + first fingerprint (C ABI)",
            "≤",
            50.0,
            false,
        ),
        (
            "peak RSS added by the open (child process)",
            "≤",
            64.0,
            false,
        ),
    ];
    println!(
        "\nsync sets: {n} elements, ranges of {span}..{} elements, {reps} samples\n",
        2 * span
    );
    println!("| figure | unit | median | min | max |");
    println!("|---|---|---:|---:|---:|");
    for (name, unit, s) in &f.0 {
        let (m, lo, hi) = stats(s);
        println!("| {name} | {unit} | {m:.1} | {lo:.1} | {hi:.1} |");
    }
    println!("\n| goal | median | goal | met |");
    println!("|---|---:|---:|---|");
    let mut ratios = Vec::new();
    for (name, op, goal, at_least) in goals {
        let (m, lo, hi) = f.get(name);
        let met = if at_least { m >= goal } else { m <= goal };
        println!(
            "| {name} | {m:.1} | {op} {goal} | {} |",
            if met { "met" } else { "NOT met" }
        );
        ratios.push(json!({
            "workload": "sync", "name": name,
            "kind": if at_least { "at_least" } else { "at_most" },
            "median": m, "min": lo, "max": hi, "goal": goal, "met": met,
        }));
    }
    let figures: Vec<Value> =
        f.0.iter()
            .map(|(name, unit, s)| {
                let (m, lo, hi) = stats(s);
                json!({"workload": "sync", "figure": name, "unit": unit,
                   "median": m, "min": lo, "max": hi, "samples": s})
            })
            .collect();
    let out = json!({
        "mode": if quick { "quick" } else { "full" },
        "elements": n,
        "repetitions": reps,
        "elapsed_seconds": started.elapsed().as_secs_f64(),
        "figures": figures,
        "ratios": ratios,
    });
    let bench_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&bench_dir).expect("target/bench");
    std::fs::write(
        bench_dir.join("sync.json"),
        serde_json::to_string_pretty(&out).unwrap(),
    )
    .expect("write sync.json");
    let results = bench_dir.join("results.json");
    if let Some(mut all) = std::fs::read_to_string(&results)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        all["sync"] = out;
        std::fs::write(&results, serde_json::to_string_pretty(&all).unwrap())
            .expect("write results.json");
    }
    println!(
        "\nwrote target/bench/sync.json ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
}
