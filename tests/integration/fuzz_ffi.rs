//! Property-based fuzzing of the C entry points that parse caller data,
//! called from Rust exactly as a C host calls them: the key builder
//! (`persistency_key_*`), `persistency_prefix_stop`, the fire-and-forget
//! writes and `persistency_write` with arbitrary `persistency_op` kinds,
//! lengths, NULL pointers with zero and non-zero lengths, and categories up
//! to and past 65535 bytes.
//!
//! Invariants:
//! - nothing crashes, and no call writes outside the buffers it was given
//!   (canary bytes after every output buffer);
//! - bad input → `PERSISTENCY_ERR_INVALID_ARGUMENT` with a last error set,
//!   nothing queued (stats unchanged after a flush) and no callback;
//! - valid input → `PERSISTENCY_OK`, the callback exactly once with OK, and
//!   the stats count the ops; keys are encoded as API.md's table says
//!   (checked against an encoder written here from that table) and a
//!   refused part leaves the key unchanged.
//!
//! Bounded: `PROPTEST_CASES` (default 10000) sequences of up to 7 calls
//! (about 2 s in release mode); `PROPTEST_RNG_SEED` changes the seed.

use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::mpsc;

use ::persistency::ffi::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

const MAX_PART: usize = 65_535;
const CANARY: u8 = 0xAB;

/// A byte buffer argument: what the pointer is and what length is claimed.
#[derive(Debug, Clone)]
enum Buf {
    /// NULL with this length (valid only for 0).
    Null(usize),
    /// A real buffer of `len` bytes, generated from `seed`.
    Data { len: usize, seed: u8 },
}

impl Buf {
    fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Buf::Null(_) => None,
            Buf::Data { len, seed } => Some(
                (0..*len)
                    .map(|i| seed.wrapping_mul(31).wrapping_add((i % 251) as u8))
                    .collect(),
            ),
        }
    }

    fn len(&self) -> usize {
        match self {
            Buf::Null(len) => *len,
            Buf::Data { len, .. } => *len,
        }
    }

    fn valid(&self) -> bool {
        !matches!(self, Buf::Null(n) if *n != 0)
    }
}

/// Materialised pointer and length for a call; keeps the bytes alive.
struct Arg {
    bytes: Option<Vec<u8>>,
    len: usize,
}

impl Arg {
    fn new(buf: &Buf) -> Arg {
        Arg {
            bytes: buf.bytes(),
            len: buf.len(),
        }
    }

    fn ptr(&self) -> *const u8 {
        self.bytes.as_ref().map_or(std::ptr::null(), |b| b.as_ptr())
    }
}

/// A category argument.
#[derive(Debug, Clone)]
enum Category {
    Null,
    /// A NUL-terminated string of this many bytes (no NUL inside).
    Text(usize),
}

impl Category {
    fn c_string(&self) -> Option<Vec<u8>> {
        match self {
            Category::Null => None,
            Category::Text(n) => {
                let mut s: Vec<u8> = (0..*n).map(|i| b'a' + (i % 26) as u8).collect();
                s.push(0);
                Some(s)
            }
        }
    }

    fn valid(&self) -> bool {
        matches!(self, Category::Text(n) if *n <= MAX_PART)
    }
}

fn ptr_of(s: &Option<Vec<u8>>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |v| v.as_ptr().cast())
}

/// One part pushed onto a key.
#[derive(Debug, Clone)]
enum Part {
    /// `push_str`: NULL, or a NUL-terminated string whose bytes are
    /// `buf` cut at its first NUL.
    Str(Buf),
    Bytes(Buf),
    Raw(Buf),
    I64(i64),
    U64(u64),
    U8(u8),
    Bool(bool),
    Clear,
}

#[derive(Debug, Clone)]
struct Op {
    kind: i32,
    category: Category,
    key: Buf,
    payload: Buf,
}

impl Op {
    fn valid(&self) -> bool {
        let uses_payload = matches!(self.kind, PERSISTENCY_OP_PUT | PERSISTENCY_OP_DELETE_RANGE);
        (0..=3).contains(&self.kind)
            && self.category.valid()
            && self.key.valid()
            && (!uses_payload || self.payload.valid())
            && (self.kind != PERSISTENCY_OP_DELETE_RANGE || self.range_ordered())
    }

