// Package testtarget builds and runs tests/target/target.c, a process with
// chosen real mappings, for the Go tests and benchmarks of this module.
package testtarget

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Mapping is one mapping the target reported making.
type Mapping struct {
	Label      string
	Start, End uint64
}

// Target is a running target process.
type Target struct {
	Pid      int
	Mappings []Mapping
	// MapsFD is the target's own fd on /proc/self/maps (Options.OpenMapsFD),
	// -1 otherwise.
	MapsFD int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // stdout lines after "ready"
}

// Options choose the target's mappings (the flags of target.c).
type Options struct {
	VMAs     int  // -n: extra one-page anonymous VMAs
	Modules  int  // -m: r-x file-backed "modules"
	Specials bool // -f: the special mappings of differential tests
	// OpenMapsFD (-o) makes the target open /proc/self/maps and keep it
	// open; its number is in Target.MapsFD.
	OpenMapsFD bool
	// Dir (-d) is where the target creates its files (a new directory in
	// /tmp by default); it is removed when the target exits. Benchmarks
	// with many modules put it on tmpfs, where creating them is fast.
	Dir string
}

var build struct {
	once sync.Once
	path string
	err  error
}

// sourceDir is tests/target relative to this file.
func sourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "tests", "target")
}

// gccArgs are the flags target.c is built with (part of the cache key).
var gccArgs = []string{"-O2", "-Wall", "-pthread"}

// Binary compiles target.c and returns its path. The binary is cached in
// the temporary directory under a hash of the source and flags, so test
// processes (fuzz workers, re-executed helpers) share one build and leave
// no directory behind each.
func Binary() (string, error) {
	build.once.Do(func() {
		src := filepath.Join(sourceDir(), "target.c")
		code, err := os.ReadFile(src)
		if err != nil {
			build.err = err
			return
		}
		sum := sha256.Sum256(append(code, strings.Join(gccArgs, " ")...))
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("procmapq-target-bin-%x-%d", sum[:8], os.Getuid()))
		build.path = filepath.Join(dir, "target")
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			build.err = err
			return
		}
		// Trust a cached binary only in a directory of ours that nobody
		// else may write to.
		var st syscall.Stat_t
		if err := syscall.Lstat(dir, &st); err != nil || st.Uid != uint32(os.Getuid()) ||
			st.Mode&syscall.S_IFMT != syscall.S_IFDIR || st.Mode&0o022 != 0 {
			build.err = fmt.Errorf("%s: not a private directory of uid %d", dir, os.Getuid())
			return
		}
		if _, err := os.Stat(build.path); err == nil {
			return
		}
		// Build beside it and rename, so a concurrent process never runs a
		// half-written binary.
		tmp := fmt.Sprintf("%s.%d.tmp", build.path, os.Getpid())
		out, err := exec.Command("gcc", append(gccArgs, "-o", tmp, src)...).CombinedOutput()
		if err == nil {
			err = os.Rename(tmp, build.path)
		}
		if err != nil {
			os.Remove(tmp)
			build.err = fmt.Errorf("building target.c: %v\n%s", err, out)
		}
	})
	return build.path, build.err
}

// Start runs a target and waits until it is ready. The target is stopped
// when the test ends.
//
// Unless opts.Dir is set, its files go in a test temporary directory, which
// the testing package removes even if the target is killed before its own
// cleanup runs.
func Start(tb testing.TB, opts Options) *Target {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(tb.TempDir(), "files")
	}
	t, err := StartProcess(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(t.Stop)
	return t
}

