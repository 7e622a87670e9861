// Package stress is the reliability suite of libprocmapq (issue 9): targets
// whose mappings change under the queries, faults (killed, exec'ing and
// unreadable targets, kernels without PROCMAP_QUERY simulated with
// seccomp), hostile input and fuzzing. Every test here also runs in plain
// `go test ./...`, bounded; PROCMAPQ_STRESS=1 selects the long mode.
package stress

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv names the helper a re-executed test binary runs instead of the
// tests (see runHelper): the seccomp wrapper execs this same binary.
const helperEnv = "PROCMAPQ_STRESS_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name))
	}
	code := m.Run()
	cBuild.mu.Lock()
	if cBuild.dir != "" {
		os.RemoveAll(cBuild.dir)
	}
	cBuild.mu.Unlock()
	if libBuild.dir != "" {
		os.RemoveAll(libBuild.dir)
	}
	os.Exit(code)
}

// longMode reports whether PROCMAPQ_STRESS=1 asks for the long runs.
func longMode() bool { return os.Getenv("PROCMAPQ_STRESS") == "1" }

// durationFor returns the run time of a churn test: short by default, long
// in stress mode; PROCMAPQ_STRESS_SECONDS overrides both.
func durationFor(short, long time.Duration) time.Duration {
	if s := os.Getenv("PROCMAPQ_STRESS_SECONDS"); s != "" {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n > 0 {
			return time.Duration(n * float64(time.Second))
		}
	}
	if longMode() {
		return long
	}
	return short
}

// stressDir is this package's source directory (tests/stress).
func stressDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// repoRoot is the repository's top directory.
func repoRoot() string { return filepath.Join(stressDir(), "..", "..") }

var cBuild struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

// cProgram compiles tests/stress/c/<name>.c once per test process (with
// extra gcc arguments) and returns the binary's path. The binaries live in
// a directory every user may read, so unprivileged helpers can run them.
func cProgram(tb testing.TB, name string, extra ...string) string {
	tb.Helper()
	cBuild.mu.Lock()
	defer cBuild.mu.Unlock()
	if p, ok := cBuild.bins[name]; ok {
		return p
	}
	if cBuild.dir == "" {
		dir, err := os.MkdirTemp("", "procmapq-stress-bin-")
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		cBuild.dir, cBuild.bins = dir, map[string]string{}
	}
	out := filepath.Join(cBuild.dir, name)
	args := append([]string{"-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", out,
		filepath.Join(stressDir(), "c", name+".c")}, extra...)
	if msg, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		tb.Fatalf("building %s.c: %v\n%s", name, err, msg)
	}
	cBuild.bins[name] = out
	return out
}

// openFDs counts this process's open file descriptors.
func openFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents) - 1 // the directory's own fd
}

// fdsSettle waits for the fd count to come back to want (the Go runtime
// and exec.Cmd close pipes asynchronously) and returns the count. It
// returns as soon as the count matches; the deadline only bounds a real
// leak, generously, since a loaded machine can delay those goroutines.
func fdsSettle(tb testing.TB, want int) int {
	tb.Helper()
	n := openFDs(tb)
	for deadline := time.Now().Add(20 * time.Second); n != want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		n = openFDs(tb)
	}
	return n
}

// helpers run in a re-executed copy of the test binary.
var helpers = map[string]func() error{
	"no-procmapq": helperNoProcmapQuery,
	"open-denied": helperOpenDenied,
}

func runHelper(name string) int {
	f, ok := helpers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		return 2
	}
	if err := f(); err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
		return 1
	}
	fmt.Println("helper ok")
	return 0
}

// fields splits a line of a C program's report.
func fields(line string) []string { return strings.Fields(line) }
