package persistency

// This file holds the plumbing of the blocking reads: one plain cgo call to
// a persistency_*_sync function, which runs on the calling thread when the
// job has no uncommitted write (and waits for the job's worker otherwise).
// No callback and no cgo.Handle are involved.

/*
#include "pgo.h"
*/
import "C"

import (
	"context"
	"runtime"
)

// blocking runs one blocking C read: read gets the job's handle and the
// category as a C string and returns the call's status. With a context
// that can end, the call runs on another goroutine so the caller can give
// up (a read waiting for the worker may take a while); abandon then runs
// once the call is over, to free what it returned. A category with a NUL
// byte is refused before anything else is looked at.
func (j *Job) blocking(ctx context.Context, category string, read func(ptr *C.persistency_job, cat *C.char) int32, abandon func()) error {
	cat, err := cstr("category", category)
	if err != nil {
		return err
	}
	ptr, err := j.handle()
	if err != nil {
		return err
	}
	if ctx == nil {
		return errNilContext
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	run := func() error {
		err := call(func() int32 { return read(ptr, charPtr(cat)) })
		runtime.KeepAlive(j)
		return err
	}
	if ctx.Done() == nil {
		return run()
	}
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
		}
		go func() {
			if <-done == nil {
				abandon()
			}
		}()
		return ctx.Err()
	}
}

// replyRead runs a blocking read that returns a reply, copies the reply
// into Go memory and frees it.
func (j *Job) replyRead(ctx context.Context, category string, read func(ptr *C.persistency_job, cat *C.char, reply **C.persistency_result) int32) (result, error) {
	var reply *C.persistency_result
	free := func() { C.persistency_reply_free(reply) }
	err := j.blocking(ctx, category, func(ptr *C.persistency_job, cat *C.char) int32 {
		return read(ptr, cat, &reply)
	}, free)
	if err != nil {
		return result{}, err
	}
	res := copyResult(reply)
	free()
	return res, nil
}
