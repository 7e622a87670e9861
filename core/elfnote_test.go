package core

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// countingReader is an in-memory preader that counts the bytes asked for.
type countingReader struct {
	data      []byte
	requested int
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	r.requested += len(p)
	if off < 0 || off >= int64(len(r.data)) {
		return 0, nil
	}
	return copy(p, r.data[off:]), nil
}

// elfImage builds a small ELF file: header, program headers, then the
// given note blobs, each in its own PT_NOTE (and SHT_NOTE section when
// sections is set), with one PT_LOAD covering the file.
type elfImage struct {
	is64      bool
	bigEndian bool
	notes     [][]byte
	sections  bool // describe the notes with sections instead of PT_NOTE
	loadVAddr uint64
}

func gnuNote(order binary.AppendByteOrder, name string, typ uint32, desc []byte) []byte {
	b := order.AppendUint32(nil, uint32(len(name)+1))
	b = order.AppendUint32(b, uint32(len(desc)))
	b = order.AppendUint32(b, typ)
	b = append(b, name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, desc...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (im elfImage) order() interface {
	binary.ByteOrder
	binary.AppendByteOrder
} {
	if im.bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func (im elfImage) bytes() []byte {
	o := im.order()
	ehsize, phent, shent := 52, 32, 40
	if im.is64 {
		ehsize, phent, shent = 64, 56, 64
	}
	nph := 1
	if !im.sections {
		nph += len(im.notes)
	}
	nsh := 0
	if im.sections {
		nsh = len(im.notes) + 1
	}
	dataOff := ehsize + nph*phent
	var data []byte
	var offs []int
	for _, n := range im.notes {
		offs = append(offs, dataOff+len(data))
		data = append(data, n...)
	}
	shoff := dataOff + len(data)
	total := shoff + nsh*shent
	b := make([]byte, ehsize, total)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 1, 1, 1
	if im.is64 {
		b[4] = 2
	}
	if im.bigEndian {
		b[5] = 2
	}
	put := func(buf []byte, off, size int, v uint64) {
		switch size {
		case 2:
			o.PutUint16(buf[off:], uint16(v))
		case 4:
			o.PutUint32(buf[off:], uint32(v))
		case 8:
			o.PutUint64(buf[off:], v)
		}
	}
	if im.is64 {
		put(b, 32, 8, uint64(ehsize)) // e_phoff
		if nsh > 0 {
			put(b, 40, 8, uint64(shoff))
		}
		put(b, 54, 2, uint64(phent))
		put(b, 56, 2, uint64(nph))
		put(b, 58, 2, uint64(shent))
		put(b, 60, 2, uint64(nsh))
	} else {
		put(b, 28, 4, uint64(ehsize))
		if nsh > 0 {
			put(b, 32, 4, uint64(shoff))
		}
		put(b, 42, 2, uint64(phent))
		put(b, 44, 2, uint64(nph))
		put(b, 46, 2, uint64(shent))
		put(b, 48, 2, uint64(nsh))
	}
	phdr := func(typ uint32, off, vaddr, filesz, align uint64) {
		e := make([]byte, phent)
		o.PutUint32(e, typ)
		if im.is64 {
			put(e, 8, 8, off)
			put(e, 16, 8, vaddr)
			put(e, 32, 8, filesz)
			put(e, 40, 8, filesz)
			put(e, 48, 8, align)
		} else {
			put(e, 4, 4, off)
			put(e, 8, 4, vaddr)
			put(e, 16, 4, filesz)
			put(e, 20, 4, filesz)
			put(e, 28, 4, align)
		}
		b = append(b, e...)
	}
	phdr(ptLoad, 0, im.loadVAddr, uint64(shoff), 0x1000)
	if !im.sections {
		for i, n := range im.notes {
			phdr(ptNote, uint64(offs[i]), 0, uint64(len(n)), 4)
		}
	}
	b = append(b, data...)
	if im.sections {
		b = append(b, make([]byte, shent)...) // SHN_UNDEF
		for i, n := range im.notes {
			e := make([]byte, shent)
			put(e, 4, 4, shtNote)
			if im.is64 {
				put(e, 24, 8, uint64(offs[i]))
				put(e, 32, 8, uint64(len(n)))
				put(e, 48, 8, 4)
			} else {
				put(e, 16, 4, uint64(offs[i]))
				put(e, 20, 4, uint64(len(n)))
				put(e, 32, 4, 4)
			}
			b = append(b, e...)
		}
	}
	return b
}

// TestReadELFSynthetic: hand-made ELF files of both classes and byte
// orders, with the build ID in a segment, in a section, after notes that
// must be skipped (other owner, other type, empty), of unusual lengths.
func TestReadELFSynthetic(t *testing.T) {
	id20 := bytes.Repeat([]byte{0xa5}, 20)
	id3 := []byte{1, 2, 3}
	id100 := bytes.Repeat([]byte{0x3c}, 100)
	for _, is64 := range []bool{false, true} {
		for _, be := range []bool{false, true} {
			o := elfImage{bigEndian: be}.order()
			decoys := append(append(gnuNote(o, "GNU", 1, []byte{0, 0, 0, 0}), // ABI tag
				gnuNote(o, "Go", ntGNUBuildID, []byte("not-gnu"))...), // other owner
				gnuNote(o, "GNU", ntGNUBuildID, nil)...) // empty descriptor
			for _, c := range []struct {
				name      string
				notes     [][]byte
				sections  bool
				want      []byte
				inSection bool
			}{
				{"segment", [][]byte{gnuNote(o, "GNU", ntGNUBuildID, id20)}, false, id20, false},
				{"after-decoys", [][]byte{decoys, gnuNote(o, "GNU", ntGNUBuildID, id3)}, false, id3, false},
				{"same-region", [][]byte{append(append([]byte{}, decoys...), gnuNote(o, "GNU", ntGNUBuildID, id100)...)}, false, id100, false},
				{"section", [][]byte{gnuNote(o, "GNU", ntGNUBuildID, id20)}, true, id20, true},
				{"none", [][]byte{decoys}, false, nil, false},
				{"too-long", [][]byte{gnuNote(o, "GNU", ntGNUBuildID, make([]byte, elfMaxBuildID+4))}, false, nil, false},
			} {
				im := elfImage{is64: is64, bigEndian: be, notes: c.notes, sections: c.sections, loadVAddr: 0x400000}
				data := im.bytes()
				r := &countingReader{data: data}
				var sc elfScratch
				info, err := readELF(r, uint64(len(data)), true, true, &sc)
				name := c.name + "/64=" + strconv.FormatBool(is64) + "/be=" + strconv.FormatBool(be)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if !bytes.Equal(info.BuildID, c.want) || info.BuildIDInSection != c.inSection {
					t.Errorf("%s: build ID %x (section %v), want %x (%v)", name, info.BuildID, info.BuildIDInSection, c.want, c.inSection)
				}
				if len(info.Loads) != 1 || info.Loads[0] != (loadSegment{0, uint64(len(data)) - uint64(im.shSize()), 0x400000}) {
					t.Errorf("%s: loads %+v", name, info.Loads)
				}
			}
		}
	}
}

func (im elfImage) shSize() int {
	if !im.sections {
		return 0
	}
	if im.is64 {
		return (len(im.notes) + 1) * 64
	}
	return (len(im.notes) + 1) * 40
}

// TestReadELFBounds: hostile headers are refused or read only up to the
// limits, whatever sizes they claim.
func TestReadELFBounds(t *testing.T) {
	o := binary.LittleEndian
	base := elfImage{is64: true, notes: [][]byte{gnuNote(o, "GNU", ntGNUBuildID, []byte{1, 2, 3, 4})}}.bytes()
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(base); f(b); return b }
	for _, c := range []struct {
		name string
		data []byte
		size uint64 // claimed file size (0 = len(data))
	}{
		{"phnum-max", mut(func(b []byte) { o.PutUint16(b[56:], 0xffff) }), 0},
		{"phnum-over-limit", mut(func(b []byte) { o.PutUint16(b[56:], elfMaxPhnum+1) }), 0},
		{"phoff-huge", mut(func(b []byte) { o.PutUint64(b[32:], 1<<63) }), 0},
		{"phentsize-huge", mut(func(b []byte) { o.PutUint16(b[54:], 0xffff) }), 0},
		{"phentsize-small", mut(func(b []byte) { o.PutUint16(b[54:], 8) }), 0},
		{"note-size-huge", mut(func(b []byte) { o.PutUint64(b[64+56+32:], 1<<62) }), 1 << 40},
		{"note-offset-huge", mut(func(b []byte) { o.PutUint64(b[64+56+8:], 1<<62) }), 1 << 40},
		{"namesz-huge", mut(func(b []byte) { o.PutUint32(b[64+2*56:], 0xfffffff0) }), 0},
		{"descsz-huge", mut(func(b []byte) { o.PutUint32(b[64+2*56+4:], 0xfffffff0) }), 0},
		{"truncated", base[:70], 0},
		{"shentsize-large", func() []byte {
			b := elfImage{is64: true, sections: true, notes: [][]byte{gnuNote(o, "X", 1, nil)}}.bytes()
			o.PutUint16(b[58:], 1024)
			o.PutUint16(b[60:], elfMaxShnum)
			return b
		}(), 1 << 40},
		{"claims-1TiB", base, 1 << 40},
		{"not-elf", []byte("#!/bin/sh\necho hello, this is not an ELF file at all\n"), 0},
	} {
		size := c.size
		if size == 0 {
			size = uint64(len(c.data))
		}
		r := &countingReader{data: c.data}
		var sc elfScratch
		info, err := readELF(r, size, true, true, &sc)
		if r.requested > elfMaxRead {
			t.Errorf("%s: asked for %d bytes, limit %d", c.name, r.requested, elfMaxRead)
		}
		if len(info.BuildID) > 0 && !bytes.Contains(c.data, info.BuildID) {
			t.Errorf("%s: build ID %x not in the input", c.name, info.BuildID)
		}
		t.Logf("%s: err=%v id=%x requested=%d", c.name, err, info.BuildID, r.requested)
	}
	// A 1 MiB note region claimed at the start is read only up to the limit.
	big := elfImage{is64: true, notes: [][]byte{append(gnuNote(o, "XX", 1, make([]byte, 1<<20)), gnuNote(o, "GNU", ntGNUBuildID, []byte{9})...)}}.bytes()
	r := &countingReader{data: big}
	var sc elfScratch
	info, _ := readELF(r, uint64(len(big)), true, false, &sc)
	if r.requested > 64+2*56+elfMaxNoteRegion || info.BuildID != nil {
		t.Errorf("big note region: requested %d bytes, id %x", r.requested, info.BuildID)
	}
}

// TestReadELFRealFiles compares the reader with readelf on real files:
// the test shared objects, the loader, libc and this test binary.
func TestReadELFRealFiles(t *testing.T) {
	f := needELFFixtures(t)
	files := map[string][]byte{f.loader: f.loaderID}
	for _, l := range f.libs {
		files[l.path] = l.fileID
	}
	loader := startLoader(t, f, nil)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{self, libcPath(t, loader.pid)} {
		id, err := readelfBuildID(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = id
	}
	for path, want := range files {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		var sc elfScratch
		info, err := readELF(&fdReader{fd}, uint64(st.Size), true, true, &sc)
		unix.Close(fd)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if !bytes.Equal(info.BuildID, want) {
			t.Errorf("%s: build ID %x, readelf says %x", path, info.BuildID, want)
		}
		if wantLoads := readelfLoads(t, path); !equalLoads(info.Loads, wantLoads) {
			t.Errorf("%s: loads %+v, readelf says %+v", path, info.Loads, wantLoads)
		}
	}
}

func equalLoads(a, b []loadSegment) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// readelfLoads returns the PT_LOAD segments `readelf -lW` prints.
func readelfLoads(t *testing.T, path string) []loadSegment {
	out, err := run("readelf", "-lW", path)
	if err != nil {
		t.Fatal(err)
	}
	var loads []loadSegment
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "LOAD" {
			continue
		}
		n := func(s string) uint64 { v, _ := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64); return v }
		loads = append(loads, loadSegment{Offset: n(f[1]), VAddr: n(f[2]), FileSize: n(f[4])})
	}
	return loads
}

// TestLookupFileRefusesNonRegular: a FIFO or a directory whose inode
// matches the VMA is never opened (a FIFO would block) nor attributed.
func TestLookupFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dir} {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		v := VMA{Name: []byte(path), Inode: st.Ino, DevMajor: unix.Major(st.Dev), DevMinor: unix.Minor(st.Dev), Kind: KindFile}
		done := make(chan *fileFacts, 1)
		go func() {
			var sc fileScratch
			f, _ := sc.lookupFile(&fileTarget{pid: -1, vma: &v, cached: false})
			done <- f
		}()
		select {
		case f := <-done:
			if f != nil {
				t.Errorf("%s: read %+v", path, f)
			}
		case <-time.After(hangTimeout):
			t.Fatalf("%s: lookup blocked", path)
		}
	}
}

