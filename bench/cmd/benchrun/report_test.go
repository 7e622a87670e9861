package main

import (
	"math"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
)

func TestStats(t *testing.T) {
	st := stats([]float64{5, 1, 3, -1, 2, 4}) // -1: a failed call, ignored
	if st.n != 5 || st.median != 3 || st.p25 != 2 || st.p75 != 4 {
		t.Errorf("stats = %+v", st)
	}
	if st := stats(nil); st.n != 0 || st.median != 0 {
		t.Errorf("stats(nil) = %+v", st)
	}
}

func TestFmtNs(t *testing.T) {
	for ns, want := range map[float64]string{
		631: "631 ns", 1290: "1.29 µs", 22400: "22.4 µs", 221000: "221 µs", 1350000: "1.35 ms", 20e6: "20.0 ms", 0: "–",
	} {
		if got := fmtNs(ns); got != want {
			t.Errorf("fmtNs(%v) = %q, want %q", ns, got, want)
		}
	}
}

func TestCheckAgreement(t *testing.T) {
	onTarget := &workload{Workload: spec.Workload{Name: "dense"}, Target: &target{}}
	own := &workload{Workload: spec.Workload{Name: "blazesym-kept"}}
	res := spec.NewRun()
	d := func(h string) spec.Digest { return spec.Digest{Hash: h, Found: 5, VMAs: 2} }
	res.Digests["dense"] = map[string][]spec.Digest{"c-limit": {d("a")}, "go-auto": {d("a")}}
	// Own process: each driver run is its own process, so C and Go differ,
	// and so do two rounds of one driver; only contenders of one run must agree.
	res.Digests["blazesym-kept"] = map[string][]spec.Digest{
		"c-limit": {d("c1"), d("c2")}, "cabi-auto": {d("c1"), d("c2")}, "go-auto": {d("g1"), d("g2")},
	}
	if p := checkAgreement([]*workload{onTarget, own}, res); len(p) != 0 {
		t.Fatalf("agreeing answers reported: %v", p)
	}
	res.Digests["dense"]["go-text"] = []spec.Digest{d("b")}
	res.Digests["blazesym-kept"]["cabi-text"] = []spec.Digest{d("c1"), d("zz")}
	p := checkAgreement([]*workload{onTarget, own}, res)
	if len(p) != 2 || !strings.Contains(strings.Join(p, "\n"), "go-text") || !strings.Contains(strings.Join(p, "\n"), "cabi-text") {
		t.Fatalf("disagreements reported as %v", p)
	}
}

func TestAutoRows(t *testing.T) {
	tb := table{rows: []row{
		{contender: "go-ioctl", st: stat{median: 10}},
		{contender: "go-text", st: stat{median: 8}},
		{contender: "go-auto", st: stat{median: 9}, strategy: "text"},
		{contender: "cabi-auto", st: stat{median: 9}}, // no fixed cabi rows: left out
	}}
	rows := tb.autoRows()
	if len(rows) != 1 || rows[0].impl != "go" || rows[0].bestFixed != 8 || rows[0].fixedName != "text" || rows[0].strategy != "text" {
		t.Errorf("autoRows = %+v", rows)
	}
}

// A parse row must list what the live enumeration of its target lists.
func TestParseAgainstKernel(t *testing.T) {
	parse := &workload{Workload: spec.Workload{Name: "parse-650", Kind: spec.KindParse}, Target: &target{}}
	enum := &workload{Workload: spec.Workload{Name: "enum-all-650", Kind: spec.KindEnum}, Target: &target{}}
	res := spec.NewRun()
	d := func(h string) spec.Digest { return spec.Digest{Hash: h, VMAs: 649} }
	res.Digests["parse-650"] = map[string][]spec.Digest{"c-fastparse": {d("a")}, "go-parsemaps": {d("a")}}
	res.Digests["enum-all-650"] = map[string][]spec.Digest{"c-limit": {d("a")}, "go-auto": {d("a")}}
	if p := checkAgreement([]*workload{parse, enum}, res); len(p) != 0 {
		t.Fatalf("agreeing answers reported: %v", p)
	}
	res.Digests["enum-all-650"] = map[string][]spec.Digest{"c-limit": {d("b")}, "go-auto": {d("b")}}
	if p := checkAgreement([]*workload{parse, enum}, res); len(p) != 1 || !strings.Contains(p[0], "differs from enum-all-650") {
		t.Fatalf("parse against enumeration reported as %v", p)
	}
}

