package core

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// TestQueryReasonsDuplicatesAndOrder: one unsorted batch with duplicates,
// gaps and filtered VMAs gives, for every address, exactly the answer of a
// one-address query, in every backend, with or without the Sorted hint.
func TestQueryReasonsDuplicatesAndOrder(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	vm := mapping(t, tg, "vmas")
	x := mapping(t, tg, "exec-only")
	ro := mapping(t, tg, "offset")
	page := uint64(os.Getpagesize()) // each VMA of the "vmas" run is one page
	addrs := []uint64{
		vm.Start + 3*page, vm.Start, ^uint64(0), x.Start, ro.End - 1, vm.Start, 0, vm.Start + 1,
		x.Start, vm.Start + 2*page + 17, ro.Start, vm.Start + 3*page, 0, vm.End, vm.Start - 1,
	}
	filter := Filter{Perms: PermRead}
	for _, b := range liveBackends(t) {
		for _, sorted := range []bool{false, true} {
			o := &Options{Backend: b, Filter: filter, Sorted: sorted}
			var res Result
			if err := h.Query(addrs, o, &res); err != nil {
				t.Fatal(err)
			}
			seen := map[Reason]bool{}
			for i, a := range addrs {
				var one Result
				if err := h.Query([]uint64{a}, o, &one); err != nil {
					t.Fatal(err)
				}
				v, r := res.Found(i)
				w, wr := one.Found(0)
				seen[r] = true
				if r != wr || (r == ReasonFound && (v.Start != w.Start || v.End != w.End || string(v.Name) != string(w.Name))) {
					t.Errorf("%v sorted=%v: address %d (%#x): batch %v %+v, alone %v %+v", b, sorted, i, a, r, v, wr, w)
				}
				if r != ReasonFound && res.Lookups[i].VMA != -1 {
					t.Errorf("%v: lookup %d: reason %v with VMA index %d", b, i, r, res.Lookups[i].VMA)
				}
				// The file offset is the address's, from its own VMA's
				// start and offset (the batch's order must not matter).
				want := uint64(0)
				if r == ReasonFound {
					want = a - w.Start + w.Offset
				}
				if got := res.Lookups[i].FileOffset; got != want {
					t.Errorf("%v sorted=%v: address %d (%#x): file offset %#x, want %#x", b, sorted, i, a, got, want)
				}
			}
			for _, r := range []Reason{ReasonFound, ReasonUnmapped, ReasonFiltered} {
				if !seen[r] {
					t.Errorf("%v: batch had no %v address", b, r)
				}
			}
			// The table is deduplicated and ascending; equal addresses share
			// one entry.
			for i := 1; i < len(res.VMAs); i++ {
				if res.VMAs[i].Start < res.VMAs[i-1].End {
					t.Errorf("%v: VMA table not ascending/deduplicated at %d", b, i)
				}
			}
			if res.Lookups[1] != res.Lookups[5] || res.Lookups[0] != res.Lookups[11] || res.Lookups[3] != res.Lookups[8] {
				t.Errorf("%v: duplicates answered differently: %+v", b, res.Lookups)
			}
			if _, r := res.Found(3); r != ReasonFiltered {
				t.Errorf("%v: exec-only under r filter: %v", b, r)
			}
		}
	}
}

// TestQueryResultReuse: a Result reused across calls and handles never
// mixes answers, including after a smaller batch.
func TestQueryResultReuse(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	rng := rand.New(rand.NewPCG(7, 7))
	vmas, _ := enumerate(t, h, &Options{Backend: BackendText})
	addrs := probeAddrs(vmas, len(vmas), rng)
	var res Result
	for _, b := range liveBackends(t) {
		for _, n := range []int{len(addrs), 3, 1, len(addrs) / 2} {
			batch := addrs[:n]
			if err := h.Query(batch, &Options{Backend: b}, &res); err != nil {
				t.Fatal(err)
			}
			reusedStrategy := res.Strategy
			fresh, freshStrategy := queryAnswers(t, h, batch, &Options{Backend: b})
			for i := range batch {
				v, r := res.Found(i)
				got := answer{reason: r}
				if v != nil {
					got.vma = *v
				}
				if !sameOrDocumented(got, fresh[i], batch[i]) {
					t.Fatalf("%v n=%d: address %#x: reused result (%v) %v %+v %q, fresh (%v) %v %+v %q", b, n, batch[i],
						reusedStrategy, r, got.vma, got.vma.Name, freshStrategy, fresh[i].reason, fresh[i].vma, fresh[i].vma.Name)
				}
			}
		}
	}
}

