package core

import (
	"encoding/binary"
	"errors"
	"io"
)

// A small ELF reader with explicit bounds, for files this package does not
// trust (any file a target maps). It reads only the ELF header, the program
// headers, the section headers and note contents, each through pread into
// a reused scratch buffer, and gives up beyond the limits below instead of
// allocating or reading without end. debug/elf is not used: it sizes its
// allocations from header fields.

// Limits on what one ELF read may touch.
const (
	elfMaxPhnum = 1024 // program headers looked at
	elfMaxShnum = 4096 // section headers looked at
	// elfMaxNoteRegion bounds the bytes of one PT_NOTE segment or SHT_NOTE
	// section that are scanned (build-ID notes sit at the start).
	elfMaxNoteRegion = 64 << 10
	// elfMaxNoteRegions bounds how many note regions are scanned.
	elfMaxNoteRegions = 32
	// elfMaxBuildID bounds the length of an accepted build ID: real ones
	// are 8 to 64 bytes (sha1 20, md5/uuid 16, xxhash 8, sha256 32).
	elfMaxBuildID = 1024
	// elfMaxLoads bounds the PT_LOAD segments kept for virtual addresses.
	elfMaxLoads = 64
	// elfMaxTable bounds the bytes of one header table (entries may be
	// larger than the standard 56 or 64 bytes, but not without limit).
	elfMaxTable = 256 << 10
	// elfMaxRead is the most bytes one readELF call can request in all:
	// header, program and section header tables, note regions.
	elfMaxRead = elfHeaderSize + 2*elfMaxTable + elfMaxNoteRegions*elfMaxNoteRegion
)

const (
	ptLoad        = 1
	ptNote        = 4
	shtNote       = 7
	ntGNUBuildID  = 3
	elfHeaderSize = 64
)

var (
	errNotELF    = errors.New("not an ELF file")
	errBadELF    = errors.New("malformed ELF file")
	errELFLimits = errors.New("ELF structure beyond this reader's limits")
)

// preader reads at absolute offsets, like pread(2).
type preader interface {
	ReadAt(p []byte, off int64) (int, error)
}

// loadSegment is the file range and virtual address of one PT_LOAD.
type loadSegment struct {
	Offset, FileSize, VAddr uint64
}

// elfInfo is what readELF found.
type elfInfo struct {
	// BuildID aliases the scratch buffer; empty when there is none.
	BuildID []byte
	// BuildIDInSection: the build ID came from an SHT_NOTE section outside
	// every PT_NOTE segment (the kernel cannot see it).
	BuildIDInSection bool
	Loads            []loadSegment // aliases the scratch
	// LoadsTruncated: more than elfMaxLoads PT_LOAD segments.
	LoadsTruncated bool
}

// elfScratch is readELF's reusable memory.
type elfScratch struct {
	header  [elfHeaderSize]byte // here, not on the stack: it escapes through preader
	buf     []byte
	loads   []loadSegment
	regions [elfMaxNoteRegions][2]uint64 // note regions already scanned
}

// elfHeader holds the fields readELF uses.
type elfHeader struct {
	order                binary.ByteOrder
	is64                 bool
	phoff, shoff         uint64
	phentsize, shentsize uint64
	phnum, shnum         uint64
	phEntMin, shEntMin   uint64
	noteAlignDefault     uint64
	fileSize             uint64
}

