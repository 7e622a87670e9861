package main

import (
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
