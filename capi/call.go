package main

/*
#include <stddef.h>
#include "internal.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/libprocmapq/libprocmapq/core"
)

// call is the state of one export call: where its error message goes and
// the fault mode to restore. Every export starts with
//
//	c := enter(op, msg, msgLen)
//	defer c.exit(&rc)
//
// so that a panic, and a fault on a caller's pointer, become an error code.
type call struct {
	op       string
	msg      *C.char
	msgLen   C.size_t
	oldFault bool
}

func enter(op string, msg *C.char, msgLen C.size_t) call {
	return call{op: op, msg: msg, msgLen: msgLen, oldFault: debug.SetPanicOnFault(true)}
}

// exit recovers a panic into *rc. It must be deferred directly (recover
// only works in the deferred function itself).
func (c *call) exit(rc *C.int) {
	if r := recover(); r != nil {
		*rc = c.fail(panicError(c.op, r))
	}
	debug.SetPanicOnFault(c.oldFault)
}

// result is the C return value of an export whose work returned a count
// and an error. Exports keep to one defer and one return (c.exit and this)
// so that the compiler open-codes the defer: the call stays cheap.
func (c *call) result(n int, err error) C.int {
	if err != nil {
		return c.fail(err)
	}
	return C.int(n)
}

// apiError is an error found by the glue itself (bad argument, buffer too
// small). Unwrap gives the errno, so core.Errno understands it.
type apiError struct {
	errno syscall.Errno
	msg   string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.errno }

func (c *call) errorf(errno syscall.Errno, format string, args ...any) error {
	return &apiError{errno, "procmapq_" + c.op + ": " + fmt.Sprintf(format, args...)}
}

// panicError classifies a recovered panic: a memory fault (a bad pointer
// from the caller, made recoverable by SetPanicOnFault, or a nil one) is
// EFAULT; anything else is a bug in the library.
func panicError(op string, r any) error {
	if re, ok := r.(interface{ Addr() uintptr }); ok {
		return &apiError{syscall.EFAULT, fmt.Sprintf("procmapq_%s: bad address %#x in an argument (%v)", op, re.Addr(), r)}
	}
	// A fault below the first page carries no address.
	if re, ok := r.(runtime.Error); ok && strings.Contains(re.Error(), "invalid memory address") {
		return &apiError{syscall.EFAULT, fmt.Sprintf("procmapq_%s: bad address in an argument (%v)", op, r)}
	}
	return &apiError{syscall.ENOTRECOVERABLE, fmt.Sprintf("procmapq_%s: internal error (please report): %s%s", op, oneLine(fmt.Sprint(r)), panicSite())}
}

// fail stores err's message for procmapq_last_error() and returns -errno.
func (c *call) fail(err error) C.int {
	en := core.Errno(err)
	if en == 0 {
		en = syscall.EIO
	}
	setMessage(c.msg, c.msgLen, err.Error())
	return -C.int(en)
}

// setMessage copies s into the C buffer (the shim's per-thread message),
// truncating and always NUL-terminating.
func setMessage(msg *C.char, n C.size_t, s string) {
	if msg == nil || n == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(msg)), int(n))
	k := copy(b[:len(b)-1], s)
	b[k] = 0
}

// maxStructSize bounds an extensible struct, as the kernel does (PAGE_SIZE).
const maxStructSize = 4096

// copyIn reads a caller's size-first extensible struct into dst (known
// bytes, zeroed by the caller) with the kernel's copy_struct_from_user
// rule: a smaller struct is zero-extended; a larger one is accepted only if
// the tail this library does not know is zero (else E2BIG). minSize is the
// smallest size accepted. ptrFields are the offsets of the struct's pointer
// fields: each must be NULL or at least minPointer (else EFAULT) before the
// bytes reach dst, whose type tells the Go runtime they are pointers (see
// minPointer). It returns the caller's size.
func (c *call) copyIn(what string, src, dst unsafe.Pointer, known, minSize uintptr, ptrFields ...uintptr) (uint64, error) {
	usize := *(*uint64)(src)
	if usize < uint64(minSize) {
		return 0, c.errorf(syscall.EINVAL, "%s size %d is below the minimum %d (set size = sizeof(struct %s))", what, usize, minSize, what)
	}
	if usize > maxStructSize {
		return 0, c.errorf(syscall.E2BIG, "%s size %d is over %d", what, usize, maxStructSize)
	}
	if uintptr(usize) > known {
		tail := unsafe.Slice((*byte)(unsafe.Add(src, known)), uintptr(usize)-known)
		for i, b := range tail {
			if b != 0 {
				return 0, c.errorf(syscall.E2BIG, "%s is %d bytes; this library knows %d and byte %d of the tail is not zero",
					what, usize, known, uintptr(i)+known)
			}
		}
	}
	// Stage the bytes in pointer-free memory until the pointers are checked.
	var raw [maxKnownStruct / 8]uint64
	n := min(uintptr(usize), known)
	copyWords(unsafe.Pointer(&raw), src, n)
	for _, off := range ptrFields {
		if p := raw[off/8]; p != 0 && p < minPointer {
			return 0, c.errorf(syscall.EFAULT, "%s: bad pointer %#x at offset %d", what, p, off)
		}
	}
	copyWords(dst, unsafe.Pointer(&raw), (n+7)&^7) // raw is zero past n
	return usize, nil
}

// copyWords copies n bytes from src to dst, 8 at a time while it can: for
// the small structs of this API an inline loop is cheaper than memmove.
// Misaligned words are fine on the 64-bit targets the ABI supports.
func copyWords(dst, src unsafe.Pointer, n uintptr) {
	i := uintptr(0)
	for ; i+8 <= n; i += 8 {
		*(*uint64)(unsafe.Add(dst, i)) = *(*uint64)(unsafe.Add(src, i))
	}
	for ; i < n; i++ {
		*(*byte)(unsafe.Add(dst, i)) = *(*byte)(unsafe.Add(src, i))
	}
}

// minPointer is the lowest address a caller's pointer may hold: the Go
// runtime aborts ("invalid pointer found on stack") if a pointer-typed value
// below it sits on a Go stack. The C shim checks pointer arguments; copyIn
// checks pointers inside structs.
const minPointer = C.PMQ_MIN_POINTER

// maxKnownStruct bounds the size of any public input struct.
const maxKnownStruct = 128

// copyOut writes back the first min(usize, known) bytes of an in/out
// struct: out fields a smaller (older) caller does not have are skipped.
func copyOut(dst, src unsafe.Pointer, usize uint64, known uintptr) {
	copyWords(dst, src, min(uintptr(usize), known))
}

// checkFlags rejects unknown bits, as the kernel does.
func (c *call) checkFlags(what string, v, known uint32) error {
	if v&^known != 0 {
		return c.errorf(syscall.EINVAL, "unknown %s bits %#x", what, v&^known)
	}
	return nil
}

// probeSink keeps probeArray's loads from being optimized away; atomic
// because every thread's calls store into it.
var probeSink atomic.Uint32

// probeArray touches every page of the caller's array [p, p+size) (reads,
// and writes back when write is set) so that an array that is not real
// memory faults here, as EFAULT, before the library allocates scratch in
// proportion to its length: a huge count over a small buffer would
// otherwise end in a fatal out-of-memory that kills the host (found by
// tests/stress cabi_hostile). Cost: one access per 4 KiB of array.
//
// An array within one page is not probed: the scratch it could make the
// library allocate is small, and a bad pointer faults on first use as well.
func probeArray(p unsafe.Pointer, size uintptr, write bool) {
	if size <= 4096 {
		return
	}
	var acc byte
	for off := uintptr(0); ; off += 4096 {
		if off >= size {
			off = size - 1
		}
		b := (*byte)(unsafe.Add(p, off))
		v := *b
		acc ^= v
		if write {
			*b = v
		}
		if off == size-1 {
			break
		}
	}
	probeSink.Store(uint32(acc))
}