// hangTimeout detects a blocked read (a FIFO without a writer): only a hang
// reaches it, so it is generous enough for a loaded 2-core machine.
const hangTimeout = 60 * time.Second

// TestReadFileSwappedForFIFO: a path that became a FIFO after it was
// stat'ed as the mapped regular file is refused before any read open
// (which would block on a FIFO without a writer).
func TestReadFileSwappedForFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lib.so")
	if err := os.WriteFile(path, []byte("\x7fELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sc fileScratch
	sc.path = append([]byte(path), 0)
	if statxPath(sc.path, &sc.stx) != 0 {
		t.Fatal("statx")
	}
	key := keyOf(&sc.stx)
	os.Remove(path)
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { _, ok := sc.readFile(&key); done <- ok }()
	select {
	case ok := <-done:
		if ok {
			t.Error("read a FIFO as the stat'ed file")
		}
	case <-time.After(hangTimeout):
		t.Fatal("readFile blocked on a FIFO")
	}
}

// fuzzSeeds are inputs every go test runs through the fuzz targets.
func fuzzSeeds(tb testing.TB) [][]byte {
	o := binary.LittleEndian
	seeds := [][]byte{
		nil, []byte("\x7fELF"),
		elfImage{is64: true, notes: [][]byte{gnuNote(o, "GNU", ntGNUBuildID, []byte{1, 2, 3, 4, 5})}}.bytes(),
		elfImage{is64: false, bigEndian: true, notes: [][]byte{gnuNote(binary.BigEndian, "GNU", ntGNUBuildID, make([]byte, 32))}}.bytes(),
		elfImage{is64: true, sections: true, notes: [][]byte{gnuNote(o, "GNU", ntGNUBuildID, make([]byte, 24))}}.bytes(),
	}
	f := needELFFixtures(tb)
	for _, name := range []string{"sha1", "section", "two"} {
		b, err := os.ReadFile(f.libs[name].path)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzReadELF: no panic, no read beyond the limits, and any build ID
// found is bytes of the input, for any input.
func FuzzReadELF(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint64(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, extraSize uint64) {
		r := &countingReader{data: data}
		var sc elfScratch
		info, _ := readELF(r, uint64(len(data))+extraSize%(1<<40), true, true, &sc)
		if r.requested > elfMaxRead {
			t.Fatalf("asked for %d bytes, limit %d", r.requested, elfMaxRead)
		}
		if len(info.BuildID) > elfMaxBuildID || (len(info.BuildID) > 0 && !bytes.Contains(data, info.BuildID)) {
			t.Fatalf("build ID %x", info.BuildID)
		}
		if len(info.Loads) > elfMaxLoads {
			t.Fatalf("%d loads", len(info.Loads))
		}
	})
}

// FuzzScanNotes: the note walker on raw bytes, in both byte orders and
// both paddings.
func FuzzScanNotes(f *testing.F) {
	o := binary.LittleEndian
	f.Add(gnuNote(o, "GNU", ntGNUBuildID, []byte{1, 2, 3}), false, uint64(4))
	f.Add(append(gnuNote(o, "GNU", 5, make([]byte, 12)), gnuNote(o, "GNU", ntGNUBuildID, make([]byte, 20))...), false, uint64(8))
	f.Add(gnuNote(binary.BigEndian, "GNU", ntGNUBuildID, make([]byte, 16)), true, uint64(4))
	id, _ := hex.DecodeString(sectionID)
	f.Add(gnuNote(o, "GNU", ntGNUBuildID, id), false, uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, bigEndian bool, align uint64) {
		h := elfHeader{order: binary.LittleEndian, fileSize: uint64(len(data))}
		if bigEndian {
			h.order = binary.BigEndian
		}
		r := &countingReader{data: data}
		var sc elfScratch
		id, err := sc.scanNotes(r, &h, 0, uint64(len(data)), align)
		if r.requested > elfMaxNoteRegion {
			t.Fatalf("asked for %d bytes", r.requested)
		}
		if err == nil && len(id) > 0 && (len(id) > elfMaxBuildID || !bytes.Contains(data, id)) {
			t.Fatalf("build ID %x", id)
		}
	})
}
