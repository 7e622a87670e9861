package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include "procmapq.h"
#include "internal.h"
*/
import "C"

import (
	"math"
	"syscall"
	"unsafe"

	"github.com/libprocmapq/libprocmapq/core"
)

const queryFlagsKnown = C.PROCMAPQ_QUERY_SORTED | C.PROCMAPQ_QUERY_BUILD_IDS | C.PROCMAPQ_QUERY_FILE_BACKED

// selection converts the fields procmapq_query_opts and
// procmapq_normalize_opts share (backend, flags, perms, reserved). It
// checks only what the conversion needs: the C encoding (unknown flag
// bits, reserved) and values too wide for core's types; core's checkCall
// validates the backend and the permission bits and names them. what names
// the struct in messages (built only on failure: this runs on every call).
func (c *call) selection(what string, backend, flags, knownFlags, perms, reserved uint32) (core.Backend, core.Perm, error) {
	switch {
	case flags&^knownFlags != 0:
		return 0, 0, c.errorf(syscall.EINVAL, "unknown %s.flags bits %#x", what, flags&^knownFlags)
	case reserved != 0:
		return 0, 0, c.errorf(syscall.EINVAL, "%s.reserved must be 0", what)
	case backend > math.MaxUint8:
		return 0, 0, c.errorf(syscall.EINVAL, "%s.backend %d is not a backend", what, backend)
	case perms > math.MaxUint8:
		return 0, 0, c.errorf(syscall.EINVAL, "unknown %s.perms bits %#x", what, perms&^0xff)
	}
	return core.Backend(backend), core.Perm(perms), nil
}

// queryOpts converts the caller's procmapq_query_opts (NULL = defaults).
func (c *call) queryOpts(p *C.struct_procmapq_query_opts) (core.Options, error) {
	var o core.Options
	if p == nil {
		return o, nil
	}
	var q C.struct_procmapq_query_opts
	if _, err := c.copyIn("procmapq_query_opts", unsafe.Pointer(p), unsafe.Pointer(&q),
		C.sizeof_struct_procmapq_query_opts, 8); err != nil {
		return o, err
	}
	b, perms, err := c.selection("procmapq_query_opts", uint32(q.backend), uint32(q.flags), queryFlagsKnown,
		uint32(q.perms), uint32(q.reserved))
	if err != nil {
		return o, err
	}
	o.Backend, o.Filter.Perms = b, perms
	o.Filter.FileBacked = q.flags&C.PROCMAPQ_QUERY_FILE_BACKED != 0
	o.Sorted = q.flags&C.PROCMAPQ_QUERY_SORTED != 0
	o.BuildIDs = q.flags&C.PROCMAPQ_QUERY_BUILD_IDS != 0
	return o, nil
}

// vmaBufMin is the smallest procmapq_vma_buf accepted: up to names_len,
// which carries the sizes needed on -ERANGE.
const vmaBufMin = unsafe.Offsetof(C.struct_procmapq_vma_buf{}.names_len) + 8

// vmaBuf reads the caller's procmapq_vma_buf.
func (c *call) vmaBuf(p *C.struct_procmapq_vma_buf, buf *C.struct_procmapq_vma_buf) (uint64, error) {
	if p == nil {
		return 0, c.errorf(syscall.EINVAL, "out is NULL")
	}
	usize, err := c.copyIn("procmapq_vma_buf", unsafe.Pointer(p), unsafe.Pointer(buf),
		C.sizeof_struct_procmapq_vma_buf, vmaBufMin, unsafe.Offsetof(buf.vmas), unsafe.Offsetof(buf.names))
	if err != nil {
		return 0, err
	}
	if buf.vmas == nil && buf.vmas_cap != 0 {
		return 0, c.errorf(syscall.EINVAL, "procmapq_vma_buf.vmas is NULL but vmas_cap is %d", buf.vmas_cap)
	}
	if buf.names == nil && buf.names_cap != 0 {
		return 0, c.errorf(syscall.EINVAL, "procmapq_vma_buf.names is NULL but names_cap is %d", buf.names_cap)
	}
	if buf.vmas_cap > math.MaxInt32 || buf.names_cap > math.MaxInt64 {
		return 0, c.errorf(syscall.EINVAL, "procmapq_vma_buf capacities too large")
	}
	return usize, nil
}

