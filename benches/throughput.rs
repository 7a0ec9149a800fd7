//! Throughput benchmark of libpersistency, driven through its C ABI exactly
//! as a host drives it (`extern "C"` callbacks, `void *user_data`), side by
//! side in one run with its baselines: raw SQLite through rusqlite (same
//! schema and upstream pragmas, prepared statements, explicit
//! transactions), the upstream per-operation design (a worker thread fed by
//! a channel, one autocommit transaction per write) and LMDB through heed.
//!
//! Every workload runs `reps` repetitions; inside each repetition the
//! library and its baselines run one after the other (round-robin, the
//! starting variant rotating per repetition), so every ratio is computed per
//! repetition from figures taken seconds apart, and the median of those
//! ratios is reported. No timing assertion is made: the goals are printed
//! as met or not, and `target/bench/results.json` keeps every figure.
//!
//! ```text
//! cargo bench --bench throughput              # full run (several minutes)
//! cargo bench --bench throughput -- --quick   # small sizes, 3 repetitions
//! ```
//!
//! Memory figures (flood, idle jobs) are taken in child processes (this
//! executable re-run with `--child ...`), whose `VmHWM` is not raised by the
//! workloads that ran before.

#![allow(unused_unsafe)]

use std::ffi::{c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{mpsc, Barrier};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use ::persistency::ffi::*;
use rusqlite::{params, Connection};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Sizes

const KEY_LEN: usize = 32;
const PAYLOAD_LEN: usize = 256;
const BATCH: usize = 1_000;
const IN_FLIGHT: usize = 1_000;
const SCAN_ROWS: usize = 10_000;
const PAGE_ROWS: usize = 1_000;
const MIX_THREADS: usize = 4;
const CATEGORY: &str = "msgs";
/// Bytes a queued put holds beyond its key, payload and category: the
/// request itself, three `Vec` headers and allocator rounding.
const QUEUED_OP_OVERHEAD: u64 = 128;
const FLOOD_SLACK_MIB: f64 = 32.0;
const IDLE_GOAL_KIB: f64 = 256.0;

/// The sizes of one run.
#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    reps: usize,
    /// Rows inserted by each writer of workloads 1 and 2.
    puts: usize,
    /// Rows of the durable-batch workload.
    durable_rows: usize,
    /// Rows of the table the reads run against.
    table_rows: usize,
    seq_gets: usize,
    pipelined_gets: usize,
    many_rounds: usize,
    scans: usize,
    mix_ops_per_thread: usize,
    flood: usize,
    idle_jobs: usize,
    busy_puts: usize,
}

impl Config {
    fn full() -> Config {
        Config {
            quick: false,
            reps: 5,
            puts: 200_000,
            durable_rows: 50_000,
            table_rows: 100_000,
            seq_gets: 20_000,
            pipelined_gets: 50_000,
            many_rounds: 50,
            scans: 20,
            mix_ops_per_thread: 10_000,
            flood: 2_000_000,
            idle_jobs: 64,
            busy_puts: 50_000,
        }
    }

    fn quick() -> Config {
        Config {
            quick: true,
            reps: 3,
            puts: 10_000,
            durable_rows: 5_000,
            table_rows: 20_000,
            seq_gets: 2_000,
            pipelined_gets: 10_000,
            many_rounds: 10,
            scans: 5,
            mix_ops_per_thread: 1_000,
            flood: 100_000,
            idle_jobs: 16,
            busy_puts: 10_000,
        }
    }
}

// ---------------------------------------------------------------------------
// Data

/// SplitMix64: a small deterministic generator, so every run inserts the
/// same keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

type Key = [u8; KEY_LEN];

fn keys(seed: u64, n: usize) -> Vec<Key> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let mut k = [0u8; KEY_LEN];
            rng.fill(&mut k);
            k
        })
        .collect()
}

/// 64 distinct random payloads, used round-robin.
fn payloads() -> Vec<[u8; PAYLOAD_LEN]> {
    let mut rng = Rng(0xFACE);
    (0..64)
        .map(|_| {
            let mut p = [0u8; PAYLOAD_LEN];
            rng.fill(&mut p);
            p
        })
        .collect()
}

struct Data {
    category: CString,
    payloads: Vec<[u8; PAYLOAD_LEN]>,
}

impl Data {
    fn new() -> Data {
        Data {
            category: CString::new(CATEGORY).expect("no NUL"),
            payloads: payloads(),
        }
    }

    fn payload(&self, i: usize) -> &[u8] {
        &self.payloads[i % self.payloads.len()]
    }
}

// ---------------------------------------------------------------------------
// Figures, goals and the report

struct Figure {
    workload: &'static str,
    name: String,
    unit: &'static str,
    samples: Vec<f64>,
}

enum GoalKind {
    /// `numerator / denominator` per repetition, at least `min`
    /// (`None`: reported, no goal).
    Ratio {
        numerator: String,
        denominator: String,
        min: Option<f64>,
    },
    /// A figure whose median must stay at most `limit`.
    AtMost { figure: String, limit: f64 },
}

struct Goal {
    workload: &'static str,
    name: String,
    kind: GoalKind,
}

#[derive(Default)]
struct Report {
    figures: Vec<Figure>,
    goals: Vec<Goal>,
}

struct Summary {
    median: f64,
    min: f64,
    max: f64,
}

