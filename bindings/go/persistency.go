// Package persistency is the Go binding of libpersistency, an embedded
// per-job key-value store on SQLite (one database file and one worker
// thread per job), reached through its C ABI with cgo.
//
// Build the library first (from the repository root):
//
//	scripts/build.sh
//
// The package links target/release/libpersistency.so and records its
// directory as the run-time search path, so nothing else is needed to build,
// test or run from a clone.
//
//	inst, err := persistency.Open("/var/lib/node/persistency")
//	job, err := inst.OpenJob("store", nil)
//	key, err := persistency.EncodeKey("/waku/2/rs/1/0", int64(ts), hash[:])
//	err = job.Put("messages", key, payload)          // queued, returns at once
//	value, found, err := job.Get(ctx, "messages", key) // sees the put
//
// Every value here is safe for concurrent use by many goroutines. Results
// are copied into Go memory; nothing needs to be freed by hand (handles
// are released when their Go values are garbage collected).
package persistency

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -lpersistency -Wl,-rpath,${SRCDIR}/../../target/release
#include <stdlib.h>
#include <stdint.h>
#include "persistency.h"

// Exported from callbacks.go.
extern void persistencyGoResult(persistency_result *r, uintptr_t h);
extern void persistencyGoLog(int32_t level, char *msg);

static void pgo_result(const persistency_result *r, void *user_data) {
	persistencyGoResult((persistency_result *)r, (uintptr_t)user_data);
}

static void pgo_log(int32_t level, const char *msg, void *user_data) {
	(void)user_data;
	persistencyGoLog(level, (char *)msg);
}

static void pgo_set_logger(int on, int32_t max_level) {
	persistency_set_logger(on ? pgo_log : NULL, NULL, max_level);
}

// Status returned by the helpers below when they cannot allocate.
#define PGO_NOMEM (-1)

static int32_t pgo_write(persistency_job *job, const persistency_op *ops, size_t n, int wait, uintptr_t h) {
	return persistency_write(job, ops, n, wait ? pgo_result : NULL, (void *)h);
}

static int32_t pgo_flush(persistency_job *job, uintptr_t h) {
	return persistency_flush(job, pgo_result, (void *)h);
}

static int32_t pgo_get(persistency_job *job, const char *cat, const uint8_t *key, size_t key_len, uintptr_t h) {
	return persistency_get(job, cat, key, key_len, pgo_result, (void *)h);
}

static int32_t pgo_exists(persistency_job *job, const char *cat, const uint8_t *key, size_t key_len, uintptr_t h) {
	return persistency_exists(job, cat, key, key_len, pgo_result, (void *)h);
}

static int32_t pgo_delete_acked(persistency_job *job, const char *cat, const uint8_t *key, size_t key_len, uintptr_t h) {
	return persistency_delete_acked(job, cat, key, key_len, pgo_result, (void *)h);
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
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// Version returns the library's version.
func Version() string {
	return C.GoString(C.persistency_version())
}

// call runs one status-returning C call and, on failure, reads the thread's
// last error on the same OS thread before anything else can run there.
func call(f func() int32) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := f()
	if s == 0 {
		return nil
	}
	if s == C.PGO_NOMEM {
		return newError(StatusInternal, "out of memory")
	}
	e := &Error{Code: Status(s)}
	if msg := C.persistency_last_error(); msg != nil {
		e.Message = C.GoString(msg)
	}
	return e
}

// cstr returns s as a NUL-terminated Go buffer (C must not keep it past the
// call). A string with an interior NUL byte is refused: C would silently
// see a shorter one.
func cstr(what, s string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(StatusInvalidArgument, what+" contains a NUL byte")
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b, nil
}

