package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// Costs on this machine, shared by all handles of the process (see
// docs/planner.md). The ioctl and text costs start from a cheap calibration
// at first use (one text read and four ioctls on /proc/self/maps) and
// follow timed calls as moving averages; walkSkipPerNs alone is a constant.
var calib struct {
	ioctlNs       atomic.Int64 // one PROCMAP_QUERY
	textPerVMANs  atomic.Int64 // reading + parsing one maps line
	textBaseNs    atomic.Int64 // fixed cost of a text read (first read call)
	walkSkipPerNs atomic.Int64 // a VMA skipped by a kernel-side filter
}

func calibrate() { calibOnce.Do(measureCosts) }

var calibOnce sync.Once

func measureCosts() {
	// Defaults in case the measurement cannot run: typical of a VM where a
	// syscall costs ~1.2 µs.
	calib.ioctlNs.Store(1500)
	calib.textPerVMANs.Store(300)
	calib.textBaseNs.Store(3000)
	calib.walkSkipPerNs.Store(80)
	h, err := Open(0)
	if err != nil {
		return
	}
	defer h.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	// Warm up, then time one text read and a handful of ioctls.
	_, _ = h.readText("calibrate")
	t0 := time.Now()
	text, err := h.readText("calibrate")
	if err == nil {
		d := time.Since(t0)
		lines := max(countLines(text), 1)
		per := int64(d) / int64(lines)
		calib.textPerVMANs.Store(max(per, 20))
		calib.textBaseNs.Store(max(int64(d)/int64(max(h.reads, 1))/4, 500))
	}
	if ok, _ := SupportsProcmapQuery(); ok {
		b := h.buffers()
		const n = 4
		t0 = time.Now()
		for range n {
			b.doQuery(h.fd, 0, pmqCoveringOrNext, false)
		}
		calib.ioctlNs.Store(max(int64(time.Since(t0))/n, 100))
	}
}

// ewma folds a new observation into v with weight 1/4. The observation is
// first clamped to within 2x of the current value, so that one stalled call
// (preemption, a fault storm) moves the estimate by at most 25%.
func ewma(v *atomic.Int64, obs int64) {
	if obs <= 0 {
		return
	}
	old := v.Load()
	if old <= 0 {
		v.Store(obs)
		return
	}
	obs = min(max(obs, old/2), 2*old)
	v.Store(old + (obs-old)/4)
}

// planner is a handle's memory for the auto backend.
type planner struct {
	learnt
	// textChoices counts history-based choices of text (see recheckEvery).
	textChoices int
	// calls counts auto calls that could be timed (see startClock).
	calls uint32
	// hint is where what this handle learns is shared with later handles
	// on the same pid hintPid (see attach); nil for fd and text handles.
	hint    *hintSlot
	hintPid int
	// learnedHere is set when this handle learnt something of its own
	// (not only what attach gave it): only then does it share, so that a
	// handle that never plans (a forced backend) does not put back a stale
	// copy over what other handles learnt since.
	learnedHere bool
}

// learnt is what the planner knows of one process. A handle starts from
// what earlier handles on the same pid learnt, so that opening a handle
// per call does not start from nothing each time.
type learnt struct {
	vmaCount int // VMAs seen in the last full text read or walk; 0 = unknown
	// lastRatio is, for the last query batch answered, ioctls needed per
	// address (estimated from text calls too), and lastCount and
	// lastLo..lastHi describe that batch: history is trusted only for a
	// batch of the same shape.
	lastRatio float64
	lastCount int
	lastLo    uint64
	lastHi    uint64
	// walkFrac[f] is the fraction of VMAs that passed filter f in the last
	// walk or text enumeration with that filter (0 = unknown).
	walkFrac [32]float64
	// walkHits[f] is how many VMAs the last walk with filter f returned.
	walkHits [32]int
}

// hintSlot holds what handles learnt of the process with pid. The table is
// direct-mapped by pid: a collision or a reused pid only costs a worse
// first guess, which the planner's bounds cover (a hint is never trusted
// for correctness).
type hintSlot struct {
	mu  sync.Mutex
	pid int
	learnt
}

var hints [64]hintSlot

