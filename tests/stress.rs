//! Stress: host threads hammer shared jobs with mixed reads and writes
//! (blocking calls and callbacks) while jobs are opened, closed and dropped
//! around them, for a bounded time. Afterwards:
//!
//! - every row a thread had acknowledged is there, and nothing else under
//!   its prefix (fire-and-forget puts accepted, blocking writes returned,
//!   `write_then` callbacks said OK, acked deletes removed);
//! - every callback of an accepted call ran exactly once (counted, each
//!   with a unique ticket), none of a refused call;
//! - the resident set size, measured after a warm-up and after everything
//!   is closed, is back near its starting level.
//!
//! Sizes: `STRESS_THREADS` (8), `STRESS_JOBS` (4 shared jobs),
//! `STRESS_SECS` (3). `STRESS_SMALL=1` (used under valgrind by
//! `scripts/valgrind_stress.sh`) means 2 threads, 2 jobs, 2 seconds, no
//! warm-up and no RSS bound (valgrind's own memory dominates).

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use persistency::{ErrorKind, Job, JobOptions, Op, Persistency, ScanOptions};

mod common;
use common::rng::Rng;
use common::{env_or, root_in};

struct Size {
    threads: usize,
    jobs: usize,
    duration: Duration,
    warm_up: bool,
}

fn size() -> Size {
    if std::env::var_os("STRESS_SMALL").is_some() {
        return Size {
            threads: 2,
            jobs: 2,
            duration: Duration::from_secs(env_or("STRESS_SECS", 2)),
            warm_up: false,
        };
    }
    Size {
        threads: env_or("STRESS_THREADS", 8),
        jobs: env_or("STRESS_JOBS", 4),
        duration: Duration::from_secs(env_or("STRESS_SECS", 3)),
        warm_up: true,
    }
}

/// Callback bookkeeping shared by every thread.
#[derive(Default)]
struct Callbacks {
    /// Callbacks of accepted calls.
    owed: AtomicU64,
    /// Callbacks that ran.
    ran: AtomicU64,
    /// Tickets seen, to catch a callback that runs twice.
    seen: Mutex<HashSet<u64>>,
    doubled: AtomicU64,
    /// Results that were not what the caller could expect.
    wrong: Mutex<Vec<String>>,
    next_ticket: AtomicU64,
}

impl Callbacks {
    /// Wraps `check` into a counted callback; call `accepted` once the call
    /// that takes it returned OK.
    fn wrap<T: Send + 'static>(
        self: &Arc<Self>,
        check: impl FnOnce(persistency::Result<T>) -> Result<(), String> + Send + 'static,
    ) -> impl FnOnce(persistency::Result<T>) + Send + 'static {
        let ticket = self.next_ticket.fetch_add(1, SeqCst);
        let me = self.clone();
        move |r| {
            me.ran.fetch_add(1, SeqCst);
            if !me.seen.lock().expect("seen").insert(ticket) {
                me.doubled.fetch_add(1, SeqCst);
            }
            if let Err(e) = check(r) {
                me.wrong.lock().expect("wrong").push(e);
            }
        }
    }

    fn accepted(&self, r: persistency::Result<()>) -> persistency::Result<()> {
        if r.is_ok() {
            self.owed.fetch_add(1, SeqCst);
        }
        r
    }
}

/// What the run needs in every thread.
struct World {
    db: Persistency,
    shared_ids: Vec<String>,
    callbacks: Arc<Callbacks>,
    ops: AtomicU64,
    closes: AtomicU64,
    ephemeral: AtomicU64,
}

fn options() -> JobOptions {
    JobOptions::default().queue_capacity(512)
}

fn is_closed<T>(r: &persistency::Result<T>) -> bool {
    matches!(r, Err(e) if e.kind() == ErrorKind::Closed)
}

/// One host thread's keys in one shared job: the ones it knows are stored.
type Known = Arc<Mutex<BTreeSet<Vec<u8>>>>;

struct Worker {
    t: usize,
    rng: Rng,
    /// Handles of the shared jobs (`None` while one is being reopened).
    jobs: Vec<Option<Job>>,
    known: Vec<Known>,
    next_key: u64,
}

impl Worker {
    fn prefix(&self) -> Vec<u8> {
        format!("t{:02}/", self.t).into_bytes()
    }

    fn fresh_key(&mut self) -> Vec<u8> {
        self.next_key += 1;
        let mut k = self.prefix();
        k.extend(format!("{:08}", self.next_key).bytes());
        k
    }

    fn payload(key: &[u8]) -> Vec<u8> {
        let mut p = key.to_vec();
        p.extend(std::iter::repeat_n(b'.', key.len() * 3));
        p
    }