func charPtr(b []byte) *C.char {
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// bytesPtr returns a pointer to b's bytes for the duration of a C call, or
// NULL for an empty slice.
func bytesPtr(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

var errNilContext = newError(StatusInvalidArgument, "nil context")

// ---------------------------------------------------------------- instances

// Instance is one root directory holding one database file per job.
// Obtain one with Open (independent) or Global (process-wide).
type Instance struct {
	mu  sync.RWMutex
	ptr *C.persistency // nil once closed
}

func wrapInstance(ptr *C.persistency) *Instance {
	inst := &Instance{ptr: ptr}
	runtime.SetFinalizer(inst, func(i *Instance) { i.release() })
	return inst
}

// Open makes an independent instance rooted at rootDir, owned by the caller
// (one per node when several nodes share a process). The directory is
// created by the first OpenJob; ":memory:" keeps every job in memory. Two
// live instances cannot open the same job file.
func Open(rootDir string) (*Instance, error) {
	root, err := cstr("root directory", rootDir)
	if err != nil {
		return nil, err
	}
	var ptr *C.persistency
	if err := call(func() int32 { return int32(C.persistency_new(charPtr(root), &ptr)) }); err != nil {
		return nil, err
	}
	return wrapInstance(ptr), nil
}

// Global returns the process-wide instance: the first call installs rootDir;
// later calls with the same string return the same instance, and a call
// with another string fails with ErrInvalidArgument (until Reset).
func Global(rootDir string) (*Instance, error) {
	root, err := cstr("root directory", rootDir)
	if err != nil {
		return nil, err
	}
	var ptr *C.persistency
	if err := call(func() int32 { return int32(C.persistency_instance(charPtr(root), &ptr)) }); err != nil {
		return nil, err
	}
	return wrapInstance(ptr), nil
}

// Current returns the installed process-wide instance, or ErrClosed when
// there is none.
func Current() (*Instance, error) {
	var ptr *C.persistency
	if err := call(func() int32 { return int32(C.persistency_instance_current(&ptr)) }); err != nil {
		return nil, err
	}
	return wrapInstance(ptr), nil
}

// Reset closes every job of the process-wide instance and empties the slot,
// so that Global may install another root. Every old *Instance and *Job of
// it then fails with ErrClosed. Resetting an empty slot is a no-op.
func Reset() error {
	return call(func() int32 { return int32(C.persistency_reset()) })
}

// Same reports whether i and other refer to the same library instance
// (Global returns a new *Instance for the same process-wide instance).
func (i *Instance) Same(other *Instance) bool {
	if i == nil || other == nil {
		return false
	}
	// One lock at a time: holding both could deadlock against a Close.
	a, b := i.load(), other.load()
	return a != nil && a == b
}

// load returns the handle, nil once closed.
func (i *Instance) load() *C.persistency {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.ptr
}

// with runs f with the instance's handle, or fails with ErrClosed.
func (i *Instance) with(f func(p *C.persistency) error) error {
	if i == nil {
		return newError(StatusInvalidArgument, "nil *Instance")
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return newError(StatusClosed, "instance closed")
	}
	return f(i.ptr)
}

// RootDir returns the root directory the instance was made with ("" once
// closed).
func (i *Instance) RootDir() string {
	var root string
	_ = i.with(func(p *C.persistency) error {
		root = C.GoString(C.persistency_root_dir(p))
		return nil
	})
	return root
}

// Close closes every job of the instance (each after applying everything
// accepted before) and releases this *Instance, whose later calls fail with
// ErrClosed. For the process-wide instance the slot stays installed:
// Global returns it again, empty of jobs; use Reset to empty the slot.
// Idempotent.
func (i *Instance) Close() error {
	if i == nil {
		return newError(StatusInvalidArgument, "nil *Instance")
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ptr == nil {
		return nil
	}
	p := i.ptr
	if err := call(func() int32 { return int32(C.persistency_close(p)) }); err != nil {
		return err
	}
	C.persistency_release(p)
	i.ptr = nil
	return nil
}

func (i *Instance) release() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ptr != nil {
		C.persistency_release(i.ptr)
		i.ptr = nil
	}
}

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

// OpenJob opens or creates the job <root>/<id>.db (id: 1 to 128 bytes of
// [A-Za-z0-9_.-], not starting with '.'). Opening an open job returns it
// again; the options of the first open stand. nil options mean defaults.
func (i *Instance) OpenJob(id string, opts *JobOptions) (*Job, error) {
	cid, err := cstr("job id", id)
	if err != nil {
		return nil, err
	}
	var c C.persistency_job_options
	C.persistency_job_options_init(&c)
	if opts != nil {
		c.synchronous = C.int32_t(opts.Synchronous)
		c.full_policy = C.int32_t(opts.FullPolicy)
		c.max_db_bytes = C.uint64_t(opts.MaxDBBytes)
		if opts.QueueCapacity != 0 {
			c.queue_capacity = C.uint32_t(opts.QueueCapacity)
		}
	}
	var ptr *C.persistency_job
	err = i.with(func(p *C.persistency) error {
		return call(func() int32 { return int32(C.persistency_open_job_with(p, charPtr(cid), &c, &ptr)) })
	})
	if err != nil {
		return nil, err
	}
	return i.wrapJob(ptr, id), nil
}

// FindJob returns the open job id, or ErrJobNotFound.
func (i *Instance) FindJob(id string) (*Job, error) {
	cid, err := cstr("job id", id)
	if err != nil {
		return nil, err
	}
	var ptr *C.persistency_job
	err = i.with(func(p *C.persistency) error {
		return call(func() int32 { return int32(C.persistency_find_job(p, charPtr(cid), &ptr)) })
	})
	if err != nil {
		return nil, err
	}
	return i.wrapJob(ptr, id), nil
}

// HasJob reports whether the job id is open.
func (i *Instance) HasJob(id string) bool {
	cid, err := cstr("job id", id)
	if err != nil {
		return false
	}
	has := false
	_ = i.with(func(p *C.persistency) error {
		has = bool(C.persistency_has_job(p, charPtr(cid)))
		return nil
	})
	return has
}

// CloseJob closes the job id after applying every operation accepted
// before and running every pending callback; later calls on its *Job fail
// with ErrClosed. Closing a job that is not open is a no-op.
func (i *Instance) CloseJob(id string) error {
	cid, err := cstr("job id", id)
	if err != nil {
		return err
	}
	return i.with(func(p *C.persistency) error {
		return call(func() int32 { return int32(C.persistency_close_job(p, charPtr(cid))) })
	})
}

// DropJob closes the job id if it is open, then deletes its database file
// and sidecars. A missing file is not an error.
func (i *Instance) DropJob(id string) error {
	cid, err := cstr("job id", id)
	if err != nil {
		return err
	}
	return i.with(func(p *C.persistency) error {
		return call(func() int32 { return int32(C.persistency_drop_job(p, charPtr(cid))) })
	})
}

// --------------------------------------------------------------------- jobs

// Job is one open job: one database file with its own worker thread, which
// applies the job's operations in the order they were accepted. A read
// accepted after a write sees it.
type Job struct {
	ptr  *C.persistency_job
	inst *Instance
	id   string
}

func (i *Instance) wrapJob(ptr *C.persistency_job, id string) *Job {
	j := &Job{ptr: ptr, inst: i, id: id}
	runtime.SetFinalizer(j, func(j *Job) { C.persistency_job_release(j.ptr) })
	return j
}

// ID returns the job's id.
func (j *Job) ID() string {
	if j == nil {
		return ""
	}
	return j.id
}

// Close closes this job (see Instance.CloseJob). If the job was closed and
// another job with the same id opened since, that one is left alone.
func (j *Job) Close() error {
	if j == nil || j.ptr == nil {
		return newError(StatusInvalidArgument, "nil *Job")
	}
	current, err := j.inst.FindJob(j.id)
	if err != nil {
		if isStatus(err, StatusJobNotFound) || isStatus(err, StatusClosed) {
			return nil
		}
		return err
	}
	if current.ptr != j.ptr {
		return nil
	}
	return j.inst.CloseJob(j.id)
}

func isStatus(err error, s Status) bool {
	e, ok := err.(*Error)
	return ok && e.Code == s
}

// handle returns the job's handle, or an error for a nil *Job.
func (j *Job) handle() (*C.persistency_job, error) {
	if j == nil || j.ptr == nil {
		return nil, newError(StatusInvalidArgument, "nil *Job")
	}
	return j.ptr, nil
}

// Stats are a job's counters, updated by its worker as it goes.
type Stats struct {
	Queued       uint64 // operations waiting now
	OpsApplied   uint64 // write operations committed
	OpsFailed    uint64 // write operations that failed
	Transactions uint64 // commits
	Reads        uint64 // read requests served
	DBBytes      uint64 // bytes of the job's files on disk (db + wal)
}

// Stats returns the job's counters.
func (j *Job) Stats() (Stats, error) {
	ptr, err := j.handle()
	if err != nil {
		return Stats{}, err
	}
	var s C.persistency_stats
	err = call(func() int32 { return int32(C.persistency_job_stats(ptr, &s)) })
	runtime.KeepAlive(j)
	if err != nil {
		return Stats{}, err
	}
	return Stats{
		Queued:       uint64(s.queued),
		OpsApplied:   uint64(s.ops_applied),
		OpsFailed:    uint64(s.ops_failed),
		Transactions: uint64(s.transactions),
		Reads:        uint64(s.reads),
		DBBytes:      uint64(s.db_bytes),
	}, nil
}

// Put queues an insert-or-replace and returns without waiting for it
// (fire-and-forget; use Flush or Write to wait for durability). A failure
// in the worker is counted in Stats.OpsFailed and logged.
func (j *Job) Put(category string, key, value []byte) error {
	ptr, err := j.handle()
	if err != nil {
		return err
	}
	cat, err := cstr("category", category)
	if err != nil {
		return err
	}
	k, kl := bytesPtr(key)
	v, vl := bytesPtr(value)
	err = call(func() int32 { return int32(C.persistency_put(ptr, charPtr(cat), k, kl, v, vl)) })
	runtime.KeepAlive(j)
	return err
}

// Delete queues the deletion of one key (fire-and-forget).
func (j *Job) Delete(category string, key []byte) error {
	ptr, err := j.handle()
	if err != nil {
		return err
	}
	cat, err := cstr("category", category)
	if err != nil {
		return err
	}
	k, kl := bytesPtr(key)
	err = call(func() int32 { return int32(C.persistency_delete(ptr, charPtr(cat), k, kl)) })
	runtime.KeepAlive(j)
	return err
}

// DeletePrefix queues the deletion of every key of category that starts
// with prefix (fire-and-forget; an empty prefix empties the category).
func (j *Job) DeletePrefix(category string, prefix []byte) error {
	ptr, err := j.handle()
	if err != nil {
		return err
	}
	cat, err := cstr("category", category)
	if err != nil {
		return err
	}
	k, kl := bytesPtr(prefix)
	err = call(func() int32 { return int32(C.persistency_delete_prefix(ptr, charPtr(cat), k, kl)) })
	runtime.KeepAlive(j)
	return err
}

// OpKind is the kind of one operation of a batch.
type OpKind int32

// The operation kinds.
const (
	OpPut          OpKind = 0 // insert or replace Key with Value
	OpDelete       OpKind = 1 // delete Key
	OpDeletePrefix OpKind = 2 // delete every key starting with Key
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
		return writeOps(ptr, ops, true, h)
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
	err = writeOps(ptr, ops, false, 0)
	runtime.KeepAlive(j)
	return err
}

// writeOps packs ops into one Go buffer plus offsets and submits them.
func writeOps(ptr *C.persistency_job, ops []Op, wait bool, h C.uintptr_t) error {
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
	return call(func() int32 {
		return int32(C.pgo_write_blob(ptr, b, o, C.size_t(len(cops)), cbool(wait), h))
	})
}

// Flush waits until every operation accepted before it has been committed.
// It succeeds even if some fire-and-forget writes failed (see Stats).
func (j *Job) Flush(ctx context.Context) error {
	_, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		return call(func() int32 { return int32(C.pgo_flush(ptr, h)) })
	})
	return err
}

