//! The failure plan of the fault-injecting VFS (`faultvfs.rs`): which I/O
//! calls fail and how, and the simulated power cut. Plain Rust, no SQLite:
//! the VFS asks [`State::decide`] before each call and reports writes and
//! syncs so that a power cut can drop what was never synced.
//!
//! Files are matched by a substring of their path (a test's own directory),
//! so tests running in parallel in one process do not disturb each other.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Mutex, MutexGuard};

/// Which file of a job a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The database file `<job>.db`.
    Database,
    /// The write-ahead log `<job>.db-wal`.
    Wal,
    /// Either.
    Any,
}

/// Which I/O call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    /// A read.
    Read,
    /// A write.
    Write,
    /// An fsync.
    Sync,
}

/// The error the failing call reports, as the operating system would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errno {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: no space left on the device.
    Enospc,
}

impl Errno {
    /// The C `errno` value.
    pub(super) fn code(self) -> i32 {
        match self {
            Errno::Eio => libc::EIO,
            Errno::Enospc => libc::ENOSPC,
        }
    }
}

/// One rule of the plan: the calls of `op` on `target` files whose path
/// contains `path` fail with `errno`, after `after` matching calls have
/// passed, `times` times (forever by default), at file offsets from
/// `from_offset` on (reads and writes; syncs have no offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    path: String,
    target: Target,
    op: IoOp,
    errno: Errno,
    after: u64,
    times: Option<u64>,
    from_offset: u64,
}

impl Fault {
    /// A fault on every matching call.
    pub fn new(path: impl Into<String>, target: Target, op: IoOp, errno: Errno) -> Fault {
        Fault {
            path: path.into(),
            target,
            op,
            errno,
            after: 0,
            times: None,
            from_offset: 0,
        }
    }

    /// Lets the first `n` matching calls pass.
    pub fn after(mut self, n: u64) -> Fault {
        self.after = n;
        self
    }

    /// Fails `n` calls, then passes again.
    pub fn times(mut self, n: u64) -> Fault {
        self.times = Some(n);
        self
    }

    /// Matches only reads and writes at or past `offset`.
    pub fn from_offset(mut self, offset: u64) -> Fault {
        self.from_offset = offset;
        self
    }
}

/// What the VFS does with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Performs it.
    Pass,
    /// Fails it with this error (the power is off: `EIO`).
    Fail(Errno),
}

/// The kind of a call, as the plan sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Read,
    Write,
    Truncate,
    Sync,
    Delete,
}

/// Bytes a write or truncation replaced: undoing it restores them.
#[derive(Debug)]
struct Undo {
    /// The file length before the change.
    old_len: u64,
    offset: u64,
    /// The bytes at `offset` before the change, up to `old_len`.
    old: Vec<u8>,
    /// Bytes the change wrote (0 for a truncation).
    len: u64,
}

/// Power-cut tracking of the files whose path contains a prefix.
#[derive(Debug, Default)]
struct Power {
    /// Mutating calls (writes, truncations, syncs) seen.
    mutations: u64,
    /// The mutating call at which the power goes off by itself.
    cut_at: Option<u64>,
    /// The power is off: every call fails.
    cut: bool,
    /// With a seed, each unsynced 512-byte sector survives the cut or not
    /// at random; without, every unsynced write is lost.
    survive_seed: Option<u64>,
    /// Figures of the last cut.
    report: CutReport,
}

/// What a power cut did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutReport {
    /// Whether the power went off.
    pub cut: bool,
    /// Unsynced writes and truncations found at the cut.
    pub unsynced_changes: u64,
    /// Bytes those writes wrote.
    pub unsynced_bytes: u64,
    /// Sectors that kept their unsynced contents (random survival only).
    pub surviving_sectors: u64,
    /// Sectors rolled back to their last synced contents.
    pub lost_sectors: u64,
}

/// The plan: faults, power tracking and the unsynced changes.
pub(crate) struct State {
    faults: Vec<(Fault, u64, u64)>,
    powers: BTreeMap<String, Power>,
    /// Unsynced changes per file path, oldest first.
    undo: BTreeMap<String, Vec<Undo>>,
    /// Calls failed by faults, per rule path.
    injected: BTreeMap<String, u64>,
}

