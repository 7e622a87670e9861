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
// the handle so that its reused scratch results are never shared. Closed
// handles go back to handlePool with their small scratch, so that opening
// one per call allocates little; a call that raced with close and finds
// another id under mu refuses (EBADF) instead of using the new owner's.
type handle struct {
	id   atomic.Uint64 // slot index in the low 32 bits, generation in the high 32; 0 when closed
	mu   sync.Mutex
	core *core.Handle
	res  core.Result      // query and enumerate scratch
	norm *core.Normalized // normalize scratch, made on first use
	// cptr is the C struct published for this handle. A copy of its bytes
	// elsewhere (or a handle of another library instance whose id happens
	// to be live here) is refused, and never freed by close.
	cptr uintptr
}

// registry holds the live handles. A C handle stores an id = slot |
// generation<<32; a slot's generation changes each time it is freed, so a
// stale or forged id is detected (EBADF) even when its slot is reused.
// Slots live in chunks that are allocated once and never move, so a lookup
// (every call) is two atomic loads, and open and close are O(1) under mu
// whatever the number of live handles.
var registry struct {
	mu     sync.Mutex
	chunks [maxChunks]atomic.Pointer[slotChunk]
	gens   []uint32 // next generation per slot (under mu)
	free   []uint32 // free slots (under mu)
}

const (
	chunkSlots = 1024
	maxChunks  = 4096 // 4M live handles: far more than a process has fds
)

type slotChunk [chunkSlots]atomic.Pointer[handle]

func slotOf(slot uint32) *atomic.Pointer[handle] {
	c := registry.chunks[slot/chunkSlots].Load()
	if c == nil {
		return nil
	}
	return &c[slot%chunkSlots]
}

// register gives h an id and publishes it; it fails only when every slot
// is taken.
func (c *call) register(h *handle) error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	var slot uint32
	if n := len(registry.free); n > 0 {
		slot, registry.free = registry.free[n-1], registry.free[:n-1]
	} else {
		slot = uint32(len(registry.gens))
		if slot/chunkSlots >= maxChunks {
			return c.errorf(syscall.EMFILE, "%d handles open: no slot left", slot)
		}
		if slot%chunkSlots == 0 {
			registry.chunks[slot/chunkSlots].Store(new(slotChunk))
		}
		registry.gens = append(registry.gens, 1)
	}
	h.id.Store(uint64(slot) | uint64(registry.gens[slot])<<32)
	slotOf(slot).Store(h)
	return nil
}

// unregister removes the handle with that id; false if it is not live (one
// of two racing closes loses here).
func unregister(id uint64) (*handle, bool) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	h := lookupID(id)
	if h == nil {
		return nil, false
	}
	slot := uint32(id)
	slotOf(slot).Store(nil)
	registry.gens[slot]++
	if registry.gens[slot] == 0 {
		registry.gens[slot] = 1 // 0 never appears in a live id
	}
	registry.free = append(registry.free, slot)
	return h, true
}

func lookupID(id uint64) *handle {
	if uint32(id)/chunkSlots >= maxChunks {
		return nil
	}
	if s := slotOf(uint32(id)); s != nil {
		if h := s.Load(); h != nil && h.id.Load() == id {
			return h
		}
	}
	return nil
}

