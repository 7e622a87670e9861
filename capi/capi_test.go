package main

// These tests build libprocmapq.so from this package (with
// GOEXPERIMENT=cgocheck2, which checks every pointer passed between Go and
// C), link the C driver testdata/capitest.c against it, and run the driver
// as a real C host: against itself (the ABI contract, bad pointers, fork,
// threads) and against live targets (tests/target), comparing what comes
// through the C ABI with what package core answers for the same target.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libprocmapq/libprocmapq/core"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

func TestMain(m *testing.M) {
	code := m.Run()
	variants.Range(func(_, v any) bool {
		if d := v.(*builtOnce).b.dir; d != "" {
			os.RemoveAll(d)
		}
		return true
	})
	os.Exit(code)
}

// built is one library variant and the driver linked against it.
type built struct {
	dir    string // holds libprocmapq.so.0, libprocmapq.so and capitest
	driver string
	err    error
}

var variants sync.Map // tags -> *builtOnce

type builtOnce struct {
	once sync.Once
	b    built
}

// library builds (once per test process) the library with the given build
// tags and the C driver against it.
func library(t testing.TB, tags string, cgocheck2 bool) built {
	t.Helper()
	v, _ := variants.LoadOrStore(fmt.Sprint(tags, cgocheck2), new(builtOnce))
	bo := v.(*builtOnce)
	bo.once.Do(func() { bo.b = buildVariant(tags, cgocheck2) })
	if bo.b.err != nil {
		t.Fatal(bo.b.err)
	}
	return bo.b
}

func buildVariant(tags string, cgocheck2 bool) built {
	dir, err := os.MkdirTemp("", "procmapq-capi-test-")
	if err != nil {
		return built{err: err}
	}
	fail := func(err error) built { return built{dir: dir, err: err} }
	b := built{dir: dir, driver: filepath.Join(dir, "capitest")}
	mapFile, err := filepath.Abs("procmapq.map")
	if err != nil {
		return fail(err)
	}
	// Test-only entry points, exported through a copy of the version script.
	var testSyms []string
	if strings.Contains(tags, "procmapq_crashtest") {
		testSyms = append(testSyms, "procmapq_crash_for_test")
	}
	var overlay []string
	if strings.Contains(tags, "procmapq_allocs") {
		// The heap counter is not in the package at all: the build adds
		// testdata/allocs_export.go to it (go build -overlay).
		testSyms = append(testSyms, "procmapq_test_heap_allocs")
		src, err := filepath.Abs("testdata/allocs_export.go")
		if err != nil {
			return fail(err)
		}
		pkgDir, err := filepath.Abs(".")
		if err != nil {
			return fail(err)
		}
		ov := filepath.Join(dir, "overlay.json")
		js := fmt.Sprintf(`{"Replace": {%q: %q}}`, filepath.Join(pkgDir, "zz_test_allocs_export.go"), src)
		if err := os.WriteFile(ov, []byte(js), 0o644); err != nil {
			return fail(err)
		}
		overlay = []string{"-overlay", ov}
	}
	if len(testSyms) > 0 {
		m, err := os.ReadFile(mapFile)
		if err != nil {
			return fail(err)
		}
		for _, s := range testSyms {
			m = bytes.Replace(m, []byte("global:"), []byte("global:\n\t\t"+s+";"), 1)
		}
		mapFile = filepath.Join(dir, "procmapq.map")
		if err := os.WriteFile(mapFile, m, 0o644); err != nil {
			return fail(err)
		}
	}
	// Linked by the Makefile's recipe (build-lib.sh): same soname, same
	// symbol versions as the shipped library.
	soname, err := buildLib(dir, tags, mapFile, overlay, cgocheck2)
	if err != nil {
		return fail(err)
	}
	if err := os.Symlink(soname, filepath.Join(dir, "libprocmapq.so")); err != nil {
		return fail(err)
	}
	cc := exec.Command("gcc", "-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-I../include",
		"testdata/capitest.c", "-L"+dir, "-lprocmapq", "-Wl,-rpath,"+dir, "-lpthread", "-ldl", "-o", b.driver)
	if out, err := cc.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("building capitest.c: %v\n%s", err, out))
	}
	return b
}

