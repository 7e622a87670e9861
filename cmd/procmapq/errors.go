package main

import (
	"errors"
	"fmt"

	"github.com/libprocmapq/libprocmapq/core"
)

// describe turns an error from core into one line for people: the pid, what
// went wrong and, where there is one, what to do about it.
func describe(err error) string {
	var ce *core.Error
	if !errors.As(err, &ce) {
		return err.Error()
	}
	who := "pid ?"
	if ce.Pid >= 0 {
		who = fmt.Sprintf("pid %d", ce.Pid)
	}
	switch {
	case errors.Is(err, core.ErrNoProcess):
		return who + ": no such process"
	case errors.Is(err, core.ErrPermission):
		path := ce.Path
		if path == "" {
			path = "its maps"
		}
		return fmt.Sprintf("%s: permission denied reading %s (another user's mappings need root or CAP_SYS_PTRACE)", who, path)
	case errors.Is(err, core.ErrNotSupported):
		// core's text says why: an old kernel, a sandbox blocking the
		// ioctl, or PROCMAPQ_FORCE_PROBE=0.
		return who + ": " + ce.Err.Error() + "; use --backend auto or --backend text"
	case errors.Is(err, core.ErrProcessGone):
		return who + ": the process has no mappings to read: it exited or exec'd (zombies and kernel threads have none)"
	case errors.Is(err, core.ErrPidReused):
		return who + ": the process is gone and its pid was reused"
	}
	msg := who + ": " + ce.Op
	if ce.Path != "" {
		msg += " " + ce.Path
	}
	if ce.HasAddr {
		msg += fmt.Sprintf(" at %#x", ce.Addr)
	}
	return msg + ": " + ce.Err.Error()
}

const notSupportedMsg = "this kernel has no PROCMAP_QUERY ioctl (needs Linux 6.11 or later)"
