//! A SQLite VFS that injects disk faults (the `fault-injection` feature).
//!
//! `persistency-fault` wraps the default `unix` VFS: every file it opens is
//! a unix file with this module's methods in front, which ask the plan
//! (`faultplan.rs`) whether to fail a read, write or fsync with `EIO` or
//! `ENOSPC` (reported with the codes the unix VFS would give: `SQLITE_FULL`
//! for a write that finds no space, `SQLITE_IOERR_*` otherwise), and record
//! the unsynced changes of tracked files so that a simulated power cut can
//! drop them. Memory-mapped reads are refused (`xFetch` hands out no
//! mapping), so every read goes through `xRead`. With an empty plan every
//! call passes straight through.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi::{self, sqlite3_file, sqlite3_int64, sqlite3_io_methods, sqlite3_vfs};

use super::faultplan::{self, Call, Decision, Errno};

/// The name the VFS is registered under.
pub(super) const NAME: &CStr = c"persistency-fault";

/// A file of this VFS: its methods, what it is, and the unix file it
/// wraps, which SQLite allocates right behind it (`szOsFile` covers both).
#[repr(C)]
struct FaultFile {
    base: sqlite3_file,
    /// The path SQLite opened (valid until `xClose`), or NULL.
    name: *const c_char,
    /// The file is a write-ahead log.
    wal: bool,
    /// The wrapped unix file.
    inner: *mut sqlite3_file,
}

/// Bytes of the header, rounded up so the unix file behind it is aligned.
const HEADER: usize = std::mem::size_of::<FaultFile>().div_ceil(16) * 16;

struct Registered {
    root: *mut sqlite3_vfs,
}

// SAFETY: the pointer is to the process-wide unix VFS, which SQLite never
// frees and which is safe to use from any thread.
unsafe impl Send for Registered {}
// SAFETY: as for `Send`: the VFS object is immutable shared state.
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Result<Registered, String>> = OnceLock::new();

/// Registers the VFS (once per process); an error if SQLite has no unix VFS.
pub(super) fn register() -> Result<(), String> {
    REGISTERED
        .get_or_init(|| {
            // SAFETY: sqlite3_vfs_find takes a NUL-terminated name; it
            // initialises SQLite if needed and returns a static VFS or NULL.
            let root = unsafe { ffi::sqlite3_vfs_find(c"unix".as_ptr()) };
            if root.is_null() {
                return Err("SQLite has no unix VFS".to_string());
            }
            // SAFETY: `root` is the live unix VFS; copying its struct copies
            // function pointers and constants.
            let mut vfs: sqlite3_vfs = unsafe { *root };
            vfs.szOsFile += HEADER as c_int;
            vfs.zName = NAME.as_ptr();
            vfs.pNext = std::ptr::null_mut();
            vfs.pAppData = std::ptr::null_mut();
            vfs.xOpen = Some(x_open);
            vfs.xDelete = Some(x_delete);
            // The other methods stay the unix VFS's own: none of them reads
            // its VFS argument (os_unix.c marks it unused), only xOpen does,
            // and ours passes the unix VFS itself.
            let vfs = Box::leak(Box::new(vfs));
            // SAFETY: `vfs` lives forever (leaked) and is fully initialised;
            // registering it does not make it the default.
            let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
            if rc != ffi::SQLITE_OK {
                return Err(format!("sqlite3_vfs_register failed: {rc}"));
            }
            Ok(Registered { root })
        })
        .as_ref()
        .map(|_| ())
        .map_err(Clone::clone)
}

fn root() -> *mut sqlite3_vfs {
    match REGISTERED.get() {
        Some(Ok(r)) => r.root,
        _ => std::ptr::null_mut(),
    }
}

/// The path of a file, "" for an anonymous one.
///
/// # Safety
/// `file` is a live file of this VFS.
unsafe fn path_of<'a>(file: *mut sqlite3_file) -> (&'a str, bool) {
    // SAFETY: a file of this VFS starts with a `FaultFile` (xOpen made it).
    let f = unsafe { &*(file as *const FaultFile) };
    let name = if f.name.is_null() {
        ""
    } else {
        // SAFETY: SQLite keeps the name valid and unchanged until xClose.
        unsafe { CStr::from_ptr(f.name) }.to_str().unwrap_or("")
    };
    (name, f.wal)
}

/// The wrapped unix file and its methods.
///
/// # Safety
/// `file` is a live, successfully opened file of this VFS.
unsafe fn inner(file: *mut sqlite3_file) -> (*mut sqlite3_file, &'static sqlite3_io_methods) {
    // SAFETY: xOpen stored the inner file, whose methods the unix VFS set
    // to a static table.
    unsafe {
        let inner = (*(file as *const FaultFile)).inner;
        (inner, &*(*inner).pMethods)
    }
}