// attach starts the planner from what earlier handles learnt of pid, and
// makes it share what it learns.
func (p *planner) attach(pid int) {
	s := &hints[uint(pid)%uint(len(hints))]
	p.hint, p.hintPid = s, pid
	s.mu.Lock()
	if s.pid == pid {
		p.learnt = s.learnt
	}
	s.mu.Unlock()
}

// share publishes what the handle learnt for later handles on its pid. It
// runs after calls that learn the VMA count (text reads, full walks) and at
// Close, not on every call.
func (p *planner) share() {
	s := p.hint
	if s == nil || !p.learnedHere {
		return
	}
	s.mu.Lock()
	s.pid, s.learnt = p.hintPid, p.learnt
	s.mu.Unlock()
}

func (p *planner) textCost() int64 {
	if p.vmaCount == 0 {
		return -1
	}
	return calib.textBaseNs.Load() + int64(p.vmaCount)*calib.textPerVMANs.Load()
}

// shouldSwitch is the ski-rental rule for a batch that started with point
// ioctls: switch to one text read once the ioctls already spent cost as
// much as that read. The batch then costs at most about twice the best fixed
// strategy, whatever it holds. Spent time is counted from the calibrated
// ioctl cost, not the clock, so the decision is deterministic. With the VMA
// count unknown the text cost is unknown too, and it never switches (a later
// call explores, see chooseQuery).
func (p *planner) shouldSwitch(ioctls int) bool {
	t := p.textCost()
	return t >= 0 && ioctls > 0 && int64(ioctls)*calib.ioctlNs.Load() >= t
}

// recheckEvery is how often a history-based choice of text is overruled to
// measure the ioctls again.
const recheckEvery = 64

// exploreIoctls is how many ioctls a batch of known shape must be expected
// to need before a handle that has never read the text reads it once to
// learn the VMA count (and so the cost of text).
const exploreIoctls = 64

// clock is the start of a call whose cost is measured; zero when it is not.
type clock struct{ start time.Time }

// measureEvery says how often an auto call's ioctls are timed: the first
// call of a handle, then one in measureEvery. Reading the clock twice costs
// about as much as the cgo crossing, and the estimate needs no more.
const measureEvery = 16

// startClock starts timing the call if it is one to measure (auto only:
// forced backends do not plan).
func (p *planner) startClock(adaptive bool) clock {
	if !adaptive {
		return clock{}
	}
	p.calls++
	if p.calls%measureEvery != 1 {
		return clock{}
	}
	return clock{time.Now()}
}

// noteIoctls folds the cost of n ioctls timed by c into the shared estimate.
func (p *planner) noteIoctls(n int, c clock) {
	if n > 0 && !c.start.IsZero() {
		ewma(&calib.ioctlNs, int64(time.Since(c.start))/int64(n))
	}
}

func (p *planner) noteText(lines, bytes int, d time.Duration) {
	p.vmaCount, p.learnedHere = max(lines, 1), true
	ewma(&calib.textPerVMANs, int64(d)/int64(max(lines, 1)))
	p.share()
}

// gateStart..gateEnd is the x86-64 vsyscall page, which only the text shows.
const (
	gateStart = 0xffffffffff600000
	gateEnd   = 0xffffffffff601000
)

// fixedChoice settles the strategy when there is nothing to plan: a forced
// backend (ioctl means ioctlStrategy, or an error saying why it is not
// available), or auto where the ioctl cannot be used. fixed is false when
// the planner must choose.
func (h *Handle) fixedChoice(b Backend, ioctlStrategy Strategy) (s Strategy, fixed bool, err error) {
	switch b {
	case BackendText:
		return StrategyText, true, nil
	case BackendIoctl:
		if h.ioctlUsable() {
			return ioctlStrategy, true, nil
		}
		if _, err := SupportsProcmapQuery(); err != nil {
			return 0, true, err
		}
		return 0, true, notSupported()
	}
	if !h.ioctlUsable() {
		return StrategyText, true, nil
	}
	return 0, false, nil
}