fn summary(samples: &[f64]) -> Summary {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Summary {
            median: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Summary {
        median,
        min: v[0],
        max: v[n - 1],
    }
}

impl Report {
    fn record(&mut self, workload: &'static str, name: &str, unit: &'static str, value: f64) {
        match self
            .figures
            .iter_mut()
            .find(|f| f.workload == workload && f.name == name)
        {
            Some(f) => f.samples.push(value),
            None => self.figures.push(Figure {
                workload,
                name: name.to_string(),
                unit,
                samples: vec![value],
            }),
        }
    }

    fn samples(&self, name: &str) -> &[f64] {
        self.figures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.samples.as_slice())
            .unwrap_or(&[])
    }

    fn ratio(
        &mut self,
        workload: &'static str,
        name: &str,
        num: &str,
        den: &str,
        min: Option<f64>,
    ) {
        self.goals.push(Goal {
            workload,
            name: name.to_string(),
            kind: GoalKind::Ratio {
                numerator: num.to_string(),
                denominator: den.to_string(),
                min,
            },
        });
    }

    fn at_most(&mut self, workload: &'static str, name: &str, figure: &str, limit: f64) {
        self.goals.push(Goal {
            workload,
            name: name.to_string(),
            kind: GoalKind::AtMost {
                figure: figure.to_string(),
                limit,
            },
        });
    }

    fn print_workload(&self, workload: &str) {
        for f in self.figures.iter().filter(|f| f.workload == workload) {
            let s = summary(&f.samples);
            println!(
                "    {:<46} {:>13} {:>13} {:>13}  {}",
                f.name,
                fmt(s.median),
                fmt(s.min),
                fmt(s.max),
                f.unit
            );
        }
    }

    /// Evaluates every goal: (summary of the per-repetition values, the
    /// threshold, met).
    fn evaluate(&self, goal: &Goal) -> (Summary, Option<f64>, Option<bool>) {
        match &goal.kind {
            GoalKind::Ratio {
                numerator,
                denominator,
                min,
            } => {
                let (n, d) = (self.samples(numerator), self.samples(denominator));
                let per_rep: Vec<f64> = n.iter().zip(d).map(|(a, b)| a / b).collect();
                let s = summary(&per_rep);
                let met = min.map(|m| s.median >= m);
                (s, *min, met)
            }
            GoalKind::AtMost { figure, limit } => {
                let s = summary(self.samples(figure));
                let met = Some(s.median <= *limit);
                (s, Some(*limit), met)
            }
        }
    }

    fn print_goals(&self) {
        println!("\nRatios and goals (median of per-repetition values):");
        println!(
            "  {:<64} {:>9} {:>9} {:>9} {:>10}  status",
            "", "median", "min", "max", "goal"
        );
        for goal in &self.goals {
            let (s, threshold, met) = self.evaluate(goal);
            let (goal_text, status) = match (&goal.kind, threshold, met) {
                (GoalKind::Ratio { .. }, Some(t), Some(m)) => {
                    (format!(">= {t}"), if m { "met" } else { "NOT MET" })
                }
                (GoalKind::AtMost { .. }, Some(t), Some(m)) => {
                    (format!("<= {}", fmt(t)), if m { "met" } else { "NOT MET" })
                }
                _ => ("-".to_string(), "info"),
            };
            println!(
                "  {:<64} {:>9} {:>9} {:>9} {:>10}  {}",
                format!("[{}] {}", goal.workload, goal.name),
                fmt(s.median),
                fmt(s.min),
                fmt(s.max),
                goal_text,
                status
            );
        }
    }

    fn to_json(&self, config: &Config, machine: &Value, elapsed: f64) -> Value {
        let figures: Vec<Value> = self
            .figures
            .iter()
            .map(|f| {
                let s = summary(&f.samples);
                json!({
                    "workload": f.workload,
                    "figure": f.name,
                    "unit": f.unit,
                    "median": s.median,
                    "min": s.min,
                    "max": s.max,
                    "samples": f.samples,
                })
            })
            .collect();
        let ratios: Vec<Value> = self
            .goals
            .iter()
            .map(|g| {
                let (s, threshold, met) = self.evaluate(g);
                let (kind, over) = match &g.kind {
                    GoalKind::Ratio {
                        numerator,
                        denominator,
                        ..
                    } => ("ratio_at_least", json!([numerator, denominator])),
                    GoalKind::AtMost { figure, .. } => ("at_most", json!([figure])),
                };
                json!({
                    "workload": g.workload,
                    "name": g.name,
                    "kind": kind,
                    "of": over,
                    "median": s.median,
                    "min": s.min,
                    "max": s.max,
                    "goal": threshold,
                    "met": met,
                })
            })
            .collect();
        json!({
            "mode": if config.quick { "quick" } else { "full" },
            "repetitions": config.reps,
            "elapsed_seconds": elapsed,
            "machine": machine,
            "figures": figures,
            "ratios": ratios,
        })
    }
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_string()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The variants of one repetition, starting at a different one each
/// repetition so that no variant always runs first.
fn rotated(n: usize, rep: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + rep) % n)
}

// ---------------------------------------------------------------------------
// The library through its C ABI

fn check(status: persistency_status, what: &str) {
    if status != PERSISTENCY_OK {
        let message = unsafe {
            let p = persistency_last_error();
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        panic!("{what} failed with status {status}: {message}");
    }
}

/// Completion of `n` callbacks, waited for by the thread that armed it: a
/// short spin, a few `yield`s (on an oversubscribed machine they hand the
/// core to the worker instead of burning it), then `park` (the callback
/// unparks the waiter). Leaked, so
/// that a callback that touches it after its count reached zero never
/// touches freed memory.
struct Waiter {
    remaining: AtomicUsize,
    failed: AtomicI32,
    owner: Thread,
}

/// Polls before yielding: a reply that comes within them costs no
/// system call.
const SPINS: u32 = 100;
/// `yield_now` calls before parking.
const YIELDS: u32 = 20;

impl Waiter {
    fn new() -> &'static Waiter {
        Box::leak(Box::new(Waiter {
            remaining: AtomicUsize::new(0),
            failed: AtomicI32::new(PERSISTENCY_OK),
            owner: thread::current(),
        }))
    }

    fn arm(&self, n: usize) {
        self.remaining.store(n, Ordering::Relaxed);
    }

    fn wait(&self) {
        let mut polls = 0;
        while self.remaining.load(Ordering::Acquire) != 0 {
            polls += 1;
            if polls < SPINS {
                std::hint::spin_loop();
            } else if polls < SPINS + YIELDS {
                thread::yield_now();
            } else {
                thread::park();
            }
        }
        let failed = self.failed.swap(PERSISTENCY_OK, Ordering::Relaxed);
        assert_eq!(
            failed, PERSISTENCY_OK,
            "a callback reported status {failed}"
        );
    }

    /// Called last by a callback.
    fn done(&self, status: i32) {
        if status != PERSISTENCY_OK {
            self.failed.store(status, Ordering::Relaxed);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.owner.unpark();
        }
    }
}

unsafe extern "C" fn on_done(result: *const persistency_result, user_data: *mut c_void) {
    let waiter = &*(user_data as *const Waiter);
    waiter.done((*result).status);
}

/// Where a get callback copies its answer (as a host copies into its own
/// memory before the callback returns).
struct GetSlot {
    waiter: &'static Waiter,
    found: bool,
    value: Vec<u8>,
}

unsafe fn bytes<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(data, len)
    }
}

unsafe extern "C" fn on_get(result: *const persistency_result, user_data: *mut c_void) {
    let slot = &mut *(user_data as *mut GetSlot);
    let r = &*result;
    slot.found = r.found;
    slot.value.clear();
    if r.status == PERSISTENCY_OK && r.found {
        slot.value.extend_from_slice(bytes(r.value, r.value_len));
    }
    slot.waiter.done(r.status);
}

/// Where a scan or get_many callback copies its rows.
struct RowsSlot {
    waiter: &'static Waiter,
    buf: Vec<u8>,
    rows: usize,
    has_more: bool,
    last_key: Vec<u8>,
}

unsafe extern "C" fn on_rows(result: *const persistency_result, user_data: *mut c_void) {
    let slot = &mut *(user_data as *mut RowsSlot);
    let r = &*result;
    slot.buf.clear();
    slot.rows = 0;
    slot.has_more = r.has_more;
    if r.status == PERSISTENCY_OK {
        let rows = if r.row_count == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(r.rows, r.row_count)
        };
        for row in rows {
            slot.buf.extend_from_slice(bytes(row.key, row.key_len));
            slot.buf
                .extend_from_slice(bytes(row.payload, row.payload_len));
        }
        slot.rows = rows.len();
        if let Some(last) = rows.last() {
            slot.last_key.clear();
            slot.last_key
                .extend_from_slice(bytes(last.key, last.key_len));
        }
    }
    slot.waiter.done(r.status);
}

