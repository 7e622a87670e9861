package core

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/libprocmapq/libprocmapq/internal/elffix"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// normBackends are the backends every normalization test runs on.
var normBackends = []Backend{BackendText, BackendIoctl, BackendAuto}

// skipWithoutIoctl skips a test of the forced ioctl backend on kernels
// without PROCMAP_QUERY (or with the probe forced off); see requireIoctl.
func skipWithoutIoctl(tb testing.TB, b Backend) {
	tb.Helper()
	if b == BackendIoctl {
		requireIoctl(tb)
	}
}

// TestNormalizeTargetModules: file offsets of addresses in the target's
// r-x modules (mapped from file offset 0, text one page in), duplicates
// and unsorted input, and unknown addresses below and above every VMA.
func TestNormalizeTargetModules(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{Modules: 2})
	h := mustOpen(t, tg.Pid)
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

// normCase is one probe address of the loader and what it must normalize to.
type normCase struct {
	label string
	addr  uint64
	kind  MetaKind
	// ELF: the file it must be in (our namespace's path), the expected
	// build IDs, and the expected virtual address (0 = do not check).
	path             string
	fileID, kernelID []byte
	vaddr            uint64
	reason           UnknownReason
	offset           uint64 // vDSO and unknown: the expected FileOffset
}

// loaderCases lists the loader's probe addresses and their expectations.
func loaderCases(t *testing.T, f *elffix.Fixtures, p *elffix.Proc, libPaths map[string]string) []normCase {
	t.Helper()
	var cs []normCase
	for i, name := range f.Order {
		l := f.Libs[name]
		path := l.Path
		if libPaths != nil {
			path = libPaths[name]
		}
		cs = append(cs, normCase{label: "lib-" + name, addr: p.Addrs["lib"+strconv.Itoa(i+1)], kind: MetaELF,
			path: path, fileID: l.FileID, kernelID: l.KernelID, vaddr: l.ProbeVaddr})
	}
	libc := elffix.LibcPath(t, p.Pid)
	libcID, err := elffix.ReadelfBuildID(libc)
	if err != nil || len(libcID) == 0 {
		t.Fatalf("libc build ID: %x %v", libcID, err)
	}
	cs = append(cs,
		normCase{label: "main", addr: p.Addrs["main"], kind: MetaELF, path: f.Loader, fileID: f.LoaderID, kernelID: f.LoaderID, vaddr: f.MainVaddr},
		normCase{label: "local", addr: p.Addrs["local"] + 3, kind: MetaELF, path: f.Loader, fileID: f.LoaderID, kernelID: f.LoaderID, vaddr: f.LocalVaddr + 3},
		normCase{label: "fopen", addr: p.Addrs["fopen"], kind: MetaELF, path: libc, fileID: libcID, kernelID: libcID},
		normCase{label: "chdir", addr: p.Addrs["chdir"], kind: MetaELF, path: libc, fileID: libcID, kernelID: libcID},
		vdsoCase(t, p),
		normCase{label: "jit", addr: p.Addrs["jit"] + 5, kind: MetaUnknown, reason: UnknownAnonymous, offset: p.Addrs["jit"] + 5},
		normCase{label: "gap", addr: p.Addrs["gap"] + 8, kind: MetaUnknown, reason: UnknownUnmapped, offset: p.Addrs["gap"] + 8},
		normCase{label: "heap", addr: p.Addrs["heap"], kind: MetaUnknown, reason: UnknownUnsupported, offset: p.Addrs["heap"]},
		normCase{label: "below", addr: 0x1000, kind: MetaUnknown, reason: UnknownUnmapped, offset: 0x1000},
		normCase{label: "above", addr: 0xffffffffffffff00, kind: MetaUnknown, reason: UnknownUnmapped, offset: 0xffffffffffffff00},
	)
	return cs
}

// vdsoCase dumps the target's vDSO to a file and asks readelf and nm for
// its build ID and the virtual address of an offset in it.
func vdsoCase(t *testing.T, p *elffix.Proc) normCase {
	t.Helper()
	start := p.Addrs["vdso"]
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", p.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var end uint64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(line, "[vdso]") {
			r := strings.SplitN(strings.Fields(line)[0], "-", 2)
			s, _ := strconv.ParseUint(r[0], 16, 64)
			end, _ = strconv.ParseUint(r[1], 16, 64)
			if s != start {
				t.Fatalf("[vdso] at %#x, AT_SYSINFO_EHDR %#x", s, start)
			}
		}
	}
	dump := filepath.Join(t.TempDir(), "vdso.so")
	if err := os.WriteFile(dump, elffix.MemAt(t, p.Pid, start, int(end-start)), 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := elffix.ReadelfBuildID(dump)
	if err != nil || len(id) == 0 {
		t.Fatalf("vDSO build ID: %x %v", id, err)
	}
	const off = 0x10
	c := normCase{label: "vdso", addr: start + off, kind: MetaVDSO, offset: off, fileID: id}
	for _, l := range elffix.ReadelfLoads(t, dump) {
		if off >= l.Offset && off-l.Offset < l.FileSize {
			c.vaddr = off - l.Offset + l.VAddr
		}
	}
	return c
}

