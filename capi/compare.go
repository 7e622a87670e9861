package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include <stdlib.h>
#include "procmapq.h"
*/
import "C"

import (
	"errors"
	"syscall"
	"time"
	"unsafe"

	"github.com/libprocmapq/libprocmapq/core"
)

func (c *call) compareOpts(p *C.struct_procmapq_compare_opts) (*core.CompareOptions, error) {
	o := &core.CompareOptions{}
	if p == nil {
		return o, nil
	}
	var co C.struct_procmapq_compare_opts
	if _, err := c.copyIn("procmapq_compare_opts", unsafe.Pointer(p), unsafe.Pointer(&co),
		C.sizeof_struct_procmapq_compare_opts, 8); err != nil {
		return nil, err
	}
	o.Attempts = int(co.attempts)
	o.RetryDelay = time.Duration(co.retry_delay_ms) * time.Millisecond
	return o, nil
}

func (c *call) compare(p *C.struct_procmapq, opts *C.struct_procmapq_compare_opts, out **C.struct_procmapq_compare_report) (int, error) {
	if out == nil {
		return 0, c.errorf(syscall.EINVAL, "out is NULL")
	}
	*out = nil
	h, err := c.lookup(p)
	if err != nil {
		return 0, err
	}
	o, err := c.compareOpts(opts)
	if err != nil {
		return 0, err
	}
	rep, err := h.core.Compare(o)
	if err != nil && !(errors.Is(err, core.ErrNotSettled) && rep != nil) {
		return 0, err // an unsettled report is still a report
	}
	diffs := append(append([]core.Difference(nil), rep.Expected...), rep.Mismatches...)
	a := arena{size: C.sizeof_struct_procmapq_compare_report + uintptr(len(diffs))*C.sizeof_struct_procmapq_difference}
	for i := range diffs {
		a.size += uintptr(len(diffs[i].Detail)) + 1
	}
	if err := a.alloc(c); err != nil {
		return 0, err
	}
	r := (*C.struct_procmapq_compare_report)(a.take(C.sizeof_struct_procmapq_compare_report))
	r.pid = C.int32_t(max(rep.Pid, 0))
	r.attempts = C.uint32_t(rep.Attempts)
	if rep.Settled {
		r.settled = 1
	}
	r.text_vmas, r.ioctl_vmas, r.matched = C.uint32_t(rep.TextVMAs), C.uint32_t(rep.IoctlVMAs), C.uint32_t(rep.Matched)
	r.page_size_only_ioctl = C.uint32_t(rep.PageSizeOnlyIoctl)
	r.expected_count, r.mismatch_count = C.uint32_t(len(rep.Expected)), C.uint32_t(len(rep.Mismatches))
	r.diff_count = C.uint32_t(len(diffs))
	if len(diffs) > 0 {
		r.diffs = (*C.struct_procmapq_difference)(a.take(uintptr(len(diffs)) * C.sizeof_struct_procmapq_difference))
		cds := unsafe.Slice(r.diffs, len(diffs))
		for i := range diffs {
			d := &diffs[i]
			cd := &cds[i]
			cd.kind = C.uint32_t(d.Kind)
			if d.Kind.Expected() {
				cd.flags |= C.PROCMAPQ_DIFF_F_EXPECTED
			}
			if d.Text != nil {
				cd.flags |= C.PROCMAPQ_DIFF_F_HAS_TEXT
				cd.text_start, cd.text_end = C.uint64_t(d.Text.Start), C.uint64_t(d.Text.End)
			}
			if d.Ioctl != nil {
				cd.flags |= C.PROCMAPQ_DIFF_F_HAS_IOCTL
				cd.ioctl_start, cd.ioctl_end = C.uint64_t(d.Ioctl.Start), C.uint64_t(d.Ioctl.End)
			}
			cd.detail = a.cstring([]byte(d.Detail))
		}
	}
	*out = r
	return len(rep.Mismatches), nil
}

//export pmqGoCompare
func pmqGoCompare(p *C.struct_procmapq, opts *C.struct_procmapq_compare_opts, out **C.struct_procmapq_compare_report,
	msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("compare", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.compare(p, opts, out))
}
