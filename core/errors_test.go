package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
	"golang.org/x/sys/unix"
)

// liveBackends are the backends this process can use.
func liveBackends(tb testing.TB) []Backend {
	if haveIoctl(tb) {
		return []Backend{BackendAuto, BackendIoctl, BackendText}
	}
	return []Backend{BackendAuto, BackendText}
}

func wantGone(tb testing.TB, what string, err error) {
	tb.Helper()
	if !errors.Is(err, ErrProcessGone) || !errors.Is(err, syscall.ESRCH) || Errno(err) != syscall.ESRCH {
		tb.Errorf("%s: %v (errno %v), want ErrProcessGone / ESRCH", what, err, Errno(err))
	}
}

// checkGone checks that every backend reports the target gone, with every
// address of the batch marked process-gone.
func checkGone(t *testing.T, handles map[Backend]*Handle, addrs []uint64, why ...string) {
	for b, h := range handles {
		var res Result
		err := h.Query(addrs, &Options{Backend: b}, &res)
		wantGone(t, "query "+b.String(), err)
		for _, w := range why {
			if err == nil || !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: %v, want one line saying %q", b, err, w)
			}
		}
		for i := range addrs {
			if _, r := res.Found(i); r != ReasonProcessGone {
				t.Errorf("%v: address %d: %v, want process-gone", b, i, r)
			}
		}
		wantGone(t, "query again "+b.String(), h.Query(addrs[:1], &Options{Backend: b}, &res))
		wantGone(t, "enumerate "+b.String(), h.Enumerate(&Options{Backend: b}, &res))
	}
}

func openPerBackend(t *testing.T, pid int) map[Backend]*Handle {
	handles := map[Backend]*Handle{}
	for _, b := range liveBackends(t) {
		h, err := Open(pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		handles[b] = h
	}
	return handles
}

func TestTargetExitsBetweenOpenAndQuery(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 10})
	m := mapping(t, tg, "vmas")
	handles := openPerBackend(t, tg.Pid)
	tg.Stop() // exits and is reaped
	checkGone(t, handles, []uint64{m.Start, m.Start, 0, m.End - 1}, "process exited")
	// The pid is gone for good: Reopen refuses, and says why.
	err := handles[BackendAuto].Reopen()
	if !errors.Is(err, ErrProcessGone) || errors.Is(err, ErrPidReused) {
		t.Errorf("Reopen after exit: %v, want ErrProcessGone (the pid is not reused)", err)
	}
	if _, err := Open(tg.Pid); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Open after exit: %v, want ErrNoProcess", err)
	}
}

func TestTargetExecsBetweenOpenAndQuery(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 10})
	m := mapping(t, tg, "vmas")
	handles := openPerBackend(t, tg.Pid)
	if err := tg.Exec(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, handles, []uint64{m.Start, 0})
	for b, h := range handles {
		if err := h.Reopen(); err != nil {
			t.Fatalf("Reopen after exec: %v", err)
		}
		var res Result
		if err := h.Enumerate(&Options{Backend: b}, &res); err != nil || len(res.VMAs) == 0 {
			t.Fatalf("%v: enumerate after Reopen: %v, %d VMAs", b, err, len(res.VMAs))
		}
		stack := res.VMAs[len(res.VMAs)-1].Start
		for _, v := range res.VMAs {
			if v.Kind == KindStack {
				stack = v.Start
			}
		}
		if err := h.Query([]uint64{m.Start, stack}, &Options{Backend: b}, &res); err != nil {
			t.Fatal(err)
		}
		if _, r := res.Found(0); r != ReasonUnmapped {
			t.Errorf("%v: the old image's mapping is still %v after exec", b, r)
		}
		if v, r := res.Found(1); r != ReasonFound || v.Kind != KindStack {
			t.Errorf("%v: new stack: %v %+v", b, r, v)
		}
	}
}

// freePid returns a pid no process has now.
func freePid(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for pid := max - 1; pid > 1; pid-- {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			return pid
		}
	}
	t.Fatal("no free pid")
	return 0
}