// writeVMAs copies res.VMAs and their names into the caller's arrays, or,
// when they are too small, records the sizes needed and returns ERANGE.
func (c *call) writeVMAs(res *core.Result, buf *C.struct_procmapq_vma_buf) error {
	names := uint64(0)
	for i := range res.VMAs {
		names += uint64(len(res.VMAs[i].Name)) + 1
	}
	buf.vmas_count = C.uint64_t(len(res.VMAs))
	buf.names_len = C.uint64_t(names)
	buf.strategy = C.uint32_t(res.Strategy)
	buf.syscalls = C.uint32_t(min(res.Syscalls, math.MaxUint32))
	if uint64(len(res.VMAs)) > uint64(buf.vmas_cap) || names > uint64(buf.names_cap) {
		return c.errorf(syscall.ERANGE, "output too small: %d VMAs and %d name bytes needed, room for %d and %d",
			len(res.VMAs), names, buf.vmas_cap, buf.names_cap)
	}
	if len(res.VMAs) == 0 {
		return nil
	}
	vmas := unsafe.Slice(buf.vmas, len(res.VMAs))
	nameBuf := unsafe.Slice((*byte)(unsafe.Pointer(buf.names)), int(names))
	off := 0
	for i := range res.VMAs {
		v := &res.VMAs[i]
		cv := &vmas[i]
		*cv = C.struct_procmapq_vma{
			start:        C.uint64_t(v.Start),
			end:          C.uint64_t(v.End),
			offset:       C.uint64_t(v.Offset),
			inode:        C.uint64_t(v.Inode),
			page_size:    C.uint64_t(v.PageSize),
			name_off:     C.uint64_t(off),
			dev_major:    C.uint32_t(v.DevMajor),
			dev_minor:    C.uint32_t(v.DevMinor),
			perms:        C.uint32_t(v.Perms),
			kind:         C.uint32_t(v.Kind),
			flags:        C.uint32_t(v.Flags),
			name_len:     C.uint32_t(len(v.Name)),
			build_id_len: C.uint32_t(min(len(v.BuildID), C.PROCMAPQ_BUILD_ID_MAX)),
		}
		// The kernel never reports more than 20 bytes; copy defensively.
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&cv.build_id[0])), C.PROCMAPQ_BUILD_ID_MAX), v.BuildID)
		off += copy(nameBuf[off:], v.Name)
		nameBuf[off] = 0
		off++
	}
	return nil
}

// vmaCall holds the checked arguments shared by query and enumerate.
type vmaCall struct {
	h     *handle
	id    uint64 // h's id at lookup (see lock)
	opts  core.Options
	buf   C.struct_procmapq_vma_buf // the caller's out struct, zero-extended
	usize uint64                    // its size
}

func (c *call) vmaCall(p *C.struct_procmapq, opts *C.struct_procmapq_query_opts, out *C.struct_procmapq_vma_buf, v *vmaCall) (err error) {
	if v.h, err = c.lookup(p); err != nil {
		return err
	}
	v.id = v.h.id.Load()
	if v.opts, err = c.queryOpts(opts); err != nil {
		return err
	}
	v.usize, err = c.vmaBuf(out, &v.buf)
	return err
}

// finish writes the VMA table into the caller's arrays and the counts into
// its out struct.
func (c *call) finish(v *vmaCall, out *C.struct_procmapq_vma_buf) error {
	err := c.writeVMAs(&v.h.res, &v.buf)
	copyOut(unsafe.Pointer(out), unsafe.Pointer(&v.buf), v.usize, C.sizeof_struct_procmapq_vma_buf)
	return err
}

