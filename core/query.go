package core

import (
	"cmp"
	"errors"
	"slices"
	"syscall"
	"time"
)

// Backend selects how a call reads the target's mappings.
type Backend uint8

const (
	// BackendAuto chooses per call the cheapest strategy (see [Strategy])
	// and uses the text backend on kernels without PROCMAP_QUERY.
	BackendAuto Backend = iota
	// BackendIoctl uses PROCMAP_QUERY only. On kernels older than 6.11 calls
	// fail with an error wrapping [ErrNotSupported].
	BackendIoctl
	// BackendText reads and parses the whole /proc/<pid>/maps text.
	BackendText
)

var backendNames = [...]string{"auto", "ioctl", "text"}

func (b Backend) String() string {
	if int(b) < len(backendNames) {
		return backendNames[b]
	}
	return "backend(?)"
}

// ParseBackend parses "auto", "ioctl" or "text".
func ParseBackend(s string) (Backend, error) {
	for i, n := range backendNames {
		if s == n {
			return Backend(i), nil
		}
	}
	return 0, errors.Join(ErrInvalidArgument, errors.New("unknown backend "+s))
}

// Strategy is how a call was actually answered.
type Strategy uint8

const (
	StrategyNone          Strategy = iota // nothing was read (empty batch)
	StrategyPointIoctl                    // one PROCMAP_QUERY per distinct VMA touched
	StrategyIoctlWalk                     // a COVERING_OR_NEXT walk with kernel-side filters
	StrategyText                          // one read and parse of the whole text (or the snapshot)
	StrategyIoctlThenText                 // started with ioctls, switched to text when they cost more
)

var strategyNames = [...]string{"none", "point-ioctl", "ioctl-walk", "text", "ioctl-then-text"}

func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return "strategy(?)"
}

// Filter restricts which VMAs match. The zero value matches every VMA. The
// meaning is the kernel's in every backend.
type Filter struct {
	// Perms lists permission bits a VMA must all have (AND, as the kernel
	// does: an exec-only VMA does not match PermRead|PermExec).
	Perms Perm
	// FileBacked keeps only VMAs that map a file ([VMA.FileBacked]).
	FileBacked bool
}

func (f Filter) matches(v *VMA) bool {
	return v.Perms&f.Perms == f.Perms && (!f.FileBacked || v.FileBacked())
}

func (f Filter) kernelFlags() uint64 {
	fl := uint64(f.Perms)
	if f.FileBacked {
		fl |= pmqFileBacked
	}
	return fl
}

// Options tune a query or an enumeration. The zero value (or nil) means:
// auto backend, no filter, no build IDs.
type Options struct {
	Backend Backend
	Filter  Filter
	// Sorted says the addresses are already in ascending order, which saves
	// the internal sort. A batch that is not sorted after all is still
	// answered correctly (it is then sorted).
	Sorted bool
	// BuildIDs asks for the kernel's build IDs (ioctl only: with the text
	// backend VMA.BuildID stays empty; see Normalize for build IDs read from
	// the files). Auto prefers the ioctl when set.
	BuildIDs bool
}

func (o *Options) validate() error {
	if o.Backend > BackendText || o.Filter.Perms&^permMask != 0 {
		return ErrInvalidArgument
	}
	return nil
}

// Reason says why an address has, or has no, VMA.
type Reason uint8

const (
	ReasonFound       Reason = iota // a VMA covers the address and passes the filter
	ReasonUnmapped                  // no VMA covers the address
	ReasonFiltered                  // the covering VMA does not pass the filter
	ReasonProcessGone               // the target went away before the address was resolved
)

var reasonNames = [...]string{"found", "unmapped", "filtered", "process-gone"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(?)"
}

// Lookup is the answer for one input address.
type Lookup struct {
	VMA    int32  // index into Result.VMAs, -1 unless Reason is ReasonFound
	Reason Reason // why
}

// Result holds the answer of a query or an enumeration. Reusing one Result
// across calls makes the steady state allocation-free; the VMAs' names and
// build IDs then alias the Result's internal storage and are overwritten by
// the next call.
type Result struct {
	// VMAs is the deduplicated table of VMAs, in ascending address order.
	VMAs []VMA
	// Lookups has one entry per input address, in input order (queries
	// only; empty after an enumeration).
	Lookups []Lookup
	// Strategy is how the call was answered.
	Strategy Strategy
	// Syscalls counts the ioctl and read calls the call made.
	Syscalls int

	arena   []byte
	pairs   []addrIndex
	sortTmp []addrIndex // radix-sort scratch; may swap with pairs
	touched int         // distinct VMAs and gaps the call had to look at
}

type addrIndex struct {
	addr uint64
	idx  uint32
}

func (r *Result) reset(n int) {
	r.VMAs = r.VMAs[:0]
	r.Lookups = slices.Grow(r.Lookups[:0], n)[:n]
	r.Strategy, r.Syscalls, r.touched = StrategyNone, 0, 0
	r.arena = r.arena[:0]
}