func TestOpenNonexistentAndInvalidPid(t *testing.T) {
	pid := freePid(t)
	_, err := Open(pid)
	if !errors.Is(err, ErrNoProcess) || Errno(err) != syscall.ESRCH || !strings.Contains(err.Error(), strconv.Itoa(pid)) {
		t.Errorf("Open(%d): %v, want ErrNoProcess naming the pid", pid, err)
	}
	for _, p := range []int{-1, -1 << 40} {
		if _, err := Open(p); !errors.Is(err, ErrInvalidArgument) || Errno(err) != syscall.EINVAL {
			t.Errorf("Open(%d): %v, want ErrInvalidArgument", p, err)
		}
	}
	if _, err := OpenWithOptions(os.Getpid(), &OpenOptions{ProcRoot: t.TempDir()}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Open with an empty proc root: %v, want ErrNoProcess", err)
	}
}

// TestOpenUnprivileged runs a helper as nobody against a root target:
// Open must fail with ErrPermission (EACCES), not crash or say "no process".
func TestOpenUnprivileged(t *testing.T) {
	tg := startSpecialTarget(t)
	helperRun{name: "open-unprivileged", cred: &syscall.Credential{Uid: nobody, Gid: nobody},
		env: []string{"PROCMAPQ_TEST_PID=" + strconv.Itoa(tg.Pid)}}.run(t)
}

func helperOpenUnprivileged() error {
	pid, _ := strconv.Atoi(os.Getenv("PROCMAPQ_TEST_PID"))
	if os.Getuid() != nobody {
		return fmt.Errorf("running as uid %d", os.Getuid())
	}
	_, err := Open(pid)
	if !errors.Is(err, ErrPermission) || Errno(err) != syscall.EACCES {
		return fmt.Errorf("Open(%d) as nobody: %v (errno %v), want ErrPermission / EACCES", pid, err, Errno(err))
	}
	// Its own maps stay readable.
	h, err := Open(0)
	if err != nil {
		return err
	}
	defer h.Close()
	var res Result
	return h.Enumerate(nil, &res)
}

// passedMappings encodes the mappings a helper must find: label=start-end.
func passedMappings(tg *testtarget.Target, labels ...string) string {
	var parts []string
	for _, l := range labels {
		m, _ := tg.Mapping(l)
		parts = append(parts, fmt.Sprintf("%s=%x-%x", l, m.Start, m.End))
	}
	return strings.Join(parts, ",")
}

// checkPassedMappings queries h for each mapping of passedMappings with
// every backend this process has and checks the ranges.
func checkPassedMappings(h *Handle, spec string) error {
	backends := []Backend{BackendAuto, BackendText}
	ok, err := helperHaveIoctl()
	if err != nil {
		return err
	}
	if ok {
		backends = append(backends, BackendIoctl)
	}
	for _, part := range strings.Split(spec, ",") {
		var label string
		var start, end uint64
		label, rng, _ := strings.Cut(part, "=")
		if _, err := fmt.Sscanf(rng, "%x-%x", &start, &end); err != nil {
			return err
		}
		for _, b := range backends {
			var res Result
			if err := h.Query([]uint64{start, end - 1}, &Options{Backend: b}, &res); err != nil {
				return fmt.Errorf("%v query %s: %w", b, label, err)
			}
			for i := range 2 {
				v, r := res.Found(i)
				if r != ReasonFound || v.Start != start || v.End != end {
					return fmt.Errorf("%v %s: %v %+v, want %x-%x", b, label, r, v, start, end)
				}
			}
		}
	}
	return nil
}

