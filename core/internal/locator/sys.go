package locator

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw system calls on NUL-terminated paths kept in Scratch: the x/sys
// wrappers would copy each path into a new string.

// statxPath stats the NUL-terminated path (following symlinks, as the
// map_files and root links need).
func statxPath(path []byte, st *unix.Statx_t) syscall.Errno {
	_, _, en := unix.Syscall6(unix.SYS_STATX, atFDCWD, uintptr(unsafe.Pointer(&path[0])),
		uintptr(unix.AT_STATX_SYNC_AS_STAT), uintptr(unix.STATX_BASIC_STATS), uintptr(unsafe.Pointer(st)), 0)
	return en
}

// emptyPath is "" for AT_EMPTY_PATH (a global: a local would escape).
var emptyPath = [1]byte{}

func statxFD(fd int, st *unix.Statx_t) syscall.Errno {
	_, _, en := unix.Syscall6(unix.SYS_STATX, uintptr(fd), uintptr(unsafe.Pointer(&emptyPath[0])),
		uintptr(unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT), uintptr(unix.STATX_BASIC_STATS), uintptr(unsafe.Pointer(st)), 0)
	return en
}

// openPath opens the NUL-terminated path with flags (plus O_CLOEXEC).
func openPath(path []byte, flags int) (int, syscall.Errno) {
	for {
		fd, _, en := unix.Syscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&path[0])),
			uintptr(flags|unix.O_CLOEXEC), 0, 0, 0)
		if en == syscall.EINTR {
			continue
		}
		return int(fd), en
	}
}

// atFDCWD is AT_FDCWD (-100) as a syscall argument.
const atFDCWD = ^uintptr(-unix.AT_FDCWD - 1)

// fdReader reads a descriptor at absolute offsets (pread).
type fdReader struct{ fd int }

func (r *fdReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(r.fd, p, off)
	if n < 0 {
		n = 0
	}
	return n, err
}

// memReader reads the target's memory through /proc/<pid>/mem from base.
type memReader struct {
	fd   int
	base uint64
}

func (r *memReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(r.fd, p, int64(r.base+uint64(off)))
	if n < 0 {
		n = 0
	}
	return n, err
}