// Row is one key and its value, copied into Go memory.
type Row struct {
	Key   []byte // the encoded key
	Value []byte // the stored payload
}

// result is what a callback hands to its waiter.
type result struct {
	err     error
	found   bool
	value   []byte
	count   uint64
	rows    []Row
	hasMore bool
}

// pending is one request waiting for its callback.
type pending struct {
	done chan result // buffered: the callback never blocks
}

// async submits one request whose callback gets a cgo.Handle of a pending
// as user_data, then waits for the result or for ctx. A request refused by
// the library never calls back, so its handle is freed here; an accepted
// one always calls back, and the callback frees it, whether or not anyone
// still waits.
func (j *Job) async(ctx context.Context, submit func(ptr *C.persistency_job, h C.uintptr_t) error) (result, error) {
	ptr, err := j.handle()
	if err != nil {
		return result{}, err
	}
	if ctx == nil {
		return result{}, errNilContext
	}
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	p := &pending{done: make(chan result, 1)}
	h := cgo.NewHandle(p)
	pendingCount.Add(1)
	err = submit(ptr, C.uintptr_t(h))
	runtime.KeepAlive(j)
	if err != nil {
		pendingCount.Add(-1)
		h.Delete()
		return result{}, err
	}
	select {
	case res := <-p.done:
		return res, res.err
	case <-ctx.Done():
		select {
		case res := <-p.done:
			return res, res.err
		default:
			return result{}, ctx.Err()
		}
	}
}