    /// A range's start (key) is not after its stop (payload; empty: no
    /// upper bound).
    fn range_ordered(&self) -> bool {
        let start = self.key.bytes().unwrap_or_default();
        let stop = self.payload.bytes().unwrap_or_default();
        stop.is_empty() || start <= stop
    }
}

#[derive(Debug, Clone)]
enum Call {
    Key(Vec<Part>),
    PrefixStop {
        prefix: Buf,
        out_null: bool,
        out_len_null: bool,
    },
    Put(Op),
    Delete(Op),
    DeletePrefix(Op),
    Write {
        ops: Vec<Op>,
        /// NULL `ops` with this count instead of the array.
        null_ops: Option<usize>,
        callback: bool,
    },
}

fn buf(max_small: usize) -> impl Strategy<Value = Buf> {
    prop_oneof![
        8 => (0..=max_small, any::<u8>()).prop_map(|(len, seed)| Buf::Data { len, seed }),
        2 => Just(Buf::Null(0)),
        2 => prop_oneof![Just(1usize), Just(7), Just(MAX_PART + 1), Just(usize::MAX)]
            .prop_map(Buf::Null),
        1 => (prop_oneof![Just(MAX_PART), Just(MAX_PART + 1), Just(70_000usize)], any::<u8>())
            .prop_map(|(len, seed)| Buf::Data { len, seed }),
    ]
}

fn category() -> impl Strategy<Value = Category> {
    prop_oneof![
        8 => (0usize..6).prop_map(Category::Text),
        1 => Just(Category::Null),
        1 => prop_oneof![Just(MAX_PART), Just(MAX_PART + 1), Just(100_000usize)]
            .prop_map(Category::Text),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        8 => 0i32..=3,
        1 => any::<i32>(),
        1 => prop_oneof![Just(-1i32), Just(4), Just(i32::MIN), Just(i32::MAX)],
    ];
    (kind, category(), buf(6), buf(8)).prop_map(|(kind, category, key, payload)| Op {
        kind,
        category,
        key,
        payload,
    })
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        3 => buf(12).prop_map(Part::Str),
        3 => buf(12).prop_map(Part::Bytes),
        2 => buf(12).prop_map(Part::Raw),
        1 => any::<i64>().prop_map(Part::I64),
        1 => any::<u64>().prop_map(Part::U64),
        1 => any::<u8>().prop_map(Part::U8),
        1 => any::<bool>().prop_map(Part::Bool),
        1 => Just(Part::Clear),
    ]
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        3 => prop::collection::vec(part(), 0..8).prop_map(Call::Key),
        2 => (buf(10), prop::bool::weighted(0.1), prop::bool::weighted(0.1)).prop_map(
            |(prefix, out_null, out_len_null)| Call::PrefixStop { prefix, out_null, out_len_null }
        ),
        2 => op().prop_map(Call::Put),
        1 => op().prop_map(Call::Delete),
        1 => op().prop_map(Call::DeletePrefix),
        3 => (
            prop::collection::vec(op(), 0..5),
            prop_oneof![8 => Just(None), 1 => Just(Some(0usize)), 1 => (1usize..4).prop_map(Some)],
            any::<bool>()
        )
            .prop_map(|(ops, null_ops, callback)| Call::Write { ops, null_ops, callback }),
    ]
}

// ---- the oracle: API.md's key table ---------------------------------------------

fn len_prefixed(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() > MAX_PART {
        return None;
    }
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    Some(out)
}

/// The bytes a part appends, or `None` if it must be refused.
fn expected_part(part: &Part) -> Option<Vec<u8>> {
    match part {
        Part::Str(b) => {
            let bytes = b.bytes()?;
            let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
            len_prefixed(&bytes[..end])
        }
        Part::Bytes(b) => match b.bytes() {
            Some(bytes) => len_prefixed(&bytes),
            None => b.valid().then(|| vec![0, 0]),
        },
        Part::Raw(b) => match b.bytes() {
            Some(bytes) => Some(bytes),
            None => b.valid().then(Vec::new),
        },
        Part::I64(v) => Some(((*v as u64) ^ 0x8000_0000_0000_0000).to_be_bytes().to_vec()),
        Part::U64(v) => Some(v.to_be_bytes().to_vec()),
        Part::U8(v) => Some(vec![*v]),
        Part::Bool(v) => Some(vec![u8::from(*v)]),
        Part::Clear => Some(Vec::new()),
    }
}

