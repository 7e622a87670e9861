package core

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"unsafe"
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

func (b Backend) String() string { return enumName(backendNames[:], b, "backend") }

// ParseBackend parses "auto", "ioctl" or "text".
func ParseBackend(s string) (Backend, error) {
	return parseEnum[Backend](backendNames[:], s, "backend")
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

func (s Strategy) String() string { return enumName(strategyNames[:], s, "strategy") }

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

// checkCall is the preamble every call on a handle shares (Query,
// Enumerate, Normalize): a nil handle or result, and the one validator of
// the selection options (backend and filter) Options and NormalizeOptions
// share, which names the bad field. The C glue only converts its structs
// and leaves these checks here.
func (h *Handle) checkCall(op string, resultNil bool, b Backend, f Filter) error {
	if h == nil {
		return errNilHandle(op)
	}
	var why string
	switch {
	case resultNil:
		why = "the result is nil"
	case b > BackendText:
		why = fmt.Sprintf("backend %d is not auto (0), ioctl (1) or text (2)", b)
	case f.Perms&^permMask != 0:
		why = fmt.Sprintf("filter perms %#x has bits other than read, write, exec and shared (%#x)", uint8(f.Perms), uint8(permMask))
	default:
		return nil
	}
	return &Error{Op: op, Pid: h.pid, Err: invalidf("%s", why)}
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

func (r Reason) String() string { return enumName(reasonNames[:], r, "reason") }

// Lookup is the answer for one input address. Its layout is that of the C
// ABI's struct procmapq_lookup on little-endian machines (24 bytes; Reason
// then reads as a uint32), so that the C glue lets Query write answers
// straight into a C caller's array.
type Lookup struct {
	VMA    int32  // index into Result.VMAs, -1 unless Reason is ReasonFound
	Reason Reason // why
	_      [3]byte
	// FileOffset is the address's offset in the mapped file (addr -
	// VMA.Start + VMA.Offset) when Reason is ReasonFound, else 0.
	FileOffset uint64
	_          uint64
}

// Result holds the answer of a query or an enumeration. Reusing one Result
// across calls makes the steady state allocation-free; the VMAs' names and
// build IDs then alias the Result's internal storage and are overwritten by
// the next call.
type Result struct {
	// VMAs is the deduplicated table of VMAs, in ascending order of Start.
	// After a query (not an enumeration) two entries may overlap when the
	// target changed its mappings during the call (each answer is true as
	// of when it was read); a found Lookup's entry always covers its
	// address, so look answers up by Lookup, not by searching the table.
	VMAs []VMA
	// Lookups has one entry per input address, in input order (queries
	// only; empty after an enumeration).
	Lookups []Lookup
	// Strategy is how the call was answered.
	Strategy Strategy
	// Syscalls counts the ioctl and read calls the call made.
	Syscalls int

	arena []byte
	batch batch // the last query's addresses in ascending order
	// Scratch for a batch that was not sorted: pairs and sortTmp for the
	// radix sort (they may swap), sortedAddrs and order for the batch.
	pairs       []addrIndex
	sortTmp     []addrIndex
	sortedAddrs []uint64
	order       []uint32
	touched     int // distinct VMAs and gaps the call had to look at
	// checkOrder is set for a batch trusted to be sorted: the answers
	// check it (checkAscending), lastAddr being the last address answered,
	// and set disorder if it was not.
	checkOrder bool
	disorder   bool
	lastAddr   uint64
	// keepBatch keeps batch after Query for Normalize, which walks it;
	// released counts scratch bytes dropped during the call.
	keepBatch bool
	released  int
	// nameless is set when the table has a VMA whose name the ioctl could
	// not return (FlagNameUnavailable): auto fills it from the text.
	nameless bool
}

type addrIndex struct {
	addr uint64
	idx  uint32
}

// reset prepares r for a call on n addresses. Lookups keeps its storage
// when it is large enough: the C glue points it at the caller's array.
func (r *Result) reset(n int) {
	r.VMAs = r.VMAs[:0]
	r.Lookups = grow(r.Lookups, n)
	r.Strategy, r.Syscalls, r.touched = StrategyNone, 0, 0
	r.arena = r.arena[:0]
	r.batch = batch{}
	r.checkOrder, r.disorder, r.lastAddr, r.nameless = false, false, 0, false
}

// maxKeptScratch bounds the storage Trim keeps.
const maxKeptScratch = 64 << 10

// Trim drops the Result's storage above 64 KiB per array, keeping a small
// Result cheap to reuse while a huge batch's memory goes back to the
// collector. The answers of the last call are gone afterwards.
func (r *Result) Trim() {
	*r = Result{
		VMAs:    trimmed(r.VMAs[:0]),
		Lookups: trimmed(r.Lookups[:0]),
		arena:   trimmed(r.arena[:0]),
		pairs:   trimmed(r.pairs[:0]),
		sortTmp: trimmed(r.sortTmp[:0]),
		// A batch's addresses and order: as large as the batch.
		sortedAddrs: trimmed(r.sortedAddrs[:0]),
		order:       trimmed(r.order[:0]),
	}
}

func trimmed[T any](s []T) []T {
	var zero T
	if uintptr(cap(s))*unsafe.Sizeof(zero) > maxKeptScratch {
		return nil
	}
	return s
}

// answerFound answers sorted positions [i, j) of b: found in table entry
// vma, whose file offset is addr + delta (delta = Offset - Start, modulo
// 2^64). The common case, a sorted batch, is a plain store loop.
func (r *Result) answerFound(b *batch, i, j int, vma int32, delta uint64) {
	a := b.addrs[i:j]
	if b.order == nil {
		if r.checkOrder {
			r.checkAscending(a)
		}
		lk := r.Lookups[i:j]
		lk = lk[:len(a)] // proves the bounds: no checks in the loop
		for k := range lk {
			lk[k] = Lookup{VMA: vma, FileOffset: a[k] + delta}
		}
		return
	}
	order := b.order[i:j]
	order = order[:len(a)]
	for k, in := range order {
		r.Lookups[in] = Lookup{VMA: vma, FileOffset: a[k] + delta}
	}
}

// checkAscending checks that the addresses of a run continue the ascending
// order of those answered before it, for a batch trusted to be sorted
// (Options.Sorted). Every position is answered once, in order, so this
// sees them all, at the cost of a compare in a loop that reads them anyway.
func (r *Result) checkAscending(a []uint64) {
	prev := r.lastAddr
	for _, x := range a {
		if x < prev {
			r.disorder = true
		}
		prev = x
	}
	r.lastAddr = prev
}

// answerNone answers sorted positions [i, j) of b: no VMA, for reason.
func (r *Result) answerNone(b *batch, i, j int, reason Reason) {
	if b.order == nil {
		if r.checkOrder {
			r.checkAscending(b.addrs[i:j])
		}
		lk := r.Lookups[i:j]
		for k := range lk {
			lk[k] = Lookup{VMA: -1, Reason: reason}
		}
		return
	}
	for _, in := range b.order[i:j] {
		r.Lookups[in] = Lookup{VMA: -1, Reason: reason}
	}
}

// addVMA enters v in the table, copying its name and build ID into the
// arena, and answers positions [i, j) of b with it.
func (r *Result) addVMA(v *VMA, b *batch, i, j int) {
	if v.Flags&FlagNameUnavailable != 0 {
		r.nameless = true
	}
	r.arena = v.intern(r.arena)
	r.VMAs = append(r.VMAs, *v)
	r.answerFound(b, i, j, int32(len(r.VMAs)-1), v.Offset-v.Start)
}

// intern copies v's name and build ID to the end of arena (v then refers
// to the copies) and returns the grown arena.
func (v *VMA) intern(arena []byte) []byte {
	if v.Name != nil {
		off := len(arena)
		arena = append(arena, v.Name...)
		v.Name = arena[off:len(arena):len(arena)]
	}
	if v.BuildID != nil {
		off := len(arena)
		arena = append(arena, v.BuildID...)
		v.BuildID = arena[off:len(arena):len(arena)]
	}
	return arena
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
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := h.checkCall("query", res == nil, o.Backend, o.Filter); err != nil {
		return err
	}
	if len(addrs) > 1<<31-1 {
		return &Error{Op: "query", Pid: h.pid, Err: invalidf("%d addresses: at most 2^31-1 per call", len(addrs))}
	}
	if err := h.lockOpen("query"); err != nil {
		return err
	}
	defer h.mu.Unlock()
	res.reset(len(addrs))
	if len(addrs) == 0 {
		return nil
	}
	err := h.answer(addrs, &o, res)
	if err != nil && errors.Is(err, ErrProcessGone) && h.adoptLiveThread() {
		// The leader exited but the process lives: answer from a live
		// thread's view of the same mappings (gone.go).
		res.reset(len(addrs))
		err = h.answer(addrs, &o, res)
	}
	if !res.keepBatch && (res.batch.order != nil || res.released > 0) {
		res.releaseBatch() // an unsorted batch's scratch (not deferred: one defer keeps the call cheap)
	}
	return err
}

// answer answers addrs into res (reset for them).
func (h *Handle) answer(addrs []uint64, o *Options, res *Result) error {
	var b *batch
	if o.Sorted {
		b = res.trustBatch(addrs)
	} else {
		b = res.sortBatch(addrs)
	}
	err := h.resolve(b, o, res)
	if res.checkOrder && res.disorder {
		// The batch said it was sorted and was not: the answers above
		// may be wrong. Answer again from a sorted copy.
		res.reset(len(addrs))
		res.sortUnsorted(addrs)
		err = h.resolve(&res.batch, o, res)
	}
	return err
}

// resolve answers the sorted batch b with the strategy the planner picks.
func (h *Handle) resolve(b *batch, o *Options, res *Result) error {
	if h.kind == kindText {
		res.Strategy = StrategyText
		h.resolveSnapshot(b, o, res)
		return nil
	}
	strategy, err := h.chooseQuery(b, o)
	if err != nil {
		return failLookups(&Error{Op: "query", Pid: h.pid, Err: err}, b, 0, res)
	}
	if strategy == StrategyText {
		err = h.resolveText(b, 0, o, res, "query")
	} else {
		err = h.resolveIoctl(b, o, res, o.Backend == BackendAuto)
	}
	if err == nil && o.Backend == BackendAuto {
		h.plan.noteQuery(res.touched, len(b.addrs))
		if res.nameless {
			err = h.fillLongNames(res)
		}
	}
	if len(res.VMAs) > 1 {
		res.keepTableOrdered()
	}
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

// AnswersComplete reports whether a Query or Normalize that returned err
// still answered every address: true for nil, and for the target going
// away during the call (ErrProcessGone), after which the addresses
// resolved in time keep their answers and the others say
// ReasonProcessGone (NormUnknownProcessGone). Any other error leaves no
// answer to use. It is the one statement of this rule: the C API and the
// command-line tool follow it.
func AnswersComplete(err error) bool { return err == nil || errors.Is(err, ErrProcessGone) }

// failLookups settles the lookups of a call that failed at sorted position
// from: if the target went away, the addresses resolved so far keep their
// answers and the rest are process-gone; on any other error no lookup is
// left to be mistaken for an answer.
func failLookups(err error, b *batch, from int, res *Result) error {
	if errors.Is(err, ErrProcessGone) {
		res.answerNone(b, from, len(b.addrs), ReasonProcessGone)
	} else {
		res.Lookups = res.Lookups[:0]
		res.VMAs = res.VMAs[:0]
	}
	return err
}
