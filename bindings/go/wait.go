package persistency

// This file lets a context interrupt a call that waits for room in a full
// queue (jobs with FullBlock): the call runs with a short C-side bound on
// that wait (persistency_set_wait_timeout) and is retried while the
// context lives, so no goroutine stays blocked in C once its context ends.

/*
#include "pgo.h"
*/
import "C"

import (
	"context"
	"errors"
	"time"
)

// waitSlice is how long one C call may wait for room before the context is
// looked at again: a cancelled context returns within about this long.
const waitSlice = 20 * time.Millisecond

// callCtx is call for a C call that may wait for room in a full queue: the
// wait is bounded by ctx. A nil or never-ending context waits as long as it
// takes, as call does.
func callCtx(ctx context.Context, f func() int32) error {
	if ctx == nil || ctx.Done() == nil {
		return call(f)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ms := waitSlice.Milliseconds()
		if deadline, ok := ctx.Deadline(); ok {
			if left := time.Until(deadline).Milliseconds(); left < ms {
				ms = left
			}
		}
		if ms < 1 {
			ms = 1
		}
		// call keeps the goroutine on one OS thread for f, so the bound
		// (a per-thread setting) applies to f's C call and is put back.
		err := call(func() int32 {
			previous := C.persistency_set_wait_timeout(C.uint32_t(ms))
			s := f()
			C.persistency_set_wait_timeout(previous)
			return s
		})
		var e *Error
		if !errors.As(err, &e) || e.Code != StatusTimeout {
			return err
		}
	}
}
