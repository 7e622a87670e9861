package main

// The tests run the built binary on live target processes and check its
// output against the kernel's own /proc/PID/maps file, read and parsed here
// independently, or against package core queried directly.

import (
	"bytes"
	"debug/elf"
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
	"syscall"
	"testing"

	"github.com/libprocmapq/libprocmapq/core"
	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// toolPath is the binary built by TestMain, in a directory every user can
// read so that it can also run as nobody.
var toolPath string

// haveIoctl reports whether the tool, run from this process, can use
// PROCMAP_QUERY; it fails the test when the ioctl is missing but required
// (PROCMAPQ_REQUIRE_IOCTL=1, see testtarget.CheckIoctl). The tool inherits
// this process's environment and seccomp filter, so core's probe here
// answers for it.
func haveIoctl(t *testing.T) bool {
	t.Helper()
	ok, err := core.SupportsProcmapQuery()
	return testtarget.CheckIoctl(t, ok, err)
}

// requireIoctl skips a test of the ioctl (forced backend, diff, kernel
// page sizes and build IDs) without it, or fails it when it is required.
func requireIoctl(t *testing.T) {
	t.Helper()
	ok, err := core.SupportsProcmapQuery()
	testtarget.SkipWithoutIoctl(t, ok, err)
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "procmapq-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	toolPath = filepath.Join(dir, "procmapq")
	gobin, err := exec.LookPath("go") // go test puts its own go first in PATH
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(gobin, "build", "-o", toolPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building procmapq: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// toolRun is how to run the tool: extra environment, stdin, a user.
type toolRun struct {
	env   []string
	stdin string
	uid   int // 0: as the test runs
}

type toolResult struct {
	stdout, stderr string
	code           int
}

func runTool(t *testing.T, args ...string) toolResult {
	t.Helper()
	return toolRun{}.run(t, args...)
}

func (r toolRun) run(t *testing.T, args ...string) toolResult {
	t.Helper()
	cmd := exec.Command(toolPath, args...)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Stdin = strings.NewReader(r.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if r.uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.uid)}}
	}
	err := cmd.Run()
	res := toolResult{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running procmapq %v: %v", args, err)
		}
		res.code = ee.ExitCode()
	}
	if strings.Contains(res.stderr, "panic:") || strings.Contains(res.stderr, "goroutine ") {
		t.Fatalf("procmapq %v crashed:\n%s", args, res.stderr)
	}
	return res
}

// wantCode fails the test unless the tool exited with code.
func (r toolResult) wantCode(t *testing.T, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
}

// startTarget runs tests/target with every special mapping, modules and
// extra VMAs.
func startTarget(t *testing.T) *testtarget.Target {
	t.Helper()
	return testtarget.Start(t, testtarget.Options{VMAs: 40, Modules: 2, Specials: true})
}

func pidArg(pid int) string { return strconv.Itoa(pid) }

// mapsLine is one line of the kernel's maps file as this test reads it.
type mapsLine struct {
	text       string // the whole line, without the newline
	rangeText  string // "start-end" as printed
	start, end uint64
	perms      string
	offset     uint64
	name       string // as printed: a newline is \012
}

// kernelMaps reads and parses /proc/PID/maps. Names are absolute paths or
// [...], so the padding before them is all spaces and never part of them.
func kernelMaps(t *testing.T, pid int) []mapsLine {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pidArg(pid) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	var lines []mapsLine
	for _, text := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.SplitN(text, " ", 6)
		if len(f) != 6 {
			t.Fatalf("unexpected maps line %q", text)
		}
		se := strings.SplitN(f[0], "-", 2)
		start, err1 := strconv.ParseUint(se[0], 16, 64)
		end, err2 := strconv.ParseUint(se[1], 16, 64)
		off, err3 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("unexpected maps line %q", text)
		}
		lines = append(lines, mapsLine{text: text, rangeText: f[0], start: start, end: end,
			perms: f[1], offset: off, name: strings.TrimLeft(f[5], " ")})
	}
	return lines
}

// longName reports whether the ioctl cannot return this name (PATH_MAX).
func (l *mapsLine) longName() bool { return len(l.name) >= 4095 }

// ioctlView is what the ioctl backend shows of the kernel's lines: no
// [vsyscall], and no name for paths of PATH_MAX bytes or more (the line
// then ends after the inode and one space, like an unnamed one).
func ioctlView(lines []mapsLine) []mapsLine {
	var out []mapsLine
	for _, l := range lines {
		if l.name == "[vsyscall]" {
			continue
		}
		if l.longName() {
			l.text = strings.Join(strings.SplitN(l.text, " ", 6)[:5], " ") + " "
			l.name = ""
		}
		out = append(out, l)
	}
	return out
}

func texts(lines []mapsLine) []string {
	s := make([]string, len(lines))
	for i := range lines {
		s[i] = lines[i].text
	}
	return s
}

func outputLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// compareLines reports the first differing line of two listings.
func compareLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			g, w = shorten(g), shorten(w)
			t.Fatalf("%s: line %d differs (%d lines, want %d)\n got: %q\nwant: %q", what, i+1, len(got), len(want), g, w)
		}
	}
}

// shorten keeps test failures readable when a line holds a 4 KiB path.
func shorten(s string) string {
	if len(s) > 300 {
		return s[:150] + "..." + s[len(s)-150:]
	}
	return s
}

// elfBuildID reads the GNU build ID of an ELF file from its
// .note.gnu.build-id section; "" when it has none.
func elfBuildID(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		return ""
	}
	data, err := s.Data()
	if err != nil || len(data) < 16 {
		t.Fatalf("%s: bad build-ID note", path)
	}
	namesz := binary.LittleEndian.Uint32(data[0:])
	descsz := binary.LittleEndian.Uint32(data[4:])
	desc := 12 + (namesz+3)&^3
	return hex.EncodeToString(data[desc : desc+descsz])
}

// vdsoBuildID reads the target's vDSO image from /proc/PID/mem and returns
// its build ID, as debug/elf finds it.
func vdsoBuildID(t *testing.T, pid int, start, end uint64) string {
	t.Helper()
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	image := make([]byte, end-start)
	if _, err := mem.ReadAt(image, int64(start)); err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(image))
	if err != nil {
		t.Fatal(err)
	}
	// The vDSO's note section is not named .note.gnu.build-id: walk its
	// PT_NOTE segments.
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data, err := io.ReadAll(p.Open())
		if err != nil {
			t.Fatal(err)
		}
		for len(data) >= 12 {
			namesz := binary.LittleEndian.Uint32(data[0:])
			descsz := binary.LittleEndian.Uint32(data[4:])
			typ := binary.LittleEndian.Uint32(data[8:])
			desc := 12 + (namesz+3)&^3
			next := desc + (descsz+3)&^3
			if uint32(len(data)) < desc+descsz {
				break
			}
			if typ == 3 && string(data[12:12+namesz]) == "GNU\x00" {
				return hex.EncodeToString(data[desc : desc+descsz])
			}
			if uint32(len(data)) < next {
				break
			}
			data = data[next:]
		}
	}
	return ""
}
