package persistency

// This file holds the tests of the blocking reads: a write accepted on one
// goroutine is seen by reads on others, whichever path the read takes, and
// the callback path Get used before still answers the same; Get returns
// every value length and error whichever of its two paths it takes.

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReadsSeeWritesOfOtherGoroutines(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	const writes, readers = 2000, 4
	var published atomic.Int64
	published.Store(-1)
	var stop atomic.Bool
	var misses, reads atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := published.Load()
				if i < 0 {
					continue
				}
				key, _ := EncodeKey("w", i)
				v, found, err := job.Get(ctx, cat, key)
				if err != nil || !found || !bytes.Equal(v, key) {
					misses.Add(1)
				}
				n, err := job.Count(ctx, cat, nil, nil)
				if err != nil || n <= uint64(i) {
					misses.Add(1)
				}
				reads.Add(1)
			}
		}()
	}
	for i := int64(0); i < writes; i++ {
		key, _ := EncodeKey("w", i)
		if err := job.Put(cat, key, key); err != nil {
			t.Fatal(err)
		}
		published.Store(i)
		if i%200 == 0 {
			// Let everything commit now and then, so reads take both paths.
			if err := job.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if m := misses.Load(); m != 0 {
		t.Fatalf("%d of %d reads missed an accepted write", m, reads.Load())
	}
	if reads.Load() == 0 {
		t.Fatal("no reads ran")
	}
}

func TestCallbackGetAgreesWithGet(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	if err := job.Put(cat, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k", "missing"} {
		v1, f1, err1 := job.Get(ctx, cat, []byte(key))
		v2, f2, err2 := job.getCallback(ctx, cat, []byte(key))
		if err1 != nil || err2 != nil || f1 != f2 || !bytes.Equal(v1, v2) {
			t.Fatalf("%s: Get %q %v %v, callback %q %v %v", key, v1, f1, err1, v2, f2, err2)
		}
	}
	if _, _, err := job.Get(ctx, "bad\x00category", []byte("k")); err == nil {
		t.Fatal("a category with NUL was accepted")
	}
	//nolint:staticcheck // a nil context is what is tested
	if _, err := job.Exists(nil, cat, []byte("k")); err == nil { //lint:ignore SA1012 tested
		t.Fatal("a nil context was accepted")
	}
}

// Get with a context that cannot end copies the value in the same cgo call
// when it fits the pooled buffer and through the reply when it does not;
// both must return every byte, as the cancellable path does, and C's
// error message must survive the copy.
func TestGetEveryValueLength(t *testing.T) {
	_, job := newJob(t, nil)
	lengths := []int{0, 1, getScratchLen - 1, getScratchLen, getScratchLen + 1, 100000}
	for _, n := range lengths {
		v := make([]byte, n)
		for i := range v {
			v[i] = byte(i*7 + n)
		}
		if err := job.Put(cat, []byte(fmt.Sprint(n)), v); err != nil {
			t.Fatal(err)
		}
	}
	cancellable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), cancellable} {
		for _, n := range lengths {
			got, found, err := job.Get(ctx, cat, []byte(fmt.Sprint(n)))
			if err != nil || !found || got == nil || len(got) != n {
				t.Fatalf("length %d: got %d bytes, found %v, err %v", n, len(got), found, err)
			}
			for i := range got {
				if got[i] != byte(i*7+n) {
					t.Fatalf("length %d: byte %d is %d", n, i, got[i])
				}
			}
		}
		if v, found, err := job.Get(ctx, cat, []byte("missing")); err != nil || found || v != nil {
			t.Fatalf("missing key: %v %v %v", v, found, err)
		}
		// A category over 65535 bytes is refused by the library itself,
		// with a message.
		_, _, err := job.Get(ctx, strings.Repeat("c", 65536), []byte("k"))
		wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
		if e := err.(*Error); e.Message == "" {
			t.Fatal("the library's error message was lost")
		}
	}
}
