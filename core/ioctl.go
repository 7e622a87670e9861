package core

import (
	"fmt"
	"os"
	"runtime"
	"structs"
	"sync"
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
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), procmapQueryRequest, uintptr(unsafe.Pointer(q)))
	runtime.KeepAlive(b)
	if e == syscall.ENAMETOOLONG {
		// The name buffer is PATH_MAX, so the path itself is >= PATH_MAX:
		// only the text file has it. Ask again without a name.
		q.Size, q.QueryFlags, q.QueryAddr = procmapQuerySize, flags, addr
		q.NameSize, q.NameAddr = 0, nil
		if wantBuildID {
			q.BuildIDSz = buildIDMax
		}
		_, _, e = unix.Syscall(unix.SYS_IOCTL, uintptr(fd), procmapQueryRequest, uintptr(unsafe.Pointer(q)))
		runtime.KeepAlive(b)
		if e == 0 {
			q.NameSize = ^uint32(0) // marks "name unavailable" for fill
		}
	}
	return e
}

// fill converts the kernel's answer into v, appending name and build ID to
// arena. It returns the grown arena.
func (b *ioctlBuffers) fill(v *VMA, arena []byte) []byte {
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
		n := int(q.NameSize) - 1 // without the NUL
		off := len(arena)
		arena = append(arena, b.name[:n]...)
		v.Name = arena[off : off+n : off+n]
		v.Kind, v.Flags = kindOf(v.Name)
	}
	if q.BuildIDSz > 0 && q.BuildIDSz <= buildIDMax {
		off := len(arena)
		arena = append(arena, b.buildID[:q.BuildIDSz]...)
		v.BuildID = arena[off : off+int(q.BuildIDSz) : off+int(q.BuildIDSz)]
	}
	return arena
}

// probeState caches the process-wide PROCMAP_QUERY probe. Only a conclusive
// answer is cached; a probe that could not run is retried next time.
var probeState struct {
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
	probeState.mu.Lock()
	defer probeState.mu.Unlock()
	if probeState.done {
		return probeState.supported, nil
	}
	switch probeOverride {
	case "0", "1":
		probeState.done, probeState.supported = true, probeOverride == "1"
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
	return ok, nil
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
		return fmt.Errorf("%w: the ioctl is blocked here (%v), e.g. by a seccomp filter", ErrNotSupported, why)
	case probeOverride == "0":
		return fmt.Errorf("%w: forced off by PROCMAPQ_FORCE_PROBE=0", ErrNotSupported)
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