// checkCase checks one output against its case. ioctl says the backend was
// the ioctl (which decides where the build ID may come from).
func checkCase(t *testing.T, pid int, c normCase, res *Normalized, i int, o *NormalizeOptions, ioctl bool) {
	t.Helper()
	out := res.Outputs[i]
	m := res.Metas[out.Meta]
	if m.Kind != c.kind {
		t.Errorf("%s %#x: kind %v (%+v), want %v", c.label, c.addr, m.Kind, m, c.kind)
		return
	}
	switch c.kind {
	case MetaUnknown:
		if m.Reason != c.reason || out.FileOffset != c.offset || out.HasVirtAddr {
			t.Errorf("%s: %v offset %#x, want %v %#x", c.label, m.Reason, out.FileOffset, c.reason, c.offset)
		}
		return
	case MetaVDSO:
		if out.FileOffset != c.offset || string(m.Path) != "[vdso]" {
			t.Errorf("%s: offset %#x path %q, want %#x [vdso]", c.label, out.FileOffset, m.Path, c.offset)
		}
		wantID, wantSrc := []byte(nil), BuildIDNone
		if o.BuildIDs {
			wantID, wantSrc = c.fileID, BuildIDMemory
		}
		if !bytes.Equal(m.BuildID, wantID) || m.BuildIDSource != wantSrc || m.Flags != 0 {
			t.Errorf("%s: build ID %x from %v flags %b, want %x from %v", c.label, m.BuildID, m.BuildIDSource, m.Flags, wantID, wantSrc)
		}
		if out.HasVirtAddr != o.VirtAddrs || (o.VirtAddrs && out.VirtAddr != c.vaddr) {
			t.Errorf("%s: vaddr %#x (%v), want %#x", c.label, out.VirtAddr, out.HasVirtAddr, c.vaddr)
		}
		return
	}
	if string(m.Path) != c.path {
		t.Errorf("%s: path %q, want %q", c.label, m.Path, c.path)
	}
	// The file offset must hold the bytes the process has at the address.
	if got, want := elffix.FileAt(t, c.path, out.FileOffset, 16), elffix.MemAt(t, pid, c.addr, 16); !bytes.Equal(got, want) {
		t.Errorf("%s: file bytes at offset %#x %x, memory at %#x %x", c.label, out.FileOffset, got, c.addr, want)
	}
	wantID, wantSrc := []byte(nil), BuildIDNone
	switch {
	case !o.BuildIDs:
	case ioctl && c.kernelID != nil:
		wantID, wantSrc = c.kernelID, BuildIDKernel
	case c.fileID != nil:
		wantID, wantSrc = c.fileID, BuildIDFile
	}
	if !bytes.Equal(m.BuildID, wantID) || m.BuildIDSource != wantSrc {
		t.Errorf("%s: build ID %x from %v, want %x from %v", c.label, m.BuildID, m.BuildIDSource, wantID, wantSrc)
	}
	if m.Flags&(MetaFileUnavailable|MetaDevUnverified) != 0 {
		t.Errorf("%s: flags %b", c.label, m.Flags)
	}
	if o.VirtAddrs && (!out.HasVirtAddr || (c.vaddr != 0 && out.VirtAddr != c.vaddr)) {
		t.Errorf("%s: vaddr %#x (%v), want %#x", c.label, out.VirtAddr, out.HasVirtAddr, c.vaddr)
	}
	if !o.VirtAddrs && out.HasVirtAddr {
		t.Errorf("%s: vaddr without VirtAddrs", c.label)
	}
}

// normOptionSets are the option combinations the ELF tests run.
func normOptionSets(b Backend) []NormalizeOptions {
	return []NormalizeOptions{
		{Backend: b},
		{Backend: b, BuildIDs: true, VirtAddrs: true},
		{Backend: b, BuildIDs: true, NoBuildIDCache: true},
		{Backend: b, BuildIDs: true, VirtAddrs: true, NoMapFiles: true},
		{Backend: b, VirtAddrs: true, NoMapFiles: true, NoBuildIDCache: true},
	}
}

// TestNormalizeELF normalizes, with both backends and every option set,
// addresses in shared objects with sha1, md5, 32-byte, section-only, two
// and no build IDs, in the executable, in libc, in the vDSO, in JIT-like
// anonymous memory, in [heap], in a gap, below and above every VMA, in
// shuffled order with duplicates; then checks that the backends agree.
func TestNormalizeELF(t *testing.T) {
	f := elffix.Need(t)
	var libs []string
	for _, n := range f.Order {
		libs = append(libs, f.Libs[n].Path)
	}
	p := elffix.StartLoader(t, f, nil, libs...)
	cases := loaderCases(t, f, p, nil)
	// Shuffled (reversed, interleaved) with duplicates.
	var order []int
	for i := range cases {
		order = append(order, len(cases)-1-i)
		if i%3 == 0 {
			order = append(order, i)
		}
	}
	addrs := make([]uint64, len(order))
	for i, ci := range order {
		addrs[i] = cases[ci].addr
	}
	h := mustOpen(t, p.Pid)
	results := map[string]*Normalized{}
	for _, b := range []Backend{BackendText, BackendIoctl, BackendAuto} {
		for _, o := range normOptionSets(b) {
			name := fmt.Sprintf("%v/ids=%v,vaddr=%v,nomap=%v,nocache=%v", b, o.BuildIDs, o.VirtAddrs, o.NoMapFiles, o.NoBuildIDCache)
			t.Run(name, func(t *testing.T) {
				skipWithoutIoctl(t, b)
				res := new(Normalized)
				if err := h.Normalize(addrs, &o, res); err != nil {
					t.Fatal(err)
				}
				if len(res.Outputs) != len(addrs) {
					t.Fatalf("%d outputs", len(res.Outputs))
				}
				for i, ci := range order {
					// Auto asks the kernel for build IDs whatever strategy it picks.
					checkCase(t, p.Pid, cases[ci], res, i, &o, b != BackendText && haveIoctl(t))
				}
				// Dedup: one meta per file, per vDSO, per reason.
				seen := map[string]bool{}
				for _, m := range res.Metas {
					k := fmt.Sprint(m.Kind, m.Reason, string(m.Path))
					if seen[k] {
						t.Errorf("duplicate meta %+v", m)
					}
					seen[k] = true
				}
				results[name] = res
			})
		}
	}
	// The two backends must agree on everything but where a build ID came
	// from, apart from libtwo (two GNU notes: the kernel reports the second).
	for _, o := range normOptionSets(BackendText) {
		name := fmt.Sprintf("ids=%v,vaddr=%v,nomap=%v,nocache=%v", o.BuildIDs, o.VirtAddrs, o.NoMapFiles, o.NoBuildIDCache)
		rt, ri := results["text/"+name], results["ioctl/"+name]
		if rt == nil || ri == nil {
			continue
		}
		if d := diffNormalized(rt, ri, "lib"+"two.so"); d != "" {
			t.Errorf("%s: text and ioctl differ: %s", name, d)
		}
	}
}

