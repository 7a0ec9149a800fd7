package persistency

// This file holds the tests of maintenance: DeleteRange (call and batch
// op), Backup, Compact, Check and MetricsText, with bad input.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func keyN(n int) []byte { return []byte(fmt.Sprintf("%04d", n)) }

func countAll(t *testing.T, job *Job) uint64 {
	t.Helper()
	n, err := job.Count(context.Background(), cat, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeleteRange(t *testing.T) {
	ctx := context.Background()
	inst, job := newJob(t, nil)
	ops := make([]Op, 0, 10)
	for i := 0; i < 10; i++ {
		ops = append(ops, PutOp(cat, keyN(i), []byte("v")))
	}
	if err := job.Write(ctx, ops); err != nil {
		t.Fatal(err)
	}
	if err := job.DeleteRange(cat, keyN(2), keyN(5)); err != nil {
		t.Fatal(err)
	}
	if n := countAll(t, job); n != 7 {
		t.Fatalf("%d rows after [2, 5)", n)
	}
	// As a batch op, atomically with a put; an empty stop has no bound.
	err := job.Write(ctx, []Op{DeleteRangeOp(cat, keyN(8), nil), PutOp(cat, keyN(99), nil)})
	if err != nil {
		t.Fatal(err)
	}
	if n := countAll(t, job); n != 6 {
		t.Fatalf("%d rows after the batch", n)
	}
	// Bad input.
	wantCode(t, job.DeleteRange(cat, keyN(5), keyN(2)), ErrInvalidArgument, StatusInvalidArgument)
	err = job.Write(ctx, []Op{PutOp(cat, keyN(50), nil), DeleteRangeOp(cat, keyN(5), keyN(2))})
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, job.DeleteRange("a\x00b", nil, nil), ErrInvalidArgument, StatusInvalidArgument)
	var nilJob *Job
	wantCode(t, nilJob.DeleteRange(cat, nil, nil), ErrInvalidArgument, StatusInvalidArgument)
	if n := countAll(t, job); n != 6 {
		t.Fatalf("%d rows after refused calls", n)
	}
	if err := inst.CloseJob("t"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, job.DeleteRange(cat, nil, nil), ErrClosed, StatusClosed)
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	inst, job := newJob(t, nil)
	for i := 0; i < 100; i++ {
		if err := job.Put(cat, keyN(i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	dest := filepath.Join(dir, "copy.db")
	if err := job.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	// The copy opens as a job and holds every write before the call.
	restored, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	copyJob, err := restored.OpenJob("copy", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := countAll(t, copyJob); n != 100 {
		t.Fatalf("backup holds %d rows", n)
	}
	if err := copyJob.Check(ctx); err != nil {
		t.Fatal(err)
	}
	// Bad input.
	wantCode(t, job.Backup(ctx, dest), ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, job.Backup(ctx, filepath.Join(dir, "no", "such", "x.db")), ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, job.Backup(ctx, ""), ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, job.Backup(ctx, "a\x00b"), ErrInvalidArgument, StatusInvalidArgument)
	if err := inst.CloseJob("t"); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "after-close.db")
	wantCode(t, job.Backup(ctx, other), ErrClosed, StatusClosed)
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatalf("a refused backup left %s: %v", other, err)
	}
}

func TestCompactAndCheck(t *testing.T) {
	ctx := context.Background()
	inst, job := newJob(t, nil)
	payload := bytes.Repeat([]byte{7}, 500)
	for chunk := 0; chunk < 10; chunk++ {
		ops := make([]Op, 0, 1000)
		for i := 0; i < 1000; i++ {
			ops = append(ops, PutOp(cat, keyN(chunk*1000+i), payload))
		}
		if err := job.Write(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	if err := job.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := job.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := job.DeleteRange(cat, nil, keyN(9000)); err != nil {
		t.Fatal(err)
	}
	if err := job.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := job.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.DBBytes*4 > before.DBBytes {
		t.Fatalf("compaction kept %d of %d bytes", after.DBBytes, before.DBBytes)
	}
	if err := job.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countAll(t, job); n != 1000 {
		t.Fatalf("%d rows left", n)
	}
	var nilJob *Job
	wantCode(t, nilJob.Compact(ctx), ErrInvalidArgument, StatusInvalidArgument)
	wantCode(t, nilJob.Check(ctx), ErrInvalidArgument, StatusInvalidArgument)
	if err := inst.CloseJob("t"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, job.Compact(ctx), ErrClosed, StatusClosed)
	wantCode(t, job.Check(ctx), ErrClosed, StatusClosed)
}

func TestMetricsText(t *testing.T) {
	ctx := context.Background()
	inst, job := newJob(t, nil)
	if err := job.Write(ctx, []Op{PutOp(cat, keyN(1), []byte("v")), PutOp(cat, keyN(2), nil)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := job.Get(ctx, cat, keyN(1)); err != nil {
		t.Fatal(err)
	}
	st, err := job.Stats()
	if err != nil {
		t.Fatal(err)
	}
	text, err := inst.MetricsText()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE persistency_ops_applied_total counter\n",
		fmt.Sprintf("persistency_ops_applied_total{job=\"t\"} %d\n", st.OpsApplied),
		fmt.Sprintf("persistency_reads_total{job=\"t\"} %d\n", st.Reads),
		fmt.Sprintf("persistency_transactions_total{job=\"t\"} %d\n", st.Transactions),
		fmt.Sprintf("persistency_file_size_bytes{job=\"t\"} %d\n", st.DBBytes),
		"persistency_errors_total{job=\"t\",kind=\"full\"} 0\n",
		"# TYPE persistency_live_bytes gauge\n",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("metrics text lacks %q:\n%s", want, text)
		}
	}
	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = inst.MetricsText()
	wantCode(t, err, ErrClosed, StatusClosed)
	var nilInst *Instance
	_, err = nilInst.MetricsText()
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
}

// fileBytes is the size of a job's database file plus its WAL.
func fileBytes(t *testing.T, db string) int64 {
	t.Helper()
	var total int64
	for _, p := range []string{db, db + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	return total
}

// TestRetention mirrors the Rust and C tests: 20 cycles of writing twice
// the cap; after every commit settles the files stay within 15 % of the
// cap and the rows kept are the newest, contiguous.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	const capBytes = 1 << 20
	const row = 400
	const batch = 100
	root := t.TempDir()
	inst, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	job, err := inst.OpenJob("capped", &JobOptions{RetentionMaxBytes: capBytes, RetentionCategories: []string{cat}})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Put("other", []byte("config"), []byte("kept")); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(root, "capped.db")
	next := 0
	for cycle := 0; cycle < 20; cycle++ {
		for b := 0; b < 2*capBytes/(batch*row); b++ {
			ops := make([]Op, 0, batch)
			for k := next; k < next+batch; k++ {
				ops = append(ops, PutOp(cat, []byte(fmt.Sprintf("%08d", k)), bytes.Repeat([]byte{1}, row)))
			}
			if err := job.Write(ctx, ops); err != nil {
				t.Fatal(err)
			}
			next += batch
			if err := job.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if size := fileBytes(t, db); float64(size) > capBytes*1.15 {
				t.Fatalf("cycle %d: %d bytes on disk, cap %d", cycle, size, capBytes)
			}
		}
		rows, _, err := job.Scan(ctx, cat, Range{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 || len(rows) >= next {
			t.Fatalf("cycle %d: %d rows kept of %d", cycle, len(rows), next)
		}
		first := next - len(rows)
		for k, r := range rows {
			if string(r.Key) != fmt.Sprintf("%08d", first+k) {
				t.Fatalf("cycle %d: row %d is %q, want the newest rows contiguous", cycle, k, r.Key)
			}
		}
	}
	if v, found, err := job.Get(ctx, "other", []byte("config")); err != nil || !found || string(v) != "kept" {
		t.Fatalf("other category: %q %v %v", v, found, err)
	}
	// A write over half the cap is refused whole.
	err = job.Write(ctx, []Op{PutOp(cat, []byte("big"), make([]byte, capBytes/2+1))})
	wantCode(t, err, ErrFull, StatusFull)
	_, err = inst.OpenJob("bad", &JobOptions{RetentionMaxBytes: 1, RetentionCategories: []string{"a\x00b"}})
	wantCode(t, err, ErrInvalidArgument, StatusInvalidArgument)
}
