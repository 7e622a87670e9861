// Command gobench runs the Go contenders of the side-by-side benchmark on
// the workloads of a spec file (see bench/internal/spec) and prints result
// lines in the format of the C driver:
//
//	go-ioctl, go-text, go-auto   libprocmapq's core package called directly
//	go-procfs                    github.com/prometheus/procfs ProcMaps(), then
//	                             a walk of the sorted addresses, as Go users
//	                             resolve addresses today
//	go-parsemaps                 core.ParseMaps (parse workloads only)
//
// On parse workloads (a captured text, no kernel) go-text is core.OpenText
// + Enumerate + Close, and go-procfs is ProcMaps() on a fake procfs root
// under /dev/shm holding the captured text as <pid>/maps (procfs has no
// parse-from-bytes API).
//
// Contenders run round-robin, one call each in turn. After the timed calls
// it reports allocations per call ("info W C allocs=N").
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
	"github.com/libprocmapq/libprocmapq/core"
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
		runWorkload(out, w, chosen(allContenders(), s.Contenders))
	}
}

// parser is a contender that answers parse workloads: loadText prepares
// for a text (untimed), parse parses it once per call, unloadText undoes
// loadText. Contenders that are not parsers sit those workloads out.
type parser interface {
	loadText(w *spec.Workload) error
	parse() error
	unloadText()
}

// parseOnly marks a contender that answers nothing but parse workloads.
type parseOnly interface{ parseOnly() }

// takes reports whether c answers workloads of w's kind.
func takes(c contender, w *spec.Workload) bool {
	_, isParser := c.(parser)
	_, onlyParse := c.(parseOnly)
	if w.Kind == spec.KindParse {
		return isParser
	}
	return !onlyParse
}

// usesHandle reports whether w keeps a handle per contender (parse
// workloads have none).
func usesHandle(w *spec.Workload) bool { return !w.OpenEach && w.Kind != spec.KindParse }

// chosen keeps the contenders named in names (all when names is empty).
func chosen(all []contender, names []string) []contender {
	if len(names) == 0 {
		return all
	}
	var out []contender
	for _, c := range all {
		if slices.Contains(names, c.name()) {
			out = append(out, c)
		}
	}
	return out
}

func allContenders() []contender {
	return []contender{
		newCoreContender("go-ioctl", backendIoctl),
		&coreTextContender{coreContender: newCoreContender("go-text", backendText)},
		newCoreContender("go-auto", backendAuto),
		&procfsContender{},
		&parseMapsContender{},
	}
}

// call runs one call of w on c.
func call(c contender, w *spec.Workload, batch int) error {
	if w.OpenEach && w.Kind != spec.KindParse {
		if err := c.open(w.Pid); err != nil {
			return err
		}
		defer c.close()
	}
	switch w.Kind {
	case spec.KindEnum:
		return c.enumerate(w.ExecOnly())
	case spec.KindParse:
		return c.(parser).parse()
	case spec.KindSingle:
		i := batch % len(w.Addrs)
		return c.query(w.Addrs[i : i+1])
	default:
		return c.query(w.Addrs)
	}
}

// check answers the whole workload once, untimed, prints the digest and
// returns the time per call.
func check(out *printer, c contender, w *spec.Workload) (time.Duration, error) {
	h, found, vmas := spec.DigestSeed, 0, 0
	t0 := time.Now()
	calls := 1
	switch w.Kind {
	case spec.KindSingle:
		for i := range w.Addrs {
			if err := call(c, w, i); err != nil {
				return 0, err
			}
			var f int
			h, f = c.digestQuery(h, 1)
			found += f
			vmas += f
		}
		calls = max(1, len(w.Addrs))
	case spec.KindEnum, spec.KindParse:
		if err := call(c, w, 0); err != nil {
			return 0, err
		}
		h, vmas = c.digestEnum()
	default:
		if err := call(c, w, 0); err != nil {
			return 0, err
		}
		h, found = c.digestQuery(h, len(w.Addrs))
		vmas = distinctVMAs(c)
	}
	perCall := time.Since(t0) / time.Duration(calls)
	out.printf("digest %s %s %016x %d %d\n", w.Name, c.name(), h, found, vmas)
	return perCall, nil
}

// Each turn of the round-robin runs a block of calls of one contender,
// about blockTime long: the first call of a block comes right after other
// contenders' work and is recorded apart ("cold"); the others are the
// steady state ("samples"). As in the C driver.
const (
	blockTime = 2 * time.Millisecond
	blockMax  = 50
)

func runWorkload(out *printer, w *spec.Workload, all []contender) {
	var cs []contender
	var blocks []int
	for _, c := range all {
		if !takes(c, w) {
			continue
		}
		var err error
		if usesHandle(w) {
			err = c.open(w.Pid)
		} else if p, ok := c.(parser); ok && w.Kind == spec.KindParse {
			err = p.loadText(w)
		}
		var perCall time.Duration
		if err == nil {
			perCall, err = check(out, c, w)
		}
		if err != nil {
			// A kernel without PROCMAP_QUERY is not a failure: skipped.
			kind := "error"
			if errors.Is(err, core.ErrNotSupported) {
				kind = "note"
			}
			out.printf("%s %s %s %v\n", kind, w.Name, c.name(), err)
			release(c, w)
			continue
		}
		cs = append(cs, c)
		blocks = append(blocks, max(1, min(int(blockTime/max(perCall, 1)), blockMax, w.Iters)))
	}
	warm := make([][]int64, len(cs))
	cold := make([][]int64, len(cs))
	// Stop at the budget once every contender has 5 calls, and at three
	// times the budget in any case (as the C driver).
	budget := time.Duration(w.BudgetMs) * time.Millisecond
	deadline := time.Now().Add(budget)
	hardDeadline := deadline.Add(2 * budget)
	minIters := min(w.Iters, 5)
	for it, least := 0, 0; least < w.Iters; it += blockMax {
		now := time.Now()
		if (least >= minIters && !now.Before(deadline)) || (least > 0 && !now.Before(hardDeadline)) {
			break
		}
		least = int(^uint(0) >> 1)
		for k, c := range cs {
			for j := range blocks[k] {
				t0 := time.Now()
				err := call(c, w, it+j)
				d := int64(time.Since(t0))
				if err != nil {
					out.printf("error %s %s %v\n", w.Name, c.name(), err)
					d = -1
				}
				if j == 0 && blocks[k] > 1 {
					cold[k] = append(cold[k], d)
				} else {
					warm[k] = append(warm[k], d)
				}
			}
			least = min(least, len(warm[k]))
			if g, ok := c.(garbageMaker); ok && g.makesGarbage(w) {
				// Collect its garbage now, so that the collection does
				// not run while the next contender is timed.
				runtime.GC()
			}
		}
	}
	for k, c := range cs {
		out.samples("samples", w, c, warm[k])
		out.samples("cold", w, c, cold[k])
		if s := c.strategy(); s != "" {
			out.printf("info %s %s strategy=%s\n", w.Name, c.name(), s)
		}
		out.printf("info %s %s allocs=%.1f\n", w.Name, c.name(), allocsPerCall(c, w))
		release(c, w)
	}
}

// release undoes what runWorkload prepared for c: its kept handle, or its
// loaded text.
func release(c contender, w *spec.Workload) {
	switch {
	case usesHandle(w):
		c.close()
	case w.Kind == spec.KindParse:
		c.(parser).unloadText()
	}
}

// garbageMaker is a contender that allocates on every call of some
// workloads.
type garbageMaker interface{ makesGarbage(w *spec.Workload) bool }

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
