package core

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// oneAddressPerVMA returns an address inside each of the first n VMAs that
// pass keep, from a text enumeration.
func oneAddressPerVMA(t *testing.T, h *Handle, n int, keep func(*VMA) bool) []uint64 {
	t.Helper()
	var r Result
	if err := h.Enumerate(&Options{Backend: BackendText}, &r); err != nil {
		t.Fatal(err)
	}
	var addrs []uint64
	for i := range r.VMAs {
		if len(addrs) == n {
			break
		}
		if keep(&r.VMAs[i]) {
			addrs = append(addrs, r.VMAs[i].Start+(r.VMAs[i].End-r.VMAs[i].Start)/2)
		}
	}
	return addrs
}

// sameAnswers checks that two results give every address the same VMA (by
// range, permissions and name) and the same reason.
func sameAnswers(t *testing.T, what string, a, b *Result) {
	t.Helper()
	if len(a.Lookups) != len(b.Lookups) {
		t.Fatalf("%s: %d lookups vs %d", what, len(a.Lookups), len(b.Lookups))
	}
	for i := range a.Lookups {
		va, ra := a.Found(i)
		vb, rb := b.Found(i)
		if ra != rb {
			t.Fatalf("%s: address %d: reason %v vs %v", what, i, ra, rb)
		}
		if va != nil && (va.Start != vb.Start || va.End != vb.End || va.Perms != vb.Perms || string(va.Name) != string(vb.Name)) {
			t.Fatalf("%s: address %d: %x-%x %q vs %x-%x %q", what, i, va.Start, va.End, va.Name, vb.Start, vb.End, vb.Name)
		}
	}
}

func TestPlannerFewAddressesInHugeProcessUseIoctl(t *testing.T) {
	requireIoctl(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 20000, Modules: 10})
	h := mustOpen(t, tg.Pid)
	var addrs []uint64
	for i := range 10 {
		m := mapping(t, tg, "module-"+string(rune('0'+i))+"-text")
		addrs = append(addrs, m.Start, m.Start+100, m.End-1)
	}
	var auto, text Result
	// Twice: the second call has the VMA count the first taught the handle.
	for range 2 {
		if err := h.Query(addrs, nil, &auto); err != nil {
			t.Fatal(err)
		}
		if auto.Strategy != StrategyPointIoctl {
			t.Fatalf("30 addresses in 10 VMAs of a 20,000-VMA process: strategy %v, want point ioctls", auto.Strategy)
		}
		if err := h.Enumerate(nil, &text); err != nil { // learn the VMA count
			t.Fatal(err)
		}
	}
	if err := h.Query(addrs, &Options{Backend: BackendText}, &text); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, "auto vs text", &auto, &text)
}

func TestPlannerThousandsOfDistinctVMAsUseText(t *testing.T) {
	requireIoctl(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 3000})
	h := mustOpen(t, tg.Pid)
	addrs := oneAddressPerVMA(t, h, 2500, func(*VMA) bool { return true })
	var auto, text, ioctl Result
	// The first call may start with ioctls (ski rental) and switch; once
	// the handle has seen such a batch, auto reads the text directly.
	var strategies []Strategy
	for range 3 {
		if err := h.Query(addrs, nil, &auto); err != nil {
			t.Fatal(err)
		}
		strategies = append(strategies, auto.Strategy)
	}
	if strategies[0] == StrategyPointIoctl || strategies[2] != StrategyText {
		t.Fatalf("2,500 addresses in 2,500 distinct VMAs: strategies %v, want a switch to text then text", strategies)
	}
	if err := h.Query(addrs, &Options{Backend: BackendText}, &text); err != nil {
		t.Fatal(err)
	}
	if err := h.Query(addrs, &Options{Backend: BackendIoctl}, &ioctl); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, "auto vs text", &auto, &text)
	sameAnswers(t, "auto vs ioctl", &auto, &ioctl)
}

func TestPlannerSkiRentalBoundsIoctlsSpent(t *testing.T) {
	requireIoctl(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 3000})
	h := mustOpen(t, tg.Pid)
	addrs := oneAddressPerVMA(t, h, 2500, func(*VMA) bool { return true })
	var r Result
	if err := h.Enumerate(&Options{Backend: BackendText}, &r); err != nil { // learn the VMA count
		t.Fatal(err)
	}
	// The ioctls spent before switching cost no more than one text read
	// (plus the one that crossed the line), at the costs known when the
	// call starts (the call itself then updates them).
	// The measured costs are process-wide moving averages that tests running
	// in parallel move during the call: allow them 50%.
	limit := (h.plan.textCost()/calib.ioctlNs.Load() + 1) * 3 / 2
	if err := h.Query(addrs, nil, &r); err != nil {
		t.Fatal(err)
	}
	if r.Strategy != StrategyIoctlThenText {
		t.Fatalf("strategy %v, want ioctl-then-text for a first batch of this shape", r.Strategy)
	}
	ioctls := int64(r.Syscalls - h.reads)
	if ioctls > limit {
		t.Fatalf("spent %d ioctls before switching, ski-rental limit %d", ioctls, limit)
	}
}

