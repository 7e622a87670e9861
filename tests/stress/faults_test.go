package stress

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libprocmapq/libprocmapq/core"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// bigBatch returns n addresses spread over the target's mappings (and a
// few gaps), in random order.
func bigBatch(tg *testtarget.Target, n int, rng *rand.Rand) []uint64 {
	addrs := make([]uint64, n)
	for i := range addrs {
		m := tg.Mappings[rng.IntN(len(tg.Mappings))]
		addrs[i] = m.Start + rng.Uint64N(m.End-m.Start+pageSize) // sometimes just past the end
	}
	return addrs
}

// queryDuringEvent starts a 20,000-VMA target, opens it and queries a
// 200,000-address batch with backend b while event (a kill, an exec) hits
// the target after a random delay below maxDelay. It returns the target,
// the handle (both the caller's to end) and what the query gave.
func queryDuringEvent(t *testing.T, rng *rand.Rand, b core.Backend, maxDelay time.Duration,
	event func(*testtarget.Target) error) (*testtarget.Target, *core.Handle, []uint64, *core.Result, error) {
	t.Helper()
	tg, err := testtarget.StartProcess(testtarget.Options{VMAs: 20000, Modules: 2})
	if err != nil {
		t.Fatal(err)
	}
	h, err := core.Open(tg.Pid)
	if err != nil {
		tg.Stop()
		t.Fatal(err)
	}
	addrs := bigBatch(tg, 200000, rng)
	delay := time.Duration(rng.Int64N(int64(maxDelay)))
	var wg sync.WaitGroup
	var eventErr error
	wg.Go(func() {
		time.Sleep(delay)
		eventErr = event(tg)
	})
	res := new(core.Result)
	err = h.Query(addrs, &core.Options{Backend: b}, res)
	wg.Wait()
	if eventErr != nil {
		t.Fatalf("target %d: %v", tg.Pid, eventErr)
	}
	return tg, h, addrs, res, err
}

// midBatchOutcome classifies one batch interrupted by the target's end:
// finished (before the event), or gone with partial answers.
type midBatchOutcome struct{ finished, goneNone, gonePartial int }

// checkGoneBatch checks a query that raced with the target's death or
// exec: success, or ErrProcessGone naming the pid with every lookup either
// a real answer or process-gone.
func checkGoneBatch(t *testing.T, pid int, addrs []uint64, res *core.Result, err error, out *midBatchOutcome) {
	t.Helper()
	if err == nil {
		out.finished++
		return
	}
	if !errors.Is(err, core.ErrProcessGone) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(pid)) {
		t.Fatalf("query during the target's end: %v (want ErrProcessGone naming pid %d)", err, pid)
	}
	if len(res.Lookups) != len(addrs) {
		t.Fatalf("%d lookups for %d addresses after ErrProcessGone", len(res.Lookups), len(addrs))
	}
	gone := 0
	for i, l := range res.Lookups {
		switch l.Reason {
		case core.ReasonProcessGone:
			gone++
		case core.ReasonFound:
			if v := &res.VMAs[l.VMA]; !v.Contains(addrs[i]) {
				t.Fatalf("addr %#x answered with %x-%x", addrs[i], v.Start, v.End)
			}
		}
	}
	if gone == len(addrs) {
		out.goneNone++
	} else {
		out.gonePartial++
	}
}

