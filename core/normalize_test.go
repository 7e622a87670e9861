package core

import (
	"os"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// normBackends are the backends every normalization test runs on.
var normBackends = []Backend{BackendText, BackendIoctl, BackendAuto}

func skipWithoutIoctl(tb testing.TB, b Backend) {
	tb.Helper()
	if b != BackendIoctl {
		return
	}
	if ok, _ := SupportsProcmapQuery(); !ok {
		tb.Skip("kernel lacks PROCMAP_QUERY (Linux 6.11+)")
	}
}

// TestNormalizeTargetModules: file offsets of addresses in the target's
// r-x modules (mapped from file offset 0, text one page in), duplicates
// and unsorted input, and unknown addresses below and above every VMA.
func TestNormalizeTargetModules(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{Modules: 2})
	h, err := Open(tg.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	m0, _ := tg.Mapping("module-0")
	m1, _ := tg.Mapping("module-1")
	page := uint64(os.Getpagesize())
	below, above := uint64(0x1000), uint64(0xffffffffffffff00)
	addrs := []uint64{m1.Start + page + 0x10, below, m0.Start + 0x20, m0.Start + 2*page + 7, above, m0.Start + 0x20}
	wantOff := []uint64{page + 0x10, below, 0x20, 2*page + 7, above, 0x20}
	for _, b := range normBackends {
		t.Run(b.String(), func(t *testing.T) {
			skipWithoutIoctl(t, b)
			var res Normalized
			if err := h.Normalize(addrs, &NormalizeOptions{Backend: b}, &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Outputs) != len(addrs) {
				t.Fatalf("%d outputs for %d addresses", len(res.Outputs), len(addrs))
			}
			for i, out := range res.Outputs {
				if out.FileOffset != wantOff[i] {
					t.Errorf("addr %#x: offset %#x, want %#x", addrs[i], out.FileOffset, wantOff[i])
				}
			}
			// Three metas: module-0 (lowest address after "below"), unmapped, module-1.
			if len(res.Metas) != 3 {
				t.Fatalf("metas %+v, want 3", res.Metas)
			}
			un := res.Metas[res.Outputs[1].Meta]
			if un.Kind != MetaUnknown || un.Reason != UnknownUnmapped || res.Outputs[4].Meta != res.Outputs[1].Meta {
				t.Errorf("below/above: %+v / meta %d", un, res.Outputs[4].Meta)
			}
			for i, want := range []string{"/module-1.so", "", "/module-0.so", "/module-0.so", "", "/module-0.so"} {
				m := res.Metas[res.Outputs[i].Meta]
				if want != "" && (m.Kind != MetaELF || !hasSuffix(m.Path, want)) {
					t.Errorf("addr %#x: meta %v %q, want elf ...%s", addrs[i], m.Kind, m.Path, want)
				}
			}
		})
	}
}

func hasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}
