package abi

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/core"
)

// runLayout compiles layout.c with the given compiler and flags (warnings
// are errors, -Wpadded included, so implicit padding in the header fails
// the build) and returns its output.
func runLayout(t *testing.T, compiler string, flags ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(compiler); err != nil {
		t.Fatalf("%s not found: the ABI test needs gcc and g++", compiler)
	}
	bin := filepath.Join(t.TempDir(), "layout")
	args := append(flags, "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wpadded",
		"-I../../include", "layout.c", "-o", bin)
	if out, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", compiler, strings.Join(args, " "), err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running layout: %v", err)
	}
	return out
}

// parseLayout reads "struct NAME SIZE" and "field NAME.FIELD OFFSET" lines.
func parseLayout(t *testing.T, out []byte) []Struct {
	t.Helper()
	var structs []Struct
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("bad layout line %q", sc.Text())
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			t.Fatalf("bad layout line %q", sc.Text())
		}
		switch f[0] {
		case "struct":
			structs = append(structs, Struct{Name: f[1], Size: uintptr(n)})
		case "field":
			s, name, ok := strings.Cut(f[1], ".")
			if !ok || len(structs) == 0 || structs[len(structs)-1].Name != s {
				t.Fatalf("field line %q not under its struct", sc.Text())
			}
			last := &structs[len(structs)-1]
			last.Fields = append(last.Fields, Field{Name: name, Offset: uintptr(n)})
		default:
			t.Fatalf("bad layout line %q", sc.Text())
		}
	}
	return structs
}

func TestLayoutCAndCxxAgree(t *testing.T) {
	c99 := runLayout(t, "gcc", "-std=c99")
	cxx := runLayout(t, "g++", "-x", "c++", "-std=c++17")
	if !bytes.Equal(c99, cxx) {
		t.Fatalf("C99 and C++17 layouts differ:\n--- C99\n%s--- C++17\n%s", c99, cxx)
	}
}

// TestLayoutMatchesCgo checks the compiled layout against the structs
// package capi is built with, field for field.
func TestLayoutMatchesCgo(t *testing.T) {
	got := parseLayout(t, runLayout(t, "gcc", "-std=c99"))
	want := CgoLayout()
	if len(got) != len(want) {
		t.Fatalf("layout.c has %d structs, cgo table %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Size != w.Size {
			t.Errorf("struct %d: layout.c %s %d bytes, cgo %s %d bytes", i, g.Name, g.Size, w.Name, w.Size)
			continue
		}
		if len(g.Fields) != len(w.Fields) {
			t.Errorf("%s: layout.c lists %d fields, cgo %d", w.Name, len(g.Fields), len(w.Fields))
			continue
		}
		for j := range w.Fields {
			if g.Fields[j].Name != w.Fields[j].Name || g.Fields[j].Offset != w.Fields[j].Offset {
				t.Errorf("%s: field %d layout.c %s@%d, cgo %s@%d", w.Name, j,
					g.Fields[j].Name, g.Fields[j].Offset, w.Fields[j].Name, w.Fields[j].Offset)
			}
		}
	}
}

// TestNoPadding checks that every struct is its fields back to back: no
// hidden padding, and no field missing from the tables (which would leave
// a hole).
func TestNoPadding(t *testing.T) {
	for _, s := range CgoLayout() {
		end := uintptr(0)
		for _, f := range s.Fields {
			if f.Offset != end {
				t.Errorf("%s.%s at %d, previous field ends at %d", s.Name, f.Name, f.Offset, end)
			}
			end = f.Offset + f.Size
		}
		if end != s.Size {
			t.Errorf("%s: fields end at %d, struct is %d bytes", s.Name, end, s.Size)
		}
	}
}

// TestStrides pins the sizes of output element structs and the minimum
// sizes of the extensible ones: callers index arrays of the former, and
// old callers pass the latter, so changing either breaks the ABI.
func TestStrides(t *testing.T) {
	pinned := map[string]uintptr{
		// Output elements (documented in the header).
		"procmapq_vma":         128,
		"procmapq_lookup":      24,
		"procmapq_difference":  64,
		"procmapq_norm_output": 32,
		"procmapq_norm_meta":   96,
		// Version 0.1 sizes of the size-first structs: they may grow in a
		// later minor version, never shrink.
		"procmapq_open_opts":      24,
		"procmapq_query_opts":     24,
		"procmapq_vma_buf":        64,
		"procmapq_compare_opts":   16,
		"procmapq_normalize_opts": 24,
		// Library-allocated headers (grow only into reserved fields).
		"procmapq_compare_report": 80,
		"procmapq_normalized":     64,
	}
	for _, s := range CgoLayout() {
		want, ok := pinned[s.Name]
		if !ok {
			t.Errorf("%s: no pinned size; add it here", s.Name)
			continue
		}
		if s.Size != want {
			t.Errorf("%s is %d bytes, the ABI says %d", s.Name, s.Size, want)
		}
	}
}

