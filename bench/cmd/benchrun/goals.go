package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
)

// goal is one acceptance check of issue 13, measured in this run: a value
// (a ratio of medians, or ns per address) against its bound.
type goal struct {
	what    string  // the goal, as the issue states it
	row     string  // the workload it is measured on
	value   float64 // measured
	bound   float64 // the goal holds when value <= bound
	ns      bool    // value and bound are ns (else ratios)
	details string  // what was divided by what
}

func (g goal) met() bool { return g.value <= g.bound }

// Bounds of issue 13 ("Done when").
const (
	boundCABI      = 1.2  // every C-ABI row against its limit
	boundCABIOpen  = 1.3  // single, single-open, blazesym-open
	boundDenseOpen = 1.3  // dense-open against the best fixed strategy
	boundParse     = 1.5  // the Go parser against a plain C parser
	boundPyOne     = 4    // Python, one address, against the C limit
	boundPyBulkNs  = 50   // Python bulk form, ns per address
	boundEnumAll   = 1.15 // enumerate all against the fastest C read + parse
)

// plainC are the contenders written in plain C, without libprocmapq.
var plainC = []string{"c-limit", "c-fastparse", "c-fscanf"}

// fastest returns the contender of cs with the smallest median on t.
func (t *table) fastest(cs ...string) (float64, string) {
	best, name := 0.0, ""
	for _, c := range cs {
		if m := t.median(c); m > 0 && (best == 0 || m < best) {
			best, name = m, c
		}
	}
	return best, name
}

// goals computes every goal of issue 13 the run has data for; a goal
// whose contenders did not run (no library, no Python binding, no
// py-bulk contender yet) is left out, never assumed.
func (rep *report) goals() []goal {
	var out []goal
	ratio := func(what string, t *table, a string, bound float64, refs ...string) {
		num := t.median(a)
		den, ref := t.fastest(refs...)
		if num <= 0 || den <= 0 {
			return
		}
		out = append(out, goal{what: what, row: t.w.Name, value: num / den, bound: bound,
			details: fmt.Sprintf("`%s` %s ÷ `%s` %s", a, fmtNs(num), ref, fmtNs(den))})
	}
	for i := range rep.tables {
		t := &rep.tables[i]
		name := t.w.Name
		switch {
		case t.w.Kind == spec.KindParse:
			for _, c := range []string{"go-text", "go-parsemaps"} {
				ratio(goalParse, t, c, boundParse, "c-fastparse")
			}
			ratio(goalCABIParse, t, "cabi-text", boundCABI, "c-fastparse")
		case name == "dense-open":
			for _, impl := range []string{"cabi", "go"} {
				if t.median(impl+"-auto") > 0 {
					ratio(goalDenseOpen, t, impl+"-auto", boundDenseOpen,
						"c-limit", "c-fastparse", impl+"-ioctl", impl+"-text")
				}
			}
		case strings.HasPrefix(name, "enum-all-"):
			ratio(goalEnumAll, t, "cabi-auto", boundEnumAll, "c-fastparse", "c-fscanf")
		default:
			bound, what := boundCABI, goalCABI
			if name == "single" || name == "single-open" || name == "blazesym-open" {
				bound, what = boundCABIOpen, goalCABIOpen
			}
			ratio(what, t, "cabi-auto", bound, plainC...)
		}
		if name == "single" {
			// The friendly API (py-auto) and any bulk form with the auto
			// backend the Python driver offers.
			for _, c := range rep.contenders {
				if strings.HasPrefix(c, "py-") && strings.HasSuffix(c, "-auto") {
					ratio(goalPyOne, t, c, boundPyOne, "c-limit")
				}
			}
		}
		if name == "procfs_query" && len(t.w.Addrs) > 0 {
			for _, c := range rep.contenders {
				if m := t.median(c); strings.HasPrefix(c, "py-bulk") && m > 0 {
					n := float64(len(t.w.Addrs))
					out = append(out, goal{what: goalPyBulk, row: name, value: m / n,
						bound: boundPyBulkNs, ns: true,
						details: fmt.Sprintf("`%s` %s ÷ %d addresses", c, fmtNs(m), len(t.w.Addrs))})
				}
			}
		}
	}
	// One goal's rows together, in the order; rows in run order.
	slices.SortStableFunc(out, func(a, b goal) int {
		return slices.Index(goalOrder, a.what) - slices.Index(goalOrder, b.what)
	})
	return out
}

// The goals, in the order of issue 13's "Done when".
const (
	goalCABI      = "every C-ABI row ≤ 1.2× its limit (the fastest plain C)"
	goalCABIOpen  = "`single`, `single-open`, `blazesym-open` ≤ 1.3× the fastest plain C"
	goalCABIParse = "every C-ABI row ≤ 1.2× its limit (here: the plain C parser)"
	goalDenseOpen = "fresh handle's dense batch (`dense-open`) ≤ 1.3× the best fixed strategy"
	goalParse     = "Go parser ≤ 1.5× a plain C parser (parse only)"
	goalPyOne     = "Python, one address ≤ 4× the C limit"
	goalPyBulk    = "Python bulk form ≤ 50 ns per address"
	goalEnumAll   = "enumerate all ≤ 1.15× the fastest C read + parse"
)

var goalOrder = []string{goalCABI, goalCABIOpen, goalCABIParse, goalDenseOpen, goalParse, goalPyOne, goalPyBulk, goalEnumAll}

// goalsMarkdown is the goals table: every goal of issue 13 measured in
// this run, with the machine it was measured on.
func (rep *report) goalsMarkdown() string {
	gs := rep.goals()
	if len(gs) == 0 {
		return ""
	}
	var b strings.Builder
	met := 0
	for _, g := range gs {
		if g.met() {
			met++
		}
	}
	fmt.Fprintf(&b, "### Goals of issue 13, measured in this run\n\n")
	fmt.Fprintf(&b, "On %s. Ratios of medians measured side by side; %d of %d met. "+
		"The limit of a row is its fastest plain-C contender (`c-limit`, `c-fastparse`, `c-fscanf`), except where the goal names another. "+
		"Goals whose contenders did not run are left out.\n\n", strings.Join(rep.machineShort(), ", "), met, len(gs))
	b.WriteString("| goal | row | measured | bound | met | from |\n|---|---|--:|--:|---|---|\n")
	for _, g := range gs {
		val, bound := fmtRatio(g.value), fmt.Sprintf("≤ %.2f×", g.bound)
		if g.ns {
			val, bound = fmt.Sprintf("%.1f ns", g.value), fmt.Sprintf("≤ %.0f ns", g.bound)
			if g.value >= 1000 {
				val = fmtNs(g.value)
			}
		}
		ok := "yes"
		if !g.met() {
			ok = "**no**"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", g.what, g.row, val, bound, ok, g.details)
	}
	return b.String()
}

// machineShort is the part of the machine description that decides the
// ratios: cores, virtualisation, CPU, kernel, and the system-call cost.
func (rep *report) machineShort() []string {
	var out []string
	for _, m := range rep.machine {
		if strings.Contains(m, "-core") || strings.HasPrefix(m, "Linux ") || strings.HasPrefix(m, "getppid") {
			out = append(out, m)
		}
	}
	if !slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, "getppid") }) {
		out = append(out, "system-call cost not measured")
	}
	return out
}
