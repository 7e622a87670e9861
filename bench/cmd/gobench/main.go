// Command gobench runs the Go contenders of the side-by-side benchmark on
// the workloads of a spec file (see bench/internal/spec) and prints result
// lines in the format of the C driver:
//
//	go-ioctl, go-text, go-auto   libprocmapq's core package called directly
//	go-procfs                    github.com/prometheus/procfs ProcMaps(), then
//	                             a walk of the sorted addresses, as Go users
//	                             resolve addresses today
//
// Contenders run round-robin, one call each in turn. After the timed calls
// it reports allocations per call ("info W C allocs=N").
package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
)

// contender answers a workload's calls. open prepares it for a pid (0 =
// self); call runs one call (batch is the index for single-address
// workloads) and returns the answers' digest contribution through digest.
type contender interface {
	name() string
	open(pid int) error
	close()
	query(addrs []uint64) error
	enumerate(execOnly bool) error
	// digestQuery folds the last query's answers into h; digestEnum returns
	// the last enumeration's digest and VMA count.
	digestQuery(h uint64, n int) (uint64, int)
	digestEnum() (uint64, int)
	// strategy says how the last call was answered ("" if not applicable).
	strategy() string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gobench SPEC")
		os.Exit(2)
	}
	s, err := spec.Read(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(2)
	}
	out := newPrinter()
	defer out.flush()
	for _, w := range s.Workloads {
		if w.Kind == spec.KindBlazesym {
			w.Addrs = blazesymAddrs()
		}
		runWorkload(out, w, allContenders())
	}
}

func allContenders() []contender {
	return []contender{
		newCoreContender("go-ioctl", backendIoctl),
		newCoreContender("go-text", backendText),
		newCoreContender("go-auto", backendAuto),
		&procfsContender{},
	}
}

// call runs one call of w on c.
func call(c contender, w *spec.Workload, batch int) error {
	if w.OpenEach {
		if err := c.open(w.Pid); err != nil {
			return err
		}
		defer c.close()
	}
	switch w.Kind {
	case spec.KindEnum:
		return c.enumerate(w.ExecOnly())
	case spec.KindSingle:
		i := batch % len(w.Addrs)
		return c.query(w.Addrs[i : i+1])
	default:
		return c.query(w.Addrs)
	}
}

// check answers the whole workload once, untimed, and prints the digest.
func check(out *printer, c contender, w *spec.Workload) error {
	h, found, vmas := spec.DigestSeed, 0, 0
	switch w.Kind {
	case spec.KindSingle:
		for i := range w.Addrs {
			if err := call(c, w, i); err != nil {
				return err
			}
			var f int
			h, f = c.digestQuery(h, 1)
			found += f
			vmas += f
		}
	case spec.KindEnum:
		if err := call(c, w, 0); err != nil {
			return err
		}
		h, vmas = c.digestEnum()
	default:
		if err := call(c, w, 0); err != nil {
			return err
		}
		h, found = c.digestQuery(h, len(w.Addrs))
		vmas = -1 // filled below
	}
	if vmas < 0 {
		vmas = distinctVMAs(c)
	}
	out.printf("digest %s %s %016x %d %d\n", w.Name, c.name(), h, found, vmas)
	return nil
}

func runWorkload(out *printer, w *spec.Workload, all []contender) {
	var cs []contender
	for _, c := range all {
		var err error
		if !w.OpenEach {
			err = c.open(w.Pid)
		}
		if err == nil {
			err = check(out, c, w)
		}
		if err != nil {
			out.printf("error %s %s %v\n", w.Name, c.name(), err)
			if !w.OpenEach {
				c.close()
			}
			continue
		}
		cs = append(cs, c)
	}
	samples := make([][]int64, len(cs))
	deadline := time.Now().Add(time.Duration(w.BudgetMs) * time.Millisecond)
	minIters := min(w.Iters, 5)
	it := 0
	for it < w.Iters && (it < minIters || time.Now().Before(deadline)) {
		for k, c := range cs {
			t0 := time.Now()
			err := call(c, w, it)
			d := time.Since(t0)
			if err != nil {
				out.printf("error %s %s %v\n", w.Name, c.name(), err)
				d = -1
			}
			samples[k] = append(samples[k], int64(d))
		}
		it++
	}
	for k, c := range cs {
		out.printf("samples %s %s", w.Name, c.name())
		for _, s := range samples[k] {
			out.printf(" %d", s)
		}
		out.printf("\n")
		if s := c.strategy(); s != "" {
			out.printf("info %s %s strategy=%s\n", w.Name, c.name(), s)
		}
		out.printf("info %s %s allocs=%.1f\n", w.Name, c.name(), allocsPerCall(c, w))
		if !w.OpenEach {
			c.close()
		}
	}
}

// allocsPerCall counts heap allocations per call over a few untimed calls
// (as many as timed ones, at most 20: the smoke run makes one).
func allocsPerCall(c contender, w *spec.Workload) float64 {
	calls := min(20, w.Iters)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range calls {
		_ = call(c, w, i)
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(calls)
}

// distinctVMAs is the number of distinct VMAs in a contender's last query
// answers.
func distinctVMAs(c contender) int {
	if d, ok := c.(interface{ distinct() int }); ok {
		return d.distinct()
	}
	return 0
}

// blazesymAddrs are the blazesym workload's five addresses in this
// process: three libc functions and two of this executable.
func blazesymAddrs() []uint64 {
	addrs := append(libcAddrs(), funcAddr(markerOne), funcAddr(markerTwo))
	slices.Sort(addrs)
	return addrs
}

//go:noinline
func markerOne(x int) int { return x*3 + 1 }

//go:noinline
func markerTwo(x int) int { return x*5 + 2 }
