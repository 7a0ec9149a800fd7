package persistency

// This file holds maintenance: range deletes (a call and a batch op),
// online backup, compaction, the integrity check and the Prometheus
// metrics text (docs/c-api-maintenance.md).

/*
#include <stdlib.h>
#include "pgo.h"

static int32_t pgo_backup(persistency_job *job, const char *dest, uintptr_t h) {
	return persistency_job_backup(job, dest, pgo_result, (void *)h);
}

static int32_t pgo_compact(persistency_job *job, uintptr_t h) {
	return persistency_job_compact(job, pgo_result, (void *)h);
}

static int32_t pgo_check(persistency_job *job, uintptr_t h) {
	return persistency_job_check(job, pgo_result, (void *)h);
}
*/
import "C"

import (
	"context"
	"runtime"
	"strings"
	"unsafe"
)

// OpDeleteRange deletes every key k of the category with Key <= k < Value
// (an empty Value: no upper bound). A Key after a non-empty Value fails
// the whole batch with ErrInvalidArgument.
const OpDeleteRange OpKind = C.PERSISTENCY_OP_DELETE_RANGE

// DeleteRangeOp returns an OpDeleteRange over [start, stop) (an empty stop:
// no upper bound).
func DeleteRangeOp(category string, start, stop []byte) Op {
	return Op{Kind: OpDeleteRange, Category: category, Key: start, Value: stop}
}

// DeleteRange queues the deletion of every key of category with
// start <= key < stop (fire-and-forget); an empty stop means no upper
// bound. A start after a non-empty stop is refused with ErrInvalidArgument.
func (j *Job) DeleteRange(category string, start, stop []byte) error {
	return j.DeleteRangeContext(context.Background(), category, start, stop)
}

// DeleteRangeContext is DeleteRange whose wait for room in a full queue
// (FullBlock) ends with ctx.
func (j *Job) DeleteRangeContext(ctx context.Context, category string, start, stop []byte) error {
	return j.queue(ctx, category, func(ptr *C.persistency_job, cat *C.char) int32 {
		s, sl := bytesPtr(start)
		e, el := bytesPtr(stop)
		return int32(C.persistency_delete_range(ptr, cat, s, sl, e, el))
	})
}

// Backup writes a consistent copy of the job's data, holding every write
// accepted before the call, to destPath, and waits until it is in place.
// The copy is made in steps while the job keeps serving requests, written
// to a temporary file and linked into place, so destPath appears complete
// or not at all. An existing destPath, or a missing directory, fails with
// ErrInvalidArgument. The copy opens as a job file. If ctx ends first,
// Backup returns ctx.Err() and the copy still completes.
func (j *Job) Backup(ctx context.Context, destPath string) error {
	dest, err := cstr("destination path", destPath)
	if err != nil {
		return err
	}
	_, err = j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		return call(func() int32 { return int32(C.pgo_backup(ptr, charPtr(dest), h)) })
	})
	return err
}

// Compact gives the free pages of the job's file back to the file system
// and waits: incremental for files made by this library, one full VACUUM
// for older files. Incremental compaction runs in small steps, between
// which the job serves the requests queued meanwhile.
func (j *Job) Compact(ctx context.Context) error {
	_, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		return call(func() int32 { return int32(C.pgo_compact(ptr, h)) })
	})
	return err
}

// Check runs SQLite's integrity check on the job's database: nil when
// sound, otherwise an ErrBackend error naming the first problems.
func (j *Job) Check(ctx context.Context) error {
	_, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		return call(func() int32 { return int32(C.pgo_check(ptr, h)) })
	})
	return err
}

// MetricsText returns the figures of every open job in the Prometheus text
// exposition format (version 0.0.4), each series labelled with its job.
func (i *Instance) MetricsText() (string, error) {
	var text string
	err := i.with(func(p *C.persistency) error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c := C.persistency_metrics_text(p)
		if c == nil {
			e := &Error{Code: StatusInternal, Message: "metrics text failed"}
			if msg := C.persistency_last_error(); msg != nil {
				e.Message = C.GoString(msg)
			}
			return e
		}
		text = C.GoString(c)
		C.persistency_string_free(c)
		return nil
	})
	return text, err
}

// cRetention fills the retention fields of c from opts. The categories
// are copied into C memory (the struct must not point into Go memory);
// call free once the library has read c.
func cRetention(opts *JobOptions, c *C.persistency_job_options) (free func(), err error) {
	if opts == nil || len(opts.RetentionCategories) == 0 {
		if opts != nil {
			c.retention_max_bytes = C.uint64_t(opts.RetentionMaxBytes)
		}
		return func() {}, nil
	}
	for _, cat := range opts.RetentionCategories {
		if strings.IndexByte(cat, 0) >= 0 {
			return nil, newError(StatusInvalidArgument, "retention category contains a NUL byte")
		}
	}
	n := len(opts.RetentionCategories)
	array := (*[1 << 20]*C.char)(C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:n:n]
	for k, cat := range opts.RetentionCategories {
		array[k] = C.CString(cat)
	}
	c.retention_max_bytes = C.uint64_t(opts.RetentionMaxBytes)
	c.retention_categories = &array[0]
	c.retention_category_count = C.size_t(n)
	return func() {
		for _, p := range array {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(&array[0]))
	}, nil
}
