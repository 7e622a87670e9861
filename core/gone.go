package core

import (
	"bytes"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// When a pid handle's maps file answers ESRCH or reads empty, the process
// may be gone (exited, exec'd, a zombie), may never have had an address
// space (a kernel thread), or may live on without its thread-group leader:
// the leader exited while other threads run, and /proc/PID/maps, which is
// the leader's view, is empty although the mappings are all there. The
// code below tells these apart, so that errors say which, and follows the
// last case to a live thread's view (/proc/PID/task/TID/maps), as profilers
// that meet such processes do (see docs/kernel-quirks.md).

// goneError is the error for a handle whose target has gone, saying how.
func (h *Handle) goneError(op string) error {
	return &Error{Op: op, Pid: h.pid, Err: h.goneCause()}
}

// goneErrorAt is goneError for an ioctl at addr.
func (h *Handle) goneErrorAt(op string, addr uint64) error {
	return &Error{Op: op, Pid: h.pid, Addr: addr, HasAddr: true, Err: h.goneCause()}
}

func (h *Handle) goneCause() error {
	if h.goneWhy == "" {
		h.goneWhy = h.classifyGone()
	}
	return &errnoError{sentinel: ErrProcessGone, errno: syscall.ESRCH, detail: h.goneWhy}
}

// classifyGone says why the handle's process shows no address space.
func (h *Handle) classifyGone() string {
	if h.kind != kindPid {
		return "the process exited or exec'd since the maps file was opened"
	}
	if !h.sameProcessAlive() {
		return "the process exited"
	}
	state, flags, ok := h.procStat()
	switch {
	case !ok:
		return "the process exited"
	case flags&pfKthread != 0:
		return "a kernel thread: it has no address space"
	case state == 'Z' || state == 'X':
		return "a zombie: it exited and its parent has not reaped it yet"
	}
	return "the process exec'd since open (Reopen follows the new image)"
}

// pfKthread is PF_KTHREAD, the kernel-thread bit of /proc/PID/stat's flags.
const pfKthread = 0x00200000

// procStat reads the state letter and flags of /proc/PID/stat.
func (h *Handle) procStat() (state byte, flags uint64, ok bool) {
	var buf [1024]byte
	b, ok := readSmallFile(h.procRoot+"/"+strconv.Itoa(h.pid)+"/stat", buf[:])
	if !ok {
		return 0, 0, false
	}
	// "pid (comm) S ppid pgrp session tty tpgid flags ...": comm may hold
	// anything, so fields are counted after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 7 || len(f[0]) != 1 {
		return 0, 0, false
	}
	flags, err := strconv.ParseUint(string(f[6]), 10, 64)
	return f[0][0], flags, err == nil
}

// sameProcessAlive says whether the process the handle's maps file was
// opened for still exists (a zombie leader counts): reopening the file
// through /proc/self/fd fails with ESRCH once that process is reaped,
// whoever has its pid now (docs/kernel-quirks.md).
func (h *Handle) sameProcessAlive() bool {
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(h.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// adoptLiveThread switches a gone pid handle to the maps file of a live
// thread of the same process, when its leader exited and other threads
// run. It reports whether it did; the caller answers again.
func (h *Handle) adoptLiveThread() bool {
	if h.kind != kindPid || h.fd < 0 || h.adoptTried {
		return false
	}
	h.adoptTried = true // once per gone mm: Reopen and adoption clear it
	if !h.sameProcessAlive() {
		return false
	}
	dir := h.procRoot + "/" + strconv.Itoa(h.pid) + "/task"
	tids, ok := dirNames(dir)
	if !ok {
		return false
	}
	for _, tid := range tids {
		if tid == strconv.Itoa(h.pid) {
			continue // the leader: its view is the empty one
		}
		fd, err := unix.Open(dir+"/"+tid+"/maps", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var one [1]byte
		n, err := unix.Pread(fd, one[:], 0)
		// The thread's view is the process's mappings, and the leader (so
		// the process, and so this thread's membership) is still the one
		// the handle was opened for.
		if err != nil || n == 0 || !h.sameProcessAlive() {
			unix.Close(fd)
			continue
		}
		unix.Close(h.fd)
		h.fd, h.gone, h.goneWhy, h.ioctlState, h.adoptTried = fd, false, "", 0, false
		return true
	}
	return false
}

// ioctlFailed is the one place an errno from PROCMAP_QUERY is turned into
// what it says about the handle (ESRCH: the mm is gone; ENOTTY: this fd
// does not answer the ioctl) and into the error of op at addr.
func (h *Handle) ioctlFailed(op string, addr uint64, en syscall.Errno) error {
	switch en {
	case syscall.ESRCH:
		h.gone = true
		return h.goneErrorAt(op, addr)
	case syscall.ENOTTY:
		h.ioctlState = -1
	}
	return &Error{Op: op, Pid: h.pid, Addr: addr, HasAddr: true, Err: classifyErrno(en)}
}

// The files here are read with plain system calls, not package os: the
// first os.Open in a process starts the Go runtime's poller, which keeps an
// epoll descriptor and an eventfd open for the life of the process, and a
// library must not leave descriptors its host did not ask for.

// readSmallFile reads up to len(buf) bytes of path.
func readSmallFile(path string, buf []byte) ([]byte, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil || n <= 0 {
		return nil, false
	}
	return buf[:n], true
}

// dirNames lists the names in directory dir.
func dirNames(dir string) ([]string, bool) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return nil, false
		}
		if n <= 0 {
			return names, true
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