fn expected_stop(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|&b| b != 0xFF) {
        Some(last) => {
            let mut stop = prefix[..=last].to_vec();
            stop[last] += 1;
            stop
        }
        None => Vec::new(),
    }
}

// ---- driving the C ABI ----------------------------------------------------------

/// Callbacks of `persistency_write`, counted per outcome.
static WRITE_OK: AtomicU64 = AtomicU64::new(0);
static WRITE_NOT_OK: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn on_write(result: *const CResult, _user_data: *mut c_void) {
    // SAFETY: the library passes a valid result for the callback's duration.
    let status = unsafe { (*result).status };
    if status == PERSISTENCY_OK {
        WRITE_OK.fetch_add(1, SeqCst);
    } else {
        WRITE_NOT_OK.fetch_add(1, SeqCst);
    }
}

unsafe extern "C" fn on_flush(result: *const CResult, user_data: *mut c_void) {
    // SAFETY: `user_data` is the boxed `SyncSender` that `flush` gave up,
    // handed to this callback alone (exactly once); `result` is valid
    // during the call. The callback owns the sender, so the waiting thread
    // may return and free its receiver while `send` is still finishing.
    let (tx, status) = unsafe {
        (
            Box::from_raw(user_data as *mut mpsc::SyncSender<i32>),
            (*result).status,
        )
    };
    let _ = tx.send(status);
}

struct Job {
    instance: *mut PersistencyHandle,
    job: *mut JobHandle,
}

impl Job {
    fn open() -> Job {
        let root = c":memory:";
        let mut instance = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
            unsafe { persistency_new(root.as_ptr(), &mut instance) },
            PERSISTENCY_OK
        );
        let mut job = std::ptr::null_mut();
        assert_eq!(
            // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
            unsafe { persistency_open_job(instance, c"fuzz".as_ptr(), &mut job) },
            PERSISTENCY_OK
        );
        Job { instance, job }
    }

    fn flush(&self) {
        let (tx, rx) = mpsc::sync_channel::<i32>(1);
        let tx = Box::into_raw(Box::new(tx));
        // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
        let st = unsafe { persistency_flush(self.job, Some(on_flush), tx.cast()) };
        assert_eq!(st, PERSISTENCY_OK);
        assert_eq!(rx.recv().expect("flush callback"), PERSISTENCY_OK);
    }

    fn stats(&self) -> CStats {
        let mut s = CStats::default();
        // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
        assert_eq!(
            unsafe { persistency_job_stats(self.job, &mut s) },
            PERSISTENCY_OK
        );
        s
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
        unsafe { persistency_close(self.instance) };
        // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
        unsafe { persistency_job_release(self.job) };
        // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
        unsafe { persistency_release(self.instance) };
    }
}

fn last_error_set() -> bool {
    // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
    let p = unsafe { persistency_last_error() };
    // SAFETY: NUL-terminated and valid until the next call on this thread.
    !p.is_null() && !unsafe { CStr::from_ptr(p) }.to_bytes().is_empty()
}

type Check = Result<(), String>;

/// Calls that were expected to succeed / to be refused, and were.
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);

fn expect_status(what: &str, got: i32, valid: bool) -> Check {
    let want = if valid {
        PERSISTENCY_OK
    } else {
        PERSISTENCY_ERR_INVALID_ARGUMENT
    };
    if got != want {
        return Err(format!("{what}: status {got}, expected {want}"));
    }
    if !valid && !last_error_set() {
        return Err(format!("{what}: failed without a last error"));
    }
    // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
    if valid && !unsafe { persistency_last_error() }.is_null() {
        return Err(format!("{what}: succeeded but left a last error"));
    }
    if valid { &ACCEPTED } else { &REFUSED }.fetch_add(1, SeqCst);
    Ok(())
}

