package persistency

// This file holds the tests of writes: round trips, atomic batches, and
// a full queue (ErrBusy) or disk quota (ErrFull).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	key := mustKey(t, "topic", int64(1))
	if err := job.Put(cat, key, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	v, found, err := job.Get(ctx, cat, key)
	if err != nil || !found || string(v) != "hello" {
		t.Fatalf("get after put: %q %v %v", v, found, err)
	}
	if ok, err := job.Exists(ctx, cat, key); err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	// Categories are separate key spaces.
	if _, found, err := job.Get(ctx, "other", key); err != nil || found {
		t.Fatalf("other category: %v %v", found, err)
	}
	// Replace, empty value, empty key.
	if err := job.Put(cat, key, nil); err != nil {
		t.Fatal(err)
	}
	if err := job.Put(cat, nil, []byte("empty key")); err != nil {
		t.Fatal(err)
	}
	v, found, err = job.Get(ctx, cat, key)
	if err != nil || !found || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %v %v %v", v, found, err)
	}
	v, found, err = job.Get(ctx, cat, []byte{})
	if err != nil || !found || string(v) != "empty key" {
		t.Fatalf("empty key: %q %v %v", v, found, err)
	}
	if err := job.Delete(cat, key); err != nil {
		t.Fatal(err)
	}
	v, found, err = job.Get(ctx, cat, key)
	if err != nil || found || v != nil {
		t.Fatalf("get after delete: %v %v %v", v, found, err)
	}
	if ok, err := job.Exists(ctx, cat, key); err != nil || ok {
		t.Fatalf("exists after delete: %v %v", ok, err)
	}
	big := bytes.Repeat([]byte{0xAB}, 1<<20)
	if err := job.Put(cat, key, big); err != nil {
		t.Fatal(err)
	}
	v, _, err = job.Get(ctx, cat, key)
	if err != nil || !bytes.Equal(v, big) {
		t.Fatalf("1 MiB value: %d bytes, %v", len(v), err)
	}
	if err := job.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := job.Stats()
	if err != nil || st.OpsApplied < 5 || st.Reads < 7 || st.Transactions == 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

func TestWriteBatch(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	for i := 0; i < 5; i++ {
		if err := job.Put(cat, mustKey(t, "old", int64(i)), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	ops := []Op{
		PutOp(cat, []byte("a"), []byte("1")),
		PutOp(cat, []byte("b"), []byte("2")),
		PutOp("other", []byte("a"), []byte("3")),
		DeleteOp(cat, []byte("b")),
		DeletePrefixOp(cat, mustKey(t, "old")),
	}
	if err := job.Write(ctx, ops); err != nil {
		t.Fatal(err)
	}
	rows, _, err := job.Scan(ctx, cat, Range{})
	if err != nil || len(rows) != 1 || string(rows[0].Key) != "a" || string(rows[0].Value) != "1" {
		t.Fatalf("after batch: %v %v", rows, err)
	}
	if v, _, _ := job.Get(ctx, "other", []byte("a")); string(v) != "3" {
		t.Fatalf("other category: %q", v)
	}

	// An invalid op refuses the whole batch; nothing is queued.
	bad := []Op{PutOp(cat, []byte("c"), []byte("x")), {Kind: 99, Category: cat, Key: []byte("d")}}
	wantCode(t, job.Write(ctx, bad), ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, job.WriteNoWait(bad), ErrInvalidArgument, StatusInvalidArgument)
	nul := []Op{PutOp(cat, []byte("c"), []byte("x")), PutOp("a\x00b", []byte("d"), nil)}
	wantCode(t, job.Write(ctx, nul), ErrInvalidArgument, StatusInvalidArgument)
	if err := job.WriteNoWait([]Op{PutOp(cat, []byte("e"), []byte("5"))}); err != nil {
		t.Fatal(err)
	}
	if err := job.Write(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if n, err := job.Count(ctx, cat, nil, nil); err != nil || n != 2 {
		t.Fatalf("count after refused batches: %d %v", n, err)
	}
	if err := job.DeletePrefix(cat, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := job.Count(ctx, cat, nil, nil); err != nil || n != 0 {
		t.Fatalf("count after DeletePrefix(nil): %d %v", n, err)
	}
}

func TestBusyAndFull(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, &JobOptions{QueueCapacity: 1, FullPolicy: FullFail})

	// Hold the worker inside a callback so that the queue fills up.
	release := holdWorker(t)
	go func() { _, _, _ = job.Get(ctx, cat, []byte("x")) }()
	<-release.entered
	accepted := 0
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		if err = job.Put(cat, mustKey(t, int64(i)), []byte("v")); err == nil {
			accepted++
		}
	}
	wantCode(t, err, ErrBusy, StatusBusy)
	close(release.proceed)
	// With FullFail the flush itself may find the queue still full.
	for err = job.Flush(ctx); errors.Is(err, ErrBusy); err = job.Flush(ctx) {
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n, err := job.Count(ctx, cat, nil, nil); err != nil || n != uint64(accepted) || accepted == 0 {
		t.Fatalf("accepted %d, stored %d (%v)", accepted, n, err)
	}

	var mu sync.Mutex
	var logs []string
	SetLogger(func(level int, msg string) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf("%d %s", level, msg))
	}, LogDebug)
	defer SetLogger(nil, 0)
	inst, err := Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	capped, err := inst.OpenJob("capped", &JobOptions{MaxDBBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{1}, 256<<10)
	wantCode(t, capped.Write(ctx, []Op{PutOp(cat, []byte("big"), big)}), ErrFull, StatusFull)
	if err := capped.Put(cat, []byte("big"), big); err != nil {
		t.Fatal(err)
	}
	if err := capped.Put(cat, []byte("small"), []byte("fits")); err != nil {
		t.Fatal(err)
	}
	if err := capped.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := capped.Stats()
	if err != nil || st.OpsFailed < 1 {
		t.Fatalf("stats after a refused put: %+v %v", st, err)
	}
	if ok, _ := capped.Exists(ctx, cat, []byte("small")); !ok {
		t.Fatal("a write that fits was refused")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) == 0 {
		t.Fatal("the failed fire-and-forget put was not logged")
	}
}

// TestMaxQueueBytes checks that MaxQueueBytes reaches the library: with the
// worker held, 256 KiB puts are refused with ErrBusy once 1 MiB waits,
// whatever the operation capacity.
func TestMaxQueueBytes(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, &JobOptions{MaxQueueBytes: 1 << 20, FullPolicy: FullFail})

	release := holdWorker(t)
	go func() { _, _, _ = job.Get(ctx, cat, []byte("x")) }()
	<-release.entered
	payload := make([]byte, 256<<10)
	accepted := 0
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		if err = job.Put(cat, mustKey(t, int64(i)), payload); err == nil {
			accepted++
		}
	}
	wantCode(t, err, ErrBusy, StatusBusy)
	if accepted < 1 || accepted > 4 {
		t.Fatalf("accepted %d puts of 256 KiB under a 1 MiB bound", accepted)
	}
	close(release.proceed)
	for err = job.Flush(ctx); errors.Is(err, ErrBusy); err = job.Flush(ctx) {
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n, err := job.Count(ctx, cat, nil, nil); err != nil || n != uint64(accepted) {
		t.Fatalf("accepted %d, stored %d (%v)", accepted, n, err)
	}
}