// Get returns the value stored under key, and whether there is one.
func (j *Job) Get(ctx context.Context, category string, key []byte) (value []byte, found bool, err error) {
	cat, err := cstr("category", category)
	if err != nil {
		return nil, false, err
	}
	res, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		k, kl := bytesPtr(key)
		return call(func() int32 { return int32(C.pgo_get(ptr, charPtr(cat), k, kl, h)) })
	})
	if err != nil || !res.found {
		return nil, false, err
	}
	return res.value, true, nil
}

// Exists reports whether key is present.
func (j *Job) Exists(ctx context.Context, category string, key []byte) (bool, error) {
	cat, err := cstr("category", category)
	if err != nil {
		return false, err
	}
	res, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		k, kl := bytesPtr(key)
		return call(func() int32 { return int32(C.pgo_exists(ptr, charPtr(cat), k, kl, h)) })
	})
	return res.found, err
}

// DeleteAcked deletes key, waits for the commit, and reports whether a row
// was removed.
func (j *Job) DeleteAcked(ctx context.Context, category string, key []byte) (bool, error) {
	cat, err := cstr("category", category)
	if err != nil {
		return false, err
	}
	res, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		k, kl := bytesPtr(key)
		return call(func() int32 { return int32(C.pgo_delete_acked(ptr, charPtr(cat), k, kl, h)) })
	})
	return res.found, err
}

