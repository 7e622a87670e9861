package core

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"structs"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procmapQueryRequest is PROCMAP_QUERY = _IOWR('f', 17, struct procmap_query).
// Neither x/sys/unix nor Debian 12's <linux/fs.h> defines it.
const procmapQueryRequest = 0xC0686611

// Query flags of enum procmap_query_flags (include/uapi/linux/fs.h).
const (
	pmqCoveringOrNext = 0x10 // PROCMAP_QUERY_COVERING_OR_NEXT_VMA
	pmqFileBacked     = 0x20 // PROCMAP_QUERY_FILE_BACKED_VMA
)

// buildIDMax is BUILD_ID_SIZE_MAX. The build-ID buffer passed to the kernel
// is never smaller: a smaller one hits a double mmput() on some stable
// kernels (fix 61dc9f776705).
const buildIDMax = 20

// pathMax is PATH_MAX: the ioctl cannot return longer names.
const pathMax = 4096

// procmapQuery mirrors struct procmap_query (104 bytes, no padding).
type procmapQuery struct {
	_          structs.HostLayout
	Size       uint64 // in: sizeof(struct procmap_query)
	QueryFlags uint64 // in
	QueryAddr  uint64 // in
	VMAStart   uint64 // out, inclusive
	VMAEnd     uint64 // out, exclusive
	VMAFlags   uint64 // out: PROCMAP_QUERY_VMA_* bits
	PageSize   uint64 // out
	VMAOffset  uint64 // out: file offset, 0 if anonymous
	Inode      uint64 // out
	DevMajor   uint32 // out
	DevMinor   uint32 // out
	NameSize   uint32 // in/out: capacity in, bytes incl. NUL out (0 = no name)
	BuildIDSz  uint32 // in/out: capacity in, length out (0 = none)
	// NameAddr and BuildIDAddr are user pointers. They are typed as
	// unsafe.Pointer so the GC sees them while the kernel writes through them.
	NameAddr    unsafe.Pointer // in
	BuildIDAddr unsafe.Pointer // in
}

const procmapQuerySize = 104

var _ [procmapQuerySize - unsafe.Sizeof(procmapQuery{})]struct{}
var _ [unsafe.Sizeof(procmapQuery{}) - procmapQuerySize]struct{}

// ioctlBuffers is the per-call scratch the kernel writes into.
type ioctlBuffers struct {
	q       procmapQuery
	name    [pathMax]byte
	buildID [buildIDMax]byte
}

// doQuery issues one PROCMAP_QUERY on fd. It resets the in/out sizes first
// (on error the kernel writes nothing back). wantBuildID passes the 20-byte
// build-ID buffer. The returned errno is 0 on success.
func (b *ioctlBuffers) doQuery(fd int, addr uint64, flags uint64, wantBuildID bool) syscall.Errno {
	q := &b.q
	*q = procmapQuery{
		Size:       procmapQuerySize,
		QueryFlags: flags,
		QueryAddr:  addr,
		NameSize:   pathMax,
		NameAddr:   unsafe.Pointer(&b.name[0]),
	}
	if wantBuildID {
		q.BuildIDSz = buildIDMax
		q.BuildIDAddr = unsafe.Pointer(&b.buildID[0])
	}
	e := procmapQueryCall(fd, q, wantBuildID)
	runtime.KeepAlive(b)
	if e == syscall.ENAMETOOLONG {
		// The name buffer is PATH_MAX, so the path itself is >= PATH_MAX:
		// only the text file has it. Ask again without a name.
		q.Size, q.QueryFlags, q.QueryAddr = procmapQuerySize, flags, addr
		q.NameSize, q.NameAddr = 0, nil
		if wantBuildID {
			q.BuildIDSz = buildIDMax
		}
		e = procmapQueryCall(fd, q, wantBuildID)
		runtime.KeepAlive(b)
		if e == 0 {
			q.NameSize = ^uint32(0) // marks "name unavailable" for fill
		}
	}
	return e
}

// procmapQueryCall makes the ioctl. Without a build ID it does not tell
// the scheduler (RawSyscall): the kernel answers from per-VMA locks in
// about a microsecond and never waits for I/O, and the bookkeeping of a
// blocking syscall would cost a tenth of that (docs/planner.md, "The cost
// of one call"). Reading a build ID may read the file, so that path is an
// ordinary, blocking-aware syscall.
func procmapQueryCall(fd int, q *procmapQuery, mayBlock bool) syscall.Errno {
	var e syscall.Errno
	if mayBlock {
		_, _, e = unix.Syscall(unix.SYS_IOCTL, uintptr(fd), procmapQueryRequest, uintptr(unsafe.Pointer(q)))
	} else {
		_, _, e = unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), procmapQueryRequest, uintptr(unsafe.Pointer(q)))
	}
	return e
}

