package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/core"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// probeAddresses picks, from the kernel's lines, the first, last and a
// middle byte of every mapping, a byte in each gap, addresses below and
// above everything, in a scrambled order with duplicates.
func probeAddresses(lines []mapsLine) []uint64 {
	addrs := []uint64{0x10, 0xffffffffffffff00}
	for i, l := range lines {
		addrs = append(addrs, l.start, l.end-1, l.start+(l.end-l.start)/2+0x123%(l.end-l.start))
		if i+1 < len(lines) && lines[i+1].start > l.end {
			addrs = append(addrs, l.end+1)
		}
	}
	// Scramble deterministically: odd positions reversed after the even.
	var out []uint64
	for i := 0; i < len(addrs); i += 2 {
		out = append(out, addrs[i])
	}
	for i := len(addrs) - 1; i >= 0; i-- {
		if i%2 == 1 {
			out = append(out, addrs[i])
		}
	}
	return append(out, addrs[3], addrs[0], addrs[3])
}

// wantResolved is the line resolve must print for addr, from the view's
// lines and this test's own reading of them.
func wantResolved(lines []mapsLine, addr uint64) string {
	for _, l := range lines {
		if addr >= l.start && addr < l.end {
			name := l.name
			if name == "" {
				name = "-"
			}
			return fmt.Sprintf("0x%x %s %s 0x%x %s", addr, l.rangeText, l.perms, addr-l.start+l.offset, name)
		}
	}
	return fmt.Sprintf("0x%x unresolved unmapped", addr)
}

func wantResolvedLines(lines []mapsLine, addrs []uint64) []string {
	want := make([]string, len(addrs))
	for i, a := range addrs {
		want[i] = wantResolved(lines, a)
	}
	return want
}

func hexArgs(addrs []uint64) []string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = "0x" + strconv.FormatUint(a, 16)
	}
	return s
}

// Every backend and every way of giving addresses answers as the kernel's
// maps file says, in input order.
func TestResolveAgreesWithMapsFile(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	kernel := kernelMaps(t, tg.Pid)
	addrs := probeAddresses(kernel)
	textWant := wantResolvedLines(kernel, addrs)
	ioctlWant := wantResolvedLines(ioctlView(kernel), addrs)

	file := filepath.Join(t.TempDir(), "addrs")
	if err := os.WriteFile(file, []byte("# probe addresses\n\n"+strings.Join(hexArgs(addrs), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without the 0x prefix, upper case, surrounded by blanks.
	var bare strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&bare, "  %X\t\n", a)
	}
	cases := []struct {
		backend string
		run     toolRun
		args    []string
	}{
		{"text", toolRun{}, hexArgs(addrs)},
		{"ioctl", toolRun{}, []string{"-f", file}},
		{"auto", toolRun{stdin: bare.String()}, []string{"-f", "-"}},
	}
	for _, c := range cases {
		if c.backend == "ioctl" && !haveIoctl(t) {
			continue
		}
		args := append([]string{"resolve", "-p", pidArg(tg.Pid), "--backend", c.backend}, c.args...)
		r := c.run.run(t, args...)
		r.wantCode(t, 0, "resolve --backend "+c.backend)
		got := outputLines(r.stdout)
		what := "resolve --backend " + c.backend
		switch {
		case c.backend == "ioctl" || (c.backend == "auto" && slices.Equal(got, ioctlWant)):
			compareLines(t, what, got, ioctlWant)
		default:
			compareLines(t, what, got, textWant)
		}
	}
}

// resolveJSON is the part of resolve --json this test reads.
type resolveJSON struct {
	Pid      int    `json:"pid"`
	Strategy string `json:"strategy"`
	Results  []struct {
		Address    string `json:"address"`
		Found      bool   `json:"found"`
		Reason     string `json:"reason"`
		FileOffset string `json:"file_offset"`
		VMA        *struct {
			Start, End, Perms, Offset, Dev, Kind, Name string
			Inode                                      uint64
			PageSize                                   uint64 `json:"page_size"`
			BuildID                                    string `json:"build_id"`
		} `json:"vma"`
	} `json:"results"`
}

// resolve --json --build-ids gives what core gives for the same batch.
func TestResolveJSONAgreesWithCore(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	addrs := probeAddresses(kernelMaps(t, tg.Pid))
	for _, backend := range []core.Backend{core.BackendIoctl, core.BackendText} {
		if backend == core.BackendIoctl && !haveIoctl(t) {
			continue
		}
		args := append([]string{"resolve", "-p", pidArg(tg.Pid), "--json", "--build-ids", "--backend", backend.String()}, hexArgs(addrs)...)
		r := runTool(t, args...)
		r.wantCode(t, 0, "resolve --json")
		var doc resolveJSON
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("resolve --json: %v\n%s", err, r.stdout)
		}

		h, err := core.Open(tg.Pid)
		if err != nil {
			t.Fatal(err)
		}
		var res core.Result
		err = h.Query(addrs, &core.Options{Backend: backend, BuildIDs: true}, &res)
		h.Close()
		if err != nil {
			t.Fatal(err)
		}
		if doc.Pid != tg.Pid || doc.Strategy != res.Strategy.String() || len(doc.Results) != len(addrs) {
			t.Fatalf("%s: pid %d strategy %s, %d results; want pid %d, %s, %d", backend,
				doc.Pid, doc.Strategy, len(doc.Results), tg.Pid, res.Strategy, len(addrs))
		}
		for i, a := range addrs {
			got := doc.Results[i]
			v, reason := res.Found(i)
			if got.Address != fmt.Sprintf("0x%x", a) || got.Found != (v != nil) {
				t.Fatalf("%s: result %d: %+v, want address %#x found %v", backend, i, got, a, v != nil)
			}
			if v == nil {
				if got.Reason != reason.String() || got.VMA != nil {
					t.Errorf("%s: %#x: reason %q, want %q", backend, a, got.Reason, reason)
				}
				continue
			}
			want := fmt.Sprintf("0x%x 0x%x 0x%x %s 0x%x %02x:%02x %d %d %s %q %x",
				v.FileOffset(a), v.Start, v.End, v.Perms, v.Offset, v.DevMajor, v.DevMinor,
				v.Inode, v.PageSize, v.Kind, v.Name, v.BuildID)
			g := got.VMA
			gotS := fmt.Sprintf("%s %s %s %s %s %s %d %d %s %q %s",
				got.FileOffset, g.Start, g.End, g.Perms, g.Offset, g.Dev, g.Inode, g.PageSize, g.Kind, g.Name, g.BuildID)
			if gotS != want {
				t.Errorf("%s: %#x:\n got %s\nwant %s", backend, a, shorten(gotS), shorten(want))
			}
		}
	}
}

