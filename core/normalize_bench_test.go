package core

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/elffix"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// BenchmarkNormalizeBlazesym is blazesym's normalize_process workload: 5
// sorted addresses, 3 libc functions (fopen, chdir, getpid) and 2
// functions of the executable, giving 2 metas, in a C process (the loader,
// dynamically linked), on a handle kept open. Variants: backend ioctl or
// text × build IDs off, on (every file read again) or cached; plus
// "reopen", which opens and closes the handle every call, as blazesym does.
// Compare ioctl and text within one run.
func BenchmarkNormalizeBlazesym(b *testing.B) {
	f := elffix.Need(b)
	p := elffix.StartLoader(b, f, nil)
	addrs := []uint64{p.Addrs["fopen"], p.Addrs["chdir"], p.Addrs["getpid"], p.Addrs["main"], p.Addrs["local"]}
	slices.Sort(addrs)
	modes := []struct {
		name string
		opts NormalizeOptions
	}{
		{"ids=off", NormalizeOptions{}},
		{"ids=on", NormalizeOptions{BuildIDs: true, NoBuildIDCache: true}},
		{"ids=cached", NormalizeOptions{BuildIDs: true}},
	}
	for _, reopen := range []bool{false, true} {
		for _, m := range modes {
			for _, be := range []Backend{BackendIoctl, BackendText} {
				name := "handle/" + m.name + "/" + be.String()
				if reopen {
					name = "reopen/" + m.name + "/" + be.String()
				}
				b.Run(name, func(b *testing.B) {
					skipWithoutIoctl(b, be)
					o := m.opts
					o.Backend, o.Sorted = be, true
					h, err := Open(p.Pid)
					if err != nil {
						b.Fatal(err)
					}
					defer func() { h.Close() }()
					var res Normalized
					if err := h.Normalize(addrs, &o, &res); err != nil {
						b.Fatal(err)
					}
					if len(res.Outputs) != 5 || len(res.Metas) != 2 {
						b.Fatalf("%d outputs, %d metas", len(res.Outputs), len(res.Metas))
					}
					for _, mt := range res.Metas {
						if m.opts.BuildIDs && len(mt.BuildID) == 0 {
							b.Fatalf("no build ID for %s", mt.Path)
						}
						b.Logf("%s: build ID from %v", mt.Path, mt.BuildIDSource)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if reopen {
							h.Close()
							if h, err = Open(p.Pid); err != nil {
								b.Fatal(err)
							}
						}
						if err := h.Normalize(addrs, &o, &res); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkNormalizeScale normalizes 1, 64 and 1024 addresses spread over
// the 200 file modules of a target (one meta per module touched), build
// IDs off and cached, per backend, on a kept handle and a reused result.
func BenchmarkNormalizeScale(b *testing.B) {
	tg := testtarget.Start(b, testtarget.Options{Modules: 200})
	var text []testtarget.Mapping
	for _, m := range tg.Mappings {
		if strings.HasSuffix(m.Label, "-text") {
			text = append(text, m)
		}
	}
	h := mustOpen(b, tg.Pid)
	for _, n := range []int{1, 64, 1024} {
		addrs := make([]uint64, n)
		for i := range addrs {
			m := text[(i*7)%len(text)]
			addrs[i] = m.Start + uint64(i*64)%(m.End-m.Start)
		}
		for _, ids := range []bool{false, true} {
			for _, be := range []Backend{BackendIoctl, BackendText, BackendAuto} {
				b.Run(fmt.Sprintf("addrs=%d/ids=%v/%v", n, ids, be), func(b *testing.B) {
					skipWithoutIoctl(b, be)
					o := NormalizeOptions{Backend: be, BuildIDs: ids}
					var res Normalized
					if err := h.Normalize(addrs, &o, &res); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if err := h.Normalize(addrs, &o, &res); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
