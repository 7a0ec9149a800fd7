package persistency

// This file holds the options of a job: JobOptions and the types of its
// fields.

// Synchronous is SQLite's synchronous setting for a job.
type Synchronous int32

// The synchronous settings.
const (
	SyncNormal Synchronous = 0 // the default: durable at checkpoints, safe against corruption
	SyncOff    Synchronous = 1 // fastest, a power loss may lose recent commits
	SyncFull   Synchronous = 2 // every commit durable
)

// FullPolicy says what a write does when the job's queue is full.
type FullPolicy int32

// The queue-full policies.
const (
	FullBlock FullPolicy = 0 // wait for room (the default)
	FullFail  FullPolicy = 1 // fail at once with ErrBusy
)

// JobOptions configures a job when it is opened. The zero value means the
// library's defaults.
type JobOptions struct {
	Synchronous   Synchronous // SyncNormal by default
	QueueCapacity uint32      // max operations waiting for the worker; 0 = library default
	FullPolicy    FullPolicy  // FullBlock by default
	MaxDBBytes    uint64      // cap on the database file's size; 0 = unlimited
}