static STATE: Mutex<State> = Mutex::new(State {
    faults: Vec::new(),
    powers: BTreeMap::new(),
    undo: BTreeMap::new(),
    injected: BTreeMap::new(),
});
/// Set while any rule or tracking exists: the VFS skips the lock otherwise.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether the plan has anything in it.
pub(super) fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// The plan, locked; the VFS holds it across a tracked write so that a
/// power cut never interleaves with one.
pub(super) fn lock() -> MutexGuard<'static, State> {
    STATE.lock()
}

impl State {
    fn refresh(&self) {
        let any = !self.faults.is_empty() || !self.powers.is_empty();
        ACTIVE.store(any, Ordering::Release);
    }

    /// Whether `path` is under power-cut tracking (its changes recorded).
    pub(super) fn tracked(&self, path: &str) -> bool {
        self.powers.keys().any(|p| path.contains(p.as_str()))
    }

    /// Decides a call on `path` (a `wal` file or not) at `offset`.
    pub(super) fn decide(&mut self, path: &str, wal: bool, call: Call, offset: u64) -> Decision {
        let mutating = matches!(call, Call::Write | Call::Truncate | Call::Sync);
        let mut cut_now = None;
        for (prefix, power) in &mut self.powers {
            if !path.contains(prefix.as_str()) {
                continue;
            }
            if power.cut {
                return Decision::Fail(Errno::Eio);
            }
            if mutating {
                power.mutations += 1;
                if power.cut_at == Some(power.mutations) {
                    cut_now = Some(prefix.clone());
                }
            }
        }
        if let Some(prefix) = cut_now {
            self.cut(&prefix);
            return Decision::Fail(Errno::Eio);
        }
        let op = match call {
            Call::Read => IoOp::Read,
            Call::Write => IoOp::Write,
            Call::Sync => IoOp::Sync,
            Call::Truncate | Call::Delete => return Decision::Pass,
        };
        for (fault, seen, fired) in &mut self.faults {
            let target_ok = match fault.target {
                Target::Any => true,
                Target::Wal => wal,
                Target::Database => !wal,
            };
            if fault.op != op
                || !target_ok
                || !path.contains(fault.path.as_str())
                || (op != IoOp::Sync && offset < fault.from_offset)
            {
                continue;
            }
            *seen += 1;
            if *seen <= fault.after || fault.times.is_some_and(|t| *fired >= t) {
                continue;
            }
            *fired += 1;
            *self.injected.entry(fault.path.clone()).or_default() += 1;
            return Decision::Fail(fault.errno);
        }
        Decision::Pass
    }

    /// Records what a change of `path` replaces (before it is made).
    pub(super) fn record(&mut self, path: &str, old_len: u64, offset: u64, old: Vec<u8>, len: u64) {
        self.undo.entry(path.to_string()).or_default().push(Undo {
            old_len,
            offset,
            old,
            len,
        });
    }

    /// `path` was synced: its changes so far are durable.
    pub(super) fn synced(&mut self, path: &str) {
        self.undo.remove(path);
    }

    /// `path` was deleted: there is nothing left to roll back. (The
    /// directory entry counts as durable: this model loses file contents,
    /// not directory changes.)
    pub(super) fn deleted(&mut self, path: &str) {
        self.undo.remove(path);
    }

    /// Cuts the power of the files under `prefix`: their unsynced changes
    /// are undone on disk (all, or random sectors of them), and every later
    /// call on them fails until [`power_on`].
    fn cut(&mut self, prefix: &str) {
        let Some(power) = self.powers.get_mut(prefix) else {
            return;
        };
        power.cut = true;
        let mut report = CutReport {
            cut: true,
            ..CutReport::default()
        };
        let mut rng = power.survive_seed.map(|s| s | 1);
        let paths: Vec<String> = self
            .undo
            .keys()
            .filter(|p| p.contains(prefix))
            .cloned()
            .collect();
        for path in paths {
            let undo = self.undo.remove(&path).unwrap_or_default();
            report.unsynced_changes += undo.len() as u64;
            report.unsynced_bytes += undo.iter().map(|u| u.len).sum::<u64>();
            if let Err(e) = roll_back(&path, &undo, rng.as_mut(), &mut report) {
                panic!("fault injection: cannot roll {path} back to its synced state: {e}");
            }
        }
        power.report = report;
    }
}

const SECTOR: u64 = 512;