/// Sets `errno` as the failing system call would have.
fn set_errno(errno: Errno) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = errno.code() };
}

/// The plan's decision on a call (Pass without taking the lock when the
/// plan is empty).
fn decide(path: &str, wal: bool, call: Call, offset: u64) -> Decision {
    if !faultplan::active() || path.is_empty() {
        return Decision::Pass;
    }
    faultplan::lock().decide(path, wal, call, offset)
}

unsafe extern "C" fn x_open(
    _vfs: *mut sqlite3_vfs,
    name: *const c_char,
    file: *mut sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let root = root();
    // SAFETY: SQLite hands us `szOsFile` bytes at `file`: our header, then
    // room for the unix file; `root` is the unix VFS.
    unsafe {
        let f = file as *mut FaultFile;
        let inner = (file as *mut u8).add(HEADER) as *mut sqlite3_file;
        (*f).base.pMethods = std::ptr::null();
        (*f).name = name;
        (*f).wal = flags & ffi::SQLITE_OPEN_WAL != 0;
        (*f).inner = inner;
        let Some(open) = (*root).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(root, name, inner, flags, out_flags);
        if !(*inner).pMethods.is_null() {
            (*f).base.pMethods = &METHODS;
        }
        rc
    }
}

unsafe extern "C" fn x_delete(
    _vfs: *mut sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    let root = root();
    // SAFETY: `name` is a NUL-terminated path from SQLite.
    let path = unsafe { CStr::from_ptr(name) }.to_str().unwrap_or("");
    if let Decision::Fail(errno) = decide(path, false, Call::Delete, 0) {
        set_errno(errno);
        return ffi::SQLITE_IOERR_DELETE;
    }
    // SAFETY: forwarded as received to the unix VFS.
    let rc = unsafe {
        match (*root).xDelete {
            Some(delete) => delete(root, name, sync_dir),
            None => ffi::SQLITE_IOERR_DELETE,
        }
    };
    if rc == ffi::SQLITE_OK && faultplan::active() {
        faultplan::lock().deleted(path);
    }
    rc
}

unsafe extern "C" fn x_close(file: *mut sqlite3_file) -> c_int {
    // SAFETY: a live file of this VFS; the unix file closes itself.
    unsafe {
        let (inner, m) = inner(file);
        let rc = m.xClose.map_or(ffi::SQLITE_OK, |f| f(inner));
        (*file).pMethods = std::ptr::null();
        rc
    }
}

unsafe extern "C" fn x_read(
    file: *mut sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    off: sqlite3_int64,
) -> c_int {
    // SAFETY: a live file of this VFS; the arguments go on unchanged.
    unsafe {
        let (path, wal) = path_of(file);
        if let Decision::Fail(errno) = decide(path, wal, Call::Read, off as u64) {
            set_errno(errno);
            return ffi::SQLITE_IOERR_READ;
        }
        let (inner, m) = inner(file);
        m.xRead
            .map_or(ffi::SQLITE_IOERR_READ, |f| f(inner, buf, amt, off))
    }
}

/// What a change of `len` bytes at `off` replaces: the file length and
/// the bytes there before it.
///
/// # Safety
/// `file` is a live file of this VFS.
unsafe fn before_change(file: *mut sqlite3_file, off: u64, len: u64) -> (u64, Vec<u8>) {
    // SAFETY: reads through the unix file's own methods into a local buffer.
    unsafe {
        let (inner, m) = inner(file);
        let mut size: sqlite3_int64 = 0;
        if let Some(file_size) = m.xFileSize {
            file_size(inner, &mut size);
        }
        let old_len = size.max(0) as u64;
        let keep = old_len.saturating_sub(off).min(len) as usize;
        let mut old = vec![0u8; keep];
        if keep > 0 {
            if let Some(read) = m.xRead {
                read(
                    inner,
                    old.as_mut_ptr().cast(),
                    keep as c_int,
                    off as sqlite3_int64,
                );
            }
        }
        (old_len, old)
    }
}

unsafe extern "C" fn x_write(
    file: *mut sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    off: sqlite3_int64,
) -> c_int {
    // SAFETY: a live file of this VFS; the arguments go on unchanged.
    unsafe {
        let (path, wal) = path_of(file);
        let (inner, m) = inner(file);
        let write = |inner| {
            m.xWrite
                .map_or(ffi::SQLITE_IOERR_WRITE, |f| f(inner, buf, amt, off))
        };
        if !faultplan::active() || path.is_empty() {
            return write(inner);
        }
        // The plan stays locked across the write: a power cut never
        // interleaves with a half-recorded change.
        let mut plan = faultplan::lock();
        match plan.decide(path, wal, Call::Write, off as u64) {
            Decision::Fail(Errno::Enospc) => {
                set_errno(Errno::Enospc);
                ffi::SQLITE_FULL
            }
            Decision::Fail(errno) => {
                set_errno(errno);
                ffi::SQLITE_IOERR_WRITE
            }
            Decision::Pass => {
                if plan.tracked(path) {
                    let (old_len, old) = before_change(file, off as u64, amt as u64);
                    plan.record(path, old_len, off as u64, old, amt as u64);
                }
                write(inner)
            }
        }
    }
}