// TestKilledMidBatch kills (SIGKILL) a 20,000-VMA target at a random point
// of a 200,000-address batch, through every backend: a clean process-gone
// error naming the pid, per-address reasons, no leaked fd.
func TestKilledMidBatch(t *testing.T) {
	rounds := 8
	if longMode() {
		rounds = 40
	}
	for _, b := range churnBackends {
		t.Run(b.String(), func(t *testing.T) {
			if b == core.BackendIoctl {
				requireIoctl(t)
			}
			fds := openFDs(t)
			var out midBatchOutcome
			rng := rand.New(rand.NewPCG(uint64(b), 1))
			for range rounds {
				tg, h, addrs, res, err := queryDuringEvent(t, rng, b, 40*time.Millisecond, func(tg *testtarget.Target) error {
					return syscall.Kill(tg.Pid, syscall.SIGKILL)
				})
				checkGoneBatch(t, tg.Pid, addrs, res, err, &out)
				tg.Stop()
				// Once reaped, every call fails cleanly; the handle stays closable.
				err = h.Query(addrs[:10], &core.Options{Backend: b}, res)
				if !errors.Is(err, core.ErrProcessGone) {
					t.Fatalf("query after the kill: %v", err)
				}
				if err := h.Enumerate(&core.Options{Backend: b}, res); !errors.Is(err, core.ErrProcessGone) {
					t.Fatalf("enumerate after the kill: %v", err)
				}
				if err := h.Close(); err != nil {
					t.Fatal(err)
				}
			}
			after := fdsSettle(t, fds)
			t.Logf("%s: %d rounds: finished before the kill %d, gone with partial answers %d, gone before any answer %d; fds %d -> %d",
				b, rounds, out.finished, out.gonePartial, out.goneNone, fds, after)
			fmt.Fprintf(os.Stderr, "FIGURE killed-mid-batch-%s: rounds=%d finished=%d partial=%d none=%d fds_before=%d fds_after=%d\n",
				b, rounds, out.finished, out.gonePartial, out.goneNone, fds, after)
			if after != fds {
				t.Fatalf("open fds %d -> %d: leaked", fds, after)
			}
		})
	}
}

// TestExecMidBatchAndReopen makes a pid handle's target exec during a
// large batch: process-gone (or a finished batch), then Reopen works and
// sees the new image; once the target is reaped Reopen refuses
// (ErrProcessGone), and refuses with ErrPidReused a new process that got
// the same pid.
func TestExecMidBatchAndReopen(t *testing.T) {
	fds := openFDs(t)
	var out midBatchOutcome
	rng := rand.New(rand.NewPCG(7, 7))
	rounds := 6
	if longMode() {
		rounds = 30
	}
	for round := range rounds {
		b := churnBackends[round%3]
		if b == core.BackendIoctl && !haveIoctl(t) {
			b = core.BackendAuto // the text, as before 6.11
		}
		tg, h, addrs, res, err := queryDuringEvent(t, rng, b, 30*time.Millisecond,
			func(tg *testtarget.Target) error { return tg.Exec() })
		checkGoneBatch(t, tg.Pid, addrs, res, err, &out)
		if err := h.Query(addrs[:1], nil, res); !errors.Is(err, core.ErrProcessGone) {
			t.Fatalf("query after exec: %v, want ErrProcessGone", err)
		}
		if err := h.Reopen(); err != nil {
			t.Fatalf("reopen after exec: %v", err)
		}
		// The new image has far fewer VMAs and still maps the target binary.
		if err := h.Enumerate(nil, res); err != nil {
			t.Fatalf("enumerate after reopen: %v", err)
		}
		bin, _ := testtarget.Binary()
		if len(res.VMAs) > 100 || !hasName(res.VMAs, bin) {
			t.Fatalf("after exec and reopen: %d VMAs, binary mapped: %v", len(res.VMAs), hasName(res.VMAs, bin))
		}
		pid := tg.Pid
		tg.Stop()
		// Reaped: gone, or reused if another process took the pid already.
		if err := h.Reopen(); !errors.Is(err, core.ErrProcessGone) && !errors.Is(err, core.ErrPidReused) {
			t.Fatalf("reopen of a reaped pid %d: %v, want ErrProcessGone or ErrPidReused", pid, err)
		}
		if round == 0 {
			checkRecycledPid(t, h, pid)
		}
		h.Close()
	}
	after := fdsSettle(t, fds)
	t.Logf("exec during the batch: finished %d, gone with partial answers %d, gone before any answer %d; fds %d -> %d",
		out.finished, out.gonePartial, out.goneNone, fds, after)
	fmt.Fprintf(os.Stderr, "FIGURE exec-mid-batch: rounds=%d finished=%d partial=%d none=%d fds_before=%d fds_after=%d\n",
		rounds, out.finished, out.gonePartial, out.goneNone, fds, after)
	if after != fds {
		t.Fatalf("open fds %d -> %d: leaked", fds, after)
	}
}

