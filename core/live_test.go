package core

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// answer is one address's lookup with its VMA copied out of the Result.
type answer struct {
	reason Reason
	vma    VMA
}

func queryAnswers(tb testing.TB, h *Handle, addrs []uint64, o *Options) ([]answer, Strategy) {
	tb.Helper()
	var res Result
	if err := h.Query(addrs, o, &res); err != nil {
		tb.Fatalf("Query(%v): %v", o.Backend, err)
	}
	if len(res.Lookups) != len(addrs) {
		tb.Fatalf("%d lookups for %d addresses", len(res.Lookups), len(addrs))
	}
	out := make([]answer, len(addrs))
	for i, a := range addrs {
		v, r := res.Found(i)
		out[i].reason = r
		if r == ReasonFound {
			if !v.Contains(a) {
				tb.Fatalf("%v: address %#x answered with %x-%x", o.Backend, a, v.Start, v.End)
			}
			if !o.Filter.matches(v) {
				tb.Fatalf("%v: address %#x answered with %+v, which fails filter %+v", o.Backend, a, v, o.Filter)
			}
			out[i].vma = v.Clone()
		}
	}
	return out, res.Strategy
}

// comparable strips what only one backend has: the page size and the
// build ID (ioctl only) and the name-quality flags.
func comparable(v VMA) VMA {
	v.PageSize, v.BuildID = 0, nil
	v.Flags &^= FlagNameAmbiguous | FlagNameUnavailable
	return v
}

// expectedTextIoctlDifference says whether text and ioctl may differ on v
// (the text backend's VMA) and checks the ioctl side is the documented one:
// the gate VMA (ioctl: unmapped), a path of PATH_MAX or more (ioctl: no
// name), a literal backslash-012 in a name (ioctl: the exact bytes).
func expectedTextIoctlDifference(text, ioctl answer, gateAddr bool) (bool, string) {
	if text.reason == ReasonFiltered && ioctl.reason == ReasonUnmapped && gateAddr {
		return true, "" // the gate VMA, filtered out in the text
	}
	if text.reason != ReasonFound {
		return false, ""
	}
	t, k := &text.vma, &ioctl.vma
	switch {
	case t.Kind == KindVsyscall:
		return true, check(ioctl.reason == ReasonUnmapped, "gate VMA: ioctl should see nothing")
	case len(t.Name) >= pathMax:
		return true, check(ioctl.reason == ReasonFound && len(k.Name) == 0 && k.Flags&FlagNameUnavailable != 0 &&
			comparable(*t).Start == k.Start && t.Inode == k.Inode, "long path: ioctl should have the VMA without a name")
	case t.Flags&FlagNameAmbiguous != 0 && bytes.Contains(k.Name, []byte(`\012`)):
		return true, check(ioctl.reason == ReasonFound &&
			bytes.Equal(bytes.ReplaceAll(k.Name, []byte(`\012`), []byte("\n")), t.Name), "backslash-012: ioctl should have the literal name")
	}
	return false, ""
}

// sameOrDocumented reports whether two answers for addr, each from the
// text or the ioctl (auto may use either from one call to the next), are
// equal or differ only in a documented way. A found VMA with no page size
// came from the text.
func sameOrDocumented(a, b answer, addr uint64) bool {
	if sameAnswer(a, b) {
		return true
	}
	if b.reason == ReasonFound && b.vma.PageSize == 0 || a.reason == ReasonUnmapped {
		a, b = b, a
	}
	exp, msg := expectedTextIoctlDifference(a, b, addr >= gateStart && addr < gateEnd)
	return exp && msg == ""
}

func check(ok bool, msg string) string {
	if ok {
		return ""
	}
	return msg
}

func sameAnswer(a, b answer) bool {
	if a.reason != b.reason {
		return false
	}
	if a.reason != ReasonFound {
		return true
	}
	x, y := comparable(a.vma), comparable(b.vma)
	return equalVMA(&x, &y)
}

