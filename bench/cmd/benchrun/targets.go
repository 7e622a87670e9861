package main

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
	"github.com/libprocmapq/libprocmapq/core"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// targetSize is one generated target: Modules r-x file-backed modules
// (3 VMAs each) plus Anon one-page anonymous VMAs, on top of the ~25 VMAs
// of the program itself, for about VMAs in all.
type targetSize struct {
	VMAs, Modules, Anon int
}

var targetSizes = []targetSize{
	{VMAs: 100, Modules: 10, Anon: 45},
	{VMAs: 650, Modules: 40, Anon: 505},
	{VMAs: 2000, Modules: 100, Anon: 1675},
	{VMAs: 20000, Modules: 1000, Anon: 16975},
}

// target is a running target process and what it maps.
type target struct {
	size    targetSize
	proc    *testtarget.Target
	vmas    []core.VMA // every VMA, from its maps text at start
	modules []core.VMA // the modules' r-x VMAs
	block   testtarget.Mapping
	text    []byte // its maps text at start (parse workloads)
}

func startTarget(size targetSize) (*target, error) {
	opts := testtarget.Options{VMAs: size.Anon, Modules: size.Modules}
	// Creating 1,000 module files on a disk-backed /tmp takes seconds; on
	// tmpfs it takes milliseconds, and the maps look the same.
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		opts.Dir = fmt.Sprintf("/dev/shm/procmapq-bench-%d-%d", os.Getpid(), size.VMAs)
	}
	p, err := testtarget.StartProcess(opts)
	if err != nil {
		return nil, err
	}
	t := &target{size: size, proc: p}
	t.text, err = os.ReadFile(fmt.Sprintf("/proc/%d/maps", p.Pid))
	if err == nil {
		t.vmas, err = core.ParseMaps(t.text)
	}
	if err != nil {
		p.Stop()
		return nil, err
	}
	for _, m := range p.Mappings {
		if strings.HasSuffix(m.Label, "-text") {
			t.modules = append(t.modules, core.VMA{Start: m.Start, End: m.End})
		}
		if m.Label == "vmas" {
			t.block = m
		}
	}
	return t, nil
}

// queryable are the VMAs any backend reports: all but the gate page.
func (t *target) queryable() []core.VMA {
	var out []core.VMA
	for _, v := range t.vmas {
		if v.Start < spec.GateStart {
			out = append(out, v)
		}
	}
	return out
}

// workload is a spec workload with what the report needs to know.
type workload struct {
	spec.Workload
	Title       string
	Target      *target // nil: each driver's own process
	Group       string  // plot series: sparse, enum-all, enum-exec
	Adversarial bool
	Iters       int // totals over all rounds
	BudgetMs    int
}

// rngFor gives each workload its own repeatable random stream.
func rngFor(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func addrIn(r *rand.Rand, v core.VMA) uint64 { return v.Start + r.Uint64N(v.End-v.Start) }

func pick(r *rand.Rand, vs []core.VMA, k int) []core.VMA {
	vs = slices.Clone(vs)
	r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
	return vs[:min(k, len(vs))]
}

// spread returns n addresses over vs: one in each, the rest at random.
func spread(r *rand.Rand, vs []core.VMA, n int) []uint64 {
	addrs := make([]uint64, 0, n)
	for _, v := range vs {
		addrs = append(addrs, addrIn(r, v))
	}
	for len(addrs) < n {
		addrs = append(addrs, addrIn(r, vs[r.IntN(len(vs))]))
	}
	slices.Sort(addrs)
	return addrs
}

// repeatUnique returns n addresses drawn from unique distinct ones, each
// present at least once, as the seed's run had (3,244 addresses, 464 unique).
func repeatUnique(r *rand.Rand, vs []core.VMA, unique, n int) []uint64 {
	set := map[uint64]bool{}
	var u []uint64
	for len(u) < unique {
		a := addrIn(r, vs[r.IntN(len(vs))])
		if !set[a] {
			set[a] = true
			u = append(u, a)
		}
	}
	addrs := slices.Clone(u)
	for len(addrs) < n {
		addrs = append(addrs, u[r.IntN(len(u))])
	}
	slices.Sort(addrs)
	return addrs
}

// pageAddrs returns n addresses inside page i of the target's block of
// one-page VMAs.
func (t *target) pageAddrs(r *rand.Rand, page, n int) []uint64 {
	base := t.block.Start + uint64(page)*pageSize
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + r.Uint64N(pageSize)
	}
	return out
}

const pageSize = 4096

// skiRentalBatch is 3,000 addresses in page heavy of the block of one-page
// VMAs plus one address in each of k pages from spreadLow on, sorted.
func (t *target) skiRentalBatch(r *rand.Rand, heavy, spreadLow, k int) []uint64 {
	a := t.pageAddrs(r, heavy, 3000)
	for p := range k {
		a = append(a, t.pageAddrs(r, spreadLow+p, 1)...)
	}
	slices.Sort(a)
	return a
}