// readELF reads the build ID and the PT_LOAD segments of the ELF file
// behind r, whose size is size bytes. wantBuildID and wantLoads say what
// to look for. The build ID is the first note named "GNU" of type
// NT_GNU_BUILD_ID with a non-empty descriptor of at most elfMaxBuildID
// bytes, searched in PT_NOTE segments first, then in SHT_NOTE sections.
func readELF(r preader, size uint64, wantBuildID, wantLoads bool, sc *elfScratch) (elfInfo, error) {
	var info elfInfo
	if size < 52 {
		return info, errNotELF
	}
	n, _ := r.ReadAt(sc.header[:], 0)
	if n < 52 {
		return info, errNotELF
	}
	hdr, err := parseELFHeader(sc.header[:n], size)
	if err != nil {
		return info, err
	}
	sc.loads = sc.loads[:0]
	nregions := 0
	// Program headers: PT_LOAD for virtual addresses, PT_NOTE for the
	// build ID (as the kernel looks).
	if hdr.phnum > 0 {
		if hdr.phnum > elfMaxPhnum {
			return info, errELFLimits
		}
		tbl, err := sc.readTable(r, hdr.phoff, hdr.phentsize, hdr.phnum, hdr.phEntMin, hdr.fileSize)
		if err != nil {
			return info, err
		}
		// Copy PT_NOTE locations out first: note scanning reuses sc.buf.
		var notes [elfMaxNoteRegions][3]uint64
		nnotes := 0
		for i := uint64(0); i < hdr.phnum; i++ {
			e := tbl[i*hdr.phentsize:]
			typ, off, vaddr, filesz, align := hdr.phdr(e)
			switch typ {
			case ptLoad:
				if !wantLoads {
					continue
				}
				if len(sc.loads) == elfMaxLoads {
					info.LoadsTruncated = true
					continue
				}
				sc.loads = append(sc.loads, loadSegment{off, filesz, vaddr})
			case ptNote:
				if wantBuildID && nnotes < len(notes) {
					notes[nnotes] = [3]uint64{off, filesz, align}
					nnotes++
				}
			}
		}
		for i := 0; i < nnotes && info.BuildID == nil; i++ {
			info.BuildID, err = sc.scanNotes(r, &hdr, notes[i][0], notes[i][1], notes[i][2])
			if err != nil {
				return elfInfo{}, err
			}
			if nregions < len(sc.regions) {
				sc.regions[nregions] = [2]uint64{notes[i][0], notes[i][1]}
				nregions++
			}
		}
	}
	info.Loads = sc.loads
	if !wantBuildID || info.BuildID != nil || hdr.shnum == 0 {
		return info, nil
	}
	// Section headers: SHT_NOTE sections outside the PT_NOTE segments
	// (stripped program-header notes, or a note only in a section).
	if hdr.shnum > elfMaxShnum {
		return info, errELFLimits
	}
	var notes [elfMaxNoteRegions][3]uint64
	nnotes := 0
	tbl, err := sc.readTable(r, hdr.shoff, hdr.shentsize, hdr.shnum, hdr.shEntMin, hdr.fileSize)
	if err != nil {
		// The program headers were fine; a bad section table only costs
		// the section-only build ID.
		return info, nil
	}
	for i := uint64(0); i < hdr.shnum && nnotes < len(notes); i++ {
		typ, off, size, align := hdr.shdr(tbl[i*hdr.shentsize:])
		if typ != shtNote || size == 0 || coveredBy(sc.regions[:nregions], off, size) {
			continue
		}
		notes[nnotes] = [3]uint64{off, size, align}
		nnotes++
	}
	for i := 0; i < nnotes && nregions+i < elfMaxNoteRegions; i++ {
		id, err := sc.scanNotes(r, &hdr, notes[i][0], notes[i][1], notes[i][2])
		if err != nil {
			continue
		}
		if id != nil {
			info.BuildID, info.BuildIDInSection = id, true
			break
		}
	}
	return info, nil
}

// coveredBy reports whether [off, off+size) lies inside a scanned region.
func coveredBy(regions [][2]uint64, off, size uint64) bool {
	for _, r := range regions {
		if off >= r[0] && off-r[0] <= r[1] && size <= r[1]-(off-r[0]) {
			return true
		}
	}
	return false
}

func parseELFHeader(b []byte, size uint64) (elfHeader, error) {
	h := elfHeader{fileSize: size}
	if b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' {
		return h, errNotELF
	}
	switch b[5] {
	case 1:
		h.order = binary.LittleEndian
	case 2:
		h.order = binary.BigEndian
	default:
		return h, errBadELF
	}
	if b[6] != 1 {
		return h, errBadELF
	}
	switch b[4] {
	case 1: // ELFCLASS32
		h.phoff = uint64(h.order.Uint32(b[28:]))
		h.shoff = uint64(h.order.Uint32(b[32:]))
		h.phentsize = uint64(h.order.Uint16(b[42:]))
		h.phnum = uint64(h.order.Uint16(b[44:]))
		h.shentsize = uint64(h.order.Uint16(b[46:]))
		h.shnum = uint64(h.order.Uint16(b[48:]))
		h.phEntMin, h.shEntMin = 32, 40
	case 2: // ELFCLASS64
		if len(b) < elfHeaderSize {
			return h, errNotELF
		}
		h.is64 = true
		h.phoff = h.order.Uint64(b[32:])
		h.shoff = h.order.Uint64(b[40:])
		h.phentsize = uint64(h.order.Uint16(b[54:]))
		h.phnum = uint64(h.order.Uint16(b[56:]))
		h.shentsize = uint64(h.order.Uint16(b[58:]))
		h.shnum = uint64(h.order.Uint16(b[60:]))
		h.phEntMin, h.shEntMin = 56, 64
	default:
		return h, errBadELF
	}
	// PN_XNUM and SHN_UNDEF-with-count-in-section-0 (more than 0xff00
	// entries) are beyond the limits anyway: treat them as "too many".
	if h.phnum == 0xffff {
		h.phnum = elfMaxPhnum + 1
	}
	if h.phoff == 0 {
		h.phnum = 0
	}
	if h.shoff == 0 {
		h.shnum = 0
	}
	return h, nil
}

