package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
)

// contenderOrder is the column order of the tables; unknown contenders
// (a future driver) follow in the order they appeared.
var contenderOrder = []string{
	"c-limit", "c-fastparse", "c-fscanf",
	"cabi-ioctl", "cabi-text", "cabi-auto",
	"go-ioctl", "go-text", "go-auto", "go-procfs", "go-parsemaps",
	"py-ioctl", "py-text", "py-auto",
}

// textContender reports whether c reads the maps text (for "× best text").
func textContender(c string) bool {
	return c == "c-fscanf" || c == "c-fastparse" || c == "go-procfs" || strings.HasSuffix(c, "-text")
}

var contenderAbout = map[string]string{
	"c-limit":      "physical limit: plain C, one PROCMAP_QUERY per distinct VMA, kept fd (on rows with a fresh handle per call, `*-open` and `adv-*-fresh`: open + ioctls + close)",
	"c-fastparse":  "hand-written C text parser (perf style), pread into 64 KiB, kept fd; on `parse-*` rows its line splitter and parser alone over the captured text in memory (the rows' reference)",
	"c-fscanf":     "the seed's fscanf text resolver (fopen per call, 4 KiB stdio buffer)",
	"cabi-ioctl":   "libprocmapq through the C ABI, ioctl backend",
	"cabi-text":    "libprocmapq through the C ABI, text backend; on `parse-*` rows `procmapq_open_text` + `procmapq_enumerate` + `procmapq_close` on the captured text",
	"cabi-auto":    "libprocmapq through the C ABI, auto backend",
	"go-ioctl":     "libprocmapq Go core called directly, ioctl backend",
	"go-text":      "libprocmapq Go core called directly, text backend; on `parse-*` rows `core.OpenText` + `Enumerate` + `Close` on the captured text",
	"go-auto":      "libprocmapq Go core called directly, auto backend",
	"go-procfs":    "github.com/prometheus/procfs v0.23.0 ProcMaps() + walk of the sorted addresses; on `parse-*` rows ProcMaps() on a fake procfs root under /dev/shm holding the captured text as `<pid>/maps` (procfs cannot parse from bytes, so this includes reading the tmpfs file)",
	"go-parsemaps": "libprocmapq Go core `core.ParseMaps` on the captured text (`parse-*` rows only)",
	"py-ioctl":     "Python ctypes binding, ioctl backend",
	"py-text":      "Python ctypes binding, text backend",
	"py-auto":      "Python ctypes binding, auto backend",
}

// about describes a contender; py-bulk* contenders (the binding's bulk
// form, named by bench/py/pybench.py) and other unknown py-* ones get a
// generic description from their name.
func about(c string) string {
	if a, ok := contenderAbout[c]; ok {
		return a
	}
	backend := ""
	for _, b := range []string{"ioctl", "text", "auto"} {
		if strings.HasSuffix(c, "-"+b) {
			backend = ", " + b + " backend"
		}
	}
	switch {
	case strings.HasPrefix(c, "py-bulk"):
		return "Python ctypes binding, bulk form: per-address answers in arrays, no Python object per address" + backend
	case strings.HasPrefix(c, "py-"):
		return "Python ctypes binding" + backend + " (see bench/py/pybench.py)"
	}
	return ""
}

type stat struct {
	median, p25, p75 float64
	n                int
}

