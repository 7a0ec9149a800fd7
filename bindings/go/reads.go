package persistency

// This file holds the reads: Get, Exists, Count, GetMany, and Scan and
// ScanPrefix over a Range. Iterate and ForEach, which page through Scan,
// are in iterate.go.

/*
#include <stdlib.h>
#include "pgo.h"

static int32_t pgo_get(persistency_job *job, const char *cat, const uint8_t *key, size_t key_len, uintptr_t h) {
	return persistency_get(job, cat, key, key_len, pgo_result, (void *)h);
}

static int32_t pgo_exists(persistency_job *job, const char *cat, const uint8_t *key, size_t key_len, uintptr_t h) {
	return persistency_exists(job, cat, key, key_len, pgo_result, (void *)h);
}

static int32_t pgo_scan(persistency_job *job, const char *cat, const uint8_t *start, size_t start_len,
                        const uint8_t *stop, size_t stop_len, int reverse, uint32_t limit, uintptr_t h) {
	return persistency_scan(job, cat, start, start_len, stop, stop_len, reverse != 0, limit, pgo_result, (void *)h);
}

static int32_t pgo_scan_prefix(persistency_job *job, const char *cat, const uint8_t *prefix, size_t prefix_len,
                               int reverse, uint32_t limit, uintptr_t h) {
	return persistency_scan_prefix(job, cat, prefix, prefix_len, reverse != 0, limit, pgo_result, (void *)h);
}

static int32_t pgo_count(persistency_job *job, const char *cat, const uint8_t *start, size_t start_len,
                         const uint8_t *stop, size_t stop_len, uintptr_t h) {
	return persistency_count(job, cat, start, start_len, stop, stop_len, pgo_result, (void *)h);
}

// The keys of a get_many arrive as one Go buffer of concatenated keys plus
// their lengths; the persistency_bytes array pointing into it is built
// here, in C memory, for the duration of the call only.
static int32_t pgo_get_many(persistency_job *job, const char *cat, const uint8_t *blob,
                            const size_t *lens, size_t n, uintptr_t h) {
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
	int32_t status = persistency_get_many(job, cat, keys, n, pgo_result, (void *)h);
	free(keys);
	return status;
}
*/
import "C"

import "context"

// Row is one key and its value, copied into Go memory.
type Row struct {
	Key   []byte // the encoded key
	Value []byte // the stored payload
}

// Get returns the value stored under key, and whether there is one.
func (j *Job) Get(ctx context.Context, category string, key []byte) (value []byte, found bool, err error) {
	res, err := j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		k, kl := bytesPtr(key)
		return int32(C.pgo_get(ptr, cat, k, kl, h))
	})
	if err != nil || !res.found {
		return nil, false, err
	}
	return res.value, true, nil
}

// Exists reports whether key is present.
func (j *Job) Exists(ctx context.Context, category string, key []byte) (bool, error) {
	res, err := j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		k, kl := bytesPtr(key)
		return int32(C.pgo_exists(ptr, cat, k, kl, h))
	})
	return res.found, err
}

// Count returns the number of keys in [start, stop); an empty stop means
// no upper bound.
func (j *Job) Count(ctx context.Context, category string, start, stop []byte) (uint64, error) {
	res, err := j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		s, sl := bytesPtr(start)
		e, el := bytesPtr(stop)
		return int32(C.pgo_count(ptr, cat, s, sl, e, el, h))
	})
	return res.count, err
}

// GetMany looks up many keys in one request and one read transaction. It
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
	res, err := j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		b, _ := bytesPtr(blob)
		var l *C.size_t
		if len(lens) > 0 {
			l = &lens[0]
		}
		return int32(C.pgo_get_many(ptr, cat, b, l, C.size_t(len(lens)), h))
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
	return scanned(j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		s, sl := bytesPtr(r.Start)
		e, el := bytesPtr(r.Stop)
		return int32(C.pgo_scan(ptr, cat, s, sl, e, el, cbool(r.Reverse), C.uint32_t(r.Limit), h))
	}))
}

// ScanPrefix returns the rows whose key starts with prefix, like Scan.
func (j *Job) ScanPrefix(ctx context.Context, category string, prefix []byte, reverse bool, limit uint32) (rows []Row, hasMore bool, err error) {
	return scanned(j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		p, pl := bytesPtr(prefix)
		return int32(C.pgo_scan_prefix(ptr, cat, p, pl, cbool(reverse), C.uint32_t(limit), h))
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
