package persistency

// This file holds the status codes of the C ABI and the errors made from
// them: *Error and one sentinel per failure status. The codes and their
// names come from the C header and the library, so the binding has no copy
// of its own to drift (status_test.go checks the mapping).

/*
#include "persistency.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Status is a status code of the C ABI (API.md "Status codes").
type Status int32

// The status codes; values are those of the C ABI and never change.
const (
	StatusOK              Status = C.PERSISTENCY_OK                   // success
	StatusBackend         Status = C.PERSISTENCY_ERR_BACKEND          // SQLite or file-system failure
	StatusClosed          Status = C.PERSISTENCY_ERR_CLOSED           // instance or job closed / not initialised
	StatusInvalidArgument Status = C.PERSISTENCY_ERR_INVALID_ARGUMENT // bad argument
	StatusTimeout         Status = C.PERSISTENCY_ERR_TIMEOUT          // a bounded wait ran out
	StatusJobNotFound     Status = C.PERSISTENCY_ERR_JOB_NOT_FOUND    // no open job with that id
	StatusBusy            Status = C.PERSISTENCY_ERR_BUSY             // queue full and the job fails fast
	StatusFull            Status = C.PERSISTENCY_ERR_FULL             // the disk is full or the job's disk quota would be exceeded
	StatusInternal        Status = C.PERSISTENCY_ERR_INTERNAL         // a bug inside the library; the call had no effect
)

// String returns the C constant's name, e.g. "PERSISTENCY_ERR_CLOSED".
func (s Status) String() string {
	return C.GoString(C.persistency_status_name(C.int32_t(s)))
}

// Sentinel errors, one per failure status. Every *Error matches the sentinel
// of its Code with errors.Is:
//
//	if errors.Is(err, persistency.ErrClosed) { ... }
var (
	ErrBackend         = errors.New("persistency: backend failure")
	ErrClosed          = errors.New("persistency: closed")
	ErrInvalidArgument = errors.New("persistency: invalid argument")
	ErrTimeout         = errors.New("persistency: timeout")
	ErrJobNotFound     = errors.New("persistency: job not found")
	ErrBusy            = errors.New("persistency: busy")
	ErrFull            = errors.New("persistency: full")
	ErrInternal        = errors.New("persistency: internal error")
)

var sentinels = map[Status]error{
	StatusBackend:         ErrBackend,
	StatusClosed:          ErrClosed,
	StatusInvalidArgument: ErrInvalidArgument,
	StatusTimeout:         ErrTimeout,
	StatusJobNotFound:     ErrJobNotFound,
	StatusBusy:            ErrBusy,
	StatusFull:            ErrFull,
	StatusInternal:        ErrInternal,
}

// Error is a failure reported by the library: its status code, the
// library's message and, for backend failures, the SQLite extended result
// code.
type Error struct {
	Code        Status // never StatusOK
	BackendCode int32  // SQLite extended result code when Code is StatusBackend, else 0
	Message     string // the library's message (may be empty)
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Message == "" {
		return "persistency: " + e.Code.String()
	}
	return fmt.Sprintf("persistency: %s (%s)", e.Message, e.Code)
}

// Is reports whether target is the sentinel of e's Code, so that
// errors.Is(err, ErrClosed) works.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && s == target
}

func newError(code Status, msg string) *Error {
	return &Error{Code: code, Message: msg}
}