// probeAddrs returns, for every VMA, its first and last byte, its middle
// and its two outside neighbours, plus the ends of the address space and
// the vsyscall gate; shuffled, with duplicates. At most limit VMAs are used
// (evenly spread).
func probeAddrs(vmas []VMA, limit int, rng *rand.Rand) []uint64 {
	addrs := []uint64{0, 1, 4095, 1 << 47, ^uint64(0), ^uint64(0) - 4095, gateStart, gateStart + 0x800, gateEnd, gateEnd - 1}
	step := max(len(vmas)/max(limit, 1), 1)
	for i := 0; i < len(vmas); i += step {
		v := vmas[i]
		addrs = append(addrs, v.Start, v.End-1, v.Start+(v.End-v.Start)/2, v.Start-1, v.End)
	}
	n := len(addrs)
	for range n / 4 {
		addrs = append(addrs, addrs[rng.IntN(n)])
	}
	rng.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	return addrs
}

var testFilters = []Filter{
	{},
	{Perms: PermRead},
	{Perms: PermWrite},
	{Perms: PermExec},
	{Perms: PermRead | PermExec},
	{Perms: PermShared},
	{FileBacked: true},
	{Perms: PermRead | PermExec, FileBacked: true},
}

// checkBackendsAgree queries and enumerates h with every backend and
// filter and fails on any difference that is not a documented one.
func checkBackendsAgree(t *testing.T, h *Handle, vmas []VMA, limit int) {
	rng := rand.New(rand.NewPCG(1, uint64(len(vmas))))
	addrs := probeAddrs(vmas, limit, rng)
	ioctlOK := haveIoctl(t)
	for _, f := range testFilters {
		name := fmt.Sprintf("filter=%s,file=%v", f.Perms, f.FileBacked)
		text, s := queryAnswers(t, h, addrs, &Options{Backend: BackendText, Filter: f})
		if s != StrategyText {
			t.Errorf("%s: text backend reported strategy %v", name, s)
		}
		auto, autoStrategy := queryAnswers(t, h, addrs, &Options{Filter: f, Sorted: true}) // Sorted is a lie: must not matter
		var ioctl []answer
		if ioctlOK {
			ioctl, s = queryAnswers(t, h, addrs, &Options{Backend: BackendIoctl, Filter: f})
			if s != StrategyPointIoctl {
				t.Errorf("%s: ioctl backend reported strategy %v", name, s)
			}
		} else {
			var res Result
			if err := h.Query(addrs, &Options{Backend: BackendIoctl, Filter: f}, &res); !errors.Is(err, ErrNotSupported) {
				t.Errorf("%s: forced ioctl without PROCMAP_QUERY: %v, want ErrNotSupported", name, err)
			}
			if autoStrategy != StrategyText {
				t.Errorf("%s: auto without PROCMAP_QUERY used %v", name, autoStrategy)
			}
		}
		bad := 0
		for i, a := range addrs {
			if ioctl != nil && !sameAnswer(text[i], ioctl[i]) {
				if exp, msg := expectedTextIoctlDifference(text[i], ioctl[i], a >= gateStart && a < gateEnd); !exp || msg != "" {
					t.Errorf("%s: address %#x: text %v %+v %q, ioctl %v %+v %q %s", name, a,
						text[i].reason, text[i].vma, text[i].vma.Name, ioctl[i].reason, ioctl[i].vma, ioctl[i].vma.Name, msg)
					bad++
				}
			}
			if !sameAnswer(text[i], auto[i]) && (ioctl == nil || !sameAnswer(ioctl[i], auto[i])) {
				t.Errorf("%s: address %#x: auto (%v) %v %+v agrees with no backend", name, a, autoStrategy, auto[i].reason, auto[i].vma)
				bad++
			}
			if bad > 10 {
				t.Fatal("too many differences")
			}
		}
		checkEnumerationsAgree(t, h, f, ioctlOK)
	}
}

func enumerate(tb testing.TB, h *Handle, o *Options) ([]VMA, Strategy) {
	tb.Helper()
	var res Result
	if err := h.Enumerate(o, &res); err != nil {
		tb.Fatalf("Enumerate(%v): %v", o.Backend, err)
	}
	out := make([]VMA, len(res.VMAs))
	for i := range res.VMAs {
		out[i] = res.VMAs[i].Clone()
		if i > 0 && out[i].Start < out[i-1].End {
			tb.Fatalf("Enumerate(%v): VMAs not ascending at %d", o.Backend, i)
		}
		if !o.Filter.matches(&out[i]) {
			tb.Fatalf("Enumerate(%v): %+v fails the filter %+v", o.Backend, out[i], o.Filter)
		}
	}
	if len(res.Lookups) != 0 {
		tb.Fatalf("Enumerate left %d lookups", len(res.Lookups))
	}
	return out, res.Strategy
}

