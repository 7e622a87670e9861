package core

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Sentinel errors. Errors returned by this package wrap one of these (test
// with errors.Is) and, where it applies, the underlying syscall.Errno.
var (
	// ErrNotSupported: the kernel lacks PROCMAP_QUERY (Linux 6.11 or later
	// is needed) and the caller forced the ioctl backend, or asked for an
	// operation that only the ioctl can do.
	ErrNotSupported = errors.New("PROCMAP_QUERY not supported (needs Linux 6.11 or later)")
	// ErrProcessGone: the target exited or exec'd since the handle was
	// opened. The handle stays usable only after [Handle.Reopen].
	ErrProcessGone = errors.New("process gone or exec'd since open")
	// ErrPermission: the caller may not read the target's maps.
	ErrPermission = errors.New("permission denied")
	// ErrNoProcess: no process with that pid exists.
	ErrNoProcess = errors.New("no such process")
	// ErrInvalidArgument: a malformed argument, option or snapshot.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrClosed: the handle was closed.
	ErrClosed = errors.New("handle closed")
	// ErrPidReused: Reopen found another process under the handle's pid.
	ErrPidReused = errors.New("pid reused by another process")
	// ErrNotSettled: Compare saw the maps change on every attempt.
	ErrNotSettled = errors.New("maps kept changing")
)

// Error is the error type returned by this package: an operation, its
// target and the cause. Err wraps a sentinel above and, for system errors,
// the syscall.Errno (so errors.Is(err, syscall.ESRCH) also works).
type Error struct {
	Op   string // "open", "query", "enumerate", ...
	Pid  int    // target pid, -1 when unknown (fd or text handles)
	Addr uint64 // address involved, when HasAddr
	// HasAddr says Addr is meaningful.
	HasAddr bool
	Path    string // file involved, if any
	Err     error
}

func (e *Error) Error() string {
	if e == nil {
		return "procmapq: <nil>"
	}
	s := "procmapq: " + e.Op
	if e.Pid >= 0 {
		s += fmt.Sprintf(" pid %d", e.Pid)
	}
	if e.Path != "" {
		s += " " + e.Path
	}
	if e.HasAddr {
		s += fmt.Sprintf(" addr %#x", e.Addr)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return oneLine(s)
}

func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// errnoError pairs a sentinel with the errno that caused it so that both
// errors.Is(err, ErrX) and errors.Is(err, syscall.EX) hold.
type errnoError struct {
	sentinel error
	errno    syscall.Errno
	detail   string // what happened, when more is known than the sentinel says
}

func (e *errnoError) Error() string {
	switch {
	case e.detail != "":
		return e.detail
	case e.sentinel == nil:
		return e.errno.Error()
	case e.sentinel == ErrNoProcess && e.errno == syscall.ESRCH:
		return e.sentinel.Error() // not "no such process (no such process)"
	}
	return e.sentinel.Error() + " (" + e.errno.Error() + ")"
}

func (e *errnoError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.errno}
	}
	return []error{e.sentinel, e.errno}
}

// withDetail is the one way this package says more than a sentinel: the
// message is "sentinel: detail" on one line, errors.Is(err, sentinel) holds
// and errors.As reaches the detail (a *lineError, a syscall.Errno, ...).
// Messages reach procmapq_last_error(), which promises one line, so use
// this rather than errors.Join (which joins with a newline).
func withDetail(sentinel, detail error) error {
	return &detailError{sentinel: sentinel, detail: detail}
}

// invalidf is withDetail for ErrInvalidArgument with a formatted detail.
func invalidf(format string, args ...any) error {
	return withDetail(ErrInvalidArgument, fmt.Errorf(format, args...))
}

type detailError struct {
	sentinel, detail error
}

func (e *detailError) Error() string {
	return oneLine(e.sentinel.Error() + ": " + e.detail.Error())
}

func (e *detailError) Unwrap() []error { return []error{e.sentinel, e.detail} }

// oneLine escapes the line breaks a path or a name may carry, so that a
// message stays one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

// classifyErrno maps an errno from open/read/ioctl to a sentinel.
func classifyErrno(errno syscall.Errno) error {
	var s error
	switch errno {
	case syscall.ESRCH:
		s = ErrProcessGone
	case syscall.ENOTTY:
		s = ErrNotSupported
	case syscall.EACCES, syscall.EPERM:
		s = ErrPermission
	case syscall.EINVAL, syscall.E2BIG:
		s = ErrInvalidArgument
	}
	return &errnoError{sentinel: s, errno: errno}
}

// Errno returns the errno that best describes err, for C callers: the
// wrapped syscall.Errno if any, else one derived from the sentinel, else
// EIO.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	switch {
	case errors.Is(err, ErrProcessGone):
		return syscall.ESRCH
	case errors.Is(err, ErrNotSupported):
		return syscall.ENOTTY
	case errors.Is(err, ErrPermission):
		return syscall.EACCES
	case errors.Is(err, ErrNoProcess):
		return syscall.ESRCH
	case errors.Is(err, ErrInvalidArgument):
		return syscall.EINVAL
	case errors.Is(err, ErrClosed):
		return syscall.EBADF
	case errors.Is(err, ErrPidReused):
		return syscall.ESRCH
	case errors.Is(err, ErrNotSettled):
		return syscall.EAGAIN
	}
	return syscall.EIO
}