// TestOpenFDPassedToUnprivileged opens the maps of a root target as root,
// passes the fd to a helper running as nobody, which may not open the
// target itself but answers every query through the fd.
func TestOpenFDPassedToUnprivileged(t *testing.T) {
	tg := startSpecialTarget(t)
	f, err := os.Open("/proc/" + strconv.Itoa(tg.Pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	helperRun{name: "fd-passed", cred: &syscall.Credential{Uid: nobody, Gid: nobody}, files: []*os.File{f},
		env: []string{"PROCMAPQ_TEST_PID=" + strconv.Itoa(tg.Pid),
			"PROCMAPQ_TEST_MAPPINGS=" + passedMappings(tg, "offset", "newline", "exec-only", "memfd", "module-2-text", "prot-none")}}.run(t)
}

func helperFDPassed() error {
	pid, _ := strconv.Atoi(os.Getenv("PROCMAPQ_TEST_PID"))
	if _, err := Open(pid); !errors.Is(err, ErrPermission) {
		return fmt.Errorf("Open(%d) as nobody: %v, want ErrPermission", pid, err)
	}
	h, err := OpenFD(3, &OpenOptions{Pid: pid})
	if err != nil {
		return err
	}
	defer h.Close()
	if h.Pid() != pid {
		return fmt.Errorf("Pid() = %d", h.Pid())
	}
	if err := checkPassedMappings(h, os.Getenv("PROCMAPQ_TEST_MAPPINGS")); err != nil {
		return err
	}
	ok, err := helperHaveIoctl()
	if err != nil {
		return err
	}
	if ok {
		rep, err := h.Compare(nil)
		if err != nil || len(rep.Mismatches) != 0 {
			return fmt.Errorf("Compare through the fd: %v\n%v", err, rep)
		}
	}
	// Reopen needs a pid handle.
	if err := h.Reopen(); !errors.Is(err, ErrInvalidArgument) {
		return fmt.Errorf("Reopen of an fd handle: %v, want ErrInvalidArgument", err)
	}
	return nil
}

// TestOpenWithPtraceCapability: a profiler running as nobody with only
// CAP_SYS_PTRACE may read any process's maps but may not signal it; Open
// must work (the pidfd liveness check must not mistake EPERM for "gone").
func TestOpenWithPtraceCapability(t *testing.T) {
	tg := startSpecialTarget(t)
	helperRun{name: "open-with-ptrace-cap", cred: &syscall.Credential{Uid: nobody, Gid: nobody},
		caps: []uintptr{unix.CAP_SYS_PTRACE},
		env: []string{"PROCMAPQ_TEST_PID=" + strconv.Itoa(tg.Pid),
			"PROCMAPQ_TEST_MAPPINGS=" + passedMappings(tg, "offset", "prot-none")}}.run(t)
}

func helperOpenWithPtraceCap() error {
	pid, _ := strconv.Atoi(os.Getenv("PROCMAPQ_TEST_PID"))
	if err := unix.Kill(pid, 0); err != syscall.EPERM {
		return fmt.Errorf("kill(%d, 0) = %v; the test needs a target it may not signal", pid, err)
	}
	h, err := Open(pid)
	if err != nil {
		return fmt.Errorf("Open with CAP_SYS_PTRACE: %w", err)
	}
	defer h.Close()
	if err := checkPassedMappings(h, os.Getenv("PROCMAPQ_TEST_MAPPINGS")); err != nil {
		return err
	}
	if err := h.Reopen(); err != nil {
		return fmt.Errorf("Reopen with CAP_SYS_PTRACE: %w", err)
	}
	return nil
}

// TestOpenFDFromTarget takes the fd the target opened on its own
// /proc/self/maps (pidfd_getfd, as a profiler would receive it) and checks
// it answers like a pid handle.
func TestOpenFDFromTarget(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 20, Modules: 2, Specials: true, OpenMapsFD: true})
	pidfd, err := unix.PidfdOpen(tg.Pid, 0)
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, tg.MapsFD, 0)
	if err != nil {
		t.Skipf("pidfd_getfd: %v", err)
	}
	h, err := OpenFD(fd, nil)
	unix.Close(fd) // OpenFD duplicated it
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Pid() != -1 || h.IsSnapshot() {
		t.Errorf("Pid %d IsSnapshot %v", h.Pid(), h.IsSnapshot())
	}
	if err := checkPassedMappings(h, passedMappings(tg, "offset", "newline", "long-path", "memfd", "module-1-text", "prot-none")); err != nil {
		t.Fatal(err)
	}
	ph, err := Open(tg.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	a, _ := enumerate(t, h, &Options{Backend: BackendText})
	b, _ := enumerate(t, ph, &Options{Backend: BackendText})
	if !sameVMAList(a, b) {
		t.Error("fd handle and pid handle enumerate differently")
	}
	// The fd is bound to the address space: after exec it reports gone and
	// cannot be reopened.
	if err := tg.Exec(); err != nil {
		t.Fatal(err)
	}
	var res Result
	wantGone(t, "enumerate after exec", h.Enumerate(nil, &res))
	if err := h.Reopen(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Reopen of an fd handle: %v", err)
	}
}

