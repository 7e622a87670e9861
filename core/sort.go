package core

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
