// Package elffix builds and runs the real ELF fixtures of the tests of core
// and of its internal packages: shared objects built with gcc from
// testdata/probe.c with chosen --build-id options, and testdata/loader.c, a
// process that dlopens them. Expected build IDs come from the linker option
// (custom IDs) or from `readelf -n`, never from the code under test;
// expected virtual addresses from `nm`. It imports nothing of core, so that
// every package under core can use it in its tests.
package elffix

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// Build-ID values given to the linker or written into a note by the tests.
const (
	Long32ID  = "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabb01" // 32 bytes
	TwoNoteID = "abababababababababababababababababababababababababababababababab" // 32 bytes, first note
	// SecondNoteID is the 20-byte note probe.c adds with -DSECOND_NOTE.
	SecondNoteID = "5ec04d00112233445566778899aabbccddeeff01"
	SectionID    = "303132333435363738393a3b3c3d3e3f4041424344454647" // 24 bytes, section only
)

// Lib is one test shared object.
type Lib struct {
	Name string
	Path string
	// FileID is the build ID in the file (first GNU note): what the file
	// reader must find. KernelID is what PROCMAP_QUERY reports (nil when
	// the kernel reports none: no note, > 20 bytes, section only).
	FileID, KernelID []byte
	ProbeVaddr       uint64 // st_value of probe_fn (nm)
}

// Fixtures are the built objects and what the tools say about them.
type Fixtures struct {
	Dir                   string
	Loader                string
	LoaderID              []byte
	MainVaddr, LocalVaddr uint64
	Libs                  map[string]*Lib
	Order                 []string // lib names in loader argument order
}

var elfFix struct {
	once sync.Once
	f    *Fixtures
	err  error
}

func elfSourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Need builds the fixtures once per test process (in a
// directory named after the sources' hash, reused by later runs).
func Need(tb testing.TB) *Fixtures {
	tb.Helper()
	elfFix.once.Do(func() { elfFix.f, elfFix.err = buildELFFixtures() })
	if elfFix.err != nil {
		tb.Fatal(elfFix.err)
	}
	return elfFix.f
}

func Run(name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out, nil
}

func buildELFFixtures() (*Fixtures, error) {
	src := elfSourceDir()
	h := sha256.New()
	for _, n := range []string{"loader.c", "probe.c"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			return nil, err
		}
		h.Write(b)
	}
	gccVersion, _ := exec.Command("gcc", "--version").Output()
	h.Write(gccVersion)
	h.Write([]byte("v3"))
	dir := filepath.Join(os.TempDir(), "procmapq-elf-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "done")); err != nil {
		tmp, err := os.MkdirTemp(os.TempDir(), "procmapq-elf-build-")
		if err != nil {
			return nil, err
		}
		if err := compileELFFixtures(src, tmp); err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			os.RemoveAll(tmp) // another test process won the race
		}
	}
	f := &Fixtures{Dir: dir, Loader: filepath.Join(dir, "loader"), Libs: map[string]*Lib{}}
	var err error
	if f.LoaderID, err = ReadelfBuildID(f.Loader); err != nil {
		return nil, err
	}
	if f.MainVaddr, err = NMSymbol(f.Loader, "main"); err != nil {
		return nil, err
	}
	if f.LocalVaddr, err = NMSymbol(f.Loader, "local_fn"); err != nil {
		return nil, err
	}
	mustHex := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	for _, l := range []*Lib{
		{Name: "sha1"}, {Name: "md5"},
		{Name: "long32", FileID: mustHex(Long32ID)},
		{Name: "none"},
		{Name: "section", FileID: mustHex(SectionID)},
		{Name: "two", FileID: mustHex(TwoNoteID), KernelID: mustHex(SecondNoteID)},
	} {
		l.Path = filepath.Join(dir, "lib"+l.Name+".so")
		if l.Name == "sha1" || l.Name == "md5" {
			if l.FileID, err = ReadelfBuildID(l.Path); err != nil {
				return nil, err
			}
			if want := map[string]int{"sha1": 20, "md5": 16}[l.Name]; len(l.FileID) != want {
				return nil, fmt.Errorf("%s: readelf build ID %x, want %d bytes", l.Path, l.FileID, want)
			}
			l.KernelID = l.FileID
		}
		if l.Name == "none" {
			if id, _ := ReadelfBuildID(l.Path); id != nil {
				return nil, fmt.Errorf("%s has build ID %x", l.Path, id)
			}
		}
		if l.ProbeVaddr, err = NMSymbol(l.Path, "probe_fn"); err != nil {
			return nil, err
		}
		f.Libs[l.Name] = l
		f.Order = append(f.Order, l.Name)
	}
	return f, nil
}

