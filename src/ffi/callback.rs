//! Results handed to C callbacks: the `persistency_result` view, the rows
//! it points at, and the bridge from a core `_then` callback to a host's
//! C callback.

use std::ffi::{c_char, c_void, CString};

use super::status::PERSISTENCY_OK;
use crate::error::{ErrorKind, Result};
use crate::rows::Rows;

/// One row of a scan or multi-get (C `persistency_row`); pointers valid only
/// during the callback.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CRow {
    /// The key bytes.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The payload bytes.
    pub payload: *const u8,
    /// Length of `payload`.
    pub payload_len: usize,
}

/// What an asynchronous call reports to its callback (C
/// `persistency_result`). Every pointer in it is valid only during the
/// callback: copy what you keep.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CResult {
    /// `PERSISTENCY_OK` or an error code.
    pub status: i32,
    /// SQLite extended result code when status is `PERSISTENCY_ERR_BACKEND`, else 0.
    pub backend_code: i32,
    /// Message when status != `PERSISTENCY_OK`, else NULL.
    pub error: *const c_char,
    /// get / exists: key present; delete_acked: a row was removed.
    pub found: bool,
    /// get: the payload (NULL when not found).
    pub value: *const u8,
    /// get: length of `value`.
    pub value_len: usize,
    /// count: the count; get_many: rows found.
    pub count: u64,
    /// scan / get_many: the rows.
    pub rows: *const CRow,
    /// Number of `rows`.
    pub row_count: usize,
    /// scan: rows remain in the range beyond those returned.
    pub has_more: bool,
}

/// A byte buffer: pointer and length (C `persistency_bytes`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CBytes {
    /// The bytes (NULL only with `len` 0).
    pub data: *const u8,
    /// Length of `data`.
    pub len: usize,
}

/// The callback of an asynchronous call (C `persistency_callback`): invoked
/// exactly once, on the job's worker thread, for every call that returned
/// `PERSISTENCY_OK`; never for a call that returned an error. `user_data`
/// is passed back untouched.
pub type Callback = Option<unsafe extern "C" fn(result: *const CResult, user_data: *mut c_void)>;

type HostCallback = unsafe extern "C" fn(*const CResult, *mut c_void);

/// A host's `user_data`, carried to the worker thread and never dereferenced.
struct UserData(*mut c_void);

// SAFETY: the library only passes the pointer back to the host's callback,
// which the header documents as running on the worker thread.
unsafe impl Send for UserData {}

/// What a core operation answers, in the shape the C result shows it.
pub(crate) enum Answer {
    Done,
    Found(bool),
    Value(Option<Vec<u8>>),
    Count(u64),
    Rows(Rows),
}

impl From<()> for Answer {
    fn from((): ()) -> Answer {
        Answer::Done
    }
}

impl From<bool> for Answer {
    fn from(found: bool) -> Answer {
        Answer::Found(found)
    }
}

impl From<Option<Vec<u8>>> for Answer {
    fn from(value: Option<Vec<u8>>) -> Answer {
        Answer::Value(value)
    }
}

impl From<u64> for Answer {
    fn from(count: u64) -> Answer {
        Answer::Count(count)
    }
}

impl From<Rows> for Answer {
    fn from(rows: Rows) -> Answer {
        Answer::Rows(rows)
    }
}

/// A host's C callback and its `user_data`, on their way to becoming a
/// core `_then` callback ([`Reporter::into_then`]).
pub(crate) struct Reporter {
    callback: HostCallback,
    user_data: UserData,
}

impl Reporter {
    /// The reporter of `callback`, which gets `user_data` back untouched.
    pub(crate) fn new(callback: HostCallback, user_data: *mut c_void) -> Reporter {
        Reporter {
            callback,
            user_data: UserData(user_data),
        }
    }

    /// The core `_then` callback that reports its outcome to the host's C
    /// callback. The core runs it exactly once (or never, when the call
    /// that queued it failed). Unboxed: the core boxes it once, into the
    /// request, so a call allocates one callback, not two.
    pub(crate) fn into_then<T: Into<Answer>>(self) -> impl FnOnce(Result<T>) + Send + 'static {
        move |result: Result<T>| {
            let Reporter {
                callback,
                user_data,
            } = self;
            deliver(callback, user_data.0, result.map(Into::into))
        }
    }
}

/// [`Reporter::into_then`] of `callback` and `user_data`.
pub(crate) fn reporter<T: Into<Answer>>(
    callback: HostCallback,
    user_data: *mut c_void,
) -> impl FnOnce(Result<T>) + Send + 'static {
    Reporter::new(callback, user_data).into_then()
}

fn deliver(callback: HostCallback, user_data: *mut c_void, result: Result<Answer>) {
    let mut r = CResult {
        status: PERSISTENCY_OK,
        backend_code: 0,
        error: std::ptr::null(),
        found: false,
        value: std::ptr::null(),
        value_len: 0,
        count: 0,
        rows: std::ptr::null(),
        row_count: 0,
        has_more: false,
    };
    // These own what `r` points at until the callback returns.
    let message: CString;
    let value: Option<Vec<u8>>;
    let rows: Rows;
    let views: Vec<CRow>;
    match result {
        Err(e) => {
            r.status = e.kind().code();
            if e.kind() == ErrorKind::Backend {
                r.backend_code = e.backend_code();
            }
            message = CString::new(e.to_string().replace('\0', " ")).unwrap_or_default();
            r.error = message.as_ptr();
        }
        Ok(Answer::Done) => {}
        Ok(Answer::Found(found)) => r.found = found,
        Ok(Answer::Count(n)) => r.count = n,
        Ok(Answer::Value(v)) => {
            value = v;
            if let Some(v) = &value {
                r.found = true;
                r.value = v.as_ptr();
                r.value_len = v.len();
            }
        }
        Ok(Answer::Rows(page)) => {
            rows = page;
            views = rows
                .iter()
                .map(|row| CRow {
                    key: row.key.as_ptr(),
                    key_len: row.key.len(),
                    payload: row.payload.as_ptr(),
                    payload_len: row.payload.len(),
                })
                .collect();
            r.rows = views.as_ptr();
            r.row_count = views.len();
            r.count = views.len() as u64;
            r.has_more = rows.has_more();
        }
    }
    // SAFETY: the host's callback, called as its typedef says, with a result
    // whose pointers live until it returns.
    unsafe { callback(&r, user_data) }
}