func hasName(vmas []core.VMA, name string) bool {
	for i := range vmas {
		if string(vmas[i].Name) == name {
			return true
		}
	}
	return false
}

// checkRecycledPid starts a new process under pid (steering the kernel's
// pid allocator with ns_last_pid) and checks h refuses to reopen onto it.
func checkRecycledPid(t *testing.T, h *core.Handle, pid int) {
	t.Helper()
	var cmd *exec.Cmd
	for try := 0; try < 50 && cmd == nil; try++ {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("cannot steer pid allocation (needs root and ns_last_pid): %v", err)
		}
		c := exec.Command("sleep", "30")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			cmd = c
			break
		}
		c.Process.Kill()
		c.Wait()
	}
	if cmd == nil {
		t.Skipf("could not get pid %d again in 50 tries (busy machine)", pid)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	err := h.Reopen()
	if !errors.Is(err, core.ErrPidReused) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(pid)) {
		t.Fatalf("reopen with pid %d recycled by another process: %v, want ErrPidReused naming the pid", pid, err)
	}
	var res core.Result
	if err := h.Enumerate(nil, &res); !errors.Is(err, core.ErrProcessGone) {
		t.Fatalf("enumerate after a refused reopen: %v, want ErrProcessGone (the recycled pid must not be read)", err)
	}
	t.Logf("pid %d recycled by a new process: reopen refused: %v", pid, err)
}

// TestPermissionDenied opens a root process's maps as user nobody: a clear
// permission error naming the pid, and no handle.
func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a helper as another user")
	}
	tg := testtarget.Start(t, testtarget.Options{VMAs: 10})
	self := copyOfSelf(t)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"=open-denied", "PROCMAPQ_STRESS_TARGET="+strconv.Itoa(tg.Pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(string(out)))
}

func helperOpenDenied() error {
	pid, _ := strconv.Atoi(os.Getenv("PROCMAPQ_STRESS_TARGET"))
	h, err := core.Open(pid)
	if h != nil || !errors.Is(err, core.ErrPermission) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(pid)) {
		return fmt.Errorf("open of root's pid %d as nobody: handle %v, error %v; want ErrPermission naming the pid", pid, h, err)
	}
	fmt.Printf("open as nobody: %v\n", err)
	return nil
}

// copyOfSelf copies this test binary where user nobody can run it.
func copyOfSelf(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	cProgram(t, "noprocmapq") // makes the shared, world-readable bin directory
	p := cBuild.dir + "/stress.test"
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFailedOpensLeakNothing opens, many times, targets that cannot be
// opened (no procfs at the root given, no such pid, a kernel thread's maps
// are fine but a bad root is not): the fd count must not move. A failed
// open used to keep the pidfd it had opened first.
func TestFailedOpensLeakNothing(t *testing.T) {
	fds := openFDs(t)
	for range 200 {
		if h, err := core.OpenWithOptions(os.Getpid(), &core.OpenOptions{ProcRoot: "/nonexistent"}); err == nil {
			h.Close()
			t.Fatal("open under /nonexistent succeeded")
		}
		if _, err := core.Open(1 << 30); !errors.Is(err, core.ErrNoProcess) {
			t.Fatalf("open of pid 2^30: %v", err)
		}
	}
	if after := fdsSettle(t, fds); after != fds {
		t.Fatalf("200 failed opens: open fds %d -> %d", fds, after)
	}
}
