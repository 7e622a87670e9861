package core

import (
	"errors"
	"syscall"
	"time"
)

// Enumerate lists every VMA that passes opts.Filter, in ascending order,
// into res.VMAs (res.Lookups is emptied). The auto backend reads the text
// for a full dump (one ioctl per VMA costs more) and walks the kernel with
// PROCMAP_QUERY's own filters when a filter keeps few VMAs.
//
// The ioctl never returns the x86-64 [vsyscall] gate VMA; the text does, and
// so does auto (it learns the gate from its first text read on the handle).
// On kernels without PROCMAP_QUERY auto uses text and a forced ioctl
// backend fails with [ErrNotSupported].
func (h *Handle) Enumerate(opts *Options, res *Result) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := h.checkCall("enumerate", res == nil, o.Backend, o.Filter); err != nil {
		return err
	}
	if err := h.lockOpen("enumerate"); err != nil {
		return err
	}
	defer h.mu.Unlock()
	res.reset(0)
	if h.kind == kindText {
		res.Strategy = StrategyText
		for i := range h.snapVMAs {
			if o.Filter.matches(&h.snapVMAs[i]) {
				res.VMAs = append(res.VMAs, h.snapVMAs[i])
			}
		}
		return nil
	}
	err := h.enumerate(&o, res)
	if errors.Is(err, ErrProcessGone) && h.adoptLiveThread() {
		res.reset(0) // the leader exited: list a live thread's view (gone.go)
		err = h.enumerate(&o, res)
	}
	return err
}

func (h *Handle) enumerate(o *Options, res *Result) error {
	s, err := h.chooseEnum(o)
	if err != nil {
		return &Error{Op: "enumerate", Pid: h.pid, Err: err}
	}
	if s == StrategyText {
		return h.enumText(o, res)
	}
	if err := h.enumWalk(o, res, o.Backend == BackendAuto); err != nil || o.Backend != BackendAuto {
		return err
	}
	for i := range res.VMAs {
		if res.VMAs[i].Flags&FlagNameUnavailable != 0 {
			return h.fillLongNames(res)
		}
	}
	return nil
}

func (h *Handle) enumText(o *Options, res *Result) error {
	start := time.Now()
	text, err := h.readText("enumerate")
	res.Syscalls += h.reads
	if err != nil {
		return err
	}
	res.Strategy = StrategyText
	var lines int
	var lerr *lineError
	res.VMAs, res.arena, lines, lerr = appendTextVMAs(text, o.Filter, res.VMAs, res.arena)
	if lerr != nil {
		return &Error{Op: "enumerate", Pid: h.pid, Err: withDetail(ErrInvalidArgument, lerr)}
	}
	h.plan.noteText(lines, len(text), time.Since(start))
	if o.Filter != (Filter{}) {
		h.plan.walkFrac[filterKey(o.Filter)] = max(float64(len(res.VMAs))/float64(max(lines, 1)), 1e-6)
	}
	return nil
}

// enumWalk walks the VMAs with COVERING_OR_NEXT and the filter in the
// kernel: one ioctl per matching VMA.
func (h *Handle) enumWalk(o *Options, res *Result, adaptive bool) error {
	b := h.buffers()
	res.Strategy = StrategyIoctlWalk
	flags := pmqCoveringOrNext | o.Filter.kernelFlags()
	addr := uint64(0)
	clock := h.plan.startClock(adaptive)
	for {
		res.Syscalls++
		en := b.doQuery(h.fd, addr, flags, o.BuildIDs)
		if en == syscall.ENOENT {
			break
		}
		if en != 0 {
			err := h.ioctlFailed("enumerate", addr, en)
			if en == syscall.ENOTTY && adaptive {
				res.VMAs, res.arena = res.VMAs[:0], res.arena[:0]
				return h.enumText(o, res)
			}
			return err
		}
		h.ioctlState = 1
		var v VMA
		res.arena = b.fill(&v, res.arena)
		res.VMAs = appendLatest(res.VMAs, v)
		if v.End <= addr {
			break // cannot happen; never loop forever
		}
		addr = v.End
	}
	if adaptive && h.hasGate && o.Filter.matches(&h.gate) {
		res.VMAs = append(res.VMAs, h.gate) // above every other VMA
	}
	n := len(res.VMAs)
	if n > 0 {
		p := &h.plan
		p.learnedHere = true
		p.noteIoctls(res.Syscalls, clock)
		if o.Filter == (Filter{}) {
			p.vmaCount = n
			return nil
		}
		p.walkHits[filterKey(o.Filter)] = n
		if p.vmaCount > 0 {
			p.walkFrac[filterKey(o.Filter)] = max(float64(n)/float64(p.vmaCount), 1e-6)
		}
	}
	return nil
}

// appendLatest appends v, read after every VMA already in vmas, first
// dropping those it overlaps. Neither a text read nor an ioctl walk is
// atomic: when the target merges or grows a mapping in between, the next
// read shows it starting below the end of one already listed (seen by
// tests/stress under the proc-maps-race patterns). The later view is the
// newer one; dropping the stale entries keeps the list sorted and free of
// overlaps. Mappings that did not change never overlap anything.
func appendLatest(vmas []VMA, v VMA) []VMA {
	for len(vmas) > 0 && vmas[len(vmas)-1].End > v.Start {
		vmas = vmas[:len(vmas)-1]
	}
	return append(vmas, v)
}