unsafe extern "C" fn x_truncate(file: *mut sqlite3_file, size: sqlite3_int64) -> c_int {
    // SAFETY: a live file of this VFS; the arguments go on unchanged.
    unsafe {
        let (path, wal) = path_of(file);
        let (inner, m) = inner(file);
        let truncate = |inner| {
            m.xTruncate
                .map_or(ffi::SQLITE_IOERR_TRUNCATE, |f| f(inner, size))
        };
        if !faultplan::active() || path.is_empty() {
            return truncate(inner);
        }
        let mut plan = faultplan::lock();
        if let Decision::Fail(errno) = plan.decide(path, wal, Call::Truncate, size as u64) {
            set_errno(errno);
            return ffi::SQLITE_IOERR_TRUNCATE;
        }
        if plan.tracked(path) {
            let (old_len, old) = before_change(file, size as u64, u64::MAX >> 1);
            plan.record(path, old_len, size as u64, old, 0);
        }
        truncate(inner)
    }
}

unsafe extern "C" fn x_sync(file: *mut sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: a live file of this VFS; the arguments go on unchanged.
    unsafe {
        let (path, wal) = path_of(file);
        let (inner, m) = inner(file);
        let sync = |inner| m.xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |f| f(inner, flags));
        if !faultplan::active() || path.is_empty() {
            return sync(inner);
        }
        let mut plan = faultplan::lock();
        if let Decision::Fail(errno) = plan.decide(path, wal, Call::Sync, 0) {
            set_errno(errno);
            return ffi::SQLITE_IOERR_FSYNC;
        }
        let rc = sync(inner);
        if rc == ffi::SQLITE_OK {
            plan.synced(path);
        }
        rc
    }
}

unsafe extern "C" fn x_fetch(
    _file: *mut sqlite3_file,
    _off: sqlite3_int64,
    _amt: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes a valid out pointer; no mapping means "use
    // xRead", which is where faults are injected.
    unsafe { *pp = std::ptr::null_mut() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_unfetch(
    _file: *mut sqlite3_file,
    _off: sqlite3_int64,
    _p: *mut c_void,
) -> c_int {
    ffi::SQLITE_OK
}

/// Forwards a method that takes only the file and plain arguments.
macro_rules! forward {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*), $ret:ty, $default:expr) => {
        unsafe extern "C" fn $name(file: *mut sqlite3_file $(, $arg: $ty)*) -> $ret {
            // SAFETY: a live file of this VFS; the unix file gets the same
            // arguments SQLite gave.
            unsafe {
                let (inner, m) = inner(file);
                m.$method.map_or($default, |f| f(inner $(, $arg)*))
            }
        }
    };
}

forward!(x_file_size, xFileSize, (size: *mut sqlite3_int64), c_int, ffi::SQLITE_IOERR_FSTAT);
forward!(x_lock, xLock, (level: c_int), c_int, ffi::SQLITE_IOERR_LOCK);
forward!(x_unlock, xUnlock, (level: c_int), c_int, ffi::SQLITE_IOERR_UNLOCK);
forward!(x_check_reserved, xCheckReservedLock, (out: *mut c_int), c_int, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
forward!(x_file_control, xFileControl, (op: c_int, arg: *mut c_void), c_int, ffi::SQLITE_NOTFOUND);
forward!(x_sector_size, xSectorSize, (), c_int, 4096);
forward!(
    x_device_characteristics,
    xDeviceCharacteristics,
    (),
    c_int,
    0
);
forward!(x_shm_map, xShmMap, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void), c_int, ffi::SQLITE_IOERR_SHMMAP);
forward!(x_shm_lock, xShmLock, (offset: c_int, n: c_int, flags: c_int), c_int, ffi::SQLITE_IOERR_SHMLOCK);
forward!(x_shm_unmap, xShmUnmap, (delete: c_int), c_int, ffi::SQLITE_OK);

unsafe extern "C" fn x_shm_barrier(file: *mut sqlite3_file) {
    // SAFETY: a live file of this VFS.
    unsafe {
        let (inner, m) = inner(file);
        if let Some(f) = m.xShmBarrier {
            f(inner);
        }
    }
}

static METHODS: sqlite3_io_methods = sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};
