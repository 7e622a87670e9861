package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The target's special mappings give exactly the expected differences the
// kernel documents, and no real mismatch.
func TestDiffOnePid(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	r := runTool(t, "diff", "-p", pidArg(tg.Pid))
	r.wantCode(t, 0, "diff -p")
	kernel := kernelMaps(t, tg.Pid)
	// Expected, from this test's reading of the maps file: [vsyscall] if
	// shown, the PATH_MAX path, and the file really named back\012slash.
	var want []string
	for _, l := range kernel {
		switch {
		case l.name == "[vsyscall]":
			want = append(want, "gate-vma "+strings.TrimLeft(l.rangeText, "0"))
		case l.longName():
			want = append(want, "name-too-long "+strings.TrimLeft(l.rangeText, "0"))
		}
	}
	back, _ := tg.Mapping("backslash012")
	want = append(want, "name-escaping "+strconv.FormatUint(back.Start, 16)+"-"+strconv.FormatUint(back.End, 16))
	for _, w := range want {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(w) + `\b`).MatchString(r.stdout) {
			t.Errorf("diff -p: no expected difference %q in:\n%s", w, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "expected differences: "+strconv.Itoa(len(want))+"\n") ||
		!strings.Contains(r.stdout, "real mismatches: 0\n") {
		t.Errorf("diff -p: want %d expected differences and 0 mismatches:\n%s", len(want), r.stdout)
	}
}

// Every readable process on this machine: no real mismatch.
func TestDiffAll(t *testing.T) {
	t.Parallel()
	startTarget(t) // at least one process with every special mapping
	r := runTool(t, "diff", "--all")
	r.wantCode(t, 0, "diff --all")
	m := regexp.MustCompile(`(?m)^compared (\d+) processes`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] == "0" {
		t.Errorf("diff --all compared no process:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "real mismatches: 0 in 0 processes\n") {
		t.Errorf("diff --all: want 0 real mismatches:\n%s", r.stdout)
	}
	kthreadd, _ := os.ReadFile("/proc/2/comm")
	if string(kthreadd) == "kthreadd\n" && !regexp.MustCompile(`(?m)^skipped: [1-9]\d* kernel threads`).MatchString(r.stdout) {
		t.Errorf("diff --all: kernel threads not counted as skipped:\n%s", r.stdout)
	}
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("diff --all: progress written to a stderr that is not a terminal: %q", r.stderr)
	}
}