func checkEnumerationsAgree(t *testing.T, h *Handle, f Filter, ioctlOK bool) {
	text, _ := enumerate(t, h, &Options{Backend: BackendText, Filter: f})
	auto, s := enumerate(t, h, &Options{Filter: f})
	if !ioctlOK {
		if s != StrategyText || !sameVMAList(text, auto) {
			t.Errorf("filter %+v: auto enumeration without the ioctl (%v) differs from text", f, s)
		}
		return
	}
	ioctl, s := enumerate(t, h, &Options{Backend: BackendIoctl, Filter: f})
	if s != StrategyIoctlWalk {
		t.Errorf("ioctl enumeration reported %v", s)
	}
	i, j := 0, 0
	for i < len(text) || j < len(ioctl) {
		var ta, ka answer
		if i < len(text) {
			ta = answer{ReasonFound, text[i]}
		}
		if j < len(ioctl) && (i == len(text) || ioctl[j].Start <= text[i].Start) {
			ka = answer{ReasonFound, ioctl[j]}
		} else {
			ka = answer{reason: ReasonUnmapped}
		}
		if !sameAnswer(ta, ka) {
			if exp, msg := expectedTextIoctlDifference(ta, ka, false); !exp || msg != "" {
				t.Fatalf("filter %+v: enumerations differ at text %d %+v %q / ioctl %+v %q %s", f, i, ta.vma, ta.vma.Name, ka.vma, ka.vma.Name, msg)
			}
		}
		if ta.reason == ReasonFound {
			i++
		}
		if ka.reason == ReasonFound {
			j++
		}
	}
	if !sameVMAList(auto, text) && !sameVMAList(auto, ioctl) {
		t.Errorf("filter %+v: auto enumeration (%v) equals neither text nor ioctl", f, s)
	}
}

func sameVMAList(a, b []VMA) bool {
	return slices.EqualFunc(a, b, func(x, y VMA) bool { return sameAnswer(answer{ReasonFound, x}, answer{ReasonFound, y}) })
}

func TestLiveBackendsAgreeSpecials(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	vmas, _ := enumerate(t, h, &Options{Backend: BackendText})
	for _, k := range []Kind{KindHeap, KindStack, KindVDSO} {
		if !slices.ContainsFunc(vmas, func(v VMA) bool { return v.Kind == k }) {
			t.Errorf("target has no %v VMA", k)
		}
	}
	checkBackendsAgree(t, h, vmas, len(vmas))
}

func TestLiveBackendsAgree20kVMAs(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 20000, Modules: 10})
	h := mustOpen(t, tg.Pid)
	vmas, _ := enumerate(t, h, &Options{Backend: BackendText})
	if len(vmas) < 20000 {
		t.Fatalf("%d VMAs, want >= 20000", len(vmas))
	}
	// Every VMA for the unfiltered enumerations; a spread of 2,000 for the
	// query batches keeps the test fast.
	checkBackendsAgree(t, h, vmas, 2000)
}

