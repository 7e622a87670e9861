package core

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// benchTexts returns the captured maps texts the parse benchmarks read
// from memory: the text of targets of ~20,000 and ~700 VMAs (the shapes of
// the bench's targets: one-page anonymous VMAs and 10 modules) and the
// 7,066-line Chromium fixture (real names of every kind).
//
// PROCMAPQ_BENCH_TEXTS, a space-separated list of files, replaces them, so
// that another parser (a C one, say) can be timed on the very same bytes;
// PROCMAPQ_BENCH_TEXT_DUMP, a directory, receives the captured texts.
func benchTexts(b *testing.B) []struct {
	name string
	text []byte
} {
	var out []struct {
		name string
		text []byte
	}
	if files := os.Getenv("PROCMAPQ_BENCH_TEXTS"); files != "" {
		for _, f := range strings.Fields(files) {
			text, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, struct {
				name string
				text []byte
			}{filepath.Base(f), text})
		}
		return out
	}
	for _, n := range []struct {
		name string
		vmas int
	}{{"lines=20000", 19945}, {"lines=700", 650}} {
		tg := testtarget.Start(b, testtarget.Options{VMAs: n.vmas, Modules: 10})
		text := readMapsFile(b, tg.Pid)
		tg.Stop()
		out = append(out, struct {
			name string
			text []byte
		}{n.name, text})
	}
	out = append(out, struct {
		name string
		text []byte
	}{"chromium", readFixture(b)})
	if dir := os.Getenv("PROCMAPQ_BENCH_TEXT_DUMP"); dir != "" {
		for _, t := range out {
			if err := os.WriteFile(filepath.Join(dir, t.name+".txt"), t.text, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return out
}

// BenchmarkTextParse times parsing alone, from memory: the handle's text
// path (every line parsed into a reused Result, as a text enumeration
// does), ParseMaps and OpenText (fresh memory per call; mem/text is the
// bytes allocated per call over the text's size).
func BenchmarkTextParse(b *testing.B) {
	for _, t := range benchTexts(b) {
		text := t.text
		vmas, err := ParseMaps(text)
		if err != nil {
			b.Fatal(err)
		}
		lines := len(vmas)
		perLine := func(b *testing.B) {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
		}
		b.Run(t.name+"/handle", func(b *testing.B) {
			var res Result
			res.VMAs, res.arena, _, _ = appendTextVMAs(text, Filter{}, nil, nil) // grown once, as a kept Result is
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				var lerr *lineError
				res.VMAs, res.arena, _, lerr = appendTextVMAs(text, Filter{}, res.VMAs[:0], res.arena[:0])
				if lerr != nil {
					b.Fatal(lerr)
				}
			}
			if len(res.VMAs) != lines {
				b.Fatalf("%d VMAs, want %d", len(res.VMAs), lines)
			}
			perLine(b)
		})
		b.Run(t.name+"/ParseMaps", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				vmas, err := ParseMaps(text)
				if err != nil {
					b.Fatal(err)
				}
				parseSink += len(vmas)
			}
			perLine(b)
			reportMemPerText(b, len(text), func() { _, _ = ParseMaps(text) })
		})
		b.Run(t.name+"/OpenText", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				h, err := OpenText(text)
				if err != nil {
					b.Fatal(err)
				}
				h.Close()
			}
			perLine(b)
			reportMemPerText(b, len(text), func() {
				h, _ := OpenText(text)
				h.Close()
			})
		})
	}
}

// reportMemPerText reports the bytes one call of f allocates over size.
func reportMemPerText(b *testing.B, size int, f func()) {
	var before, after runtime.MemStats
	f()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(size), "mem/text")
}

// BenchmarkTextEnumerate: a full text enumeration of a live target of
// ~20,000 and ~700 VMAs (read + parse), with its read calls per call.
func BenchmarkTextEnumerate(b *testing.B) {
	for _, n := range []struct {
		name string
		vmas int
	}{{"vmas=20000", 19945}, {"vmas=700", 650}} {
		b.Run(n.name, func(b *testing.B) {
			tg := testtarget.Start(b, testtarget.Options{VMAs: n.vmas, Modules: 10})
			h := mustOpen(b, tg.Pid)
			var res Result
			o := &Options{Backend: BackendText}
			if err := h.Enumerate(o, &res); err != nil {
				b.Fatal(err)
			}
			lines := len(res.VMAs)
			b.ReportAllocs()
			syscalls := 0
			for b.Loop() {
				if err := h.Enumerate(o, &res); err != nil {
					b.Fatal(err)
				}
				syscalls += res.Syscalls
			}
			b.ReportMetric(float64(syscalls)/float64(b.N), "syscalls/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
		})
	}
}

// BenchmarkTextQuery: a sorted batch of 100 addresses on a live target of
// ~20,000 VMAs, text backend, whose last address lies after the first
// tenth, half or all of the lines: "stream" stops reading there, "whole"
// reads the whole text first (as a handle does until it knows the VMA
// count; forced here by forgetting the count before each call).
func BenchmarkTextQuery(b *testing.B) {
	tg := testtarget.Start(b, testtarget.Options{VMAs: 19945, Modules: 10})
	h := mustOpen(b, tg.Pid)
	vmas, err := ParseMaps(readMapsFile(b, tg.Pid))
	if err != nil {
		b.Fatal(err)
	}
	o := &Options{Backend: BackendText, Sorted: true}
	for _, upTo := range []struct {
		name string
		frac float64
	}{{"tenth", 0.1}, {"half", 0.5}, {"all", 1}} {
		n := int(float64(len(vmas)) * upTo.frac)
		addrs := make([]uint64, 100)
		for i := range addrs {
			v := vmas[(i+1)*n/len(addrs)-1]
			addrs[i] = v.Start + (v.End-v.Start)/2
		}
		for _, mode := range []string{"stream", "whole"} {
			b.Run(upTo.name+"/"+mode, func(b *testing.B) {
				var res Result
				if err := h.Query(addrs, o, &res); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				syscalls := 0
				for b.Loop() {
					if mode == "whole" {
						h.plan.vmaCount = 0
					}
					if err := h.Query(addrs, o, &res); err != nil {
						b.Fatal(err)
					}
					syscalls += res.Syscalls
				}
				b.ReportMetric(float64(syscalls)/float64(b.N), "syscalls/op")
			})
		}
	}
}
