//! The one error type of the library and its kinds. The kinds and their C
//! status codes are written once, in the table below; `src/ffi/status.rs`
//! checks its C constants against it at compile time.

use std::fmt;

/// Defines [`ErrorKind`] from one table: variant, C status code, text.
macro_rules! error_kinds {
    ($( $(#[$doc:meta])* $kind:ident = $code:literal, $text:literal; )*) => {
        /// What went wrong, as a category. Each kind has a fixed C status
        /// code (`PERSISTENCY_ERR_*`); codes are never renumbered.
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorKind {
            $( $(#[$doc])* $kind = $code, )*
        }

        impl ErrorKind {
            /// Every kind, in code order.
            pub(crate) const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            fn text(self) -> &'static str {
                match self {
                    $( ErrorKind::$kind => $text, )*
                }
            }
        }
    };
}

error_kinds! {
    /// Storage failure: the database or the file system (status 1).
    Backend = 1, "backend error";
    /// The instance or job is closed, or no instance is installed (status 2).
    Closed = 2, "closed";
    /// A bad argument: bad job id, bad root, over-long part, bad option (status 3).
    InvalidArgument = 3, "invalid argument";
    /// A bounded wait ran out (status 4).
    Timeout = 4, "timeout";
    /// No open job with that id (status 5).
    JobNotFound = 5, "job not found";
    /// The job's queue is full and the call fails fast instead of waiting (status 6).
    Busy = 6, "busy";
    /// The disk is full or the job's disk quota would be exceeded; the
    /// message says which (status 7).
    Full = 7, "full";
    /// A bug inside the library, such as a caught panic (status 8).
    Internal = 8, "internal error";
}

impl ErrorKind {
    /// The C status code of this kind (`PERSISTENCY_ERR_*`).
    pub(crate) const fn code(self) -> i32 {
        self as i32
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// An error of the library: a kind, a message naming the problem and, for
/// storage errors, the backend's own result code.
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

    /// An error raised by a storage adapter, which chooses the kind
    /// (`Backend` or `Full`) and passes its own result code along.
    pub(crate) fn from_backend(kind: ErrorKind, code: i32, message: impl Into<String>) -> Error {
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

    /// The storage backend's own result code for backend and quota errors
    /// (SQLite's extended result code for job files), else 0.
    pub fn backend_code(&self) -> i32 {
        self.backend_code
    }

    /// The same error with `context` put in front of its message.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
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
    fn codes_are_dense_and_in_order() {
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.code(), i as i32 + 1, "{kind:?}");
        }
    }

    #[test]
    fn message_carries_kind_and_context() {
        let e = Error::invalid("bad").context("job j");
        assert_eq!(e.to_string(), "invalid argument: job j: bad");
        assert_eq!(e.backend_code(), 0);
    }
}