// view sets v from the kernel's last answer. Its Name and BuildID alias
// b's scratch, valid until the next doQuery (see [VMA.intern]).
func (b *ioctlBuffers) view(v *VMA) {
	q := &b.q
	*v = VMA{
		Start:    q.VMAStart,
		End:      q.VMAEnd,
		Offset:   q.VMAOffset,
		Inode:    q.Inode,
		PageSize: q.PageSize,
		DevMajor: q.DevMajor,
		DevMinor: q.DevMinor,
		Perms:    Perm(q.VMAFlags) & permMask,
	}
	switch {
	case q.NameSize == ^uint32(0):
		v.Kind, v.Flags = KindFile, FlagNameUnavailable
	case q.NameSize > 1:
		n := min(int(q.NameSize)-1, pathMax) // without the NUL
		v.Name = b.name[:n:n]
		v.Kind, v.Flags = kindOf(v.Name)
	}
	if q.BuildIDSz > 0 && q.BuildIDSz <= buildIDMax {
		v.BuildID = b.buildID[:q.BuildIDSz:q.BuildIDSz]
	}
}

// fill is view with the name and build ID copied to arena; it returns the
// grown arena.
func (b *ioctlBuffers) fill(v *VMA, arena []byte) []byte {
	b.view(v)
	return v.intern(arena)
}

// resolveIoctl answers the sorted batch with point ioctls: each
// COVERING_OR_NEXT query at the lowest unanswered address returns the VMA
// covering it or the next one above, which answers the gap below that VMA
// and every address inside it. The filter is applied here so that a
// filtered VMA is told from a gap. With adaptive set (auto), it switches
// to text once the ioctls spent would pay for a whole text read, and
// answers the gate VMA, which the ioctl never returns, from what a text
// read showed (chooseQuery made sure one did when the batch touches it).
func (h *Handle) resolveIoctl(b *batch, o *Options, res *Result, adaptive bool) error {
	mayTextSwitch := adaptive && !o.BuildIDs // only the ioctl has build IDs
	kernelTop := uint64(1<<64 - 1)           // the kernel's answers end below this
	if adaptive {
		kernelTop = gateStart
	}
	q := h.buffers()
	res.Strategy = StrategyPointIoctl
	clock := h.plan.startClock(adaptive)
	ioctls := 0
	i, n := 0, len(b.addrs)
	for i < n {
		a := b.addrs[i]
		if a >= kernelTop {
			h.answerGateArea(b, i, o, res)
			break
		}
		if mayTextSwitch && h.plan.shouldSwitch(ioctls) {
			h.plan.noteIoctls(ioctls, clock)
			res.Strategy = StrategyIoctlThenText
			res.Syscalls += ioctls
			res.touched += ioctls
			return h.resolveText(b, i, o, res, "query")
		}
		ioctls++
		if en := q.doQuery(h.fd, a, pmqCoveringOrNext, o.BuildIDs); en != 0 {
			if en == syscall.ENOENT { // nothing at or above a
				j := b.below(i, kernelTop)
				res.answerNone(b, i, j, ReasonUnmapped)
				i = j
				continue
			}
			res.Syscalls += ioctls
			return h.ioctlQueryFailed(en, b, i, o, res, adaptive)
		}
		h.ioctlState = 1
		var v VMA
		q.view(&v)
		j := b.below(i, v.Start)
		res.answerNone(b, i, j, ReasonUnmapped)
		k := b.below(j, v.End)
		if k > j {
			if o.Filter.matches(&v) {
				res.addVMA(&v, b, j, k)
			} else {
				res.answerNone(b, j, k, ReasonFiltered)
			}
		}
		i = k
	}
	res.Syscalls += ioctls
	res.touched += ioctls
	h.plan.noteIoctls(ioctls, clock)
	return nil
}

// answerGateArea answers sorted positions i.. of b, all at or above
// gateStart, from what the handle learnt of the gate VMA.
func (h *Handle) answerGateArea(b *batch, i int, o *Options, res *Result) {
	n := len(b.addrs)
	j := b.below(i, gateStart)
	k := b.below(j, gateEnd)
	res.answerNone(b, i, j, ReasonUnmapped)
	switch {
	case k == j:
	case !h.hasGate:
		res.answerNone(b, j, k, ReasonUnmapped)
	case !o.Filter.matches(&h.gate):
		res.answerNone(b, j, k, ReasonFiltered)
	default:
		gate := h.gate // its name is the handle's own copy, not scratch
		res.VMAs = append(res.VMAs, gate)
		res.answerFound(b, j, k, int32(len(res.VMAs)-1), gate.Offset-gate.Start)
	}
	res.answerNone(b, k, n, ReasonUnmapped)
}

