package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include <stdlib.h>
#include "procmapq.h"
#include "internal.h"
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/libprocmapq/libprocmapq/core"
)

// Every input struct must fit copyIn's staging buffer (compile-time check:
// a negative array length fails the build).
var (
	_ [maxKnownStruct - C.sizeof_struct_procmapq_open_opts]byte
	_ [maxKnownStruct - C.sizeof_struct_procmapq_query_opts]byte
	_ [maxKnownStruct - C.sizeof_struct_procmapq_vma_buf]byte
	_ [maxKnownStruct - C.sizeof_struct_procmapq_compare_opts]byte
	_ [maxKnownStruct - C.sizeof_struct_procmapq_normalize_opts]byte
)

// handle is what a C struct procmapq stands for. mu serializes calls on
// the handle so that its reused scratch results are never shared.
type handle struct {
	mu   sync.Mutex
	core *core.Handle
	res  core.Result     // query and enumerate scratch
	norm core.Normalized // normalize scratch
	// cptr is the C struct published for this handle. A copy of its bytes
	// elsewhere (or a handle of another library instance whose id happens
	// to be live here) is refused, and never freed by close.
	cptr uintptr
}

// registry maps the ids in C handles to live handles. An id is never
// reused, so a stale handle is detected even if its C memory still holds
// the old id.
var (
	registry sync.Map // uint64 -> *handle
	nextID   atomic.Uint64
)

// lookup validates a C handle pointer and returns its handle. Reading a
// bad pointer faults, which the export turns into EFAULT.
func (c *call) lookup(p *C.struct_procmapq) (*handle, error) {
	if p == nil {
		return nil, c.errorf(syscall.EINVAL, "handle is NULL")
	}
	if p.magic != C.PMQ_HANDLE_MAGIC {
		return nil, c.errorf(syscall.EBADF, "%p is not an open handle (closed?)", p)
	}
	v, ok := registry.Load(uint64(p.id))
	if !ok || v.(*handle).cptr != uintptr(unsafe.Pointer(p)) {
		return nil, c.errorf(syscall.EBADF, "%p is not an open handle (closed?)", p)
	}
	return v.(*handle), nil
}

// openOpts reads the caller's open options. allowPid is true for
// procmapq_open_fd only.
func (c *call) openOpts(p *C.struct_procmapq_open_opts, allowPid bool) (*core.OpenOptions, error) {
	o := &core.OpenOptions{}
	if p == nil {
		return o, nil
	}
	var co C.struct_procmapq_open_opts
	if _, err := c.copyIn("procmapq_open_opts", unsafe.Pointer(p), unsafe.Pointer(&co),
		C.sizeof_struct_procmapq_open_opts, 8, unsafe.Offsetof(co.proc_root)); err != nil {
		return nil, err
	}
	if err := c.checkFlags("procmapq_open_opts.flags", uint32(co.flags), 0); err != nil {
		return nil, err
	}
	if co.pid < 0 || (co.pid != 0 && !allowPid) {
		return nil, c.errorf(syscall.EINVAL, "procmapq_open_opts.pid %d: must be 0 here (only procmapq_open_fd takes a pid)", co.pid)
	}
	o.Pid = int(co.pid)
	if co.proc_root != nil {
		o.ProcRoot = C.GoString(co.proc_root)
		if o.ProcRoot == "" {
			return nil, c.errorf(syscall.EINVAL, "procmapq_open_opts.proc_root is empty (use NULL for /proc)")
		}
	}
	return o, nil
}

// publish allocates the C handle for h and stores it in *out. *out was
// already written once (set to NULL) by the caller, so this write cannot
// fault and leak the handle.
func (c *call) publish(h *core.Handle, out **C.struct_procmapq) error {
	p := (*C.struct_procmapq)(C.malloc(C.sizeof_struct_procmapq))
	if p == nil {
		h.Close()
		return c.errorf(syscall.ENOMEM, "out of memory")
	}
	id := nextID.Add(1)
	registry.Store(id, &handle{core: h, cptr: uintptr(unsafe.Pointer(p))})
	p.magic, p.id = C.PMQ_HANDLE_MAGIC, C.uint64_t(id)
	*out = p
	return nil
}

