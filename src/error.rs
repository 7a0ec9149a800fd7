//! The one error type of the library and its kinds, which map 1:1 to the C
//! status codes.

use std::fmt;

/// What went wrong, as a category. Each kind has a fixed C status code
/// (`PERSISTENCY_ERR_*`); codes are never renumbered.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// SQLite or file-system failure (status 1).
    Backend,
    /// The instance or job is closed, or no instance is installed (status 2).
    Closed,
    /// A bad argument: bad job id, bad root, over-long part, bad option (status 3).
    InvalidArgument,
    /// A bounded wait ran out (status 4).
    Timeout,
    /// No open job with that id (status 5).
    JobNotFound,
    /// The job's queue is full and the call fails fast instead of waiting (status 6).
    Busy,
    /// The job's disk quota would be exceeded (status 7).
    Full,
    /// A bug inside the library, such as a caught panic (status 8).
    Internal,
}

impl ErrorKind {
    /// The C status code of this kind.
    pub const fn code(self) -> i32 {
        match self {
            ErrorKind::Backend => 1,
            ErrorKind::Closed => 2,
            ErrorKind::InvalidArgument => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::JobNotFound => 5,
            ErrorKind::Busy => 6,
            ErrorKind::Full => 7,
            ErrorKind::Internal => 8,
        }
    }

    /// The kind of a C status code, or `None` for 0 (success) and unknown codes.
    pub const fn from_code(code: i32) -> Option<ErrorKind> {
        Some(match code {
            1 => ErrorKind::Backend,
            2 => ErrorKind::Closed,
            3 => ErrorKind::InvalidArgument,
            4 => ErrorKind::Timeout,
            5 => ErrorKind::JobNotFound,
            6 => ErrorKind::Busy,
            7 => ErrorKind::Full,
            8 => ErrorKind::Internal,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Backend => "backend error",
            ErrorKind::Closed => "closed",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Timeout => "timeout",
            ErrorKind::JobNotFound => "job not found",
            ErrorKind::Busy => "busy",
            ErrorKind::Full => "quota exceeded",
            ErrorKind::Internal => "internal error",
        })
    }
}

/// An error of the library: a kind, a message naming the problem and, for
/// backend errors, SQLite's extended result code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    backend_code: i32,
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            backend_code: 0,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn closed(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Closed, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    /// A backend error carrying SQLite's extended result code.
    pub(crate) fn backend(code: i32, message: impl Into<String>) -> Error {
        let kind = if code & 0xff == rusqlite::ffi::SQLITE_FULL {
            ErrorKind::Full
        } else {
            ErrorKind::Backend
        };
        Error {
            kind,
            message: message.into(),
            backend_code: code,
        }
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// SQLite's extended result code for backend and quota errors, else 0.
    pub fn backend_code(&self) -> i32 {
        self.backend_code
    }

    /// The C status code of this error.
    pub fn code(&self) -> i32 {
        self.kind.code()
    }

    /// The same error with `context` put in front of its message.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        match &e {
            rusqlite::Error::SqliteFailure(f, _) => Error::backend(f.extended_code, e.to_string()),
            _ => Error::backend(rusqlite::ffi::SQLITE_ERROR, e.to_string()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Backend, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 1..=8 {
            let kind = ErrorKind::from_code(code).expect("known code");
            assert_eq!(kind.code(), code);
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(9), None);
    }

    #[test]
    fn sqlite_full_becomes_full() {
        let e = Error::backend(rusqlite::ffi::SQLITE_FULL, "database or disk is full");
        assert_eq!(e.kind(), ErrorKind::Full);
        assert_eq!(e.backend_code(), 13);
        let e = Error::backend(rusqlite::ffi::SQLITE_IOERR_WRITE, "disk I/O error");
        assert_eq!(e.kind(), ErrorKind::Backend);
    }
}
