package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/libprocmapq/libprocmapq/core"
)

// benchRow is one backend's row of the bench table.
type benchRow struct {
	syscalls int
	strategy string
}

var benchRowRE = regexp.MustCompile(`(?m)^(text|ioctl|auto) .* (\d+)  (\S.*)$`)

func benchRows(t *testing.T, out string) map[string]benchRow {
	t.Helper()
	rows := map[string]benchRow{}
	for _, m := range benchRowRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		rows[m[1]] = benchRow{n, m[3]}
	}
	return rows
}

// coreSyscalls is what core reports for the batch with a forced backend,
// after one warm-up call (as bench warms up too).
func coreSyscalls(t *testing.T, pid int, addrs []uint64, b core.Backend) (int, string) {
	t.Helper()
	h, err := core.Open(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var res core.Result
	for range 2 {
		if err := h.Query(addrs, &core.Options{Backend: b}, &res); err != nil {
			t.Fatal(err)
		}
	}
	return res.Syscalls, res.Strategy.String()
}

// Bench prints a row per backend with the system calls and strategy core
// reports for the same batch. Times are printed, never checked.
func TestBench(t *testing.T) {
	t.Parallel()
	requireIoctl(t)
	tg := startTarget(t)
	kernel := kernelMaps(t, tg.Pid)
	addrs := probeAddresses(kernel)
	file := filepath.Join(t.TempDir(), "addrs")
	os.WriteFile(file, []byte(strings.Join(hexArgs(addrs), "\n")), 0o644)

	r := runTool(t, "bench", "-p", pidArg(tg.Pid), "-n", "5", "-f", file)
	r.wantCode(t, 0, "bench")
	unique := map[uint64]bool{}
	for _, a := range addrs {
		unique[a] = true
	}
	header := fmt.Sprintf("%d addresses (%d unique), %d VMAs, 5 runs per backend", len(addrs), len(unique), len(kernel))
	if !strings.Contains(r.stdout, header) {
		t.Errorf("bench: no %q in:\n%s", header, r.stdout)
	}
	rows := benchRows(t, r.stdout)
	if len(rows) != 3 {
		t.Fatalf("bench: want rows text, ioctl, auto:\n%s", r.stdout)
	}
	for _, b := range []core.Backend{core.BackendText, core.BackendIoctl} {
		n, strategy := coreSyscalls(t, tg.Pid, addrs, b)
		if got := rows[b.String()]; got.syscalls != n || got.strategy != strategy {
			t.Errorf("bench %s: %d syscalls, strategy %s; core says %d, %s", b, got.syscalls, got.strategy, n, strategy)
		}
	}
	if rows["auto"].strategy == "" || rows["auto"].syscalls == 0 {
		t.Errorf("bench auto: no strategy or syscalls:\n%s", r.stdout)
	}
}

// Without addresses, bench uses the start of every mapping and says so.
func TestBenchDefaultWorkload(t *testing.T) {
	t.Parallel()
	tg := startTarget(t)
	r := runTool(t, "bench", "-p", pidArg(tg.Pid), "-n", "3")
	r.wantCode(t, 0, "bench without addresses")
	n := len(kernelMaps(t, tg.Pid))
	if !strings.Contains(r.stdout, fmt.Sprintf("%d addresses (%d unique), %d VMAs", n, n, n)) ||
		!strings.Contains(r.stderr, fmt.Sprintf("start of each of the %d mappings", n)) {
		t.Errorf("bench without addresses: want %d addresses and a note:\nstdout:\n%s\nstderr:\n%s", n, r.stdout, r.stderr)
	}
}