// diffNormalized describes how two results differ, ignoring build-ID
// sources and the build ID of metas whose path ends in skipIDOf.
func diffNormalized(a, b *Normalized, skipIDOf string) string {
	if len(a.Outputs) != len(b.Outputs) || len(a.Metas) != len(b.Metas) {
		return fmt.Sprintf("%d/%d outputs, %d/%d metas", len(a.Outputs), len(b.Outputs), len(a.Metas), len(b.Metas))
	}
	for i := range a.Outputs {
		if a.Outputs[i] != b.Outputs[i] {
			return fmt.Sprintf("output %d: %+v vs %+v", i, a.Outputs[i], b.Outputs[i])
		}
	}
	for i := range a.Metas {
		ma, mb := a.Metas[i], b.Metas[i]
		sameID := bytes.Equal(ma.BuildID, mb.BuildID) || hasSuffix(ma.Path, skipIDOf)
		if ma.Kind != mb.Kind || ma.Reason != mb.Reason || ma.Flags != mb.Flags || !bytes.Equal(ma.Path, mb.Path) ||
			!sameID || ma.DevMajor != mb.DevMajor || ma.DevMinor != mb.DevMinor || ma.Inode != mb.Inode {
			return fmt.Sprintf("meta %d: %+v vs %+v", i, ma, mb)
		}
	}
	return ""
}

// normalizeOne normalizes one address and returns its output and meta.
func normalizeOne(t *testing.T, h *Handle, addr uint64, o NormalizeOptions) (NormOutput, Meta) {
	t.Helper()
	var res Normalized
	if err := h.Normalize([]uint64{addr}, &o, &res); err != nil {
		t.Fatal(err)
	}
	out := res.Outputs[0]
	return out, res.Metas[out.Meta]
}

// TestNormalizeDeletedFile: a mapped shared object that is then unlinked
// keeps the kernel's name with " (deleted)"; its build ID still comes
// through map_files (or the kernel), and without map_files there is no file
// to read, which the meta says.
func TestNormalizeDeletedFile(t *testing.T) {
	f := elffix.Need(t)
	sha1 := f.Libs["sha1"]
	path := filepath.Join(t.TempDir(), "libdel.so")
	elffix.CopyFile(t, sha1.Path, path)
	p := elffix.StartLoader(t, f, nil, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	addr := p.Addrs["lib1"]
	h := mustOpen(t, p.Pid)
	for _, b := range []Backend{BackendText, BackendIoctl} {
		t.Run(b.String(), func(t *testing.T) {
			skipWithoutIoctl(t, b)
			out, m := normalizeOne(t, h, addr, NormalizeOptions{Backend: b, BuildIDs: true, VirtAddrs: true})
			if m.Kind != MetaELF || string(m.Path) != path+" (deleted)" || m.Flags != MetaDeleted {
				t.Fatalf("meta %+v, want %q with MetaDeleted", m, path+" (deleted)")
			}
			wantSrc := BuildIDFile
			if b == BackendIoctl {
				wantSrc = BuildIDKernel
			}
			if !bytes.Equal(m.BuildID, sha1.FileID) || m.BuildIDSource != wantSrc {
				t.Errorf("build ID %x from %v, want %x from %v", m.BuildID, m.BuildIDSource, sha1.FileID, wantSrc)
			}
			if !out.HasVirtAddr || out.VirtAddr != sha1.ProbeVaddr {
				t.Errorf("vaddr %#x %v, want %#x", out.VirtAddr, out.HasVirtAddr, sha1.ProbeVaddr)
			}
			if got, want := elffix.FileAt(t, sha1.Path, out.FileOffset, 16), elffix.MemAt(t, p.Pid, addr, 16); !bytes.Equal(got, want) {
				t.Errorf("offset %#x holds %x, memory %x", out.FileOffset, got, want)
			}
			// Without map_files the unlinked file cannot be found.
			out, m = normalizeOne(t, h, addr, NormalizeOptions{Backend: b, BuildIDs: true, VirtAddrs: true, NoMapFiles: true})
			if b == BackendText && (m.BuildID != nil || m.BuildIDSource != BuildIDNone || m.Flags != MetaDeleted|MetaFileUnavailable) {
				t.Errorf("no map_files: %+v, want no build ID and MetaFileUnavailable", m)
			}
			if out.HasVirtAddr {
				t.Errorf("no map_files: vaddr %#x from nowhere", out.VirtAddr)
			}
		})
	}
}

// TestNormalizeReplacedFile: a mapped shared object replaced by another
// one at the same path (rename over it, as package managers do) must never
// be given the new file's build ID, with or without map_files.
func TestNormalizeReplacedFile(t *testing.T) {
	f := elffix.Need(t)
	sha1, md5 := f.Libs["sha1"], f.Libs["md5"]
	dir := t.TempDir()
	path := filepath.Join(dir, "librep.so")
	elffix.CopyFile(t, sha1.Path, path)
	p := elffix.StartLoader(t, f, nil, path)
	elffix.CopyFile(t, md5.Path, path+".new")
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	addr := p.Addrs["lib1"]
	h := mustOpen(t, p.Pid)
	for _, cached := range []bool{true, false} {
		// Prime the cache with the new file so a wrong hit would show.
		o := NormalizeOptions{Backend: BackendText, BuildIDs: true, NoBuildIDCache: !cached}
		_, m := normalizeOne(t, h, addr, o)
		if !bytes.Equal(m.BuildID, sha1.FileID) || m.BuildIDSource != BuildIDFile {
			t.Errorf("cached=%v, map_files: build ID %x from %v, want the mapped file's %x", cached, m.BuildID, m.BuildIDSource, sha1.FileID)
		}
		o.NoMapFiles = true
		_, m = normalizeOne(t, h, addr, o)
		if m.BuildID != nil || m.Flags&MetaFileUnavailable == 0 {
			t.Errorf("cached=%v, by path: build ID %x flags %b, want none and MetaFileUnavailable (the new file is %x)",
				cached, m.BuildID, m.Flags, md5.FileID)
		}
	}
}

// TestNormalizeMountNamespace: the target maps a shared object from a tmpfs
// mounted in its own mount namespace, over a directory where the caller's
// namespace has a different object at the same path. map_files and
// /proc/<pid>/root find the right file; the bare path (all a text snapshot
// has) finds the wrong one, which the device and inode check rejects.
func TestNormalizeMountNamespace(t *testing.T) {
	f := elffix.Need(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare --mount")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare(1)")
	}
	sha1, md5 := f.Libs["sha1"], f.Libs["md5"]
	dir := t.TempDir()
	path := filepath.Join(dir, "libns.so")
	elffix.CopyFile(t, md5.Path, path) // what the caller sees at that path
	wrap := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs none '" + dir + "' && cp '" + sha1.Path + "' '" + path + "' && "}
	p := elffix.StartLoader(t, f, wrap, path)
	addr := p.Addrs["lib1"]
	h := mustOpen(t, p.Pid)
	for _, o := range []NormalizeOptions{
		{Backend: BackendText, BuildIDs: true, VirtAddrs: true},
		{Backend: BackendText, BuildIDs: true, VirtAddrs: true, NoMapFiles: true},
		{Backend: BackendText, BuildIDs: true, VirtAddrs: true, NoMapFiles: true, NoBuildIDCache: true},
	} {
		out, m := normalizeOne(t, h, addr, o)
		if string(m.Path) != path || !bytes.Equal(m.BuildID, sha1.FileID) || m.BuildIDSource != BuildIDFile || m.Flags != 0 {
			t.Errorf("%+v: meta %+v, want %s with the namespace's build ID %x", o, m, path, sha1.FileID)
		}
		if !out.HasVirtAddr || out.VirtAddr != sha1.ProbeVaddr {
			t.Errorf("%+v: vaddr %#x %v, want %#x", o, out.VirtAddr, out.HasVirtAddr, sha1.ProbeVaddr)
		}
	}
	// A snapshot of the maps has no /proc/<pid>: only the bare path.
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", p.Pid))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := OpenText(text)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	out, m := normalizeOne(t, snap, addr, NormalizeOptions{BuildIDs: true, VirtAddrs: true})
	if m.BuildID != nil || m.Flags&MetaFileUnavailable == 0 || out.HasVirtAddr {
		t.Errorf("snapshot: meta %+v vaddr %v, want no build ID (the caller's file is %x)", m, out.HasVirtAddr, md5.FileID)
	}
}

