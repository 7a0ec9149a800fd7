package persistency

// This file holds the helpers the tests share and TestVersion; the tests
// themselves are split by topic like the package: instance_test.go,
// writes_test.go, reads_test.go, async_test.go, errors_test.go,
// status_test.go and keys_test.go.

import (
	"errors"
	"strings"
	"testing"
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
