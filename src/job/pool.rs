//! A job's pool of read-only connections, for blocking reads that run on
//! the caller's thread.
//!
//! Bounded to [`max_readers`] connections (about the number of cores),
//! opened lazily by the first blocking read that finds none idle, and shrunk
//! when idle: a connection unused for 2 to 3 s ([`IDLE_TICKS`] ticks of the
//! reaper) is closed, by the next return or by a process-wide reaper thread
//! that runs only while some pool holds idle connections. Idle time is
//! counted in the reaper's ticks, so a read reads no clock. Closing the job closes the pool: it
//! waits for the leased connections (a lease lasts one read) and drops the
//! idle ones, before the worker closes the store.
//!
//! Jobs whose site has no second connection (in memory) never attach a
//! site: their reads always go through the worker.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::backend::{Reader, Site};
use crate::log::{log, Level};

/// How often the reaper looks for idle connections to close: one tick.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// Ticks a connection stays idle before it is closed.
pub(crate) const IDLE_TICKS: u64 = 3;

/// The reaper's tick count: the clock of idle connections.
static TICK: AtomicU64 = AtomicU64::new(0);

/// The most connections one job's pool holds: the number of cores, at
/// least 4 (so a few more host threads than cores on a small machine read
/// without waiting for one another's connection), at most 8.
pub(crate) fn max_readers() -> usize {
    thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(4)
        .clamp(4, 8)
}

struct Idle {
    reader: Box<dyn Reader>,
    /// The tick it was returned at.
    since: u64,
    /// The thread that returned it ([`thread_token`]).
    owner: u64,
}

/// A number for the calling thread, unique in the process (0 for none).
/// A thread gets back the connection it used last when it is idle: its
/// statements, page cache and SQLite's structures then stay warm in that
/// core's caches instead of moving between threads with every read.
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.with(|t| *t)
}

#[derive(Default)]
struct State {
    /// Idle connections, the most recently used last.
    idle: Vec<Idle>,
    /// Connections leased out (or being opened).
    out: usize,
    closed: bool,
    /// Reads served on leased connections, counted when the lease ends:
    /// under this lock, so the fast path updates no counter that every
    /// reading thread shares.
    reads: u64,
}

/// The read pool of one job.
pub(crate) struct ReadPool {
    site: OnceLock<Site>,
    state: Mutex<State>,
    /// Signalled when a connection comes back.
    returned: Condvar,
    max: usize,
    /// Registered with the reaper.
    watched: AtomicBool,
}

/// A leased connection; it goes back to the pool when dropped.
pub(crate) struct Lease<'a> {
    pool: &'a Arc<ReadPool>,
    reader: Option<Box<dyn Reader>>,
    /// Whether a read was served on it (counted when it ends).
    served: bool,
}

impl Lease<'_> {
    /// The connection.
    pub(crate) fn reader(&mut self) -> &mut dyn Reader {
        self.reader
            .as_deref_mut()
            .expect("a lease holds its reader")
    }

    /// Counts a read served on this connection.
    pub(crate) fn served(&mut self) {
        self.served = true;
    }

    /// Closes the connection instead of returning it (after an error).
    pub(crate) fn discard(mut self) {
        drop(self.reader.take());
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.pool.put_back(self.reader.take(), self.served);
    }
}

impl ReadPool {
    /// A pool with no site: no connections until [`ReadPool::attach`].
    pub(crate) fn new() -> ReadPool {
        ReadPool {
            site: OnceLock::new(),
            state: Mutex::new(State::default()),
            returned: Condvar::new(),
            max: max_readers(),
            watched: AtomicBool::new(false),
        }
    }

    /// Lets the pool open connections to `site`, if the site has them.
    pub(crate) fn attach(&self, site: Site) {
        if site.has_readers() {
            let _ = self.site.set(site);
        }
    }

    /// Whether reads may run on this pool's connections.
    pub(crate) fn enabled(&self) -> bool {
        self.site.get().is_some()
    }

    /// Connections open now, idle or leased.
    pub(crate) fn open_count(&self) -> usize {
        let state = self.state.lock();
        state.idle.len() + state.out
    }

    /// Reads served on this pool's connections so far.
    pub(crate) fn reads(&self) -> u64 {
        self.state.lock().reads
    }

