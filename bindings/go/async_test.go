package persistency

// This file holds the tests of the request protocol: contexts cancelled
// before and during a wait, and many goroutines on one job.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type workerHold struct {
	entered chan struct{}
	proceed chan struct{}
}

// holdWorker makes the next result callback block until proceed is closed.
func holdWorker(t *testing.T) workerHold {
	h := workerHold{entered: make(chan struct{}), proceed: make(chan struct{})}
	var once sync.Once
	hook := func() {
		once.Do(func() {
			close(h.entered)
			<-h.proceed
		})
	}
	testHookResult.Store(&hook)
	t.Cleanup(func() {
		testHookResult.Store(nil)
		select {
		case <-h.proceed:
		default:
			close(h.proceed)
		}
	})
	return h
}

func TestContextCancellation(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	if err := job.Put(cat, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}

	// Cancelled before the call: nothing is submitted.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := job.Get(done, cat, []byte("k")); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with cancelled ctx: %v", err)
	}
	if err := job.Write(done, []Op{PutOp(cat, []byte("never"), nil)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("write with cancelled ctx: %v", err)
	}

	// Cancelled while waiting: the wait returns ctx.Err(), the late result
	// is dropped, the accepted write still lands, no handle leaks.
	hold := holdWorker(t)
	go func() { _ = job.Flush(ctx) }()
	<-hold.entered
	wctx, wcancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- job.Write(wctx, []Op{PutOp(cat, []byte("late"), []byte("x"))}) }()
	// A write queued behind the held worker: a read must now wait for it
	// (a blocking read runs on the caller's thread only when nothing is
	// pending), and giving up on it must not leak its reply.
	if err := job.Put(cat, []byte("queued"), []byte("q")); err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer gcancel()
	if _, _, err := job.Get(gctx, cat, []byte("k")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get past deadline: %v", err)
	}
	wcancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("write cancelled while waiting: %v", err)
	}
	if pendingCount.Load() == 0 {
		t.Fatal("expected requests still pending in the held worker")
	}
	close(hold.proceed)
	if err := job.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v, found, err := job.Get(ctx, cat, []byte("late")); err != nil || !found || string(v) != "x" {
		t.Fatalf("accepted write lost after cancelled wait: %v %v", found, err)
	}
	if n := pendingCount.Load(); n != 0 {
		t.Fatalf("%d handles leaked", n)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	const goroutines, perG = 8, 150
	var wg sync.WaitGroup
	var failures atomic.Int64
	errc := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				key, _ := EncodeKey("g", int64(g), uint32(i))
				val := []byte(fmt.Sprintf("%d/%d", g, i))
				var err error
				switch i % 3 {
				case 0:
					err = job.Put(cat, key, val)
				case 1:
					err = job.Write(ctx, []Op{PutOp(cat, key, val)})
				default:
					err = job.WriteNoWait([]Op{PutOp(cat, key, val)})
				}
				if err != nil {
					errc <- err
					return
				}
				// Read-your-writes, from any goroutine.
				got, found, err := job.Get(ctx, cat, key)
				if err != nil || !found || !bytes.Equal(got, val) {
					failures.Add(1)
				}
				if i%50 == 49 {
					prefix, _ := EncodeKey("g", int64(g))
					n, err := job.Count(ctx, cat, prefix, PrefixStop(prefix))
					if err != nil || n != uint64(i+1) {
						failures.Add(1)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d reads did not see their writes", f)
	}
	if n, err := job.Count(ctx, cat, nil, nil); err != nil || n != goroutines*perG {
		t.Fatalf("total %d %v", n, err)
	}
	var scanned int
	if err := job.ForEach(ctx, cat, Range{Limit: 100}, func(Row) error { scanned++; return nil }); err != nil || scanned != goroutines*perG {
		t.Fatalf("scanned %d %v", scanned, err)
	}
}