fn key_calls(parts: &[Part]) -> Check {
    // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
    let key = unsafe { persistency_key_new() };
    if key.is_null() {
        return Err("persistency_key_new returned NULL".into());
    }
    let mut model: Vec<u8> = Vec::new();
    let mut result = Ok(());
    for (i, part) in parts.iter().enumerate() {
        let expected = expected_part(part);
        let status = match part {
            Part::Str(b) => {
                let s = b.bytes().map(|mut v| {
                    v.push(0);
                    v
                });
                // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
                unsafe { persistency_key_push_str(key, ptr_of(&s)) }
            }
            Part::Bytes(b) => {
                let a = Arg::new(b);
                // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
                unsafe { persistency_key_push_bytes(key, a.ptr(), a.len) }
            }
            Part::Raw(b) => {
                let a = Arg::new(b);
                // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
                unsafe { persistency_key_push_raw(key, a.ptr(), a.len) }
            }
            // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
            Part::I64(v) => unsafe { persistency_key_push_i64(key, *v) },
            // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
            Part::U64(v) => unsafe { persistency_key_push_u64(key, *v) },
            // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
            Part::U8(v) => unsafe { persistency_key_push_u8(key, *v) },
            // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
            Part::Bool(v) => unsafe { persistency_key_push_bool(key, *v) },
            Part::Clear => {
                // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
                unsafe { persistency_key_clear(key) };
                model.clear();
                PERSISTENCY_OK
            }
        };
        if !matches!(part, Part::Clear) {
            if let Err(e) = expect_status(&format!("part {i} {part:?}"), status, expected.is_some())
            {
                result = Err(e);
                break;
            }
            if let Some(bytes) = &expected {
                model.extend_from_slice(bytes);
            }
        }
        let mut len = usize::MAX;
        // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
        let data = unsafe { persistency_key_data(key, &mut len) };
        let got: &[u8] = if data.is_null() {
            &[]
        } else {
            // SAFETY: `len` bytes at `data`, valid until the key changes.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        if len != model.len() || got != model.as_slice() {
            result = Err(format!(
                "after part {i} {part:?}: key is {} bytes, expected {} (contents differ: {})",
                len,
                model.len(),
                got != model.as_slice()
            ));
            break;
        }
    }
    // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
    unsafe { persistency_key_free(key) };
    result
}

fn prefix_stop_call(prefix: &Buf, out_null: bool, out_len_null: bool) -> Check {
    let a = Arg::new(prefix);
    let want = a.bytes.as_ref().map(|p| expected_stop(p));
    let mut out = vec![CANARY; a.len.min(MAX_PART * 2) + 16];
    let mut out_len = usize::MAX;
    let out_ptr = if out_null {
        std::ptr::null_mut()
    } else {
        out.as_mut_ptr()
    };
    let out_len_ptr: *mut usize = if out_len_null {
        std::ptr::null_mut()
    } else {
        &mut out_len
    };
    // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
    let status = unsafe { persistency_prefix_stop(a.ptr(), a.len, out_ptr, out_len_ptr) };
    let stop = match (&want, prefix.valid()) {
        (Some(stop), _) => Some(stop.clone()),
        (None, true) => Some(Vec::new()),
        (None, false) => None,
    };
    let valid = !out_len_null && stop.as_ref().is_some_and(|s| s.is_empty() || !out_null);
    expect_status(
        &format!("prefix_stop({prefix:?}, out_null {out_null}, out_len_null {out_len_null})"),
        status,
        valid,
    )?;
    let written = if valid {
        stop.as_ref().map_or(0, Vec::len)
    } else {
        0
    };
    if valid {
        let stop = stop.expect("valid implies a stop");
        if out_len != stop.len() || out[..stop.len()] != stop[..] {
            return Err(format!(
                "prefix_stop: got {out_len} bytes, expected {stop:?}"
            ));
        }
    }
    if out[written..].iter().any(|&b| b != CANARY) {
        return Err("prefix_stop wrote past the stop".into());
    }
    Ok(())
}

/// Materialised op arguments, kept alive across the call.
struct OwnedOp {
    category: Option<Vec<u8>>,
    key: Arg,
    payload: Arg,
}

impl OwnedOp {
    fn new(op: &Op) -> OwnedOp {
        OwnedOp {
            category: op.category.c_string(),
            key: Arg::new(&op.key),
            payload: Arg::new(&op.payload),
        }
    }

    fn raw(&self, kind: i32) -> COp {
        COp {
            kind,
            category: ptr_of(&self.category),
            key: self.key.ptr(),
            key_len: self.key.len,
            payload: self.payload.ptr(),
            payload_len: self.payload.len,
        }
    }
}

