package persistency

// This file holds the jobs of an instance: opening, finding, closing and
// dropping them by id, and the *Job handle with its id and stats.

/*
#include "persistency.h"
*/
import "C"

import "runtime"

// OpenJob opens or creates the job <root>/<id>.db (id: 1 to 128 bytes of
// [A-Za-z0-9_.-], not starting with '.'). Opening an open job returns it
// again; the options of the first open stand. nil options mean defaults.
func (i *Instance) OpenJob(id string, opts *JobOptions) (*Job, error) {
	c := cOptions(opts)
	free, err := cRetention(opts, &c)
	if err != nil {
		return nil, err
	}
	defer free()
	var ptr *C.persistency_job
	err = i.callJob(id, func(p *C.persistency, cid *C.char) int32 {
		return int32(C.persistency_open_job_with(p, cid, &c, &ptr))
	})
	if err != nil {
		return nil, err
	}
	return i.wrapJob(ptr, id), nil
}

// FindJob returns the open job id, or ErrJobNotFound.
func (i *Instance) FindJob(id string) (*Job, error) {
	var ptr *C.persistency_job
	err := i.callJob(id, func(p *C.persistency, cid *C.char) int32 {
		return int32(C.persistency_find_job(p, cid, &ptr))
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
	return i.callJob(id, func(p *C.persistency, cid *C.char) int32 {
		return int32(C.persistency_close_job(p, cid))
	})
}

// DropJob closes the job id if it is open, then deletes its database file
// and sidecars. A missing file is not an error.
func (i *Instance) DropJob(id string) error {
	return i.callJob(id, func(p *C.persistency, cid *C.char) int32 {
		return int32(C.persistency_drop_job(p, cid))
	})
}

// callJob runs f, a status-returning C call on the job id, with the
// instance's handle. An id with a NUL byte is refused before the instance
// is looked at.
func (i *Instance) callJob(id string, f func(p *C.persistency, id *C.char) int32) error {
	cid, err := cstr("job id", id)
	if err != nil {
		return err
	}
	return i.with(func(p *C.persistency) error {
		return call(func() int32 { return f(p, charPtr(cid)) })
	})
}

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
