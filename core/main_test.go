package core

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// helperEnv names the helper a re-executed test binary runs instead of the
// tests (see runHelper): some checks need another process, with other
// credentials or with the probe forced from the start.
const helperEnv = "PROCMAPQ_TEST_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name))
	}
	code := m.Run()
	if helperBin.dir != "" {
		os.RemoveAll(helperBin.dir)
	}
	os.Exit(code)
}

// probeForced reports whether this test process runs with the probe forced
// off, i.e. as if the kernel were older than 6.11.
func probeForced() bool { return os.Getenv("PROCMAPQ_FORCE_PROBE") == "0" }

// haveIoctl reports whether this test process may use PROCMAP_QUERY; it
// fails the test when the ioctl is missing but required
// (PROCMAPQ_REQUIRE_IOCTL=1, see testtarget.CheckIoctl).
func haveIoctl(tb testing.TB) bool {
	tb.Helper()
	ok, err := SupportsProcmapQuery()
	return testtarget.CheckIoctl(tb, ok, err)
}

// requireIoctl skips a test about the ioctl itself when the kernel lacks it
// (the planner then always reads the text, which other tests cover), or
// fails it when the ioctl is required.
func requireIoctl(tb testing.TB) {
	tb.Helper()
	ok, err := SupportsProcmapQuery()
	testtarget.SkipWithoutIoctl(tb, ok, err)
}

// helperHaveIoctl is haveIoctl for helpers (no testing.TB): an error when
// the ioctl is missing but required.
func helperHaveIoctl() (bool, error) {
	ok, err := SupportsProcmapQuery()
	if err != nil {
		return false, err
	}
	if !ok && testtarget.IoctlRequired() {
		return false, fmt.Errorf("PROCMAP_QUERY unavailable, but %s=1", testtarget.RequireIoctlEnv)
	}
	return ok, nil
}

var specialTarget struct {
	once sync.Once
	t    *testtarget.Target
	err  error
}

// startSpecialTarget returns a target with every special mapping, a few
// modules and VMAs. It is shared by the tests of this process (it never
// changes) and stopped when the process ends.
func startSpecialTarget(tb testing.TB) *testtarget.Target {
	tb.Helper()
	specialTarget.once.Do(func() {
		specialTarget.t, specialTarget.err = testtarget.StartProcess(testtarget.Options{VMAs: 50, Modules: 3, Specials: true})
	})
	if specialTarget.err != nil {
		tb.Fatal(specialTarget.err)
	}
	return specialTarget.t
}

// mustOpen opens a handle on pid, closed when the test ends.
func mustOpen(tb testing.TB, pid int) *Handle {
	tb.Helper()
	h, err := Open(pid)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// mapping returns the target's mapping with that label or fails.
func mapping(tb testing.TB, tg *testtarget.Target, label string) testtarget.Mapping {
	tb.Helper()
	m, ok := tg.Mapping(label)
	if !ok {
		tb.Fatalf("target made no %q mapping", label)
	}
	return m
}

var helperBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// helperBinary returns a copy of this test binary that any user may run
// (the go build directory is private to root).
func helperBinary(tb testing.TB) string {
	tb.Helper()
	helperBin.once.Do(func() {
		self, err := os.Executable()
		if err != nil {
			helperBin.err = err
			return
		}
		dir, err := os.MkdirTemp("", "procmapq-core-test-")
		if err != nil {
			helperBin.err = err
			return
		}
		helperBin.dir = dir
		if err = os.Chmod(dir, 0o755); err != nil {
			helperBin.err = err
			return
		}
		in, err := os.Open(self)
		if err != nil {
			helperBin.err = err
			return
		}
		defer in.Close()
		helperBin.path = filepath.Join(dir, "core.test")
		out, err := os.OpenFile(helperBin.path, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			helperBin.err = err
			return
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		helperBin.err = err
	})
	if helperBin.err != nil {
		tb.Fatal(helperBin.err)
	}
	return helperBin.path
}

// nobody is the unprivileged user helpers run as.
const nobody = 65534

// helperRun describes one helper process.
type helperRun struct {
	name  string              // helper to run (see runHelper)
	env   []string            // extra environment, "K=V"
	cred  *syscall.Credential // nil: same user as the test
	caps  []uintptr           // ambient capabilities to keep
	files []*os.File          // become fds 3, 4, ...
	args  []string            // extra arguments for the test binary
	// unshareMounts runs the helper in a new (private) mount namespace.
	unshareMounts bool
}

// run starts the helper and returns its combined output; a non-zero exit
// fails the test with that output.
func (r helperRun) run(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(helperBinary(tb), r.args...)
	if r.name != "" {
		cmd.Env = append(cmd.Env, helperEnv+"="+r.name)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, helperEnv+"=") && !strings.HasPrefix(kv, "PROCMAPQ_FORCE_PROBE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, r.env...)
	cmd.ExtraFiles = r.files
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred, AmbientCaps: r.caps, Pdeathsig: syscall.SIGKILL}
	if r.unshareMounts {
		cmd.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tb.Fatalf("helper %s: %v\n%s", r.name, err, out.String())
	}
	return out.String()
}

// helpers run in a child test binary; each returns an error to fail it.
var helpers = map[string]func() error{
	"open-unprivileged":    helperOpenUnprivileged,
	"fd-passed":            helperFDPassed,
	"open-with-ptrace-cap": helperOpenWithPtraceCap,
	"proc-root":            helperProcRoot,
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

// TestCoreBuildsWithoutCgo: core is pure Go (CGO_ENABLED=0 builds it).
func TestCoreBuildsWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		t.Skipf("no go tool: %v", err)
	}
	cmd := exec.Command(goTool, "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
}