// buildLib links the library into dir, named by its soname, with
// build-lib.sh (the recipe the Makefile uses), and returns the soname.
func buildLib(dir, tags, mapFile string, overlay []string, cgocheck2 bool) (string, error) {
	out, err := exec.Command("./build-lib.sh", "-n").Output()
	if err != nil {
		return "", fmt.Errorf("build-lib.sh -n: %v", err)
	}
	soname := strings.TrimSpace(string(out))
	args := []string{"-t", tags, "-m", mapFile}
	if len(overlay) == 2 { // "-overlay", FILE
		args = append(args, "-o", overlay[1])
	}
	cmd := exec.Command("./build-lib.sh", append(args, filepath.Join(dir, soname))...)
	cmd.Env = os.Environ()
	if cgocheck2 {
		cmd.Env = append(cmd.Env, "GOEXPERIMENT=cgocheck2")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return soname, nil
}

// checked is the library every functional test uses.
func checked(t testing.TB) built { return library(t, "", true) }

// drive runs the C driver and returns its stdout; a non-zero exit fails
// the test with its stderr.
func drive(t testing.TB, b built, args ...string) string {
	t.Helper()
	return driveEnv(t, b, nil, args...)
}

// driveEnv is drive with extra environment variables for the driver.
func driveEnv(t testing.TB, b built, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(b.driver, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("capitest %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func TestContract(t *testing.T) { drive(t, checked(t), "contract") }

func TestBadPointers(t *testing.T) { drive(t, checked(t), "faults") }

func TestHandles(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{})
	drive(t, checked(t), "handles", strconv.Itoa(tg.Pid))
}

// TestBigBatchMemoryReturned: a 4M-address unsorted batch makes the
// library sort ~180 MB of scratch; after the caller frees its arrays and
// closes the handle, RSS must be back within 32 MiB of where it was.
func TestBigBatchMemoryReturned(t *testing.T) {
	out := drive(t, checked(t), "bigbatch", "4000000")
	t.Log(strings.TrimSpace(out))
}

// TestManyLiveHandles: 100,000 handles live at once each answer from
// their own text, and all close (with a registry that copied its table on
// every open and close, this did not finish in a minute).
func TestManyLiveHandles(t *testing.T) { drive(t, checked(t), "manyhandles", "100000") }

func TestForkedChild(t *testing.T) {
	lib := checked(t)
	drive(t, lib, "fork")
	// A child made while other threads are inside the library, also by
	// syscall(SYS_fork) and clone(2), which run no atfork handler: the
	// shim's MADV_WIPEONFORK page tells it is a child.
	for _, mode := range []string{"fork", "sysfork", "clone"} {
		t.Run(mode, func(t *testing.T) { drive(t, lib, "fork", mode) })
	}
}

// openCore opens the target with package core, the reference the C ABI's
// answers are compared with.
func openCore(t testing.TB, pid int) *core.Handle {
	t.Helper()
	h, err := core.Open(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// targetAddrs returns addresses around every mapping of the target: its
// first and last bytes, the byte after it, plus unmapped ones, unsorted
// and with duplicates.
func targetAddrs(tg *testtarget.Target) []uint64 {
	addrs := []uint64{0x1000, 1 << 46}
	for _, m := range tg.Mappings {
		addrs = append(addrs, m.End-1, m.Start, m.End, m.Start)
	}
	return addrs
}

func hexOrDash(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// vmaLines renders core VMAs as capitest prints procmapq_vma entries.
func vmaLines(vmas []core.VMA) []string {
	var lines []string
	for i := range vmas {
		v := &vmas[i]
		lines = append(lines, fmt.Sprintf("vma %x %x %x %d %d %d %d %d %d %d %s %s",
			v.Start, v.End, v.Offset, v.Inode, v.PageSize, v.DevMajor, v.DevMinor, v.Perms, v.Kind, v.Flags,
			hexOrDash(v.Name), hexOrDash(v.BuildID)))
	}
	return lines
}

func lines(s string, prefix string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: C ABI and core differ", what)
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("  line %d:\n    C ABI: %s\n    core:  %s", i, g, w)
		}
	}
}

type backendCase struct {
	name    string
	backend core.Backend
	flags   uint32 // PROCMAPQ_QUERY_*
	perms   core.Perm
}

// backendCases are the option sets compared field for field; auto is
// compared on lookups only (its strategy, and so page_size, depends on
// each process's cost model).
func backendCases(t *testing.T) []backendCase {
	cases := []backendCase{
		{"text", core.BackendText, 0, 0},
		{"text/rx", core.BackendText, 0, core.PermRead | core.PermExec},
		{"text/file-backed", core.BackendText, 4, 0},
	}
	if ok, err := core.SupportsProcmapQuery(); testtarget.CheckIoctl(t, ok, err) {
		cases = append(cases,
			backendCase{"ioctl", core.BackendIoctl, 0, 0},
			backendCase{"ioctl/build-ids", core.BackendIoctl, 2, 0},
			backendCase{"ioctl/rx/file-backed", core.BackendIoctl, 4, core.PermRead | core.PermExec})
	} else {
		t.Log("kernel without PROCMAP_QUERY: ioctl cases skipped")
	}
	return cases
}

func (c backendCase) options() *core.Options {
	return &core.Options{Backend: c.backend, Filter: core.Filter{Perms: c.perms, FileBacked: c.flags&4 != 0},
		BuildIDs: c.flags&2 != 0}
}

func (c backendCase) args(cmd string, pid int) []string {
	return []string{cmd, strconv.Itoa(pid), strconv.Itoa(int(c.backend)), strconv.Itoa(int(c.flags)), strconv.Itoa(int(c.perms))}
}

func TestEnumerateMatchesCore(t *testing.T) {
	b := checked(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 20, Modules: 3, Specials: true})
	h := openCore(t, tg.Pid)
	for _, c := range backendCases(t) {
		t.Run(c.name, func(t *testing.T) {
			out := drive(t, b, c.args("enumerate", tg.Pid)...)
			var res core.Result
			if err := h.Enumerate(c.options(), &res); err != nil {
				t.Fatal(err)
			}
			diffLines(t, "VMAs", lines(out, "vma "), vmaLines(res.VMAs))
			if c.perms != 0 || c.flags != 0 {
				return
			}
			// Independently of core: every page of every mapping the
			// target made is in a VMA of the C output.
			type span struct{ start, end uint64 }
			var spans []span
			for _, l := range lines(out, "vma ") {
				f := strings.Fields(l)
				s, _ := strconv.ParseUint(f[1], 16, 64)
				e, _ := strconv.ParseUint(f[2], 16, 64)
				spans = append(spans, span{s, e})
			}
			for _, m := range tg.Mappings {
				for a := m.Start; a < m.End; a += 4096 {
					if !slices.ContainsFunc(spans, func(s span) bool { return s.start <= a && a < s.end }) {
						t.Errorf("mapping %s %x-%x: page %x not in the C enumeration", m.Label, m.Start, m.End, a)
						break
					}
				}
			}
		})
	}
}

func lookupLines(addrs []uint64, res *core.Result) []string {
	var out []string
	for i, l := range res.Lookups {
		off := uint64(0)
		if l.Reason == core.ReasonFound {
			off = res.VMAs[l.VMA].FileOffset(addrs[i])
		}
		out = append(out, fmt.Sprintf("lookup %d %d %d %x", i, l.VMA, l.Reason, off))
	}
	return out
}

func addrArgs(addrs []uint64) []string {
	var s []string
	for _, a := range addrs {
		s = append(s, fmt.Sprintf("%#x", a))
	}
	return s
}

func TestQueryMatchesCore(t *testing.T) {
	b := checked(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 10, Modules: 2, Specials: true})
	h := openCore(t, tg.Pid)
	addrs := targetAddrs(tg)
	for _, c := range append(backendCases(t), backendCase{name: "auto"}) {
		t.Run(c.name, func(t *testing.T) {
			out := drive(t, b, append(c.args("query", tg.Pid), addrArgs(addrs)...)...)
			var res core.Result
			if err := h.Query(addrs, c.options(), &res); err != nil {
				t.Fatal(err)
			}
			if c.name != "auto" {
				diffLines(t, "strategy", lines(out, "strategy "), []string{fmt.Sprintf("strategy %d", res.Strategy)})
				diffLines(t, "VMAs", lines(out, "vma "), vmaLines(res.VMAs))
			}
			diffLines(t, "lookups", lines(out, "lookup "), lookupLines(addrs, &res))
			if c.perms != 0 || c.flags != 0 {
				return
			}
			// Independently of core: each mapping's first byte is found,
			// at file offset start - vma.start + vma.offset >= 0.
			ls := lines(out, "lookup ")
			for i, a := range addrs {
				for _, m := range tg.Mappings {
					if a == m.Start && strings.Fields(ls[i])[3] == "-1" {
						t.Errorf("mapping %s start %#x not found: %s", m.Label, a, ls[i])
					}
				}
			}
		})
	}
}

func TestNormalizeMatchesCore(t *testing.T) {
	b := checked(t)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 5, Modules: 2, Specials: true})
	h := openCore(t, tg.Pid)
	addrs := targetAddrs(tg)
	const flags = 0x02 | 0x08 // PROCMAPQ_NORM_BUILD_IDS | PROCMAPQ_NORM_VIRT_ADDRS
	out := drive(t, b, append([]string{"normalize", strconv.Itoa(tg.Pid), strconv.Itoa(flags)}, addrArgs(addrs)...)...)
	var res core.Normalized
	if err := h.Normalize(addrs, &core.NormalizeOptions{BuildIDs: true, VirtAddrs: true}, &res); err != nil {
		t.Fatal(err)
	}
	var metas, outs []string
	for i, m := range res.Metas {
		metas = append(metas, fmt.Sprintf("meta %d %d %d %d %d %d %d %d %s %s", i, m.Kind, m.Reason, m.BuildIDSource,
			m.Flags, m.DevMajor, m.DevMinor, m.Inode, hexOrDash(m.Path), hexOrDash(m.BuildID)))
	}
	for i, o := range res.Outputs {
		fl, va := 0, uint64(0)
		if o.HasVirtAddr {
			fl, va = 1, o.VirtAddr
		}
		outs = append(outs, fmt.Sprintf("out %d %x %d %d %x", i, o.FileOffset, o.Meta, fl, va))
	}
	diffLines(t, "metas", lines(out, "meta "), metas)
	diffLines(t, "outputs", lines(out, "out "), outs)
	// Independently of core: module text addresses are ELF metas of the
	// module's file.
	ml := lines(out, "meta ")
	for i, a := range addrs {
		for _, m := range tg.Mappings {
			if a != m.Start || !strings.HasSuffix(m.Label, "-text") {
				continue
			}
			f := strings.Fields(lines(out, "out ")[i])
			mi, _ := strconv.Atoi(f[3])
			mf := strings.Fields(ml[mi])
			path, _ := hex.DecodeString(mf[9])
			if mf[2] != "1" || !strings.Contains(string(path), strings.TrimSuffix(m.Label, "-text")) {
				t.Errorf("%s at %#x: meta %s (%q)", m.Label, a, ml[mi], path)
			}
		}
	}
}