// chooseQuery picks the strategy for a sorted batch.
func (h *Handle) chooseQuery(b *batch, o *Options) (Strategy, error) {
	if s, fixed, err := h.fixedChoice(o.Backend, StrategyPointIoctl); fixed {
		return s, err
	}
	calibrate()
	// Only the text shows the gate VMA: a batch touching it goes to text
	// until a text read has told the handle whether the target has one, so
	// that auto answers exactly like the text backend. Build IDs come only
	// from the ioctl: then the text is read just to learn the gate.
	n := len(b.addrs)
	lo, last := b.addrs[0], b.addrs[n-1]
	if last >= gateStart && !h.gateKnown {
		if j := b.below(0, gateStart); j < n && b.addrs[j] < gateEnd {
			if !o.BuildIDs {
				return StrategyText, nil
			}
			if _, err := h.readText("query"); err != nil {
				return 0, err
			}
		}
	}
	if o.BuildIDs {
		return StrategyPointIoctl, nil
	}
	hi := last // batches of one shape repeat their duplicates alike
	p := &h.plan
	t := p.textCost()
	sameShape := p.lastCount > 0 && n <= 2*p.lastCount && 2*n >= p.lastCount &&
		lo >= p.lastLo-(p.lastHi-p.lastLo)/2 && hi <= p.lastHi+(p.lastHi-p.lastLo)/2
	p.lastCount, p.lastLo, p.lastHi = n, lo, hi
	if sameShape && p.lastRatio > 0 {
		ioctls := p.lastRatio * float64(n)
		if t < 0 && ioctls >= exploreIoctls {
			return StrategyText, nil // explore: learn what text costs here
		}
		if t >= 0 && ioctls*float64(calib.ioctlNs.Load()) > float64(t) {
			// Now and then let the ioctls run anyway (the ski rental bounds
			// that call to twice the best): their cost is measured again,
			// so an estimate spoilt by a slow moment cannot stick.
			p.textChoices++
			if p.textChoices%recheckEvery != 0 {
				return StrategyText, nil
			}
		}
	}
	return StrategyPointIoctl, nil
}

// noteQuery records, after a query, how many ioctls (or, for text, distinct
// VMAs and gaps) the batch needed per address.
func (p *planner) noteQuery(touched, n int) {
	if n > 0 {
		p.lastRatio, p.learnedHere = float64(touched)/float64(n), true
	}
}

// chooseEnum picks the strategy for an enumeration.
func (h *Handle) chooseEnum(o *Options) (Strategy, error) {
	if s, fixed, err := h.fixedChoice(o.Backend, StrategyIoctlWalk); fixed {
		return s, err
	}
	calibrate()
	if o.BuildIDs {
		if !h.gateKnown { // learn the gate, which the walk cannot see
			if _, err := h.readText("enumerate"); err != nil {
				return 0, err
			}
		}
		return StrategyIoctlWalk, nil
	}
	p := &h.plan
	if o.Filter == (Filter{}) || !h.gateKnown {
		// A full dump costs one ioctl per VMA, several times a text line.
		// And until a text read has shown whether the target has the gate
		// VMA, which the walk cannot see, auto reads the text.
		return StrategyText, nil
	}
	frac := p.walkFrac[filterKey(o.Filter)]
	if frac == 0 {
		frac = guessFrac(o.Filter)
	}
	t := p.textCost()
	if t < 0 {
		// The VMA count is unknown: walk when the filter is selective by
		// nature (executable or shared mappings are few), unless the last
		// walk with it already returned many VMAs; then read the text once
		// to learn the count.
		if frac <= 0.1 && p.walkHits[filterKey(o.Filter)] < exploreIoctls {
			return StrategyIoctlWalk, nil
		}
		return StrategyText, nil
	}
	walk := frac*float64(p.vmaCount)*float64(calib.ioctlNs.Load()) + float64(p.vmaCount)*float64(calib.walkSkipPerNs.Load())
	if walk < float64(t) {
		return StrategyIoctlWalk, nil
	}
	return StrategyText, nil
}

func filterKey(f Filter) int {
	k := int(f.Perms & permMask)
	if f.FileBacked {
		k |= 16
	}
	return k
}

// guessFrac is a first guess of the share of VMAs a filter keeps, before a
// handle has seen one (typical of large processes: few executable VMAs).
func guessFrac(f Filter) float64 {
	frac := 1.0
	if f.Perms&PermExec != 0 {
		frac *= 0.05
	}
	if f.Perms&PermShared != 0 {
		frac *= 0.05
	}
	if f.Perms&PermWrite != 0 {
		frac *= 0.5
	}
	if f.Perms&PermRead != 0 {
		frac *= 0.6
	}
	if f.FileBacked {
		frac *= 0.5
	}
	return frac
}
