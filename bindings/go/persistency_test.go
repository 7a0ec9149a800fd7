package persistency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const cat = "messages"

// newJob opens job "t" in a fresh on-disk instance, closed at the end.
func newJob(t *testing.T, opts *JobOptions) (*Instance, *Job) {
	t.Helper()
	inst, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	job, err := inst.OpenJob("t", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Close(); err != nil {
			t.Error(err)
		}
	})
	return inst, job
}

func mustKey(t *testing.T, parts ...interface{}) []byte {
	t.Helper()
	k, err := EncodeKey(parts...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantCode(t *testing.T, err error, sentinel error, code Status) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want %v", err, sentinel)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %#v, want *Error with code %v", err, code)
	}
	for _, other := range sentinels {
		if other != sentinel && errors.Is(err, other) {
			t.Fatalf("error %v also matches %v", err, other)
		}
	}
}

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

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	inst, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	job, err := inst.OpenJob("persisted", &JobOptions{Synchronous: SyncFull})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Write(ctx, []Op{PutOp(cat, []byte("k"), []byte("v"))}); err != nil {
		t.Fatal(err)
	}
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	inst2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer inst2.Close()
	job2, err := inst2.OpenJob("persisted", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, found, err := job2.Get(ctx, cat, []byte("k")); err != nil || !found || string(v) != "v" {
		t.Fatalf("after reopen: %q %v %v", v, found, err)
	}
	if err := inst2.DropJob("persisted"); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "persisted.db*")); len(matches) != 0 {
		t.Fatalf("files left after drop: %v", matches)
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

// fill writes n rows with keys ("topic", i) and values "v<i>".
func fill(t *testing.T, job *Job, topic string, n int) [][]byte {
	t.Helper()
	keys := make([][]byte, n)
	ops := make([]Op, n)
	for i := range keys {
		keys[i] = mustKey(t, topic, int64(i-n/2))
		ops[i] = PutOp(cat, keys[i], []byte(fmt.Sprintf("v%d", i)))
	}
	if err := job.Write(context.Background(), ops); err != nil {
		t.Fatal(err)
	}
	return keys
}

func keysOf(rows []Row) [][]byte {
	out := make([][]byte, len(rows))
	for i, r := range rows {
		out[i] = r.Key
	}
	return out
}

func sameKeys(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: key %d is %x, want %x", what, i, got[i], want[i])
		}
	}
}

func reversed(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[len(keys)-1-i] = k
	}
	return out
}

func TestScans(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	keys := fill(t, job, "topic", 10) // sorted: signed ints keep numeric order
	fill(t, job, "other", 3)
	fill(t, job, "topicX", 3) // longer string: outside the "topic" prefix
	prefix := mustKey(t, "topic")

	rows, more, err := job.ScanPrefix(ctx, cat, prefix, false, 0)
	if err != nil || more {
		t.Fatal(err, more)
	}
	sameKeys(t, "prefix asc", keysOf(rows), keys)
	for i, r := range rows {
		if string(r.Value) != fmt.Sprintf("v%d", i) {
			t.Fatalf("row %d value %q", i, r.Value)
		}
	}
	rows, _, err = job.ScanPrefix(ctx, cat, prefix, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "prefix desc", keysOf(rows), reversed(keys))

	rows, more, err = job.Scan(ctx, cat, Range{Start: keys[2], Stop: keys[5]})
	if err != nil || more {
		t.Fatal(err, more)
	}
	sameKeys(t, "range asc", keysOf(rows), keys[2:5])
	rows, more, err = job.Scan(ctx, cat, Range{Start: keys[2], Stop: keys[5], Reverse: true, Limit: 2})
	if err != nil || !more {
		t.Fatal(err, more)
	}
	sameKeys(t, "range desc limit", keysOf(rows), [][]byte{keys[4], keys[3]})
	rows, more, err = job.Scan(ctx, cat, Range{Start: keys[2], Stop: keys[5], Limit: 3})
	if err != nil || more {
		t.Fatalf("exactly limit rows: more=%v err=%v", more, err)
	}
	sameKeys(t, "exact limit", keysOf(rows), keys[2:5])
	rows, more, err = job.ScanPrefix(ctx, cat, prefix, false, 4)
	if err != nil || !more {
		t.Fatal(err, more)
	}
	sameKeys(t, "prefix limit", keysOf(rows), keys[:4])
	pr := PrefixRange(prefix)
	pr.Reverse = true
	rows, _, err = job.Scan(ctx, cat, pr)
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "PrefixRange desc", keysOf(rows), reversed(keys))
	rows, _, err = job.Scan(ctx, "empty", Range{})
	if err != nil || rows == nil || len(rows) != 0 {
		t.Fatalf("empty category: %v %v", rows, err)
	}
	// Rows own their memory: appending to one never touches the next.
	rows, _, _ = job.ScanPrefix(ctx, cat, prefix, false, 2)
	_ = append(rows[0].Value, 'Z')
	if string(rows[1].Key[:2]) != string(keys[1][:2]) || string(rows[1].Value) != "v1" {
		t.Fatal("rows share memory")
	}

	n, err := job.Count(ctx, cat, nil, nil)
	if err != nil || n != 16 {
		t.Fatalf("count all: %d %v", n, err)
	}
	n, err = job.Count(ctx, cat, keys[3], keys[8])
	if err != nil || n != 5 {
		t.Fatalf("count range: %d %v", n, err)
	}
	n, err = job.Count(ctx, cat, prefix, PrefixStop(prefix))
	if err != nil || n != 10 {
		t.Fatalf("count prefix: %d %v", n, err)
	}
}