func TestCompareMatchesCore(t *testing.T) {
	ok, err := core.SupportsProcmapQuery()
	testtarget.SkipWithoutIoctl(t, ok, err)
	b := checked(t)
	tg := testtarget.Start(t, testtarget.Options{Modules: 2, Specials: true})
	h := openCore(t, tg.Pid)
	out := drive(t, b, "compare", strconv.Itoa(tg.Pid))
	rep, err := h.Compare(nil)
	if err != nil {
		t.Fatal(err)
	}
	settled := 0
	if rep.Settled {
		settled = 1
	}
	want := []string{fmt.Sprintf("report %d %d %d %d %d %d %d %d", rep.Pid, settled, rep.TextVMAs, rep.IoctlVMAs,
		rep.Matched, rep.PageSizeOnlyIoctl, len(rep.Expected), len(rep.Mismatches))}
	for _, d := range append(append([]core.Difference(nil), rep.Expected...), rep.Mismatches...) {
		var fl uint32
		var ts, te, is, ie uint64
		if d.Kind.Expected() {
			fl |= 1
		}
		if d.Text != nil {
			fl, ts, te = fl|2, d.Text.Start, d.Text.End
		}
		if d.Ioctl != nil {
			fl, is, ie = fl|4, d.Ioctl.Start, d.Ioctl.End
		}
		want = append(want, fmt.Sprintf("diff %d %d %x %x %x %x %s", d.Kind, fl, ts, te, is, ie, hexOrDash([]byte(d.Detail))))
	}
	got := append(lines(out, "report "), lines(out, "diff ")...)
	diffLines(t, "report", got, want)
}

