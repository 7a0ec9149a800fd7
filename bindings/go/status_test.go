package persistency

import (
	"errors"
	"testing"
)

// statusTable is the binding's promise for every status of the C ABI: the
// Go constant, the name of the C constant it stands for, and the sentinel
// its errors match (nil for PERSISTENCY_OK).
var statusTable = []struct {
	code     Status
	name     string
	sentinel error
}{
	{StatusOK, "PERSISTENCY_OK", nil},
	{StatusBackend, "PERSISTENCY_ERR_BACKEND", ErrBackend},
	{StatusClosed, "PERSISTENCY_ERR_CLOSED", ErrClosed},
	{StatusInvalidArgument, "PERSISTENCY_ERR_INVALID_ARGUMENT", ErrInvalidArgument},
	{StatusTimeout, "PERSISTENCY_ERR_TIMEOUT", ErrTimeout},
	{StatusJobNotFound, "PERSISTENCY_ERR_JOB_NOT_FOUND", ErrJobNotFound},
	{StatusBusy, "PERSISTENCY_ERR_BUSY", ErrBusy},
	{StatusFull, "PERSISTENCY_ERR_FULL", ErrFull},
	{StatusInternal, "PERSISTENCY_ERR_INTERNAL", ErrInternal},
}

// TestStatusCodesMatchHeader ties the Go status constants to the header
// they are compiled from and to the library that returns them: each
// constant must hold the value the library names after the C constant it
// stands for (a header out of step with the library, or a Go constant
// bound to the wrong C constant, fails here), must match exactly its own
// sentinel, and the library may know no status the binding lacks.
func TestStatusCodesMatchHeader(t *testing.T) {
	seen := make(map[Status]string)
	for _, c := range statusTable {
		if got := c.code.String(); got != c.name {
			t.Errorf("the Go constant for %s is %d, which the library names %s", c.name, int32(c.code), got)
		}
		if other, dup := seen[c.code]; dup {
			t.Errorf("%s and %s are both %d", other, c.name, int32(c.code))
		}
		seen[c.code] = c.name

		err := &Error{Code: c.code}
		if c.sentinel == nil {
			if s, ok := sentinels[c.code]; ok {
				t.Errorf("%s has the sentinel %v", c.name, s)
			}
			continue
		}
		if !errors.Is(err, c.sentinel) {
			t.Errorf("an error with status %s does not match %v", c.name, c.sentinel)
		}
		for _, other := range statusTable {
			if other.sentinel != nil && other.sentinel != c.sentinel && errors.Is(err, other.sentinel) {
				t.Errorf("an error with status %s also matches %v", c.name, other.sentinel)
			}
		}
	}
	if len(sentinels) != len(statusTable)-1 {
		t.Errorf("%d sentinels for %d failure statuses", len(sentinels), len(statusTable)-1)
	}
	// A status the library names but the binding does not know would reach
	// Go callers as an *Error that matches no sentinel.
	for s := Status(-64); s <= 1024; s++ {
		if _, known := seen[s]; !known && s.String() != "PERSISTENCY_UNKNOWN" {
			t.Errorf("the library names status %d %s, which has no Go constant", int32(s), s.String())
		}
	}
}
