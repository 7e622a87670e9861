package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/libprocmapq/libprocmapq/bench/internal/spec"
	"github.com/libprocmapq/libprocmapq/core"
	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

type backendChoice int

const (
	backendIoctl backendChoice = iota
	backendText
	backendAuto
)

// coreContender is libprocmapq's Go core with one backend and a kept
// handle (or one per call).
type coreContender struct {
	label string
	opts  core.Options
	h     *core.Handle
	res   core.Result
}

func newCoreContender(label string, b backendChoice) *coreContender {
	c := &coreContender{label: label, opts: core.Options{Sorted: true}}
	c.opts.Backend = map[backendChoice]core.Backend{
		backendIoctl: core.BackendIoctl, backendText: core.BackendText, backendAuto: core.BackendAuto,
	}[b]
	return c
}

func (c *coreContender) name() string { return c.label }

func (c *coreContender) open(pid int) (err error) {
	c.h, err = core.Open(pid)
	return err
}

func (c *coreContender) close() {
	if c.h != nil {
		c.h.Close()
		c.h = nil
	}
}

func (c *coreContender) query(addrs []uint64) error {
	o := c.opts
	o.Filter = core.Filter{}
	return c.h.Query(addrs, &o, &c.res)
}

func (c *coreContender) enumerate(execOnly bool) error {
	o := c.opts
	if execOnly {
		o.Filter = core.Filter{Perms: core.PermExec}
	}
	return c.h.Enumerate(&o, &c.res)
}

func coreVMA(v *core.VMA) spec.VMA {
	return spec.VMA{Start: v.Start, End: v.End, Offset: v.Offset, Inode: v.Inode,
		Major: v.DevMajor, Minor: v.DevMinor, Perms: uint32(v.Perms), Name: v.Name}
}

func (c *coreContender) digestQuery(h uint64, n int) (uint64, int) {
	found := 0
	for i := range n {
		v, reason := c.res.Found(i)
		if reason != core.ReasonFound {
			h = spec.MixMissing(h)
			continue
		}
		found++
		sv := coreVMA(v)
		h = spec.MixVMA(h, &sv)
	}
	return h, found
}

func (c *coreContender) digestEnum() (uint64, int) {
	h, n := spec.DigestSeed, 0
	for i := range c.res.VMAs {
		if c.res.VMAs[i].Start >= spec.GateStart {
			continue
		}
		sv := coreVMA(&c.res.VMAs[i])
		h = spec.MixVMA(h, &sv)
		n++
	}
	return h, n
}

func (c *coreContender) distinct() int { return len(c.res.VMAs) }

func (c *coreContender) strategy() string { return c.res.Strategy.String() }

// procfsContender is prometheus/procfs: ProcMaps() parses the whole file
// into []*ProcMap on every call; addresses are then matched by a walk.
type procfsContender struct {
	pid   int
	proc  procfs.Proc
	maps  []*procfs.ProcMap
	found []int32 // per address: index into maps, -1 = none
	vmas  int
	// fakeRoot is the procfs root made for parse workloads.
	fakeRoot string
}

func (c *procfsContender) name() string { return "go-procfs" }

func (c *procfsContender) open(pid int) (err error) {
	if pid == 0 {
		pid = os.Getpid()
	}
	c.pid = pid
	c.proc, err = procfs.NewProc(pid)
	return err
}

func (c *procfsContender) close() {}

func (c *procfsContender) query(addrs []uint64) error {
	maps, err := c.proc.ProcMaps()
	if err != nil {
		return err
	}
	c.maps = maps
	if cap(c.found) < len(addrs) {
		c.found = make([]int32, len(addrs))
	}
	c.found = c.found[:len(addrs)]
	c.vmas = 0
	j := 0
	last := -1
	for i, a := range addrs {
		for j < len(maps) && uint64(maps[j].EndAddr) <= a {
			j++
		}
		c.found[i] = -1
		if j < len(maps) && uint64(maps[j].StartAddr) <= a {
			c.found[i] = int32(j)
			if j != last {
				c.vmas, last = c.vmas+1, j
			}
		}
	}
	return nil
}

func (c *procfsContender) enumerate(execOnly bool) error {
	maps, err := c.proc.ProcMaps()
	if err != nil {
		return err
	}
	c.maps = c.maps[:0]
	for _, m := range maps {
		if !execOnly || m.Perms.Execute {
			c.maps = append(c.maps, m)
		}
	}
	return nil
}

func procfsVMA(m *procfs.ProcMap) spec.VMA {
	var perms uint32
	for bit, ok := range map[uint32]bool{1: m.Perms.Read, 2: m.Perms.Write, 4: m.Perms.Execute, 8: m.Perms.Shared} {
		if ok {
			perms |= bit
		}
	}
	return spec.VMA{Start: uint64(m.StartAddr), End: uint64(m.EndAddr), Offset: uint64(m.Offset),
		Inode: m.Inode, Major: unix.Major(m.Dev), Minor: unix.Minor(m.Dev), Perms: perms, Name: []byte(m.Pathname)}
}