func compileELFFixtures(src, dir string) error {
	probe := filepath.Join(src, "probe.c")
	so := func(name string, extra ...string) error {
		args := append([]string{"-O2", "-shared", "-fPIC", "-o", filepath.Join(dir, "lib"+name+".so")}, extra...)
		_, err := Run("gcc", append(args, probe)...)
		return err
	}
	for _, b := range []struct {
		name  string
		extra []string
	}{
		{"sha1", []string{"-Wl,--build-id=sha1"}},
		{"md5", []string{"-Wl,--build-id=md5"}},
		{"long32", []string{"-Wl,--build-id=0x" + Long32ID}},
		{"none", []string{"-Wl,--build-id=none"}},
		{"two", []string{"-DSECOND_NOTE", "-Wl,--build-id=0x" + TwoNoteID}},
	} {
		if err := so(b.name, b.extra...); err != nil {
			return err
		}
	}
	// A build ID only in a non-allocated SHT_NOTE section (no PT_NOTE).
	id, _ := hex.DecodeString(SectionID)
	note := binary.LittleEndian.AppendUint32(nil, 4)
	note = binary.LittleEndian.AppendUint32(note, uint32(len(id)))
	note = binary.LittleEndian.AppendUint32(note, 3)
	note = append(append(note, "GNU\x00"...), id...)
	notePath := filepath.Join(dir, "section-note.bin")
	if err := os.WriteFile(notePath, note, 0o644); err != nil {
		return err
	}
	if _, err := Run("objcopy", "--add-section", ".note.gnu.build-id="+notePath,
		"--set-section-flags", ".note.gnu.build-id=readonly",
		filepath.Join(dir, "libnone.so"), filepath.Join(dir, "libsection.so")); err != nil {
		return err
	}
	if _, err := Run("gcc", "-O2", "-Wall", "-Wl,--build-id=sha1", "-o", filepath.Join(dir, "loader"),
		filepath.Join(src, "loader.c"), "-ldl"); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
}

// ReadelfBuildID returns the first build ID `readelf -n` prints, or nil.
func ReadelfBuildID(path string) ([]byte, error) {
	out, err := Run("readelf", "-n", path)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "Build ID: "); ok {
			return hex.DecodeString(s)
		}
	}
	return nil, nil
}

// NMSymbol returns the value of a defined symbol according to nm.
func NMSymbol(path, sym string) (uint64, error) {
	out, err := Run("nm", "--defined-only", path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == sym {
			return strconv.ParseUint(f[0], 16, 64)
		}
	}
	return 0, fmt.Errorf("nm %s: no %s", path, sym)
}

// Proc is a running loader.
type Proc struct {
	Pid   int
	Addrs map[string]uint64 // "main", "lib1", "vdso", ...
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartLoader runs the loader on libs (paths) and waits until it is ready.
// wrap, if not nil, runs it through another command ending in a shell
// script (e.g. unshare ... sh -c 'mount ... && '): "exec LOADER ARGS",
// shell-quoted, is appended to wrap's last element.
func StartLoader(tb testing.TB, f *Fixtures, wrap []string, libs ...string) *Proc {
	tb.Helper()
	argv := append([]string{f.Loader}, libs...)
	if wrap != nil {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		argv = append([]string(nil), wrap...)
		argv[len(argv)-1] += "exec " + strings.Join(quoted, " ")
	}
	cmd, stdin, sc, err := testtarget.Spawn(argv...)
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proc{Addrs: map[string]uint64{}, cmd: cmd, stdin: stdin}
	tb.Cleanup(p.Stop)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		switch {
		case len(fl) == 3 && fl[0] == "lib":
			a, _ := strconv.ParseUint(fl[2], 16, 64)
			p.Addrs["lib"+fl[1]] = a
		case len(fl) == 2 && fl[0] == "ready":
			p.Pid, _ = strconv.Atoi(fl[1])
			go func() { // drain, so the loader never blocks writing
				for sc.Scan() {
				}
			}()
			return p
		case len(fl) == 2:
			a, _ := strconv.ParseUint(fl[1], 16, 64)
			p.Addrs[fl[0]] = a
		}
	}
	tb.Fatalf("loader exited before it was ready: %v", cmd.Wait())
	return nil
}

// stop ends the loader and reaps it; safe to call twice.
func (p *Proc) Stop() {
	if p.cmd == nil {
		return
	}
	p.stdin.Close()
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.cmd = nil
}

// MemAt reads n bytes of the target's memory at addr.
func MemAt(tb testing.TB, pid int, addr uint64, n int) []byte {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(addr)); err != nil {
		tb.Fatalf("reading memory at %#x: %v", addr, err)
	}
	return b
}

// FileAt reads n bytes of a file at off.
func FileAt(tb testing.TB, path string, off uint64, n int) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(off)); err != nil {
		tb.Fatalf("reading %s at %#x: %v", path, off, err)
	}
	return b
}

// CopyFile copies src to dst (mode 0755).
func CopyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		tb.Fatal(err)
	}
}

// Load is one PT_LOAD segment as `readelf -lW` prints it.
type Load struct {
	Offset, FileSize, VAddr uint64
}

// ReadelfLoads returns the PT_LOAD segments `readelf -lW` prints.
func ReadelfLoads(tb testing.TB, path string) []Load {
	tb.Helper()
	out, err := Run("readelf", "-lW", path)
	if err != nil {
		tb.Fatal(err)
	}
	var loads []Load
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "LOAD" {
			continue
		}
		n := func(s string) uint64 { v, _ := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64); return v }
		loads = append(loads, Load{Offset: n(f[1]), VAddr: n(f[2]), FileSize: n(f[4])})
	}
	return loads
}

// LibcPath returns the path of the libc process pid mapped (from its maps
// text, read here without the code under test).
func LibcPath(tb testing.TB, pid int) string {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, " /"); i >= 0 && strings.Contains(line, "/libc.so") {
			return line[i+1:]
		}
	}
	tb.Fatal("no libc in maps")
	return ""
}
