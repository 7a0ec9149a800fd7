package persistency

// This file holds the writes: fire-and-forget puts and deletes, atomic
// batches (waited for or not), Flush, and the acknowledged DeleteAcked.

/*
#include <stdlib.h>
#include "pgo.h"

static int32_t pgo_write(persistency_job *job, const persistency_op *ops, size_t n, int wait, uintptr_t h) {
	return persistency_write(job, ops, n, wait ? pgo_result : NULL, (void *)h);
}

static int32_t pgo_flush(persistency_job *job, uintptr_t h) {
	return persistency_flush(job, pgo_result, (void *)h);
}

static int32_t pgo_delete_acked(persistency_job *job, const char *cat, const uint8_t *key, size_t key_len, uintptr_t h) {
	return persistency_delete_acked(job, cat, key, key_len, pgo_result, (void *)h);
}

// A batch op as offsets into one Go buffer (categories NUL-terminated).
typedef struct pgo_op {
	int32_t kind;
	size_t category;
	size_t key, key_len;
	size_t payload, payload_len;
} pgo_op;

static int32_t pgo_write_blob(persistency_job *job, const uint8_t *blob, const pgo_op *ops, size_t n,
                              int wait, uintptr_t h) {
	persistency_op *c = NULL;
	if (n > 0) {
		c = malloc(n * sizeof *c);
		if (c == NULL) {
			return PGO_NOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		c[i].kind = ops[i].kind;
		c[i].category = (const char *)blob + ops[i].category;
		c[i].key = ops[i].key_len > 0 ? blob + ops[i].key : NULL;
		c[i].key_len = ops[i].key_len;
		c[i].payload = ops[i].payload_len > 0 ? blob + ops[i].payload : NULL;
		c[i].payload_len = ops[i].payload_len;
	}
	int32_t status = pgo_write(job, c, n, wait, h);
	free(c);
	return status;
}
*/
import "C"

import (
	"context"
	"runtime"
	"strings"
)

// Put queues an insert-or-replace and returns without waiting for it
// (fire-and-forget; use Flush or Write to wait for durability). A failure
// in the worker is counted in Stats.OpsFailed and logged. On a full queue
// with FullBlock it waits for room as long as it takes; PutContext lets a
// context end that wait.
func (j *Job) Put(category string, key, value []byte) error {
	return j.PutContext(context.Background(), category, key, value)
}

// PutContext is Put whose wait for room in a full queue ends with ctx: it
// then returns ctx.Err() and queues nothing.
func (j *Job) PutContext(ctx context.Context, category string, key, value []byte) error {
	return j.queue(ctx, category, func(ptr *C.persistency_job, cat *C.char) int32 {
		k, kl := bytesPtr(key)
		v, vl := bytesPtr(value)
		return int32(C.persistency_put(ptr, cat, k, kl, v, vl))
	})
}

// Delete queues the deletion of one key (fire-and-forget).
func (j *Job) Delete(category string, key []byte) error {
	return j.DeleteContext(context.Background(), category, key)
}

// DeleteContext is Delete whose wait for room in a full queue ends with ctx.
func (j *Job) DeleteContext(ctx context.Context, category string, key []byte) error {
	return j.queue(ctx, category, func(ptr *C.persistency_job, cat *C.char) int32 {
		k, kl := bytesPtr(key)
		return int32(C.persistency_delete(ptr, cat, k, kl))
	})
}

// DeletePrefix queues the deletion of every key of category that starts
// with prefix (fire-and-forget; an empty prefix empties the category).
func (j *Job) DeletePrefix(category string, prefix []byte) error {
	return j.DeletePrefixContext(context.Background(), category, prefix)
}

// DeletePrefixContext is DeletePrefix whose wait for room in a full queue
// ends with ctx.
func (j *Job) DeletePrefixContext(ctx context.Context, category string, prefix []byte) error {
	return j.queue(ctx, category, func(ptr *C.persistency_job, cat *C.char) int32 {
		k, kl := bytesPtr(prefix)
		return int32(C.persistency_delete_prefix(ptr, cat, k, kl))
	})
}

// queue runs f, a fire-and-forget C call on one category, with the job's
// handle and the category as a C string; a wait for room ends with ctx. A
// nil *Job is refused first, then a category with a NUL byte.
func (j *Job) queue(ctx context.Context, category string, f func(ptr *C.persistency_job, cat *C.char) int32) error {
	ptr, err := j.handle()
	if err != nil {
		return err
	}
	cat, err := cstr("category", category)
	if err != nil {
		return err
	}
	err = callCtx(ctx, func() int32 { return f(ptr, charPtr(cat)) })
	runtime.KeepAlive(j)
	return err
}

