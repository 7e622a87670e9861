package core

// batch is a query's addresses in ascending order. order[i] is the
// caller's index of addrs[i]; order is nil when the caller's batch was
// already ascending (what profilers pass), so that nothing is copied and
// answers go straight to the caller's positions.
type batch struct {
	addrs []uint64
	order []uint32
}

// input returns the caller's index of sorted position i.
func (b *batch) input(i int) int {
	if b.order == nil {
		return i
	}
	return int(b.order[i])
}

// below returns the first position at or after i whose address is at or
// above end. It gallops (1, 2, 4, ... ahead, then bisects), so a run of k
// addresses inside one VMA costs O(log k) comparisons, not k.
func (b *batch) below(i int, end uint64) int {
	a := b.addrs
	if i >= len(a) || a[i] >= end {
		return i
	}
	// a[lo] < end; find hi with a[hi] >= end (or hi = len(a)).
	lo, step := i, 1
	hi := lo + step
	for hi < len(a) && a[hi] < end {
		lo = hi
		step *= 2
		hi = lo + step
	}
	hi = min(hi, len(a))
	for hi-lo > 1 { // invariant: a[lo] < end, a[hi] >= end or hi = len(a)
		m := int(uint(lo+hi) >> 1)
		if a[m] < end {
			lo = m
		} else {
			hi = m
		}
	}
	return hi
}

// sortBatch returns addrs as a batch, sorting a copy (in r's scratch) only
// if they are not already in ascending order.
func (r *Result) sortBatch(addrs []uint64) *batch {
	r.batch = batch{addrs: addrs}
	for i := 1; i < len(addrs); i++ {
		if addrs[i] < addrs[i-1] {
			r.sortUnsorted(addrs)
			break
		}
	}
	return &r.batch
}

// trustBatch returns addrs as a batch the caller said is sorted, without
// reading it first: the answers check the order as they go (see
// Result.checkAscending) and Query answers again from a sorted copy if it
// was wrong.
func (r *Result) trustBatch(addrs []uint64) *batch {
	r.batch = batch{addrs: addrs}
	r.checkOrder = true
	return &r.batch
}

func (r *Result) sortUnsorted(addrs []uint64) {
	n := len(addrs)
	pairs := grow(r.pairs, n)
	for i, a := range addrs {
		pairs[i] = addrIndex{a, uint32(i)}
	}
	pairs, r.sortTmp = sortPairs(pairs, r.sortTmp)
	r.pairs = pairs // the two buffers may have swapped
	r.sortedAddrs, r.order = grow(r.sortedAddrs, n), grow(r.order, n)
	for i, p := range pairs {
		r.sortedAddrs[i], r.order[i] = p.addr, p.idx
	}
	r.batch = batch{addrs: r.sortedAddrs, order: r.order}
	if 32*n >= bigScratch { // the sort's buffers are done with
		r.pairs, r.sortTmp = nil, nil
		r.released += 32 * n
	}
}

// bigScratch is the size from which scratch is dropped as soon as a call
// is done with it instead of kept for the next call: a rare huge batch must
// not pin its memory for the life of the Result.
const bigScratch = 16 << 20

// releaseBatch drops a big unsorted batch's addresses and order once the
// call is over, and gives the memory dropped during the call back to the
// system when it is large (see freeOSMemoryFrom).
func (r *Result) releaseBatch() {
	if n := 12 * cap(r.order); n >= bigScratch {
		r.sortedAddrs, r.order, r.batch = nil, nil, batch{}
		r.released += n
	}
	if r.released > 0 {
		freeIfLarge(r.released)
		r.released = 0
	}
}

// grow returns s resized to n, reusing its storage when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// sortPairs sorts pairs by address, stably, using tmp (grown as needed) as
// scratch, and returns the sorted slice (pairs or tmp's storage) and the
// scratch to keep. A least-significant-digit radix sort on the address
// bytes that differ: user-space addresses share their top bytes, so a batch
// usually needs 4-5 passes; a comparison sort with a function comparator
// costs several times more on 3,000 addresses.
func sortPairs(pairs, tmp []addrIndex) (sorted, scratch []addrIndex) {
	n := len(pairs)
	if n < 48 {
		for i := 1; i < n; i++ {
			for j := i; j > 0 && pairs[j].addr < pairs[j-1].addr; j-- {
				pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
			}
		}
		return pairs, tmp
	}
	if cap(tmp) < n {
		tmp = make([]addrIndex, n)
	}
	tmp = tmp[:n]
	var diff uint64
	first := pairs[0].addr
	for _, p := range pairs {
		diff |= p.addr ^ first
	}
	src, dst := pairs, tmp
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xff == 0 {
			continue // every address has the same byte here
		}
		count = [256]int{}
		for _, p := range src {
			count[(p.addr>>shift)&0xff]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, p := range src {
			b := (p.addr >> shift) & 0xff
			dst[count[b]] = p
			count[b]++
		}
		src, dst = dst, src
	}
	return src, dst
}
