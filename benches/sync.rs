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
//! - opening the existing set (instance, job and first query) in ms, and
//!   the RSS it adds, measured in a child process (this executable re-run
//!   with `--child-open ROOT`, which opens the set, queries it once and
//!   reports its `VmRSS` and `VmHWM` growth from /proc, then again once the
//!   worker has filled the set's memory); the node's reload (every element
//!   read and sorted);
//! - the first fingerprints after the open: 1 000 random ranges of 10^5 to
//!   2·10^5 elements (a tenth of that in quick mode) through
//!   `persistency_sync_summary_sync`, µs per query, median and p99, while
//!   the worker fills the memory; the node's walk over the same ranges;
//! - how long after the open the memory holds the whole set (the
//!   `persistency_sync_memory_elements` gauge, polled);
//! - the steady state: 1 000 fresh random ranges once the memory is
//!   filled, median and p99, against the node's walk over them;
//! - an 8-way split of such a range through `persistency_sync_split_sync`
//!   (µs, median of 200 per sample).
//!
//! Goals (BENCHMARKS.md): fingerprint ≥ 100× the walk and p99 ≤ 100 µs,
//! with the memory filled; split ≤ 1 ms; inserts ≥ 100 000/s; open ≤ 50 ms
//! and ≤ 64 MiB, also once the memory is filled. Results are printed as a
//! table and written to `target/bench/sync.json` (and under `"sync"` in
//! `target/bench/results.json` when that file exists). No figure is
//! asserted.

use std::time::Instant;

use persistency::ffi::{
    persistency_new, persistency_open_job, persistency_sync_split_sync,
    persistency_sync_summary_sync,
};
use persistency::{Persistency, SyncId, SyncRange};
use serde_json::{json, Value};

#[path = "sync/support.rs"]
mod support;
use support::{
    c_id, child_open, open_rss_in_child, percentile, random_id, stats, wait_filled, Figures,
    NodeSet, Rng,
};

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
    let ids: Vec<SyncId> = (0..n).map(|_| random_id(&mut rng)).collect();
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
        let extra: Vec<SyncId> = (0..2000).map(|_| random_id(&mut rng)).collect();
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
    let random_ranges = |rng: &mut Rng| -> Vec<SyncRange> {
        (0..1000)
            .map(|_| {
                let lo = rng.below((n - 2 * span) as u64) as usize;
                let hi = lo + span + rng.below(span as u64) as usize;
                SyncRange::new(sorted[lo], sorted[hi])
            })
            .collect()
    };
    let ranges = random_ranges(&mut rng);

    // Opening the existing set, and the fingerprints through the C ABI.
    let mut open_ms = Vec::new();
    let (mut open_rss, mut open_hwm, mut filled_rss, mut filled_hwm) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut fp_median, mut fp_p99, mut split_us, mut walk_us) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut fill_ms, mut filled_median, mut filled_p99, mut filled_walk_us) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let rss = open_rss_in_child(&root);
        open_rss.push(rss.rss);
        open_hwm.push(rss.hwm);
        filled_rss.push(rss.filled);
        filled_hwm.push(rss.filled_hwm);
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
        let timed = |ranges: &[SyncRange]| -> Vec<f64> {
            ranges
                .iter()
                .map(|range| {
                    let t = Instant::now();
                    let got = summary(range);
                    let us = t.elapsed().as_secs_f64() * 1e6;
                    debug_assert_eq!(got, node.fingerprint(range));
                    std::hint::black_box(got);
                    us
                })
                .collect()
        };
        let walk = |ranges: &[SyncRange]| -> f64 {
            let t = Instant::now();
            let mut check = 0u64;
            for range in ranges {
                let (count, fp) = std::hint::black_box(node.fingerprint(range));
                check = check.wrapping_add(count + u64::from(fp[0]));
            }
            assert!(check > 0);
            t.elapsed().as_secs_f64() * 1e6 / ranges.len() as f64
        };
        summary(&ranges[0]);
        open_ms.push(t.elapsed().as_secs_f64() * 1e3);
        // The first queries after the open: memory holds the upper levels,
        // and each query reads the buckets its two ends fall in. The
        // worker fills the memory meanwhile.
        let times = timed(&ranges);
        fp_median.push(percentile(times.clone(), 0.5));
        fp_p99.push(percentile(times, 0.99));
        walk_us.push(walk(&ranges));
        // The steady state: once the memory holds the whole set, fresh
        // random ranges (none of them queried before).
        wait_filled(instance, n as u64);
        fill_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let fresh = random_ranges(&mut rng);
        let times = timed(&fresh);
        filled_median.push(percentile(times.clone(), 0.5));
        filled_p99.push(percentile(times, 0.99));
        filled_walk_us.push(walk(&fresh));
        // Splits through the C ABI.
        let mut times = Vec::new();
        for range in fresh.iter().take(200) {
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
        "RSS once the memory is filled (child process)",
        "MiB",
        filled_rss,
    );
    f.add(
        "peak RSS once the memory is filled (child process)",
        "MiB",
        filled_hwm,
    );
    f.add(
        "memory filled, from the open (background, while queried)",
        "ms",
        fill_ms,
    );
    f.add(
        "fingerprint, first queries after the open, median (C ABI)",
        "µs",
        fp_median,
    );
    f.add(
        "fingerprint, first queries after the open, p99 (C ABI)",
        "µs",
        fp_p99,
    );
    f.add("node: fingerprint walk of the same ranges", "µs", walk_us);
    f.add(
        "fingerprint of a random range, memory filled, median (C ABI)",
        "µs",
        filled_median,
    );
    f.add(
        "fingerprint of a random range, memory filled, p99 (C ABI)",
        "µs",
        filled_p99,
    );
    f.add(
        "node: fingerprint walk of the fresh ranges",
        "µs",
        filled_walk_us,
    );
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

    let speed_up = |walk: &str, ours: &str| -> Vec<f64> {
        let (_, _, w) = f.0.iter().find(|x| x.0 == walk).unwrap();
        let (_, _, o) = f.0.iter().find(|x| x.0 == ours).unwrap();
        w.iter().zip(o).map(|(w, o)| w / o).collect()
    };
    let filled = speed_up(
        "node: fingerprint walk of the fresh ranges",
        "fingerprint of a random range, memory filled, median (C ABI)",
    );
    let first = speed_up(
        "node: fingerprint walk of the same ranges",
        "fingerprint, first queries after the open, median (C ABI)",
    );
    f.add("fingerprint speed-up over the walk", "×", filled);
    f.add(
        "fingerprint speed-up over the walk, first queries after the open",
        "×",
        first,
    );

    let goals: [(&str, &str, f64, bool); 7] = [
        ("fingerprint speed-up over the walk", "≥", 100.0, true),
        (
            "fingerprint of a random range, memory filled, p99 (C ABI)",
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
        (
            "peak RSS once the memory is filled (child process)",
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
