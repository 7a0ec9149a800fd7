package persistency

// This file holds the tests of reads: scans, pagination with Iterate and
// ForEach, GetMany and DeleteAcked.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

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