// Count returns the number of keys in [start, stop); an empty stop means
// no upper bound.
func (j *Job) Count(ctx context.Context, category string, start, stop []byte) (uint64, error) {
	cat, err := cstr("category", category)
	if err != nil {
		return 0, err
	}
	res, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		s, sl := bytesPtr(start)
		e, el := bytesPtr(stop)
		return call(func() int32 { return int32(C.pgo_count(ptr, charPtr(cat), s, sl, e, el, h)) })
	})
	return res.count, err
}

// GetMany looks up many keys in one request and one read transaction. It
// returns one row per key that exists, in the order of keys (missing keys
// are left out).
func (j *Job) GetMany(ctx context.Context, category string, keys [][]byte) ([]Row, error) {
	cat, err := cstr("category", category)
	if err != nil {
		return nil, err
	}
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
	res, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		b, _ := bytesPtr(blob)
		var l *C.size_t
		if len(lens) > 0 {
			l = &lens[0]
		}
		return call(func() int32 {
			return int32(C.pgo_get_many(ptr, charPtr(cat), b, l, C.size_t(len(lens)), h))
		})
	})
	if err != nil {
		return nil, err
	}
	if res.rows == nil {
		res.rows = []Row{}
	}
	return res.rows, nil
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
	cat, err := cstr("category", category)
	if err != nil {
		return nil, false, err
	}
	res, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		s, sl := bytesPtr(r.Start)
		e, el := bytesPtr(r.Stop)
		return call(func() int32 {
			return int32(C.pgo_scan(ptr, charPtr(cat), s, sl, e, el, cbool(r.Reverse), C.uint32_t(r.Limit), h))
		})
	})
	if err != nil {
		return nil, false, err
	}
	if res.rows == nil {
		res.rows = []Row{}
	}
	return res.rows, res.hasMore, nil
}

// ScanPrefix returns the rows whose key starts with prefix, like Scan.
func (j *Job) ScanPrefix(ctx context.Context, category string, prefix []byte, reverse bool, limit uint32) (rows []Row, hasMore bool, err error) {
	cat, err := cstr("category", category)
	if err != nil {
		return nil, false, err
	}
	res, err := j.async(ctx, func(ptr *C.persistency_job, h C.uintptr_t) error {
		p, pl := bytesPtr(prefix)
		return call(func() int32 {
			return int32(C.pgo_scan_prefix(ptr, charPtr(cat), p, pl, cbool(reverse), C.uint32_t(limit), h))
		})
	})
	if err != nil {
		return nil, false, err
	}
	if res.rows == nil {
		res.rows = []Row{}
	}
	return res.rows, res.hasMore, nil
}

// ---------------------------------------------------------------- logging

// The log levels; a logger set with max level L receives the messages of
// level L and below.
const (
	LogError = 1
	LogWarn  = 2
	LogInfo  = 3
	LogDebug = 4
)

// SetLogger installs fn as the library's logger for messages of level at
// most maxLevel; nil removes it. fn may be called from any library thread,
// concurrently, and must be quick; a panic in it is recovered and ignored.
func SetLogger(fn func(level int, msg string), maxLevel int) {
	if fn == nil {
		C.pgo_set_logger(0, 0)
		logFunc.Store(nil)
		return
	}
	logFunc.Store(&fn)
	C.pgo_set_logger(1, C.int32_t(maxLevel))
}