    /// Runs `call` on shared job `j`; a job closed by another thread is
    /// opened again (same id) and the call retried.
    fn on_job<T>(
        &mut self,
        world: &World,
        j: usize,
        mut call: impl FnMut(&Job) -> persistency::Result<T>,
    ) -> persistency::Result<T> {
        loop {
            if let Some(job) = &self.jobs[j] {
                let r = call(job);
                if !is_closed(&r) {
                    return r;
                }
            }
            // Let go of the closed handle before reopening, as a host would.
            self.jobs[j] = None;
            self.jobs[j] = Some(
                world
                    .db
                    .open_job_with(&world.shared_ids[j], &options())
                    .expect("reopen a shared job"),
            );
        }
    }

    fn step(&mut self, world: &World) {
        let j = self.rng.below(self.jobs.len() as u64) as usize;
        let known = self.known[j].clone();
        let cbs = world.callbacks.clone();
        world.ops.fetch_add(1, SeqCst);
        match self.rng.below(100) {
            // Fire-and-forget put.
            0..=24 => {
                let k = self.fresh_key();
                let p = Self::payload(&k);
                self.on_job(world, j, |job| job.put("s", &k, &p))
                    .expect("put");
                known.lock().expect("known").insert(k);
            }
            // Blocking batch.
            25..=34 => {
                let keys: Vec<Vec<u8>> = (0..1 + self.rng.below(4))
                    .map(|_| self.fresh_key())
                    .collect();
                let ops: Vec<Op> = keys
                    .iter()
                    .map(|k| Op::put("s", k.clone(), Self::payload(k)))
                    .collect();
                self.on_job(world, j, |job| job.write(ops.clone()))
                    .expect("write");
                known.lock().expect("known").extend(keys);
            }
            // Batch with a callback.
            35..=49 => {
                let keys: Vec<Vec<u8>> = (0..1 + self.rng.below(4))
                    .map(|_| self.fresh_key())
                    .collect();
                let ops: Vec<Op> = keys
                    .iter()
                    .map(|k| Op::put("s", k.clone(), Self::payload(k)))
                    .collect();
                self.on_job(world, j, |job| {
                    let (known, keys) = (known.clone(), keys.clone());
                    let then = cbs.wrap(move |r: persistency::Result<()>| {
                        r.map_err(|e| format!("write_then: {e}"))?;
                        known.lock().expect("known").extend(keys);
                        Ok(())
                    });
                    cbs.accepted(job.write_then(ops.clone(), then))
                })
                .expect("write_then");
            }
            // Read back a known key, blocking or through a callback.
            50..=69 => {
                let Some(k) = pick(&known, &mut self.rng) else {
                    return;
                };
                let want = Some(Self::payload(&k));
                if self.rng.below(2) == 0 {
                    let got = self.on_job(world, j, |job| job.get("s", &k)).expect("get");
                    assert_eq!(got, want, "thread {} read back {k:?}", self.t);
                } else {
                    self.on_job(world, j, |job| {
                        let (key, want) = (k.clone(), want.clone());
                        let then = cbs.wrap(move |r: persistency::Result<Option<Vec<u8>>>| {
                            let got = r.map_err(|e| format!("get_then: {e}"))?;
                            (got == want)
                                .then_some(())
                                .ok_or(format!("get_then {key:?}: {got:?}"))
                        });
                        cbs.accepted(job.get_then("s", &k, then))
                    })
                    .expect("get_then");
                }
            }
            // A page of this thread's rows, and a count.
            70..=79 => {
                let prefix = self.prefix();
                let rows = self
                    .on_job(world, j, |job| {
                        job.scan_prefix("s", &prefix, ScanOptions::new().reverse(true).limit(16))
                    })
                    .expect("scan_prefix");
                assert!(rows
                    .iter()
                    .all(|r| r.key.starts_with(&prefix) && r.payload == Self::payload(r.key)));
                let stop = persistency::prefix_stop(&prefix).expect("stop");
                self.on_job(world, j, |job| {
                    let p = prefix.clone();
                    let then = cbs.wrap(move |r: persistency::Result<u64>| {
                        r.map(drop).map_err(|e| format!("count_then {p:?}: {e}"))
                    });
                    cbs.accepted(job.count_then("s", &prefix, &stop, then))
                })
                .expect("count_then");
            }
            // Acked delete of a known key: it must report that it existed.
            80..=89 => {
                let Some(k) = pick(&known, &mut self.rng) else {
                    return;
                };
                known.lock().expect("known").remove(&k);
                if self.rng.below(2) == 0 {
                    let found = self
                        .on_job(world, j, |job| job.delete_acked("s", &k))
                        .expect("delete_acked");
                    assert!(found, "thread {}: delete_acked {k:?} found nothing", self.t);
                } else {
                    self.on_job(world, j, |job| {
                        let key = k.clone();
                        let then = cbs.wrap(move |r: persistency::Result<bool>| match r {
                            Ok(true) => Ok(()),
                            other => Err(format!("delete_acked_then {key:?}: {other:?}")),
                        });
                        cbs.accepted(job.delete_acked_then("s", &k, then))
                    })
                    .expect("delete_acked_then");
                }
            }
            // Flush through a callback.
            90..=93 => {
                self.on_job(world, j, |job| {
                    let then = cbs.wrap(|r: persistency::Result<()>| {
                        r.map_err(|e| format!("flush_then: {e}"))
                    });
                    cbs.accepted(job.flush_then(then))
                })
                .expect("flush_then");
            }
            // Close a shared job under everybody's feet (they reopen it).
            94..=95 => {
                world.db.close_job(&world.shared_ids[j]).expect("close_job");
                world.closes.fetch_add(1, SeqCst);
            }
            // A short-lived job of this thread: open, write, read, close or drop.
            _ => self.ephemeral(world),
        }
    }

