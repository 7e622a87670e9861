package main

import (
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The target's special mappings give exactly the expected differences the
// kernel documents, and no real mismatch.
func TestDiffOnePid(t *testing.T) {
	t.Parallel()
	requireIoctl(t)
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
	requireIoctl(t)
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

// openPty returns the two ends of a new pseudo-terminal.
func openPty(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pty number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pty: %v", err)
	}
	return master, tty
}

// On a terminal, diff --all shows progress on stderr and clears it.
func TestDiffAllProgressOnTerminal(t *testing.T) {
	t.Parallel()
	requireIoctl(t)
	master, tty := openPty(t)
	cmd := exec.Command(toolPath, "diff", "--all")
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	seen := make(chan string)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once the tool has exited
		seen <- string(b)
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("diff --all on a terminal: %v\n%s", err, stdout.String())
	}
	progress := <-seen
	if !regexp.MustCompile(`diff --all: \d+/\d+ processes, pid \d+`).MatchString(progress) ||
		!strings.HasSuffix(progress, "\r\x1b[K") {
		t.Errorf("no progress, or progress not cleared, on the terminal: %q", shorten(progress))
	}
	if strings.Contains(stdout.String(), "\r") {
		t.Errorf("progress on stdout: %q", stdout.String())
	}
}