// breakEven estimates how many point ioctls cost as much as one text
// read of t, the point where a ski-rental planner switches: the adversarial
// batches are built around it.
func breakEven(t *target) (int, error) {
	h, err := core.Open(t.proc.Pid)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	var res core.Result
	pages := min(256, (int(t.block.End-t.block.Start))/pageSize)
	probe := make([]uint64, pages)
	for i := range probe {
		probe[i] = t.block.Start + uint64(i)*pageSize
	}
	var text, ioctl []time.Duration
	for range 9 {
		t0 := time.Now()
		if err := h.Enumerate(&core.Options{Backend: core.BackendText}, &res); err != nil {
			return 0, err
		}
		text = append(text, time.Since(t0))
		t0 = time.Now()
		if err := h.Query(probe, &core.Options{Backend: core.BackendIoctl, Sorted: true}, &res); err != nil {
			return 0, err
		}
		ioctl = append(ioctl, time.Since(t0)/time.Duration(pages))
	}
	slices.Sort(text)
	slices.Sort(ioctl)
	k := int(text[len(text)/2] / max(ioctl[len(ioctl)/2], 1))
	return max(16, min(k, int(t.block.End-t.block.Start)/pageSize-16)), nil
}

// buildWorkloads makes every workload and writes its address file into
// dir. targets maps a size to its running target; quick makes the smoke
// run's single-address workload shorter.
func buildWorkloads(dir string, seed uint64, targets map[int]*target, selected func(string) bool, quick bool) ([]*workload, error) {
	var ws []*workload
	add := func(w *workload, addrs []uint64) error {
		if !selected(w.Name) {
			return nil
		}
		if w.Target != nil {
			w.Pid = w.Target.proc.Pid
		}
		if addrs != nil {
			w.Arg = filepath.Join(dir, w.Name+".addrs")
			if err := spec.WriteAddrs(w.Arg, addrs); err != nil {
				return err
			}
			w.Addrs = addrs
		}
		ws = append(ws, w)
		return nil
	}
	vmaCount := func(t *target) string { return strconv.Itoa(len(t.vmas)) }
	var err error
	must := func(e error) {
		if err == nil {
			err = e
		}
	}

	must(add(&workload{Workload: spec.Workload{Name: "blazesym-kept", Kind: spec.KindBlazesym, Arg: "-"},
		Title: "blazesym: 5 code addresses (3 libc, 2 executable) → 2 modules, own process, handle kept open",
		Iters: 3000, BudgetMs: 1000}, nil))
	must(add(&workload{Workload: spec.Workload{Name: "blazesym-open", Kind: spec.KindBlazesym, Arg: "-", OpenEach: true},
		Title: "blazesym: same, open + query + close per call (as blazesym does)",
		Iters: 3000, BudgetMs: 1000}, nil))

	if t := targets[650]; t != nil {
		r := rngFor(seed, "procfs_query")
		mods := pick(r, t.modules, 5)
		must(add(&workload{Workload: spec.Workload{Name: "procfs_query", Kind: spec.KindQuery},
			Title:  "procfs_query (the seed's run): 3,000 addresses (460 unique) in 5 executable VMAs of a " + vmaCount(t) + "-VMA target",
			Target: t, Iters: 2000, BudgetMs: 2000}, repeatUnique(r, mods, 460, 3000)))
		r = rngFor(seed, "dense")
		must(add(&workload{Workload: spec.Workload{Name: "dense", Kind: spec.KindQuery},
			Title:  "dense: 3,000 addresses over 450 distinct VMAs of a " + vmaCount(t) + "-VMA target",
			Target: t, Iters: 2000, BudgetMs: 2000}, spread(r, pick(r, t.queryable(), 450), 3000)))
		r = rngFor(seed, "single")
		// Every contender answers each address once to be checked: fewer
		// of them keep the smoke run short.
		single := make([]uint64, 256)
		if quick {
			single = single[:32]
		}
		q := t.queryable()
		for i := range single {
			single[i] = addrIn(r, q[r.IntN(len(q))])
		}
		must(add(&workload{Workload: spec.Workload{Name: "single", Kind: spec.KindSingle},
			Title:  "single address per call (crash-tracker style), random VMAs of a " + vmaCount(t) + "-VMA target",
			Target: t, Iters: 5000, BudgetMs: 1200}, single))
		// A profiler resolving one sample of another process: open its
		// maps, one address, close (C: open + one PROCMAP_QUERY + close).
		must(add(&workload{Workload: spec.Workload{Name: "single-open", Kind: spec.KindSingle, OpenEach: true},
			Title:  "single-open: open + 1 address + close per call, same addresses as `single`, another process (" + vmaCount(t) + " VMAs)",
			Target: t, Iters: 3000, BudgetMs: 1200}, single))
		// blazesym's pattern: a fresh handle for every batch, so nothing
		// learnt by an earlier handle is kept by the handle itself.
		r = rngFor(seed, "dense")
		must(add(&workload{Workload: spec.Workload{Name: "dense-open", Kind: spec.KindQuery, OpenEach: true},
			Title:  "dense-open: the `dense` batch (3,000 addresses over 450 VMAs of " + vmaCount(t) + "), open + query + close per call",
			Target: t, Iters: 2000, BudgetMs: 2000}, spread(r, pick(r, t.queryable(), 450), 3000)))
	}
	// Parse only: a maps text captured once at start, parsed from memory
	// (no kernel cost); answers are an enumeration's.
	for _, n := range []int{650, 20000} {
		t := targets[n]
		if t == nil {
			continue
		}
		name := "parse-" + strconv.Itoa(n)
		w := &workload{Workload: spec.Workload{Name: name, Kind: spec.KindParse},
			Title:  fmt.Sprintf("parse only: the %d-line maps text of the %s-VMA target, captured at start, parsed from memory (no kernel)", len(t.vmas), vmaCount(t)),
			Target: t, Group: "parse", Iters: 2000, BudgetMs: map[int]int{650: 1000, 20000: 3000}[n]}
		if selected(name) {
			w.Arg = filepath.Join(dir, name+".maps")
			must(os.WriteFile(w.Arg, t.text, 0o644))
		}
		must(add(w, nil))
	}
	for _, size := range targetSizes {
		t := targets[size.VMAs]
		if t == nil {
			continue
		}
		n := strconv.Itoa(size.VMAs)
		r := rngFor(seed, "sparse-"+n)
		must(add(&workload{Workload: spec.Workload{Name: "sparse-" + n, Kind: spec.KindQuery},
			Title:  "sparse: 100 addresses in 10 modules of a " + vmaCount(t) + "-VMA target",
			Target: t, Group: "sparse", Iters: 2000, BudgetMs: 1000}, spread(r, pick(r, t.modules, 10), 100)))
		budget := map[int]int{100: 1000, 650: 1500, 2000: 2500, 20000: 5000}[size.VMAs]
		must(add(&workload{Workload: spec.Workload{Name: "enum-all-" + n, Kind: spec.KindEnum, Arg: "all"},
			Title:  "full enumeration, all VMAs of a " + vmaCount(t) + "-VMA target",
			Target: t, Group: "enum-all", Iters: 2000, BudgetMs: budget}, nil))
		must(add(&workload{Workload: spec.Workload{Name: "enum-exec-" + n, Kind: spec.KindEnum, Arg: "exec"},
			Title:  "enumeration of executable VMAs only (" + strconv.Itoa(size.Modules) + " modules) of a " + vmaCount(t) + "-VMA target",
			Target: t, Group: "enum-exec", Iters: 2000, BudgetMs: budget * 3 / 4}, nil))
	}
	if t := targets[2000]; t != nil && (selected("adv-spread-first") || selected("adv-heavy-first") ||
		selected("adv-spread-first-fresh") || selected("adv-heavy-first-fresh")) {
		k, e := breakEven(t)
		if errors.Is(e, core.ErrNotSupported) {
			// No PROCMAP_QUERY (kernel before 6.11): auto always reads
			// text, so the batches only need to exist.
			k, e = 256, nil
		}
		must(e)
		for _, fresh := range []bool{false, true} {
			suffix, how := "", "kept handle"
			if fresh {
				suffix, how = "-fresh", "new handle per call (no history)"
			}
			// Sorted, the spread pages come first when they lie below
			// the heavy page, and last when above it.
			for _, v := range []struct {
				name, shape      string
				heavy, spreadLow int
			}{
				{"adv-spread-first", "%d addresses each in a new VMA, then 3,000 in one VMA", k + 5, 0},
				{"adv-heavy-first", "3,000 addresses in one VMA, then %d each in a new VMA", 0, 5},
			} {
				a := t.skiRentalBatch(rngFor(seed, v.name), v.heavy, v.spreadLow, k)
				must(add(&workload{Workload: spec.Workload{Name: v.name + suffix, Kind: spec.KindQuery, OpenEach: fresh},
					Title:  fmt.Sprintf("adversarial (ski rental): "+v.shape+", %s-VMA target, %s", k, vmaCount(t), how),
					Target: t, Adversarial: true, Iters: 2000, BudgetMs: 1000}, a))
			}
		}
	}
	return ws, err
}

// neededSizes lists the target sizes the selected workloads use.
func neededSizes(selected func(string) bool) []targetSize {
	var out []targetSize
	for _, s := range targetSizes {
		n := strconv.Itoa(s.VMAs)
		use := selected("sparse-"+n) || selected("enum-all-"+n) || selected("enum-exec-"+n)
		switch s.VMAs {
		case 650:
			for _, w := range []string{"procfs_query", "dense", "dense-open", "single", "single-open", "parse-650"} {
				use = use || selected(w)
			}
		case 20000:
			use = use || selected("parse-20000")
		case 2000:
			for _, a := range []string{"adv-spread-first", "adv-heavy-first", "adv-spread-first-fresh", "adv-heavy-first-fresh"} {
				use = use || selected(a)
			}
		}
		if use {
			out = append(out, s)
		}
	}
	return out
}