func TestPagination(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	keys := fill(t, job, "p", 25)
	// Keys that end in 0xFF and 0x00 stress the resume rules.
	extra := [][]byte{mustKey(t, "p", RawKey{0xFF, 0xFF}), mustKey(t, "p", RawKey{0x00})}
	for _, k := range extra {
		if err := job.Put(cat, k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	all, _, err := job.ScanPrefix(ctx, cat, mustKey(t, "p"), false, 0)
	if err != nil || len(all) != len(keys)+len(extra) {
		t.Fatalf("%d rows %v", len(all), err)
	}
	for _, page := range []uint32{1, 4, 5, 27, 100} {
		for _, reverse := range []bool{false, true} {
			r := PrefixRange(mustKey(t, "p"))
			r.Reverse, r.Limit = reverse, page
			var got [][]byte
			it := job.Iterate(ctx, cat, r)
			for it.Next() {
				got = append(got, it.Row().Key)
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			want := keysOf(all)
			if reverse {
				want = reversed(want)
			}
			sameKeys(t, fmt.Sprintf("page %d reverse %v", page, reverse), got, want)
		}
	}
	// ForEach stops at the callback's error.
	stop := errors.New("stop")
	seen := 0
	err = job.ForEach(ctx, cat, Range{Limit: 2}, func(Row) error {
		seen++
		if seen == 3 {
			return stop
		}
		return nil
	})
	if err != stop || seen != 3 {
		t.Fatalf("ForEach: %v after %d", err, seen)
	}
	wantCode(t, job.ForEach(ctx, cat, Range{}, nil), ErrInvalidArgument, StatusInvalidArgument)
	// The empty key is the last one descending.
	if err := job.Put("e", nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := job.Put("e", []byte{0}, []byte("y")); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	err = job.ForEach(ctx, "e", Range{Reverse: true, Limit: 1}, func(r Row) error {
		got = append(got, r.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "empty key desc", got, [][]byte{{0}, {}})
	// A cancelled context ends the iteration with its error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	it := job.Iterate(cctx, cat, Range{})
	if it.Next() || !errors.Is(it.Err(), context.Canceled) {
		t.Fatalf("cancelled iterate: %v", it.Err())
	}
}

func TestGetManyAndDeleteAcked(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	keys := fill(t, job, "m", 5)
	rows, err := job.GetMany(ctx, cat, [][]byte{keys[3], []byte("missing"), keys[0], nil, keys[3]})
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "get many", keysOf(rows), [][]byte{keys[3], keys[0], keys[3]})
	if string(rows[0].Value) != "v3" || string(rows[1].Value) != "v0" {
		t.Fatalf("get many values: %q %q", rows[0].Value, rows[1].Value)
	}
	rows, err = job.GetMany(ctx, cat, nil)
	if err != nil || rows == nil || len(rows) != 0 {
		t.Fatalf("get many of nothing: %v %v", rows, err)
	}

	removed, err := job.DeleteAcked(ctx, cat, keys[1])
	if err != nil || !removed {
		t.Fatalf("delete acked: %v %v", removed, err)
	}
	removed, err = job.DeleteAcked(ctx, cat, keys[1])
	if err != nil || removed {
		t.Fatalf("delete acked again: %v %v", removed, err)
	}
	if n, _ := job.Count(ctx, cat, nil, nil); n != 4 {
		t.Fatalf("count after delete acked: %d", n)
	}
}

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

func TestTwoInstances(t *testing.T) {
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Same(b) || a.RootDir() != dirA || b.RootDir() != dirB {
		t.Fatal("instances not independent")
	}
	ja, err := a.OpenJob("node", nil)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := b.OpenJob("node", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ja.Put(cat, []byte("k"), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := jb.Put(cat, []byte("k"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	va, _, _ := ja.Get(ctx, cat, []byte("k"))
	vb, _, _ := jb.Get(ctx, cat, []byte("k"))
	if string(va) != "a" || string(vb) != "b" {
		t.Fatalf("values %q %q", va, vb)
	}
	// A second live instance on the same root cannot open the same file.
	a2, err := Open(dirA + "/../" + filepath.Base(dirA))
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	_, err = a2.OpenJob("node", nil)
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	// Closing one instance leaves the other alone.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, ja.Put(cat, []byte("k"), nil), ErrClosed, StatusClosed)
	if v, _, err := jb.Get(ctx, cat, []byte("k")); err != nil || string(v) != "b" {
		t.Fatalf("other instance after close: %q %v", v, err)
	}
	if _, err := a2.OpenJob("node", nil); err != nil {
		t.Fatalf("file still held after close: %v", err)
	}
}

func TestGlobalInstance(t *testing.T) {
	ctx := context.Background()
	if err := Reset(); err != nil {
		t.Fatal(err)
	}
	defer Reset()
	_, err := Current()
	wantCode(t, err, ErrClosed, StatusClosed)
	dir := t.TempDir()
	g1, err := Global(dir)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Global(dir)
	if err != nil || !g1.Same(g2) {
		t.Fatalf("second Global: %v", err)
	}
	cur, err := Current()
	if err != nil || !cur.Same(g1) {
		t.Fatalf("Current: %v", err)
	}
	_, err = Global(t.TempDir())
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)

	job, err := g1.OpenJob("global", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Put(cat, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	found, err := g2.FindJob("global")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := found.Get(ctx, cat, []byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("through another handle: %q %v", v, err)
	}

	if err := Reset(); err != nil {
		t.Fatal(err)
	}
	if err := Reset(); err != nil {
		t.Fatalf("second reset: %v", err)
	}
	wantCode(t, job.Put(cat, []byte("k"), nil), ErrClosed, StatusClosed)
	_, err = g1.OpenJob("global", nil)
	wantCode(t, err, ErrClosed, StatusClosed)
	_, err = Current()
	wantCode(t, err, ErrClosed, StatusClosed)

	other := t.TempDir()
	g3, err := Global(other)
	if err != nil || g3.RootDir() != other {
		t.Fatalf("Global after Reset: %v", err)
	}
	job3, err := g3.OpenJob("global", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := job3.Get(ctx, cat, []byte("k")); err != nil || found {
		t.Fatalf("new root sees old data: %v %v", found, err)
	}
}

func TestFinalizersRelease(t *testing.T) {
	ctx := context.Background()
	inst, err := Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		j, err := inst.OpenJob("f", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Put(cat, []byte{byte(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	j, err := inst.FindJob("f")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := j.Count(ctx, cat, nil, nil); err != nil || n != 20 {
		t.Fatalf("after releasing handles: %d %v", n, err)
	}
	// The job keeps its instance reachable: dropping ours closes nothing.
	inst = nil
	runtime.GC()
	runtime.GC()
	if err := j.Put(cat, []byte("x"), nil); err != nil {
		t.Fatalf("after dropping the instance: %v", err)
	}
	if err := j.inst.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestVersion(t *testing.T) {
	if v := Version(); v == "" || strings.Count(v, ".") < 2 {
		t.Fatalf("version %q", v)
	}
	for s := StatusOK; s <= StatusInternal; s++ {
		if !strings.HasPrefix(s.String(), "PERSISTENCY_") {
			t.Fatal(s)
		}
	}
	if Status(99).String() != "PERSISTENCY_UNKNOWN" {
		t.Fatal("unknown status name")
	}
}
