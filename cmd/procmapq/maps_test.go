package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

func TestMapsEqualsKernelFile(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	for _, backend := range []string{"auto", "text"} {
		r := runTool(t, "maps", "-p", pidArg(tg.Pid), "--backend", backend)
		r.wantCode(t, 0, "maps --backend "+backend)
		compareLines(t, "maps --backend "+backend, outputLines(r.stdout), texts(kernelMaps(t, tg.Pid)))
		switch {
		case backend == "auto" && !haveIoctl(t):
			// Without the ioctl auto says once that it reads the text.
			if !strings.Contains(r.stderr, "no PROCMAP_QUERY") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("maps --backend auto without the ioctl: stderr %q, want one note", r.stderr)
			}
		case r.stderr != "":
			t.Errorf("maps --backend %s: unexpected stderr %q", backend, r.stderr)
		}
	}
}

// The ioctl backend differs from the file only as the kernel documents:
// no [vsyscall], no names of PATH_MAX bytes or more (with a note).
func TestMapsIoctlDiffersOnlyAsDocumented(t *testing.T) {
	t.Parallel()
	requireIoctl(t)
	tg := startTarget(t)
	r := runTool(t, "maps", "-p", pidArg(tg.Pid), "--backend", "ioctl")
	r.wantCode(t, 0, "maps --backend ioctl")
	kernel := kernelMaps(t, tg.Pid)
	compareLines(t, "maps --backend ioctl", outputLines(r.stdout), texts(ioctlView(kernel)))
	long, _ := tg.Mapping("long-path")
	sawLong := false
	for _, l := range kernel {
		if !l.longName() {
			continue
		}
		sawLong = sawLong || l.start == long.Start
		if !strings.Contains(r.stderr, l.rangeText) || !strings.Contains(r.stderr, "PATH_MAX") {
			t.Errorf("no PATH_MAX note for %s in stderr %q", l.rangeText, r.stderr)
		}
	}
	if !sawLong {
		t.Errorf("the long-path mapping %#x is not a PATH_MAX line of the kernel's file", long.Start)
	}
}

// --exec and --file-backed keep what the kernel's filters keep: every
// executable line, every line that maps a file (its name is a path).
func TestMapsFilters(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	kernel := kernelMaps(t, tg.Pid)
	filters := map[string]func(l mapsLine) bool{
		"--exec":        func(l mapsLine) bool { return l.perms[2] == 'x' },
		"--file-backed": func(l mapsLine) bool { return strings.HasPrefix(l.name, "/") },
	}
	for flag, keep := range filters {
		var want []mapsLine
		for _, l := range kernel {
			if keep(l) {
				want = append(want, l)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: the target has no such mapping", flag)
		}
		for _, backend := range []string{"auto", "text", "ioctl"} {
			if backend == "ioctl" && !haveIoctl(t) {
				continue
			}
			r := runTool(t, "maps", "-p", pidArg(tg.Pid), flag, "--backend", backend)
			r.wantCode(t, 0, "maps "+flag+" --backend "+backend)
			got := outputLines(r.stdout)
			// Auto may walk the kernel with the filter (the ioctl view) or
			// read the text, as its cost model decides.
			switch {
			case backend == "ioctl" || (backend == "auto" && slices.Equal(got, texts(ioctlView(want)))):
				compareLines(t, "maps "+flag+" --backend "+backend, got, texts(ioctlView(want)))
			default:
				compareLines(t, "maps "+flag+" --backend "+backend, got, texts(want))
			}
		}
	}
}

// --page-size and --build-ids come first; the rest of each line is the
// maps line. Build IDs are checked against the ELF file's own note.
func TestMapsExtraColumns(t *testing.T) {
	t.Parallel()
	requireIoctl(t)
	tg := startTarget(t)
	bin, err := testtarget.Binary()
	if err != nil {
		t.Fatal(err)
	}
	binID := elfBuildID(t, bin)
	if binID == "" {
		t.Fatalf("%s has no build ID (gcc without --build-id?)", bin)
	}
	r := runTool(t, "maps", "-p", pidArg(tg.Pid), "--page-size", "--build-ids")
	r.wantCode(t, 0, "maps --page-size --build-ids")
	want := ioctlView(kernelMaps(t, tg.Pid))
	got := outputLines(r.stdout)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), r.stdout)
	}
	huge, hasHuge := tg.Mapping("hugetlb")
	sawBinary := false
	for i, line := range got {
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || f[2] != want[i].text {
			t.Fatalf("line %d: %q, want PAGESIZE BUILDID %q", i+1, line, want[i].text)
		}
		wantPage := "4096"
		if hasHuge && want[i].start == huge.Start {
			wantPage = "2097152"
		}
		if f[0] != wantPage {
			t.Errorf("line %d: page size %s, want %s", i+1, f[0], wantPage)
		}
		switch {
		case want[i].name == bin:
			sawBinary = true
			if f[1] != binID {
				t.Errorf("line %d (%s): build ID %s, want %s", i+1, bin, f[1], binID)
			}
		case !strings.HasPrefix(want[i].name, "/usr/") && f[1] != "-":
			// Only the target and system libraries are ELF files.
			t.Errorf("line %d (%q): build ID %s, want -", i+1, want[i].name, f[1])
		}
	}
	if !sawBinary {
		t.Errorf("no line for %s", bin)
	}
}