// --normalize gives what core's Normalize gives, and for the target's own
// code the path, offset and build ID this test reads from the ELF file.
func TestResolveNormalize(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	bin, err := testtarget.Binary()
	if err != nil {
		t.Fatal(err)
	}
	kernel := kernelMaps(t, tg.Pid)
	var code, stack, vdso *mapsLine
	for i := range kernel {
		l := &kernel[i]
		switch {
		case l.name == bin && l.perms == "r-xp":
			code = l
		case l.name == "[stack]":
			stack = l
		case l.name == "[vdso]":
			vdso = l
		}
	}
	anon, _ := tg.Mapping("vmas")
	if code == nil || stack == nil || vdso == nil {
		t.Fatalf("target lacks code, stack or vdso mappings")
	}
	codeAddr := code.start + 0x10
	addrs := []uint64{codeAddr, stack.start, 0x10, vdso.start + 8, anon.Start}

	r := runTool(t, append([]string{"resolve", "-p", pidArg(tg.Pid), "--normalize", "--build-ids"}, hexArgs(addrs)...)...)
	r.wantCode(t, 0, "resolve --normalize")
	want := []string{
		fmt.Sprintf("0x%x elf 0x%x %s %s", codeAddr, codeAddr-code.start+code.offset, elfBuildID(t, bin), bin),
		fmt.Sprintf("0x%x unknown unsupported", stack.start),
		"0x10 unknown unmapped",
		fmt.Sprintf("0x%x vdso 0x8 %s [vdso]", vdso.start+8, vdsoBuildID(t, tg.Pid, vdso.start, vdso.end)),
		fmt.Sprintf("0x%x unknown anonymous", anon.Start),
	}
	compareLines(t, "resolve --normalize", outputLines(r.stdout), want)

	r = runTool(t, append([]string{"resolve", "-p", pidArg(tg.Pid), "--normalize", "--build-ids", "--json"}, hexArgs(addrs)...)...)
	r.wantCode(t, 0, "resolve --normalize --json")
	var doc struct {
		Results []struct {
			Address, Kind, Reason, Path string
			FileOffset                  string `json:"file_offset"`
			BuildID                     string `json:"build_id"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("resolve --normalize --json: %v\n%s", err, r.stdout)
	}
	h, err := core.Open(tg.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var res core.Normalized
	if err := h.Normalize(addrs, &core.NormalizeOptions{BuildIDs: true}, &res); err != nil {
		t.Fatal(err)
	}
	for i, a := range addrs {
		o := res.Outputs[i]
		m := res.Metas[o.Meta]
		want := fmt.Sprintf("0x%x %s", a, m.Kind)
		if m.Kind == core.MetaUnknown {
			want += " " + m.Reason.String()
		} else {
			want += fmt.Sprintf(" 0x%x %s %s", o.FileOffset, m.Path, hex.EncodeToString(m.BuildID))
		}
		g := doc.Results[i]
		got := g.Address + " " + g.Kind
		if g.Kind == "unknown" {
			got += " " + g.Reason
		} else {
			got += fmt.Sprintf(" %s %s %s", g.FileOffset, g.Path, g.BuildID)
		}
		if got != want {
			t.Errorf("normalize %#x: got %q, want %q", a, got, want)
		}
	}
}