// ioctlQueryFailed settles a point query that failed at sorted position i:
// ENOTTY (an fd that turned out not to answer the ioctl) hands the rest to
// text under auto; anything else fails the call (see failLookups).
func (h *Handle) ioctlQueryFailed(en syscall.Errno, b *batch, i int, o *Options, res *Result, adaptive bool) error {
	err := h.ioctlFailed("query", b.addrs[i], en)
	if en == syscall.ENOTTY && adaptive {
		res.Strategy = StrategyText
		return h.resolveText(b, i, o, res, "query")
	}
	return failLookups(err, b, i, res)
}

// probeState caches the process-wide PROCMAP_QUERY probe. Only a conclusive
// answer is cached; a probe that could not run is retried next time.
// answer is read on every call without the lock: 0 = not probed yet,
// 1 = supported, 2 = not supported.
var probeState probeCache

type probeCache struct {
	answer    atomic.Uint32
	mu        sync.Mutex
	done      bool
	supported bool
	why       syscall.Errno // what the probe got when unsupported; 0 if forced off
}

// probeOverride lets tests force the probe result ("0" or "1") through the
// environment variable PROCMAPQ_FORCE_PROBE; it is read once.
var probeOverride = os.Getenv("PROCMAPQ_FORCE_PROBE")

// SupportsProcmapQuery reports whether the running kernel supports the
// PROCMAP_QUERY ioctl (Linux 6.11+). It probes once per process with one
// ioctl on /proc/self/maps and caches a conclusive answer; an error that
// prevents the probe (say, /proc not mounted) is returned and not cached.
func SupportsProcmapQuery() (bool, error) {
	if a := probeState.answer.Load(); a != 0 {
		return a == 1, nil
	}
	probeState.mu.Lock()
	defer probeState.mu.Unlock()
	if probeState.done {
		return probeState.supported, nil
	}
	switch probeOverride {
	case "0", "1":
		probeState.done, probeState.supported = true, probeOverride == "1"
		probeState.publish()
		return probeState.supported, nil
	}
	fd, err := unix.Open("/proc/self/maps", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, &Error{Op: "probe", Pid: -1, Path: "/proc/self/maps", Err: classifyErrno(err.(syscall.Errno))}
	}
	defer unix.Close(fd)
	ok, why, err := probeFD(fd)
	if err != nil {
		return false, err
	}
	probeState.done, probeState.supported, probeState.why = true, ok, why
	probeState.publish()
	return ok, nil
}

// publish makes the conclusive answer visible to the lock-free fast path
// (under p.mu).
func (p *probeCache) publish() {
	if p.supported {
		p.answer.Store(1)
	} else {
		p.answer.Store(2)
	}
}

// notSupported is the error for a call that needs PROCMAP_QUERY where the
// probe said no: it says why, since a sandbox that blocks the ioctl is not
// an old kernel.
func notSupported() error {
	probeState.mu.Lock()
	why := probeState.why
	probeState.mu.Unlock()
	switch {
	case why == syscall.ENOTTY:
		return ErrNotSupported
	case why != 0:
		return withDetail(ErrNotSupported, fmt.Errorf("the ioctl is blocked here (%v), e.g. by a seccomp filter", why))
	case probeOverride == "0":
		return withDetail(ErrNotSupported, errors.New("forced off by PROCMAPQ_FORCE_PROBE=0"))
	}
	return ErrNotSupported
}

// probeFD tells whether fd answers PROCMAP_QUERY: ENOTTY means no; success,
// ENOENT or ESRCH mean yes; anything else is inconclusive. EPERM, EACCES
// and ENOSYS also mean no: the kernel never returns them for this ioctl on
// our own maps file, so they come from a sandbox (seccomp, LSM) that will
// refuse every later call as well; the text backend must answer instead.
func probeFD(fd int) (works bool, why syscall.Errno, err error) {
	q := procmapQuery{Size: procmapQuerySize, QueryFlags: pmqCoveringOrNext}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), procmapQueryRequest, uintptr(unsafe.Pointer(&q)))
	switch e {
	case 0, syscall.ENOENT, syscall.ESRCH:
		return true, 0, nil
	case syscall.ENOTTY, syscall.EPERM, syscall.EACCES, syscall.ENOSYS:
		return false, e, nil
	}
	return false, 0, &Error{Op: "probe", Pid: -1, Err: classifyErrno(e)}
}