// OpKind is the kind of one operation of a batch.
type OpKind int32

// The operation kinds.
const (
	OpPut          OpKind = C.PERSISTENCY_OP_PUT           // insert or replace Key with Value
	OpDelete       OpKind = C.PERSISTENCY_OP_DELETE        // delete Key
	OpDeletePrefix OpKind = C.PERSISTENCY_OP_DELETE_PREFIX // delete every key starting with Key
)

// Op is one operation of an atomic batch.
type Op struct {
	Kind     OpKind // OpPut, OpDelete or OpDeletePrefix
	Category string // the key space (no NUL byte, at most 65535 bytes)
	Key      []byte // the prefix for OpDeletePrefix
	Value    []byte // OpPut only
}

// PutOp returns an OpPut.
func PutOp(category string, key, value []byte) Op {
	return Op{Kind: OpPut, Category: category, Key: key, Value: value}
}

// DeleteOp returns an OpDelete.
func DeleteOp(category string, key []byte) Op {
	return Op{Kind: OpDelete, Category: category, Key: key}
}

// DeletePrefixOp returns an OpDeletePrefix.
func DeletePrefixOp(category string, prefix []byte) Op {
	return Op{Kind: OpDeletePrefix, Category: category, Key: prefix}
}

// Write applies ops as one atomic transaction (all or none) and waits until
// it has committed. An invalid op fails the whole call before anything is
// queued. If ctx ends first, Write returns ctx.Err() and the batch, already
// accepted, is still applied (or not, atomically) without anyone waiting.
func (j *Job) Write(ctx context.Context, ops []Op) error {
	_, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		return writeOps(ctx, ptr, ops, true, h)
	})
	return err
}

// WriteNoWait queues ops as one atomic transaction and returns without
// waiting (fire-and-forget: a failure is counted in Stats and logged).
func (j *Job) WriteNoWait(ops []Op) error {
	ptr, err := j.handle()
	if err != nil {
		return err
	}
	err = writeOps(nil, ptr, ops, false, 0)
	runtime.KeepAlive(j)
	return err
}

// writeOps packs ops into one Go buffer plus offsets and submits them; a
// wait for room ends with ctx (nil: no end).
func writeOps(ctx context.Context, ptr *C.persistency_job, ops []Op, wait bool, h C.uintptr_t) error {
	size := 0
	for i := range ops {
		if strings.IndexByte(ops[i].Category, 0) >= 0 {
			return newError(StatusInvalidArgument, "category contains a NUL byte")
		}
		size += len(ops[i].Category) + 1 + len(ops[i].Key) + len(ops[i].Value)
	}
	blob := make([]byte, 0, size)
	cops := make([]C.pgo_op, len(ops))
	for i := range ops {
		cops[i].kind = C.int32_t(ops[i].Kind)
		cops[i].category = C.size_t(len(blob))
		blob = append(append(blob, ops[i].Category...), 0)
		cops[i].key, cops[i].key_len = C.size_t(len(blob)), C.size_t(len(ops[i].Key))
		blob = append(blob, ops[i].Key...)
		cops[i].payload, cops[i].payload_len = C.size_t(len(blob)), C.size_t(len(ops[i].Value))
		blob = append(blob, ops[i].Value...)
	}
	b, _ := bytesPtr(blob)
	var o *C.pgo_op
	if len(cops) > 0 {
		o = &cops[0]
	}
	return callCtx(ctx, func() int32 {
		return int32(C.pgo_write_blob(ptr, b, o, C.size_t(len(cops)), cbool(wait), h))
	})
}

// Flush waits until every operation accepted before it has been committed.
// It succeeds even if some fire-and-forget writes failed (see Stats).
func (j *Job) Flush(ctx context.Context) error {
	_, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		return callCtx(ctx, func() int32 { return int32(C.pgo_flush(ptr, h)) })
	})
	return err
}

// DeleteAcked deletes key, waits for the commit, and reports whether a row
// was removed.
func (j *Job) DeleteAcked(ctx context.Context, category string, key []byte) (bool, error) {
	res, err := j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		k, kl := bytesPtr(key)
		return int32(C.pgo_delete_acked(ptr, cat, k, kl, h))
	})
	return res.found, err
}