// TestConstantsMatchCore checks that the header's enum values are the
// ones package core uses, since capi passes them through unchanged.
func TestConstantsMatchCore(t *testing.T) {
	want := map[string]uint64{}
	add := func(prefix string, names []string, value func(i int) uint64) {
		for i, n := range names {
			want[prefix+n] = value(i)
		}
	}
	add("PROCMAPQ_BACKEND_", []string{"AUTO", "IOCTL", "TEXT"}, func(i int) uint64 {
		return uint64([]core.Backend{core.BackendAuto, core.BackendIoctl, core.BackendText}[i])
	})
	add("PROCMAPQ_PERM_", []string{"R", "W", "X", "SHARED"}, func(i int) uint64 {
		return uint64([]core.Perm{core.PermRead, core.PermWrite, core.PermExec, core.PermShared}[i])
	})
	kinds := []core.Kind{core.KindAnonymous, core.KindFile, core.KindDeletedFile, core.KindNamedAnon, core.KindHeap,
		core.KindStack, core.KindVDSO, core.KindVVAR, core.KindVsyscall, core.KindSpecial}
	add("PROCMAPQ_KIND_", []string{"ANONYMOUS", "FILE", "DELETED_FILE", "NAMED_ANON", "HEAP", "STACK", "VDSO", "VVAR",
		"VSYSCALL", "SPECIAL"}, func(i int) uint64 { return uint64(kinds[i]) })
	add("PROCMAPQ_VMA_", []string{"DELETED", "NAME_AMBIGUOUS", "NAME_UNAVAILABLE"}, func(i int) uint64 {
		return uint64([]core.VMAFlags{core.FlagDeleted, core.FlagNameAmbiguous, core.FlagNameUnavailable}[i])
	})
	add("PROCMAPQ_REASON_", []string{"FOUND", "UNMAPPED", "FILTERED", "PROCESS_GONE"}, func(i int) uint64 {
		return uint64([]core.Reason{core.ReasonFound, core.ReasonUnmapped, core.ReasonFiltered, core.ReasonProcessGone}[i])
	})
	add("PROCMAPQ_STRATEGY_", []string{"NONE", "POINT_IOCTL", "IOCTL_WALK", "TEXT", "IOCTL_THEN_TEXT"}, func(i int) uint64 {
		return uint64([]core.Strategy{core.StrategyNone, core.StrategyPointIoctl, core.StrategyIoctlWalk, core.StrategyText,
			core.StrategyIoctlThenText}[i])
	})
	diffs := []core.DiffKind{core.DiffGateVMA, core.DiffNameEscaping, core.DiffNameTooLong, core.DiffBuildIDTooLong,
		core.DiffMissingInIoctl, core.DiffMissingInText, core.DiffFields, core.DiffName, core.DiffBuildID}
	add("PROCMAPQ_DIFF_", []string{"GATE_VMA", "NAME_ESCAPING", "NAME_TOO_LONG", "BUILD_ID_TOO_LONG", "MISSING_IN_IOCTL",
		"MISSING_IN_TEXT", "FIELDS", "NAME", "BUILD_ID"}, func(i int) uint64 { return uint64(diffs[i]) })
	add("PROCMAPQ_META_", []string{"UNKNOWN", "ELF", "VDSO"}, func(i int) uint64 {
		return uint64([]core.MetaKind{core.MetaUnknown, core.MetaELF, core.MetaVDSO}[i])
	})
	add("PROCMAPQ_NORM_REASON_", []string{"UNMAPPED", "ANONYMOUS", "UNSUPPORTED", "FILTERED", "PROCESS_GONE"}, func(i int) uint64 {
		return uint64([]core.UnknownReason{core.UnknownUnmapped, core.UnknownAnonymous, core.UnknownUnsupported,
			core.UnknownFiltered, core.UnknownProcessGone}[i])
	})
	add("PROCMAPQ_BUILD_ID_", []string{"NONE", "KERNEL", "FILE", "MEMORY"}, func(i int) uint64 {
		return uint64([]core.BuildIDSource{core.BuildIDNone, core.BuildIDKernel, core.BuildIDFile, core.BuildIDMemory}[i])
	})
	add("PROCMAPQ_META_F_", []string{"DELETED", "FILE_UNAVAILABLE", "DEV_UNVERIFIED", "NAME_AMBIGUOUS"}, func(i int) uint64 {
		return uint64([]core.MetaFlags{core.MetaDeleted, core.MetaFileUnavailable, core.MetaDevUnverified,
			core.MetaNameAmbiguous}[i])
	})
	seen := map[string]bool{}
	for _, c := range Constants() {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("%s: no core counterpart in this test", c.Name)
			continue
		}
		seen[c.Name] = true
		if c.Value != w {
			t.Errorf("%s = %d in procmapq.h, core says %d", c.Name, c.Value, w)
		}
	}
	for n := range want {
		if !seen[n] {
			t.Errorf("%s: not exported by abi.Constants", n)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d constants agree with core", len(want))
}
