package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/libprocmapq/libprocmapq/core"
)

const benchHelp = `
Times one batch query of the addresses with each backend forced (text,
ioctl) and with auto, each on its own open handle, and prints per backend
the median time per batch and per address, the 10th and 90th percentiles,
the system calls per batch (reads or ioctls) and the strategy used.

Addresses come as arguments or with -f; without any, the start of every
mapping is used. Without -n, up to 1000 runs per backend are made, fewer
when a batch is slow (about 5 s in all).`

// benchBudget bounds the time of a run without -n.
const benchBudget = 5 * time.Second

func runBench(e *env, args []string) int {
	fs := newFlagSet("bench", "bench -p PID [-f FILE|-] [-n RUNS] [--build-ids] [ADDR...]", benchHelp)
	pidArg, file := fs.pidFlag(), fs.fileFlag()
	runs := fs.Int("runs", 0, "`N` timed runs per backend (default: up to 1000)")
	fs.alias("n", "runs")
	buildIDs := fs.Bool("build-ids", false, "ask for build IDs (ioctl and auto)")
	operands, code, done := fs.start(e, args)
	if done {
		return code
	}
	pid, err := parsePid(*pidArg)
	if err != nil {
		return fail(e, err)
	}
	if *runs < 0 {
		return fail(e, usagef("invalid -n %d: want a positive number of runs", *runs))
	}
	// Open first: the default workload needs the target's mappings.
	probe, err := core.Open(pid)
	if err != nil {
		return fail(e, err)
	}
	var all core.Result
	err = probe.Enumerate(&core.Options{Backend: core.BackendText}, &all)
	probe.Close()
	if err != nil {
		return fail(e, err)
	}
	var addrs []uint64
	if *file == "" && len(operands) == 0 {
		for i := range all.VMAs {
			addrs = append(addrs, all.VMAs[i].Start)
		}
		fmt.Fprintf(e.stderr, "procmapq: note: no addresses given; using the start of each of the %d mappings\n", len(addrs))
	} else if addrs, err = readAddresses(e, *file, operands); err != nil {
		return fail(e, err)
	}

	backends := []core.Backend{core.BackendText, core.BackendIoctl, core.BackendAuto}
	if ok, _ := core.SupportsProcmapQuery(); !ok {
		fmt.Fprintf(e.stderr, "procmapq: note: %s; the ioctl backend is skipped and auto uses the text\n", notSupportedMsg)
		backends = []core.Backend{core.BackendText, core.BackendAuto}
	}
	benches := make([]*backendBench, len(backends))
	for i, b := range backends {
		if benches[i], err = newBackendBench(pid, b, addrs, *buildIDs); err != nil {
			closeBenches(benches)
			return fail(e, err)
		}
	}
	defer closeBenches(benches)

	n := *runs
	if n == 0 {
		n = defaultRuns(benches)
	}
	for _, b := range benches {
		if err := b.run(n); err != nil {
			return fail(e, err)
		}
	}
	printBench(e.stdout, pid, addrs, len(all.VMAs), n, benches)
	return exitOK
}

// backendBench times one backend on its own handle.
type backendBench struct {
	backend    core.Backend
	h          *core.Handle
	addrs      []uint64
	opts       core.Options
	res        core.Result
	times      []time.Duration
	syscalls   []int
	strategies map[core.Strategy]int
}

func newBackendBench(pid int, b core.Backend, addrs []uint64, buildIDs bool) (*backendBench, error) {
	h, err := core.Open(pid)
	if err != nil {
		return nil, err
	}
	bb := &backendBench{backend: b, h: h, addrs: addrs, strategies: map[core.Strategy]int{},
		opts: core.Options{Backend: b, BuildIDs: buildIDs && b != core.BackendText}}
	// Warm up: first-use calibration, buffer growth, page cache.
	for range 3 {
		if _, err := bb.once(); err != nil {
			h.Close()
			return nil, err
		}
	}
	return bb, nil
}

func closeBenches(benches []*backendBench) {
	for _, b := range benches {
		if b != nil {
			b.h.Close()
		}
	}
}

func (b *backendBench) once() (time.Duration, error) {
	t0 := time.Now()
	err := b.h.Query(b.addrs, &b.opts, &b.res)
	return time.Since(t0), err
}

func (b *backendBench) run(n int) error {
	b.times = make([]time.Duration, 0, n)
	b.syscalls = make([]int, 0, n)
	for range n {
		d, err := b.once()
		if err != nil {
			return err
		}
		b.times = append(b.times, d)
		b.syscalls = append(b.syscalls, b.res.Syscalls)
		b.strategies[b.res.Strategy]++
	}
	slices.Sort(b.times)
	slices.Sort(b.syscalls)
	return nil
}

// defaultRuns is 1000 runs per backend, or fewer so that the whole bench
// takes about benchBudget.
func defaultRuns(benches []*backendBench) int {
	var perRound time.Duration
	for _, b := range benches {
		d, _ := b.once()
		perRound += d
	}
	n := 1000
	if perRound > 0 {
		n = min(n, int(benchBudget/perRound))
	}
	return max(n, 5)
}

func percentile(sorted []time.Duration, p int) time.Duration {
	return sorted[(len(sorted)-1)*p/100]
}

func printBench(w io.Writer, pid int, addrs []uint64, vmas, runs int, benches []*backendBench) {
	unique := slices.Clone(addrs)
	slices.Sort(unique)
	unique = slices.Compact(unique)
	fmt.Fprintf(w, "pid %d (%s): %d addresses (%d unique), %d VMAs, %d runs per backend\n",
		pid, procComm(pid), len(addrs), len(unique), vmas, runs)
	fmt.Fprintf(w, "machine: %s\n", machineDescription())
	fmt.Fprintf(w, "%-8s %12s %12s %12s %12s %9s  %s\n",
		"backend", "median", "per-address", "p10", "p90", "syscalls", "strategy")
	for _, b := range benches {
		med := percentile(b.times, 50)
		fmt.Fprintf(w, "%-8s %12s %12s %12s %12s %9d  %s\n", b.backend,
			formatDuration(med), formatDuration(med/time.Duration(len(addrs))),
			formatDuration(percentile(b.times, 10)), formatDuration(percentile(b.times, 90)),
			b.syscalls[len(b.syscalls)/2], strategySummary(b.strategies, runs))
	}
}

// strategySummary names the strategies used, with counts when they varied.
func strategySummary(m map[core.Strategy]int, runs int) string {
	if len(m) == 1 {
		for s := range m {
			return s.String()
		}
	}
	var parts []string
	for s, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d/%d", s, n, runs))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f µs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
	}
}

func machineDescription() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return runtime.GOOS + "/" + runtime.GOARCH
	}
	return fmt.Sprintf("%s %s %s, %d CPUs, %s", unix.ByteSliceToString(u.Sysname[:]),
		unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]), runtime.NumCPU(), runtime.Version())
}