    fn ephemeral(&mut self, world: &World) {
        let n = world.ephemeral.fetch_add(1, SeqCst);
        let id = format!("eph-{}-{n}", self.t);
        let job = world
            .db
            .open_job_with(&id, &options())
            .expect("open ephemeral");
        let cbs = world.callbacks.clone();
        let ops = (0..3u8)
            .map(|i| Op::put("e", vec![i], vec![i; 100]))
            .collect();
        let then =
            cbs.wrap(|r: persistency::Result<()>| r.map_err(|e| format!("ephemeral write: {e}")));
        cbs.accepted(job.write_then(ops, then))
            .expect("ephemeral write_then");
        assert_eq!(job.count("e", b"", b"").expect("count"), 3);
        if self.rng.below(2) == 0 {
            world.db.close_job(&id).expect("close ephemeral");
            assert!(is_closed(&job.get("e", &[0])));
            let again = world.db.open_job(&id).expect("reopen ephemeral");
            assert_eq!(again.count("e", b"", b"").expect("count"), 3);
        }
        world.db.drop_job(&id).expect("drop ephemeral");
        assert!(is_closed(&job.flush()));
    }
}

fn pick(known: &Known, rng: &mut Rng) -> Option<Vec<u8>> {
    let known = known.lock().expect("known");
    if known.is_empty() {
        return None;
    }
    let i = rng.below(known.len() as u64) as usize;
    known.iter().nth(i).cloned()
}

/// Resident set size in bytes, from `/proc/self/statm`.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm resident");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page as u64
}

struct Outcome {
    ops: u64,
    callbacks: u64,
    closes: u64,
    ephemeral: u64,
    rows: u64,
}

/// Steps each host thread takes, however long they last.
const MIN_STEPS: u32 = 100;