func TestQueryStrategiesAndSyscalls(t *testing.T) {
	requireIoctl(t)
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	vm := mapping(t, tg, "vmas")
	var res Result
	// Three addresses in one VMA and one in the next: two ioctls.
	batch := []uint64{vm.Start + 5, vm.Start, vm.Start + 4095, vm.Start + 4096}
	if err := h.Query(batch, &Options{Backend: BackendIoctl}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Strategy != StrategyPointIoctl || res.Syscalls != 2 || len(res.VMAs) != 2 {
		t.Errorf("ioctl: %v, %d syscalls, %d VMAs; want point-ioctl, 2, 2", res.Strategy, res.Syscalls, len(res.VMAs))
	}
	if err := h.Query(batch, &Options{Backend: BackendText}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Strategy != StrategyText || res.Syscalls < 2 {
		t.Errorf("text: %v, %d syscalls (a read returns at most a page; EOF needs one more)", res.Strategy, res.Syscalls)
	}
	if err := h.Query(batch, &Options{BuildIDs: true}, &res); err != nil || res.Strategy != StrategyPointIoctl {
		t.Errorf("auto with build IDs: %v %v, want point-ioctl", err, res.Strategy)
	}
	// Only the text shows the gate VMA: auto reads the text for a batch
	// touching it until a text read has taught the handle the gate. The
	// text query above did, so ioctls now answer it exactly as the text.
	gateBatch := []uint64{vm.Start, gateStart + 8}
	var textRes Result
	if err := h.Query(gateBatch, &Options{Backend: BackendText}, &textRes); err != nil {
		t.Fatal(err)
	}
	if err := h.Query(gateBatch, nil, &res); err != nil || res.Strategy != StrategyPointIoctl {
		t.Errorf("auto with a gate address on a handle that knows the gate: %v %v, want point-ioctl", err, res.Strategy)
	}
	for i := range gateBatch {
		a, ra := res.Found(i)
		b, rb := textRes.Found(i)
		if ra != rb || (a != nil && (a.Start != b.Start || a.Kind != b.Kind)) {
			t.Errorf("auto vs text at %#x: %v %v vs %v %v", gateBatch[i], a, ra, b, rb)
		}
	}
	fresh := mustOpen(t, tg.Pid)
	if err := fresh.Query(gateBatch, nil, &res); err != nil || res.Strategy != StrategyText {
		t.Errorf("auto with a gate address on a new handle: %v %v, want text", err, res.Strategy)
	}
	if err := h.Enumerate(&Options{Backend: BackendIoctl}, &res); err != nil || res.Strategy != StrategyIoctlWalk {
		t.Errorf("ioctl enumerate: %v %v", err, res.Strategy)
	}
	n := len(res.VMAs)
	if res.Syscalls != n+1 {
		t.Errorf("ioctl walk of %d VMAs made %d syscalls, want %d (one per VMA and the final ENOENT)", n, res.Syscalls, n+1)
	}
	if err := h.Enumerate(nil, &res); err != nil || res.Strategy != StrategyText {
		t.Errorf("auto full enumerate: %v %v, want text", err, res.Strategy)
	}
	if err := h.Enumerate(&Options{Backend: BackendIoctl, Filter: Filter{Perms: PermExec, FileBacked: true}}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Syscalls != len(res.VMAs)+1 || len(res.VMAs) < 4 {
		t.Errorf("filtered walk: %d syscalls for %d VMAs", res.Syscalls, len(res.VMAs))
	}
}

// TestQueryBuildIDs: build IDs come only with the ioctl and only when asked;
// asking must not change anything else. The module files of the target are
// not ELF, so they have none; this test binary (Go ELF with a GNU build ID
// note in a PT_NOTE segment when linked by the external linker) may.
func TestQueryBuildIDs(t *testing.T) {
	requireIoctl(t)
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	vmas, _ := enumerate(t, h, &Options{Backend: BackendText})
	addrs := probeAddrs(vmas, len(vmas), rand.New(rand.NewPCG(3, 3)))
	with, _ := queryAnswers(t, h, addrs, &Options{Backend: BackendIoctl, BuildIDs: true})
	without, _ := queryAnswers(t, h, addrs, &Options{Backend: BackendIoctl})
	libc := 0
	for i := range addrs {
		if !sameAnswer(with[i], without[i]) || without[i].vma.BuildID != nil {
			t.Fatalf("address %#x: build IDs changed the answer", addrs[i])
		}
		if len(with[i].vma.BuildID) > 20 || (len(with[i].vma.BuildID) > 0 && !with[i].vma.FileBacked()) {
			t.Fatalf("address %#x: build ID %x on %+v", addrs[i], with[i].vma.BuildID, with[i].vma)
		}
		if slices.Contains([]string{"libc.so.6"}, baseName(with[i].vma.Name)) && len(with[i].vma.BuildID) == 20 {
			libc++
		}
	}
	if libc == 0 {
		t.Log("no 20-byte build ID seen on libc (distribution libc without one?)")
	}
}

func baseName(b []byte) string {
	i := len(b) - 1
	for i >= 0 && b[i] != '/' {
		i--
	}
	return string(b[i+1:])
}

// TestQueryHotPathAllocs: a reused Result makes repeated queries
// allocation-free in every backend (the text buffer and the tables are
// reused). AllocsPerRun counts mallocs, not time.
func TestQueryHotPathAllocs(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 2000, Modules: 10})
	h := mustOpen(t, tg.Pid)
	vmas, _ := enumerate(t, h, &Options{Backend: BackendText})
	addrs := probeAddrs(vmas, 100, rand.New(rand.NewPCG(1, 2)))
	for _, b := range liveBackends(t) {
		var res Result
		o := &Options{Backend: b}
		for range 3 { // warm up: buffers grow to their size
			if err := h.Query(addrs, o, &res); err != nil {
				t.Fatal(err)
			}
			if err := h.Enumerate(o, &res); err != nil {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(20, func() { _ = h.Query(addrs, o, &res) }); n != 0 {
			t.Errorf("%v: Query allocates %.1f times per call", b, n)
		}
		if n := testing.AllocsPerRun(5, func() { _ = h.Enumerate(o, &res) }); n != 0 {
			t.Errorf("%v: Enumerate allocates %.1f times per call", b, n)
		}
	}
}

func TestStrategyAndReasonNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{StrategyNone.String(), "none"}, {StrategyIoctlThenText.String(), "ioctl-then-text"}, {Strategy(99).String(), "strategy(99)"},
		{ReasonProcessGone.String(), "process-gone"}, {Reason(99).String(), "reason(99)"},
		{Backend(99).String(), "backend(99)"}, {Kind(99).String(), "kind(99)"}, {DiffKind(99).String(), "diff(99)"},
		{(PermRead | PermShared).String(), "r--s"}, {Perm(0).String(), "---p"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
	var nilErr *Error
	if nilErr.Error() == "" || nilErr.Unwrap() != nil || (&Error{Op: "x", Pid: -1}).Error() != "procmapq: x" || Errno(&Error{}) != syscall.EIO {
		t.Error("an empty or nil *Error")
	}
	err := &Error{Op: "query", Pid: 12, Addr: 0x1000, HasAddr: true, Path: "/proc/12/maps", Err: ErrProcessGone}
	if got := err.Error(); got != "procmapq: query pid 12 /proc/12/maps addr 0x1000: "+ErrProcessGone.Error() || !errors.Is(err, ErrProcessGone) {
		t.Errorf("Error() = %q", got)
	}
}

// TestQueryIoctlThenText: a handle that knows the VMA count (from one text
// read) but has seen no batch starts a wide batch with point ioctls and
// switches to one text read once they cost as much (plan.go,
// shouldSwitch). The mixed answer must be exactly the text backend's.
func TestQueryIoctlThenText(t *testing.T) {
	requireIoctl(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 2000, Modules: 10})
	ref := mustOpen(t, tg.Pid)
	vmas, _ := enumerate(t, ref, &Options{Backend: BackendText})
	var addrs []uint64
	for i := range vmas {
		if vmas[i].Kind != KindVsyscall { // a gate address alone sends auto to text
			addrs = append(addrs, vmas[i].Start+7, vmas[i].End) // inside, then the next VMA or a gap
		}
	}
	want, _ := queryAnswers(t, ref, addrs, &Options{Backend: BackendText})
	h := mustOpen(t, tg.Pid)
	enumerate(t, h, &Options{Backend: BackendText})
	// The switch point depends on the costs measured so far in this process
	// (a loaded machine can make text look dearer than 2,000 ioctls). Pin
	// them so the mixed path runs: an ioctl costs a tenth of the text read.
	calibrate()
	saved := [3]int64{calib.ioctlNs.Load(), calib.textPerVMANs.Load(), calib.textBaseNs.Load()}
	defer func() {
		calib.ioctlNs.Store(saved[0])
		calib.textPerVMANs.Store(saved[1])
		calib.textBaseNs.Store(saved[2])
	}()
	calib.ioctlNs.Store(1000)
	calib.textPerVMANs.Store(100)
	calib.textBaseNs.Store(1000)
	got, s := queryAnswers(t, h, addrs, &Options{})
	if s != StrategyIoctlThenText {
		t.Errorf("%d VMAs touched: strategy %v, want ioctl-then-text", len(vmas), s)
	}
	for i := range addrs {
		if !sameAnswer(want[i], got[i]) {
			t.Fatalf("address %#x: auto (%v) %v %+v, text %v %+v", addrs[i], s, got[i].reason, got[i].vma, want[i].reason, want[i].vma)
		}
	}
}

// FuzzQueryLive sends arbitrary address batches and option bytes to a live
// handle: bad options give ErrInvalidArgument, never a panic; good ones give
// the text backend's answers (apart from the documented differences).
func FuzzQueryLive(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, byte(0), byte(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x10, 0x60, 0xff, 0xff, 0xff, 0xff, 0xff}, byte(1), byte(5))
	f.Add([]byte{1, 2, 3}, byte(7), byte(0xff))
	f.Add(make([]byte, 8*40), byte(2), byte(0x11))
	f.Fuzz(func(t *testing.T, raw []byte, backend, flags byte) {
		tg := startSpecialTarget(t)
		h := mustOpen(t, tg.Pid)
		var addrs []uint64
		// Bytes give addresses relative to real mappings half the time, so
		// that the fuzzer reaches found and filtered answers too.
		for i := 0; i+8 <= len(raw); i += 8 {
			a := uint64(raw[i]) | uint64(raw[i+1])<<8 | uint64(raw[i+2])<<16 | uint64(raw[i+3])<<24 |
				uint64(raw[i+4])<<32 | uint64(raw[i+5])<<40 | uint64(raw[i+6])<<48 | uint64(raw[i+7])<<56
			if a&1 == 1 && len(tg.Mappings) > 0 {
				m := tg.Mappings[int(a>>1)%len(tg.Mappings)]
				a = m.Start + (a>>8)%(m.End-m.Start+2) - 1
			}
			addrs = append(addrs, a)
		}
		o := &Options{Backend: Backend(backend), Filter: Filter{Perms: Perm(flags & 0x1f), FileBacked: flags&0x20 != 0},
			Sorted: flags&0x40 != 0, BuildIDs: flags&0x80 != 0}
		var res Result
		err := h.Query(addrs, o, &res)
		if o.Backend > BackendText || o.Filter.Perms&^permMask != 0 {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("options %+v: %v, want ErrInvalidArgument", o, err)
			}
			return
		}
		if errors.Is(err, ErrNotSupported) && !haveIoctl(t) && o.Backend == BackendIoctl {
			return
		}
		if err != nil {
			t.Fatalf("options %+v: %v", o, err)
		}
		text, _ := queryAnswers(t, h, addrs, &Options{Backend: BackendText, Filter: o.Filter})
		for i, a := range addrs {
			v, r := res.Found(i)
			got := answer{reason: r}
			if v != nil {
				got.vma = *v
			}
			if !sameAnswer(text[i], got) {
				if exp, msg := expectedTextIoctlDifference(text[i], got, a >= gateStart && a < gateEnd); !exp || msg != "" || o.Backend == BackendText {
					t.Fatalf("options %+v: address %#x: %v %+v, text %v %+v", o, a, r, got.vma, text[i].reason, text[i].vma)
				}
			}
		}
	})
}

