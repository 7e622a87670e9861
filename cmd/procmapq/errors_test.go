package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goneChildPid returns the pid of a child that has exited and been reaped.
func goneChildPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// wantStderr checks the exit code and that stderr has every fragment.
func (r toolResult) wantError(t *testing.T, code int, what string, fragments ...string) {
	t.Helper()
	r.wantCode(t, code, what)
	for _, f := range fragments {
		if !strings.Contains(r.stderr, f) {
			t.Errorf("%s: stderr %q lacks %q", what, r.stderr, f)
		}
	}
	if r.code != 0 && r.stdout != "" && code == exitUsage {
		t.Errorf("%s: a usage error printed on stdout: %q", what, r.stdout)
	}
}

func TestMissingProcess(t *testing.T) {
	t.Parallel()
	pid := pidArg(goneChildPid(t))
	for _, args := range [][]string{
		{"resolve", "-p", pid, "0x1000"},
		{"maps", "-p", pid},
		{"diff", "-p", pid},
		{"bench", "-p", pid, "-n", "1"},
	} {
		if args[0] == "diff" && !haveIoctl(t) {
			continue // diff needs the ioctl before it looks at the pid
		}
		runTool(t, args...).wantError(t, exitFailure, strings.Join(args, " "), "pid "+pid+": no such process")
	}
}

// As nobody, a root-owned target's maps cannot be read.
func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the tool as another user")
	}
	tg := startTarget(t)
	pid := pidArg(tg.Pid)
	nobody := toolRun{uid: 65534}
	for _, args := range [][]string{
		{"resolve", "-p", pid, "0x1000"},
		{"maps", "-p", pid},
		{"diff", "-p", pid},
	} {
		if args[0] == "diff" && !haveIoctl(t) {
			continue // diff needs the ioctl before it looks at the pid
		}
		nobody.run(t, args...).wantError(t, exitFailure, "as nobody: "+strings.Join(args, " "),
			"pid "+pid+": permission denied", "/proc/"+pid+"/maps")
	}
}