func (c *call) clearOut(out **C.struct_procmapq) error {
	if out == nil {
		return c.errorf(syscall.EINVAL, "out is NULL")
	}
	*out = nil
	return nil
}

//export pmqGoSupports
func pmqGoSupports(msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("supports_procmap_query", msg, msgLen)
	defer c.exit(&rc)
	ok, err := core.SupportsProcmapQuery()
	if err != nil {
		return c.fail(err)
	}
	if ok {
		return 1
	}
	return 0
}

//export pmqGoOpen
func pmqGoOpen(pid C.int, opts *C.struct_procmapq_open_opts, out **C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("open", msg, msgLen)
	defer c.exit(&rc)
	if err := c.clearOut(out); err != nil {
		return c.fail(err)
	}
	o, err := c.openOpts(opts, false)
	if err != nil {
		return c.fail(err)
	}
	h, err := core.OpenWithOptions(int(pid), o)
	if err != nil {
		return c.fail(err)
	}
	if err := c.publish(h, out); err != nil {
		return c.fail(err)
	}
	return 0
}

//export pmqGoOpenFD
func pmqGoOpenFD(fd C.int, opts *C.struct_procmapq_open_opts, out **C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("open_fd", msg, msgLen)
	defer c.exit(&rc)
	if err := c.clearOut(out); err != nil {
		return c.fail(err)
	}
	o, err := c.openOpts(opts, true)
	if err != nil {
		return c.fail(err)
	}
	if fd < 0 {
		return c.fail(c.errorf(syscall.EBADF, "fd %d", fd))
	}
	h, err := core.OpenFD(int(fd), o)
	if err != nil {
		return c.fail(err)
	}
	if err := c.publish(h, out); err != nil {
		return c.fail(err)
	}
	return 0
}

//export pmqGoOpenText
func pmqGoOpenText(text *C.char, n C.size_t, opts *C.struct_procmapq_open_opts, out **C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("open_text", msg, msgLen)
	defer c.exit(&rc)
	if err := c.clearOut(out); err != nil {
		return c.fail(err)
	}
	if text == nil && n != 0 {
		return c.fail(c.errorf(syscall.EINVAL, "text is NULL but len is %d", n))
	}
	if _, err := c.openOpts(opts, false); err != nil {
		return c.fail(err)
	}
	var b []byte
	if n > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(text)), int(n))
	}
	h, err := core.OpenText(b) // copies the text
	if err != nil {
		return c.fail(err)
	}
	if err := c.publish(h, out); err != nil {
		return c.fail(err)
	}
	return 0
}

//export pmqGoClose
func pmqGoClose(p *C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("close", msg, msgLen)
	defer c.exit(&rc)
	if p == nil {
		return 0
	}
	if _, err := c.lookup(p); err != nil {
		return c.fail(err)
	}
	// LoadAndDelete makes one of two racing closes the only one to free.
	v, ok := registry.LoadAndDelete(uint64(p.id))
	if !ok {
		return c.fail(c.errorf(syscall.EBADF, "%p is not an open handle (closed?)", p))
	}
	p.magic, p.id = 0, 0
	C.free(unsafe.Pointer(p))
	h := v.(*handle)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.core.Close()
	h.res, h.norm = core.Result{}, core.Normalized{}
	return 0
}

//export pmqGoReopen
func pmqGoReopen(p *C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("reopen", msg, msgLen)
	defer c.exit(&rc)
	h, err := c.lookup(p)
	if err != nil {
		return c.fail(err)
	}
	if err := h.core.Reopen(); err != nil {
		return c.fail(err)
	}
	return 0
}

//export pmqGoPid
func pmqGoPid(p *C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("pid", msg, msgLen)
	defer c.exit(&rc)
	h, err := c.lookup(p)
	if err != nil {
		return c.fail(err)
	}
	return C.int(max(h.core.Pid(), 0))
}
