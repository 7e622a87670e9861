package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// panicSite names, on one line, where a recovered panic was raised: the
// first frame below runtime.gopanic that is not the runtime's own
// (" at core.(*Handle).Query (query.go:341)"), or "" if none is found. It
// must be called from the deferred function that recovered, while the
// panicking frames are still on the stack. The message it goes into is
// procmapq_last_error()'s, which is one line: a full stack trace does not
// belong there, and the library writes nothing to the host's stderr
// (docs/cshared-hazards.md, "Panics and os.Exit").
func panicSite() string {
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs[:])])
	below := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			below = true
		case below && !strings.HasPrefix(f.Function, "runtime."):
			fn := f.Function
			if i := strings.LastIndex(fn, "/"); i >= 0 {
				fn = fn[i+1:]
			}
			return fmt.Sprintf(" at %s (%s:%d)", fn, filepath.Base(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}

// oneLine keeps a panic value's text on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