// The goals table is computed from the run: each goal divides the
// contenders the issue names, and a goal without data is left out.
func TestGoals(t *testing.T) {
	mk := func(name string, kind spec.Kind, addrs int, medians map[string]float64) table {
		tb := table{w: &workload{Workload: spec.Workload{Name: name, Kind: kind, Addrs: make([]uint64, addrs)}}}
		for c, m := range medians {
			tb.rows = append(tb.rows, row{contender: c, st: stat{median: m}})
		}
		return tb
	}
	rep := &report{
		contenders: []string{"c-limit", "c-fastparse", "cabi-ioctl", "cabi-text", "cabi-auto", "go-text", "go-parsemaps", "py-auto", "py-bulk-auto"},
		tables: []table{
			mk("single", spec.KindSingle, 1, map[string]float64{"c-limit": 1000, "c-fastparse": 9000, "cabi-auto": 1250, "py-auto": 5000}),
			mk("dense-open", spec.KindQuery, 3000, map[string]float64{"c-limit": 700, "c-fastparse": 150, "cabi-ioctl": 800, "cabi-text": 160, "cabi-auto": 300}),
			mk("parse-650", spec.KindParse, 0, map[string]float64{"c-fastparse": 20, "go-text": 25, "go-parsemaps": 40, "cabi-text": 22}),
			mk("procfs_query", spec.KindQuery, 3000, map[string]float64{"c-limit": 10000, "cabi-auto": 11000, "py-bulk-auto": 120000}),
			mk("enum-all-650", spec.KindEnum, 0, map[string]float64{"c-limit": 1000, "c-fastparse": 140, "cabi-auto": 150}),
		},
	}
	got := map[string]goal{}
	for _, g := range rep.goals() {
		got[g.what+" "+g.row+" "+strings.Fields(g.details)[0]] = g
	}
	for key, want := range map[string]struct {
		value float64
		met   bool
	}{
		goalCABIOpen + " single `cabi-auto`":        {1.25, true},
		goalPyOne + " single `py-auto`":             {5, false},
		goalDenseOpen + " dense-open `cabi-auto`":   {2, false},
		goalParse + " parse-650 `go-text`":          {1.25, true},
		goalParse + " parse-650 `go-parsemaps`":     {2, false},
		goalCABIParse + " parse-650 `cabi-text`":    {1.1, true},
		goalCABI + " procfs_query `cabi-auto`":      {1.1, true},
		goalPyBulk + " procfs_query `py-bulk-auto`": {40, true},
		goalEnumAll + " enum-all-650 `cabi-auto`":   {150.0 / 140, true},
	} {
		g, ok := got[key]
		if !ok {
			t.Errorf("goal %q missing; have %v", key, got)
			continue
		}
		if math.Abs(g.value-want.value) > 1e-9 || g.met() != want.met {
			t.Errorf("goal %q = %v (met %v), want %v (met %v)", key, g.value, g.met(), want.value, want.met)
		}
		delete(got, key)
	}
	if len(got) != 0 {
		t.Errorf("unexpected goals: %v", got)
	}
	if md := rep.goalsMarkdown(); !strings.Contains(md, "| **no** |") || !strings.Contains(md, "6 of 9 met") {
		t.Errorf("goals table:\n%s", md)
	}
}

// py-* contenders the Python driver adds later are described, not dropped.
func TestAboutUnknownPython(t *testing.T) {
	if a := about("py-bulk-auto"); !strings.Contains(a, "bulk") || !strings.Contains(a, "auto backend") {
		t.Errorf("about(py-bulk-auto) = %q", a)
	}
	if a := about("py-something"); a == "" {
		t.Error("about(py-something) is empty")
	}
}
