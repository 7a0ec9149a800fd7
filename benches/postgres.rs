//! The library on PostgreSQL next to raw PostgreSQL in the same run:
//! puts, durable batches, sequential and pipelined gets and scans through
//! the library (its Rust API, a job on a `postgresql://` root), and the
//! same work through the same `postgres` crate directly — prepared
//! statements, 1,000 rows per transaction — and as the upstream
//! per-operation design does it (one autocommit transaction per put).
//!
//! Each repetition runs every variant of a workload once, one after the
//! other, the starting one rotating; ratios are taken per repetition and
//! their median reported, with min–max. No timing is asserted: the goals
//! are printed as met or not, and `target/bench/postgres.json` keeps every
//! figure.
//!
//! Needs `PERSISTENCY_BENCH_POSTGRES=<root URI>`; `scripts/bench-postgres.sh`
//! starts a throw-away cluster (fsync on) and runs it:
//!
//! ```text
//! scripts/bench-postgres.sh            # full run
//! scripts/bench-postgres.sh --quick    # small sizes, 3 repetitions
//! ```

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Instant;

use persistency::{Job, JobOptions, Op, Persistency, ScanOptions, Synchronous};
use postgres::{Client, NoTls, Statement};

/// One variant of the puts workload: runs with the raw connection and the
/// first key.
type Variant<'a> = Box<dyn FnMut(&mut Raw, u64) + 'a>;

/// Sizes of one run.
struct Sizes {
    reps: usize,
    puts: u64,
    single_puts: u64,
    batches: u64,
    gets: u64,
    scans: u64,
}

/// Rows per transaction of the raw baseline.
const RAW_TXN_ROWS: u64 = 1_000;
/// Operations per durable batch.
const BATCH_OPS: u64 = 10;
/// Rows per scan.
const SCAN_ROWS: u32 = 1_000;
const PAYLOAD: usize = 100;

fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

fn payload(i: u64) -> Vec<u8> {
    (0..PAYLOAD).map(|k| (i as usize + k) as u8).collect()
}

