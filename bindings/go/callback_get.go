package persistency

// This file keeps the callback form of Get that Get used before it became
// a blocking call: the benchmarks compare the two paths in one run, and a
// test checks that the callback path still answers.

/*
#include "pgo.h"

static int32_t pgo_get_callback(persistency_job *job, const char *cat, const uint8_t *key, size_t key_len, uintptr_t h) {
	return persistency_get(job, cat, key, key_len, pgo_result, (void *)h);
}
*/
import "C"

import "context"

// getCallback is Get through persistency_get: the answer arrives as a
// callback on the job's worker thread.
func (j *Job) getCallback(ctx context.Context, category string, key []byte) (value []byte, found bool, err error) {
	res, err := j.request(ctx, category, func(ptr *C.persistency_job, cat *C.char, h C.uintptr_t) int32 {
		k, kl := bytesPtr(key)
		return int32(C.pgo_get_callback(ptr, cat, k, kl, h))
	})
	if err != nil || !res.found {
		return nil, false, err
	}
	return res.value, true, nil
}
