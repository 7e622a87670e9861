package stress

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libprocmapq/libprocmapq/core"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

const pageSize = 4096

// checker validates every answer about a mutator against what the mutator
// can really have mapped. It is safe for concurrent use.
type checker struct {
	m *mutator

	queries, addrs, enums, compares atomic.Int64
	compareRetried, compareNever    atomic.Int64
	queryOverlaps                   atomic.Int64 // query tables holding two views of a changing region
	violations                      atomic.Int64
	mu                              sync.Mutex
	first                           []string // the first violations, for the log
}

func (c *checker) violation(format string, args ...any) {
	c.violations.Add(1)
	c.mu.Lock()
	if len(c.first) < 20 {
		c.first = append(c.first, fmt.Sprintf(format, args...))
	}
	c.mu.Unlock()
}

// checkVMA checks one VMA is well formed and one the target can have: its
// perms and name among those the mutator made (or had before churning).
func (c *checker) checkVMA(where string, v *core.VMA) {
	switch {
	case v.Start >= v.End:
		c.violation("%s: empty or inverted VMA %x-%x", where, v.Start, v.End)
	case v.Start%pageSize != 0 || v.End%pageSize != 0:
		c.violation("%s: VMA %x-%x not page aligned", where, v.Start, v.End)
	case v.Offset%pageSize != 0:
		c.violation("%s: VMA %x-%x offset %#x not page aligned", where, v.Start, v.End, v.Offset)
	case len(v.Name) == 0 && v.Offset != 0:
		c.violation("%s: anonymous VMA %x-%x with offset %#x", where, v.Start, v.End, v.Offset)
	case v.PageSize != 0 && v.PageSize != pageSize:
		c.violation("%s: VMA %x-%x page size %d", where, v.Start, v.End, v.PageSize)
	}
	pair := v.Perms.String() + " " + string(v.Name)
	if c.m.inWindow(v.Start, v.End) {
		if !c.m.churnPairs[pair] && !c.m.baseline[pair] {
			c.violation("%s: VMA %x-%x %q in a churn window: never created there", where, v.Start, v.End, pair)
		}
	} else if !c.m.baseline[pair] {
		c.violation("%s: VMA %x-%x %q outside the churn windows: not in the baseline", where, v.Start, v.End, pair)
	}
}

// checkUntouched checks v is exactly untouched mapping u.
func (c *checker) checkUntouched(where string, u *untouchedMapping, v *core.VMA) {
	if v.Start != u.Start || v.End != u.End || v.Perms.String() != u.Perms || v.Offset != u.Offset || string(v.Name) != u.Name {
		c.violation("%s: untouched %s is %x-%x %s %#x %q, want %x-%x %s %#x %q", where, u.Label,
			v.Start, v.End, v.Perms, v.Offset, v.Name, u.Start, u.End, u.Perms, u.Offset, u.Name)
	}
}

// passes reports whether untouched mapping u passes filter f.
func passes(u *untouchedMapping, f core.Filter) bool {
	var p core.Perm
	for i, bit := range []core.Perm{core.PermRead, core.PermWrite, core.PermExec} {
		if u.Perms[i] != '-' {
			p |= bit
		}
	}
	if u.Perms[3] == 's' {
		p |= core.PermShared
	}
	return p&f.Perms == f.Perms && (!f.FileBacked || u.Name != "")
}

// checkEnumeration checks an enumeration with filter f: sorted, no
// overlaps, every VMA well formed and passing the filter, and every
// untouched mapping that passes the filter present and exact.
func (c *checker) checkEnumeration(where string, f core.Filter, vmas []core.VMA) {
	c.enums.Add(1)
	for i := range vmas {
		v := &vmas[i]
		c.checkVMA(where, v)
		if i > 0 && v.Start < vmas[i-1].End {
			c.violation("%s: VMA %x-%x not after %x-%x (unsorted or overlapping)", where, v.Start, v.End, vmas[i-1].Start, vmas[i-1].End)
		}
		if v.Perms&f.Perms != f.Perms || (f.FileBacked && !v.FileBacked()) {
			c.violation("%s: VMA %x-%x %s %q fails filter %+v", where, v.Start, v.End, v.Perms, v.Name, f)
		}
	}
	for i := range c.m.Untouched {
		u := &c.m.Untouched[i]
		if !passes(u, f) {
			continue
		}
		found := false
		for j := range vmas {
			if vmas[j].Start <= u.Start && u.Start < vmas[j].End {
				c.checkUntouched(where, u, &vmas[j])
				found = true
				break
			}
		}
		if !found {
			c.violation("%s: untouched %s %x-%x missing", where, u.Label, u.Start, u.End)
		}
	}
}

