package persistency

// This file holds the benchmarks of the binding (compare with
// bench_c/bench.c).

import (
	"context"
	"math/rand"
	"sort"
	"testing"
	"time"
	"unsafe"

	"persistency/internal/cget"
)

// The sizes of bench_c/bench.c, so that the figures compare: 32-byte random
// keys, 256-byte payloads, an on-disk job with default options.
const (
	benchKeyLen     = 32
	benchPayloadLen = 256
	benchGetKeys    = 10000
)

func benchJob(b *testing.B) *Job {
	b.Helper()
	inst, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = inst.Close() })
	job, err := inst.OpenJob("bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	return job
}

func randomKeys(rng *rand.Rand, n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = make([]byte, benchKeyLen)
		rng.Read(keys[i])
	}
	return keys
}

// BenchmarkPut: fire-and-forget puts, then one flush that waits for them
// all to commit (inside the timed region).
func BenchmarkPut(b *testing.B) {
	job := benchJob(b)
	rng := rand.New(rand.NewSource(1))
	keys := randomKeys(rng, b.N)
	payload := make([]byte, benchPayloadLen)
	rng.Read(payload)
	b.SetBytes(benchKeyLen + benchPayloadLen)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := job.Put(cat, keys[i], payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := job.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
}

// BenchmarkGet: sequential blocking gets of random existing keys (one
// plain cgo call each, on the calling thread).
func BenchmarkGet(b *testing.B) {
	benchGets(b, (*Job).Get)
}

// BenchmarkGetCallback: the same gets through the callback path Get used
// before (persistency_get, answered on the worker thread): the figure
// BenchmarkGet is compared with.
func BenchmarkGetCallback(b *testing.B) {
	benchGets(b, (*Job).getCallback)
}

// getJob is a job holding benchGetKeys random keys with random payloads,
// all committed, the keys, and the generator that made them (seeded with
// seed).
func getJob(b *testing.B, seed int64) (*Job, [][]byte, *rand.Rand) {
	job := benchJob(b)
	rng := rand.New(rand.NewSource(seed))
	keys := randomKeys(rng, benchGetKeys)
	payload := make([]byte, benchPayloadLen)
	rng.Read(payload)
	for _, k := range keys {
		if err := job.Put(cat, k, payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := job.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return job, keys, rng
}

func benchGets(b *testing.B, get func(*Job, context.Context, string, []byte) ([]byte, bool, error)) {
	ctx := context.Background()
	job, keys, rng := getJob(b, 2)
	order := rng.Perm(benchGetKeys)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		v, found, err := get(job, ctx, cat, keys[order[i%benchGetKeys]])
		if err != nil || !found || len(v) != benchPayloadLen {
			b.Fatalf("get: %v %v %d", err, found, len(v))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "gets/s")
}

// BenchmarkGetVsC: Get against the C blocking get in one run. Rounds of
// sequential gets of random existing keys alternate between Go's Get and a
// loop in C calling persistency_get_sync (internal/cget: one cgo call for
// the whole loop, what a C host sees), on the same job, so that the noise
// of a shared machine falls on both alike. Reports each side's median
// latency over the rounds and the median of the rounds' Go/C ratios.
func BenchmarkGetVsC(b *testing.B) {
	const rounds = 10
	ctx := context.Background()
	job, keys, rng := getJob(b, 4)
	flat := make([]byte, 0, benchGetKeys*benchKeyLen)
	for _, k := range keys {
		flat = append(flat, k...)
	}
	order := make([]int32, benchGetKeys)
	for i, k := range rng.Perm(benchGetKeys) {
		order[i] = int32(k)
	}
	n := (b.N + rounds - 1) / rounds
	goGets := func() float64 {
		start := time.Now()
		for i := 0; i < n; i++ {
			v, found, err := job.Get(ctx, cat, keys[order[i%benchGetKeys]])
			if err != nil || !found || len(v) != benchPayloadLen {
				b.Fatalf("get: %v %v %d", err, found, len(v))
			}
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n)
	}
	cGets := func() float64 {
		start := time.Now()
		if err := cget.Loop(unsafe.Pointer(job.ptr), cat, flat, benchKeyLen, order, n, benchPayloadLen); err != nil {
			b.Fatal(err)
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n)
	}
	var goNs, cNs, ratios []float64
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		var g, c float64
		if r%2 == 0 {
			g, c = goGets(), cGets()
		} else {
			c, g = cGets(), goGets()
		}
		goNs, cNs, ratios = append(goNs, g), append(cNs, c), append(ratios, g/c)
	}
	b.StopTimer()
	b.ReportMetric(median(goNs), "go-ns/get")
	b.ReportMetric(median(cNs), "c-ns/get")
	b.ReportMetric(median(ratios), "go/c")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkGetParallel: blocking gets from 4 x GOMAXPROCS goroutines at
// once on one job (each on its goroutine's thread, on the job's pool of
// read connections).
func BenchmarkGetParallel(b *testing.B) {
	ctx := context.Background()
	job := benchJob(b)
	rng := rand.New(rand.NewSource(3))
	keys := randomKeys(rng, benchGetKeys)
	payload := make([]byte, benchPayloadLen)
	for _, k := range keys {
		if err := job.Put(cat, k, payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := job.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, found, err := job.Get(ctx, cat, keys[i%benchGetKeys]); err != nil || !found {
				b.Errorf("get: %v %v", err, found)
				return
			}
			i += 7
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "gets/s")
}
