// Command procmapq answers, for a running Linux process, which mapping
// covers an address, at which file offset, in which file with which build
// ID, using the PROCMAP_QUERY ioctl (Linux 6.11+) or the /proc/<pid>/maps
// text. It is a thin front end over package core.
//
//	procmapq resolve -p PID [-f FILE|-] [--backend B] [--build-ids] [--normalize] [--json] [ADDR...]
//	procmapq maps    -p PID [--exec] [--file-backed] [--page-size] [--build-ids] [--backend B] [--json]
//	procmapq diff    -p PID | --all [-v]
//	procmapq bench   -p PID [-f FILE|-] [-n RUNS] [--build-ids] [ADDR...]
//
// Exit codes: 0 success, 1 failure (missing process, permission, a real
// mismatch, ...), 2 usage error (bad flags, malformed or empty input).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand: run gets the arguments after the command name.
type command struct {
	name    string
	summary string
	run     func(env *env, args []string) int
}

var commands = []command{
	{"resolve", "map addresses to mapping, file offset, name and build ID", runResolve},
	{"maps", "print the mappings in the exact format of /proc/PID/maps", runMaps},
	{"diff", "compare the ioctl and text views of one or every process", runDiff},
	{"bench", "time each backend on a batch of addresses", runBench},
}

// env holds the standard streams a command reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func main() {
	os.Exit(run(&env{os.Stdin, os.Stdout, os.Stderr}, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 {
		printTopUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			if c := findCommand(args[1]); c != nil {
				return c.run(e, []string{"--help"})
			}
			fmt.Fprintf(e.stderr, "procmapq: unknown command %q\n", args[1])
			return exitUsage
		}
		printTopUsage(e.stdout)
		return exitOK
	}
	c := findCommand(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "procmapq: unknown command %q (run 'procmapq --help')\n", name)
		return exitUsage
	}
	return c.run(e, args[1:])
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func printTopUsage(w io.Writer) {
	fmt.Fprint(w, `usage: procmapq COMMAND [OPTIONS]

Answers "which mapping covers this address, at which file offset, in which
file with which build ID?" for a running process, with the PROCMAP_QUERY
ioctl (Linux 6.11+) or the /proc/PID/maps text.

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'procmapq COMMAND --help' for the options of a command.
Exit status: 0 success, 1 failure or real mismatch, 2 usage error.
`)
}

// usageError is a mistake in the command line or in the input addresses:
// exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// fail prints err on stderr and returns its exit status.
func fail(e *env, err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "procmapq: %s\n", ue.msg)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "procmapq: %s\n", describe(err))
	return exitFailure
}