// TestLiveSpecialMappings checks each special mapping of the target
// against what target.c made, in every backend.
func TestLiveSpecialMappings(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	page := uint64(os.Getpagesize())
	type want struct {
		perms      Perm
		offset     uint64
		nameSuffix string
		kind       Kind
		fileBacked bool
	}
	wants := map[string]want{
		"offset":         {PermRead, 3 * page, "/offset.bin", KindFile, true},
		"deleted":        {PermRead, 0, "/deleted.bin (deleted)", KindDeletedFile, true},
		"spaces":         {PermRead, 0, "/two  spaces and trailing ", KindFile, true},
		"leading-space":  {PermRead, 0, "/ leading", KindFile, true},
		"newline":        {PermRead, 0, "/new\nline", KindFile, true},
		"unicode":        {PermRead, 0, "/ünïcödé-\u2713", KindFile, true},
		"fake-deleted":   {PermRead, 0, "/x (deleted)", KindDeletedFile, true},
		"exec-only":      {PermExec, 0, "/exec-only.bin", KindFile, true},
		"shared-file":    {PermRead | PermShared, 0, "/shared.bin", KindFile, true},
		"memfd":          {PermRead | PermWrite | PermShared, 0, "/memfd:procmapq test memfd (deleted)", KindDeletedFile, true},
		"shared-anon":    {PermRead | PermWrite | PermShared, 0, "/dev/zero (deleted)", KindDeletedFile, true},
		"sysv-shm":       {PermRead | PermShared, 0, " (deleted)", KindDeletedFile, true},
		"prot-none":      {0, 0, "", KindAnonymous, false},
		"anon-exec-only": {PermExec, 0, "", KindAnonymous, false},
		"module-0-text":  {PermRead | PermExec, page, "/module-0.so", KindFile, true},
	}
	labels := slices.Sorted(func(yield func(string) bool) {
		for l := range wants {
			if !yield(l) {
				return
			}
		}
	})
	var addrs []uint64
	for _, l := range labels {
		m := mapping(t, tg, l)
		addrs = append(addrs, m.Start, m.End-1)
	}
	backends := []Backend{BackendAuto, BackendText}
	if haveIoctl(t) {
		backends = append(backends, BackendIoctl)
	}
	for _, b := range backends {
		var res Result
		if err := h.Query(addrs, &Options{Backend: b}, &res); err != nil {
			t.Fatal(err)
		}
		for i, l := range labels {
			w, m := wants[l], mapping(t, tg, l)
			for k := 0; k < 2; k++ {
				v, r := res.Found(2*i + k)
				if r != ReasonFound {
					t.Errorf("%v %s: %v", b, l, r)
					continue
				}
				if v.Start != m.Start || v.End != m.End || v.Perms != w.perms || v.Offset != w.offset ||
					v.Kind != w.kind || v.FileBacked() != w.fileBacked || !strings.HasSuffix(string(v.Name), w.nameSuffix) ||
					(w.nameSuffix == "") != (len(v.Name) == 0) {
					t.Errorf("%v %s: got %x-%x %v off %#x %v file=%v %q; want %x-%x %v off %#x %v file=%v ...%q", b, l,
						v.Start, v.End, v.Perms, v.Offset, v.Kind, v.FileBacked(), v.Name,
						m.Start, m.End, w.perms, w.offset, w.kind, w.fileBacked, w.nameSuffix)
				}
				if b == BackendIoctl && v.PageSize != page {
					t.Errorf("ioctl %s: page size %d, want %d", l, v.PageSize, page)
				}
			}
		}
	}
}

