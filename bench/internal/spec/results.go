package spec

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Digest is a contender's "digest" line: what it answered for a workload.
type Digest struct {
	Hash  string
	Found int // addresses that had a VMA (queries)
	VMAs  int // distinct VMAs in the answers (enumerations: all of them)
}

// Run holds the result lines of one or more driver runs.
type Run struct {
	// Samples[workload][contender] are ns per call, pooled over rounds.
	Samples map[string]map[string][]float64
	// Cold[workload][contender] are the first calls of each block, made
	// right after other contenders' work.
	Cold map[string]map[string][]float64
	// Digests[workload][contender] has one digest per driver run (round).
	Digests map[string]map[string][]Digest
	// Info[workload][contender][key], e.g. "strategy" or "allocs".
	Info   map[string]map[string]map[string]string
	Errors []string
	// Notes say what a driver could not run (say, a missing library).
	Notes []string
	// Extras are "extra KEY VALUE" lines (per-call and load costs).
	Extras map[string][]float64
	// Order is the order in which contenders first appeared.
	Order []string
}

// NewRun returns an empty Run.
func NewRun() *Run {
	return &Run{
		Samples: map[string]map[string][]float64{},
		Cold:    map[string]map[string][]float64{},
		Digests: map[string]map[string][]Digest{},
		Info:    map[string]map[string]map[string]string{},
		Extras:  map[string][]float64{},
	}
}

func (r *Run) noteContender(c string) {
	for _, o := range r.Order {
		if o == c {
			return
		}
	}
	r.Order = append(r.Order, c)
}

// Parse adds the result lines a driver printed.
func (r *Run) Parse(driver string, out io.Reader) error {
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "samples", "cold":
			if len(f) < 3 {
				return fmt.Errorf("%s: bad line %q", driver, sc.Text())
			}
			all := r.Samples
			if f[0] == "cold" {
				all = r.Cold
			}
			m := all[f[1]]
			if m == nil {
				m = map[string][]float64{}
				all[f[1]] = m
			}
			for _, s := range f[3:] {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return fmt.Errorf("%s: %q: %v", driver, sc.Text(), err)
				}
				m[f[2]] = append(m[f[2]], v)
			}
			r.noteContender(f[2])
		case "digest":
			if len(f) != 6 {
				return fmt.Errorf("%s: bad line %q", driver, sc.Text())
			}
			found, _ := strconv.Atoi(f[4])
			vmas, _ := strconv.Atoi(f[5])
			d := Digest{Hash: f[3], Found: found, VMAs: vmas}
			m := r.Digests[f[1]]
			if m == nil {
				m = map[string][]Digest{}
				r.Digests[f[1]] = m
			}
			m[f[2]] = append(m[f[2]], d)
		case "info":
			m := r.Info[f[1]]
			if m == nil {
				m = map[string]map[string]string{}
				r.Info[f[1]] = m
			}
			if m[f[2]] == nil {
				m[f[2]] = map[string]string{}
			}
			for _, kv := range f[3:] {
				k, v, _ := strings.Cut(kv, "=")
				m[f[2]][k] = v
			}
		case "extra":
			if len(f) != 3 {
				return fmt.Errorf("%s: bad line %q", driver, sc.Text())
			}
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				return fmt.Errorf("%s: %q: %v", driver, sc.Text(), err)
			}
			r.Extras[f[1]] = append(r.Extras[f[1]], v)
		case "note":
			r.Notes = append(r.Notes, driver+": "+strings.Join(f[1:], " "))
		case "error":
			r.Errors = append(r.Errors, driver+": "+strings.Join(f[1:], " "))
		}
	}
	return sc.Err()
}
