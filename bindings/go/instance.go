package persistency

// This file holds the instance lifecycle: Open, Global, Current and Reset,
// and the *Instance handle with its lock. The jobs of an instance are in
// job.go.

/*
#include "persistency.h"
*/
import "C"

import (
	"runtime"
	"sync"
)

// Instance is one root directory holding one database file per job.
// Obtain one with Open (independent) or Global (process-wide).
type Instance struct {
	mu  sync.RWMutex
	ptr *C.persistency // nil once closed
}

func wrapInstance(ptr *C.persistency) *Instance {
	inst := &Instance{ptr: ptr}
	runtime.SetFinalizer(inst, func(i *Instance) { i.release() })
	return inst
}

// Open makes an independent instance rooted at rootDir, owned by the caller
// (one per node when several nodes share a process). The directory is
// created by the first OpenJob; ":memory:" keeps every job in memory. Two
// live instances cannot open the same job file.
func Open(rootDir string) (*Instance, error) {
	return instanceAt(rootDir, func(root *C.char, out **C.persistency) int32 {
		return int32(C.persistency_new(root, out))
	})
}

// Global returns the process-wide instance: the first call installs rootDir;
// later calls with the same string return the same instance, and a call
// with another string fails with ErrInvalidArgument (until Reset).
func Global(rootDir string) (*Instance, error) {
	return instanceAt(rootDir, func(root *C.char, out **C.persistency) int32 {
		return int32(C.persistency_instance(root, out))
	})
}

// instanceAt runs get, a C call that hands out an instance for a root
// directory, and wraps the handle it writes to out.
func instanceAt(rootDir string, get func(root *C.char, out **C.persistency) int32) (*Instance, error) {
	root, err := cstr("root directory", rootDir)
	if err != nil {
		return nil, err
	}
	var ptr *C.persistency
	if err := call(func() int32 { return get(charPtr(root), &ptr) }); err != nil {
		return nil, err
	}
	return wrapInstance(ptr), nil
}

// Current returns the installed process-wide instance, or ErrClosed when
// there is none.
func Current() (*Instance, error) {
	var ptr *C.persistency
	if err := call(func() int32 { return int32(C.persistency_instance_current(&ptr)) }); err != nil {
		return nil, err
	}
	return wrapInstance(ptr), nil
}

// Reset closes every job of the process-wide instance and empties the slot,
// so that Global may install another root. Every old *Instance and *Job of
// it then fails with ErrClosed. Resetting an empty slot is a no-op.
func Reset() error {
	return call(func() int32 { return int32(C.persistency_reset()) })
}

// Same reports whether i and other refer to the same library instance
// (Global returns a new *Instance for the same process-wide instance).
func (i *Instance) Same(other *Instance) bool {
	if i == nil || other == nil {
		return false
	}
	// One lock at a time: holding both could deadlock against a Close.
	a, b := i.load(), other.load()
	return a != nil && a == b
}

// load returns the handle, nil once closed.
func (i *Instance) load() *C.persistency {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.ptr
}

// with runs f with the instance's handle, or fails with ErrClosed.
func (i *Instance) with(f func(p *C.persistency) error) error {
	if i == nil {
		return newError(StatusInvalidArgument, "nil *Instance")
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return newError(StatusClosed, "instance closed")
	}
	return f(i.ptr)
}

// RootDir returns the root directory the instance was made with ("" once
// closed).
func (i *Instance) RootDir() string {
	var root string
	_ = i.with(func(p *C.persistency) error {
		root = C.GoString(C.persistency_root_dir(p))
		return nil
	})
	return root
}

// Close closes every job of the instance (each after applying everything
// accepted before) and releases this *Instance, whose later calls fail with
// ErrClosed. For the process-wide instance the slot stays installed:
// Global returns it again, empty of jobs; use Reset to empty the slot.
// Idempotent.
func (i *Instance) Close() error {
	if i == nil {
		return newError(StatusInvalidArgument, "nil *Instance")
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ptr == nil {
		return nil
	}
	p := i.ptr
	if err := call(func() int32 { return int32(C.persistency_close(p)) }); err != nil {
		return err
	}
	C.persistency_release(p)
	i.ptr = nil
	return nil
}

func (i *Instance) release() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ptr != nil {
		C.persistency_release(i.ptr)
		i.ptr = nil
	}
}
