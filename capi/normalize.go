package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include "procmapq.h"
*/
import "C"

import (
	"math"
	"syscall"
	"unsafe"

	"github.com/libprocmapq/libprocmapq/core"
)

const normFlagsKnown = C.PROCMAPQ_NORM_SORTED | C.PROCMAPQ_NORM_BUILD_IDS | C.PROCMAPQ_NORM_FILE_BACKED |
	C.PROCMAPQ_NORM_VIRT_ADDRS | C.PROCMAPQ_NORM_NO_MAP_FILES | C.PROCMAPQ_NORM_NO_BUILD_ID_CACHE

func (c *call) normalizeOpts(p *C.struct_procmapq_normalize_opts) (core.NormalizeOptions, error) {
	var o core.NormalizeOptions
	if p == nil {
		return o, nil
	}
	var q C.struct_procmapq_normalize_opts
	if _, err := c.copyIn("procmapq_normalize_opts", unsafe.Pointer(p), unsafe.Pointer(&q),
		C.sizeof_struct_procmapq_normalize_opts, 8); err != nil {
		return o, err
	}
	b, perms, err := c.selection("procmapq_normalize_opts", uint32(q.backend), uint32(q.flags), normFlagsKnown,
		uint32(q.perms), uint32(q.reserved))
	if err != nil {
		return o, err
	}
	f := uint32(q.flags)
	o.Backend, o.Filter.Perms = b, perms
	o.Filter.FileBacked = f&C.PROCMAPQ_NORM_FILE_BACKED != 0
	o.Sorted = f&C.PROCMAPQ_NORM_SORTED != 0
	o.BuildIDs = f&C.PROCMAPQ_NORM_BUILD_IDS != 0
	o.VirtAddrs = f&C.PROCMAPQ_NORM_VIRT_ADDRS != 0
	o.NoMapFiles = f&C.PROCMAPQ_NORM_NO_MAP_FILES != 0
	o.NoBuildIDCache = f&C.PROCMAPQ_NORM_NO_BUILD_ID_CACHE != 0
	return o, nil
}

func (c *call) normalize(p *C.struct_procmapq, addrs *C.uint64_t, n C.size_t, opts *C.struct_procmapq_normalize_opts,
	out **C.struct_procmapq_normalized) (int, error) {
	if out == nil {
		return 0, c.errorf(syscall.EINVAL, "out is NULL")
	}
	*out = nil
	h, err := c.lookup(p)
	if err != nil {
		return 0, err
	}
	id := h.id.Load()
	o, err := c.normalizeOpts(opts)
	if err != nil {
		return 0, err
	}
	goAddrs, err := c.normalizeAddrs(addrs, n)
	if err != nil {
		return 0, err
	}

	if err := c.lock(h, id); err != nil {
		return 0, err
	}
	defer h.mu.Unlock()
	if h.norm == nil {
		h.norm = new(core.Normalized)
	}
	res := h.norm
	nerr := h.core.Normalize(goAddrs, &o, res)
	if !core.AnswersComplete(nerr) {
		return 0, nerr
	}
	r, err := c.exportNormalized(res)
	if err != nil {
		return 0, err
	}
	*out = r
	// On ESRCH the result is complete: returned together with nerr.
	return len(res.Metas), nerr
}

// normalizeAddrs checks the caller's address array and views it as a Go
// slice (no copy; probed first, so a bad pointer is -EFAULT here).
func (c *call) normalizeAddrs(addrs *C.uint64_t, n C.size_t) ([]uint64, error) {
	if n > math.MaxInt32 {
		return nil, c.errorf(syscall.EINVAL, "%d addresses: at most %d per call", n, math.MaxInt32)
	}
	if n == 0 {
		return nil, nil
	}
	if addrs == nil {
		return nil, c.errorf(syscall.EINVAL, "addrs is NULL with n = %d", n)
	}
	probeArray(unsafe.Pointer(addrs), uintptr(n)*8, false)
	return unsafe.Slice((*uint64)(unsafe.Pointer(addrs)), int(n)), nil
}

// exportNormalized copies res into one C allocation: the result struct,
// the outputs, the metas, then their paths and build IDs.
func (c *call) exportNormalized(res *core.Normalized) (*C.struct_procmapq_normalized, error) {
	a := arena{size: C.sizeof_struct_procmapq_normalized +
		uintptr(len(res.Outputs))*C.sizeof_struct_procmapq_norm_output +
		uintptr(len(res.Metas))*C.sizeof_struct_procmapq_norm_meta}
	for i := range res.Metas {
		a.size += uintptr(len(res.Metas[i].Path)) + 1 + uintptr(len(res.Metas[i].BuildID))
	}
	if err := a.alloc(c); err != nil {
		return nil, err
	}
	r := (*C.struct_procmapq_normalized)(a.take(C.sizeof_struct_procmapq_normalized))
	r.output_count, r.meta_count = C.uint64_t(len(res.Outputs)), C.uint64_t(len(res.Metas))
	r.strategy = C.uint32_t(res.Strategy)
	if len(res.Outputs) > 0 {
		r.outputs = (*C.struct_procmapq_norm_output)(a.take(uintptr(len(res.Outputs)) * C.sizeof_struct_procmapq_norm_output))
		exportNormOutputs(unsafe.Slice(r.outputs, len(res.Outputs)), res.Outputs)
	}
	if len(res.Metas) > 0 {
		r.metas = (*C.struct_procmapq_norm_meta)(a.take(uintptr(len(res.Metas)) * C.sizeof_struct_procmapq_norm_meta))
		exportNormMetas(&a, unsafe.Slice(r.metas, len(res.Metas)), res.Metas)
	}
	return r, nil
}

func exportNormOutputs(outs []C.struct_procmapq_norm_output, src []core.NormOutput) {
	for i := range src {
		g, co := &src[i], &outs[i]
		co.file_offset, co.meta = C.uint64_t(g.FileOffset), C.uint32_t(g.Meta)
		if g.HasVirtAddr {
			co.virt_addr, co.flags = C.uint64_t(g.VirtAddr), C.PROCMAPQ_NORM_OUT_HAS_VIRT_ADDR
		}
	}
}

// exportNormMetas fills metas from src, placing paths and build IDs in a.
func exportNormMetas(a *arena, metas []C.struct_procmapq_norm_meta, src []core.Meta) {
	for i := range src {
		g, cm := &src[i], &metas[i]
		cm.kind, cm.reason = C.uint32_t(g.Kind), C.uint32_t(g.Reason)
		cm.build_id_source, cm.flags = C.uint32_t(g.BuildIDSource), C.uint32_t(g.Flags)
		cm.path, cm.path_len = a.cstring(g.Path), C.uint64_t(len(g.Path))
		if len(g.BuildID) > 0 {
			b := a.take(uintptr(len(g.BuildID)))
			copy(unsafe.Slice((*byte)(b), len(g.BuildID)), g.BuildID)
			cm.build_id, cm.build_id_len = (*C.uint8_t)(b), C.uint64_t(len(g.BuildID))
		}
		cm.dev_major, cm.dev_minor, cm.inode = C.uint32_t(g.DevMajor), C.uint32_t(g.DevMinor), C.uint64_t(g.Inode)
	}
}

//export pmqGoNormalize
func pmqGoNormalize(p *C.struct_procmapq, addrs *C.uint64_t, n C.size_t, opts *C.struct_procmapq_normalize_opts,
	out **C.struct_procmapq_normalized, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("normalize", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.normalize(p, addrs, n, opts, out))
}
