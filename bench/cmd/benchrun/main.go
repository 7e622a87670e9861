// Command benchrun is the side-by-side benchmark orchestrator.
//
// It starts target processes with chosen numbers of VMAs and modules
// (tests/target via internal/testtarget), generates address batches from
// their real maps with a seeded RNG, runs the C driver (bench/c), the Go
// driver (cmd/gobench) and, when present, the Python driver on the same
// pids in alternating rounds, checks that every contender gave the same
// answers, and prints one table per workload (median per call, ratio to
// the physical limit and to the best text contender), auto against the
// best fixed backend, the C ABI's own costs, and an SVG plot of time per
// call against the number of VMAs.
//
//	benchrun -quick                       every contender once; fails on disagreement
//	benchrun -only 'dense|sparse-20000'   rerun some workloads (regexp)
//	benchrun -publish                     also write bench/RESULTS.md, bench/results.svg
//	                                      and the README's performance section
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
)

type config struct {
	cDriver, goDriver, pyDriver, lib string
	quick, publish, verbose          bool
	rounds                           int
	budgetScale                      float64
	only                             *regexp.Regexp
	contenders                       []string
	outDir, repoRoot                 string
	seed                             uint64
}

func main() {
	var c config
	var only, contenders string
	flag.StringVar(&c.cDriver, "c-driver", "build/bench/driver", "C driver binary")
	flag.StringVar(&c.goDriver, "go-driver", "build/bench/gobench", "Go driver binary")
	flag.StringVar(&c.pyDriver, "py-driver", "bench/py/pybench.py", "Python driver (used if it and the binding exist)")
	flag.StringVar(&c.lib, "lib", "build/libprocmapq.so", "libprocmapq.so for the C ABI contenders")
	flag.BoolVar(&c.quick, "quick", false, "run every contender once and check that the answers agree (no timing report)")
	flag.BoolVar(&c.verbose, "v", false, "log the phases and their durations")
	flag.BoolVar(&c.publish, "publish", false, "write bench/RESULTS.md, bench/results.svg and the README performance section")
	flag.IntVar(&c.rounds, "rounds", 3, "alternate the drivers this many times")
	flag.Float64Var(&c.budgetScale, "budget", 1, "scale every workload's time budget")
	flag.StringVar(&only, "only", "", "run only the workloads whose names match this regexp")
	flag.StringVar(&contenders, "contenders", "", "run only these contenders (comma-separated, e.g. c-limit,cabi-auto,go-auto)")
	flag.StringVar(&c.outDir, "out", "bench/out", "where specs, raw results, tables and the plot go")
	flag.StringVar(&c.repoRoot, "root", ".", "repository root (for -publish)")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the address generator")
	flag.Parse()
	if only != "" {
		c.only = regexp.MustCompile(only)
	}
	if contenders != "" {
		c.contenders = strings.Split(contenders, ",")
	}
	if c.publish && (c.only != nil || c.contenders != nil || c.quick) {
		fmt.Fprintln(os.Stderr, "benchrun: -publish needs the full run (no -only, -contenders or -quick)")
		os.Exit(2)
	}
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// logf logs a phase with the time since start, with -v.
func (c *config) logf(start time.Time, format string, args ...any) {
	if c.verbose {
		fmt.Fprintf(os.Stderr, "benchrun: %6.2fs %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
}

func (c *config) selected(name string) bool { return c.only == nil || c.only.MatchString(name) }

func run(c *config) error {
	start := time.Now()
	if err := os.MkdirAll(filepath.Join(c.outDir, "addrs"), 0o755); err != nil {
		return err
	}
	for _, p := range []*string{&c.cDriver, &c.goDriver, &c.lib, &c.pyDriver} {
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
	if _, err := os.Stat(c.lib); err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: %s missing: C ABI contenders skipped\n", c.lib)
		c.lib = ""
	}
	targets := map[int]*target{}
	defer func() {
		for _, t := range targets {
			t.proc.Stop()
		}
	}()
	for _, size := range neededSizes(c.selected) {
		t, err := startTarget(size)
		if err != nil {
			return fmt.Errorf("target with %d VMAs: %v", size.VMAs, err)
		}
		targets[size.VMAs] = t
		c.logf(start, "target %d started: pid %d, %d VMAs", size.VMAs, t.proc.Pid, len(t.vmas))
	}
	ws, err := buildWorkloads(filepath.Join(c.outDir, "addrs"), c.seed, targets, c.selected, c.quick)
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return fmt.Errorf("no workload matches -only")
	}
	c.logf(start, "%d workloads generated", len(ws))
	drivers := c.drivers()
	rounds := c.rounds
	if c.quick {
		rounds = 1
	}
	res := spec.NewRun()
	raw := &bytes.Buffer{}
	for round := range rounds {
		for _, d := range drivers {
			specPath := filepath.Join(c.outDir, d.name+".spec")
			if err := writeSpec(specPath, c, ws, rounds, d); err != nil {
				return err
			}
			out, err := d.run(specPath)
			fmt.Fprintf(raw, "# round %d driver %s\n%s", round, d.name, out)
			if err != nil {
				return fmt.Errorf("%s driver: %v", d.name, err)
			}
			if err := res.Parse(d.name, bytes.NewReader(out)); err != nil {
				return err
			}
			c.logf(start, "round %d: %s driver done", round, d.name)
		}
	}
	if err := c.extras(res, raw, targets); err != nil {
		return err
	}
	c.logf(start, "extras done")
	if err := os.WriteFile(filepath.Join(c.outDir, "raw.txt"), raw.Bytes(), 0o644); err != nil {
		return err
	}
	disagreements := checkAgreement(ws, res)
	for _, n := range res.Notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	problems := append(res.Errors, disagreements...)
	if c.quick {
		return quickSummary(ws, res, problems, time.Since(start))
	}
	rep := buildReport(ws, res, describeMachine(res), c.quick)
	md := rep.markdown()
	fmt.Print(md)
	if err := os.WriteFile(filepath.Join(c.outDir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	svg := rep.plot()
	if err := os.WriteFile(filepath.Join(c.outDir, "results.svg"), []byte(svg), 0o644); err != nil {
		return err
	}
	if c.publish {
		if err := publish(c.repoRoot, rep, svg); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "benchrun: done in %s; tables in %s\n", time.Since(start).Round(time.Second), filepath.Join(c.outDir, "results.md"))
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return nil
}

// quickSummary is the smoke test's outcome: every contender ran every
// workload and all of them agreed.
func quickSummary(ws []*workload, res *spec.Run, problems []string, took time.Duration) error {
	checks := 0
	for _, w := range ws {
		checks += len(res.Digests[w.Name])
	}
	for _, p := range problems {
		fmt.Println("FAIL", p)
	}
	fmt.Printf("bench smoke: %d workloads, contenders %s (%s)\n", len(ws), strings.Join(res.Order, " "), took.Round(time.Millisecond))
	fmt.Printf("%d passed, %d failed\n", checks, len(problems))
	if len(problems) > 0 {
		return fmt.Errorf("contenders disagree or failed")
	}
	return nil
}

// checkAgreement reports every workload where contenders' answers differ.
// A target's maps do not change, so all answers, from every driver and
// round, must be the same. An own-process workload is compared within
// one driver run: each run is a new process with its own layout.
func checkAgreement(ws []*workload, res *spec.Run) []string {
	var out []string
	for _, w := range ws {
		digests := res.Digests[w.Name]
		if len(digests) == 0 {
			out = append(out, w.Name+": no contender answered")
			continue
		}
		groups := map[string]map[spec.Digest][]string{}
		for c, ds := range digests {
			for round, d := range ds {
				g := "all"
				if w.Target == nil {
					g = fmt.Sprintf("%s driver, round %d", driverOf(c), round)
				}
				if groups[g] == nil {
					groups[g] = map[spec.Digest][]string{}
				}
				if !slices.Contains(groups[g][d], c) {
					groups[g][d] = append(groups[g][d], c)
				}
			}
		}
		for g, byDigest := range groups {
			if len(byDigest) == 1 {
				continue
			}
			var parts []string
			for d, cs := range byDigest {
				sort.Strings(cs)
				parts = append(parts, fmt.Sprintf("%s (%s, %d found, %d VMAs)", strings.Join(cs, ","), d.Hash, d.Found, d.VMAs))
			}
			sort.Strings(parts)
			out = append(out, fmt.Sprintf("%s [%s]: answers differ: %s", w.Name, g, strings.Join(parts, " vs ")))
		}
	}
	return append(out, checkParseAgainstKernel(ws, res)...)
}

// checkParseAgainstKernel compares each parse-N workload with enum-all-N
// when both ran: the text captured at start, parsed, must list the same
// VMAs as the live enumerations of the same (unchanging) target, by every
// backend.
func checkParseAgainstKernel(ws []*workload, res *spec.Run) []string {
	var out []string
	uniform := func(name string) (spec.Digest, bool) {
		var first spec.Digest
		n := 0
		for _, ds := range res.Digests[name] {
			for _, d := range ds {
				if n > 0 && d != first {
					return d, false
				}
				first, n = d, n+1
			}
		}
		return first, n > 0
	}
	for _, w := range ws {
		if w.Kind != spec.KindParse {
			continue
		}
		enum := "enum-all-" + strings.TrimPrefix(w.Name, "parse-")
		p, okP := uniform(w.Name)
		e, okE := uniform(enum)
		if okP && okE && p != e {
			out = append(out, fmt.Sprintf("%s: the parsed captured text (%s, %d VMAs) differs from %s (%s, %d VMAs)",
				w.Name, p.Hash, p.VMAs, enum, e.Hash, e.VMAs))
		}
	}
	return out
}

// driverOf names the process a contender runs in.
func driverOf(contender string) string {
	switch {
	case strings.HasPrefix(contender, "go-"):
		return "go"
	case strings.HasPrefix(contender, "py-"):
		return "py"
	}
	return "c"
}

type driver struct {
	name    string
	usesLib bool
	argv    []string
	// budgetScale shrinks the time budgets of a slow driver (Python) so
	// that make bench stays within its 5 minutes.
	budgetScale float64
	// skipKinds are workload kinds the driver has no contender for; its
	// spec leaves them out.
	skipKinds []spec.Kind
}

func (c *config) drivers() []driver {
	ds := []driver{
		{name: "c", usesLib: true, argv: []string{c.cDriver}, budgetScale: 1},
		{name: "go", argv: []string{c.goDriver}, budgetScale: 1},
	}
	if c.lib != "" && pythonBindingReady(c) {
		// The Python driver runs whatever py-* contenders pybench.py
		// offers (py-ioctl, py-text, py-auto, py-bulk-*): they are learnt
		// from its output. It has no parser of captured text.
		ds = append(ds, driver{name: "py", usesLib: true, argv: []string{"python3", c.pyDriver}, budgetScale: 0.5,
			skipKinds: []spec.Kind{spec.KindParse}})
	}
	return ds
}

// pythonBindingReady reports whether the Python driver and the binding it
// imports exist.
func pythonBindingReady(c *config) bool {
	if _, err := os.Stat(c.pyDriver); err != nil {
		return false
	}
	cmd := exec.Command("python3", c.pyDriver, "--probe")
	cmd.Env = append(os.Environ(), "PROCMAPQ_LIBRARY="+c.lib)
	return cmd.Run() == nil
}

func (d driver) run(specPath string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.argv[0], append(d.argv[1:], specPath)...)
	cmd.Stderr = os.Stderr
	return cmd.Output()
}

func writeSpec(path string, c *config, ws []*workload, rounds int, d driver) error {
	s := &spec.Spec{Contenders: c.contenders}
	if d.usesLib {
		s.Lib = c.lib
	}
	for _, w := range ws {
		if slices.Contains(d.skipKinds, w.Kind) {
			continue
		}
		sw := w.Workload
		if c.quick {
			sw.Iters, sw.BudgetMs = 1, 0
		} else {
			sw.Iters = max(1, (w.Iters+rounds-1)/rounds)
			sw.BudgetMs = int(float64(w.BudgetMs) * c.budgetScale * d.budgetScale / float64(rounds))
		}
		s.Workloads = append(s.Workloads, &sw)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := s.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// extras runs the C driver's cost probes: the syscall reference, the C
// ABI's empty batch and first call on a new thread, and (in fresh
// processes) dlopen plus the first call.
func (c *config) extras(res *spec.Run, raw *bytes.Buffer, targets map[int]*target) error {
	t := targets[650]
	if t == nil {
		for _, tt := range targets {
			t = tt
		}
	}
	if t == nil {
		return nil
	}
	addrsPath := filepath.Join(c.outDir, "addrs", "extras.addrs")
	var addrs []uint64
	for _, v := range t.queryable() {
		addrs = append(addrs, v.Start)
	}
	if err := spec.WriteAddrs(addrsPath, addrs); err != nil {
		return err
	}
	lib := c.lib
	if lib == "" {
		lib = "-"
	}
	runs := [][]string{{"--extras", lib, fmt.Sprint(t.proc.Pid), addrsPath}}
	probes := 7
	if c.quick {
		probes = 1
	}
	for range probes {
		if c.lib != "" {
			runs = append(runs, []string{"--load-probe", c.lib})
		}
	}
	for _, args := range runs {
		out, err := exec.Command(c.cDriver, args...).Output()
		fmt.Fprintf(raw, "# driver %s\n%s", strings.Join(args, " "), out)
		if err != nil {
			return fmt.Errorf("driver %s: %v", args[0], err)
		}
		if err := res.Parse("c", bytes.NewReader(out)); err != nil {
			return err
		}
	}
	return nil
}