func stats(samples []float64) stat {
	var s []float64
	for _, v := range samples {
		if v >= 0 {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return stat{}
	}
	slices.Sort(s)
	q := func(p float64) float64 {
		x := p * float64(len(s)-1)
		i := int(x)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (x-float64(i))*(s[i+1]-s[i])
	}
	return stat{median: q(0.5), p25: q(0.25), p75: q(0.75), n: len(s)}
}

type row struct {
	contender     string
	st            stat
	cold          stat    // first call of a block, after other contenders' work
	xLimit, xText float64 // × the table's reference, × best text; 0 = not applicable
	strategy      string
	allocsPerCall string
}

type table struct {
	w        *workload
	rows     []row
	ref      string // the "× limit" reference: c-limit, or c-fastparse on parse rows
	bestText string
	vmas     int // VMAs of the target (0 = own process)
}

type report struct {
	machine    []string
	tables     []table
	contenders []string
	res        *spec.Run
}

func (t *table) median(c string) float64 {
	for _, r := range t.rows {
		if r.contender == c {
			return r.st.median
		}
	}
	return 0
}

func buildReport(ws []*workload, res *spec.Run, machine []string, quick bool) *report {
	rep := &report{machine: machine, res: res}
	seen := map[string]bool{}
	for _, c := range contenderOrder {
		if slices.Contains(res.Order, c) {
			rep.contenders = append(rep.contenders, c)
			seen[c] = true
		}
	}
	for _, c := range res.Order {
		if !seen[c] {
			rep.contenders = append(rep.contenders, c)
		}
	}
	for _, w := range ws {
		t := table{w: w}
		if w.Target != nil {
			t.vmas = len(w.Target.vmas)
		}
		samples := res.Samples[w.Name]
		for _, c := range rep.contenders {
			if s, ok := samples[c]; ok {
				info := res.Info[w.Name][c]
				t.rows = append(t.rows, row{contender: c, st: stats(s), cold: stats(res.Cold[w.Name][c]),
					strategy: info["strategy"], allocsPerCall: info["allocs"]})
			}
		}
		t.ref = reference(w)
		limit := t.median(t.ref)
		best := math.Inf(1)
		for _, r := range t.rows {
			if textContender(r.contender) && r.st.median > 0 && r.st.median < best {
				best, t.bestText = r.st.median, r.contender
			}
		}
		for i := range t.rows {
			r := &t.rows[i]
			if limit > 0 {
				r.xLimit = r.st.median / limit
			}
			if t.bestText != "" {
				r.xText = r.st.median / best
			}
		}
		rep.tables = append(rep.tables, t)
	}
	return rep
}

// reference is the contender a workload's "× limit" ratios divide by: the
// physical limit c-limit, or on parse-only workloads (no kernel, so no
// ioctl) the plain C parser.
func reference(w *workload) string {
	if w.Kind == spec.KindParse {
		return "c-fastparse"
	}
	return "c-limit"
}

// fmtNs prints a duration with three significant digits.
func fmtNs(ns float64) string {
	switch {
	case ns <= 0:
		return "–"
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e4:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	case ns < 1e5:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns < 1e6:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	case ns < 1e7:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	default:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
}

func fmtRatio(x float64) string {
	switch {
	case x <= 0:
		return "–"
	case x < 10:
		return fmt.Sprintf("%.2f×", x)
	default:
		return fmt.Sprintf("%.0f×", x)
	}
}

// autoRow compares one implementation's auto backend with its best fixed
// backend on one workload.
type autoRow struct {
	impl            string
	auto, bestFixed float64
	fixedName       string
	strategy        string
	// bestAny is the best fixed strategy of any implementation: min over
	// c-limit, c-fastparse and impl's forced ioctl and text backends.
	bestAny float64
	anyName string
}

// bestFixedAny is the fastest fixed strategy on t for impl: the plain C
// ioctl loop, the plain C parser, and impl's own forced backends.
func (t *table) bestFixedAny(impl string) (float64, string) {
	best, name := 0.0, ""
	for _, c := range []string{"c-limit", "c-fastparse", impl + "-ioctl", impl + "-text"} {
		if m := t.median(c); m > 0 && (best == 0 || m < best) {
			best, name = m, c
		}
	}
	return best, name
}

func (t *table) autoRows() []autoRow {
	var out []autoRow
	for _, impl := range []string{"cabi", "go", "py"} {
		auto := t.median(impl + "-auto")
		io, tx := t.median(impl+"-ioctl"), t.median(impl+"-text")
		if auto <= 0 || io <= 0 || tx <= 0 {
			continue
		}
		r := autoRow{impl: impl, auto: auto, bestFixed: io, fixedName: "ioctl"}
		r.bestAny, r.anyName = t.bestFixedAny(impl)
		if tx < io {
			r.bestFixed, r.fixedName = tx, "text"
		}
		for _, rw := range t.rows {
			if rw.contender == impl+"-auto" {
				r.strategy = rw.strategy
			}
		}
		out = append(out, r)
	}
	return out
}

// markdown renders the whole report.
func (rep *report) markdown() string {
	var b strings.Builder
	b.WriteString(rep.summaryMarkdown())
	b.WriteString(rep.autoMarkdown())
	b.WriteString("\n### Per workload\n\n")
	b.WriteString("Median of the steady-state calls (pooled over the rounds), interquartile range, ratio to the reference (the physical limit `c-limit`; on `parse-*` rows the plain C parser `c-fastparse`) and to the fastest text contender of the same workload, the median of the *cold* calls (the first of each block of calls, right after other contenders' work: cold caches and, for the C ABI, a Go runtime that gave its P away), the strategy libprocmapq's last call used, and Go heap allocations per call.\n")
	for _, t := range rep.tables {
		fmt.Fprintf(&b, "\n#### `%s` — %s\n\n", t.w.Name, t.w.Title)
		fmt.Fprintf(&b, "| contender | median | IQR | × %s | × best text | cold | strategy | allocs/call | calls |\n", t.ref)
		b.WriteString("|---|--:|--:|--:|--:|--:|---|--:|--:|\n")
		for _, r := range t.rows {
			iqr := "–"
			if r.st.median > 0 {
				iqr = fmt.Sprintf("%s–%s", fmtNs(r.st.p25), fmtNs(r.st.p75))
			}
			name := r.contender
			if r.contender == t.bestText {
				name += " (best text)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", name, fmtNs(r.st.median), iqr,
				fmtRatio(r.xLimit), fmtRatio(r.xText), fmtNs(r.cold.median), dash(r.strategy), dash(r.allocsPerCall), r.st.n)
		}
	}
	if len(rep.res.Notes) > 0 {
		b.WriteString("\nNotes: " + strings.Join(rep.res.Notes, "; ") + "\n")
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// summaryMarkdown is what the README quotes: the machine, headline
// ratios, one line per workload with every contender's median and ratio to
// the limit, and the C ABI's own costs.
func (rep *report) summaryMarkdown() string {
	var b strings.Builder
	b.WriteString("Measured on: " + strings.Join(rep.machine, "; ") + ".\n\n")
	if hs := rep.headlines(); len(hs) > 0 {
		b.WriteString("Headlines (ratios of medians measured side by side in this run):\n\n")
		for _, h := range hs {
			b.WriteString("- " + h + "\n")
		}
		b.WriteString("\n")
	}
	if g := rep.goalsMarkdown(); g != "" {
		b.WriteString(g + "\n")
	}
	b.WriteString("### Median time per call (× the row's reference: the physical limit `c-limit`; on `parse-*` rows the plain C parser `c-fastparse`)\n\n")
	b.WriteString("| workload | VMAs |")
	for _, c := range rep.contenders {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString("\n|---|--:|" + strings.Repeat("--:|", len(rep.contenders)) + "\n")
	for _, t := range rep.tables {
		vmas := "own"
		if t.vmas > 0 {
			vmas = fmt.Sprint(t.vmas)
		}
		fmt.Fprintf(&b, "| `%s` | %s |", t.w.Name, vmas)
		for _, c := range rep.contenders {
			cell := "–"
			for _, r := range t.rows {
				if r.contender == c && r.st.median > 0 {
					cell = fmtNs(r.st.median)
					if r.xLimit > 0 {
						cell += " (" + fmtRatio(r.xLimit) + ")"
					}
					if c == t.bestText {
						cell = "**" + cell + "**"
					}
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nContenders:\n\n")
	for _, c := range rep.contenders {
		fmt.Fprintf(&b, "- `%s`: %s\n", c, dash(about(c)))
	}
	b.WriteString("\nBold: the fastest text contender of the row. Own-process rows (`blazesym-*`) run in each driver's own process: the C driver's for `c-*`/`cabi-*`, the Go driver's (cgo, so libc is mapped too) for `go-*`.\n")

	b.WriteString(rep.extrasMarkdown())
	return b.String()
}

// autoMarkdown is auto against the best fixed backend of the same
// implementation, per workload (issue 7's acceptance check).
func (rep *report) autoMarkdown() string {
	var b strings.Builder
	b.WriteString("\n### auto against the best fixed backend (issue 7)\n\n")
	b.WriteString("Same implementation, same run: auto's median ÷ min(ioctl, text). Bound: ≤ 1.2× (≤ 2× on adversarial batches). " +
		"The last two columns divide by the best fixed strategy of any implementation (min over `c-limit`, `c-fastparse` and the implementation's forced ioctl and text backends; issue 13 bounds it at 1.3× on `dense-open`).\n\n")
	b.WriteString("| workload | impl | auto | best fixed | ratio | auto's strategy | within bound | best fixed strategy | auto ÷ it |\n|---|---|--:|--:|--:|---|---|--:|--:|\n")
	for _, t := range rep.tables {
		for _, a := range t.autoRows() {
			bound := 1.2
			if t.w.Adversarial {
				bound = 2
			}
			ok := "yes"
			if a.auto/a.bestFixed > bound {
				ok = fmt.Sprintf("**no** (> %.1f×)", bound)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s (%s) | %s | %s | %s | %s (`%s`) | %s |\n", t.w.Name, a.impl, fmtNs(a.auto),
				fmtNs(a.bestFixed), a.fixedName, fmtRatio(a.auto/a.bestFixed), dash(a.strategy), ok,
				fmtNs(a.bestAny), a.anyName, fmtRatio(a.auto/a.bestAny))
		}
	}
	return b.String()
}

// table returns the table of a workload, or nil.
func (rep *report) table(name string) *table {
	for i := range rep.tables {
		if rep.tables[i].w.Name == name {
			return &rep.tables[i]
		}
	}
	return nil
}

// ratio is median(a) / median(b) on workload w, or 0 if either is missing.
func (rep *report) ratio(w, a, b string) float64 {
	t := rep.table(w)
	if t == nil || t.median(a) <= 0 || t.median(b) <= 0 {
		return 0
	}
	return t.median(a) / t.median(b)
}

// headlines states the claims the workloads were designed to test, with
// this run's numbers; a claim whose data is missing is left out.
func (rep *report) headlines() []string {
	var out []string
	add := func(x float64, format string) {
		if x > 0 {
			out = append(out, fmt.Sprintf(format, x))
		}
	}
	impl := "go"
	if slices.Contains(rep.contenders, "cabi-auto") {
		impl = "cabi"
	}
	add(rep.ratio("procfs_query", "c-fscanf", "c-limit"),
		"`procfs_query`: the seed's fscanf text resolver takes %.0f× the physical limit (the seed published ~40× on 655 VMAs)")
	add(rep.ratio("procfs_query", "c-fscanf", impl+"-auto"),
		"`procfs_query`: libprocmapq auto ("+impl+") is %.0f× faster than the seed's text resolver")
	add(rep.ratio("dense", "c-limit", "c-fastparse"),
		"`dense` (450 VMAs touched out of 650): one ioctl per VMA costs %.2f× a fast text parse")
	add(rep.ratio("sparse-20000", "c-fastparse", "c-limit"),
		"`sparse-20000`: the fastest text parse costs %.0f× the point ioctls for 100 addresses in 10 modules")
	add(rep.ratio("enum-all-20000", "c-limit", "c-fastparse"),
		"`enum-all-20000`: a full dump by ioctl costs %.2f× the fastest text parse")
	add(rep.ratio("enum-exec-20000", "c-fastparse", "c-limit"),
		"`enum-exec-20000`: an executable-only scan by ioctl is %.2f× faster than the fastest text parse")
	add(rep.ratio("enum-all-20000", "go-procfs", "go-text"),
		"`enum-all-20000`: prometheus/procfs `ProcMaps()` costs %.2f× libprocmapq's Go text backend")
	add(rep.ratio("blazesym-open", impl+"-auto", "c-limit"),
		"`blazesym-open`: libprocmapq auto ("+impl+"), open + query + close, costs %.2f× the physical limit (which also opens per call)")
	add(rep.ratio("blazesym-kept", impl+"-auto", "c-limit"),
		"`blazesym-kept`: with the handle kept open, %.2f× the physical limit")
	add(rep.ratio("single-open", impl+"-auto", "c-limit"),
		"`single-open`: open + 1 address + close on another process, libprocmapq auto ("+impl+") costs %.2f× C's open + one ioctl + close")
	if t := rep.table("dense-open"); t != nil {
		if best, name := t.bestFixedAny(impl); best > 0 && t.median(impl+"-auto") > 0 {
			out = append(out, fmt.Sprintf("`dense-open`: with a fresh handle per call (blazesym's pattern), libprocmapq auto (%s) costs %.2f× the best fixed strategy (`%s`)",
				impl, t.median(impl+"-auto")/best, name))
		}
	}
	add(rep.ratio("parse-20000", "go-parsemaps", "c-fastparse"),
		"`parse-20000`: `core.ParseMaps` on a captured 20,000-line text costs %.2f× a plain C parser")
	if most, where := rep.mostAllocs("go-auto", false); where != "" {
		line := fmt.Sprintf("Go core (`go-auto`, kept handle) heap allocations per call: at most %.1f (`%s`)", most, where)
		if most == 0 {
			line = "Go core (`go-auto`, kept handle) heap allocations per call: 0 on every workload"
		}
		if n, w := rep.mostAllocs("go-procfs", true); w != "" {
			line += fmt.Sprintf("; prometheus/procfs: up to %.0f (`%s`)", n, w)
		}
		out = append(out, line)
	}
	return out
}

// mostAllocs is the largest allocations-per-call figure a Go contender
// reported, over kept-handle workloads (or all workloads), and where.
func (rep *report) mostAllocs(contender string, all bool) (float64, string) {
	most, where := -1.0, ""
	for _, t := range rep.tables {
		if t.w.OpenEach && !all {
			continue
		}
		for _, r := range t.rows {
			var n float64
			if r.contender == contender && r.allocsPerCall != "" {
				if _, err := fmt.Sscan(r.allocsPerCall, &n); err == nil && n > most {
					most, where = n, t.w.Name
				}
			}
		}
	}
	return most, where
}

var extraAbout = []struct{ key, about string }{
	{"syscall_getppid_ns", "reference: one getppid() system call"},
	{"cabi_empty_batch_ns", "C ABI: `procmapq_query` with an empty batch (crossing into Go and back)"},
	{"cabi_new_thread_first_call_ns", "C ABI: first call on a new thread (1-address query)"},
	{"cabi_new_thread_second_call_ns", "C ABI: second call on that thread"},
	{"load_dlopen_ns", "`dlopen` of libprocmapq.so (fresh process)"},
	{"load_first_call_ns", "first call after `dlopen` (waits for the Go runtime to start)"},
	{"load_dlopen_plus_first_call_ns", "`dlopen` + first call"},
	{"load_first_open_query_close_ns", "then first open + 1-address query + close"},
	{"load_rss_added_kib", "RSS added by loading + first calls (KiB)"},
	{"load_vmsize_added_kib", "virtual size added (KiB)"},
	{"load_threads_added", "threads added"},
}

func (rep *report) extrasMarkdown() string {
	var b strings.Builder
	b.WriteString("\n### Costs of the C ABI itself\n\n| what | median | runs |\n|---|--:|--:|\n")
	rows := 0
	for _, e := range extraAbout {
		v := rep.res.Extras[e.key]
		if len(v) == 0 {
			continue
		}
		st := stats(v)
		val := fmtNs(st.median)
		if !strings.HasSuffix(e.key, "_ns") {
			val = fmt.Sprintf("%.0f", st.median)
		}
		fmt.Fprintf(&b, "| %s | %s | %d |\n", e.about, val, st.n)
		rows++
	}
	if rows == 0 {
		return ""
	}
	return b.String()
}

// describeMachine says what the numbers were measured on.
func describeMachine(res *spec.Run) []string {
	var out []string
	cpu, virt := "", "bare metal?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			k, v, _ := strings.Cut(l, ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if k == "model name" && cpu == "" {
				cpu = v
			}
			if k == "flags" && strings.Contains(" "+v+" ", " hypervisor ") {
				virt = "VM"
			}
		}
	}
	out = append(out, fmt.Sprintf("%d-core %s %s (%s)", runtime.NumCPU(), runtime.GOARCH, virt, cpu))
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[0], "MemTotal: %d kB", &kb)
		out = append(out, fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20)))
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		out = append(out, "Linux "+strings.TrimSpace(string(rel)))
	}
	if v := res.Extras["syscall_getppid_ns"]; len(v) > 0 {
		out = append(out, "getppid() "+fmtNs(stats(v).median))
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		// Other work on the machine shows here: the numbers are only as
		// quiet as the machine was.
		out = append(out, "load average "+strings.Join(strings.Fields(string(la))[:3], " ")+" at the end")
	}
	out = append(out, runtime.Version())
	if gcc, err := exec.Command("gcc", "-dumpfullversion").Output(); err == nil {
		out = append(out, "gcc "+strings.TrimSpace(string(gcc)))
	}
	out = append(out, time.Now().UTC().Format("2006-01-02"))
	return out
}