// checkQuery checks a query's answers: a found VMA covers its address and
// passes the filter, the table is sorted without overlaps, and untouched
// addresses are found with their exact VMA (or filtered when they fail f).
func (c *checker) checkQuery(where string, f core.Filter, addrs []uint64, untouched []int, res *core.Result) {
	c.queries.Add(1)
	c.addrs.Add(int64(len(addrs)))
	if len(res.Lookups) != len(addrs) {
		c.violation("%s: %d lookups for %d addresses", where, len(res.Lookups), len(addrs))
		return
	}
	overlap := false
	for i := range res.VMAs {
		c.checkVMA(where, &res.VMAs[i])
		if i > 0 && res.VMAs[i].Start < res.VMAs[i-1].Start {
			c.violation("%s: VMA table not in ascending order at %x", where, res.VMAs[i].Start)
		}
		overlap = overlap || i > 0 && res.VMAs[i].Start < res.VMAs[i-1].End
	}
	if overlap {
		// Two answers saw one region before and after a change: allowed in
		// a query table (each lookup is checked against its own VMA), but
		// counted.
		c.queryOverlaps.Add(1)
	}
	for i, a := range addrs {
		l := res.Lookups[i]
		switch l.Reason {
		case core.ReasonFound:
			if l.VMA < 0 || int(l.VMA) >= len(res.VMAs) {
				c.violation("%s: addr %#x: VMA index %d of %d", where, a, l.VMA, len(res.VMAs))
				continue
			}
			v := &res.VMAs[l.VMA]
			if !v.Contains(a) {
				c.violation("%s: addr %#x reported in %x-%x, which does not cover it", where, a, v.Start, v.End)
			}
			if v.Perms&f.Perms != f.Perms {
				c.violation("%s: addr %#x: VMA %x-%x %s fails filter", where, a, v.Start, v.End, v.Perms)
			}
		case core.ReasonUnmapped, core.ReasonFiltered:
			if l.VMA != -1 {
				c.violation("%s: addr %#x: reason %v with VMA index %d", where, a, l.Reason, l.VMA)
			}
		default:
			c.violation("%s: addr %#x: reason %v on a live target", where, a, l.Reason)
		}
		if u := untouched[i]; u >= 0 {
			um := &c.m.Untouched[u]
			want := core.ReasonFound
			if !passes(um, f) {
				want = core.ReasonFiltered
			}
			if l.Reason != want {
				c.violation("%s: untouched %s addr %#x: reason %v, want %v", where, um.Label, a, l.Reason, want)
			} else if want == core.ReasonFound {
				c.checkUntouched(where, um, &res.VMAs[l.VMA])
			}
		}
	}
}

// batch builds a query batch: both ends of every untouched mapping, every
// page of the churn windows (in random order) and random addresses,
// including unmapped ones. untouched[i] is the untouched mapping addrs[i]
// belongs to, or -1.
func (c *checker) batch(rng *rand.Rand, addrs []uint64, untouched []int) ([]uint64, []int) {
	addrs, untouched = addrs[:0], untouched[:0]
	for i, u := range c.m.Untouched {
		addrs = append(addrs, u.Start, u.End-1, u.Start+rng.Uint64N(u.End-u.Start))
		untouched = append(untouched, i, i, i)
	}
	for _, w := range c.m.Windows {
		for a := w[0]; a < w[1]; a += pageSize {
			addrs = append(addrs, a+rng.Uint64N(pageSize))
			untouched = append(untouched, -1)
		}
	}
	for range 32 {
		addrs = append(addrs, rng.Uint64N(1<<47))
		untouched = append(untouched, -1)
	}
	rng.Shuffle(len(addrs), func(i, j int) {
		addrs[i], addrs[j] = addrs[j], addrs[i]
		untouched[i], untouched[j] = untouched[j], untouched[i]
	})
	return addrs, untouched
}

// filters the churn workers cycle through.
var churnFilters = []core.Filter{{}, {Perms: core.PermExec}, {Perms: core.PermRead | core.PermWrite}, {FileBacked: true}}

var churnBackends = []core.Backend{core.BackendAuto, core.BackendIoctl, core.BackendText}

// churnWorker queries and enumerates the mutator through h until deadline,
// checking every answer.
func (c *checker) churnWorker(t *testing.T, h *core.Handle, seed uint64, deadline time.Time) {
	rng := rand.New(rand.NewPCG(seed, 9))
	var res core.Result
	var addrs []uint64
	var untouched []int
	for i := 0; time.Now().Before(deadline); i++ {
		opts := core.Options{
			Backend:  churnBackends[rng.IntN(len(churnBackends))],
			Filter:   churnFilters[rng.IntN(len(churnFilters))],
			BuildIDs: rng.IntN(4) == 0,
		}
		where := fmt.Sprintf("%s %+v", opts.Backend, opts.Filter)
		if i%3 == 0 {
			if err := h.Enumerate(&opts, &res); err != nil {
				c.violation("enumerate %s: %v", where, err)
				continue
			}
			c.checkEnumeration("enumerate "+where, opts.Filter, res.VMAs)
			continue
		}
		addrs, untouched = c.batch(rng, addrs, untouched)
		if err := h.Query(addrs, &opts, &res); err != nil {
			c.violation("query %s: %v", where, err)
			continue
		}
		c.checkQuery("query "+where, opts.Filter, addrs, untouched, &res)
	}
}

