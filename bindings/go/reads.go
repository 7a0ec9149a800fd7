package persistency

// This file holds the reads: Get, Exists, Count, GetMany, and Scan and
// ScanPrefix over a Range. Iterate and ForEach, which page through Scan,
// are in iterate.go. Each is one blocking C call (blocking.go): it runs on
// the calling thread while the job has no uncommitted write, and waits for
// the job's worker otherwise; either way it sees every write accepted
// before it.

/*
#include <stdlib.h>
#include <string.h>
#include "pgo.h"

// What pgo_get_into tells Go, returned by value (no Go allocation).
typedef struct pgo_get_out {
	int32_t status;
	bool found;
	size_t len;                      // the value's length
	const persistency_result *reply; // the reply, when the value did not fit
	char *msg;                       // on an error: malloc'ed last error, or NULL
} pgo_get_out;

// Get in one cgo call: persistency_get_sync, then, when the value fits in
// buf (Go memory, not kept), the copy and the reply's free; a longer value
// comes back as the reply itself, for Go to copy and free. On an error the
// thread's last error is copied here, so Go need not stay on this thread.
static pgo_get_out pgo_get_into(persistency_job *job, const char *cat, const uint8_t *key,
                                size_t key_len, uint8_t *buf, size_t cap) {
	pgo_get_out out = {0};
	const persistency_result *reply = NULL;
	out.status = persistency_get_sync(job, cat, key, key_len, &reply);
	if (out.status != PERSISTENCY_OK) {
		const char *m = persistency_last_error();
		out.msg = m != NULL ? strdup(m) : NULL;
		return out;
	}
	out.found = reply->found;
	out.len = reply->value_len;
	if (out.found && out.len > cap) {
		out.reply = reply;
		return out;
	}
	if (out.found && out.len > 0) {
		memcpy(buf, reply->value, out.len);
	}
	persistency_reply_free(reply);
	return out;
}

// The keys of a get_many arrive as one Go buffer of concatenated keys plus
// their lengths; the persistency_bytes array pointing into it is built
// here, in C memory, for the duration of the call only.
static int32_t pgo_get_many_sync(persistency_job *job, const char *cat, const uint8_t *blob,
                                 const size_t *lens, size_t n, const persistency_result **reply) {
	persistency_bytes *keys = NULL;
	if (n > 0) {
		keys = malloc(n * sizeof *keys);
		if (keys == NULL) {
			return PGO_NOMEM;
		}
	}
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		keys[i].data = lens[i] > 0 ? blob + off : NULL;
		keys[i].len = lens[i];
		off += lens[i];
	}
	int32_t status = persistency_get_many_sync(job, cat, keys, n, reply);
	free(keys);
	return status;
}
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// Row is one key and its value, copied into Go memory.
type Row struct {
	Key   []byte // the encoded key
	Value []byte // the stored payload
}

// Get returns the value stored under key, and whether there is one.
func (j *Job) Get(ctx context.Context, category string, key []byte) (value []byte, found bool, err error) {
	if ctx != nil && ctx.Done() == nil {
		// A context that never ends: nothing to watch, one plain call.
		return j.getNow(category, key)
	}
	res, err := j.replyRead(ctx, category, func(ptr *C.persistency_job, cat *C.char, reply **C.persistency_result) int32 {
		k, kl := bytesPtr(key)
		return int32(C.persistency_get_sync(ptr, cat, k, kl, reply))
	})
	if err != nil || !res.found {
		return nil, false, err
	}
	return res.value, true, nil
}

// getScratchLen is the size of the buffers getNow lends to C: values up to
// this long are copied there and freed in the same cgo call.
const getScratchLen = 4096

var getScratch = sync.Pool{New: func() any {
	b := make([]byte, getScratchLen)
	return &b
}}

// getNow is Get for a context that cannot end: a single cgo call, which
// copies the value into a pooled Go buffer and frees the reply (a value
// longer than the buffer takes a second call to free it).
func (j *Job) getNow(category string, key []byte) ([]byte, bool, error) {
	cat, err := cstr("category", category)
	if err != nil {
		return nil, false, err
	}
	ptr, err := j.handle()
	if err != nil {
		return nil, false, err
	}
	bufp := getScratch.Get().(*[]byte)
	defer getScratch.Put(bufp)
	buf := *bufp
	k, kl := bytesPtr(key)
	out := C.pgo_get_into(ptr, charPtr(cat), k, kl, (*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	runtime.KeepAlive(j)
	if out.status != C.PERSISTENCY_OK {
		return nil, false, statusError(int32(out.status), out.msg)
	}
	if !out.found {
		return nil, false, nil
	}
	src := unsafe.Pointer(&buf[0])
	if out.reply != nil {
		src = unsafe.Pointer(out.reply.value)
		defer C.persistency_reply_free(out.reply)
	}
	return copyBytes(src, out.len), true, nil
}

// Exists reports whether key is present.
func (j *Job) Exists(ctx context.Context, category string, key []byte) (bool, error) {
	var found C.bool
	err := j.blocking(ctx, category, func(ptr *C.persistency_job, cat *C.char) int32 {
		k, kl := bytesPtr(key)
		return int32(C.persistency_exists_sync(ptr, cat, k, kl, &found))
	}, func() {})
	return err == nil && bool(found), err
}

// Count returns the number of keys in [start, stop); an empty stop means
// no upper bound.
func (j *Job) Count(ctx context.Context, category string, start, stop []byte) (uint64, error) {
	var n C.uint64_t
	err := j.blocking(ctx, category, func(ptr *C.persistency_job, cat *C.char) int32 {
		s, sl := bytesPtr(start)
		e, el := bytesPtr(stop)
		return int32(C.persistency_count_sync(ptr, cat, s, sl, e, el, &n))
	}, func() {})
	if err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// GetMany looks up many keys in one call and one read transaction. It
// returns one row per key that exists, in the order of keys (missing keys
// are left out).
func (j *Job) GetMany(ctx context.Context, category string, keys [][]byte) ([]Row, error) {
	size := 0
	for _, k := range keys {
		size += len(k)
	}
	blob := make([]byte, 0, size)
	lens := make([]C.size_t, len(keys))
	for i, k := range keys {
		blob = append(blob, k...)
		lens[i] = C.size_t(len(k))
	}
	res, err := j.replyRead(ctx, category, func(ptr *C.persistency_job, cat *C.char, reply **C.persistency_result) int32 {
		b, _ := bytesPtr(blob)
		var l *C.size_t
		if len(lens) > 0 {
			l = &lens[0]
		}
		return int32(C.pgo_get_many_sync(ptr, cat, b, l, C.size_t(len(lens)), reply))
	})
	rows, _, err := scanned(res, err)
	return rows, err
}

// Range selects the keys of a scan: the half-open range [Start, Stop) in
// ascending order, or descending with Reverse. An empty Stop means no upper
// bound. Limit caps the rows of one Scan (0 = no limit); for Iterate and
// ForEach it is the page size (0 = DefaultPageSize).
type Range struct {
	Start   []byte // the least key included; empty: from the first key
	Stop    []byte // the exclusive upper bound; empty: no upper bound
	Reverse bool   // descending key order
	Limit   uint32 // Scan: max rows (0 = all); Iterate/ForEach: page size
}

// PrefixRange returns the range of every key that starts with prefix.
func PrefixRange(prefix []byte) Range {
	return Range{Start: prefix, Stop: PrefixStop(prefix)}
}

// Scan returns the rows of r in key order (descending with r.Reverse), at
// most r.Limit of them when it is not 0; hasMore says whether rows remain
// in the range beyond those returned.
func (j *Job) Scan(ctx context.Context, category string, r Range) (rows []Row, hasMore bool, err error) {
	return scanned(j.replyRead(ctx, category, func(ptr *C.persistency_job, cat *C.char, reply **C.persistency_result) int32 {
		s, sl := bytesPtr(r.Start)
		e, el := bytesPtr(r.Stop)
		return int32(C.persistency_scan_sync(ptr, cat, s, sl, e, el, C.bool(r.Reverse), C.uint32_t(r.Limit), reply))
	}))
}

// ScanPrefix returns the rows whose key starts with prefix, like Scan.
func (j *Job) ScanPrefix(ctx context.Context, category string, prefix []byte, reverse bool, limit uint32) (rows []Row, hasMore bool, err error) {
	return scanned(j.replyRead(ctx, category, func(ptr *C.persistency_job, cat *C.char, reply **C.persistency_result) int32 {
		p, pl := bytesPtr(prefix)
		return int32(C.persistency_scan_prefix_sync(ptr, cat, p, pl, C.bool(reverse), C.uint32_t(limit), reply))
	}))
}

// scanned returns the rows of a request that returns rows: never nil on
// success (an empty result is an empty slice), nothing on failure.
func scanned(res result, err error) ([]Row, bool, error) {
	if err != nil {
		return nil, false, err
	}
	if res.rows == nil {
		res.rows = []Row{}
	}
	return res.rows, res.hasMore, nil
}
