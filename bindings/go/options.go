package persistency

// This file holds the options of a job (JobOptions and the types of its
// fields) and their conversion to the C struct.

/*
#include "persistency.h"
*/
import "C"

// Synchronous is SQLite's synchronous setting for a job.
type Synchronous int32

// The synchronous settings.
const (
	SyncNormal Synchronous = C.PERSISTENCY_SYNC_NORMAL // the default: durable at checkpoints, safe against corruption
	SyncOff    Synchronous = C.PERSISTENCY_SYNC_OFF    // fastest, a power loss may lose recent commits
	SyncFull   Synchronous = C.PERSISTENCY_SYNC_FULL   // every commit durable
)

// FullPolicy says what a write does when the job's queue is full.
type FullPolicy int32

// The queue-full policies.
const (
	FullBlock FullPolicy = C.PERSISTENCY_FULL_BLOCK // wait for room (the default)
	FullFail  FullPolicy = C.PERSISTENCY_FULL_FAIL  // fail at once with ErrBusy
)

// JobOptions configures a job when it is opened. The zero value means the
// library's defaults.
type JobOptions struct {
	Synchronous   Synchronous // SyncNormal by default
	QueueCapacity uint32      // max operations waiting for the worker; 0 = library default
	FullPolicy    FullPolicy  // FullBlock by default
	MaxDBBytes    uint64      // cap on the database file's size; 0 = unlimited
	// MaxQueueBytes bounds the bytes of requests waiting for the worker
	// (keys, payloads, a small cost per request); 0 = library default
	// (64 MiB). Without room a write waits or fails with ErrBusy, by
	// FullPolicy; one larger request is accepted into an empty queue.
	MaxQueueBytes uint64
	// RetentionMaxBytes keeps the job's live data under this many bytes
	// (0: off) by removing the oldest rows (smallest keys) of
	// RetentionCategories, in that order, and giving the space back. A
	// single write of more than half of it fails with ErrFull.
	RetentionMaxBytes   uint64
	RetentionCategories []string // the categories retention trims
}

// cOptions returns opts as the C struct, the library's defaults where opts
// is nil.
func cOptions(opts *JobOptions) C.persistency_job_options {
	var c C.persistency_job_options
	C.persistency_job_options_init_sized(&c, C.sizeof_persistency_job_options)
	if opts != nil {
		c.synchronous = C.int32_t(opts.Synchronous)
		c.full_policy = C.int32_t(opts.FullPolicy)
		c.max_db_bytes = C.uint64_t(opts.MaxDBBytes)
		if opts.QueueCapacity != 0 {
			c.queue_capacity = C.uint32_t(opts.QueueCapacity)
		}
		if opts.MaxQueueBytes != 0 {
			c.max_queue_bytes = C.uint64_t(opts.MaxQueueBytes)
		}
	}
	return c
}