// TestFallbackWithoutIoctl forces the library's probe to "no PROCMAP_QUERY"
// (as on a kernel before 6.11): auto answers from the text with the same
// lookups as core's text backend, and a forced ioctl backend is -ENOTTY.
func TestFallbackWithoutIoctl(t *testing.T) {
	b := checked(t)
	tg := testtarget.Start(t, testtarget.Options{Modules: 2, Specials: true})
	h := openCore(t, tg.Pid)
	addrs := targetAddrs(tg)
	noIoctl := []string{"PROCMAPQ_FORCE_PROBE=0"}
	auto := backendCase{name: "auto", backend: core.BackendAuto}
	out := driveEnv(t, b, noIoctl, append(auto.args("query", tg.Pid), addrArgs(addrs)...)...)
	var res core.Result
	if err := h.Query(addrs, &core.Options{Backend: core.BackendText}, &res); err != nil {
		t.Fatal(err)
	}
	diffLines(t, "strategy", lines(out, "strategy "), []string{fmt.Sprintf("strategy %d", core.StrategyText)})
	diffLines(t, "VMAs", lines(out, "vma "), vmaLines(res.VMAs))
	diffLines(t, "lookups", lines(out, "lookup "), lookupLines(addrs, &res))

	ioctl := backendCase{name: "ioctl", backend: core.BackendIoctl}
	cmd := exec.Command(b.driver, append(ioctl.args("query", tg.Pid), addrArgs(addrs)...)...)
	cmd.Env = append(os.Environ(), noIoctl...)
	msg, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(msg, []byte("not supported")) {
		t.Errorf("forced ioctl backend without PROCMAP_QUERY: %v\n%s", err, msg)
	}
}

