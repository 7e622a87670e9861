package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/libprocmapq/libprocmapq/core"
)

// flagSet is a command's flags with their help text. Long names take two
// dashes in the help (the flag package accepts one or two); short aliases
// are listed beside their long name.
type flagSet struct {
	*flag.FlagSet
	synopsis    string
	description string
	aliases     map[string]string // long name -> short alias
}

func newFlagSet(name, synopsis, description string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed by fail, help by printHelp
	return &flagSet{FlagSet: fs, synopsis: synopsis, description: description, aliases: map[string]string{}}
}

// alias registers short as another name of the flag long.
func (fs *flagSet) alias(short, long string) {
	fs.Var(fs.Lookup(long).Value, short, "")
	fs.aliases[long] = short
}

func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: procmapq %s\n\n%s\n\nOptions:\n", fs.synopsis, strings.TrimSpace(fs.description))
	isAlias := map[string]bool{}
	for _, s := range fs.aliases {
		isAlias[s] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if isAlias[f.Name] {
			return
		}
		names := "--" + f.Name
		if s, ok := fs.aliases[f.Name]; ok {
			names = "-" + s + ", " + names
		}
		arg, usage := flag.UnquoteUsage(f)
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool && arg != "" {
			names += " " + arg
		}
		fmt.Fprintf(w, "  %-24s %s\n", names, usage)
	})
}

// parse parses args, flags and operands in any order (a "--" ends the
// flags). It returns the operands, or errHelp when help was asked for.
func (fs *flagSet) parse(args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usagef("%s: %v (run 'procmapq %s --help')", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

var errHelp = errors.New("help requested")

// start parses args for a command and handles --help; done is true when
// the command should return code at once.
func (fs *flagSet) start(e *env, args []string) (operands []string, code int, done bool) {
	operands, err := fs.parse(args)
	if err == errHelp {
		fs.printHelp(e.stdout)
		return nil, exitOK, true
	}
	if err != nil {
		return nil, fail(e, err), true
	}
	return operands, 0, false
}

// pidFlag defines -p/--pid, which every command takes.
func (fs *flagSet) pidFlag() *string {
	p := fs.String("pid", "", "target process `PID` (or \"self\")")
	fs.alias("p", "pid")
	return p
}

// fileFlag defines -f/--file, the address input of resolve and bench.
func (fs *flagSet) fileFlag() *string {
	f := fs.String("file", "", "read addresses from `FILE`, one per line (- for stdin)")
	fs.alias("f", "file")
	return f
}

func (fs *flagSet) backendFlag() *string {
	return fs.String("backend", "auto", "`B`: auto, ioctl (PROCMAP_QUERY) or text (/proc/PID/maps)")
}

// parseTarget checks the -p and --backend values.
func parseTarget(pidArg, backendArg string) (int, core.Backend, error) {
	pid, err := parsePid(pidArg)
	if err != nil {
		return 0, 0, err
	}
	b, err := core.ParseBackend(backendArg)
	if err != nil {
		return 0, 0, usagef("invalid --backend %q: want auto, ioctl or text", backendArg)
	}
	return pid, b, nil
}

// parsePid accepts a positive pid or "self" (the tool's own process).
func parsePid(s string) (int, error) {
	if s == "" {
		return 0, usagef("missing -p PID")
	}
	if s == "self" {
		return os.Getpid(), nil
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, usagef("invalid pid %q: want a positive process id or \"self\"", s)
	}
	return pid, nil
}

// noteFallback says on stderr, once per run, that the auto backend will
// read the text because the kernel lacks the ioctl.
func noteFallback(e *env, b core.Backend) {
	if b != core.BackendAuto {
		return
	}
	if ok, err := core.SupportsProcmapQuery(); err == nil && !ok {
		fmt.Fprintf(e.stderr, "procmapq: note: %s; using the text backend\n", notSupportedMsg)
	}
}