func TestMapsSelf(t *testing.T) {
	t.Parallel()
	r := runTool(t, "maps", "-p", "self", "--exec")
	r.wantCode(t, 0, "maps -p self")
	if !strings.Contains(r.stdout, toolPath) {
		t.Errorf("maps -p self --exec does not show %s:\n%s", toolPath, r.stdout)
	}
}

// A kernel without the ioctl (simulated): auto reads the text, says so once,
// and prints the same lines.
func TestMapsWithoutIoctlFallsBackToText(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	r := toolRun{env: []string{"PROCMAPQ_FORCE_PROBE=0"}}.run(t, "maps", "-p", pidArg(tg.Pid), "--exec")
	r.wantCode(t, 0, "maps without the ioctl")
	var want []mapsLine
	for _, l := range kernelMaps(t, tg.Pid) {
		if l.perms[2] == 'x' {
			want = append(want, l)
		}
	}
	compareLines(t, "maps without the ioctl", outputLines(r.stdout), texts(want))
	notes := outputLines(r.stderr)
	if len(notes) != 1 || !strings.Contains(notes[0], "PROCMAP_QUERY") || !strings.Contains(notes[0], "text backend") {
		t.Errorf("want one note on stderr about the text fallback, got %q", r.stderr)
	}
}

// maps --json has one object per line of the kernel's file.
func TestMapsJSON(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	r := runTool(t, "maps", "-p", pidArg(tg.Pid), "--json", "--backend", "text")
	r.wantCode(t, 0, "maps --json")
	var vmas []struct {
		Start, End, Perms, Offset, Dev, Name string
		Inode                                uint64
	}
	if err := json.Unmarshal([]byte(r.stdout), &vmas); err != nil {
		t.Fatalf("maps --json: %v", err)
	}
	kernel := kernelMaps(t, tg.Pid)
	if len(vmas) != len(kernel) {
		t.Fatalf("maps --json: %d objects, want %d", len(vmas), len(kernel))
	}
	for i, l := range kernel {
		v := vmas[i]
		// The JSON name is raw: the file's \012 is a newline there.
		got := fmt.Sprintf("%s-%s %s %s %s %d %s", strings.TrimPrefix(v.Start, "0x"), strings.TrimPrefix(v.End, "0x"),
			v.Perms, strings.TrimPrefix(v.Offset, "0x"), v.Dev, v.Inode, strings.ReplaceAll(v.Name, "\n", `\012`))
		f := strings.SplitN(l.text, " ", 6)
		off, _ := strconv.ParseUint(f[2], 16, 64)
		want := fmt.Sprintf("%x-%x %s %x %s %s %s", l.start, l.end, l.perms, off, f[3], f[4], l.name)
		if got != want {
			t.Errorf("object %d: %q, want %q", i, shorten(got), shorten(want))
		}
	}
}
