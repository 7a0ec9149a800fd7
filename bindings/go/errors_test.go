package persistency

// This file holds the tests of the errors every call returns on bad
// input, on a nil or closed *Job and on a closed *Instance.

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestErrors(t *testing.T) {
	ctx := context.Background()
	inst, job := newJob(t, nil)

	_, err := inst.FindJob("nope")
	wantCode(t, err, ErrJobNotFound, StatusJobNotFound)
	var e *Error
	if !errors.As(err, &e) || e.Message == "" || !strings.Contains(err.Error(), "PERSISTENCY_ERR_JOB_NOT_FOUND") {
		t.Fatalf("error text %q", err.Error())
	}
	if inst.HasJob("nope") || !inst.HasJob("t") {
		t.Fatal("HasJob")
	}
	for _, bad := range []string{"", ".hidden", "../x", "a/b", "a\x00b", strings.Repeat("x", 129)} {
		_, err := inst.OpenJob(bad, nil)
		wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	}
	_, err = inst.OpenJob("opts", &JobOptions{Synchronous: 7})
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	_, err = inst.OpenJob("opts", &JobOptions{FullPolicy: 9})
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	_, err = Open("")
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	_, err = Open(filepath.Join(t.TempDir(), "x\x00y"))
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)

	wantCode(t, job.Put("a\x00b", []byte("k"), nil), ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, job.Put(strings.Repeat("c", 65536), []byte("k"), nil), ErrInvalidArgument, StatusInvalidArgument)
	var nilCtx context.Context
	_, _, err = job.Get(nilCtx, cat, []byte("k"))
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)

	var nilJob *Job
	wantCode(t, nilJob.Put(cat, nil, nil), ErrInvalidArgument, StatusInvalidArgument)
	_, _, err = nilJob.Get(ctx, cat, nil)
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	_, err = nilJob.Stats()
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, nilJob.Close(), ErrInvalidArgument, StatusInvalidArgument)
	var zeroJob Job
	wantCode(t, zeroJob.Flush(ctx), ErrInvalidArgument, StatusInvalidArgument)
	var nilInst *Instance
	_, err = nilInst.OpenJob("x", nil)
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)

	// A closed job: every call fails with ErrClosed, old handles stay safe.
	if err := job.Put(cat, []byte("before"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := job.Close(); err != nil {
		t.Fatal(err)
	}
	if err := job.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	wantCode(t, job.Put(cat, []byte("k"), nil), ErrClosed, StatusClosed)
	_, _, err = job.Get(ctx, cat, []byte("k"))
	wantCode(t, err, ErrClosed, StatusClosed)
	wantCode(t, job.Flush(ctx), ErrClosed, StatusClosed)
	wantCode(t, job.Write(ctx, []Op{PutOp(cat, []byte("k"), nil)}), ErrClosed, StatusClosed)
	_, _, err = job.Scan(ctx, cat, Range{})
	wantCode(t, err, ErrClosed, StatusClosed)
	_, err = job.Stats()
	wantCode(t, err, ErrClosed, StatusClosed)

	// Reopened, the put accepted before the close is there; closing the old
	// handle again leaves the new job open.
	job2, err := inst.OpenJob("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := job2.Exists(ctx, cat, []byte("before")); err != nil || !ok {
		t.Fatalf("accepted put lost: %v %v", ok, err)
	}
	if err := job.Close(); err != nil || !inst.HasJob("t") {
		t.Fatalf("old handle closed the new job: %v", err)
	}

	// A closed instance.
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := inst.Close(); err != nil {
		t.Fatalf("second instance close: %v", err)
	}
	_, err = inst.OpenJob("t", nil)
	wantCode(t, err, ErrClosed, StatusClosed)
	wantCode(t, job2.Put(cat, []byte("k"), nil), ErrClosed, StatusClosed)
	if inst.RootDir() != "" || inst.HasJob("t") {
		t.Fatal("closed instance still answers")
	}
	if err := job2.Close(); err != nil {
		t.Fatalf("closing a job of a closed instance: %v", err)
	}
}
