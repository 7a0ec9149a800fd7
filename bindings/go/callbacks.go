package persistency

// This file holds the //export'ed entry points the library's threads call.
// cgo forbids definitions in the preamble of a file with //export, so the C
// trampolines that call these live in async.go (results) and logging.go
// (log messages).

/*
#include "persistency.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// testHookResult, when set, runs on the worker thread at the start of every
// result callback (tests use it to hold the worker).
var testHookResult atomic.Pointer[func()]

// pendingCount is the number of accepted requests whose callback has not
// run yet (each owns one cgo.Handle).
var pendingCount atomic.Int64

// persistencyGoResult receives every result callback. It copies everything
// it needs out of r (valid only during the callback), frees the handle and
// wakes the waiter, which may have given up already: the buffered hand-off
// never blocks.
//
//export persistencyGoResult
func persistencyGoResult(r *C.persistency_result, h C.uintptr_t) {
	if hook := testHookResult.Load(); hook != nil {
		(*hook)()
	}
	handle := cgo.Handle(h)
	p, ok := handle.Value().(*pending)
	handle.Delete()
	pendingCount.Add(-1)
	if !ok {
		return
	}
	p.done <- copyResult(r)
}

// copyResult copies a C result into Go memory.
func copyResult(r *C.persistency_result) result {
	var res result
	if r.status != C.PERSISTENCY_OK {
		e := &Error{Code: Status(r.status), BackendCode: int32(r.backend_code)}
		if r.error != nil {
			e.Message = C.GoString(r.error)
		}
		res.err = e
		return res
	}
	res.found = bool(r.found)
	res.count = uint64(r.count)
	res.hasMore = bool(r.has_more)
	if r.value != nil || res.found {
		res.value = copyBytes(unsafe.Pointer(r.value), r.value_len)
	}
	if r.row_count > 0 && r.rows != nil {
		res.rows = copyRows(unsafe.Slice(r.rows, int(r.row_count)))
	}
	return res
}

// copyBytes copies n bytes at p into a new non-nil slice.
func copyBytes(p unsafe.Pointer, n C.size_t) []byte {
	out := make([]byte, int(n))
	if n > 0 {
		copy(out, unsafe.Slice((*byte)(p), int(n)))
	}
	return out
}

// copyRows copies rows into one Go allocation; every row's slices have their
// capacity capped, so appending to one never overwrites the next.
func copyRows(crows []C.persistency_row) []Row {
	total := 0
	for i := range crows {
		total += int(crows[i].key_len) + int(crows[i].payload_len)
	}
	buf := make([]byte, total)
	rows := make([]Row, len(crows))
	off := 0
	take := func(p *C.uint8_t, n C.size_t) []byte {
		start := off
		if n > 0 {
			off += copy(buf[off:], unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
		}
		return buf[start:off:off]
	}
	for i := range crows {
		rows[i].Key = take(crows[i].key, crows[i].key_len)
		rows[i].Value = take(crows[i].payload, crows[i].payload_len)
	}
	return rows
}

// logFunc is the Go logger installed by SetLogger, or nil.
var logFunc atomic.Pointer[func(level int, msg string)]

// persistencyGoLog receives every log message, from any library thread. A
// panic in the host's logger is recovered: it must not unwind into C.
//
//export persistencyGoLog
func persistencyGoLog(level C.int32_t, msg *C.char) {
	fn := logFunc.Load()
	if fn == nil || *fn == nil {
		return
	}
	text := C.GoString(msg)
	defer func() { _ = recover() }()
	(*fn)(int(level), text)
}
