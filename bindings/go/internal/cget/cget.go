// Package cget runs the C blocking get in a loop written in C, for the
// binding's benchmarks: what a C host calling persistency_get_sync sees,
// measured in the same process and the same run as the Go binding's Get,
// so that machine noise falls on both alike.
//
// It is a benchmark helper only (test files cannot use cgo): internal to
// the module, not part of the binding's API.
package cget

/*
#cgo CFLAGS: -I${SRCDIR}/../../../../include
#cgo LDFLAGS: -L${SRCDIR}/../../../../target/release -lpersistency -Wl,-rpath,${SRCDIR}/../../../../target/release
#include <stdint.h>
#include <stdlib.h>
#include "persistency.h"

// n blocking gets of keys[order[i % n_order]] (key_len bytes each), each
// checked to be found with value_len bytes. Returns the index of the first
// get that failed, or -1 when all succeeded.
static long cget_loop(persistency_job *job, const char *cat, const uint8_t *keys, size_t key_len,
                      const int32_t *order, size_t n_order, size_t n, size_t value_len) {
	for (size_t i = 0; i < n; i++) {
		const uint8_t *key = keys + (size_t)order[i % n_order] * key_len;
		const persistency_result *reply = NULL;
		if (persistency_get_sync(job, cat, key, key_len, &reply) != PERSISTENCY_OK) {
			return (long)i;
		}
		int ok = reply->found && reply->value_len == value_len;
		persistency_reply_free(reply);
		if (!ok) {
			return (long)i;
		}
	}
	return -1;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Loop makes n blocking gets from C on job (a *persistency_job), of the
// keys keys[order[i % len(order)]], all of length keyLen and stored
// contiguously in keys, each of which must hold a value of valueLen bytes.
// The loop is one cgo call: no Go code runs between the gets.
func Loop(job unsafe.Pointer, category string, keys []byte, keyLen int, order []int32, n, valueLen int) error {
	if job == nil || keyLen <= 0 || len(order) == 0 || len(keys) < keyLen {
		return fmt.Errorf("cget: bad arguments")
	}
	for _, o := range order {
		if o < 0 || (int(o)+1)*keyLen > len(keys) {
			return fmt.Errorf("cget: order entry %d out of range", o)
		}
	}
	cat := C.CString(category)
	defer C.free(unsafe.Pointer(cat))
	failed := C.cget_loop((*C.persistency_job)(job), cat, (*C.uint8_t)(unsafe.Pointer(&keys[0])),
		C.size_t(keyLen), (*C.int32_t)(unsafe.Pointer(&order[0])), C.size_t(len(order)),
		C.size_t(n), C.size_t(valueLen))
	if failed >= 0 {
		return fmt.Errorf("cget: get %d failed or returned the wrong value", int(failed))
	}
	return nil
}