// TestLiveFilterSemantics pins the kernel's filter meaning in every
// backend: permissions AND together (exec-only fails r+x), and FileBacked
// means "has a file" (memfd, shared anonymous, SysV shm yes; vdso, heap,
// stack no).
func TestLiveFilterSemantics(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	vmas, _ := enumerate(t, h, &Options{Backend: BackendText})
	kindAddr := func(k Kind) uint64 {
		i := slices.IndexFunc(vmas, func(v VMA) bool { return v.Kind == k })
		if i < 0 {
			t.Fatalf("no %v VMA", k)
		}
		return vmas[i].Start
	}
	cases := []struct {
		what   string
		addr   uint64
		filter Filter
		want   Reason
	}{
		{"exec-only file vs r+x", mapping(t, tg, "exec-only").Start, Filter{Perms: PermRead | PermExec}, ReasonFiltered},
		{"exec-only file vs x", mapping(t, tg, "exec-only").Start, Filter{Perms: PermExec}, ReasonFound},
		{"exec-only anon vs r", mapping(t, tg, "anon-exec-only").Start, Filter{Perms: PermRead}, ReasonFiltered},
		{"exec-only anon vs file", mapping(t, tg, "anon-exec-only").Start, Filter{FileBacked: true}, ReasonFiltered},
		{"prot-none vs nothing", mapping(t, tg, "prot-none").Start, Filter{}, ReasonFound},
		{"prot-none vs r", mapping(t, tg, "prot-none").Start, Filter{Perms: PermRead}, ReasonFiltered},
		{"memfd vs file", mapping(t, tg, "memfd").Start, Filter{FileBacked: true}, ReasonFound},
		{"shared anon vs file", mapping(t, tg, "shared-anon").Start, Filter{FileBacked: true}, ReasonFound},
		{"shared anon vs shared", mapping(t, tg, "shared-anon").Start, Filter{Perms: PermShared}, ReasonFound},
		{"sysv shm vs file", mapping(t, tg, "sysv-shm").Start, Filter{FileBacked: true}, ReasonFound},
		{"sysv shm vs write", mapping(t, tg, "sysv-shm").Start, Filter{Perms: PermWrite}, ReasonFiltered},
		{"read-only shared file vs shared", mapping(t, tg, "shared-file").Start, Filter{Perms: PermShared}, ReasonFound},
		{"private file vs shared", mapping(t, tg, "offset").Start, Filter{Perms: PermShared}, ReasonFiltered},
		{"vdso vs file", kindAddr(KindVDSO), Filter{FileBacked: true}, ReasonFiltered},
		{"heap vs file", kindAddr(KindHeap), Filter{FileBacked: true}, ReasonFiltered},
		{"stack vs file", kindAddr(KindStack), Filter{FileBacked: true}, ReasonFiltered},
		{"vdso vs r+x", kindAddr(KindVDSO), Filter{Perms: PermRead | PermExec}, ReasonFound},
	}
	backends := []Backend{BackendAuto, BackendText}
	if haveIoctl(t) {
		backends = append(backends, BackendIoctl)
	}
	for _, c := range cases {
		for _, b := range backends {
			var res Result
			if err := h.Query([]uint64{c.addr}, &Options{Backend: b, Filter: c.filter}, &res); err != nil {
				t.Fatal(err)
			}
			if _, r := res.Found(0); r != c.want {
				t.Errorf("%s (%v): %v, want %v", c.what, b, r, c.want)
			}
			// The enumeration keeps the VMA exactly when the query finds it.
			es, _ := enumerate(t, h, &Options{Backend: b, Filter: c.filter})
			in := slices.ContainsFunc(es, func(v VMA) bool { return v.Contains(c.addr) })
			if in != (c.want == ReasonFound) {
				t.Errorf("%s (%v): in enumeration %v, want %v", c.what, b, in, c.want == ReasonFound)
			}
		}
	}
}

func TestLiveHugetlb(t *testing.T) {
	tg := startSpecialTarget(t)
	m, ok := tg.Mapping("hugetlb")
	if !ok {
		b, _ := os.ReadFile("/proc/sys/vm/nr_hugepages")
		t.Skipf("no hugetlb mapping: the machine has no reserved huge pages (vm.nr_hugepages = %s; set it to 1 or more to run this test)", strings.TrimSpace(string(b)))
	}
	requireIoctl(t)
	h := mustOpen(t, tg.Pid)
	var res Result
	if err := h.Query([]uint64{m.Start}, &Options{Backend: BackendIoctl, Filter: Filter{FileBacked: true}}, &res); err != nil {
		t.Fatal(err)
	}
	v, r := res.Found(0)
	if r != ReasonFound || v.PageSize != 2<<20 || !bytes.HasSuffix(v.Name, []byte("(deleted)")) {
		t.Errorf("hugetlb: %v %+v %q, want a 2 MiB-page file-backed VMA", r, v, v.Name)
	}
}