// TestOpenFDRejectsOtherFiles: OpenFD accepts only maps files. Others are
// refused at open with ErrInvalidArgument, whatever the kernel: smaps (its
// ioctl answers ENOTTY and its text has other lines), status, pagemap
// (binary, and as large as the address space), non-procfs files.
func TestOpenFDRejectsOtherFiles(t *testing.T) {
	tg := startSpecialTarget(t)
	dir := "/proc/" + strconv.Itoa(tg.Pid) + "/"
	open := func(path string, flags int) int {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	for _, c := range []struct {
		what string
		fd   int
	}{
		{"smaps", open(dir+"smaps", unix.O_RDONLY)},
		{"smaps_rollup", open(dir+"smaps_rollup", unix.O_RDONLY)},
		{"status", open(dir+"status", unix.O_RDONLY)},
		{"pagemap", open(dir+"pagemap", unix.O_RDONLY)},
		{"numa_maps", open(dir+"numa_maps", unix.O_RDONLY)},
		{"regular file", open(fixturePath, unix.O_RDONLY)},
		{"procfs directory", open(dir, unix.O_RDONLY|unix.O_DIRECTORY)},
		{"O_PATH maps", open(dir+"maps", unix.O_PATH)},
	} {
		h, err := OpenFD(c.fd, &OpenOptions{Pid: tg.Pid})
		if err == nil {
			var res Result
			qerr := h.Query([]uint64{mapping(t, tg, "offset").Start}, nil, &res)
			h.Close()
			t.Errorf("OpenFD(%s) accepted; a query then gives %v", c.what, qerr)
			continue
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("OpenFD(%s): %v, want ErrInvalidArgument", c.what, err)
		}
	}
	for _, fd := range []int{-1, 1 << 20} {
		if _, err := OpenFD(fd, nil); !errors.Is(err, syscall.EBADF) || Errno(err) != syscall.EBADF {
			t.Errorf("OpenFD(%d): %v, want EBADF", fd, err)
		}
	}
	// A thread's maps file is a maps file.
	fd := open(fmt.Sprintf("%stask/%d/maps", dir, tg.Pid), unix.O_RDONLY)
	h, err := OpenFD(fd, &OpenOptions{Pid: tg.Pid})
	if err != nil {
		t.Fatalf("OpenFD(task maps): %v", err)
	}
	defer h.Close()
	if err := checkPassedMappings(h, passedMappings(tg, "offset", "prot-none")); err != nil {
		t.Error(err)
	}
}

// TestFallbackOnRealKernel reruns the live tests in a child whose probe is
// forced off (PROCMAPQ_FORCE_PROBE=0), so the text fallback is exercised on
// this kernel: auto must give identical answers with StrategyText and the
// ioctl backend must fail with ErrNotSupported.
func TestFallbackOnRealKernel(t *testing.T) {
	if probeForced() {
		t.Skip("already the fallback run")
	}
	out := helperRun{env: []string{"PROCMAPQ_FORCE_PROBE=0"}, args: []string{"-test.count=1", "-test.v",
		"-test.run=^(TestLive|TestTargetExits|TestTargetExecs|TestOpenFD|TestOpenText|TestQuery|TestStrategies|TestFallbackProbe)"}}.run(t)
	if !strings.Contains(out, "--- PASS: TestFallbackProbeForcedOff") || !strings.Contains(out, "--- PASS: TestLiveBackendsAgreeSpecials") {
		t.Fatalf("the fallback run did not run the live tests:\n%s", out)
	}
}

// TestFallbackProbeForcedOff runs only in the fallback child: the forced
// probe holds, and a live handle answers with text only.
func TestFallbackProbeForcedOff(t *testing.T) {
	if !probeForced() {
		t.Skip("only in the PROCMAPQ_FORCE_PROBE=0 run (see TestFallbackOnRealKernel)")
	}
	if ok, err := SupportsProcmapQuery(); ok || err != nil {
		t.Fatalf("SupportsProcmapQuery() = %v, %v under PROCMAPQ_FORCE_PROBE=0", ok, err)
	}
	h, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var res Result
	if err := h.Enumerate(&Options{Backend: BackendIoctl}, &res); !errors.Is(err, ErrNotSupported) || Errno(err) != syscall.ENOTTY ||
		!strings.Contains(err.Error(), "PROCMAPQ_FORCE_PROBE=0") {
		t.Errorf("ioctl enumerate: %v, want ErrNotSupported saying the probe was forced off", err)
	}
	for _, o := range []*Options{nil, {BuildIDs: true}, {Filter: Filter{Perms: PermExec}}} {
		if err := h.Enumerate(o, &res); err != nil || res.Strategy != StrategyText {
			t.Errorf("auto enumerate %+v: %v, %v", o, err, res.Strategy)
		}
		if err := h.Query([]uint64{0, uint64(res.VMAs[0].Start)}, o, &res); err != nil || res.Strategy != StrategyText {
			t.Errorf("auto query %+v: %v, %v", o, err, res.Strategy)
		}
	}
	if _, err := h.Compare(nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Compare: %v, want ErrNotSupported", err)
	}
}

func TestMisuseNeverPanics(t *testing.T) {
	h, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	addrs := []uint64{0, ^uint64(0)}
	for _, o := range []*Options{{Backend: 3}, {Backend: 255}, {Filter: Filter{Perms: 0x10}}, {Filter: Filter{Perms: 0xff}}} {
		if err := h.Query(addrs, o, &res); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Query with %+v: %v, want ErrInvalidArgument", o, err)
		}
		if err := h.Enumerate(o, &res); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Enumerate with %+v: %v, want ErrInvalidArgument", o, err)
		}
	}
	if err := h.Query(addrs, nil, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Query with a nil result: %v", err)
	}
	if err := h.Enumerate(nil, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Enumerate with a nil result: %v", err)
	}
	for _, a := range [][]uint64{nil, {}} {
		if err := h.Query(a, nil, &res); err != nil || len(res.Lookups) != 0 || res.Strategy != StrategyNone || res.Syscalls != 0 {
			t.Errorf("empty batch: %v %+v", err, res)
		}
	}
	if _, err := ParseBackend("mmap"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("ParseBackend: %v", err)
	}
	for _, s := range []string{"auto", "ioctl", "text"} {
		if b, err := ParseBackend(s); err != nil || b.String() != s {
			t.Errorf("ParseBackend(%q) = %v, %v", s, b, err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"query":     h.Query(addrs, nil, &res),
		"enumerate": h.Enumerate(nil, &res),
		"reopen":    h.Reopen(),
	} {
		if !errors.Is(err, ErrClosed) || Errno(err) != syscall.EBADF {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if _, err := h.Compare(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Compare after Close: %v", err)
	}
	var nilHandle *Handle
	if err := nilHandle.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
	for name, f := range map[string]func() error{
		"query":     func() error { return nilHandle.Query(addrs, nil, &res) },
		"enumerate": func() error { return nilHandle.Enumerate(nil, &res) },
		"reopen":    func() error { return nilHandle.Reopen() },
		"compare":   func() error { _, err := nilHandle.Compare(nil); return err },
	} {
		if err := f(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s on a nil handle: %v, want ErrInvalidArgument", name, err)
		}
	}
	if Errno(nil) != 0 || Errno(errors.New("x")) != syscall.EIO {
		t.Error("Errno of nil or a foreign error")
	}
}

// TestReopenRefusesReusedPid makes the kernel hand a dead target's pid to
// a new target (root writes ns_last_pid) and checks Reopen refuses it
// rather than attaching to the wrong process.
func TestReopenRefusesReusedPid(t *testing.T) {
	const lastPid = "/proc/sys/kernel/ns_last_pid"
	if err := unix.Access(lastPid, unix.W_OK); err != nil {
		t.Skipf("cannot steer pid allocation (%s: %v)", lastPid, err)
	}
	old := testtarget.Start(t, testtarget.Options{})
	h := mustOpen(t, old.Pid)
	old.Stop()
	// Other processes may take the pid first: try a few times.
	for range 20 {
		if err := os.WriteFile(lastPid, []byte(strconv.Itoa(old.Pid-1)), 0); err != nil {
			t.Skipf("writing %s: %v", lastPid, err)
		}
		tg, err := testtarget.StartProcess(testtarget.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reused := tg.Pid == old.Pid
		if reused {
			err = h.Reopen()
		}
		tg.Stop()
		if !reused {
			continue
		}
		if !errors.Is(err, ErrPidReused) || Errno(err) != syscall.ESRCH {
			t.Fatalf("Reopen with the pid reused: %v, want ErrPidReused", err)
		}
		return
	}
	t.Skip("could not get the same pid again (busy machine)")
}

// TestKernelThreadHasNoAddressSpace: a kernel thread (kthreadd, pid 2) has
// a maps file but no mm: every backend says process-gone (ESRCH), as the
// kernel does, rather than "no VMAs".
func TestKernelThreadHasNoAddressSpace(t *testing.T) {
	comm, err := os.ReadFile("/proc/2/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "kthreadd" {
		t.Skipf("pid 2 is not kthreadd here (%q, %v)", comm, err)
	}
	checkGone(t, openPerBackend(t, 2), []uint64{0, 1 << 40}, "kernel thread")
}

// TestConcurrentUseOfOneHandle: queries, enumerations and compares from
// several goroutines on one handle (each with its own Result) all answer
// like a lone call. Run with -race to check the locking.
func TestConcurrentUseOfOneHandle(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	vmas, _ := enumerate(t, h, &Options{Backend: BackendText})
	addrs := probeAddrs(vmas, len(vmas), rand.New(rand.NewPCG(5, 5)))
	want, _ := queryAnswers(t, h, addrs, &Options{Backend: BackendText})
	backends := liveBackends(t)
	errs := make(chan error, 8)
	for g := range 4 {
		go func() {
			var res Result
			for i := range 30 {
				b := backends[(g+i)%len(backends)]
				if err := h.Query(addrs, &Options{Backend: b}, &res); err != nil {
					errs <- err
					return
				}
				for k := range addrs {
					v, r := res.Found(k)
					got := answer{reason: r}
					if v != nil {
						got.vma = *v
					}
					if !sameAnswer(want[k], got) {
						if exp, msg := expectedTextIoctlDifference(want[k], got, addrs[k] >= gateStart && addrs[k] < gateEnd); !exp || msg != "" {
							errs <- fmt.Errorf("%v: address %#x: %v %+v, want %v %+v", b, addrs[k], r, got.vma, want[k].reason, want[k].vma)
							return
						}
					}
				}
				if err := h.Enumerate(&Options{Backend: b, Filter: Filter{Perms: PermExec}}, &res); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestZombieTarget: a target killed but not yet reaped keeps its pid and
// maps file but has no mm: every backend says process-gone, and so does a
// handle opened on the zombie.
func TestZombieTarget(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 4})
	m := mapping(t, tg, "vmas")
	handles := openPerBackend(t, tg.Pid)
	if err := unix.Kill(tg.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Stop (at cleanup) reaps it; until then it is a zombie.
	// A deadline, not a count of sleeps: a loaded machine only makes it
	// slower.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", tg.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("target did not become a zombie in 30 s")
		}
	}
	checkGone(t, handles, []uint64{m.Start, 0}, "zombie")
	checkGone(t, openPerBackend(t, tg.Pid), []uint64{m.Start}, "zombie")
}

// TestLeaderExitedProcess: a process whose main thread (the thread-group
// leader) exited while another thread runs is alive, with all its
// mappings, though /proc/PID/maps reads empty: every backend answers from
// a live thread's view, for a handle opened before the leader exited and
// for one opened after.
func TestLeaderExitedProcess(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 6})
	m := mapping(t, tg, "vmas")
	before := openPerBackend(t, tg.Pid)
	if _, err := tg.LeaderExit(); err != nil {
		t.Fatal(err)
	}
	if text, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", tg.Pid)); err != nil || len(text) != 0 {
		t.Fatalf("the leader's maps: %d bytes (%v), want empty", len(text), err)
	}
	after := openPerBackend(t, tg.Pid)
	for name, handles := range map[string]map[Backend]*Handle{"opened before": before, "opened after": after} {
		for b, h := range handles {
			var res Result
			if err := h.Query([]uint64{m.Start, m.End - 1}, &Options{Backend: b}, &res); err != nil {
				t.Errorf("%s, %v: %v", name, b, err)
				continue
			}
			for i := range 2 {
				if v, r := res.Found(i); r != ReasonFound || v.Start > m.Start+uint64(i)*(m.End-1-m.Start) {
					t.Errorf("%s, %v: address %d: %v %+v, want found", name, b, i, r, v)
				}
			}
			if err := h.Enumerate(&Options{Backend: b}, &res); err != nil || len(res.VMAs) < 6 {
				t.Errorf("%s, %v: enumerate: %d VMAs, %v", name, b, len(res.VMAs), err)
			}
		}
	}
	// Once the whole process is gone, the handles say so.
	tg.Stop()
	checkGone(t, after, []uint64{m.Start}, "process exited")
}

// TestProcRootOption: a handle opened through procfs mounted elsewhere
// (in a helper with its own mount namespace) answers like /proc.
func TestProcRootOption(t *testing.T) {
	tg := startSpecialTarget(t)
	cmd := helperRun{name: "proc-root", env: []string{"PROCMAPQ_TEST_PID=" + strconv.Itoa(tg.Pid),
		"PROCMAPQ_TEST_MAPPINGS=" + passedMappings(tg, "offset", "newline", "memfd")}, unshareMounts: true}
	cmd.run(t)
}

func helperProcRoot() error {
	pid, _ := strconv.Atoi(os.Getenv("PROCMAPQ_TEST_PID"))
	dir, err := os.MkdirTemp("", "procmapq-procroot-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := unix.Mount("proc", dir, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc on %s: %w", dir, err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	h, err := OpenWithOptions(pid, &OpenOptions{ProcRoot: dir})
	if err != nil {
		return err
	}
	defer h.Close()
	if h.ProcRoot() != dir {
		return fmt.Errorf("ProcRoot() = %q, want %q", h.ProcRoot(), dir)
	}
	if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", h.fd)); err != nil || !strings.HasPrefix(link, dir+"/") {
		return fmt.Errorf("the handle reads %q (%v), not under %s", link, err, dir)
	}
	if err := checkPassedMappings(h, os.Getenv("PROCMAPQ_TEST_MAPPINGS")); err != nil {
		return err
	}
	if err := h.Reopen(); err != nil {
		return err
	}
	return checkPassedMappings(h, os.Getenv("PROCMAPQ_TEST_MAPPINGS"))
}

// TestErrorsOneLine walks an error from every constructor in this package
// and from the API's refusals: each message is one line (it reaches
// procmapq_last_error(), which promises one) and errors.Is still finds its
// sentinel and, where there is one, its errno.
func TestErrorsOneLine(t *testing.T) {
	type want struct {
		err      error
		sentinel error
		errno    syscall.Errno // 0: none to check
	}
	cases := map[string]want{
		"withDetail":      {withDetail(ErrInvalidArgument, &lineError{3, "bad\nname"}), ErrInvalidArgument, 0},
		"invalidf":        {invalidf("field %q", "a\nb"), ErrInvalidArgument, 0},
		"classifyErrno":   {classifyErrno(syscall.EACCES), ErrPermission, syscall.EACCES},
		"errnoError":      {&errnoError{sentinel: ErrProcessGone, errno: syscall.ESRCH, detail: "a zombie"}, ErrProcessGone, syscall.ESRCH},
		"Error with path": {&Error{Op: "open", Pid: 1, Path: "/tmp/x\ny\r", Err: classifyErrno(syscall.ENOENT)}, syscall.ENOENT, syscall.ENOENT},
		"Error wrapping":  {&Error{Op: "query", Pid: -1, Err: withDetail(ErrNotSupported, errors.New("two\nlines"))}, ErrNotSupported, 0},
		"notSupported":    {notSupported(), ErrNotSupported, 0},
	}
	_, err := ParseBackend("mmap\n")
	cases["ParseBackend"] = want{err, ErrInvalidArgument, 0}
	_, err = ParseMaps([]byte("00400000-00401000 r-xp 00000000 08:01 1 /bin/a\nnot a line\n"))
	cases["ParseMaps"] = want{err, ErrInvalidArgument, 0}
	_, err = OpenText([]byte("00400000-00401000 r-xp 00000000 08:01 1 /a\n00300000-00301000 r-xp 00000000 08:01 1 /b\n"))
	cases["OpenText order"] = want{err, ErrInvalidArgument, 0}
	_, err = Open(-5)
	cases["Open"] = want{err, ErrInvalidArgument, 0}
	_, err = Open(freePid(t))
	cases["Open gone"] = want{err, ErrNoProcess, syscall.ESRCH}
	_, err = OpenFD(-1, nil)
	cases["OpenFD"] = want{err, syscall.EBADF, syscall.EBADF}
	var nilHandle *Handle
	cases["nil handle"] = want{nilHandle.Reopen(), ErrInvalidArgument, 0}
	th, err := OpenText([]byte("00400000-00401000 r-xp 00000000 08:01 1 /bin/a\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	cases["Reopen text"] = want{th.Reopen(), ErrInvalidArgument, 0}
	_, err = th.Compare(nil)
	cases["Compare text"] = want{err, ErrInvalidArgument, 0}
	cases["Query nil result"] = want{th.Query([]uint64{1}, nil, nil), ErrInvalidArgument, 0}
	cases["Enumerate nil result"] = want{th.Enumerate(nil, nil), ErrInvalidArgument, 0}
	cases["Normalize nil result"] = want{th.Normalize([]uint64{1}, nil, nil), ErrInvalidArgument, 0}
	h, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	cases["closed"] = want{h.Reopen(), ErrClosed, 0}

	for name, w := range cases {
		if w.err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		msg := w.err.Error()
		if strings.ContainsAny(msg, "\r\n") {
			t.Errorf("%s: message not one line: %q", name, msg)
		}
		if !errors.Is(w.err, w.sentinel) {
			t.Errorf("%s: %q does not wrap %v", name, msg, w.sentinel)
		}
		if w.errno != 0 && (!errors.Is(w.err, w.errno) || Errno(w.err) != w.errno) {
			t.Errorf("%s: %q: errno %v, want %v", name, msg, Errno(w.err), w.errno)
		}
	}
	var le *lineError
	if err := cases["ParseMaps"].err; !errors.As(err, &le) || le.line != 2 {
		t.Errorf("ParseMaps: %v does not carry its line", err)
	}
}