/// Runs one write call; checks its status and callback, and that the
/// stats move by exactly what was accepted.
fn write_call(job: &Job, c: &Call) -> Check {
    let before = job.stats();
    let (ok_before, not_ok_before) = (WRITE_OK.load(SeqCst), WRITE_NOT_OK.load(SeqCst));
    let (status, valid, applied, callback) = match c {
        Call::Put(op) | Call::Delete(op) | Call::DeletePrefix(op) => {
            let kind = match c {
                Call::Put(_) => PERSISTENCY_OP_PUT,
                Call::Delete(_) => PERSISTENCY_OP_DELETE,
                _ => PERSISTENCY_OP_DELETE_PREFIX,
            };
            let single = Op { kind, ..op.clone() };
            let a = OwnedOp::new(&single);
            let cat = ptr_of(&a.category);
            let status = match kind {
                // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
                PERSISTENCY_OP_PUT => unsafe {
                    persistency_put(
                        job.job,
                        cat,
                        a.key.ptr(),
                        a.key.len,
                        a.payload.ptr(),
                        a.payload.len,
                    )
                },
                // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
                PERSISTENCY_OP_DELETE => unsafe {
                    persistency_delete(job.job, cat, a.key.ptr(), a.key.len)
                },
                // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
                _ => unsafe { persistency_delete_prefix(job.job, cat, a.key.ptr(), a.key.len) },
            };
            (status, single.valid(), 1, false)
        }
        Call::Write {
            ops,
            null_ops,
            callback,
        } => {
            let owned: Vec<OwnedOp> = ops.iter().map(OwnedOp::new).collect();
            let raw: Vec<COp> = owned
                .iter()
                .zip(ops)
                .map(|(o, op)| o.raw(op.kind))
                .collect();
            let (ptr, n, valid) = match null_ops {
                Some(n) => (std::ptr::null(), *n, *n == 0),
                None => (raw.as_ptr(), raw.len(), ops.iter().all(Op::valid)),
            };
            let cb: Callback = if *callback { Some(on_write) } else { None };
            // SAFETY: every pointer passed is NULL or live memory of the stated length owned by this test.
            let status = unsafe { persistency_write(job.job, ptr, n, cb, std::ptr::null_mut()) };
            let applied = if null_ops.is_some() {
                0
            } else {
                ops.len() as u64
            };
            (status, valid, applied, *callback)
        }
        _ => unreachable!("not a write"),
    };
    expect_status(&format!("{c:?}"), status, valid)?;
    job.flush();
    let after = job.stats();
    let want_applied = before.ops_applied + if valid { applied } else { 0 };
    if after.ops_applied != want_applied || after.ops_failed != before.ops_failed {
        return Err(format!(
            "stats after {c:?}: applied {} -> {} (expected {want_applied}), failed {} -> {}",
            before.ops_applied, after.ops_applied, before.ops_failed, after.ops_failed
        ));
    }
    let ok_calls = WRITE_OK.load(SeqCst) - ok_before;
    let bad_calls = WRITE_NOT_OK.load(SeqCst) - not_ok_before;
    let want_calls = u64::from(valid && callback);
    if ok_calls != want_calls || bad_calls != 0 {
        return Err(format!(
            "{c:?}: {ok_calls} OK and {bad_calls} failed callbacks, expected {want_calls} OK"
        ));
    }
    Ok(())
}

fn run_case(job: &Job, calls: &[Call]) -> Check {
    for c in calls {
        match c {
            Call::Key(parts) => key_calls(parts)?,
            Call::PrefixStop {
                prefix,
                out_null,
                out_len_null,
            } => prefix_stop_call(prefix, *out_null, *out_len_null)?,
            _ => write_call(job, c)?,
        }
    }
    Ok(())
}

#[test]
fn c_entry_points_survive_arbitrary_input() {
    let cases: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .map(|v| v.parse().expect("PROPTEST_CASES"))
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .map(|v| v.parse().expect("PROPTEST_RNG_SEED"))
        .unwrap_or(0xf022_0ff1);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    };
    // One job for every case: the stats are compared call by call.
    let job = Job::open();
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    let calls = AtomicU64::new(0);
    let result = runner.run(&prop::collection::vec(call(), 1..8), |seq| {
        calls.fetch_add(seq.len() as u64, SeqCst);
        run_case(&job, &seq).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("seed {seed}: {e}");
    }
    eprintln!(
        "fuzz_ffi: {cases} sequences, {} calls ({} status calls accepted, {} refused as invalid), \
         {} write callbacks, seed {seed}, {:.1?}",
        calls.load(SeqCst),
        ACCEPTED.load(SeqCst),
        REFUSED.load(SeqCst),
        WRITE_OK.load(SeqCst),
        started.elapsed()
    );
}