func (c *call) query(p *C.struct_procmapq, addrs *C.uint64_t, n C.size_t, opts *C.struct_procmapq_query_opts,
	lookups *C.struct_procmapq_lookup, out *C.struct_procmapq_vma_buf) (int, error) {
	var v vmaCall
	if err := c.vmaCall(p, opts, out, &v); err != nil {
		return 0, err
	}
	h := v.h
	if n > math.MaxInt32 {
		return 0, c.errorf(syscall.EINVAL, "%d addresses: at most %d per call", n, math.MaxInt32)
	}
	if n > 0 && (addrs == nil || lookups == nil) {
		return 0, c.errorf(syscall.EINVAL, "addrs or lookups is NULL with n = %d", n)
	}
	var goAddrs []uint64
	if n > 0 {
		if overlaps(unsafe.Pointer(addrs), uintptr(n)*8, unsafe.Pointer(lookups), uintptr(n)*C.sizeof_struct_procmapq_lookup) {
			return 0, c.errorf(syscall.EINVAL, "lookups overlaps addrs: answers would overwrite addresses not yet read")
		}
		goAddrs = unsafe.Slice((*uint64)(unsafe.Pointer(addrs)), int(n))
		probeArray(unsafe.Pointer(addrs), uintptr(n)*8, false)
		probeArray(unsafe.Pointer(lookups), uintptr(n)*C.sizeof_struct_procmapq_lookup, true)
	}

	if err := c.lock(h, v.id); err != nil {
		return 0, err
	}
	// core writes the answers straight into the caller's array, whose
	// layout core.Lookup shares (checked in layout.go); the scratch must
	// not keep pointing at it after the call. One defer (also run on a
	// fault panic, which the export recovers) unlocks and forgets it.
	defer h.endQuery()
	res := &h.res
	res.Lookups = unsafe.Slice((*core.Lookup)(unsafe.Pointer(lookups)), int(n))
	qerr := h.core.Query(goAddrs, &v.opts, res)
	if !core.AnswersComplete(qerr) {
		return 0, qerr
	}
	if err := c.finish(&v, out); err != nil {
		return 0, err
	}
	// On ESRCH the answers written are complete: qerr is returned with
	// them.
	return len(res.VMAs), qerr
}

// endQuery forgets the caller's lookups array that the scratch result
// pointed at during a query, so that no later call writes into it, and
// unlocks the handle.
func (h *handle) endQuery() {
	h.res.Lookups = nil
	h.mu.Unlock()
}

// overlaps says whether [p, p+n) and [q, q+m) share a byte.
func overlaps(p unsafe.Pointer, n uintptr, q unsafe.Pointer, m uintptr) bool {
	a, b := uintptr(p), uintptr(q)
	return a < b+m && b < a+n
}

//export pmqGoQuery
func pmqGoQuery(p *C.struct_procmapq, addrs *C.uint64_t, n C.size_t, opts *C.struct_procmapq_query_opts,
	lookups *C.struct_procmapq_lookup, out *C.struct_procmapq_vma_buf, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("query", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.query(p, addrs, n, opts, lookups, out))
}

func (c *call) enumerate(p *C.struct_procmapq, opts *C.struct_procmapq_query_opts, out *C.struct_procmapq_vma_buf) (int, error) {
	var v vmaCall
	if err := c.vmaCall(p, opts, out, &v); err != nil {
		return 0, err
	}
	if err := c.lock(v.h, v.id); err != nil {
		return 0, err
	}
	defer v.h.mu.Unlock()
	if err := v.h.core.Enumerate(&v.opts, &v.h.res); err != nil {
		return 0, err
	}
	return len(v.h.res.VMAs), c.finish(&v, out)
}

//export pmqGoEnumerate
func pmqGoEnumerate(p *C.struct_procmapq, opts *C.struct_procmapq_query_opts, out *C.struct_procmapq_vma_buf,
	msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("enumerate", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.enumerate(p, opts, out))
}
