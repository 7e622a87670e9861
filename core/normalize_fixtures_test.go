package core

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

// Real ELF fixtures for the normalization tests: shared objects built with
// gcc from testdata/elf/probe.c with chosen --build-id options, and
// testdata/elf/loader.c, a process that dlopens them. Expected build IDs
// come from the linker option (custom IDs) or from `readelf -n`, never from
// this package; expected virtual addresses from `nm`.

// Build-ID values given to the linker or written into a note by the tests.
const (
	long32ID  = "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabb01" // 32 bytes
	twoNoteID = "abababababababababababababababababababababababababababababababab" // 32 bytes, first note
	// secondNoteID is the 20-byte note probe.c adds with -DSECOND_NOTE.
	secondNoteID = "5ec04d00112233445566778899aabbccddeeff01"
	sectionID    = "303132333435363738393a3b3c3d3e3f4041424344454647" // 24 bytes, section only
)

// elfLib is one test shared object.
type elfLib struct {
	name string
	path string
	// fileID is the build ID in the file (first GNU note): what the file
	// reader must find. kernelID is what PROCMAP_QUERY reports (nil when
	// the kernel reports none: no note, > 20 bytes, section only).
	fileID, kernelID []byte
	probeVaddr       uint64 // st_value of probe_fn (nm)
}

type elfFixtures struct {
	dir                   string
	loader                string
	loaderID              []byte
	mainVaddr, localVaddr uint64
	libs                  map[string]*elfLib
	order                 []string // lib names in loader argument order
}

var elfFix struct {
	once sync.Once
	f    *elfFixtures
	err  error
}

func elfSourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "elf")
}

// needELFFixtures builds the fixtures once per test process (in a
// directory named after the sources' hash, reused by later runs).
func needELFFixtures(tb testing.TB) *elfFixtures {
	tb.Helper()
	elfFix.once.Do(func() { elfFix.f, elfFix.err = buildELFFixtures() })
	if elfFix.err != nil {
		tb.Fatal(elfFix.err)
	}
	return elfFix.f
}

func run(name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out, nil
}

func buildELFFixtures() (*elfFixtures, error) {
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
	f := &elfFixtures{dir: dir, loader: filepath.Join(dir, "loader"), libs: map[string]*elfLib{}}
	var err error
	if f.loaderID, err = readelfBuildID(f.loader); err != nil {
		return nil, err
	}
	if f.mainVaddr, err = nmSymbol(f.loader, "main"); err != nil {
		return nil, err
	}
	if f.localVaddr, err = nmSymbol(f.loader, "local_fn"); err != nil {
		return nil, err
	}
	mustHex := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	for _, l := range []*elfLib{
		{name: "sha1"}, {name: "md5"},
		{name: "long32", fileID: mustHex(long32ID)},
		{name: "none"},
		{name: "section", fileID: mustHex(sectionID)},
		{name: "two", fileID: mustHex(twoNoteID), kernelID: mustHex(secondNoteID)},
	} {
		l.path = filepath.Join(dir, "lib"+l.name+".so")
		if l.name == "sha1" || l.name == "md5" {
			if l.fileID, err = readelfBuildID(l.path); err != nil {
				return nil, err
			}
			if want := map[string]int{"sha1": 20, "md5": 16}[l.name]; len(l.fileID) != want {
				return nil, fmt.Errorf("%s: readelf build ID %x, want %d bytes", l.path, l.fileID, want)
			}
			l.kernelID = l.fileID
		}
		if l.name == "none" {
			if id, _ := readelfBuildID(l.path); id != nil {
				return nil, fmt.Errorf("%s has build ID %x", l.path, id)
			}
		}
		if l.probeVaddr, err = nmSymbol(l.path, "probe_fn"); err != nil {
			return nil, err
		}
		f.libs[l.name] = l
		f.order = append(f.order, l.name)
	}
	return f, nil
}