// TestLongPathNames: a file path of PATH_MAX bytes or more, which the ioctl
// cannot return, comes back whole from auto and text (auto fills it from
// the text, in queries and enumerations alike); only a forced ioctl backend
// leaves it out, with FlagNameUnavailable.
func TestLongPathNames(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	m := mapping(t, tg, "long-path")
	for _, b := range liveBackends(t) {
		var res Result
		if err := h.Query([]uint64{m.Start}, &Options{Backend: b}, &res); err != nil {
			t.Fatal(err)
		}
		v, r := res.Found(0)
		if r != ReasonFound {
			t.Fatalf("%v: %v", b, r)
		}
		forced := b == BackendIoctl
		unavailable := v.Flags&FlagNameUnavailable != 0
		if forced != unavailable || forced != (len(v.Name) == 0) || !forced && len(v.Name) < pathMax {
			t.Errorf("%v: name of %d bytes, flags %v", b, len(v.Name), v.Flags)
		}
		if !forced && (v.Kind != KindFile || !bytes.HasSuffix(v.Name, []byte(".so")) && !bytes.Contains(v.Name, []byte("/"))) {
			t.Errorf("%v: kind %v, name ...%q", b, v.Kind, v.Name[max(0, len(v.Name)-20):])
		}
		// An enumeration that walks the kernel (an exec filter keeps it a
		// walk under auto) fills it the same way.
		if err := h.Enumerate(&Options{Backend: b, Filter: Filter{FileBacked: true}}, &res); err != nil {
			t.Fatal(err)
		}
		for i := range res.VMAs {
			if w := &res.VMAs[i]; w.Start == m.Start && (w.Flags&FlagNameUnavailable != 0) != forced {
				t.Errorf("%v: enumerate (%v): long name of %d bytes, flags %v", b, res.Strategy, len(w.Name), w.Flags)
			}
		}
	}
}
