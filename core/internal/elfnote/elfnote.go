// Package elfnote is a small ELF reader with explicit bounds, for files
// the caller does not trust (any file a target process maps). It finds the
// GNU build ID and the PT_LOAD segments, reading only the ELF header, the
// program headers, the section headers and note contents, each through
// ReadAt into a reused scratch buffer, and gives up beyond the limits below
// instead of allocating or reading without end. debug/elf is not used: it
// sizes its allocations from header fields.
//
// It knows nothing of processes or mappings: core/internal/locator finds
// and opens the files, core decides what to do with what was read.
package elfnote

import (
	"encoding/binary"
	"errors"
	"io"
)

// Limits on what one ELF read may touch.
const (
	elfMaxPhnum = 1024 // program headers looked at
	elfMaxShnum = 4096 // section headers looked at
	// elfMaxNoteRegion bounds the bytes of one PT_NOTE segment or SHT_NOTE
	// section that are scanned (build-ID notes sit at the start).
	elfMaxNoteRegion = 64 << 10
	// elfMaxNoteRegions bounds how many note regions are scanned, segments
	// and sections together.
	elfMaxNoteRegions = 32
	// elfMaxBuildID bounds the length of an accepted build ID: real ones
	// are 8 to 64 bytes (sha1 20, md5/uuid 16, xxhash 8, sha256 32).
	elfMaxBuildID = 1024
	// elfMaxLoads bounds the PT_LOAD segments kept for virtual addresses.
	elfMaxLoads = 64
	// elfMaxTable bounds the bytes of one header table (entries may be
	// larger than the standard 56 or 64 bytes, but not without limit).
	elfMaxTable = 256 << 10
	// elfMaxRead is the most bytes one Read call can request in all:
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

// The errors of Read that say the file has no usable ELF structure (as
// opposed to an I/O error, which Read returns as it came).
var (
	ErrNotELF = errors.New("not an ELF file")
	ErrBadELF = errors.New("malformed ELF file")
	ErrLimits = errors.New("ELF structure beyond this reader's limits")
)

// Segment is the file range and virtual address of one PT_LOAD.
type Segment struct {
	Offset, FileSize, VAddr uint64
}

// Info is what Read found.
type Info struct {
	// BuildID aliases the scratch buffer; empty when there is none.
	BuildID []byte
	// BuildIDInSection: the build ID came from an SHT_NOTE section outside
	// every PT_NOTE segment (the kernel cannot see it).
	BuildIDInSection bool
	Loads            []Segment // aliases the scratch
	// LoadsTruncated: more than elfMaxLoads PT_LOAD segments.
	LoadsTruncated bool
}

// Scratch is Read's reusable memory. The zero value is ready to use; one
// Scratch serves one Read at a time.
type Scratch struct {
	header   [elfHeaderSize]byte // here, not on the stack: it escapes through io.ReaderAt
	buf      []byte
	loads    []Segment
	segNotes regionList // PT_NOTE segments of the current file
	secNotes regionList // SHT_NOTE sections outside them
}

// region is one note region: a PT_NOTE segment or an SHT_NOTE section.
type region struct{ off, size, align uint64 }

// regionList is a bounded list of note regions.
type regionList struct {
	n int
	r [elfMaxNoteRegions]region
}

// add appends g unless the list is full or holds limit regions.
func (l *regionList) add(g region, limit int) {
	if l.n < min(limit, len(l.r)) {
		l.r[l.n] = g
		l.n++
	}
}

func (l *regionList) list() []region { return l.r[:l.n] }

// covers reports whether [off, off+size) lies inside one of the regions.
func (l *regionList) covers(off, size uint64) bool {
	for _, r := range l.list() {
		if off >= r.off && off-r.off <= r.size && size <= r.size-(off-r.off) {
			return true
		}
	}
	return false
}

// elfHeader holds the fields Read uses.
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

// Read reads the build ID and the PT_LOAD segments of the ELF file behind
// r, whose size is size bytes. wantBuildID and wantLoads say what to look
// for. The build ID is the first note named "GNU" of type NT_GNU_BUILD_ID
// with a non-empty descriptor of at most elfMaxBuildID bytes, searched in
// PT_NOTE segments first (where the kernel looks), then in SHT_NOTE
// sections outside them. The result aliases sc until its next use.
//
// Errors: ErrNotELF, ErrBadELF or ErrLimits when the structure is not
// usable, else the reader's own error.
func Read(r io.ReaderAt, size uint64, wantBuildID, wantLoads bool, sc *Scratch) (Info, error) {
	hdr, err := sc.readHeader(r, size)
	if err != nil {
		return Info{}, err
	}
	var info Info
	sc.loads, sc.segNotes.n, sc.secNotes.n = sc.loads[:0], 0, 0
	if info.LoadsTruncated, err = sc.readProgramHeaders(r, &hdr, wantBuildID, wantLoads); err != nil {
		return Info{}, err
	}
	info.Loads = sc.loads
	if !wantBuildID {
		return info, nil
	}
	// An I/O error inside a PT_NOTE fails the read (the caller must not
	// remember "no build ID" for a file it could not read).
	if info.BuildID, err = sc.firstBuildID(r, &hdr, sc.segNotes.list(), true); err != nil {
		return Info{}, err
	}
	if info.BuildID != nil || hdr.shnum == 0 {
		return info, nil
	}
	if hdr.shnum > elfMaxShnum {
		return info, ErrLimits
	}
	// The program headers were fine: a bad section table or note only
	// costs the section-only build ID.
	if sc.collectSectionNotes(r, &hdr) {
		info.BuildID, _ = sc.firstBuildID(r, &hdr, sc.secNotes.list(), false)
		info.BuildIDInSection = info.BuildID != nil
	}
	return info, nil
}

// readHeader reads and parses the ELF header.
func (sc *Scratch) readHeader(r io.ReaderAt, size uint64) (elfHeader, error) {
	if size < 52 {
		return elfHeader{}, ErrNotELF
	}
	n, _ := r.ReadAt(sc.header[:], 0)
	if n < 52 {
		return elfHeader{}, ErrNotELF
	}
	return parseELFHeader(sc.header[:n], size)
}

// readProgramHeaders appends the PT_LOAD segments to sc.loads (when
// wantLoads; truncated says some did not fit) and the PT_NOTE regions to
// sc.segNotes (when wantBuildID).
func (sc *Scratch) readProgramHeaders(r io.ReaderAt, h *elfHeader, wantBuildID, wantLoads bool) (truncated bool, err error) {
	if h.phnum == 0 {
		return false, nil
	}
	if h.phnum > elfMaxPhnum {
		return false, ErrLimits
	}
	tbl, err := sc.readTable(r, h.phoff, h.phentsize, h.phnum, h.phEntMin, h.fileSize)
	if err != nil {
		return false, err
	}
	for i := uint64(0); i < h.phnum; i++ {
		typ, off, vaddr, filesz, align := h.phdr(tbl[i*h.phentsize:])
		switch {
		case typ == ptLoad && wantLoads && len(sc.loads) == elfMaxLoads:
			truncated = true
		case typ == ptLoad && wantLoads:
			sc.loads = append(sc.loads, Segment{off, filesz, vaddr})
		case typ == ptNote && wantBuildID:
			sc.segNotes.add(region{off, filesz, align}, elfMaxNoteRegions)
		}
	}
	return truncated, nil
}

// collectSectionNotes lists in sc.secNotes the non-empty SHT_NOTE sections
// outside the PT_NOTE segments (stripped program-header notes, or a note
// only in a section), as many as the region budget has left after the
// segments. It reports false when the section table cannot be read.
func (sc *Scratch) collectSectionNotes(r io.ReaderAt, h *elfHeader) bool {
	tbl, err := sc.readTable(r, h.shoff, h.shentsize, h.shnum, h.shEntMin, h.fileSize)
	if err != nil {
		return false
	}
	budget := elfMaxNoteRegions - sc.segNotes.n
	for i := uint64(0); i < h.shnum && sc.secNotes.n < budget; i++ {
		typ, off, size, align := h.shdr(tbl[i*h.shentsize:])
		if typ == shtNote && size != 0 && !sc.segNotes.covers(off, size) {
			sc.secNotes.add(region{off, size, align}, budget)
		}
	}
	return true
}

// firstBuildID scans the regions in order and returns the first build ID
// found (nil when none). With ioErrorsFatal a region that cannot be read
// ends the search with its error; otherwise it is skipped.
func (sc *Scratch) firstBuildID(r io.ReaderAt, h *elfHeader, regions []region, ioErrorsFatal bool) ([]byte, error) {
	for _, g := range regions {
		id, err := sc.scanNotes(r, h, g.off, g.size, g.align)
		if err != nil && ioErrorsFatal {
			return nil, err
		}
		if err == nil && id != nil {
			return id, nil
		}
	}
	return nil, nil
}

func parseELFHeader(b []byte, size uint64) (elfHeader, error) {
	h := elfHeader{fileSize: size}
	if b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' {
		return h, ErrNotELF
	}
	switch b[5] {
	case 1:
		h.order = binary.LittleEndian
	case 2:
		h.order = binary.BigEndian
	default:
		return h, ErrBadELF
	}
	if b[6] != 1 {
		return h, ErrBadELF
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
			return h, ErrNotELF
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
		return h, ErrBadELF
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
func (sc *Scratch) readTable(r io.ReaderAt, off, entsize, num, entMin, fileSize uint64) ([]byte, error) {
	if entsize < entMin || entsize > 1024 {
		return nil, ErrBadELF
	}
	total := entsize * num // at most 1024 * 4096
	if total > elfMaxTable {
		return nil, ErrLimits
	}
	if off > fileSize || total > fileSize-off {
		return nil, ErrBadELF
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

func readFull(r io.ReaderAt, b []byte, off uint64) error {
	if off > 1<<62 {
		return ErrBadELF
	}
	n, err := r.ReadAt(b, int64(off))
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return ErrBadELF
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
func (sc *Scratch) scanNotes(r io.ReaderAt, h *elfHeader, off, size, align uint64) ([]byte, error) {
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