// readTable reads num entries of entsize bytes at off into sc.buf.
func (sc *elfScratch) readTable(r preader, off, entsize, num, entMin, fileSize uint64) ([]byte, error) {
	if entsize < entMin || entsize > 1024 {
		return nil, errBadELF
	}
	total := entsize * num // at most 1024 * 4096
	if total > elfMaxTable {
		return nil, errELFLimits
	}
	if off > fileSize || total > fileSize-off {
		return nil, errBadELF
	}
	if uint64(cap(sc.buf)) < total {
		sc.buf = make([]byte, total)
	}
	b := sc.buf[:total]
	if err := readFull(r, b, off); err != nil {
		return nil, err
	}
	return b, nil
}

func readFull(r preader, b []byte, off uint64) error {
	if off > 1<<62 {
		return errBadELF
	}
	n, err := r.ReadAt(b, int64(off))
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return errBadELF
	}
	return err
}

func (h *elfHeader) phdr(e []byte) (typ uint32, off, vaddr, filesz, align uint64) {
	o := h.order
	typ = o.Uint32(e)
	if h.is64 {
		return typ, o.Uint64(e[8:]), o.Uint64(e[16:]), o.Uint64(e[32:]), o.Uint64(e[48:])
	}
	return typ, uint64(o.Uint32(e[4:])), uint64(o.Uint32(e[8:])), uint64(o.Uint32(e[16:])), uint64(o.Uint32(e[28:]))
}

func (h *elfHeader) shdr(e []byte) (typ uint32, off, size, align uint64) {
	o := h.order
	typ = o.Uint32(e[4:])
	if h.is64 {
		return typ, o.Uint64(e[24:]), o.Uint64(e[32:]), o.Uint64(e[48:])
	}
	return typ, uint64(o.Uint32(e[16:])), uint64(o.Uint32(e[20:])), uint64(o.Uint32(e[32:]))
}

// scanNotes looks for the GNU build-ID note in the note region at off. It
// returns nil, nil when the region holds none. Note entries are padded to
// 8 bytes in 8-aligned regions (as .note.gnu.property), else to 4.
func (sc *elfScratch) scanNotes(r preader, h *elfHeader, off, size, align uint64) ([]byte, error) {
	if off > h.fileSize {
		return nil, nil
	}
	size = min(size, h.fileSize-off, elfMaxNoteRegion)
	if size < 12 {
		return nil, nil
	}
	if uint64(cap(sc.buf)) < size {
		sc.buf = make([]byte, max(size, 4096))
	}
	b := sc.buf[:size]
	if err := readFull(r, b, off); err != nil {
		return nil, err
	}
	pad := uint64(4)
	if align == 8 {
		pad = 8
	}
	o := h.order
	for p := uint64(0); p+12 <= size; {
		namesz, descsz, typ := uint64(o.Uint32(b[p:])), uint64(o.Uint32(b[p+4:])), o.Uint32(b[p+8:])
		p += 12
		nameEnd := p + namesz
		if nameEnd > size {
			return nil, nil
		}
		descOff := alignUp(nameEnd, pad)
		if descOff > size || descsz > size-descOff {
			return nil, nil
		}
		if typ == ntGNUBuildID && namesz == 4 && string(b[p:nameEnd]) == "GNU\x00" &&
			descsz > 0 && descsz <= elfMaxBuildID {
			return b[descOff : descOff+descsz], nil
		}
		p = alignUp(descOff+descsz, pad)
	}
	return nil, nil
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
