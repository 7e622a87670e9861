package core

import (
	"math/rand"
	"slices"
	"testing"
)

func TestSortPairsMatchesSlicesSort(t *testing.T) {
	var tmp []addrIndex
	for _, n := range []int{0, 1, 2, 47, 48, 49, 1000, 5000} {
		for _, spread := range []uint64{1, 4096, 1 << 40, ^uint64(0)} {
			p := make([]addrIndex, n)
			for i := range p {
				p[i] = addrIndex{0x7f0000000000 + uint64(rand.Int63())%spread, uint32(i)}
				if spread == ^uint64(0) {
					p[i].addr = rand.Uint64()
				}
			}
			want := slices.Clone(p)
			slices.SortStableFunc(want, func(a, b addrIndex) int {
				if a.addr < b.addr {
					return -1
				} else if a.addr > b.addr {
					return 1
				}
				return 0
			})
			var got []addrIndex
			got, tmp = sortPairs(p, tmp)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d spread=%#x: wrong order", n, spread)
			}
			if n > 0 && cap(tmp) > 0 && &got[0] == &tmp[:1][0] {
				t.Fatalf("n=%d: result and scratch share storage", n)
			}
		}
	}
}

func BenchmarkSortRadix(b *testing.B) {
	src := make([]addrIndex, 3000)
	for i := range src {
		src[i] = addrIndex{0x7f0000000000 + uint64(rand.Intn(460))*4096*37, uint32(i)}
	}
	p := make([]addrIndex, len(src))
	var tmp []addrIndex
	for b.Loop() {
		copy(p, src)
		p, tmp = sortPairs(p, tmp)
	}
}