    /// A connection: an idle one (the one this thread returned last, if it
    /// is idle), a new one while fewer than the bound are open, else the
    /// next one returned. `None` when the pool is closed,
    /// has no site, or a new connection could not be opened (the caller
    /// then reads through the worker).
    pub(crate) fn lease(self: &Arc<Self>) -> Option<Lease<'_>> {
        let site = self.site.get()?;
        let me = thread_token();
        let mut state = self.state.lock();
        loop {
            if state.closed {
                return None;
            }
            // At most `max` entries; `remove` keeps them oldest first.
            let mine = state.idle.iter().rposition(|i| i.owner == me);
            let idle = match mine {
                Some(i) => Some(state.idle.remove(i)),
                None => state.idle.pop(),
            };
            if let Some(idle) = idle {
                state.out += 1;
                drop(state);
                return Some(Lease {
                    pool: self,
                    reader: Some(idle.reader),
                    served: false,
                });
            }
            if state.out < self.max {
                state.out += 1;
                break;
            }
            self.returned.wait(&mut state);
        }
        drop(state);
        match site.open_reader() {
            Ok(reader) => Some(Lease {
                pool: self,
                reader: Some(reader),
                served: false,
            }),
            Err(e) => {
                log(Level::Warn, || {
                    format!("cannot open a read connection, reading through the worker: {e}")
                });
                self.put_back(None, false);
                None
            }
        }
    }

    fn put_back(self: &Arc<Self>, reader: Option<Box<dyn Reader>>, served: bool) {
        let owner = thread_token();
        let mut state = self.state.lock();
        state.out -= 1;
        state.reads += u64::from(served);
        let now = TICK.load(Ordering::Relaxed);
        let mut stale = take_stale(&mut state, now);
        let closed = state.closed;
        let idle = reader.map(|reader| Idle {
            reader,
            since: now,
            owner,
        });
        match idle {
            Some(idle) if !closed => state.idle.push(idle),
            other => stale.extend(other),
        }
        drop(state);
        if closed {
            self.returned.notify_all();
        } else {
            self.returned.notify_one();
            if !self.watched.load(Ordering::Acquire) && !self.watched.swap(true, Ordering::AcqRel) {
                watch(Arc::downgrade(self));
            }
        }
        drop(stale);
    }

    /// Closes the connections idle for [`IDLE_TICKS`] ticks; tells whether
    /// idle ones remain.
    fn trim(&self) -> bool {
        let mut state = self.state.lock();
        let stale = take_stale(&mut state, TICK.load(Ordering::Relaxed));
        let left = !state.idle.is_empty();
        if !left {
            self.watched.store(false, Ordering::Release);
        }
        drop(state);
        drop(stale);
        left
    }

    /// Refuses new leases, waits for the leased connections to come back
    /// and closes every connection.
    pub(crate) fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        while state.out > 0 {
            self.returned.wait(&mut state);
        }
        let idle = std::mem::take(&mut state.idle);
        drop(state);
        drop(idle);
    }
}

/// Takes the connections idle for [`IDLE_TICKS`] ticks at tick `now` out
/// of the pool (the oldest are first), to be dropped once the lock is
/// released.
fn take_stale(state: &mut State, now: u64) -> Vec<Idle> {
    let keep = state
        .idle
        .iter()
        .position(|i| now.saturating_sub(i.since) < IDLE_TICKS)
        .unwrap_or(state.idle.len());
    state.idle.drain(..keep).collect()
}

/// The pools the reaper watches; the reaper runs while this is not empty.
static WATCHED: Mutex<Vec<Weak<ReadPool>>> = Mutex::new(Vec::new());

/// Has the reaper watch `pool` until it has no idle connection, starting
/// the reaper if it is not running.
fn watch(pool: Weak<ReadPool>) {
    let mut watched = WATCHED.lock();
    watched.push(pool);
    if watched.len() > 1 {
        return;
    }
    let spawned = thread::Builder::new()
        .name("pers-reaper".into())
        .spawn(reap);
    if let Err(e) = spawned {
        // Idle connections are then closed by the pool's next use only.
        log(Level::Warn, || format!("cannot start the reaper: {e}"));
        watched.clear();
    }
}

/// The reaper: every [`REAP_EVERY`], trims the watched pools; ends when
/// none has idle connections left.
fn reap() {
    loop {
        thread::sleep(REAP_EVERY);
        TICK.fetch_add(1, Ordering::Relaxed);
        let mut watched = WATCHED.lock();
        watched.retain(|pool| pool.upgrade().is_some_and(|pool| pool.trim()));
        if watched.is_empty() {
            return;
        }
    }
}
