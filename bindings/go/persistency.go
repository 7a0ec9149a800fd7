// Package persistency is the Go binding of libpersistency, an embedded
// per-job key-value store on SQLite (one database file and one worker
// thread per job), reached through its C ABI with cgo.
//
// Build the library first (from the repository root):
//
//	scripts/build.sh
//
// The package links target/release/libpersistency.so and records its
// directory as the run-time search path, so nothing else is needed to build,
// test or run from a clone.
//
//	inst, err := persistency.Open("/var/lib/node/persistency")
//	job, err := inst.OpenJob("store", nil)
//	key, err := persistency.EncodeKey("/waku/2/rs/1/0", int64(ts), hash[:])
//	err = job.Put("messages", key, payload)          // queued, returns at once
//	value, found, err := job.Get(ctx, "messages", key) // sees the put
//
// Every value here is safe for concurrent use by many goroutines. Results
// are copied into Go memory; nothing needs to be freed by hand (handles
// are released when their Go values are garbage collected).
package persistency

// This file holds the package's link settings and what every C call goes
// through: the status-to-error conversion and the Go-to-C argument helpers.
// The concepts live in instance.go, job.go, options.go, writes.go,
// reads.go, iterate.go, keys.go and logging.go; the request protocol in
// async.go and callbacks.go; the status codes in errors.go.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -lpersistency -Wl,-rpath,${SRCDIR}/../../target/release
#include <stdlib.h>
#include "pgo.h"
*/
import "C"

import (
	"runtime"
	"strings"
	"unsafe"
)

// Version returns the library's version.
func Version() string {
	return C.GoString(C.persistency_version())
}

// call runs one status-returning C call and, on failure, reads the thread's
// last error on the same OS thread before anything else can run there.
func call(f func() int32) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := f()
	if s == C.PERSISTENCY_OK {
		return nil
	}
	if s == C.PGO_NOMEM {
		return newError(StatusInternal, "out of memory")
	}
	e := &Error{Code: Status(s)}
	if msg := C.persistency_last_error(); msg != nil {
		e.Message = C.GoString(msg)
	}
	return e
}

// statusError is the error of a failed C helper that copied the thread's
// last error into msg (malloc'ed, or NULL); it frees msg.
func statusError(s int32, msg *C.char) error {
	e := &Error{Code: Status(s)}
	if msg != nil {
		e.Message = C.GoString(msg)
		C.free(unsafe.Pointer(msg))
	}
	return e
}

// cstr returns s as a NUL-terminated Go buffer (C must not keep it past the
// call). A string with an interior NUL byte is refused: C would silently
// see a shorter one.
func cstr(what, s string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(StatusInvalidArgument, what+" contains a NUL byte")
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b, nil
}

func charPtr(b []byte) *C.char {
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// bytesPtr returns a pointer to b's bytes for the duration of a C call, or
// NULL for an empty slice.
func bytesPtr(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

var errNilContext = newError(StatusInvalidArgument, "nil context")