/// One independent instance with one open job.
struct LibJob {
    instance: *mut persistency,
    job: *mut persistency_job,
}

// SAFETY: the C API is thread-safe; the handles are only released on drop.
unsafe impl Send for LibJob {}
unsafe impl Sync for LibJob {}

fn cstring(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn options(synchronous: i32) -> persistency_job_options {
    let mut o = std::mem::MaybeUninit::<persistency_job_options>::uninit();
    unsafe {
        persistency_job_options_init(o.as_mut_ptr());
        let mut o = o.assume_init();
        o.synchronous = synchronous;
        o
    }
}

impl LibJob {
    fn open(root: &Path, id: &str, options: Option<&persistency_job_options>) -> LibJob {
        let root = cstring(root.to_str().expect("UTF-8 path"));
        let id = cstring(id);
        let mut instance = std::ptr::null_mut();
        let mut job = std::ptr::null_mut();
        unsafe {
            check(
                persistency_new(root.as_ptr(), &mut instance),
                "persistency_new",
            );
            let status = match options {
                None => persistency_open_job(instance, id.as_ptr(), &mut job),
                Some(o) => persistency_open_job_with(instance, id.as_ptr(), o, &mut job),
            };
            check(status, "persistency_open_job");
        }
        LibJob { instance, job }
    }

    fn put(&self, data: &Data, key: &[u8], payload: &[u8]) {
        unsafe {
            check(
                persistency_put(
                    self.job,
                    data.category.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    payload.as_ptr(),
                    payload.len(),
                ),
                "persistency_put",
            );
        }
    }

    fn flush(&self, waiter: &'static Waiter) {
        waiter.arm(1);
        unsafe {
            check(
                persistency_flush(
                    self.job,
                    Some(on_done),
                    waiter as *const Waiter as *mut c_void,
                ),
                "persistency_flush",
            );
        }
        waiter.wait();
    }

    /// Queues one atomic batch; with a waiter, its callback counts down.
    fn write(&self, ops: &[persistency_op], waiter: Option<&'static Waiter>) {
        let (callback, user_data): (persistency_callback, *mut c_void) = match waiter {
            Some(w) => (Some(on_done), w as *const Waiter as *mut c_void),
            None => (None, std::ptr::null_mut()),
        };
        unsafe {
            check(
                persistency_write(self.job, ops.as_ptr(), ops.len(), callback, user_data),
                "persistency_write",
            );
        }
    }

    fn get(&self, data: &Data, key: &[u8], slot: &mut GetSlot) {
        unsafe {
            check(
                persistency_get(
                    self.job,
                    data.category.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    Some(on_get),
                    slot as *mut GetSlot as *mut c_void,
                ),
                "persistency_get",
            );
        }
    }

    fn scan(&self, data: &Data, start: &[u8], limit: u32, slot: &mut RowsSlot) {
        unsafe {
            check(
                persistency_scan(
                    self.job,
                    data.category.as_ptr(),
                    start.as_ptr(),
                    start.len(),
                    std::ptr::null(),
                    0,
                    false,
                    limit,
                    Some(on_rows),
                    slot as *mut RowsSlot as *mut c_void,
                ),
                "persistency_scan",
            );
        }
    }

    fn stats(&self) -> persistency_stats {
        let mut s = persistency_stats::default();
        unsafe {
            check(
                persistency_job_stats(self.job, &mut s),
                "persistency_job_stats",
            )
        };
        s
    }
}

impl Drop for LibJob {
    fn drop(&mut self) {
        unsafe {
            persistency_job_release(self.job);
            check(persistency_close(self.instance), "persistency_close");
            persistency_release(self.instance);
        }
    }
}

fn put_ops<'a>(data: &'a Data, keys: &'a [Key], first: usize) -> Vec<persistency_op> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            let payload = data.payload(first + i);
            persistency_op {
                kind: PERSISTENCY_OP_PUT,
                category: data.category.as_ptr(),
                key: k.as_ptr(),
                key_len: k.len(),
                payload: payload.as_ptr(),
                payload_len: payload.len(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Baseline: raw SQLite, same schema and upstream pragmas

const CREATE: &str = "CREATE TABLE IF NOT EXISTS kv (category BLOB NOT NULL, key BLOB NOT NULL, \
    payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID";
const PUT: &str = "INSERT OR REPLACE INTO kv (category, key, payload) VALUES (?1, ?2, ?3)";
const GET: &str = "SELECT payload FROM kv WHERE category = ?1 AND key = ?2";
const SCAN: &str =
    "SELECT key, payload FROM kv WHERE category = ?1 AND key >= ?2 ORDER BY key ASC LIMIT ?3";

fn raw_open(path: &Path, synchronous: &str) -> Connection {
    let conn = Connection::open(path).expect("open raw database");
    conn.busy_timeout(Duration::from_millis(5000))
        .expect("busy_timeout");
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("WAL");
    assert!(mode.eq_ignore_ascii_case("wal"));
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {synchronous}; PRAGMA temp_store = MEMORY; {CREATE}; PRAGMA user_version = 1;"
    ))
    .expect("schema");
    conn
}

fn raw_insert(conn: &mut Connection, data: &Data, keys: &[Key], first: usize) {
    let tx = conn.transaction().expect("BEGIN");
    {
        let mut stmt = tx.prepare_cached(PUT).expect("prepare");
        for (i, k) in keys.iter().enumerate() {
            stmt.execute(params![
                CATEGORY.as_bytes(),
                &k[..],
                data.payload(first + i)
            ])
            .expect("insert");
        }
    }
    tx.commit().expect("COMMIT");
}

fn raw_load(conn: &mut Connection, data: &Data, keys: &[Key]) {
    for (c, chunk) in keys.chunks(BATCH).enumerate() {
        raw_insert(conn, data, chunk, c * BATCH);
    }
}

fn raw_get(stmt: &mut rusqlite::CachedStatement<'_>, key: &[u8], value: &mut Vec<u8>) -> bool {
    let mut rows = stmt.query(params![CATEGORY.as_bytes(), key]).expect("get");
    value.clear();
    match rows.next().expect("step") {
        Some(row) => {
            if let rusqlite::types::ValueRef::Blob(b) = row.get_ref(0).expect("column") {
                value.extend_from_slice(b);
            }
            true
        }
        None => false,
    }
}

/// Copies up to `limit` rows from `start` into `buf`; returns (rows, last key).
fn raw_scan(
    conn: &Connection,
    start: &[u8],
    limit: usize,
    buf: &mut Vec<u8>,
    last: &mut Vec<u8>,
) -> usize {
    let mut stmt = conn.prepare_cached(SCAN).expect("prepare scan");
    let mut rows = stmt
        .query(params![CATEGORY.as_bytes(), start, limit as i64])
        .expect("scan");
    buf.clear();
    let mut n = 0;
    while let Some(row) = rows.next().expect("step") {
        let (k, p) = (
            row.get_ref(0).expect("key"),
            row.get_ref(1).expect("payload"),
        );
        if let (rusqlite::types::ValueRef::Blob(k), rusqlite::types::ValueRef::Blob(p)) = (k, p) {
            buf.extend_from_slice(k);
            buf.extend_from_slice(p);
            last.clear();
            last.extend_from_slice(k);
        }
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------
// Baseline: the upstream per-operation design

enum UpstreamMsg {
    Put {
        category: Vec<u8>,
        key: Vec<u8>,
        payload: Vec<u8>,
    },
    Flush(mpsc::SyncSender<()>),
}

/// A worker thread fed by an unbounded channel, applying each write as its
/// own autocommit transaction (the upstream design, minus its polling).
struct Upstream {
    tx: Option<mpsc::Sender<UpstreamMsg>>,
    worker: Option<JoinHandle<()>>,
}

impl Upstream {
    fn open(path: &Path) -> Upstream {
        let (tx, rx) = mpsc::channel::<UpstreamMsg>();
        let path = path.to_path_buf();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let worker = thread::spawn(move || {
            let conn = raw_open(&path, "NORMAL");
            let mut stmt = conn.prepare(PUT).expect("prepare");
            let _ = ready_tx.send(());
            for msg in rx {
                match msg {
                    UpstreamMsg::Put {
                        category,
                        key,
                        payload,
                    } => {
                        stmt.execute(params![category, key, payload])
                            .expect("insert");
                    }
                    UpstreamMsg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        ready_rx.recv().expect("upstream worker ready");
        Upstream {
            tx: Some(tx),
            worker: Some(worker),
        }
    }

    fn put(&self, key: &[u8], payload: &[u8]) {
        let msg = UpstreamMsg::Put {
            category: CATEGORY.as_bytes().to_vec(),
            key: key.to_vec(),
            payload: payload.to_vec(),
        };
        self.tx.as_ref().expect("open").send(msg).expect("send");
    }

    fn flush(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        self.tx
            .as_ref()
            .expect("open")
            .send(UpstreamMsg::Flush(tx))
            .expect("send");
        rx.recv().expect("flush");
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Baseline: LMDB through heed

fn lmdb_insert(dir: &Path, data: &Data, keys: &[Key]) -> Duration {
    use heed::types::Bytes;
    use heed::{EnvFlags, EnvOpenOptions};
    let mut opts = EnvOpenOptions::new();
    opts.map_size(4 << 30).max_dbs(1);
    // NO_SYNC: commits reach the OS but are not fsynced, the durability of
    // SQLite's WAL with synchronous = NORMAL (safe across a process crash).
    unsafe { opts.flags(EnvFlags::NO_SYNC) };
    let env = unsafe { opts.open(dir) }.expect("open LMDB");
    let mut wtxn = env.write_txn().expect("txn");
    let db = env
        .create_database::<Bytes, Bytes>(&mut wtxn, None)
        .expect("db");
    wtxn.commit().expect("commit");
    let mut composite = Vec::with_capacity(CATEGORY.len() + KEY_LEN);
    let start = Instant::now();
    for (c, chunk) in keys.chunks(BATCH).enumerate() {
        let mut wtxn = env.write_txn().expect("txn");
        for (i, k) in chunk.iter().enumerate() {
            composite.clear();
            composite.extend_from_slice(CATEGORY.as_bytes());
            composite.extend_from_slice(k);
            db.put(&mut wtxn, &composite, data.payload(c * BATCH + i))
                .expect("put");
        }
        wtxn.commit().expect("commit");
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------
// Process figures

/// A field of /proc/self/status, in its own unit (kB for memory).
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown")
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let cpus = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let sqlite = rusqlite::version();
    json!({
        "nproc": cpus,
        "cpu_model": model,
        "mem_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "sqlite": sqlite,
        "persistency": unsafe { CStr::from_ptr(persistency_version()) }.to_string_lossy(),
    })
}

// ---------------------------------------------------------------------------
// Workloads

struct Bench {
    config: Config,
    data: Data,
    scratch: PathBuf,
    report: Report,
}

const W1: &str = "1 puts + flush";
const W2: &str = "2 equal rows per commit";
const W3: &str = "3 durable batches (FULL)";
const W4: &str = "4 sequential gets";
const W5: &str = "5 pipelined gets";
const W6: &str = "6 get_many";
const W7: &str = "7 scans";
const W8: &str = "8 90/10 mix, 4 threads";
const W9: &str = "9 flood";
const W10: &str = "10 idle jobs";
const W11: &str = "11 busy jobs";

impl Bench {
    fn tempdir(&self) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&self.scratch)
            .expect("tempdir")
    }

    fn header(&self, workload: &str) {
        println!("\n== {workload}");
        println!(
            "    {:<46} {:>13} {:>13} {:>13}",
            "figure", "median", "min", "max"
        );
    }

    /// Workloads 1 and 2: every writer inserts the same `puts` rows into an
    /// empty table.
    fn writes(&mut self) {
        let n = self.config.puts;
        let keys = keys(1, n);
        let waiter = Waiter::new();
        for rep in 0..self.config.reps {
            for variant in rotated(5, rep) {
                let dir = self.tempdir();
                match variant {
                    0 => {
                        let job = LibJob::open(dir.path(), "puts", None);
                        let start = Instant::now();
                        for (i, k) in keys.iter().enumerate() {
                            job.put(&self.data, k, self.data.payload(i));
                        }
                        job.flush(waiter);
                        let t = start.elapsed();
                        let s = job.stats();
                        assert_eq!(s.ops_applied, n as u64);
                        self.report
                            .record(W1, "lib put (default options)", "rows/s", rate(n, t));
                        self.report.record(
                            W1,
                            "lib put: rows per commit",
                            "rows",
                            n as f64 / s.transactions.max(1) as f64,
                        );
                    }
                    1 => {
                        let job = LibJob::open(dir.path(), "batches", None);
                        let start = Instant::now();
                        for (c, chunk) in keys.chunks(BATCH).enumerate() {
                            let ops = put_ops(&self.data, chunk, c * BATCH);
                            waiter.arm(1);
                            job.write(&ops, Some(waiter));
                            waiter.wait();
                        }
                        let t = start.elapsed();
                        let s = job.stats();
                        assert_eq!(s.ops_applied, n as u64);
                        self.report
                            .record(W2, "lib write 1000, awaited", "rows/s", rate(n, t));
                        self.report.record(
                            W2,
                            "lib write 1000, awaited: rows per commit",
                            "rows",
                            n as f64 / s.transactions.max(1) as f64,
                        );
                    }
                    2 => {
                        let mut conn = raw_open(&dir.path().join("raw.db"), "NORMAL");
                        let start = Instant::now();
                        raw_load(&mut conn, &self.data, &keys);
                        let t = start.elapsed();
                        self.report
                            .record(W1, "raw SQLite 1000/txn", "rows/s", rate(n, t));
                    }
                    3 => {
                        let up = Upstream::open(&dir.path().join("upstream.db"));
                        let start = Instant::now();
                        for (i, k) in keys.iter().enumerate() {
                            up.put(k, self.data.payload(i));
                        }
                        up.flush();
                        let t = start.elapsed();
                        self.report.record(
                            W1,
                            "upstream design (autocommit per put)",
                            "rows/s",
                            rate(n, t),
                        );
                    }
                    _ => {
                        let t = lmdb_insert(dir.path(), &self.data, &keys);
                        self.report
                            .record(W1, "LMDB (heed) 1000/txn", "rows/s", rate(n, t));
                    }
                }
            }
        }
        // Raw SQLite is the baseline of workload 2 as well.
        let raw = self.report.samples("raw SQLite 1000/txn").to_vec();
        for v in raw {
            self.report
                .record(W2, "raw SQLite 1000/txn (same run as 1)", "rows/s", v);
        }
        self.report.ratio(
            W1,
            "lib put / raw SQLite 1000/txn",
            "lib put (default options)",
            "raw SQLite 1000/txn",
            Some(1.5),
        );
        self.report.ratio(
            W1,
            "lib put / upstream design",
            "lib put (default options)",
            "upstream design (autocommit per put)",
            Some(4.0),
        );
        self.report.ratio(
            W1,
            "LMDB / lib put",
            "LMDB (heed) 1000/txn",
            "lib put (default options)",
            None,
        );
        self.report.ratio(
            W1,
            "LMDB / raw SQLite 1000/txn",
            "LMDB (heed) 1000/txn",
            "raw SQLite 1000/txn",
            None,
        );
        self.report.ratio(
            W2,
            "lib write 1000 awaited / raw SQLite 1000/txn",
            "lib write 1000, awaited",
            "raw SQLite 1000/txn",
            Some(0.9),
        );
        self.header(W1);
        self.report.print_workload(W1);
        self.header(W2);
        self.report.print_workload(W2);
    }

    /// Workload 3: batches of 1,000 under synchronous FULL.
    fn durable(&mut self) {
        let n = self.config.durable_rows;
        let keys = keys(3, n);
        let waiter = Waiter::new();
        let full = options(PERSISTENCY_SYNC_FULL);
        for rep in 0..self.config.reps {
            for variant in rotated(3, rep) {
                let dir = self.tempdir();
                match variant {
                    0 => {
                        let job = LibJob::open(dir.path(), "durable", Some(&full));
                        let start = Instant::now();
                        for (c, chunk) in keys.chunks(BATCH).enumerate() {
                            let ops = put_ops(&self.data, chunk, c * BATCH);
                            waiter.arm(1);
                            job.write(&ops, Some(waiter));
                            waiter.wait();
                        }
                        let t = start.elapsed();
                        assert_eq!(job.stats().transactions, keys.chunks(BATCH).len() as u64);
                        self.report.record(
                            W3,
                            "lib write 1000 + callback, awaited",
                            "rows/s",
                            rate(n, t),
                        );
                    }
                    1 => {
                        let job = LibJob::open(dir.path(), "durable", Some(&full));
                        let batches: Vec<Vec<persistency_op>> = keys
                            .chunks(BATCH)
                            .enumerate()
                            .map(|(c, chunk)| put_ops(&self.data, chunk, c * BATCH))
                            .collect();
                        let start = Instant::now();
                        waiter.arm(batches.len());
                        for ops in &batches {
                            job.write(ops, Some(waiter));
                        }
                        waiter.wait();
                        let t = start.elapsed();
                        self.report.record(
                            W3,
                            "lib write 1000 + callback, all in flight",
                            "rows/s",
                            rate(n, t),
                        );
                    }
                    _ => {
                        let mut conn = raw_open(&dir.path().join("raw.db"), "FULL");
                        let start = Instant::now();
                        raw_load(&mut conn, &self.data, &keys);
                        let t = start.elapsed();
                        self.report
                            .record(W3, "raw SQLite 1000/txn, FULL", "rows/s", rate(n, t));
                    }
                }
            }
        }
        self.report.ratio(
            W3,
            "lib durable 1000 awaited / raw 1000/txn FULL",
            "lib write 1000 + callback, awaited",
            "raw SQLite 1000/txn, FULL",
            Some(0.9),
        );
        self.report.ratio(
            W3,
            "lib durable, all in flight / raw 1000/txn FULL",
            "lib write 1000 + callback, all in flight",
            "raw SQLite 1000/txn, FULL",
            None,
        );
        self.header(W3);
        self.report.print_workload(W3);
    }

    /// Workloads 4 to 8 read one table: a raw file, and a byte copy of it
    /// that the library opens, so both read the same pages.
    fn reads(&mut self) {
        let n = self.config.table_rows;
        let table = keys(4, n);
        let dir = self.tempdir();
        let raw_path = dir.path().join("raw.db");
        {
            let mut conn = raw_open(&raw_path, "NORMAL");
            raw_load(&mut conn, &self.data, &table);
        } // closing checkpoints the WAL into the file
        let lib_root = dir.path().join("lib");
        std::fs::create_dir_all(&lib_root).expect("mkdir");
        std::fs::copy(&raw_path, lib_root.join("reads.db")).expect("copy table");
        let mut sorted = table.clone();
        sorted.sort();
        let job = LibJob::open(&lib_root, "reads", None);
        let conn = raw_open(&raw_path, "NORMAL");
        let waiter = Waiter::new();

        self.sequential_gets(&job, &conn, &table, waiter);
        self.batched_gets(&job, &conn, &table, waiter);
        self.scans(&job, &conn, &sorted, waiter);
        drop(job);
        drop(conn);
        self.mix(&lib_root, &raw_path, &table);
    }

    fn sequential_gets(
        &mut self,
        job: &LibJob,
        conn: &Connection,
        table: &[Key],
        waiter: &'static Waiter,
    ) {
        let m = self.config.seq_gets;
        let mut rng = Rng(40);
        let mut slot = GetSlot {
            waiter,
            found: false,
            value: Vec::new(),
        };
        let mut value = Vec::new();
        let mut lat = Vec::with_capacity(m);
        for rep in 0..self.config.reps {
            for variant in rotated(2, rep) {
                lat.clear();
                let start = Instant::now();
                if variant == 0 {
                    for _ in 0..m {
                        let k = &table[rng.below(table.len())];
                        let t0 = Instant::now();
                        waiter.arm(1);
                        job.get(&self.data, k, &mut slot);
                        waiter.wait();
                        lat.push(t0.elapsed());
                        assert!(slot.found && slot.value.len() == PAYLOAD_LEN);
                    }
                } else {
                    let mut stmt = conn.prepare_cached(GET).expect("prepare");
                    for _ in 0..m {
                        let k = &table[rng.below(table.len())];
                        let t0 = Instant::now();
                        let found = raw_get(&mut stmt, k, &mut value);
                        lat.push(t0.elapsed());
                        assert!(found && value.len() == PAYLOAD_LEN);
                    }
                }
                let t = start.elapsed();
                lat.sort();
                let us =
                    |q: usize| lat[(lat.len() * q / 100).min(lat.len() - 1)].as_secs_f64() * 1e6;
                let name = if variant == 0 {
                    "lib get, one at a time"
                } else {
                    "direct get, same thread"
                };
                self.report.record(W4, name, "gets/s", rate(m, t));
                self.report
                    .record(W4, &format!("{name}: p50"), "us", us(50));
                self.report
                    .record(W4, &format!("{name}: p99"), "us", us(99));
            }
        }
        self.report.ratio(
            W4,
            "lib sequential get / direct same-thread get",
            "lib get, one at a time",
            "direct get, same thread",
            Some(0.25),
        );
        self.header(W4);
        self.report.print_workload(W4);
    }

    /// Workloads 5 and 6 against one baseline: direct gets, 1,000 per read
    /// transaction.
    fn batched_gets(
        &mut self,
        job: &LibJob,
        conn: &Connection,
        table: &[Key],
        waiter: &'static Waiter,
    ) {
        let total = self.config.pipelined_gets;
        let rounds_many = self.config.many_rounds;
        let mut rng = Rng(50);
        let mut slots: Vec<GetSlot> = (0..IN_FLIGHT)
            .map(|_| GetSlot {
                waiter,
                found: false,
                value: Vec::with_capacity(PAYLOAD_LEN),
            })
            .collect();
        let mut rows = RowsSlot {
            waiter,
            buf: Vec::new(),
            rows: 0,
            has_more: false,
            last_key: Vec::new(),
        };
        let mut values: Vec<Vec<u8>> = (0..IN_FLIGHT)
            .map(|_| Vec::with_capacity(PAYLOAD_LEN))
            .collect();
        for rep in 0..self.config.reps {
            for variant in rotated(3, rep) {
                match variant {
                    0 => {
                        let start = Instant::now();
                        for _ in 0..total / IN_FLIGHT {
                            waiter.arm(IN_FLIGHT);
                            for slot in slots.iter_mut() {
                                let k = &table[rng.below(table.len())];
                                job.get(&self.data, k, slot);
                            }
                            waiter.wait();
                            assert!(slots.iter().all(|s| s.found));
                        }
                        let t = start.elapsed();
                        self.report
                            .record(W5, "lib get, 1000 in flight", "gets/s", rate(total, t));
                    }
                    1 => {
                        let mut found = 0;
                        let start = Instant::now();
                        for _ in 0..rounds_many {
                            let keys: Vec<persistency_bytes> = (0..IN_FLIGHT)
                                .map(|_| {
                                    let k = &table[rng.below(table.len())];
                                    persistency_bytes {
                                        data: k.as_ptr(),
                                        len: k.len(),
                                    }
                                })
                                .collect();
                            waiter.arm(1);
                            unsafe {
                                check(
                                    persistency_get_many(
                                        job.job,
                                        self.data.category.as_ptr(),
                                        keys.as_ptr(),
                                        keys.len(),
                                        Some(on_rows),
                                        &mut rows as *mut RowsSlot as *mut c_void,
                                    ),
                                    "persistency_get_many",
                                );
                            }
                            waiter.wait();
                            found += rows.rows;
                        }
                        let t = start.elapsed();
                        assert_eq!(found, rounds_many * IN_FLIGHT);
                        self.report
                            .record(W6, "lib get_many of 1000", "gets/s", rate(found, t));
                    }
                    _ => {
                        let start = Instant::now();
                        for _ in 0..total / IN_FLIGHT {
                            conn.execute_batch("BEGIN").expect("BEGIN");
                            {
                                let mut stmt = conn.prepare_cached(GET).expect("prepare");
                                for v in values.iter_mut() {
                                    let k = &table[rng.below(table.len())];
                                    assert!(raw_get(&mut stmt, k, v));
                                }
                            }
                            conn.execute_batch("COMMIT").expect("COMMIT");
                        }
                        let t = start.elapsed();
                        let r = rate(total, t);
                        self.report
                            .record(W5, "direct gets, 1000 per read txn", "gets/s", r);
                        self.report.record(
                            W6,
                            "direct gets, 1000 per read txn (same as 5)",
                            "gets/s",
                            r,
                        );
                    }
                }
            }
        }
        self.report.ratio(
            W5,
            "lib pipelined get / direct batched gets",
            "lib get, 1000 in flight",
            "direct gets, 1000 per read txn",
            Some(0.9),
        );
        self.report.ratio(
            W6,
            "lib get_many / direct batched gets",
            "lib get_many of 1000",
            "direct gets, 1000 per read txn",
            Some(0.9),
        );
        self.header(W5);
        self.report.print_workload(W5);
        self.header(W6);
        self.report.print_workload(W6);
    }

    /// Workload 7: 10k-row scans in one request, and as pages of 1,000.
    fn scans(&mut self, job: &LibJob, conn: &Connection, sorted: &[Key], waiter: &'static Waiter) {
        let scans = self.config.scans;
        let rows_per_scan = SCAN_ROWS.min(sorted.len() / 2);
        let mut rng = Rng(70);
        let mut slot = RowsSlot {
            waiter,
            buf: Vec::new(),
            rows: 0,
            has_more: false,
            last_key: Vec::new(),
        };
        let mut buf = Vec::new();
        let mut last = Vec::new();
        let mut starts = Vec::with_capacity(scans);
        for rep in 0..self.config.reps {
            starts.clear();
            for _ in 0..scans {
                starts.push(sorted[rng.below(sorted.len() - rows_per_scan)]);
            }
            for variant in rotated(4, rep) {
                let mut rows = 0;
                let start = Instant::now();
                for s in &starts {
                    match variant {
                        0 => {
                            waiter.arm(1);
                            job.scan(&self.data, s, rows_per_scan as u32, &mut slot);
                            waiter.wait();
                            rows += slot.rows;
                        }
                        1 => {
                            let mut from = s.to_vec();
                            let mut got = 0;
                            while got < rows_per_scan {
                                waiter.arm(1);
                                job.scan(&self.data, &from, PAGE_ROWS as u32, &mut slot);
                                waiter.wait();
                                got += slot.rows;
                                if !slot.has_more {
                                    break;
                                }
                                from.clear();
                                from.extend_from_slice(&slot.last_key);
                                from.push(0);
                            }
                            rows += got;
                        }
                        2 => rows += raw_scan(conn, s, rows_per_scan, &mut buf, &mut last),
                        _ => {
                            let mut from = s.to_vec();
                            let mut got = 0;
                            while got < rows_per_scan {
                                let n = raw_scan(conn, &from, PAGE_ROWS, &mut buf, &mut last);
                                got += n;
                                if n < PAGE_ROWS {
                                    break;
                                }
                                from.clear();
                                from.extend_from_slice(&last);
                                from.push(0);
                            }
                            rows += got;
                        }
                    }
                }
                let t = start.elapsed();
                assert_eq!(rows, scans * rows_per_scan);
                let name = match variant {
                    0 => "lib scan of 10k rows",
                    1 => "lib paginated scan, pages of 1000",
                    2 => "raw scan of 10k rows",
                    _ => "raw paginated scan, pages of 1000",
                };
                self.report.record(W7, name, "rows/s", rate(rows, t));
            }
        }
        self.report.ratio(
            W7,
            "lib scan / raw scan",
            "lib scan of 10k rows",
            "raw scan of 10k rows",
            Some(0.8),
        );
        self.report.ratio(
            W7,
            "lib paginated / raw paginated",
            "lib paginated scan, pages of 1000",
            "raw paginated scan, pages of 1000",
            Some(0.8),
        );
        self.header(W7);
        self.report.print_workload(W7);
    }

    /// Workload 8: 4 host threads, each 90 % gets (awaited) and 10 % puts
    /// (fire-and-forget), on one job; the baseline gives each thread its
    /// own raw connection (WAL: readers run concurrently, writers take
    /// turns under busy_timeout), one autocommit per statement.
    fn mix(&mut self, lib_root: &Path, raw_path: &Path, table: &[Key]) {
        let per_thread = self.config.mix_ops_per_thread;
        let total = per_thread * MIX_THREADS;
        let job = LibJob::open(lib_root, "reads", None);
        let data = &self.data;
        for rep in 0..self.config.reps {
            for variant in rotated(2, rep) {
                let barrier = Barrier::new(MIX_THREADS + 1);
                let elapsed = thread::scope(|s| {
                    for t in 0..MIX_THREADS {
                        let (job, barrier) = (&job, &barrier);
                        let seed = 80 + (rep * MIX_THREADS + t) as u64 * 2 + variant as u64;
                        s.spawn(move || {
                            let mut rng = Rng(seed);
                            let mut new_key = [0u8; KEY_LEN];
                            if variant == 0 {
                                let waiter = Waiter::new();
                                let mut slot = GetSlot {
                                    waiter,
                                    found: false,
                                    value: Vec::new(),
                                };
                                barrier.wait();
                                for i in 0..per_thread {
                                    if i % 10 == 9 {
                                        rng.fill(&mut new_key);
                                        job.put(data, &new_key, data.payload(i));
                                    } else {
                                        waiter.arm(1);
                                        job.get(data, &table[rng.below(table.len())], &mut slot);
                                        waiter.wait();
                                        assert!(slot.found);
                                    }
                                }
                                job.flush(waiter);
                            } else {
                                let conn = raw_open(raw_path, "NORMAL");
                                let mut get = conn.prepare_cached(GET).expect("prepare");
                                let mut put = conn.prepare_cached(PUT).expect("prepare");
                                let mut value = Vec::new();
                                barrier.wait();
                                for i in 0..per_thread {
                                    if i % 10 == 9 {
                                        rng.fill(&mut new_key);
                                        put.execute(params![
                                            CATEGORY.as_bytes(),
                                            &new_key[..],
                                            data.payload(i)
                                        ])
                                        .expect("insert");
                                    } else {
                                        assert!(raw_get(
                                            &mut get,
                                            &table[rng.below(table.len())],
                                            &mut value
                                        ));
                                    }
                                }
                            }
                            barrier.wait();
                        });
                    }
                    barrier.wait();
                    let start = Instant::now();
                    barrier.wait();
                    start.elapsed()
                });
                let name = if variant == 0 {
                    "lib, one job shared by 4 threads"
                } else {
                    "raw SQLite, one connection per thread"
                };
                self.report.record(W8, name, "ops/s", rate(total, elapsed));
            }
        }
        self.report.ratio(
            W8,
            "lib mix / raw mix",
            "lib, one job shared by 4 threads",
            "raw SQLite, one connection per thread",
            None,
        );
        self.header(W8);
        self.report.print_workload(W8);
    }

    fn child(&self, args: &[String]) -> Vec<(String, f64)> {
        let exe = std::env::current_exe().expect("current_exe");
        let out = std::process::Command::new(exe)
            .arg("--child")
            .args(args)
            .output()
            .expect("run child");
        assert!(
            out.status.success(),
            "child {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .expect("child printed its result");
        line.split_whitespace()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect()
    }

    /// Workload 9: a flood of puts, peak RSS measured in a child process.
    fn flood(&mut self) {
        let mut queue = 0.0;
        for _ in 0..self.config.reps {
            let dir = self.tempdir();
            let r = self.child(&[
                "flood".to_string(),
                self.config.flood.to_string(),
                dir.path().display().to_string(),
            ]);
            let get = |k: &str| {
                r.iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| *v)
                    .unwrap_or(f64::NAN)
            };
            queue = get("queue_capacity");
            self.report
                .record(W9, "lib put flood", "rows/s", get("rate"));
            self.report.record(
                W9,
                "peak RSS growth (VmHWM delta)",
                "MiB",
                get("hwm_growth_kib") / 1024.0,
            );
            self.report
                .record(W9, "RSS after flush", "MiB", get("rss_after_kib") / 1024.0);
        }
        let per_op = (KEY_LEN + PAYLOAD_LEN + CATEGORY.len()) as u64 + QUEUED_OP_OVERHEAD;
        let bound = queue * per_op as f64 / (1024.0 * 1024.0) + FLOOD_SLACK_MIB;
        self.report.at_most(
            W9,
            &format!(
                "peak RSS growth <= queue ({queue} ops x {per_op} B) + {FLOOD_SLACK_MIB} MiB, MiB"
            ),
            "peak RSS growth (VmHWM delta)",
            bound,
        );
        self.header(W9);
        self.report.print_workload(W9);
    }

    /// Workload 10: idle open jobs, in a child process.
    fn idle(&mut self) {
        let n = self.config.idle_jobs;
        for _ in 0..self.config.reps {
            let dir = self.tempdir();
            let r = self.child(&[
                "idle".to_string(),
                n.to_string(),
                dir.path().display().to_string(),
            ]);
            let get = |k: &str| {
                r.iter()
                    .find(|(name, _)| name == k)
                    .map(|(_, v)| *v)
                    .unwrap_or(f64::NAN)
            };
            self.report.record(
                W10,
                "RSS per idle job",
                "KiB",
                get("rss_delta_kib") / n as f64,
            );
            self.report.record(
                W10,
                "threads per idle job",
                "threads",
                get("threads_delta") / n as f64,
            );
        }
        self.report.at_most(
            W10,
            &format!("RSS per idle job ({n} jobs), KiB"),
            "RSS per idle job",
            IDLE_GOAL_KIB,
        );
        self.header(W10);
        self.report.print_workload(W10);
    }

    /// Workload 11: k jobs written at once, each by its own host thread;
    /// the baseline gives each thread its own raw SQLite file.
    fn busy(&mut self) {
        let n = self.config.busy_puts;
        let per_job: Vec<Vec<Key>> = (0..4).map(|j| keys(110 + j, n)).collect();
        for rep in 0..self.config.reps {
            for variant in rotated(6, rep) {
                let jobs = [1, 2, 4][variant % 3];
                let lib = variant < 3;
                let dir = self.tempdir();
                let barrier = Barrier::new(jobs + 1);
                let data = &self.data;
                let elapsed = thread::scope(|s| {
                    for (j, keys) in per_job.iter().enumerate().take(jobs) {
                        let (barrier, dir) = (&barrier, dir.path());
                        s.spawn(move || {
                            if lib {
                                let job = LibJob::open(dir, &format!("busy{j}"), None);
                                let waiter = Waiter::new();
                                barrier.wait();
                                for (i, k) in keys.iter().enumerate() {
                                    job.put(data, k, data.payload(i));
                                }
                                job.flush(waiter);
                                barrier.wait();
                            } else {
                                let mut conn = raw_open(&dir.join(format!("raw{j}.db")), "NORMAL");
                                barrier.wait();
                                raw_load(&mut conn, data, keys);
                                barrier.wait();
                            }
                        });
                    }
                    barrier.wait();
                    let start = Instant::now();
                    barrier.wait();
                    start.elapsed()
                });
                let name = if lib {
                    format!("lib put, {jobs} job(s) at once")
                } else {
                    format!("raw SQLite 1000/txn, {jobs} file(s) at once")
                };
                self.report
                    .record(W11, &name, "rows/s", rate(n * jobs, elapsed));
            }
        }
        for jobs in [1, 2, 4] {
            self.report.ratio(
                W11,
                &format!("lib / raw, {jobs} at once"),
                &format!("lib put, {jobs} job(s) at once"),
                &format!("raw SQLite 1000/txn, {jobs} file(s) at once"),
                None,
            );
        }
        self.header(W11);
        self.report.print_workload(W11);
    }
}

// ---------------------------------------------------------------------------
// Child processes

/// `flood N DIR`: opens a job, floods N puts, flushes; prints the VmHWM
/// growth from just before the flood (job open and warm) to after it.
fn child_flood(n: usize, dir: &Path) {
    let data = Data::new();
    let job = LibJob::open(dir, "flood", None);
    let waiter = Waiter::new();
    let opts = options(PERSISTENCY_SYNC_NORMAL);
    job.put(&data, &[0u8; KEY_LEN], data.payload(0));
    job.flush(waiter);
    let hwm_before = proc_status("VmHWM");
    // Ascending keys (a counter, then random bytes): the worker appends
    // instead of inserting at random, so 2M rows take seconds, not
    // minutes; the host still outruns it, so the queue stays full.
    let mut rng = Rng(9);
    let mut key = [0u8; KEY_LEN];
    let mut max_queued = 0;
    let start = Instant::now();
    for i in 0..n {
        key[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        rng.fill(&mut key[8..]);
        job.put(&data, &key, data.payload(i));
        if i % 4096 == 0 {
            max_queued = max_queued.max(job.stats().queued);
        }
    }
    job.flush(waiter);
    let t = start.elapsed();
    let hwm_after = proc_status("VmHWM");
    let rss_after = proc_status("VmRSS");
    assert_eq!(job.stats().ops_applied, n as u64 + 1);
    println!(
        "RESULT rate={} hwm_growth_kib={} rss_after_kib={} queue_capacity={} max_queued={max_queued}",
        rate(n, t),
        hwm_after.saturating_sub(hwm_before),
        rss_after,
        opts.queue_capacity
    );
}

/// `idle N DIR`: with one job open and used (one-time costs paid), opens N
/// more, each written once and then left idle; prints the RSS and thread
/// deltas.
fn child_idle(n: usize, dir: &Path) {
    let data = Data::new();
    let waiter = Waiter::new();
    let warm = LibJob::open(dir, "warm", None);
    warm.put(&data, &[1u8; KEY_LEN], data.payload(0));
    warm.flush(waiter);
    let root = cstring(dir.to_str().expect("UTF-8"));
    let mut instance = std::ptr::null_mut();
    unsafe {
        check(
            persistency_new(root.as_ptr(), &mut instance),
            "persistency_new",
        )
    };
    thread::sleep(Duration::from_millis(100));
    let rss_before = proc_status("VmRSS");
    let threads_before = proc_status("Threads");
    let mut jobs = Vec::with_capacity(n);
    for i in 0..n {
        let id = cstring(&format!("idle{i}"));
        let mut job = std::ptr::null_mut();
        unsafe {
            check(
                persistency_open_job(instance, id.as_ptr(), &mut job),
                "persistency_open_job",
            );
            check(
                persistency_put(
                    job,
                    data.category.as_ptr(),
                    [2u8; KEY_LEN].as_ptr(),
                    KEY_LEN,
                    data.payload(i).as_ptr(),
                    PAYLOAD_LEN,
                ),
                "persistency_put",
            );
            waiter.arm(1);
            check(
                persistency_flush(job, Some(on_done), waiter as *const Waiter as *mut c_void),
                "flush",
            );
            waiter.wait();
        }
        jobs.push(job);
    }
    thread::sleep(Duration::from_millis(200));
    let rss_after = proc_status("VmRSS");
    let threads_after = proc_status("Threads");
    println!(
        "RESULT rss_delta_kib={} threads_delta={}",
        rss_after as f64 - rss_before as f64,
        threads_after as f64 - threads_before as f64
    );
    unsafe {
        for job in jobs {
            persistency_job_release(job);
        }
        check(persistency_close(instance), "persistency_close");
        persistency_release(instance);
    }
    drop(warm);
}

fn run_child(args: &[String]) {
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).expect("count");
    let dir = PathBuf::from(args.get(2).expect("dir"));
    match args[0].as_str() {
        "flood" => child_flood(n, &dir),
        "idle" => child_idle(n, &dir),
        other => panic!("unknown child {other}"),
    }
}

// ---------------------------------------------------------------------------

/// The target directory this executable was built into
/// (`<target>/release/deps/throughput-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// A named group of workloads, selectable with `--only`.
type Group = (&'static str, fn(&mut Bench));

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        run_child(&args[i + 1..]);
        return;
    }
    let config = if args.iter().any(|a| a == "--quick") {
        Config::quick()
    } else {
        Config::full()
    };
    let out_dir = target_dir().join("bench");
    let scratch = out_dir.join("tmp");
    std::fs::create_dir_all(&scratch).expect("create target/bench/tmp");
    let machine = machine();
    println!(
        "libpersistency throughput ({} mode, {} repetitions); machine: {machine}",
        if config.quick { "quick" } else { "full" },
        config.reps
    );
    println!("figures: median, min and max over repetitions; every variant of a workload runs once per repetition, round-robin");
    let started = Instant::now();
    let mut bench = Bench {
        config: config.clone(),
        data: Data::new(),
        scratch,
        report: Report::default(),
    };
    // `--only a,b` runs a subset of the groups (for profiling).
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_string).collect());
    let wanted = |group: &str| only.as_ref().is_none_or(|o| o.iter().any(|g| g == group));
    let groups: [Group; 6] = [
        ("writes", Bench::writes),
        ("durable", Bench::durable),
        ("reads", Bench::reads),
        ("flood", Bench::flood),
        ("idle", Bench::idle),
        ("busy", Bench::busy),
    ];
    for (name, run) in groups {
        if wanted(name) {
            run(&mut bench);
        }
    }
    bench.report.print_goals();
    let elapsed = started.elapsed().as_secs_f64();
    let json = bench.report.to_json(&config, &machine, elapsed);
    let path = out_dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
        .expect("write results");
    println!("\nwrote {} ({elapsed:.0} s)", path.display());
}