// TestTargetGone: the target exits between open and query. Every call says
// -ESRCH; query still writes every lookup (PROCESS_GONE) and normalize
// still returns its result (checked in capitest.c).
func TestTargetGone(t *testing.T) {
	b := checked(t)
	tg := testtarget.Start(t, testtarget.Options{Modules: 1})
	cmd := exec.Command(b.driver, append([]string{"gone", strconv.Itoa(tg.Pid)}, addrArgs(targetAddrs(tg))...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	opened := make(chan struct{})
	cmd.Stdout, cmd.Stderr = &lineWatcher{buf: &stdout, want: "opened\n", seen: opened}, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-opened:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("capitest gone never opened the target:\n%s%s", stdout.String(), stderr.String())
	}
	tg.Stop() // exits and is reaped: the handle's process is gone
	stdin.Write([]byte("go\n"))
	stdin.Close()
	if err := cmd.Wait(); err != nil || !strings.Contains(stdout.String(), "done") {
		t.Fatalf("capitest gone: %v\n%s%s", err, stdout.String(), stderr.String())
	}
}

// lineWatcher is an io.Writer that closes seen once want has been written.
type lineWatcher struct {
	mu   sync.Mutex
	buf  *bytes.Buffer
	want string
	seen chan struct{}
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return len(p), nil
}

func TestThreadsShareAHandle(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 50, Modules: 2})
	drive(t, checked(t), append([]string{"threads", strconv.Itoa(tg.Pid)}, addrArgs(targetAddrs(tg))...)...)
}

// TestCrashReportSymbolized shows what cgosymbolizer is for: a crash in C
// code called from inside the library (a test-only entry point) prints the
// C frames with file and line; the same library built without it does not.
func TestCrashReportSymbolized(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two extra library variants")
	}
	for _, c := range []struct {
		tags       string
		symbolized bool
	}{
		{crashAllocsTags, true}, // shared with TestQueryAllocsCABI: one build
		{"procmapq_crashtest procmapq_nosymbolizer", false},
	} {
		t.Run(strings.ReplaceAll(c.tags, " ", ","), func(t *testing.T) {
			b := library(t, c.tags, false)
			cmd := exec.Command(b.driver, "crash")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("capitest crash did not crash: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("SIGSEGV")) {
				t.Fatalf("no SIGSEGV report:\n%s", out)
			}
			// A symbolized C frame: the function name, then its file:line.
			frame := func(fn string) bool {
				return regexp.MustCompile(`(?m)^` + fn + `\n\t\S*capi/crashtest\.c:\d+`).Match(out)
			}
			if frame("pmq_crash_inner") != c.symbolized || frame("pmq_crash_outer") != c.symbolized {
				t.Fatalf("C frames symbolized: inner %v, outer %v; want %v:\n%s",
					frame("pmq_crash_inner"), frame("pmq_crash_outer"), c.symbolized, out)
			}
		})
	}
}