// TestNormalizeProcessGone: a target that is gone before the call gives
// UnknownProcessGone for every address and an error wrapping
// ErrProcessGone; one that exits between the VMA lookup and the file reads
// keeps its answers, and its build IDs are either right or absent.
func TestNormalizeProcessGone(t *testing.T) {
	f := elffix.Need(t)
	sha1 := f.Libs["sha1"]
	for _, b := range []Backend{BackendText, BackendIoctl} {
		t.Run(b.String()+"/before", func(t *testing.T) {
			skipWithoutIoctl(t, b)
			p := elffix.StartLoader(t, f, nil, sha1.Path)
			h := mustOpen(t, p.Pid)
			p.Stop()
			addrs := []uint64{p.Addrs["lib1"], p.Addrs["main"], 0x1000}
			var res Normalized
			err := h.Normalize(addrs, &NormalizeOptions{Backend: b, BuildIDs: true}, &res)
			if !errors.Is(err, ErrProcessGone) {
				t.Fatalf("err %v, want ErrProcessGone", err)
			}
			if len(res.Outputs) != len(addrs) || len(res.Metas) != 1 {
				t.Fatalf("outputs %+v metas %+v", res.Outputs, res.Metas)
			}
			for i, out := range res.Outputs {
				m := res.Metas[out.Meta]
				if m.Kind != MetaUnknown || m.Reason != UnknownProcessGone || out.FileOffset != addrs[i] {
					t.Errorf("addr %#x: %+v %+v", addrs[i], out, m)
				}
			}
		})
		t.Run(b.String()+"/between", func(t *testing.T) {
			skipWithoutIoctl(t, b)
			path := filepath.Join(t.TempDir(), "libgone.so")
			elffix.CopyFile(t, sha1.Path, path)
			p := elffix.StartLoader(t, f, nil, path, f.Libs["long32"].Path)
			h := mustOpen(t, p.Pid)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			normalizeHookAfterQuery = p.Stop
			defer func() { normalizeHookAfterQuery = nil }()
			addrs := []uint64{p.Addrs["lib1"], p.Addrs["lib2"]}
			var res Normalized
			if err := h.Normalize(addrs, &NormalizeOptions{Backend: b, BuildIDs: true, NoBuildIDCache: true}, &res); err != nil {
				t.Fatal(err)
			}
			// The deleted file is only reachable through map_files, gone
			// with the process; the other one is still found by path.
			del, kept := res.Metas[res.Outputs[0].Meta], res.Metas[res.Outputs[1].Meta]
			if del.Kind != MetaELF || (del.BuildIDSource == BuildIDFile) || (del.BuildIDSource == BuildIDNone && del.Flags&MetaFileUnavailable == 0) {
				t.Errorf("deleted: %+v", del)
			}
			if del.BuildIDSource == BuildIDKernel && !bytes.Equal(del.BuildID, sha1.FileID) {
				t.Errorf("deleted: kernel build ID %x, want %x", del.BuildID, sha1.FileID)
			}
			if !bytes.Equal(kept.BuildID, f.Libs["long32"].FileID) || kept.BuildIDSource != BuildIDFile {
				t.Errorf("kept: %+v", kept)
			}
		})
	}
}