// StartProcess is Start without a testing.TB; the caller must call Stop.
func StartProcess(opts Options) (*Target, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var args []string
	if opts.VMAs > 0 {
		args = append(args, "-n", strconv.Itoa(opts.VMAs))
	}
	if opts.Modules > 0 {
		args = append(args, "-m", strconv.Itoa(opts.Modules))
	}
	if opts.Specials {
		args = append(args, "-f")
	}
	if opts.OpenMapsFD {
		args = append(args, "-o")
	}
	if opts.Dir != "" {
		args = append(args, "-d", opts.Dir)
	}
	cmd, stdin, stdout, err := Spawn(append([]string{bin}, args...)...)
	if err != nil {
		return nil, err
	}
	t := &Target{Pid: cmd.Process.Pid, MapsFD: -1, cmd: cmd, stdin: stdin}
	sc := stdout
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 4 && f[0] == "map":
			s, err1 := strconv.ParseUint(f[2], 16, 64)
			e, err2 := strconv.ParseUint(f[3], 16, 64)
			if err1 != nil || err2 != nil {
				t.Stop()
				return nil, fmt.Errorf("target: bad line %q", sc.Text())
			}
			t.Mappings = append(t.Mappings, Mapping{f[1], s, e})
		case len(f) == 2 && f[0] == "mapsfd":
			fd, err := strconv.Atoi(f[1])
			if err != nil {
				t.Stop()
				return nil, fmt.Errorf("target: bad line %q", sc.Text())
			}
			t.MapsFD = fd
		case len(f) == 2 && f[0] == "ready":
			t.lines = make(chan string, 16)
			go func() {
				for sc.Scan() {
					select {
					case t.lines <- sc.Text():
					default: // nobody waits for it
					}
				}
				close(t.lines)
			}()
			return t, nil
		}
	}
	t.Stop()
	return nil, fmt.Errorf("target exited before it was ready: %v", cmd.Wait())
}

// Spawn starts argv with pipes to its stdin and from its stdout (its
// stderr is ours): the shape of every helper process the tests talk to.
// The caller owns the process (Wait, or Kill then Wait).
func Spawn(argv ...string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdin.Close()
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdin, bufio.NewScanner(stdout), nil
}

// Mapping returns the mapping with that label, or false.
func (t *Target) Mapping(label string) (Mapping, bool) {
	for _, m := range t.Mappings {
		if m.Label == label {
			return m, true
		}
	}
	return Mapping{}, false
}

// LeaderExit makes the target's main thread (the thread-group leader) exit
// while another thread keeps the process alive, and waits until the leader
// is a zombie. It returns the live thread's id. /proc/PID/maps then reads
// empty although the process and its mappings are alive.
func (t *Target) LeaderExit() (int, error) {
	if t.cmd == nil {
		return 0, fmt.Errorf("target %d: already stopped", t.Pid)
	}
	if _, err := io.WriteString(t.stdin, "leaderexit\n"); err != nil {
		return 0, err
	}
	timeout := timeAfter()
	for {
		select {
		case line, ok := <-t.lines:
			if !ok {
				return 0, fmt.Errorf("target %d ended after its leader exited", t.Pid)
			}
			if tid, ok := strings.CutPrefix(line, "leaderless "); ok {
				return strconv.Atoi(tid)
			}
		case <-timeout:
			return 0, fmt.Errorf("target %d: no leaderless line", t.Pid)
		}
	}
}

// Exec makes the target exec itself with no options (same pid, a fresh
// address space without the mappings it made) and waits until the new
// image is ready. Mappings and MapsFD are cleared.
func (t *Target) Exec() error {
	if t.cmd == nil {
		return fmt.Errorf("target %d: already stopped", t.Pid)
	}
	if _, err := io.WriteString(t.stdin, "exec\n"); err != nil {
		return err
	}
	timeout := timeAfter()
	for {
		select {
		case line, ok := <-t.lines:
			if !ok {
				return fmt.Errorf("target %d ended during exec", t.Pid)
			}
			if strings.HasPrefix(line, "ready ") {
				t.Mappings, t.MapsFD = nil, -1
				return nil
			}
		case <-timeout:
			return fmt.Errorf("target %d: no ready line after exec", t.Pid)
		}
	}
}

// Stop ends the target and reaps it. It is safe to call more than once.
func (t *Target) Stop() {
	if t.cmd == nil {
		return
	}
	t.stdin.Close()
	done := make(chan struct{})
	go func() { t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-timeAfter():
		t.cmd.Process.Kill()
		<-done
	}
	t.cmd = nil
}