fn run(size: &Size, duration: Duration, seed: u64) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(&root_in(dir.path())).expect("instance");
    let shared_ids: Vec<String> = (0..size.jobs).map(|j| format!("shared-{j}")).collect();
    let world = Arc::new(World {
        db: db.clone(),
        shared_ids: shared_ids.clone(),
        callbacks: Arc::default(),
        ops: AtomicU64::new(0),
        closes: AtomicU64::new(0),
        ephemeral: AtomicU64::new(0),
    });
    let deadline = Instant::now() + duration;
    let known: Vec<Vec<Known>> = (0..size.threads)
        .map(|_| (0..size.jobs).map(|_| Known::default()).collect())
        .collect();
    let handles: Vec<_> = (0..size.threads)
        .map(|t| {
            let world = world.clone();
            let known = known[t].clone();
            std::thread::spawn(move || {
                let jobs = world
                    .shared_ids
                    .iter()
                    .map(|id| Some(world.db.open_job_with(id, &options()).expect("open shared")))
                    .collect();
                let mut w = Worker {
                    t,
                    rng: Rng(seed ^ (t as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1)),
                    jobs,
                    known,
                    next_key: 0,
                };
                // A floor of steps: under valgrind on a loaded machine,
                // opening the jobs above can outlast the whole duration,
                // and a run with no operation checks nothing.
                let mut steps = 0;
                while steps < MIN_STEPS || Instant::now() < deadline {
                    w.step(&world);
                    steps += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a host thread panicked");
    }
    // Everything accepted completes before close_job returns.
    for id in &shared_ids {
        db.close_job(id).expect("close shared");
    }
    let cbs = &world.callbacks;
    let wrong = cbs.wrong.lock().expect("wrong").clone();
    assert!(wrong.is_empty(), "unexpected callback results: {wrong:?}");
    assert_eq!(cbs.doubled.load(SeqCst), 0, "callbacks ran twice");
    assert_eq!(
        cbs.ran.load(SeqCst),
        cbs.owed.load(SeqCst),
        "callbacks ran vs callbacks of accepted calls"
    );
    // Each thread's rows, reopened from disk, are exactly what it knows.
    let mut rows = 0;
    for (j, id) in shared_ids.iter().enumerate() {
        let job = db.open_job_with(id, &options()).expect("reopen shared");
        for (t, known) in known.iter().enumerate() {
            let prefix = format!("t{t:02}/").into_bytes();
            let stored: BTreeSet<Vec<u8>> = job
                .scan_prefix("s", &prefix, ScanOptions::default())
                .expect("scan")
                .iter()
                .map(|r| r.key.to_vec())
                .collect();
            let want = known[j].lock().expect("known").clone();
            assert_eq!(stored.len(), want.len(), "thread {t}, job {id}: row count");
            assert_eq!(stored, want, "thread {t}, job {id}: rows");
            rows += stored.len() as u64;
        }
        let stats = job.stats().expect("stats");
        assert_eq!(stats.ops_failed, 0, "job {id}: failed writes");
    }
    db.close().expect("close");
    // Dropped jobs left no files behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("root"))
        .expect("read root")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("eph-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "files of dropped jobs remain: {leftovers:?}"
    );
    Outcome {
        ops: world.ops.load(SeqCst),
        callbacks: cbs.ran.load(SeqCst),
        closes: world.closes.load(SeqCst),
        ephemeral: world.ephemeral.load(SeqCst),
        rows,
    }
}

#[test]
fn threads_and_jobs_under_load() {
    let size = size();
    if size.warm_up {
        // Lets the allocator, SQLite and thread stacks reach their steady
        // size before the baseline is taken.
        run(&size, Duration::from_millis(500), 1);
    }
    let before = rss();
    let started = Instant::now();
    let out = run(&size, size.duration, 0x57e5_5000);
    let after = rss();
    eprintln!(
        "stress: {} threads x {} shared jobs, {:.1?}: {} operations, {} callbacks (each once), \
         {} shared-job closes, {} short-lived jobs, {} rows verified; RSS {} -> {} MiB",
        size.threads,
        size.jobs,
        started.elapsed(),
        out.ops,
        out.callbacks,
        out.closes,
        out.ephemeral,
        out.rows,
        before >> 20,
        after >> 20
    );
    assert!(out.ops > 0 && out.callbacks > 0);
    if size.warm_up {
        let bound = 96 << 20;
        assert!(
            after <= before + bound,
            "RSS grew from {} to {} MiB (bound: +{} MiB)",
            before >> 20,
            after >> 20,
            bound >> 20
        );
    }
}

/// Regression test: `close_job` called from several threads while another
/// reopens the same job must never leave a job that is open but unknown to
/// its instance (an orphan: `has_job` is false, `close_job` cannot reach
/// it, and a later `open_job` of that id waits for it for as long as any
/// handle of it lives).
#[test]
fn concurrent_close_job_never_orphans_a_reopened_job() {
    // An orphaned job keeps its file claimed, so the bug shows as a hang:
    // a watchdog turns that into a failure.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let body = std::thread::spawn(move || {
        close_reopen_race();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => body.join().expect("race body"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            body.join().expect("race body panicked")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("close/reopen race deadlocked: a closed-over job kept its file claimed")
        }
    }
}

fn close_reopen_race() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(&root_in(dir.path())).expect("instance");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let closers: Vec<_> = (0..6)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(SeqCst) {
                    db.close_job("x").expect("close_job");
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut opens = 0u64;
    let mut handles = Vec::new();
    while Instant::now() < deadline {
        let job = db.open_job("x").expect("open_job");
        opens += 1;
        // Keep one handle per distinct job: an orphan would stay open below.
        if !handles.iter().any(|h: &persistency::Job| h.same(&job)) {
            handles.push(job);
        }
    }
    stop.store(true, SeqCst);
    for c in closers {
        c.join().expect("closer");
    }
    // Every job the instance ever handed out must be closed by one more close.
    db.close_job("x").expect("close_job");
    let orphans = handles.iter().filter(|h| h.is_open()).count();
    assert!(
        orphans == 0,
        "after {opens} opens: {orphans} job(s) x still open that the instance no longer knows \
         (close_job removed the entry of a job it did not close)"
    );
    db.close().expect("close");
}