// Found returns the VMA of input address i, or nil with the reason it has
// none.
func (r *Result) Found(i int) (*VMA, Reason) {
	l := r.Lookups[i]
	if l.Reason != ReasonFound {
		return nil, l.Reason
	}
	return &r.VMAs[l.VMA], ReasonFound
}

// Query resolves a batch of addresses, in any order and with duplicates, in
// one call: res.Lookups[i] tells, for addrs[i], the index of its VMA in the
// deduplicated table res.VMAs or why there is none. res may be reused.
//
// If the target goes away during the batch, addresses already resolved keep
// their answers, the others get [ReasonProcessGone], and Query returns an
// error wrapping [ErrProcessGone]. On any other error res.Lookups is empty. On kernels without PROCMAP_QUERY the auto
// backend uses text; a forced ioctl backend fails with [ErrNotSupported].
func (h *Handle) Query(addrs []uint64, opts *Options, res *Result) error {
	if h == nil {
		return errNilHandle("query")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if res == nil {
		return &Error{Op: "query", Pid: h.pid, Err: errors.Join(ErrInvalidArgument, errors.New("nil result"))}
	}
	if err := o.validate(); err != nil {
		return &Error{Op: "query", Pid: h.pid, Err: err}
	}
	if len(addrs) > 1<<31-1 {
		return &Error{Op: "query", Pid: h.pid, Err: ErrInvalidArgument}
	}
	if err := h.lockOpen("query"); err != nil {
		return err
	}
	defer h.mu.Unlock()
	res.reset(len(addrs))
	if len(addrs) == 0 {
		return nil
	}
	// Sort (address, input index) pairs, unless the caller's batch is sorted.
	pairs := slices.Grow(res.pairs[:0], len(addrs))[:len(addrs)]
	res.pairs = pairs
	sorted := true
	for i, a := range addrs {
		pairs[i] = addrIndex{a, uint32(i)}
		if i > 0 && a < addrs[i-1] {
			sorted = false
		}
	}
	if !sorted {
		pairs, res.sortTmp = sortPairs(pairs, res.sortTmp)
		res.pairs = pairs // the two buffers may have swapped
	}

	if h.kind == kindText {
		res.Strategy = StrategyText
		h.resolveSnapshot(pairs, &o, res)
		return nil
	}
	strategy, err := h.chooseQuery(pairs, &o)
	if err != nil {
		return failLookups(&Error{Op: "query", Pid: h.pid, Err: err}, pairs, 0, res)
	}
	if strategy == StrategyText {
		err = h.resolveText(pairs, 0, &o, res, "query")
	} else {
		err = h.resolveIoctl(pairs, &o, res, o.Backend == BackendAuto)
	}
	if err == nil && o.Backend == BackendAuto {
		h.plan.noteQuery(res.touched, len(pairs))
	}
	res.keepTableOrdered()
	return err
}

// keepTableOrdered restores the ascending order of res.VMAs. Reads are not
// atomic: when the target merges a mapping downwards between two reads, a
// later answer can start below an earlier one (seen by tests/stress under
// the proc-maps-race patterns). Rare, so the fix-up may allocate.
func (res *Result) keepTableOrdered() {
	if slices.IsSortedFunc(res.VMAs, func(a, b VMA) int { return cmp.Compare(a.Start, b.Start) }) {
		return
	}
	order := make([]int32, len(res.VMAs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(res.VMAs[a].Start, res.VMAs[b].Start) })
	newIndex := make([]int32, len(order))
	sorted := make([]VMA, len(order))
	for to, from := range order {
		newIndex[from] = int32(to)
		sorted[to] = res.VMAs[from]
	}
	copy(res.VMAs, sorted)
	for i := range res.Lookups {
		if l := &res.Lookups[i]; l.VMA >= 0 {
			l.VMA = newIndex[l.VMA]
		}
	}
}

// failLookups settles the lookups of a call that failed at pairs[from]: if
// the target went away, the addresses resolved so far keep their answers and
// the rest are process-gone; on any other error no lookup is left to be
// mistaken for an answer.
func failLookups(err error, pairs []addrIndex, from int, res *Result) error {
	if errors.Is(err, ErrProcessGone) {
		markGone(pairs, from, res)
	} else {
		res.Lookups = res.Lookups[:0]
		res.VMAs = res.VMAs[:0]
	}
	return err
}

// markGone sets every unresolved lookup from pairs[from:] to process-gone.
func markGone(pairs []addrIndex, from int, res *Result) {
	for _, p := range pairs[from:] {
		res.Lookups[p.idx] = Lookup{VMA: -1, Reason: ReasonProcessGone}
	}
}

// resolveIoctl answers the sorted batch with point ioctls: one
// COVERING_OR_NEXT query per distinct VMA or gap touched, the filter applied
// here so that a filtered VMA is told from a gap. With adaptive set, it
// switches to text once the ioctls spent and those still expected would pay
// for a whole text read.
func (h *Handle) resolveIoctl(pairs []addrIndex, o *Options, res *Result, adaptive bool) error {
	// Never switch to text mid-batch when build IDs are asked: only the
	// ioctl has them.
	mayTextSwitch := adaptive && !o.BuildIDs
	b := h.buffers()
	res.Strategy = StrategyPointIoctl
	// cur is the last VMA the kernel returned; curIdx its table index (-1
	// when not in the table: filtered out, or not yet hit). gapLo..gapHi is
	// the last known unmapped range.
	var cur VMA
	curValid, curIdx, curArena := false, int32(-1), 0
	gapLo, gapHi := uint64(1), uint64(0)
	noneAbove := ^uint64(0) // addresses >= noneAbove are unmapped (ENOENT seen)
	noneAboveSet := false
	ioctls := 0
	start := time.Now()
	gateIdx := int32(-1)
	for i := 0; i < len(pairs); i++ {
		a := pairs[i].addr
		if adaptive && a >= gateStart && a < gateEnd {
			// chooseQuery sent this batch here only if the handle knows
			// from a text read whether the target has the gate VMA.
			switch {
			case !h.hasGate:
				res.Lookups[pairs[i].idx] = Lookup{VMA: -1, Reason: ReasonUnmapped}
			case !o.Filter.matches(&h.gate):
				res.Lookups[pairs[i].idx] = Lookup{VMA: -1, Reason: ReasonFiltered}
			default:
				if gateIdx < 0 {
					res.VMAs = append(res.VMAs, h.gate)
					gateIdx = int32(len(res.VMAs) - 1)
				}
				res.Lookups[pairs[i].idx] = Lookup{VMA: gateIdx}
			}
			continue
		}
		if curValid && cur.Contains(a) {
			if curIdx < 0 && o.Filter.matches(&cur) {
				res.VMAs = append(res.VMAs, cur)
				curIdx = int32(len(res.VMAs) - 1)
			}
			if curIdx >= 0 {
				res.Lookups[pairs[i].idx] = Lookup{VMA: curIdx}
			} else {
				res.Lookups[pairs[i].idx] = Lookup{VMA: -1, Reason: ReasonFiltered}
			}
			continue
		}
		if (a >= gapLo && a < gapHi) || (noneAboveSet && a >= noneAbove) {
			res.Lookups[pairs[i].idx] = Lookup{VMA: -1, Reason: ReasonUnmapped}
			continue
		}
		if mayTextSwitch && h.plan.shouldSwitch(ioctls) {
			h.plan.noteIoctls(ioctls, time.Since(start))
			res.Strategy = StrategyIoctlThenText
			res.Syscalls += ioctls
			res.touched += ioctls
			if curValid && curIdx < 0 {
				res.arena = res.arena[:curArena]
			}
			return h.resolveText(pairs, i, o, res, "query")
		}
		// A VMA not entered in the table gives back its arena space.
		if curValid && curIdx < 0 {
			res.arena = res.arena[:curArena]
		}
		curValid = false
		ioctls++
		en := b.doQuery(h.fd, a, pmqCoveringOrNext, o.BuildIDs)
		switch en {
		case 0:
		case syscall.ENOENT:
			// Nothing at or above a (the ioctl never sees the gate VMA).
			noneAbove, noneAboveSet = a, true
			res.Lookups[pairs[i].idx] = Lookup{VMA: -1, Reason: ReasonUnmapped}
			continue
		case syscall.ENOTTY:
			h.ioctlState = -1
			res.Syscalls += ioctls
			if adaptive {
				res.Strategy = StrategyText
				return h.resolveText(pairs, i, o, res, "query")
			}
			return failLookups(&Error{Op: "query", Pid: h.pid, Addr: a, HasAddr: true, Err: classifyErrno(en)}, pairs, i, res)
		default:
			if en == syscall.ESRCH {
				h.gone = true
			}
			res.Syscalls += ioctls
			return failLookups(&Error{Op: "query", Pid: h.pid, Addr: a, HasAddr: true, Err: classifyErrno(en)}, pairs, i, res)
		}
		h.ioctlState = 1
		curArena = len(res.arena)
		res.arena = b.fill(&cur, res.arena)
		curValid, curIdx = true, -1
		if cur.Start > a {
			gapLo, gapHi = a, cur.Start
			res.Lookups[pairs[i].idx] = Lookup{VMA: -1, Reason: ReasonUnmapped}
			continue
		}
		i-- // resolve this address against cur
	}
	if curValid && curIdx < 0 {
		res.arena = res.arena[:curArena]
	}
	res.Syscalls += ioctls
	res.touched += ioctls
	if ioctls > 0 {
		h.plan.noteIoctls(ioctls, time.Since(start))
	}
	return nil
}
