package persistency

// This file holds the tests of the sync sets: every call against XORs and
// counts computed here, unions, splits, the layout of SyncID, and argument
// errors.

import (
	"context"
	"errors"
	"testing"
)

func syncIDs(n int) []SyncID {
	ids := make([]SyncID, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range ids {
		ids[i].Time = int64(i)
		for k := range ids[i].Hash {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			ids[i].Hash[k] = byte(x)
		}
	}
	return ids
}

func xorOf(ids []SyncID) [32]byte {
	var fp [32]byte
	for _, id := range ids {
		for k := range fp {
			fp[k] ^= id.Hash[k]
		}
	}
	return fp
}

func TestSyncSets(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	ids := syncIDs(400)
	if err := job.SyncAdd("a", ids[:200]); err != nil {
		t.Fatal(err)
	}
	added, err := job.SyncAddWait(ctx, "a", ids[190:])
	if err != nil || added != 200 {
		t.Fatalf("added %d, %v", added, err)
	}
	n, err := job.SyncLen(ctx, "a")
	if err != nil || n != 400 {
		t.Fatalf("len %d, %v", n, err)
	}
	sum, err := job.SyncSummaryOf(ctx, []string{"a"}, SyncRange{ids[10], ids[300]})
	if err != nil || sum.Count != 290 || sum.Fingerprint != xorOf(ids[10:300]) {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	parts, err := job.SyncSplit(ctx, []string{"a"}, SyncAll, 8)
	if err != nil || len(parts) != 8 {
		t.Fatalf("split %v", err)
	}
	for i, p := range parts {
		lo, hi := i*50, (i+1)*50
		if p.Summary.Count != 50 || p.Summary.Fingerprint != xorOf(ids[lo:hi]) {
			t.Fatalf("part %d: %+v", i, p)
		}
		if i > 0 && p.Range.Start != ids[lo] {
			t.Fatalf("part %d starts at %+v", i, p.Range.Start)
		}
	}
	items, err := job.SyncItems(ctx, []string{"a"}, SyncRange{ids[5], SyncMax}, 3)
	if err != nil || len(items) != 3 || items[0] != ids[5] || items[2] != ids[7] {
		t.Fatalf("items %v, %v", items, err)
	}
	// A union with a second set.
	other := SyncID{Time: -1, Hash: [32]byte{1}}
	if _, err := job.SyncAddWait(ctx, "b", []SyncID{other}); err != nil {
		t.Fatal(err)
	}
	sum, err = job.SyncSummaryOf(ctx, []string{"a", "b"}, SyncAll)
	want := xorOf(append([]SyncID{other}, ids...))
	if err != nil || sum.Count != 401 || sum.Fingerprint != want {
		t.Fatalf("union %+v, %v", sum, err)
	}
	// Removes and prunes.
	if err := job.SyncRemove("a", ids[:5]); err != nil {
		t.Fatal(err)
	}
	removed, err := job.SyncRemoveWait(ctx, "a", ids[:10])
	if err != nil || removed != 5 {
		t.Fatalf("removed %d, %v", removed, err)
	}
	pruned, err := job.SyncPruneWait(ctx, "a", 100)
	if err != nil || pruned != 90 {
		t.Fatalf("pruned %d, %v", pruned, err)
	}
	if err := job.SyncPrune("b", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := job.SyncLen(ctx, "b"); err != nil || n != 0 {
		t.Fatalf("len b %d, %v", n, err)
	}
}

func TestSyncArgumentErrors(t *testing.T) {
	ctx := context.Background()
	_, job := newJob(t, nil)
	invalid := func(err error) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Code != StatusInvalidArgument {
			t.Fatalf("want InvalidArgument, got %v", err)
		}
	}
	_, err := job.SyncAddWait(ctx, "a", []SyncID{SyncMax})
	invalid(err)
	invalid(job.SyncAdd("", nil))
	invalid(job.SyncAdd("a\x00b", nil))
	_, err = job.SyncSummaryOf(ctx, []string{"a", "a"}, SyncAll)
	invalid(err)
	_, err = job.SyncSummaryOf(ctx, nil, SyncAll)
	invalid(err)
	_, err = job.SyncSplit(ctx, []string{"a"}, SyncAll, 0)
	invalid(err)
	_, err = job.SyncItems(ctx, []string{"a\x00"}, SyncAll, 1)
	invalid(err)
	var nilJob *Job
	_, err = nilJob.SyncLen(ctx, "a")
	if err == nil {
		t.Fatal("a nil job answered")
	}
}