/// Figures of one workload: per variant, the rates of each repetition.
#[derive(Default)]
struct Figures(BTreeMap<&'static str, Vec<f64>>);

impl Figures {
    fn add(&mut self, variant: &'static str, ops: u64, started: Instant) {
        let rate = ops as f64 / started.elapsed().as_secs_f64();
        self.0.entry(variant).or_default().push(rate);
    }

    /// Per-repetition ratios `a / b`.
    fn ratios(&self, a: &str, b: &str) -> Vec<f64> {
        match (self.0.get(a), self.0.get(b)) {
            (Some(a), Some(b)) => a.iter().zip(b).map(|(x, y)| x / y).collect(),
            _ => Vec::new(),
        }
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn summary(values: &[f64]) -> (f64, f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    (median(values), min, max)
}

/// The raw baseline's connection and statements, on its own table.
struct Raw {
    client: Client,
    put: Statement,
    get: Statement,
    scan: Statement,
}

impl Raw {
    fn new(uri: &str, table: &str) -> Raw {
        let mut client = Client::connect(uri, NoTls).expect("raw: connect");
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (category bytea NOT NULL, \
                 key bytea NOT NULL, payload bytea NOT NULL, PRIMARY KEY (category, key))"
            ))
            .expect("raw: table");
        let put = client
            .prepare(&format!(
                "INSERT INTO {table} (category, key, payload) VALUES ($1, $2, $3) \
                 ON CONFLICT (category, key) DO UPDATE SET payload = EXCLUDED.payload"
            ))
            .expect("raw: prepare");
        let get = client
            .prepare(&format!(
                "SELECT payload FROM {table} WHERE category = $1 AND key = $2"
            ))
            .expect("raw: prepare");
        let scan = client
            .prepare(&format!(
                "SELECT key, payload FROM {table} WHERE category = $1 AND key >= $2 \
                 ORDER BY key LIMIT $3"
            ))
            .expect("raw: prepare");
        Raw {
            client,
            put,
            get,
            scan,
        }
    }

    fn set_sync(&mut self, value: &str) {
        self.client
            .batch_execute(&format!("SET synchronous_commit = {value}"))
            .expect("raw: set");
    }

    /// `n` puts, `per_txn` rows per transaction (1: autocommit).
    fn puts(&mut self, base: u64, n: u64, per_txn: u64) {
        let mut i = 0;
        while i < n {
            let end = (i + per_txn).min(n);
            if per_txn > 1 {
                self.client.batch_execute("BEGIN").expect("raw: begin");
            }
            for j in i..end {
                let (k, p) = (key(base + j), payload(j));
                self.client
                    .execute(&self.put, &[&b"c".as_slice(), &k.as_slice(), &p])
                    .expect("raw: put");
            }
            if per_txn > 1 {
                self.client.batch_execute("COMMIT").expect("raw: commit");
            }
            i = end;
        }
    }

    fn gets(&mut self, n: u64, rows: u64) {
        for i in 0..n {
            let k = key(i % rows);
            let row = self
                .client
                .query_opt(&self.get, &[&b"c".as_slice(), &k.as_slice()])
                .expect("raw: get");
            assert!(row.is_some());
        }
    }

    fn scans(&mut self, n: u64, rows: u64) {
        for i in 0..n {
            let k = key((i * 997) % (rows - u64::from(SCAN_ROWS)));
            let found = self
                .client
                .query(
                    &self.scan,
                    &[&b"c".as_slice(), &k.as_slice(), &i64::from(SCAN_ROWS)],
                )
                .expect("raw: scan");
            assert_eq!(found.len(), SCAN_ROWS as usize);
        }
    }
}

/// The library's puts: fire-and-forget, then one flush.
fn lib_puts(job: &Job, base: u64, n: u64) {
    for i in 0..n {
        job.put("c", &key(base + i), &payload(i)).expect("lib: put");
    }
    job.flush().expect("lib: flush");
}

fn lib_gets(job: &Job, n: u64, rows: u64) {
    for i in 0..n {
        assert!(job.get("c", &key(i % rows)).expect("lib: get").is_some());
    }
}

fn lib_pipelined_gets(job: &Job, n: u64, rows: u64) {
    let (tx, rx) = mpsc::channel();
    for i in 0..n {
        let tx = tx.clone();
        job.get_then("c", &key(i % rows), move |r| {
            let _ = tx.send(r.map(|v| v.is_some()));
        })
        .expect("lib: get_then");
    }
    drop(tx);
    assert_eq!(
        rx.iter().filter(|r| matches!(r, Ok(true))).count() as u64,
        n
    );
}

fn lib_scans(job: &Job, n: u64, rows: u64) {
    for i in 0..n {
        let k = key((i * 997) % (rows - u64::from(SCAN_ROWS)));
        let found = job
            .scan("c", &k, b"", ScanOptions::new().limit(SCAN_ROWS))
            .expect("lib: scan");
        assert_eq!(found.len(), SCAN_ROWS as usize);
    }
}

fn lib_batches(job: &Job, base: u64, n: u64) {
    for b in 0..n {
        let ops = (0..BATCH_OPS)
            .map(|j| {
                let i = base + b * BATCH_OPS + j;
                Op::put("c", key(i).to_vec(), payload(i))
            })
            .collect();
        job.write(ops).expect("lib: batch");
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let Ok(uri) = std::env::var("PERSISTENCY_BENCH_POSTGRES") else {
        eprintln!("set PERSISTENCY_BENCH_POSTGRES (scripts/bench-postgres.sh does)");
        return;
    };
    let sizes = if quick {
        Sizes {
            reps: 3,
            puts: 20_000,
            single_puts: 2_000,
            batches: 200,
            gets: 5_000,
            scans: 50,
        }
    } else {
        Sizes {
            reps: 5,
            puts: 100_000,
            single_puts: 3_000,
            batches: 500,
            gets: 20_000,
            scans: 200,
        }
    };
    let sep = if uri.contains('?') { '&' } else { '?' };
    let db = Persistency::new(&format!("{uri}{sep}schema=bench")).expect("instance");
    let mut raw = Raw::new(&uri, "public.raw_bench");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "libpersistency on PostgreSQL ({} mode, {} repetitions), load {}",
        if quick { "quick" } else { "full" },
        sizes.reps,
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    let mut all: BTreeMap<&'static str, Figures> = BTreeMap::new();
    let mut base = 0u64;
    for rep in 0..sizes.reps {
        let _ = db.drop_job("bench");
        let job = db.open_job("bench").expect("open");
        let durable = db
            .open_job_with(
                "durable",
                &JobOptions::default().synchronous(Synchronous::Full),
            )
            .expect("open durable");
        raw.set_sync("local");
        // Puts: the library, raw with 1,000 rows per transaction, and one
        // transaction per put (the upstream design).
        let mut variants: Vec<(&'static str, Variant)> = vec![
            ("library", Box::new(|_, b| lib_puts(&job, b, sizes.puts))),
            (
                "raw 1000/txn",
                Box::new(|r, b| r.puts(b, sizes.puts, RAW_TXN_ROWS)),
            ),
            (
                "one txn per put",
                Box::new(|r, b| r.puts(b, sizes.single_puts, 1)),
            ),
        ];
        variants.rotate_left(rep % 3);
        let figures = all.entry("puts").or_default();
        for (name, run) in &mut variants {
            let n = if *name == "one txn per put" {
                sizes.single_puts
            } else {
                sizes.puts
            };
            let started = Instant::now();
            run(&mut raw, base);
            figures.add(name, n, started);
            base += 1 << 32;
        }
        drop(variants);
        // Durable batches of 10: the library (`synchronous = FULL`) and
        // raw, one transaction per batch, `synchronous_commit = on`.
        raw.set_sync("on");
        let figures = all.entry("durable batches").or_default();
        let order = [rep % 2 == 0, rep % 2 != 0];
        for lib in order {
            let started = Instant::now();
            if lib {
                lib_batches(&durable, base, sizes.batches);
                figures.add("library", sizes.batches, started);
            } else {
                raw.puts(base, sizes.batches * BATCH_OPS, BATCH_OPS);
                figures.add("raw", sizes.batches, started);
            }
            base += 1 << 32;
        }
        raw.set_sync("local");
        // Reads: both the job and the raw table get keys 0..puts first.
        let rows = sizes.puts;
        lib_puts(&job, 0, rows);
        raw.puts(0, rows, RAW_TXN_ROWS);
        for lib in order {
            let started = Instant::now();
            if lib {
                lib_gets(&job, sizes.gets, rows);
                all.entry("sequential gets")
                    .or_default()
                    .add("library", sizes.gets, started);
                let started = Instant::now();
                lib_pipelined_gets(&job, sizes.gets, rows);
                all.entry("pipelined gets")
                    .or_default()
                    .add("library", sizes.gets, started);
                let started = Instant::now();
                lib_scans(&job, sizes.scans, rows);
                all.entry("scans of 1000 rows")
                    .or_default()
                    .add("library", sizes.scans, started);
            } else {
                raw.gets(sizes.gets, rows);
                all.entry("sequential gets")
                    .or_default()
                    .add("raw", sizes.gets, started);
                // The synchronous client has one query in flight: the raw
                // baseline of pipelined gets is its sequential gets.
                let started = Instant::now();
                raw.gets(sizes.gets, rows);
                all.entry("pipelined gets")
                    .or_default()
                    .add("raw", sizes.gets, started);
                let started = Instant::now();
                raw.scans(sizes.scans, rows);
                all.entry("scans of 1000 rows")
                    .or_default()
                    .add("raw", sizes.scans, started);
            }
        }
        db.close_job("durable").expect("close");
        db.close_job("bench").expect("close");
        eprintln!("repetition {} of {} done", rep + 1, sizes.reps);
    }
    report(&all, quick);
}

fn report(all: &BTreeMap<&'static str, Figures>, quick: bool) {
    let mut json = serde_json::Map::new();
    println!(
        "\n{:<20} {:<16} {:>12} {:>24}",
        "workload", "variant", "median/s", "min–max"
    );
    for (workload, figures) in all {
        let mut entry = serde_json::Map::new();
        for (variant, rates) in &figures.0 {
            let (m, lo, hi) = summary(rates);
            println!("{workload:<20} {variant:<16} {m:>12.0} {lo:>11.0}–{hi:<12.0}");
            entry.insert(
                variant.to_string(),
                serde_json::json!({"rates": rates, "median": m}),
            );
        }
        json.insert(workload.to_string(), serde_json::Value::Object(entry));
    }
    println!();
    let goals = [
        ("puts", "library", "raw 1000/txn", 0.9),
        ("puts", "library", "one txn per put", 3.0),
        ("durable batches", "library", "raw", 0.0),
        ("sequential gets", "library", "raw", 0.0),
        ("pipelined gets", "library", "raw", 0.0),
        ("scans of 1000 rows", "library", "raw", 0.0),
    ];
    let mut ratios = serde_json::Map::new();
    for (workload, a, b, goal) in goals {
        let r = all
            .get(workload)
            .map(|f| f.ratios(a, b))
            .unwrap_or_default();
        let (m, lo, hi) = summary(&r);
        let verdict = if goal == 0.0 {
            String::new()
        } else if m >= goal {
            format!("goal ≥ {goal}×: met")
        } else {
            format!("goal ≥ {goal}×: NOT met")
        };
        println!("{workload}: {a} / {b} = {m:.2}× (per repetition {lo:.2}–{hi:.2}) {verdict}");
        ratios.insert(
            format!("{workload}: {a} / {b}"),
            serde_json::json!({"ratios": r, "median": m, "goal": goal}),
        );
    }
    let out = serde_json::json!({
        "mode": if quick { "quick" } else { "full" },
        "figures": json,
        "ratios": ratios,
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("postgres.json");
    std::fs::write(&path, serde_json::to_string_pretty(&out).expect("json")).expect("write");
    println!("\nwrote {}", path.display());
}
