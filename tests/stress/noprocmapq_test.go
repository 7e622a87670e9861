package stress

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/libprocmapq/libprocmapq/core"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// sandboxErrnos are the errnos the seccomp wrapper can make PROCMAP_QUERY
// fail with: a kernel before 6.11 (ENOTTY) and hostile sandboxes.
var sandboxErrnos = map[string]syscall.Errno{"ENOTTY": syscall.ENOTTY, "EPERM": syscall.EPERM, "ENOSYS": syscall.ENOSYS}

// expectErrnoEnv tells the helper which errno the wrapper installed.
const expectErrnoEnv = "PROCMAPQ_STRESS_EXPECT_ERRNO"

// runSandboxed runs PROGRAM ARGS under tests/stress/c/noprocmapq with
// errno and returns the combined output; a failure fails the test.
func runSandboxed(t *testing.T, errno string, env []string, dir string, program string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cProgram(t, "noprocmapq"), append([]string{errno, program}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s under seccomp %s: %v\n%s", filepath.Base(program), errno, err, out)
	}
	return string(out)
}

// TestNoProcmapQuery runs, for each errno, this package's own checks and
// core's differential tests in a process whose PROCMAP_QUERY ioctl a
// seccomp filter makes fail: auto must fall back to text and give the same
// answers; a forced ioctl backend must fail with a clear error.
func TestNoProcmapQuery(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	coreTest := filepath.Join(t.TempDir(), "core.test")
	build := exec.Command("go", "test", "-c", "-o", coreTest, "./core")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building core tests: %v\n%s", err, out)
	}
	for name := range sandboxErrnos {
		t.Run(name, func(t *testing.T) {
			out := runSandboxed(t, name, []string{helperEnv + "=no-procmapq", expectErrnoEnv + "=" + name}, "", self)
			t.Log(strings.TrimSpace(out))
			// core's differential tests (text vs auto, fallback, compare);
			// the normalization tests belong to their engineer's suite.
			out = runSandboxed(t, name, nil, filepath.Join(repoRoot(), "core"), coreTest,
				"-test.count=1", "-test.run", "TestLive|TestCompare|TestFallback|TestQuery|TestPlanner|TestTarget|TestOpen", "-test.v")
			passed := strings.Count(out, "--- PASS")
			skipped := strings.Count(out, "--- SKIP")
			t.Logf("core differential tests under seccomp %s: %d passed, %d skipped", name, passed, skipped)
			fmt.Fprintf(os.Stderr, "FIGURE noprocmapq-%s: core_tests_passed=%d skipped=%d\n", name, passed, skipped)
			if passed == 0 {
				t.Fatalf("no core test ran:\n%s", out)
			}
		})
	}
}

// helperNoProcmapQuery runs inside the seccomp wrapper.
func helperNoProcmapQuery() error {
	want := sandboxErrnos[os.Getenv(expectErrnoEnv)]
	// The filter really is there: a raw ioctl on our own maps fails so.
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return err
	}
	var q [104]byte
	*(*uint64)(unsafe.Pointer(&q[0])) = 104
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), 0xC0686611, uintptr(unsafe.Pointer(&q[0])))
	f.Close()
	if e != want {
		return fmt.Errorf("raw PROCMAP_QUERY gave %v, want %v: the seccomp filter is not in place", e, want)
	}
	ok, err := core.SupportsProcmapQuery()
	if ok || err != nil {
		return fmt.Errorf("SupportsProcmapQuery() = %v, %v under seccomp %v; want false, nil", ok, err, want)
	}
	tg, err := testtarget.StartProcess(testtarget.Options{VMAs: 200, Modules: 3, Specials: true})
	if err != nil {
		return err
	}
	defer tg.Stop()
	h, err := core.Open(tg.Pid)
	if err != nil {
		return err
	}
	defer h.Close()

	// Auto enumerates by text and agrees with the maps file line for line.
	var res core.Result
	if err := h.Enumerate(nil, &res); err != nil {
		return fmt.Errorf("auto enumerate: %w", err)
	}
	if res.Strategy != core.StrategyText {
		return fmt.Errorf("auto enumerate used %v", res.Strategy)
	}
	text, err := os.ReadFile("/proc/" + strconv.Itoa(tg.Pid) + "/maps")
	if err != nil {
		return err
	}
	var rendered []byte
	for i := range res.VMAs {
		rendered = res.VMAs[i].AppendMapsLine(rendered)
	}
	if !bytes.Equal(rendered, text) {
		return fmt.Errorf("auto enumeration differs from /proc/%d/maps", tg.Pid)
	}

	// Auto queries every mapping the target made, through the text.
	addrs := []uint64{0, 1 << 46}
	for _, m := range tg.Mappings {
		addrs = append(addrs, m.Start, m.End-1)
	}
	var text2 core.Result
	if err := h.Query(addrs, nil, &res); err != nil {
		return fmt.Errorf("auto query: %w", err)
	}
	if err := h.Query(addrs, &core.Options{Backend: core.BackendText}, &text2); err != nil {
		return fmt.Errorf("text query: %w", err)
	}
	if res.Strategy != core.StrategyText {
		return fmt.Errorf("auto query used %v", res.Strategy)
	}
	for i, a := range addrs {
		va, ra := res.Found(i)
		vt, rt := text2.Found(i)
		if ra != rt || (va != nil && (va.Start != vt.Start || va.End != vt.End || !bytes.Equal(va.Name, vt.Name))) {
			return fmt.Errorf("addr %#x: auto %v %v, text %v %v", a, ra, va, rt, vt)
		}
	}
	for i, m := range tg.Mappings {
		if _, r := res.Found(2 + 2*i); r != core.ReasonFound {
			return fmt.Errorf("mapping %s at %#x: %v", m.Label, m.Start, r)
		}
	}

	// A forced ioctl backend and Compare fail clearly, naming the pid.
	pidText := "pid " + strconv.Itoa(tg.Pid)
	errs := map[string]error{
		"ioctl query":     h.Query(addrs, &core.Options{Backend: core.BackendIoctl}, &res),
		"ioctl enumerate": h.Enumerate(&core.Options{Backend: core.BackendIoctl}, &res),
	}
	_, errs["compare"] = h.Compare(nil)
	for what, err := range errs {
		if !errors.Is(err, core.ErrNotSupported) || !strings.Contains(err.Error(), pidText) {
			return fmt.Errorf("%s under seccomp %v: got %v, want ErrNotSupported naming %s", what, want, err, pidText)
		}
		fmt.Printf("%s: %v\n", what, err)
	}
	return nil
}
