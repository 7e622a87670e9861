// Package spec is the contract between the benchmark orchestrator
// (cmd/benchrun) and its drivers (c/driver.c, cmd/gobench, py/pybench.py):
// the workload lines they read, the result lines they print, and the
// digest of answers that lets the orchestrator check that every contender
// agreed.
package spec

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Kind is what one call of a workload does.
type Kind string

const (
	KindQuery    Kind = "query"    // resolve a sorted batch of addresses
	KindSingle   Kind = "single"   // one address per call, cycling through the list
	KindEnum     Kind = "enum"     // list all VMAs or executable ones
	KindBlazesym Kind = "blazesym" // the driver's own process, five addresses it picks
	// KindParse parses a captured maps text (Arg names its file; drivers
	// load it before timing): no kernel, no handle on a process. Its
	// answers are an enumeration's (every VMA, the gate page left out).
	KindParse Kind = "parse"
)

// Workload is one "workload" line of a spec.
type Workload struct {
	Name     string
	Kind     Kind
	Pid      int  // 0 = the driver's own process
	OpenEach bool // open, query and close in every call (else a kept handle)
	Iters    int  // at most this many timed calls per contender
	BudgetMs int  // stop after this long once 5 calls are done
	Arg      string
	// Addrs is loaded from Arg for query and single workloads.
	Addrs []uint64
	// Text is loaded from Arg for parse workloads.
	Text []byte
}

// ExecOnly reports whether an enumeration keeps only executable VMAs.
func (w *Workload) ExecOnly() bool { return w.Arg == "exec" }

// Line formats w as a spec line.
func (w *Workload) Line() string {
	mode := "kept"
	if w.OpenEach {
		mode = "open"
	}
	arg := w.Arg
	if arg == "" {
		arg = "-"
	}
	return fmt.Sprintf("workload %s %s %d %s %d %d %s", w.Name, w.Kind, w.Pid, mode, w.Iters, w.BudgetMs, arg)
}

// Spec is a parsed spec file.
type Spec struct {
	Lib string // libprocmapq.so for the C and Python drivers; "" = none
	// Contenders, if not empty, are the only contenders to run.
	Contenders []string
	Workloads  []*Workload
}

// Read parses a spec file and loads the address files it names.
func Read(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &Spec{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 2 && fs[0] == "lib":
			s.Lib = fs[1]
		case len(fs) == 2 && fs[0] == "contenders":
			s.Contenders = strings.Split(fs[1], ",")
		case len(fs) == 8 && fs[0] == "workload":
			w := &Workload{Name: fs[1], Kind: Kind(fs[2]), OpenEach: fs[4] == "open", Arg: fs[7]}
			var errs [3]error
			w.Pid, errs[0] = strconv.Atoi(fs[3])
			w.Iters, errs[1] = strconv.Atoi(fs[5])
			w.BudgetMs, errs[2] = strconv.Atoi(fs[6])
			for _, e := range errs {
				if e != nil {
					return nil, fmt.Errorf("%s: %q: %v", path, sc.Text(), e)
				}
			}
			switch w.Kind {
			case KindQuery, KindSingle:
				if w.Addrs, err = ReadAddrs(w.Arg); err != nil {
					return nil, err
				}
			case KindParse:
				if w.Text, err = os.ReadFile(w.Arg); err != nil {
					return nil, err
				}
			}
			s.Workloads = append(s.Workloads, w)
		case len(fs) == 0 || strings.HasPrefix(fs[0], "#"):
		default:
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
	}
	return s, sc.Err()
}

// ReadAddrs reads a file of hex addresses, one per line.
func ReadAddrs(path string) ([]uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var addrs []uint64
	for _, f := range strings.Fields(string(data)) {
		a, err := strconv.ParseUint(strings.TrimPrefix(f, "0x"), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// WriteAddrs writes addrs as hex, one per line.
func WriteAddrs(path string, addrs []uint64) error {
	var b strings.Builder
	for _, a := range addrs {
		b.WriteString(strconv.FormatUint(a, 16))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// Write writes a spec file.
func (s *Spec) Write(w io.Writer) error {
	var b strings.Builder
	if s.Lib != "" {
		fmt.Fprintf(&b, "lib %s\n", s.Lib)
	}
	if len(s.Contenders) > 0 {
		fmt.Fprintf(&b, "contenders %s\n", strings.Join(s.Contenders, ","))
	}
	for _, wl := range s.Workloads {
		b.WriteString(wl.Line())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