// TestCompareLiveTargets runs Compare on the targets: no mismatch, and the
// documented differences classified as expected.
func TestCompareLiveTargets(t *testing.T) {
	requireIoctl(t)
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	rep, err := h.Compare(nil)
	if err != nil {
		t.Fatalf("Compare: %v\n%v", err, rep)
	}
	if len(rep.Mismatches) != 0 || !rep.Settled {
		t.Fatalf("mismatches:\n%v", rep)
	}
	got := map[DiffKind][]uint64{}
	for _, d := range rep.Expected {
		v := d.Text
		if v == nil {
			v = d.Ioctl
		}
		got[d.Kind] = append(got[d.Kind], v.Start)
	}
	if s := got[DiffNameTooLong]; len(s) != 1 || s[0] != mapping(t, tg, "long-path").Start {
		t.Errorf("name-too-long differences at %x, want the long-path mapping\n%v", s, rep)
	}
	if s := got[DiffNameEscaping]; len(s) != 1 || s[0] != mapping(t, tg, "backslash012").Start {
		t.Errorf("name-escaping differences at %x, want the backslash012 mapping\n%v", s, rep)
	}
	gate := bytes.Contains(readMapsFile(t, tg.Pid), []byte("[vsyscall]"))
	if len(got[DiffGateVMA]) != map[bool]int{true: 1, false: 0}[gate] {
		t.Errorf("gate differences %x, text has [vsyscall]: %v", got[DiffGateVMA], gate)
	}
	if rep.Matched != rep.IoctlVMAs || rep.TextVMAs != rep.IoctlVMAs+len(got[DiffGateVMA]) {
		t.Errorf("counts: %v", rep)
	}
	if !strings.Contains(rep.String(), "0 mismatches") {
		t.Errorf("report text: %s", rep)
	}
}

// TestCompareAllPids compares the two views of every process this test can
// read: no unexplained mismatch anywhere. Processes that keep changing
// (ErrNotSettled) or vanish are logged, not failed.
func TestCompareAllPids(t *testing.T) {
	requireIoctl(t)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		h, err := Open(pid)
		if err != nil {
			if errors.Is(err, ErrNoProcess) || errors.Is(err, ErrProcessGone) || errors.Is(err, ErrPermission) {
				continue
			}
			t.Fatalf("Open(%d): %v", pid, err)
		}
		rep, err := h.Compare(&CompareOptions{Attempts: 3, RetryDelay: 10e6})
		h.Close()
		switch {
		case errors.Is(err, ErrProcessGone):
			continue // kernel thread, or exited
		case errors.Is(err, ErrNotSettled):
			t.Logf("pid %d kept changing: %v", pid, rep)
			continue
		case err != nil:
			t.Fatalf("Compare(%d): %v", pid, err)
		}
		compared++
		if len(rep.Mismatches) != 0 {
			t.Errorf("pid %d: %v", pid, rep)
		}
	}
	if compared < 2 {
		t.Fatalf("only %d processes compared", compared)
	}
	t.Logf("%d processes compared", compared)
}

// TestLiveAnonNames: "[anon:...]" is not file-backed, "[anon_shmem:...]"
// is (shmem has a file), in every backend. Needs CONFIG_ANON_VMA_NAME.
func TestLiveAnonNames(t *testing.T) {
	tg := startSpecialTarget(t)
	anon, ok1 := tg.Mapping("anon-named")
	shmem, ok2 := tg.Mapping("shmem-named")
	if !ok1 || !ok2 {
		t.Skip("kernel without CONFIG_ANON_VMA_NAME: prctl(PR_SET_VMA_ANON_NAME) refused")
	}
	h := mustOpen(t, tg.Pid)
	for _, b := range liveBackends(t) {
		for _, c := range []struct {
			addr       uint64
			name       string
			fileBacked bool
		}{{anon.Start, "[anon:procmapq-anon]", false}, {shmem.Start, "[anon_shmem:procmapq-shmem]", true}} {
			var res Result
			if err := h.Query([]uint64{c.addr}, &Options{Backend: b}, &res); err != nil {
				t.Fatal(err)
			}
			v, r := res.Found(0)
			if r != ReasonFound || string(v.Name) != c.name || v.Kind != KindNamedAnon || v.FileBacked() != c.fileBacked {
				t.Errorf("%v: %v %+v %q, want %s file-backed=%v", b, r, v, v.Name, c.name, c.fileBacked)
			}
			if err := h.Query([]uint64{c.addr}, &Options{Backend: b, Filter: Filter{FileBacked: true}}, &res); err != nil {
				t.Fatal(err)
			}
			if _, r := res.Found(0); (r == ReasonFound) != c.fileBacked {
				t.Errorf("%v: %s under the file-backed filter: %v", b, c.name, r)
			}
		}
	}
}
