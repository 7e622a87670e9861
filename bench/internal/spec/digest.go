package spec

// The digest of a contender's answers: the same arithmetic as driver.c's
// mix/name_hash, so that digests from C, Go and Python drivers compare.
const (
	DigestSeed    uint64 = 0xcbf29ce484222325
	digestPrime   uint64 = 0x100000001b3
	digestMissing uint64 = ^uint64(0)
	// GateStart is the x86-64 vsyscall page, which only the text shows:
	// enumeration digests leave it out.
	GateStart uint64 = 0xffffffffff600000
)

// VMA is what a digest covers of one VMA.
type VMA struct {
	Start, End, Offset, Inode uint64
	Major, Minor              uint32
	Perms                     uint32 // PROCMAP_QUERY_VMA_* bits: r 1, w 2, x 4, s 8
	Name                      []byte
}

func mix(h, v uint64) uint64 { return (h ^ v) * digestPrime }

func nameHash(name []byte) uint64 {
	h := DigestSeed
	for _, c := range name {
		h = (h ^ uint64(c)) * digestPrime
	}
	return h
}

// MixVMA folds one VMA into h.
func MixVMA(h uint64, v *VMA) uint64 {
	h = mix(h, v.Start)
	h = mix(h, v.End)
	h = mix(h, v.Offset)
	h = mix(h, v.Inode)
	h = mix(h, uint64(v.Major)<<32|uint64(v.Minor))
	h = mix(h, uint64(v.Perms))
	return mix(h, nameHash(v.Name))
}

// MixMissing folds an address that has no VMA into h.
func MixMissing(h uint64) uint64 { return mix(h, digestMissing) }