// TestNormalizeExitMidBatch kills targets at random moments while they are
// normalized in a loop: every answer must be the one given before the kill
// or UnknownProcessGone, and the call must say so with ErrProcessGone.
func TestNormalizeExitMidBatch(t *testing.T) {
	for _, b := range []Backend{BackendIoctl, BackendText, BackendAuto} {
		t.Run(b.String(), func(t *testing.T) {
			skipWithoutIoctl(t, b)
			partial := 0
			for run := 0; run < 8; run++ {
				tg, err := testtarget.StartProcess(testtarget.Options{Modules: 200})
				if err != nil {
					t.Fatal(err)
				}
				var addrs []uint64
				for _, m := range tg.Mappings {
					addrs = append(addrs, m.Start+0x10, m.End-1)
				}
				h, err := Open(tg.Pid)
				if err != nil {
					tg.Stop()
					t.Fatal(err)
				}
				o := NormalizeOptions{Backend: b, BuildIDs: true}
				var ref, res Normalized
				if err := h.Normalize(addrs, &o, &ref); err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{})
				go func() {
					time.Sleep(time.Duration(run*40) * time.Microsecond)
					tg.Stop()
					close(done)
				}()
				for iter := 0; ; iter++ {
					err := h.Normalize(addrs, &o, &res)
					gone := checkAgainstReference(t, addrs, &ref, &res)
					if err != nil && !errors.Is(err, ErrProcessGone) {
						t.Fatalf("err %v", err)
					}
					if gone > 0 && err == nil {
						t.Fatalf("%d addresses process-gone without an error", gone)
					}
					if gone > 0 && gone < len(addrs) {
						partial++
					}
					if err != nil || iter > 10000 {
						break
					}
				}
				<-done
				h.Close()
			}
			t.Logf("%d runs ended mid-batch", partial)
		})
	}
}

// checkAgainstReference checks that every answer in res equals the one in
// ref or is UnknownProcessGone, and returns how many are the latter.
func checkAgainstReference(t *testing.T, addrs []uint64, ref, res *Normalized) int {
	t.Helper()
	if len(res.Outputs) != len(addrs) {
		t.Fatalf("%d outputs for %d addresses", len(res.Outputs), len(addrs))
	}
	gone := 0
	for i, out := range res.Outputs {
		m, r := res.Metas[out.Meta], ref.Metas[ref.Outputs[i].Meta]
		if m.Kind == MetaUnknown && m.Reason == UnknownProcessGone && out.FileOffset == addrs[i] {
			gone++
			continue
		}
		// The target removes its files as it exits: " (deleted)" may appear.
		path := bytes.TrimSuffix(m.Path, []byte(" (deleted)"))
		if out.FileOffset != ref.Outputs[i].FileOffset || m.Kind != r.Kind || m.Reason != r.Reason || !bytes.Equal(path, r.Path) {
			t.Fatalf("addr %#x: %+v %v %q, before the kill %+v %v %q", addrs[i], out, m.Kind, m.Path, ref.Outputs[i], r.Kind, r.Path)
		}
	}
	return gone
}

// TestNormalizeFiltered: addresses in VMAs failing the filter are
// UnknownFiltered with the input address as offset; others are unaffected.
func TestNormalizeFiltered(t *testing.T) {
	f := elffix.Need(t)
	p := elffix.StartLoader(t, f, nil, f.Libs["sha1"].Path)
	h := mustOpen(t, p.Pid)
	addrs := []uint64{p.Addrs["lib1"], p.Addrs["heap"], p.Addrs["gap"]}
	for _, b := range []Backend{BackendText, BackendIoctl} {
		if b == BackendIoctl && !haveIoctl(t) {
			continue // kernel without PROCMAP_QUERY
		}
		var res Normalized
		if err := h.Normalize(addrs, &NormalizeOptions{Backend: b, Filter: Filter{Perms: PermWrite}}, &res); err != nil {
			t.Fatal(err)
		}
		want := []UnknownReason{UnknownFiltered, UnknownUnsupported, UnknownUnmapped}
		for i, out := range res.Outputs {
			m := res.Metas[out.Meta]
			if m.Kind != MetaUnknown || m.Reason != want[i] || out.FileOffset != addrs[i] {
				t.Errorf("%v: addr %#x: %+v %v %v, want %v", b, addrs[i], out, m.Kind, m.Reason, want[i])
			}
		}
	}
}

// TestNormalizeAllocs: with a reused result and cached build IDs the
// steady state allocates nothing.
func TestNormalizeAllocs(t *testing.T) {
	f := elffix.Need(t)
	p := elffix.StartLoader(t, f, nil, f.Libs["long32"].Path)
	h := mustOpen(t, p.Pid)
	addrs := []uint64{p.Addrs["fopen"], p.Addrs["chdir"], p.Addrs["lib1"], p.Addrs["main"], p.Addrs["local"], p.Addrs["jit"], p.Addrs["vdso"]}
	for _, b := range []Backend{BackendText, BackendIoctl} {
		if b == BackendIoctl && !haveIoctl(t) {
			continue // kernel without PROCMAP_QUERY
		}
		for _, o := range []NormalizeOptions{{Backend: b}, {Backend: b, BuildIDs: true, VirtAddrs: true}} {
			var res Normalized
			h.Normalize(addrs, &o, &res)
			n := testing.AllocsPerRun(50, func() {
				if err := h.Normalize(addrs, &o, &res); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Errorf("%+v: %v allocations per call", o, n)
			}
		}
	}
}

// TestCompareBuildIDs: Compare classifies, per file, a build ID the
// kernel cannot report (32 bytes, section only) as expected and a real
// disagreement (two GNU notes) as a mismatch; matching files add nothing.
func TestCompareBuildIDs(t *testing.T) {
	skipWithoutIoctl(t, BackendIoctl)
	f := elffix.Need(t)
	var libs []string
	for _, n := range f.Order {
		libs = append(libs, f.Libs[n].Path)
	}
	p := elffix.StartLoader(t, f, nil, libs...)
	h := mustOpen(t, p.Pid)
	rep, err := h.Compare(&CompareOptions{RetryDelay: time.Millisecond})
	if err != nil {
		t.Fatalf("%v\n%v", err, rep)
	}
	got := map[string]DiffKind{}
	for _, d := range append(append([]Difference(nil), rep.Expected...), rep.Mismatches...) {
		if d.Kind == DiffBuildID || d.Kind == DiffBuildIDTooLong {
			got[filepath.Base(string(d.Ioctl.Name))] = d.Kind
		}
	}
	want := map[string]DiffKind{"liblong32.so": DiffBuildIDTooLong, "libsection.so": DiffBuildIDTooLong, "libtwo.so": DiffBuildID}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("build-ID differences %v, want %v\n%v", got, want, rep)
	}
}

