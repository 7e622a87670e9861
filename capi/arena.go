package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// arena lays out one C allocation: a header struct, arrays, then bytes.
// Everything is placed by offset first and written after one calloc, so
// the caller frees it all with one free().
type arena struct {
	base unsafe.Pointer
	size uintptr
	off  uintptr // next free byte while filling
}

func (a *arena) alloc(c *call) error {
	a.base = C.calloc(1, C.size_t(a.size)) // unlike C.malloc, may return NULL

	if a.base == nil {
		return c.errorf(syscall.ENOMEM, "out of memory (%d bytes)", a.size)
	}
	return nil
}

// take reserves n bytes of the arena.
func (a *arena) take(n uintptr) unsafe.Pointer {
	p := unsafe.Add(a.base, a.off)
	a.off += n
	return p
}

// cstring copies b and a NUL into the arena.
func (a *arena) cstring(b []byte) *C.char {
	p := a.take(uintptr(len(b)) + 1)
	copy(unsafe.Slice((*byte)(p), len(b)), b)
	return (*C.char)(p)
}