// compareWorker runs Compare on the mutator until deadline and counts the
// runs that needed a retry. A settled report must have no mismatch.
func (c *checker) compareWorker(h *core.Handle, deadline time.Time) {
	for time.Now().Before(deadline) {
		rep, err := h.Compare(&core.CompareOptions{Attempts: 20, RetryDelay: time.Millisecond})
		c.compares.Add(1)
		switch {
		case errors.Is(err, core.ErrNotSettled):
			c.compareRetried.Add(1)
			c.compareNever.Add(1)
			continue
		case err != nil:
			c.violation("compare: %v", err)
			continue
		}
		if rep.Attempts > 1 {
			c.compareRetried.Add(1)
		}
		if !rep.Settled || len(rep.Mismatches) > 0 {
			c.violation("compare: settled=%v with %d mismatches:\n%s", rep.Settled, len(rep.Mismatches), rep)
		}
	}
}

func (c *checker) report(t *testing.T, elapsed time.Duration) {
	t.Logf("mutator pid %d: %d mutations in %v; checked %d queries (%d addresses) and %d enumerations; %d violations",
		c.m.Pid, c.m.Ops, elapsed.Round(time.Millisecond), c.queries.Load(), c.addrs.Load(), c.enums.Load(), c.violations.Load())
	if n := c.queryOverlaps.Load(); n > 0 {
		t.Logf("query tables with two overlapping views of a changing region (allowed): %d", n)
	}
	if n := c.compares.Load(); n > 0 {
		t.Logf("compare runs: %d, needed a retry: %d, never settled (20 attempts): %d", n, c.compareRetried.Load(), c.compareNever.Load())
	}
	fmt.Fprintf(os.Stderr, "FIGURE churn-go: queries=%d addresses=%d enumerations=%d violations=%d compare_runs=%d compare_retried=%d compare_unsettled=%d query_table_overlaps=%d mutations=%d seconds=%.1f\n",
		c.queries.Load(), c.addrs.Load(), c.enums.Load(), c.violations.Load(), c.compares.Load(),
		c.compareRetried.Load(), c.compareNever.Load(), c.queryOverlaps.Load(), c.m.Ops, elapsed.Seconds())
	for _, v := range c.first {
		t.Error(v)
	}
	if c.violations.Load() != 0 {
		t.Fatalf("%d violations", c.violations.Load())
	}
}

// TestChurnInvariants queries a mutator through every backend, filters, a
// shared handle and per-worker pid and fd handles, from several goroutines,
// while it splits, merges, resizes, moves and replaces mappings; a compare
// worker runs alongside.
func TestChurnInvariants(t *testing.T) {
	requireIoctl(t)
	m := startMutator(t, 4, 0)
	c := &checker{m: m}
	d := durationFor(4*time.Second, 60*time.Second)
	shared, err := core.Open(m.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range 4 {
		h := shared
		switch w {
		case 1:
			if h, err = core.Open(m.Pid); err != nil {
				t.Fatal(err)
			}
			defer h.Close()
		case 2:
			f, err := os.Open(fmt.Sprintf("/proc/%d/maps", m.Pid))
			if err != nil {
				t.Fatal(err)
			}
			h, err = core.OpenFD(int(f.Fd()), &core.OpenOptions{Pid: m.Pid})
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
		}
		wg.Go(func() { c.churnWorker(t, h, uint64(w), deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	m.stop(t)
	if m.Ops == 0 {
		t.Fatal("the mutator made no mutation: the test proved nothing")
	}
	c.report(t, elapsed)
}

// TestChurnCompare runs Compare against a mutator that pauses between
// rounds, counting the runs that needed a retry; settled reports must agree.
func TestChurnCompare(t *testing.T) {
	requireIoctl(t)
	m := startMutator(t, 2, 3000)
	c := &checker{m: m}
	h, err := core.Open(m.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	start := time.Now()
	c.compareWorker(h, start.Add(durationFor(2*time.Second, 20*time.Second)))
	elapsed := time.Since(start)
	m.stop(t)
	c.report(t, elapsed)
}

// haveIoctl reports whether this process may use PROCMAP_QUERY, failing the
// test when it is missing but required (testtarget.CheckIoctl).
func haveIoctl(tb testing.TB) bool {
	tb.Helper()
	ok, err := core.SupportsProcmapQuery()
	return testtarget.CheckIoctl(tb, ok, err)
}

// requireIoctl skips a test about the ioctl when the kernel lacks it, or
// fails it when the ioctl is required (testtarget.SkipWithoutIoctl).
func requireIoctl(tb testing.TB) {
	tb.Helper()
	ok, err := core.SupportsProcmapQuery()
	testtarget.SkipWithoutIoctl(tb, ok, err)
}
