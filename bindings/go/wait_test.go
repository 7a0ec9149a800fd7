package persistency

// This file holds the tests of contexts ending a wait for room in a full
// queue (FullBlock): the call returns ctx.Err(), queues nothing, and no
// goroutine stays blocked in C.

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestContextEndsAWaitForRoom(t *testing.T) {
	_, job := newJob(t, &JobOptions{QueueCapacity: 1})
	// Hold the worker inside a flush's callback; then one put fills the queue.
	hold := holdWorker(t)
	flushed := make(chan error, 1)
	go func() { flushed <- job.Flush(context.Background()) }()
	<-hold.entered
	if err := job.Put(cat, []byte("queued"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	if err := job.PutContext(ctx, cat, []byte("late"), []byte("v")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutContext on a full queue: %v, want context.DeadlineExceeded", err)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel2() }()
	if err := job.Write(ctx2, []Op{PutOp(cat, []byte("late2"), []byte("v"))}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write on a full queue: %v, want context.Canceled", err)
	}
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, _, err := job.Get(ctx3, cat, []byte("queued")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with an ended context: %v, want context.Canceled", err)
	}

	close(hold.proceed)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := job.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"late", "late2"} {
		if ok, err := job.Exists(context.Background(), cat, []byte(k)); err != nil || ok {
			t.Fatalf("%s: exists=%v err=%v, want a refused write to be absent", k, ok, err)
		}
	}
	if ok, err := job.Exists(context.Background(), cat, []byte("queued")); err != nil || !ok {
		t.Fatalf("queued: exists=%v err=%v", ok, err)
	}
	// Without a context that ends, the wait for room is unbounded again.
	if err := job.PutContext(context.Background(), cat, []byte("after"), []byte("v")); err != nil {
		t.Fatal(err)
	}
}