func TestPlannerExecutableEnumerationWalksTheKernel(t *testing.T) {
	requireIoctl(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 2000, Modules: 5})
	h := mustOpen(t, tg.Pid)
	exec := &Options{Filter: Filter{Perms: PermExec}}
	var auto, text Result
	// The first auto call on a handle reads the text (it learns the VMA
	// count and the gate VMA the walk cannot see).
	if err := h.Enumerate(nil, &auto); err != nil {
		t.Fatal(err)
	}
	if err := h.Enumerate(exec, &auto); err != nil {
		t.Fatal(err)
	}
	if auto.Strategy != StrategyIoctlWalk {
		t.Fatalf("executable-only enumeration: strategy %v, want ioctl-walk", auto.Strategy)
	}
	if err := h.Enumerate(&Options{Backend: BackendText, Filter: exec.Filter}, &text); err != nil {
		t.Fatal(err)
	}
	if len(auto.VMAs) != len(text.VMAs) {
		t.Fatalf("walk found %d executable VMAs, text %d", len(auto.VMAs), len(text.VMAs))
	}
	for i := range auto.VMAs {
		if !sameVMA(&auto.VMAs[i], &text.VMAs[i]) {
			t.Fatalf("VMA %d: walk %x-%x %q, text %x-%x %q", i, auto.VMAs[i].Start, auto.VMAs[i].End,
				auto.VMAs[i].Name, text.VMAs[i].Start, text.VMAs[i].End, text.VMAs[i].Name)
		}
	}
	// A full dump reads the text.
	if err := h.Enumerate(nil, &auto); err != nil {
		t.Fatal(err)
	}
	if auto.Strategy != StrategyText {
		t.Fatalf("full enumeration: strategy %v, want text", auto.Strategy)
	}
	// Auto answers a gate address like the text, by ioctls once it knows
	// the gate.
	addrs := []uint64{auto.VMAs[0].Start, gateStart + 0x400}
	if err := h.Query(addrs, nil, &auto); err != nil {
		t.Fatal(err)
	}
	if err := h.Query(addrs, &Options{Backend: BackendText}, &text); err != nil {
		t.Fatal(err)
	}
	if auto.Strategy != StrategyPointIoctl {
		t.Fatalf("query with a gate address on a handle that knows the gate: strategy %v, want point ioctls", auto.Strategy)
	}
	sameAnswers(t, "auto vs text with a gate address", &auto, &text)
}

func TestPlannerBuildIDsStayWithTheIoctl(t *testing.T) {
	requireIoctl(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 3000, Modules: 3})
	h := mustOpen(t, tg.Pid)
	// Thousands of distinct VMAs would make auto switch to text, and a gate
	// address would send a new handle to text: with build IDs asked, auto
	// must stay with the ioctl, the only source of build IDs.
	addrs := oneAddressPerVMA(t, h, 2500, func(*VMA) bool { return true })
	fresh := mustOpen(t, tg.Pid)
	addrs = append(addrs, gateStart+0x400)
	var auto, ioctl, text Result
	if err := fresh.Query(addrs, &Options{BuildIDs: true}, &auto); err != nil {
		t.Fatal(err)
	}
	if auto.Strategy != StrategyPointIoctl {
		t.Fatalf("auto with build IDs: strategy %v, want point ioctls", auto.Strategy)
	}
	if err := h.Query(addrs, &Options{Backend: BackendIoctl, BuildIDs: true}, &ioctl); err != nil {
		t.Fatal(err)
	}
	if err := h.Query(addrs, &Options{Backend: BackendText}, &text); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, "auto with build IDs vs text", &auto, &text)
	for i := range addrs[:len(addrs)-1] { // the gate VMA aside, which the ioctl never shows
		a, _ := auto.Found(i)
		b, _ := ioctl.Found(i)
		if (a == nil) != (b == nil) || (a != nil && string(a.BuildID) != string(b.BuildID)) {
			t.Fatalf("address %#x: auto build ID %x, ioctl %x", addrs[i], a.BuildID, b.BuildID)
		}
	}
}

func TestPlannerCostsNeverStickAtZero(t *testing.T) {
	var v atomic.Int64
	ewma(&v, 1000)
	if v.Load() != 1000 {
		t.Fatalf("ewma from zero: %d, want the first observation", v.Load())
	}
	ewma(&v, 1_000_000) // one stall moves it by at most 25%
	if got := v.Load(); got != 1250 {
		t.Fatalf("ewma after a 1000x outlier: %d, want 1250", got)
	}
	var p planner
	p.noteIoctls(0, clock{time.Now().Add(-time.Millisecond)}) // must not divide by zero
	p.vmaCount = 1
	if p.shouldSwitch(0) {
		t.Fatal("shouldSwitch before any ioctl")
	}
}