fn next_random(state: &mut u64) -> u64 {
    // xorshift64: deterministic for a seed, good enough for coin flips.
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Restores a file to its last synced state by undoing `undo` newest
/// first; with `rng`, each touched sector instead keeps its current
/// contents with probability 1/2.
fn roll_back(
    path: &str,
    undo: &[Undo],
    rng: Option<&mut u64>,
    report: &mut CutReport,
) -> std::io::Result<()> {
    let Some(first) = undo.first() else {
        return Ok(());
    };
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        // Deleted behind the VFS's back: nothing to roll back.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let now_len = file.metadata()?.len();
    let synced_len = first.old_len;
    let Some(rng) = rng else {
        for u in undo.iter().rev() {
            file.set_len(u.old_len)?;
            file.write_all_at(&u.old, u.offset)?;
        }
        report.lost_sectors += undo
            .iter()
            .map(|u| (u.old.len() as u64).max(u.len).div_ceil(SECTOR))
            .sum::<u64>();
        return file.sync_all();
    };
    // Sector images: as they are now, and as they were at the last sync.
    let mut now: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for u in undo {
        // The bytes it wrote, or for a truncation the bytes it cut off.
        let end = u.offset + (u.old.len() as u64).max(u.len).max(1);
        for s in u.offset / SECTOR..end.div_ceil(SECTOR) {
            now.entry(s).or_insert_with(|| {
                let mut b = vec![0u8; SECTOR as usize];
                let _ = file.read_at(&mut b, s * SECTOR);
                b
            });
        }
    }
    let mut then = now.clone();
    for u in undo.iter().rev() {
        for (i, byte) in u.old.iter().enumerate() {
            let at = u.offset + i as u64;
            if let Some(sector) = then.get_mut(&(at / SECTOR)) {
                sector[(at % SECTOR) as usize] = *byte;
            }
        }
        // Bytes past the old end did not exist then.
        for (s, sector) in then.iter_mut() {
            for (i, byte) in sector.iter_mut().enumerate() {
                if s * SECTOR + i as u64 >= u.old_len {
                    *byte = 0;
                }
            }
        }
    }
    let mut len = synced_len;
    for (s, image) in &then {
        if next_random(rng) & 1 == 0 {
            report.surviving_sectors += 1;
            len = len.max(((s + 1) * SECTOR).min(now_len));
        } else {
            report.lost_sectors += 1;
            file.write_all_at(image, s * SECTOR)?;
        }
    }
    file.set_len(len)?;
    file.sync_all()
}

/// Adds a fault to the plan.
pub fn inject(fault: Fault) {
    let mut state = lock();
    state.faults.push((fault, 0, 0));
    state.refresh();
}

/// Removes every fault and power tracking of files whose path contains
/// `path` (the power of cut ones comes back on).
pub fn clear(path: &str) {
    let mut state = lock();
    state.faults.retain(|(f, _, _)| f.path != path);
    state.powers.retain(|p, _| p != path);
    state.undo.retain(|p, _| !p.contains(path));
    state.refresh();
}

/// Calls failed so far by faults registered under `path`.
pub fn injected(path: &str) -> u64 {
    lock().injected.get(path).copied().unwrap_or(0)
}

/// Starts recording the unsynced changes of the files whose path contains
/// `path`, so that a power cut can undo them. With `cut_at`, the power goes
/// off by itself at that mutating call (write, truncate or fsync; counted
/// from 1), which fails. With `survive_seed`, a cut keeps each unsynced
/// sector with probability 1/2 (torn writes) instead of dropping them all.
pub fn track_power(path: &str, cut_at: Option<u64>, survive_seed: Option<u64>) {
    let mut state = lock();
    state.powers.insert(
        path.to_string(),
        Power {
            cut_at,
            survive_seed,
            ..Power::default()
        },
    );
    state.refresh();
}

/// Cuts the power now (if it is not off already) and reports what the cut
/// undid.
pub fn power_cut(path: &str) -> CutReport {
    let mut state = lock();
    if state.powers.get(path).is_some_and(|p| !p.cut) {
        state.cut(path);
    }
    state.powers.get(path).map(|p| p.report).unwrap_or_default()
}

/// Whether the power of `path` is off, and the mutating calls seen.
pub fn power_state(path: &str) -> (bool, u64) {
    lock()
        .powers
        .get(path)
        .map_or((false, 0), |p| (p.cut, p.mutations))
}

/// Turns the power back on: tracking of `path` ends, its files serve again.
pub fn power_on(path: &str) {
    let mut state = lock();
    state.powers.remove(path);
    state.undo.retain(|p, _| !p.contains(path));
    state.refresh();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `data` at `off` into the file at `path`, recording the undo as
    /// the VFS does.
    fn write(state: &mut State, path: &str, off: u64, data: &[u8]) {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .expect("open");
        let old_len = file.metadata().expect("metadata").len();
        let keep = old_len.saturating_sub(off).min(data.len() as u64) as usize;
        let mut old = vec![0u8; keep];
        file.read_exact_at(&mut old, off).expect("read");
        state.record(path, old_len, off, old, data.len() as u64);
        file.write_all_at(data, off).expect("write");
    }

    fn state() -> State {
        State {
            faults: Vec::new(),
            powers: BTreeMap::new(),
            undo: BTreeMap::new(),
            injected: BTreeMap::new(),
        }
    }

    #[test]
    fn a_cut_restores_the_synced_bytes_and_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f").to_string_lossy().into_owned();
        std::fs::write(&path, vec![1u8; 1000]).expect("create");
        let mut s = state();
        s.powers.insert(path.clone(), Power::default());
        write(&mut s, &path, 100, &[2u8; 300]);
        s.synced(&path);
        let synced = std::fs::read(&path).expect("read");
        write(&mut s, &path, 200, &[3u8; 2000]);
        write(&mut s, &path, 0, &[4u8; 50]);
        s.cut(&path);
        assert_eq!(std::fs::read(&path).expect("read"), synced);
        assert_eq!(
            s.decide(&path, false, Call::Read, 0),
            Decision::Fail(Errno::Eio)
        );
        let report = s.powers[&path].report;
        assert_eq!((report.unsynced_changes, report.unsynced_bytes), (2, 2050));
    }

    #[test]
    fn a_torn_cut_keeps_each_sector_old_or_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f").to_string_lossy().into_owned();
        std::fs::write(&path, vec![1u8; 2048]).expect("create");
        let mut s = state();
        s.powers.insert(
            path.clone(),
            Power {
                survive_seed: Some(7),
                ..Power::default()
            },
        );
        write(&mut s, &path, 0, &[5u8; 4096]);
        s.cut(&path);
        let after = std::fs::read(&path).expect("read");
        let report = s.powers[&path].report;
        assert_eq!(report.surviving_sectors + report.lost_sectors, 8);
        assert!(report.surviving_sectors > 0 && report.lost_sectors > 0);
        for (i, sector) in after.chunks(SECTOR as usize).enumerate() {
            let old = if i < 4 { 1u8 } else { 0u8 };
            assert!(
                sector.iter().all(|&b| b == 5) || sector.iter().all(|&b| b == old),
                "sector {i} is neither old nor new"
            );
        }
        assert!(after.len() >= 2048 && after.len() <= 4096);
    }

    #[test]
    fn faults_match_file_op_offset_and_count() {
        let mut s = state();
        s.faults.push((
            Fault::new("/root-a/", Target::Wal, IoOp::Write, Errno::Enospc)
                .after(1)
                .times(2)
                .from_offset(4096),
            0,
            0,
        ));
        let wal = "/x/root-a/j.db-wal";
        assert_eq!(
            s.decide("/x/root-b/j.db-wal", true, Call::Write, 8192),
            Decision::Pass
        );
        assert_eq!(
            s.decide("/x/root-a/j.db", false, Call::Write, 8192),
            Decision::Pass
        );
        assert_eq!(s.decide(wal, true, Call::Read, 8192), Decision::Pass);
        assert_eq!(s.decide(wal, true, Call::Write, 0), Decision::Pass);
        assert_eq!(
            s.decide(wal, true, Call::Write, 8192),
            Decision::Pass,
            "after(1)"
        );
        for _ in 0..2 {
            assert_eq!(
                s.decide(wal, true, Call::Write, 8192),
                Decision::Fail(Errno::Enospc)
            );
        }
        assert_eq!(
            s.decide(wal, true, Call::Write, 8192),
            Decision::Pass,
            "times(2)"
        );
        assert_eq!(s.injected.get("/root-a/"), Some(&2));
    }
}