// TestNormalizeMisuse: bad calls give errors, never a panic.
func TestNormalizeMisuse(t *testing.T) {
	var nilHandle *Handle
	var res Normalized
	if err := nilHandle.Normalize([]uint64{1}, nil, &res); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil handle: %v", err)
	}
	h, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Normalize([]uint64{1}, nil, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil result: %v", err)
	}
	if err := h.Normalize([]uint64{1}, &NormalizeOptions{Backend: 9}, &res); !errors.Is(err, ErrInvalidArgument) || len(res.Outputs) != 0 {
		t.Errorf("bad backend: %v, %d outputs", err, len(res.Outputs))
	}
	if err := h.Normalize([]uint64{1}, &NormalizeOptions{Filter: Filter{Perms: 0x80}}, &res); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad filter: %v", err)
	}
	if err := h.Normalize(nil, nil, &res); err != nil || len(res.Outputs) != 0 || len(res.Metas) != 0 {
		t.Errorf("empty batch: %v %+v", err, res)
	}
	h.Close()
	if err := h.Normalize([]uint64{1}, nil, &res); !errors.Is(err, ErrClosed) || len(res.Outputs) != 0 {
		t.Errorf("closed handle: %v, %d outputs", err, len(res.Outputs))
	}
}

// TestNormalizeProcRoot: mapped files are found through the handle's proc
// root (OpenOptions.ProcRoot), here a symlink to /proc: the deleted file,
// reachable only through map_files, has its build ID while the link
// exists and none once it is gone (so /proc was not used behind its back).
func TestNormalizeProcRoot(t *testing.T) {
	f := elffix.Need(t)
	sha1 := f.Libs["sha1"]
	dir := t.TempDir()
	path := filepath.Join(dir, "libroot.so")
	elffix.CopyFile(t, sha1.Path, path)
	p := elffix.StartLoader(t, f, nil, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "proc")
	if err := os.Symlink("/proc", root); err != nil {
		t.Fatal(err)
	}
	h, err := OpenWithOptions(p.Pid, &OpenOptions{ProcRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	o := NormalizeOptions{Backend: BackendText, BuildIDs: true, NoBuildIDCache: true}
	if _, m := normalizeOne(t, h, p.Addrs["lib1"], o); !bytes.Equal(m.BuildID, sha1.FileID) {
		t.Errorf("through %s: %+v, want build ID %x", root, m, sha1.FileID)
	}
	os.Remove(root)
	if _, m := normalizeOne(t, h, p.Addrs["lib1"], o); m.BuildID != nil || m.Flags&MetaFileUnavailable == 0 {
		t.Errorf("proc root removed: %+v, want no build ID", m)
	}
}

// TestNormalizeVsyscall pins the documented backend difference: the gate
// VMA is UnknownUnsupported with text and UnknownUnmapped with the ioctl.
func TestNormalizeVsyscall(t *testing.T) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(maps, []byte("[vsyscall]")) {
		t.Skip("no [vsyscall] page on this machine")
	}
	const addr = 0xffffffffff600010
	h := mustOpen(t, 0)
	want := map[Backend]UnknownReason{BackendText: UnknownUnsupported, BackendIoctl: UnknownUnmapped}
	for b, reason := range want {
		if b == BackendIoctl && !haveIoctl(t) {
			continue
		}
		out, m := normalizeOne(t, h, addr, NormalizeOptions{Backend: b})
		if m.Kind != MetaUnknown || m.Reason != reason || out.FileOffset != addr {
			t.Errorf("%v: %+v %v %v, want unknown %v", b, out, m.Kind, m.Reason, reason)
		}
	}
}

// TestNormalizeSpecials normalizes the target's special mappings (file at
// an offset, deleted, odd names, exec-only, memfd, shared anonymous, SysV
// shm, PROT_NONE, anonymous exec-only, hugetlb, path > PATH_MAX) with both
// backends and checks kinds, offsets and that the backends agree (but for
// the long path, which only the text can name).
func TestNormalizeSpecials(t *testing.T) {
	tg := startSpecialTarget(t)
	h := mustOpen(t, tg.Pid)
	page := uint64(os.Getpagesize())
	type want struct {
		kind   MetaKind
		reason UnknownReason
		offset uint64 // FileOffset of Start+0x10 (unknown: the address)
		flags  MetaFlags
	}
	wants := map[string]want{
		"offset":         {MetaELF, 0, 3*page + 0x10, 0},
		"deleted":        {MetaELF, 0, 0x10, MetaDeleted},
		"spaces":         {MetaELF, 0, 0x10, 0},
		"leading-space":  {MetaELF, 0, 0x10, 0},
		"newline":        {MetaELF, 0, 0x10, 0},
		"backslash012":   {MetaELF, 0, 0x10, 0},
		"unicode":        {MetaELF, 0, 0x10, 0},
		"fake-deleted":   {MetaELF, 0, 0x10, MetaDeleted},
		"exec-only":      {MetaELF, 0, 0x10, 0},
		"shared-file":    {MetaELF, 0, 0x10, 0},
		"memfd":          {MetaELF, 0, 0x10, MetaDeleted},
		"shared-anon":    {MetaELF, 0, 0x10, MetaDeleted},
		"sysv-shm":       {MetaELF, 0, 0x10, MetaDeleted},
		"prot-none":      {MetaUnknown, UnknownAnonymous, 0, 0},
		"anon-exec-only": {MetaUnknown, UnknownAnonymous, 0, 0},
		"hugetlb":        {MetaUnknown, UnknownAnonymous, 0, 0},
		"long-path":      {MetaELF, 0, 0x10, 0},
	}
	// Labels absent from this target (no hugetlb pages, no SysV shm) are
	// simply not asked for.
	var labels []string
	var addrs []uint64
	for _, m := range tg.Mappings {
		if _, ok := wants[m.Label]; ok {
			labels = append(labels, m.Label)
			addrs = append(addrs, m.Start+0x10)
		}
	}
	results := map[Backend]*Normalized{}
	for _, b := range []Backend{BackendText, BackendIoctl} {
		if b == BackendIoctl && !haveIoctl(t) {
			continue
		}
		res := new(Normalized)
		if err := h.Normalize(addrs, &NormalizeOptions{Backend: b, BuildIDs: true, VirtAddrs: true}, res); err != nil {
			t.Fatal(err)
		}
		results[b] = res
		for i, l := range labels {
			w, out := wants[l], res.Outputs[i]
			m := res.Metas[out.Meta]
			off := w.offset
			if w.kind == MetaUnknown {
				off = addrs[i]
			}
			wantFlags := w.flags
			if b == BackendText && (l == "newline" || l == "backslash012") {
				wantFlags |= MetaNameAmbiguous
			}
			if m.Kind != w.kind || m.Reason != w.reason || out.FileOffset != off || m.Flags&^MetaFileUnavailable != wantFlags {
				t.Errorf("%v %s: %v/%v offset %#x flags %b, want %v/%v %#x %b", b, l, m.Kind, m.Reason, out.FileOffset, m.Flags, w.kind, w.reason, off, w.flags)
			}
			if m.BuildID != nil || out.HasVirtAddr {
				t.Errorf("%v %s: build ID %x / vaddr in a non-ELF file", b, l, m.BuildID)
			}
		}
	}
	rt, ri := results[BackendText], results[BackendIoctl]
	if rt == nil || ri == nil {
		return
	}
	for i, l := range labels {
		mt, mi := rt.Metas[rt.Outputs[i].Meta], ri.Metas[ri.Outputs[i].Meta]
		if rt.Outputs[i] != ri.Outputs[i] && l != "long-path" {
			t.Errorf("%s: text %+v, ioctl %+v", l, rt.Outputs[i], ri.Outputs[i])
		}
		// Expected differences: the long path (ioctl: empty) and "\012"
		// (text: a newline, flagged ambiguous).
		samePath := bytes.Equal(mt.Path, mi.Path) || (l == "long-path" && len(mi.Path) == 0) ||
			(l == "backslash012" && bytes.Equal(mt.Path, bytes.ReplaceAll(mi.Path, []byte(`\012`), []byte("\n"))))
		if mt.Kind != mi.Kind || mt.Reason != mi.Reason || mt.Flags&^MetaNameAmbiguous != mi.Flags || !samePath || mt.Inode != mi.Inode {
			t.Errorf("%s: text %+v, ioctl %+v", l, mt, mi)
		}
	}
}

// TestNormalizeManyFiles: 300 mapped files, two addresses in each, in
// shuffled order: one meta per file, each output in its own file's meta.
func TestNormalizeManyFiles(t *testing.T) {
	const n = 300
	tg := testtarget.Start(t, testtarget.Options{Modules: n})
	h := mustOpen(t, tg.Pid)
	var addrs []uint64
	var names []string
	for i := n - 1; i >= 0; i-- {
		for _, suffix := range []string{"", "-text"} {
			m, ok := tg.Mapping(fmt.Sprintf("module-%d%s", i, suffix))
			if !ok {
				t.Fatalf("no module-%d%s", i, suffix)
			}
			addrs = append(addrs, m.Start+8)
			names = append(names, fmt.Sprintf("/module-%d.so", i))
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(addrs), func(i, j int) {
		addrs[i], addrs[j] = addrs[j], addrs[i]
		names[i], names[j] = names[j], names[i]
	})
	for _, b := range []Backend{BackendText, BackendIoctl, BackendAuto} {
		if b == BackendIoctl && !haveIoctl(t) {
			continue
		}
		var res Normalized
		if err := h.Normalize(addrs, &NormalizeOptions{Backend: b}, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Metas) != n {
			t.Errorf("%v: %d metas, want %d", b, len(res.Metas), n)
		}
		for i, out := range res.Outputs {
			if m := res.Metas[out.Meta]; m.Kind != MetaELF || !hasSuffix(m.Path, names[i]) {
				t.Fatalf("%v: addr %#x in %q, want ...%s", b, addrs[i], m.Path, names[i])
			}
		}
	}
}

// TestNormalizeBtrfsSubvolume: on btrfs, stat() reports a subvolume's own
// device while the mapping shows the filesystem's. The file is accepted on
// its inode, flagged MetaDevUnverified when found by path; through
// map_files (the mapped file itself) no flag is needed.
func TestNormalizeBtrfsSubvolume(t *testing.T) {
	f := elffix.Need(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	for _, tool := range []string{"mkfs.btrfs", "btrfs", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (apt-get install btrfs-progs)", tool)
		}
	}
	fs, _ := os.ReadFile("/proc/filesystems")
	if !bytes.Contains(fs, []byte("btrfs")) {
		t.Skip("kernel without btrfs")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "btrfs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 128<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.btrfs", "-q", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.btrfs: %v %s", err, out)
	}
	sha1 := f.Libs["sha1"]
	lib := filepath.Join(mnt, "sub", "lib.so")
	// Mounted in the loader's own mount namespace: gone when it exits.
	wrap := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount -o loop '" + img + "' '" + mnt + "' && btrfs -q subvolume create '" + mnt + "/sub' && cp '" + sha1.Path + "' '" + lib + "' && "}
	p := elffix.StartLoader(t, f, wrap, lib)
	h := mustOpen(t, p.Pid)
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/root%s", p.Pid, lib), &st); err != nil {
		t.Fatal(err)
	}
	_, m := normalizeOne(t, h, p.Addrs["lib1"], NormalizeOptions{Backend: BackendText})
	if m.DevMajor == unix.Major(st.Dev) && m.DevMinor == unix.Minor(st.Dev) {
		t.Skipf("this btrfs reports the same device %d:%d to stat and maps", m.DevMajor, m.DevMinor)
	}
	for _, c := range []struct {
		o    NormalizeOptions
		want MetaFlags
	}{
		{NormalizeOptions{Backend: BackendText, BuildIDs: true}, 0},
		{NormalizeOptions{Backend: BackendText, BuildIDs: true, NoMapFiles: true}, MetaDevUnverified},
		{NormalizeOptions{Backend: BackendText, BuildIDs: true, NoMapFiles: true, NoBuildIDCache: true}, MetaDevUnverified},
	} {
		_, m := normalizeOne(t, h, p.Addrs["lib1"], c.o)
		if !bytes.Equal(m.BuildID, sha1.FileID) || m.Flags != c.want {
			t.Errorf("%+v: build ID %x flags %b, want %x flags %b", c.o, m.BuildID, m.Flags, sha1.FileID, c.want)
		}
	}
}

// TestNormalizeCacheAvoidsReads: with the cache, files are read once, then
// answered from the cache; without it, read on every call.
func TestNormalizeCacheAvoidsReads(t *testing.T) {
	f := elffix.Need(t)
	p := elffix.StartLoader(t, f, nil, f.Libs["long32"].Path, f.Libs["section"].Path)
	h := mustOpen(t, p.Pid)
	addrs := []uint64{p.Addrs["lib1"], p.Addrs["lib2"], p.Addrs["main"], p.Addrs["fopen"]}
	for _, nocache := range []bool{false, true} {
		var res Normalized
		o := NormalizeOptions{Backend: BackendText, BuildIDs: true, VirtAddrs: true, NoBuildIDCache: nocache}
		for call := 0; call < 3; call++ {
			if err := h.Normalize(addrs, &o, &res); err != nil {
				t.Fatal(err)
			}
			opens := res.files.Opens
			res.files.Opens = 0
			for _, m := range res.Metas {
				if len(m.BuildID) == 0 {
					t.Fatalf("no build ID for %s", m.Path)
				}
			}
			if call > 0 && !nocache && opens != 0 {
				t.Errorf("cached, call %d: %d files read", call, opens)
			}
			if nocache && opens != len(res.Metas) {
				t.Errorf("uncached, call %d: %d files read for %d metas", call, opens, len(res.Metas))
			}
		}
	}
}

// TestNormalizeEnumNames pins the names the CLI and logs print.
func TestNormalizeEnumNames(t *testing.T) {
	for got, want := range map[string]string{
		MetaELF.String(): "elf", MetaVDSO.String(): "vdso", MetaKind(9).String(): "meta-kind(9)",
		UnknownAnonymous.String(): "anonymous", UnknownProcessGone.String(): "process-gone", UnknownReason(7).String(): "unknown-reason(7)",
		BuildIDKernel.String(): "kernel", BuildIDMemory.String(): "memory", BuildIDSource(4).String(): "build-id-source(4)",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

// ExampleHandle_Normalize normalizes two addresses of the calling process
// with build IDs and virtual addresses, reusing one result.
func ExampleHandle_Normalize() {
	h, err := Open(0)
	if err != nil {
		panic(err)
	}
	defer h.Close()
	addrs := []uint64{uint64(reflectFuncPC(ExampleHandle_Normalize)), 0x1000}
	var res Normalized // reuse across calls: no allocation once warm
	if err := h.Normalize(addrs, &NormalizeOptions{BuildIDs: true, VirtAddrs: true}, &res); err != nil {
		panic(err)
	}
	for i, out := range res.Outputs {
		m := res.Metas[out.Meta]
		switch m.Kind {
		case MetaELF:
			fmt.Printf("%#x: %s+%#x (vaddr %#x) build ID %x from %v\n", addrs[i], m.Path, out.FileOffset, out.VirtAddr, m.BuildID, m.BuildIDSource)
		default:
			fmt.Printf("%#x: %v %v\n", addrs[i], m.Kind, m.Reason)
		}
	}
}

// reflectFuncPC returns the entry address of a Go function.
func reflectFuncPC(f any) uintptr { return reflect.ValueOf(f).Pointer() }

// TestNormalizeConcurrent: goroutines sharing one handle and the
// process-wide cache, each with its own result, all get the reference
// answer (run with -race to check the locking).
func TestNormalizeConcurrent(t *testing.T) {
	f := elffix.Need(t)
	p := elffix.StartLoader(t, f, nil, f.Libs["long32"].Path, f.Libs["sha1"].Path)
	h := mustOpen(t, p.Pid)
	addrs := []uint64{p.Addrs["lib1"], p.Addrs["lib2"], p.Addrs["main"], p.Addrs["fopen"], p.Addrs["vdso"], p.Addrs["jit"]}
	var ref Normalized
	if err := h.Normalize(addrs, &NormalizeOptions{Backend: BackendText, BuildIDs: true, VirtAddrs: true}, &ref); err != nil {
		t.Fatal(err)
	}
	errs := make(chan string, 8)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res Normalized
			for i := 0; i < 40; i++ {
				o := NormalizeOptions{Backend: BackendText, BuildIDs: true, VirtAddrs: true, NoBuildIDCache: i%4 == 3}
				if err := h.Normalize(addrs, &o, &res); err != nil {
					errs <- err.Error()
					return
				}
				if d := diffNormalized(&ref, &res, ""); d != "" {
					errs <- d
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
