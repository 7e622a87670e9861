package main

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/libprocmapq/libprocmapq/core"
)

// TestPanicMessageOneLine checks that a recovered bug becomes
// -ENOTRECOVERABLE with a one-line message naming where it happened, not a
// Go stack trace (procmapq_last_error() is one line).
func TestPanicMessageOneLine(t *testing.T) {
	var err error
	func() {
		defer func() { err = panicError("query", recover()) }()
		var s []int
		_ = s[len(t.Name())] // index out of range
	}()
	msg := err.Error()
	t.Log(msg)
	if core.Errno(err) != syscall.ENOTRECOVERABLE || !errors.Is(err, syscall.ENOTRECOVERABLE) {
		t.Errorf("errno %v, want ENOTRECOVERABLE", core.Errno(err))
	}
	if strings.ContainsAny(msg, "\r\n") || strings.Contains(msg, "goroutine ") {
		t.Errorf("message is not one line: %q", msg)
	}
	for _, w := range []string{"procmapq_query: internal error (please report)", "index out of range", "panic_test.go:"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
	func() {
		defer func() { err = panicError("open", recover()) }()
		panic("two\nlines")
	}()
	if msg := err.Error(); strings.ContainsAny(msg, "\r\n") {
		t.Errorf("panic value's newline kept: %q", msg)
	}
}
