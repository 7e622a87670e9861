package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/libprocmapq/libprocmapq/core"
)

const diffHelp = `
Reads the mappings through both the PROCMAP_QUERY ioctl and the
/proc/PID/maps text and matches them VMA by VMA. Differences the kernel
documents (the [vsyscall] page only the text shows, paths of PATH_MAX bytes
or more, names holding the bytes \012, ...) are listed as expected; any
other difference is a real mismatch. A target that changes meanwhile is
read again, up to 5 times.

With --all every process is compared; processes that exit or cannot be
read during the walk, kernel threads and zombies (no mappings) are counted
and skipped. Progress is shown on stderr when it is a terminal.

Exit status 1 when a real mismatch is found (or, with -p, when the maps
kept changing); needs a kernel with PROCMAP_QUERY (Linux 6.11+).`

func runDiff(e *env, args []string) int {
	fs := newFlagSet("diff", "diff -p PID | --all [-v]", diffHelp)
	pidArg := fs.pidFlag()
	all := fs.Bool("all", false, "compare every process")
	verbose := fs.Bool("verbose", false, "with --all, print every process's report")
	fs.alias("v", "verbose")
	operands, code, done := fs.start(e, args)
	if done {
		return code
	}
	if len(operands) > 0 {
		return fail(e, usagef("diff: unexpected argument %q", operands[0]))
	}
	if *all == (*pidArg != "") {
		return fail(e, usagef("diff: give either -p PID or --all"))
	}
	pid := 0
	if !*all {
		var err error
		if pid, err = parsePid(*pidArg); err != nil {
			return fail(e, err)
		}
	}
	if ok, err := core.SupportsProcmapQuery(); err != nil {
		return fail(e, err)
	} else if !ok {
		fmt.Fprintf(e.stderr, "procmapq: diff compares the ioctl with the text, but %s\n", notSupportedMsg)
		return exitFailure
	}
	if *all {
		return diffAll(e, *verbose)
	}
	return diffOne(e, pid)
}

func diffOne(e *env, pid int) int {
	h, err := core.Open(pid)
	if err != nil {
		return fail(e, err)
	}
	defer h.Close()
	rep, err := h.Compare(nil)
	if rep == nil {
		return fail(e, err)
	}
	printReport(e.stdout, rep, procComm(pid))
	switch {
	case !rep.Settled:
		fmt.Fprintf(e.stderr, "procmapq: pid %d: the maps kept changing over %d attempts; the differences above may be races, not mismatches\n", pid, rep.Attempts)
		return exitFailure
	case len(rep.Mismatches) > 0:
		return exitFailure
	}
	return exitOK
}

// printReport prints expected differences and real mismatches apart.
func printReport(w io.Writer, rep *core.CompareReport, comm string) {
	fmt.Fprintf(w, "pid %d (%s): %d text VMAs, %d ioctl VMAs, %d matched, %d attempt(s)\n",
		rep.Pid, comm, rep.TextVMAs, rep.IoctlVMAs, rep.Matched, rep.Attempts)
	fmt.Fprintf(w, "expected differences: %d\n", len(rep.Expected))
	for i := range rep.Expected {
		fmt.Fprintf(w, "  %s\n", rep.Expected[i].String())
	}
	fmt.Fprintf(w, "real mismatches: %d\n", len(rep.Mismatches))
	for i := range rep.Mismatches {
		fmt.Fprintf(w, "  %s\n", rep.Mismatches[i].String())
	}
}

// walkTally counts what diff --all saw.
type walkTally struct {
	compared, matchedVMAs       int
	expected                    map[string]int // by difference kind
	mismatches, mismatchedProcs int
	kernelThreads, zombies      int
	vanished, unreadable        int
	unsettled                   []int
	errors                      int
}

