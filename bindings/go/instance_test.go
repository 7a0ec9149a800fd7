package persistency

// This file holds the tests of instances: reopening, two independent
// instances, the process-wide instance and finalizers.

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
)

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
