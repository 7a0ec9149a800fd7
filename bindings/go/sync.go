package persistency

// This file holds the sync sets (docs/c-api-sync.md): persistent sets of
// (timestamp, hash) ids with range fingerprints, counts and splits for
// range-based set reconciliation. Writes are fire-and-forget (SyncAdd,
// SyncRemove, SyncPrune) or wait for their commit (the ...Wait forms);
// queries are plain blocking cgo calls.

/*
#include <stdlib.h>
#include "pgo.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// SyncID is one element of a sync set: a timestamp in nanoseconds and a
// 32-byte message hash, ordered by time, then hash. Its layout is C's
// persistency_sync_id.
type SyncID struct {
	Time int64
	Hash [32]byte
}

// SyncID and SyncSummary are passed to C as they are: their sizes must
// equal the C structs' (a difference either way does not compile).
var (
	_ [unsafe.Sizeof(C.persistency_sync_id{}) - unsafe.Sizeof(SyncID{})]byte
	_ [unsafe.Sizeof(SyncID{}) - unsafe.Sizeof(C.persistency_sync_id{})]byte
	_ [unsafe.Sizeof(C.persistency_sync_summary{}) - unsafe.Sizeof(SyncSummary{})]byte
	_ [unsafe.Sizeof(SyncSummary{}) - unsafe.Sizeof(C.persistency_sync_summary{})]byte
)

// SyncMin is the smallest id; SyncMax the largest, which bounds ranges and
// cannot be added to a set. [SyncMin, SyncMax) holds every id.
var (
	SyncMin = SyncID{Time: -1 << 63}
	SyncMax = SyncID{Time: 1<<63 - 1, Hash: [32]byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	}}
)

// SyncRange is the half-open range [Start, Stop).
type SyncRange struct {
	Start, Stop SyncID
}

// SyncAll is every id a set can hold.
var SyncAll = SyncRange{Start: SyncMin, Stop: SyncMax}

// SyncSummary is the count and fingerprint (XOR of the hashes) of a range.
type SyncSummary struct {
	Count       uint64
	Fingerprint [32]byte
}

// SyncPart is one part of a split range.
type SyncPart struct {
	Range   SyncRange
	Summary SyncSummary
}

func idsPtr(ids []SyncID) (*C.persistency_sync_id, C.size_t) {
	if len(ids) == 0 {
		return nil, 0
	}
	return (*C.persistency_sync_id)(unsafe.Pointer(&ids[0])), C.size_t(len(ids))
}

func cID(id SyncID) C.persistency_sync_id {
	return *(*C.persistency_sync_id)(unsafe.Pointer(&id))
}

func goID(id *C.persistency_sync_id) SyncID {
	return *(*SyncID)(unsafe.Pointer(id))
}

// SyncAdd queues adding ids to set, atomically (fire-and-forget: a failure
// is counted in the job's stats and logged). Ids already there stay.
func (j *Job) SyncAdd(set string, ids []SyncID) error {
	return j.queue(context.Background(), set, func(ptr *C.persistency_job, s *C.char) int32 {
		p, n := idsPtr(ids)
		return int32(C.persistency_sync_add(ptr, s, p, n))
	})
}

// SyncAddWait adds ids to set, atomically, waits for the commit and
// returns how many were new.
func (j *Job) SyncAddWait(ctx context.Context, set string, ids []SyncID) (uint64, error) {
	var n C.uint64_t
	err := j.blocking(ctx, set, func(ptr *C.persistency_job, s *C.char) int32 {
		p, c := idsPtr(ids)
		return int32(C.persistency_sync_add_sync(ptr, s, p, c, &n))
	}, func() {})
	return uint64(n), err
}

// SyncRemove queues removing ids from set, atomically (fire-and-forget).
func (j *Job) SyncRemove(set string, ids []SyncID) error {
	return j.queue(context.Background(), set, func(ptr *C.persistency_job, s *C.char) int32 {
		p, n := idsPtr(ids)
		return int32(C.persistency_sync_remove(ptr, s, p, n))
	})
}

// SyncRemoveWait removes ids from set, waits for the commit and returns
// how many were there.
func (j *Job) SyncRemoveWait(ctx context.Context, set string, ids []SyncID) (uint64, error) {
	var n C.uint64_t
	err := j.blocking(ctx, set, func(ptr *C.persistency_job, s *C.char) int32 {
		p, c := idsPtr(ids)
		return int32(C.persistency_sync_remove_sync(ptr, s, p, c, &n))
	}, func() {})
	return uint64(n), err
}

// SyncPrune queues removing every id of set whose time is before before.
func (j *Job) SyncPrune(set string, before int64) error {
	return j.queue(context.Background(), set, func(ptr *C.persistency_job, s *C.char) int32 {
		return int32(C.persistency_sync_prune(ptr, s, C.int64_t(before)))
	})
}

// SyncPruneWait prunes, waits for the commit and returns how many ids went.
func (j *Job) SyncPruneWait(ctx context.Context, set string, before int64) (uint64, error) {
	var n C.uint64_t
	err := j.blocking(ctx, set, func(ptr *C.persistency_job, s *C.char) int32 {
		return int32(C.persistency_sync_prune_sync(ptr, s, C.int64_t(before), &n))
	}, func() {})
	return uint64(n), err
}

// SyncLen returns how many ids set holds.
func (j *Job) SyncLen(ctx context.Context, set string) (uint64, error) {
	var n C.uint64_t
	err := j.blocking(ctx, set, func(ptr *C.persistency_job, s *C.char) int32 {
		return int32(C.persistency_sync_len_sync(ptr, s, &n))
	}, func() {})
	return uint64(n), err
}

// syncQuery runs a query over a union of sets: the names are copied into C
// strings for the call and freed after it.
func (j *Job) syncQuery(ctx context.Context, sets []string, q func(ptr *C.persistency_job, names **C.char, n C.size_t) int32) error {
	for _, s := range sets {
		if _, err := cstr("set", s); err != nil {
			return err
		}
	}
	return j.blocking(ctx, "", func(ptr *C.persistency_job, _ *C.char) int32 {
		names := make([]*C.char, len(sets))
		for i, s := range sets {
			names[i] = C.CString(s)
		}
		defer func() {
			for _, n := range names {
				C.free(unsafe.Pointer(n))
			}
		}()
		var first **C.char
		if len(names) > 0 {
			first = &names[0]
		}
		return q(ptr, first, C.size_t(len(names)))
	}, func() {})
}

// SyncSummaryOf returns the count and fingerprint of r over the union of
// sets (distinct names; an id in several counts once per set).
func (j *Job) SyncSummaryOf(ctx context.Context, sets []string, r SyncRange) (SyncSummary, error) {
	var out C.persistency_sync_summary
	start, stop := cID(r.Start), cID(r.Stop)
	err := j.syncQuery(ctx, sets, func(ptr *C.persistency_job, names **C.char, n C.size_t) int32 {
		return int32(C.persistency_sync_summary_sync(ptr, names, n, &start, &stop, &out))
	})
	if err != nil {
		return SyncSummary{}, err
	}
	return *(*SyncSummary)(unsafe.Pointer(&out)), nil
}

// SyncSplit splits r over the union of sets into parts (1 to 1024)
// consecutive parts whose counts differ by at most one.
func (j *Job) SyncSplit(ctx context.Context, sets []string, r SyncRange, parts int) ([]SyncPart, error) {
	if parts < 1 {
		return nil, newError(StatusInvalidArgument, "a split needs at least one part")
	}
	out := make([]C.persistency_sync_part, parts)
	start, stop := cID(r.Start), cID(r.Stop)
	err := j.syncQuery(ctx, sets, func(ptr *C.persistency_job, names **C.char, n C.size_t) int32 {
		return int32(C.persistency_sync_split_sync(ptr, names, n, &start, &stop, C.uint32_t(parts), &out[0], C.size_t(parts)))
	})
	if err != nil {
		return nil, err
	}
	res := make([]SyncPart, parts)
	for i := range out {
		res[i] = SyncPart{
			Range:   SyncRange{Start: goID(&out[i].start), Stop: goID(&out[i].stop)},
			Summary: SyncSummary{Count: uint64(out[i].count), Fingerprint: *(*[32]byte)(unsafe.Pointer(&out[i].fingerprint))},
		}
	}
	return res, nil
}

// SyncItems returns the ids of r over the union of sets, in order, at most
// limit (at least 1) of them.
func (j *Job) SyncItems(ctx context.Context, sets []string, r SyncRange, limit int) ([]SyncID, error) {
	if limit < 1 {
		return nil, newError(StatusInvalidArgument, "a limit of at least 1 is needed")
	}
	out := make([]SyncID, limit)
	var count C.size_t
	start, stop := cID(r.Start), cID(r.Stop)
	err := j.syncQuery(ctx, sets, func(ptr *C.persistency_job, names **C.char, n C.size_t) int32 {
		p, c := idsPtr(out)
		return int32(C.persistency_sync_items_sync(ptr, names, n, &start, &stop, p, c, &count))
	})
	if err != nil {
		return nil, err
	}
	return out[:count], nil
}