// lookup validates a C handle pointer and returns its handle. Reading a
// bad pointer faults, which the export turns into EFAULT.
func (c *call) lookup(p *C.struct_procmapq) (*handle, error) {
	if p == nil {
		return nil, c.errorf(syscall.EINVAL, "handle is NULL")
	}
	if p.magic == C.PMQ_HANDLE_MAGIC {
		if h := lookupID(uint64(p.id)); h != nil && h.cptr == uintptr(unsafe.Pointer(p)) {
			return h, nil
		}
	}
	return nil, c.errorf(syscall.EBADF, "%p is not an open handle (closed?)", p)
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

// open runs one of the open functions: out is cleared first (so that the
// final store cannot fault and leak the handle), then the C handle is
// allocated for the core handle that open returns.
func (c *call) open(out **C.struct_procmapq, open func() (*core.Handle, error)) (int, error) {
	if out == nil {
		return 0, c.errorf(syscall.EINVAL, "out is NULL")
	}
	*out = nil
	ch, err := open()
	if err != nil {
		return 0, err
	}
	// calloc, not C.malloc: cgo's C.malloc aborts the process when out of
	// memory instead of returning NULL.
	p := (*C.struct_procmapq)(C.calloc(1, C.sizeof_struct_procmapq))
	if p == nil {
		ch.Close()
		return 0, c.errorf(syscall.ENOMEM, "out of memory")
	}
	h := handlePool.Get().(*handle)
	h.core, h.cptr = ch, uintptr(unsafe.Pointer(p))
	if err := c.register(h); err != nil {
		C.free(unsafe.Pointer(p))
		ch.Close()
		return 0, err
	}
	p.magic, p.id = C.PMQ_HANDLE_MAGIC, C.uint64_t(h.id.Load())
	*out = p
	return 0, nil
}

//export pmqGoSupports
func pmqGoSupports(msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("supports_procmap_query", msg, msgLen)
	defer c.exit(&rc)
	ok, err := core.SupportsProcmapQuery()
	n := 0
	if ok {
		n = 1
	}
	return c.result(n, err)
}

//export pmqGoOpen
func pmqGoOpen(pid C.int, opts *C.struct_procmapq_open_opts, out **C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("open", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.open(out, func() (*core.Handle, error) {
		o, err := c.openOpts(opts, false)
		if err != nil {
			return nil, err
		}
		return core.OpenWithOptions(int(pid), o)
	}))
}

//export pmqGoOpenFD
func pmqGoOpenFD(fd C.int, opts *C.struct_procmapq_open_opts, out **C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("open_fd", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.open(out, func() (*core.Handle, error) {
		o, err := c.openOpts(opts, true)
		if err != nil {
			return nil, err
		}
		if fd < 0 {
			return nil, c.errorf(syscall.EBADF, "fd %d", fd)
		}
		return core.OpenFD(int(fd), o)
	}))
}

//export pmqGoOpenText
func pmqGoOpenText(text *C.char, n C.size_t, opts *C.struct_procmapq_open_opts, out **C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("open_text", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.open(out, func() (*core.Handle, error) {
		if text == nil && n != 0 {
			return nil, c.errorf(syscall.EINVAL, "text is NULL but len is %d", n)
		}
		if n > maxText {
			return nil, c.errorf(syscall.EINVAL, "len %d is over the %d bytes a maps text may have", n, maxText)
		}
		if _, err := c.openOpts(opts, false); err != nil {
			return nil, err
		}
		var b []byte
		if n > 0 {
			b = unsafe.Slice((*byte)(unsafe.Pointer(text)), int(n))
		}
		return core.OpenText(b) // copies the text
	}))
}

func (c *call) close(p *C.struct_procmapq) (int, error) {
	if p == nil {
		return 0, nil
	}
	if _, err := c.lookup(p); err != nil {
		return 0, err
	}
	h, ok := unregister(uint64(p.id))
	if !ok {
		return 0, c.errorf(syscall.EBADF, "%p is not an open handle (closed?)", p)
	}
	p.magic, p.id = 0, 0
	C.free(unsafe.Pointer(p))
	h.mu.Lock()
	h.core.Close()
	h.id.Store(0)
	h.res.Trim()
	h.norm = nil
	h.mu.Unlock()
	handlePool.Put(h)
	return 0, nil
}

// maxText is the longest captured text accepted (core's limit; a larger
// len is refused here before it is turned into a Go slice).
const maxText = core.MaxTextSize

var handlePool = sync.Pool{New: func() any { return new(handle) }}

// lock locks h for a call that looked it up by id and uses its scratch
// results; the caller unlocks h.mu. A close (and maybe a reuse of h from
// the pool) in between is refused.
func (c *call) lock(h *handle, id uint64) error {
	h.mu.Lock()
	if h.id.Load() != id {
		h.mu.Unlock()
		return c.errorf(syscall.EBADF, "handle closed during the call")
	}
	return nil
}

//export pmqGoClose
func pmqGoClose(p *C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("close", msg, msgLen)
	defer c.exit(&rc)
	return c.result(c.close(p))
}

//export pmqGoReopen
func pmqGoReopen(p *C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("reopen", msg, msgLen)
	defer c.exit(&rc)
	h, err := c.lookup(p)
	if err == nil {
		err = h.core.Reopen()
	}
	return c.result(0, err)
}

//export pmqGoPid
func pmqGoPid(p *C.struct_procmapq, msg *C.char, msgLen C.size_t) (rc C.int) {
	c := enter("pid", msg, msgLen)
	defer c.exit(&rc)
	h, err := c.lookup(p)
	pid := 0
	if err == nil {
		pid = max(h.core.Pid(), 0)
	}
	return c.result(pid, err)
}
