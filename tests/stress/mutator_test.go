package stress

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
)

// untouchedMapping is a mapping the mutator made once and never changes.
type untouchedMapping struct {
	Label      string
	Start, End uint64
	Perms      string // "r-xp"
	Offset     uint64
	Name       string // "" for anonymous memory
}

// mutator is a running tests/stress/mutator.c.
type mutator struct {
	Pid       int
	Untouched []untouchedMapping
	Windows   [][2]uint64 // churn windows [start, end)
	// baseline holds the "perms name" pairs of the maps before churn
	// started (read from procfs directly, not through the library);
	// churnPairs those churn may add inside windows.
	baseline   map[string]bool
	churnPairs map[string]bool
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	stdout     *bufio.Scanner
	Ops        uint64 // mutations made, known after stop
}

// anonChurnPerms are the permissions churn gives anonymous memory.
var anonChurnPerms = []string{"---p", "r--p", "rw-p", "r-xp", "rwxp"}

// startMutator runs the mutator with THREADS churn threads (sleeping
// sleepUs after each round), reads its report and the baseline, and lets it
// start churning. It is stopped when the test ends.
func startMutator(tb testing.TB, threads, sleepUs int) *mutator {
	tb.Helper()
	cmd, stdin, stdout, err := testtarget.Spawn(cProgram(tb, "mutator"), "-t", strconv.Itoa(threads), "-s", strconv.Itoa(sleepUs))
	if err != nil {
		tb.Fatal(err)
	}
	m := &mutator{Pid: cmd.Process.Pid, cmd: cmd, stdin: stdin, stdout: stdout,
		baseline: map[string]bool{}, churnPairs: map[string]bool{}}
	tb.Cleanup(func() { m.stop(tb) })
	for _, p := range anonChurnPerms {
		m.churnPairs[p+" "] = true
	}
	for m.stdout.Scan() {
		line := m.stdout.Text()
		f := fields(line)
		switch {
		case len(f) >= 6 && f[0] == "untouched":
			u := untouchedMapping{Label: f[1], Perms: f[4]}
			u.Start, _ = strconv.ParseUint(f[2], 16, 64)
			u.End, _ = strconv.ParseUint(f[3], 16, 64)
			u.Offset, _ = strconv.ParseUint(f[5], 16, 64)
			if len(f) > 6 {
				u.Name = strings.SplitN(line, " ", 7)[6]
			}
			m.Untouched = append(m.Untouched, u)
		case len(f) == 3 && f[0] == "window":
			s, _ := strconv.ParseUint(f[1], 16, 64)
			e, _ := strconv.ParseUint(f[2], 16, 64)
			m.Windows = append(m.Windows, [2]uint64{s, e})
		case len(f) >= 2 && f[0] == "allow":
			m.churnPairs[f[1]+" "+strings.SplitN(line, " ", 3)[2]] = true
		case len(f) == 2 && f[0] == "ready":
			m.readBaseline(tb)
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				tb.Fatal(err)
			}
			return m
		}
	}
	tb.Fatalf("mutator exited before it was ready: %v", cmd.Wait())
	return nil
}

// readBaseline records the perms and names of the quiescent maps, parsed
// here independently of the library: the fifth space after the start of
// the line ends the inode; the name is what follows, without the padding.
func (m *mutator) readBaseline(tb testing.TB) {
	tb.Helper()
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", m.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		f := strings.SplitN(line, " ", 6)
		if len(f) < 5 {
			tb.Fatalf("baseline: bad maps line %q", line)
		}
		name := ""
		if len(f) == 6 {
			name = strings.TrimLeft(f[5], " ")
		}
		m.baseline[f[1]+" "+strings.ReplaceAll(name, `\012`, "\n")] = true
	}
}

// inWindow reports whether [start, end) overlaps a churn window.
func (m *mutator) inWindow(start, end uint64) bool {
	for _, w := range m.Windows {
		if start < w[1] && end > w[0] {
			return true
		}
	}
	return false
}

// stop ends the mutator and records how many mutations it made.
func (m *mutator) stop(tb testing.TB) {
	if m.cmd == nil {
		return
	}
	io.WriteString(m.stdin, "exit\n")
	m.stdin.Close()
	for m.stdout.Scan() {
		if f := fields(m.stdout.Text()); len(f) == 2 && f[0] == "ops" {
			m.Ops, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	done := make(chan error, 1)
	go func() { done <- m.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("mutator %d: %v", m.Pid, err)
		}
	case <-time.After(60 * time.Second): // only a hang gets here, even on a loaded machine
		m.cmd.Process.Kill()
		<-done
		tb.Errorf("mutator %d did not stop", m.Pid)
	}
	m.cmd = nil
}