func diffAll(e *env, verbose bool) int {
	pids, err := listPids()
	if err != nil {
		return fail(e, err)
	}
	t := walkTally{expected: map[string]int{}}
	progress := isTerminal(e.stderr)
	self := os.Getpid()
	for n, pid := range pids {
		if progress {
			fmt.Fprintf(e.stderr, "\r\033[Kdiff --all: %d/%d processes, pid %d", n+1, len(pids), pid)
		}
		if pid == self {
			continue // its own maps change as it compares them
		}
		info, ok := readProcInfo(pid)
		switch {
		case !ok:
			t.vanished++
			continue
		case info.kernelThread:
			t.kernelThreads++
			continue
		case info.zombie:
			t.zombies++
			continue
		}
		rep, err := compareOne(pid)
		switch {
		case errors.Is(err, core.ErrNoProcess), errors.Is(err, core.ErrProcessGone), errors.Is(err, core.ErrPidReused):
			t.vanished++
			continue
		case errors.Is(err, core.ErrPermission):
			t.unreadable++
			continue
		case rep == nil:
			t.errors++
			if progress {
				fmt.Fprint(e.stderr, "\r\033[K")
			}
			fmt.Fprintf(e.stderr, "procmapq: %s\n", describe(err))
			continue
		case !rep.Settled:
			t.unsettled = append(t.unsettled, pid)
			continue
		}
		t.compared++
		t.matchedVMAs += rep.Matched
		for i := range rep.Expected {
			t.expected[rep.Expected[i].Kind.String()]++
		}
		if len(rep.Mismatches) > 0 {
			t.mismatches += len(rep.Mismatches)
			t.mismatchedProcs++
		}
		if verbose || len(rep.Mismatches) > 0 {
			printReport(e.stdout, rep, info.comm)
		}
	}
	if progress {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	printTally(e.stdout, &t)
	if t.mismatches > 0 || t.errors > 0 {
		return exitFailure
	}
	return exitOK
}

func compareOne(pid int) (*core.CompareReport, error) {
	h, err := core.Open(pid)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Compare(nil)
}

func printTally(w io.Writer, t *walkTally) {
	kinds := make([]string, 0, len(t.expected))
	total := 0
	for k, n := range t.expected {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "compared %d processes, %d VMAs matched\n", t.compared, t.matchedVMAs)
	fmt.Fprintf(w, "expected differences: %d", total)
	if len(kinds) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(kinds, ", "))
	}
	fmt.Fprintf(w, "\nreal mismatches: %d in %d processes\n", t.mismatches, t.mismatchedProcs)
	fmt.Fprintf(w, "skipped: %d kernel threads, %d zombies, %d vanished, %d unreadable, %d kept changing",
		t.kernelThreads, t.zombies, t.vanished, t.unreadable, len(t.unsettled))
	if len(t.unsettled) > 0 {
		fmt.Fprintf(w, " (pids %s)", joinInts(t.unsettled))
	}
	fmt.Fprintln(w)
	if t.errors > 0 {
		fmt.Fprintf(w, "errors: %d (see stderr)\n", t.errors)
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}

// listPids returns the pids in /proc, ascending.
func listPids() ([]int, error) {
	ents, err := os.ReadDir(core.DefaultProcRoot)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, ent := range ents {
		if pid, err := strconv.Atoi(ent.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// procInfo is what /proc/PID/stat tells about a process before its maps
// are read.
type procInfo struct {
	comm         string
	kernelThread bool // PF_KTHREAD: no address space, empty maps
	zombie       bool // exited, not reaped: empty maps
}

const pfKthread = 0x00200000 // PF_KTHREAD in include/linux/sched.h

// readProcInfo parses /proc/PID/stat; ok is false when it is gone.
func readProcInfo(pid int) (info procInfo, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", core.DefaultProcRoot, pid))
	if err != nil {
		return info, false
	}
	// "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm
	// may hold spaces and parentheses, so split after the last ')'.
	open, end := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
	if open < 0 || end < open {
		return info, false
	}
	info.comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 7 {
		return info, false
	}
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	info.kernelThread = flags&pfKthread != 0
	info.zombie = f[0] == "Z" || f[0] == "X"
	return info, true
}

func procComm(pid int) string {
	info, _ := readProcInfo(pid)
	return info.comm
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
