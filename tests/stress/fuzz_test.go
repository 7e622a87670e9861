package stress

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// libSO builds a private copy of libprocmapq.so from the working tree, once
// per test process, and returns its directory. Private, so that parallel
// fuzz workers and other engineers' `make lib` never race on build/. It is
// linked by capi/build-lib.sh, the Makefile's recipe, so the fuzzers test
// the artefact that is shipped (its soname and symbol versions).
func libSO(tb testing.TB) string {
	tb.Helper()
	libBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "procmapq-stress-lib-")
		if err != nil {
			libBuild.err = err
			return
		}
		libBuild.dir = dir
		script := filepath.Join(repoRoot(), "capi", "build-lib.sh")
		out, err := exec.Command(script, "-n").Output()
		if err != nil {
			libBuild.err = fmt.Errorf("%s -n: %v", script, err)
			return
		}
		soname := string(bytes.TrimSpace(out))
		if out, err := exec.Command(script, filepath.Join(dir, soname)).CombinedOutput(); err != nil {
			libBuild.err = fmt.Errorf("building the library: %v\n%s", err, out)
			return
		}
		libBuild.err = os.Symlink(soname, filepath.Join(dir, "libprocmapq.so"))
	})
	if libBuild.err != nil {
		tb.Fatal(libBuild.err)
	}
	return libBuild.dir
}

var libBuild struct {
	once sync.Once
	dir  string
	err  error
}

// cabiProgram builds a tests/stress/c program linked against the real
// libprocmapq.so.
func cabiProgram(tb testing.TB, name string, extra ...string) string {
	tb.Helper()
	lib := libSO(tb)
	args := append([]string{"-std=gnu11", "-I" + filepath.Join(repoRoot(), "include"),
		"-I" + filepath.Join(repoRoot(), "tests", "c")}, extra...)
	args = append(args, "-L"+lib, "-lprocmapq", "-Wl,-rpath,"+lib)
	return cProgram(tb, name, args...)
}

// fuzzServer is tests/stress/c/fuzz_cabi.c built as a server: it runs
// each input against the real .so in its own process, so a crash in the
// library fails the input instead of the fuzzing process.
type fuzzServer struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

func startFuzzServer(tb testing.TB, bin string) *fuzzServer {
	tb.Helper()
	s := &fuzzServer{cmd: exec.Command(bin)}
	s.cmd.Stderr = &s.stderr
	var err error
	if s.in, err = s.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	s.out = bufio.NewReader(out)
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// run sends one input; false means the server died on it.
func (s *fuzzServer) run(data []byte) bool {
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(data)))
	if _, err := s.in.Write(append(hdr[:], data...)); err != nil {
		return false
	}
	b, err := s.out.ReadByte()
	return err == nil && b == 'k'
}

func (s *fuzzServer) stop() {
	s.in.Close()
	s.cmd.Wait()
}

// FuzzCABIDecode feeds the C ABI option structs (size fields, flags,
// backends, perms, reserved bits), counts, output capacities and captured
// maps texts decoded from the input to the real libprocmapq.so; the
// harness (tests/stress/c/fuzz_cabi.c) checks every return code and
// answer and aborts on a violation. Seeds: tests/stress/corpus/cabi and
// cabi-found (what libFuzzer found), and testdata/fuzz/FuzzCABIDecode,
// where go test -fuzz writes failing inputs.
func FuzzCABIDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(stressDir(), "corpus", "cabi*", "*"))
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	// Built here, not in the fuzz function: a fuzz worker that takes more
	// than a few seconds on one input (building the library) is killed as
	// hung.
	bin := cabiProgram(f, "fuzz_cabi", "-DFUZZ_SERVER")
	var mu sync.Mutex
	var srv *fuzzServer
	f.Cleanup(func() {
		if srv != nil {
			srv.stop()
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		if srv == nil {
			srv = startFuzzServer(t, bin)
		}
		if !srv.run(data) {
			srv.stop()
			msg := srv.stderr.String()
			srv = nil
			t.Fatalf("the C-ABI harness died on this input:\n%s", msg)
		}
	})
}
