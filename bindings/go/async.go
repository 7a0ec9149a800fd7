package persistency

// This file holds the protocol of the asynchronous calls: each request
// passes a cgo.Handle of its pending waiter as the callback's user_data,
// the library calls pgo_result exactly once on the job's worker thread, and
// persistencyGoResult (callbacks.go) hands the copied result to the waiter.

/*
#include "pgo.h"

// Exported from callbacks.go.
extern void persistencyGoResult(persistency_result *r, uintptr_t h);

// Not static: the helpers of reads.go and writes.go pass it to the library
// (declared in pgo.h). cgo forbids this definition in callbacks.go, whose
// preamble may only declare.
void pgo_result(const persistency_result *r, void *user_data) {
	persistencyGoResult((persistency_result *)r, (uintptr_t)user_data);
}
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
)

// result is what a callback hands to its waiter.
type result struct {
	err     error
	found   bool
	value   []byte
	count   uint64
	rows    []Row
	hasMore bool
}

// pending is one request waiting for its callback.
type pending struct {
	done chan result // buffered: the callback never blocks
}

// async submits one request whose callback gets a cgo.Handle of a pending
// as user_data, then waits for the result or for ctx. A request refused by
// the library never calls back, so its handle is freed here; an accepted
// one always calls back, and the callback frees it, whether or not anyone
// still waits.
func (j *Job) async(ctx context.Context, submit func(ptr *C.persistency_job, h C.uintptr_t) error) (result, error) {
	ptr, err := j.handle()
	if err != nil {
		return result{}, err
	}
	if ctx == nil {
		return result{}, errNilContext
	}
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	p := &pending{done: make(chan result, 1)}
	h := cgo.NewHandle(p)
	pendingCount.Add(1)
	err = submit(ptr, C.uintptr_t(h))
	runtime.KeepAlive(j)
	if err != nil {
		pendingCount.Add(-1)
		h.Delete()
		return result{}, err
	}
	select {
	case res := <-p.done:
		return res, res.err
	case <-ctx.Done():
		select {
		case res := <-p.done:
			return res, res.err
		default:
			return result{}, ctx.Err()
		}
	}
}

// request runs async for a C call on one category: submit gets the job's
// handle, the category as a C string and the request's handle, and returns
// the call's status. A category with a NUL byte is refused before anything
// else is looked at.
func (j *Job) request(ctx context.Context, category string, submit func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32) (result, error) {
	cat, err := cstr("category", category)
	if err != nil {
		return result{}, err
	}
	return j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		return callCtx(ctx, func() int32 { return submit(ptr, charPtr(cat), h) })
	})
}