// PROCMAPQ_FORCE_PROBE=0 makes core act as on a kernel before 6.11.
func TestKernelWithoutIoctl(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	pid := pidArg(tg.Pid)
	old := toolRun{env: []string{"PROCMAPQ_FORCE_PROBE=0"}}

	r := old.run(t, "resolve", "-p", pid, "--backend", "ioctl", "0x1000")
	r.wantError(t, exitFailure, "resolve --backend ioctl", "pid "+pid+":", "PROCMAP_QUERY", "Linux 6.11", "--backend text")
	if r.stdout != "" {
		t.Errorf("resolve --backend ioctl printed results: %q", r.stdout)
	}
	old.run(t, "maps", "-p", pid, "--backend", "ioctl").wantError(t, exitFailure, "maps --backend ioctl", "pid "+pid+":", "PROCMAP_QUERY")
	old.run(t, "diff", "-p", pid).wantError(t, exitFailure, "diff -p", "PROCMAP_QUERY", "Linux 6.11")

	// Auto says once what it does instead, and answers.
	kernel := kernelMaps(t, tg.Pid)
	r = old.run(t, append([]string{"resolve", "-p", pid}, hexArgs([]uint64{kernel[0].start, 0x10})...)...)
	r.wantCode(t, 0, "resolve, auto, without the ioctl")
	compareLines(t, "resolve without the ioctl", outputLines(r.stdout), wantResolvedLines(kernel, []uint64{kernel[0].start, 0x10}))
	if n := strings.Count(r.stderr, "using the text backend"); n != 1 {
		t.Errorf("want one note about the text fallback, got %q", r.stderr)
	}

	r = old.run(t, "bench", "-p", pid, "-n", "2")
	r.wantCode(t, 0, "bench without the ioctl")
	if strings.Contains(r.stdout, "\nioctl ") || !strings.Contains(r.stderr, "ioctl backend is skipped") {
		t.Errorf("bench without the ioctl: want no ioctl row and a note:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

func TestMalformedAndEmptyInput(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	pid := pidArg(tg.Pid)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("0x1000\n# comment\n0x12g4\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	cases := []struct {
		name      string
		run       toolRun
		args      []string
		fragments []string
	}{
		{"bad argument", toolRun{}, []string{"resolve", "-p", pid, "0x10", "0xzz"}, []string{"argument 2", `"0xzz"`}},
		{"bare 0x", toolRun{}, []string{"resolve", "-p", pid, "0x"}, []string{"argument 1", "no hex digits"}},
		{"too big", toolRun{}, []string{"resolve", "-p", pid, "0x1ffffffffffffffff"}, []string{"argument 1", "64 bits"}},
		{"bad file line", toolRun{}, []string{"resolve", "-p", pid, "-f", bad}, []string{bad + ":3", `"0x12g4"`}},
		{"bad stdin line", toolRun{stdin: "10\n\nxyz\n"}, []string{"resolve", "-p", pid, "-f", "-"}, []string{"stdin:3", `"xyz"`}},
		{"bench bad line", toolRun{}, []string{"bench", "-p", pid, "-f", bad}, []string{bad + ":3"}},
		{"empty file", toolRun{}, []string{"resolve", "-p", pid, "-f", empty}, []string{empty + ": no addresses (empty input)"}},
		{"only comments", toolRun{stdin: "# nothing\n\n"}, []string{"resolve", "-p", pid, "-f", "-"}, []string{"stdin: no addresses (empty input)"}},
		{"no addresses", toolRun{}, []string{"resolve", "-p", pid}, []string{"no addresses"}},
		{"missing file", toolRun{}, []string{"resolve", "-p", pid, "-f", filepath.Join(dir, "nope")}, []string{"nope"}},
		{"file and arguments", toolRun{}, []string{"resolve", "-p", pid, "-f", bad, "0x10"}, []string{"not both"}},
	}
	for _, c := range cases {
		c.run.run(t, c.args...).wantError(t, exitUsage, c.name, c.fragments...)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args      []string
		fragments []string
	}{
		{nil, []string{"usage: procmapq COMMAND"}},
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`}},
		{[]string{"maps"}, []string{"missing -p PID"}},
		{[]string{"maps", "-p", "abc"}, []string{`invalid pid "abc"`}},
		{[]string{"maps", "-p", "0"}, []string{`invalid pid "0"`}},
		{[]string{"maps", "-p", "-5"}, []string{`invalid pid "-5"`}},
		{[]string{"maps", "-p", "self", "--backend", "fast"}, []string{`invalid --backend "fast"`}},
		{[]string{"maps", "-p", "self", "--bogus"}, []string{"not defined: -bogus", "maps --help"}},
		{[]string{"maps", "-p", "self", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"diff"}, []string{"either -p PID or --all"}},
		{[]string{"diff", "-p", "1", "--all"}, []string{"either -p PID or --all"}},
		{[]string{"bench", "-p", "self", "-n", "-1"}, []string{"invalid -n -1"}},
		{[]string{"help", "nothing"}, []string{`unknown command "nothing"`}},
	}
	for _, c := range cases {
		runTool(t, c.args...).wantError(t, exitUsage, "procmapq "+strings.Join(c.args, " "), c.fragments...)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}, {"resolve", "--help"}, {"help", "maps"}, {"diff", "-h"}, {"bench", "--help"}} {
		r := runTool(t, args...)
		r.wantCode(t, 0, strings.Join(args, " "))
		if !strings.HasPrefix(r.stdout, "usage: procmapq ") || r.stderr != "" {
			t.Errorf("%v: want usage on stdout only, got stdout %q stderr %q", args, shorten(r.stdout), r.stderr)
		}
	}
}

// A zombie (exited, not reaped) and a kernel thread have no mappings: each
// address says process-gone and the error says why.
func TestProcessWithoutMappings(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	cmd.Process.Kill()
	zombie := pidArg(cmd.Process.Pid)
	// Until the kill has landed: state Z (a deadline, not a count of
	// sleeps, so a loaded machine only makes it slower).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile("/proc/" + zombie + "/stat"); strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %s did not become a zombie in 30 s", zombie)
		}
	}
	pids := []string{zombie}
	if comm, _ := os.ReadFile("/proc/2/comm"); string(comm) == "kthreadd\n" {
		pids = append(pids, "2")
	}
	for _, pid := range pids {
		r := runTool(t, "resolve", "-p", pid, "0x1000", "0x2000")
		r.wantError(t, exitFailure, "resolve -p "+pid, "pid "+pid+": the process has no mappings")
		if r.stdout != "0x1000 unresolved process-gone\n0x2000 unresolved process-gone\n" {
			t.Errorf("resolve -p %s: stdout %q, want both addresses process-gone", pid, r.stdout)
		}
		runTool(t, "maps", "-p", pid).wantError(t, exitFailure, "maps -p "+pid, "pid "+pid+": the process has no mappings")
	}
}
