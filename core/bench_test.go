package core

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
	"golang.org/x/sys/unix"
)

// benchSizes are the target sizes: about 100, 2,000 and 20,000 VMAs, each
// with 10 modules (3 VMAs each) and the C runtime's own ~25.
var benchSizes = []struct {
	name string
	vmas int // -n of target.c
}{
	{"vmas=100", 45},
	{"vmas=2000", 1945},
	{"vmas=20000", 19945},
}

var benchBatches = []int{1, 100, 3000}

// moduleAddrs returns n addresses spread over the text of the target's 10
// modules, in random order: what a profiler's sample batch looks like.
func moduleAddrs(tb testing.TB, tg *testtarget.Target, n int) []uint64 {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	addrs := make([]uint64, n)
	for i := range addrs {
		m := mapping(tb, tg, fmt.Sprintf("module-%d-text", i%10))
		addrs[i] = m.Start + rng.Uint64N(m.End-m.Start)
	}
	rng.Shuffle(n, func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	return addrs
}

func benchBackends(b *testing.B) []Backend {
	if haveIoctl(b) {
		return []Backend{BackendIoctl, BackendText, BackendAuto}
	}
	return []Backend{BackendText, BackendAuto}
}

// BenchmarkQuery: batches of 1, 100 and 3,000 addresses in 10 modules,
// per backend, on targets of ~100, ~2,000 and ~20,000 VMAs. The Result is
// reused, as a profiler would: the steady state must not allocate.
func BenchmarkQuery(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			tg := testtarget.Start(b, testtarget.Options{VMAs: size.vmas, Modules: 10})
			h := mustOpen(b, tg.Pid)
			for _, n := range benchBatches {
				addrs := moduleAddrs(b, tg, n)
				for _, backend := range benchBackends(b) {
					b.Run(fmt.Sprintf("addrs=%d/%v", n, backend), func(b *testing.B) {
						var res Result
						o := &Options{Backend: backend}
						if err := h.Query(addrs, o, &res); err != nil {
							b.Fatal(err)
						}
						b.ReportAllocs()
						syscalls := 0
						for b.Loop() {
							if err := h.Query(addrs, o, &res); err != nil {
								b.Fatal(err)
							}
							syscalls += res.Syscalls
						}
						b.ReportMetric(float64(syscalls)/float64(b.N), "syscalls/op")
					})
				}
			}
		})
	}
}

// BenchmarkEnumerate: a full dump and an executable-file scan per backend,
// next to a plain read of the same maps file (no parsing) so the text
// backend's parsing cost per VMA can be read off.
func BenchmarkEnumerate(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			tg := testtarget.Start(b, testtarget.Options{VMAs: size.vmas, Modules: 10})
			h := mustOpen(b, tg.Pid)
			var res Result
			if err := h.Enumerate(&Options{Backend: BackendText}, &res); err != nil {
				b.Fatal(err)
			}
			vmas := len(res.VMAs)
			b.Run("read-only", func(b *testing.B) {
				fd, err := unix.Open(fmt.Sprintf("/proc/%d/maps", tg.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer unix.Close(fd)
				buf, _, _ := readAll(fd, nil) // grow the buffer once, as the backend's stays grown
				b.ReportAllocs()
				for b.Loop() {
					// The same reads the text backend makes, without parsing.
					buf, _, _ = readAll(fd, buf)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(vmas), "ns/VMA")
			})
			for _, f := range []struct {
				name   string
				filter Filter
			}{{"all", Filter{}}, {"exec-files", Filter{Perms: PermExec, FileBacked: true}}} {
				for _, backend := range benchBackends(b) {
					b.Run(fmt.Sprintf("%s/%v", f.name, backend), func(b *testing.B) {
						o := &Options{Backend: backend, Filter: f.filter}
						if err := h.Enumerate(o, &res); err != nil {
							b.Fatal(err)
						}
						b.ReportAllocs()
						for b.Loop() {
							if err := h.Enumerate(o, &res); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(vmas), "ns/VMA")
					})
				}
			}
		})
	}
}

// parseSink keeps the parser's work observable.
var parseSink int

// BenchmarkParseFixture parses the 7,066-line Chromium maps from memory
// with the text backend's line parser (names copied into a reused arena),
// and with ParseMaps (which returns fresh VMAs).
func BenchmarkParseFixture(b *testing.B) {
	text := readFixture(b)
	h, err := OpenText(text)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	lines := len(h.snapVMAs)
	b.Run("lines", func(b *testing.B) {
		arena := make([]byte, 0, len(text)) // the backend's arena stays grown between calls
		var v VMA
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			arena = arena[:0]
			s := textScanner{text: text}
			for {
				line, ok := s.next()
				if !ok {
					break
				}
				raw, msg := parseLine(line, &v)
				if msg != "" {
					b.Fatal(msg)
				}
				arena = v.setName(raw, arena)
				parseSink += int(v.Inode)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
	})
	b.Run("ParseMaps", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			vmas, err := ParseMaps(text)
			if err != nil {
				b.Fatal(err)
			}
			parseSink += len(vmas)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
	})
}