func compileELFFixtures(src, dir string) error {
	probe := filepath.Join(src, "probe.c")
	so := func(name string, extra ...string) error {
		args := append([]string{"-O2", "-shared", "-fPIC", "-o", filepath.Join(dir, "lib"+name+".so")}, extra...)
		_, err := run("gcc", append(args, probe)...)
		return err
	}
	for _, b := range []struct {
		name  string
		extra []string
	}{
		{"sha1", []string{"-Wl,--build-id=sha1"}},
		{"md5", []string{"-Wl,--build-id=md5"}},
		{"long32", []string{"-Wl,--build-id=0x" + long32ID}},
		{"none", []string{"-Wl,--build-id=none"}},
		{"two", []string{"-DSECOND_NOTE", "-Wl,--build-id=0x" + twoNoteID}},
	} {
		if err := so(b.name, b.extra...); err != nil {
			return err
		}
	}
	// A build ID only in a non-allocated SHT_NOTE section (no PT_NOTE).
	id, _ := hex.DecodeString(sectionID)
	note := binary.LittleEndian.AppendUint32(nil, 4)
	note = binary.LittleEndian.AppendUint32(note, uint32(len(id)))
	note = binary.LittleEndian.AppendUint32(note, 3)
	note = append(append(note, "GNU\x00"...), id...)
	notePath := filepath.Join(dir, "section-note.bin")
	if err := os.WriteFile(notePath, note, 0o644); err != nil {
		return err
	}
	if _, err := run("objcopy", "--add-section", ".note.gnu.build-id="+notePath,
		"--set-section-flags", ".note.gnu.build-id=readonly",
		filepath.Join(dir, "libnone.so"), filepath.Join(dir, "libsection.so")); err != nil {
		return err
	}
	if _, err := run("gcc", "-O2", "-Wall", "-Wl,--build-id=sha1", "-o", filepath.Join(dir, "loader"),
		filepath.Join(src, "loader.c"), "-ldl"); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
}

// readelfBuildID returns the first build ID `readelf -n` prints, or nil.
func readelfBuildID(path string) ([]byte, error) {
	out, err := run("readelf", "-n", path)
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

// nmSymbol returns the value of a defined symbol according to nm.
func nmSymbol(path, sym string) (uint64, error) {
	out, err := run("nm", "--defined-only", path)
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

// loaderProc is a running loader.
type loaderProc struct {
	pid   int
	addrs map[string]uint64 // "main", "lib1", "vdso", ...
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startLoader runs the loader on libs (paths) and waits until it is ready.
// wrap, if not nil, runs it through another command ending in a shell
// script (e.g. unshare ... sh -c 'mount ... && '): "exec LOADER ARGS",
// shell-quoted, is appended to wrap's last element.
func startLoader(tb testing.TB, f *elfFixtures, wrap []string, libs ...string) *loaderProc {
	tb.Helper()
	argv := append([]string{f.loader}, libs...)
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
	p := &loaderProc{addrs: map[string]uint64{}, cmd: cmd, stdin: stdin}
	tb.Cleanup(p.stop)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		switch {
		case len(fl) == 3 && fl[0] == "lib":
			a, _ := strconv.ParseUint(fl[2], 16, 64)
			p.addrs["lib"+fl[1]] = a
		case len(fl) == 2 && fl[0] == "ready":
			p.pid, _ = strconv.Atoi(fl[1])
			go func() { // drain, so the loader never blocks writing
				for sc.Scan() {
				}
			}()
			return p
		case len(fl) == 2:
			a, _ := strconv.ParseUint(fl[1], 16, 64)
			p.addrs[fl[0]] = a
		}
	}
	tb.Fatalf("loader exited before it was ready: %v", cmd.Wait())
	return nil
}

// stop ends the loader and reaps it; safe to call twice.
func (p *loaderProc) stop() {
	if p.cmd == nil {
		return
	}
	p.stdin.Close()
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.cmd = nil
}

// memAt reads n bytes of the target's memory at addr.
func memAt(tb testing.TB, pid int, addr uint64, n int) []byte {
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

// fileAt reads n bytes of a file at off.
func fileAt(tb testing.TB, path string, off uint64, n int) []byte {
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

// copyFile copies src to dst (mode 0755).
func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		tb.Fatal(err)
	}
}