// BenchmarkQueryCABI compares, side by side, the same procmapq query made
// from Go on a core.Handle and through the C ABI by a C program (capitest
// bench, timed inside the program, reported as ns/op): an empty batch (the
// pure cost of crossing the ABI) and a batch of one address.
func BenchmarkQueryCABI(b *testing.B) {
	lib := library(b, "", false) // cgocheck2 would add checking cost
	tg := testtarget.Start(b, testtarget.Options{Modules: 1})
	addr := tg.Mappings[0].Start
	for _, mode := range []string{"empty", "one"} {
		b.Run(mode+"/go", func(b *testing.B) {
			h := openCore(b, tg.Pid)
			var addrs []uint64
			if mode == "one" {
				addrs = []uint64{addr}
			}
			var res core.Result
			for range 1000 { // the same warm-up as the C side
				h.Query([]uint64{addr}, nil, &res)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Query(addrs, nil, &res); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode+"/c-abi", func(b *testing.B) {
			out := drive(b, lib, "bench", mode, strconv.Itoa(b.N), strconv.Itoa(tg.Pid), fmt.Sprintf("%#x", addr))
			ns, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
			if err != nil {
				b.Fatalf("capitest bench output %q", out)
			}
			b.ReportMetric(ns, "ns/op")
		})
	}
}

// crashAllocsTags is the one test-only variant both TestCrashReportSymbolized
// and TestQueryAllocsCABI use: each extra variant is a c-shared build, many
// minutes on a loaded 2-core machine (a fourth one pushed capi past go
// test's 30-minute timeout beside two busy loops). The crash entry point
// does not run during the allocation count.
const crashAllocsTags = "procmapq_crashtest procmapq_allocs"

// TestQueryAllocsCABI asserts what BenchmarkQueryCABI only reports: a
// steady-state query (and enumeration) through the C ABI allocates nothing
// on the library's Go heap, on every backend. The library is a Go runtime of
// its own inside the C process, so the count comes from inside it: a variant
// built with testdata/allocs_export.go added by overlay exports the heap
// object counter (runtime.MemStats.Mallocs), and capitest allocs reads it
// around N calls after a warm-up. The control (open + close per call, which
// does allocate) shows the counter is live. An allocation added to the
// query path (even one per 100 calls) fails the test.
func TestQueryAllocsCABI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an extra library variant")
	}
	lib := library(t, crashAllocsTags, false)
	tg := testtarget.Start(t, testtarget.Options{VMAs: 20, Modules: 2})
	ok, err := core.SupportsProcmapQuery()
	ioctl := "0"
	if testtarget.CheckIoctl(t, ok, err) {
		ioctl = "1"
	}
	const calls = 2000
	// Addresses in different VMAs, unsorted, with an unmapped one.
	var addrs []uint64
	for i := len(tg.Mappings) - 1; i >= 0; i-- {
		addrs = append(addrs, tg.Mappings[i].Start)
	}
	addrs = append(addrs, 0x1000)
	out := drive(t, lib, append([]string{"allocs", strconv.Itoa(tg.Pid), strconv.Itoa(calls), ioctl}, addrArgs(addrs)...)...)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "allocs" {
			t.Fatalf("capitest allocs output %q", line)
		}
		name := f[1]
		objects, err := strconv.ParseUint(f[3], 10, 64)
		if err != nil {
			t.Fatalf("capitest allocs output %q", line)
		}
		seen[name] = true
		t.Logf("%-20s %5d heap objects in %s calls", name, objects, f[2])
		if strings.HasPrefix(name, "control/") {
			if objects < calls {
				t.Errorf("%s: %d heap objects in %s calls: the counter does not see allocations", name, objects, f[2])
			}
		} else if objects != 0 {
			t.Errorf("%s: %d Go heap objects allocated in %s steady-state calls, want 0", name, objects, f[2])
		}
	}
	want := []string{"query-empty", "query-one/auto", "query-batch/auto", "query-batch/text",
		"enumerate/auto", "enumerate/text", "control/open-close"}
	if ioctl == "1" {
		want = append(want, "query-one/ioctl", "query-batch/ioctl", "enumerate/ioctl")
	}
	for _, name := range want {
		if !seen[name] {
			t.Errorf("capitest allocs measured no %s", name)
		}
	}
}

// TestNoHostHostilePackages keeps out of the library the packages that
// would take over the host: os/signal (installs handlers), runtime/pprof
// (CPU profiling replaces the host's SIGPROF handler) and log (log.Fatal
// exits the host). See docs/cshared-hazards.md, "Panics and os.Exit" and
// "Signals".
func TestNoHostHostilePackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch pkg {
		case "os/signal", "runtime/pprof", "log", "log/slog":
			t.Errorf("libprocmapq.so depends on %s", pkg)
		}
	}
}