func (c *procfsContender) digestQuery(h uint64, n int) (uint64, int) {
	found := 0
	for i := range n {
		if c.found[i] < 0 {
			h = spec.MixMissing(h)
			continue
		}
		found++
		v := procfsVMA(c.maps[c.found[i]])
		h = spec.MixVMA(h, &v)
	}
	return h, found
}

func (c *procfsContender) digestEnum() (uint64, int) {
	h, n := spec.DigestSeed, 0
	for _, m := range c.maps {
		if uint64(m.StartAddr) >= spec.GateStart {
			continue
		}
		v := procfsVMA(m)
		h = spec.MixVMA(h, &v)
		n++
	}
	return h, n
}

func (c *procfsContender) distinct() int { return c.vmas }

func (c *procfsContender) strategy() string { return "" }

// makesGarbage: ProcMaps() allocates about 4 objects per VMA.
func (c *procfsContender) makesGarbage(*spec.Workload) bool { return true }

// loadText makes a fake procfs root holding the captured text as
// <pid>/maps, under /dev/shm (memory, like /proc) when it exists:
// prometheus/procfs has no API to parse maps from bytes, only from a file
// under a procfs mount point (procfs.NewFS accepts any directory).
func (c *procfsContender) loadText(w *spec.Workload) error {
	dir := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir = "/dev/shm"
	}
	root, err := os.MkdirTemp(dir, "procmapq-bench-procfs-")
	if err != nil {
		return err
	}
	c.fakeRoot = root
	pid := w.Pid
	if pid <= 0 {
		pid = 1
	}
	pidDir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.Mkdir(pidDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pidDir, "maps"), w.Text, 0o644); err != nil {
		return err
	}
	fs, err := procfs.NewFS(root)
	if err != nil {
		return err
	}
	c.proc, err = fs.Proc(pid)
	return err
}

// parse is ProcMaps() on the fake root: reading the file (tmpfs) and
// parsing it.
func (c *procfsContender) parse() error { return c.enumerate(false) }

func (c *procfsContender) unloadText() {
	if c.fakeRoot != "" {
		os.RemoveAll(c.fakeRoot)
		c.fakeRoot = ""
	}
	c.proc = procfs.Proc{}
}

// coreTextContender is go-text: a coreContender that also answers parse
// workloads, by core.OpenText + Enumerate + Close on the captured text.
type coreTextContender struct {
	*coreContender
	text []byte
}

func (c *coreTextContender) loadText(w *spec.Workload) error {
	c.text = w.Text
	return nil
}

func (c *coreTextContender) parse() error {
	h, err := core.OpenText(c.text)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.Enumerate(&c.opts, &c.res)
}

func (c *coreTextContender) unloadText() { c.text = nil }

// makesGarbage: OpenText builds a new handle (and its VMA table) per call.
func (c *coreTextContender) makesGarbage(w *spec.Workload) bool { return w.Kind == spec.KindParse }

// parseMapsContender is go-parsemaps: core.ParseMaps on the captured text,
// returning fresh VMAs; it answers parse workloads only.
type parseMapsContender struct {
	text []byte
	vmas []core.VMA
}

var errParseOnly = errors.New("go-parsemaps answers parse workloads only")

func (c *parseMapsContender) name() string                              { return "go-parsemaps" }
func (c *parseMapsContender) parseOnly()                                {}
func (c *parseMapsContender) open(int) error                            { return errParseOnly }
func (c *parseMapsContender) close()                                    {}
func (c *parseMapsContender) query([]uint64) error                      { return errParseOnly }
func (c *parseMapsContender) enumerate(bool) error                      { return errParseOnly }
func (c *parseMapsContender) digestQuery(h uint64, _ int) (uint64, int) { return h, 0 }
func (c *parseMapsContender) strategy() string                          { return "" }
func (c *parseMapsContender) makesGarbage(*spec.Workload) bool          { return true }

func (c *parseMapsContender) loadText(w *spec.Workload) error {
	c.text = w.Text
	return nil
}

func (c *parseMapsContender) parse() (err error) {
	c.vmas, err = core.ParseMaps(c.text)
	return err
}

func (c *parseMapsContender) unloadText() { c.text, c.vmas = nil, nil }

func (c *parseMapsContender) digestEnum() (uint64, int) {
	h, n := spec.DigestSeed, 0
	for i := range c.vmas {
		if c.vmas[i].Start >= spec.GateStart {
			continue
		}
		sv := coreVMA(&c.vmas[i])
		h = spec.MixVMA(h, &sv)
		n++
	}
	return h, n
}

// printer buffers result lines.
type printer struct{ w *bufio.Writer }

func newPrinter() *printer { return &printer{bufio.NewWriterSize(os.Stdout, 1<<16)} }

func (p *printer) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

func (p *printer) flush() { p.w.Flush() }

// samples prints one "samples" or "cold" line (nothing if empty).
func (p *printer) samples(what string, w *spec.Workload, c contender, ns []int64) {
	if len(ns) == 0 {
		return
	}
	p.printf("%s %s %s", what, w.Name, c.name())
	for _, v := range ns {
		p.printf(" %d", v)
	}
	p.printf("\n")
}
