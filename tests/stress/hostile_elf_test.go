package stress

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libprocmapq/libprocmapq/core"
)

// elfSpec describes a crafted ELF64 little-endian file: an ELF header, a
// program header table with a PT_LOAD and a PT_NOTE, and a GNU build-ID
// note. Fields left zero take the values of a well-formed file.
type elfSpec struct {
	class, data      byte   // e_ident[EI_CLASS], [EI_DATA]; 0 = 64-bit LE
	phoff            uint64 // 0 = right after the header
	phnum, phentsize uint16 // 0 = 2 and 56
	noteOff          uint64 // 0 = after the program headers
	noteFileSize     uint64 // PT_NOTE p_filesz; 0 = the note's size
	namesz, descsz   uint32 // 0 = 4 and len(buildID)
	zeroNotes        int    // empty notes (namesz = descsz = 0) before the real one
	buildID          []byte
	truncate         int   // keep only this many bytes (0 = all)
	sparseSize       int64 // make the file this large (sparse)
}

// build returns the file's bytes (before truncation to sparseSize).
func (s elfSpec) build() []byte {
	le := binary.LittleEndian
	class, data := s.class, s.data
	if class == 0 {
		class = 2
	}
	if data == 0 {
		data = 1
	}
	phnum, phentsize := s.phnum, s.phentsize
	if phnum == 0 {
		phnum = 2
	}
	if phentsize == 0 {
		phentsize = 56
	}
	phoff := s.phoff
	if phoff == 0 {
		phoff = 64
	}
	var note bytes.Buffer
	for range s.zeroNotes {
		note.Write(make([]byte, 12))
	}
	namesz, descsz := s.namesz, s.descsz
	if namesz == 0 {
		namesz = 4
	}
	if descsz == 0 {
		descsz = uint32(len(s.buildID))
	}
	binary.Write(&note, le, [3]uint32{namesz, descsz, 3}) // NT_GNU_BUILD_ID
	note.WriteString("GNU\x00")
	note.Write(s.buildID)
	noteOff := s.noteOff
	if noteOff == 0 {
		noteOff = 64 + 2*56
	}
	noteSize := s.noteFileSize
	if noteSize == 0 {
		noteSize = uint64(note.Len())
	}
	size := max(noteOff+uint64(note.Len()), 64+2*56)
	if s.noteOff > 1<<30 {
		size = 64 + 2*56 // the note is beyond what we write (sparse files)
	}
	b := make([]byte, size)
	copy(b, []byte{0x7f, 'E', 'L', 'F', class, data, 1})
	le.PutUint16(b[16:], 3)  // ET_DYN
	le.PutUint16(b[18:], 62) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], phoff)
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[54:], phentsize)
	le.PutUint16(b[56:], phnum)
	le.PutUint16(b[58:], 64)
	ph := b[64:]
	le.PutUint32(ph[0:], 1) // PT_LOAD of the whole file
	le.PutUint32(ph[4:], 5)
	le.PutUint64(ph[32:], size)
	le.PutUint64(ph[40:], size)
	le.PutUint64(ph[48:], 0x1000)
	ph = b[64+56:]
	le.PutUint32(ph[0:], 4) // PT_NOTE
	le.PutUint32(ph[4:], 4)
	le.PutUint64(ph[8:], noteOff)
	le.PutUint64(ph[16:], noteOff)
	le.PutUint64(ph[32:], noteSize)
	le.PutUint64(ph[40:], noteSize)
	le.PutUint64(ph[48:], 4)
	if s.noteOff <= 1<<30 {
		copy(b[noteOff:], note.Bytes())
	}
	if s.truncate > 0 && s.truncate < len(b) {
		b = b[:s.truncate]
	}
	return b
}

// writeELF writes the file; for sparseSize it also puts the note at
// noteOff when that lies beyond the written bytes.
func (s elfSpec) write(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, s.build(), 0o644); err != nil {
		t.Fatal(err)
	}
	if s.sparseSize > 0 {
		if err := os.Truncate(path, s.sparseSize); err != nil {
			t.Fatal(err)
		}
	}
}

// mapTarget runs tests/stress/c/mapfiles on the paths and returns its pid
// and mapping start per path. It ends with the test.
func mapTarget(t *testing.T, paths ...string) (int, map[string]uint64) {
	t.Helper()
	cmd := exec.Command(cProgram(t, "mapfiles"), paths...)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	starts := map[string]uint64{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		if f[0] == "ready" {
			return cmd.Process.Pid, starts
		}
		if len(f) == 4 && f[0] == "map" {
			a, _ := strconv.ParseUint(f[1], 16, 64)
			starts[f[3]] = a
		}
	}
	t.Fatalf("mapfiles exited: %v", cmd.Wait())
	return 0, nil
}

// readChars is this process's rchar (bytes read by read/pread calls).
func readChars(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// normalizeOptionSets are the ways build IDs can be found: the kernel's
// (ioctl), read through map_files (text), read by path (text, no
// map_files).
var normalizeOptionSets = map[string]core.NormalizeOptions{
	"ioctl":           {Backend: core.BackendIoctl, BuildIDs: true, VirtAddrs: true, NoBuildIDCache: true},
	"text-map_files":  {Backend: core.BackendText, BuildIDs: true, VirtAddrs: true, NoBuildIDCache: true},
	"text-by-path":    {Backend: core.BackendText, BuildIDs: true, VirtAddrs: true, NoBuildIDCache: true, NoMapFiles: true},
	"auto-no-mapfile": {BuildIDs: true, NoMapFiles: true, NoBuildIDCache: true},
}

// normalizeBounded normalizes addr in pid with opts, failing the test if
// it takes over 10 s (a hang on a FIFO or a huge file) or reads more than
// maxRead bytes. It returns the address's meta.
func normalizeBounded(t *testing.T, pid int, addr uint64, opts core.NormalizeOptions, maxRead int64) core.Meta {
	t.Helper()
	h, err := core.Open(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var res core.Normalized
	done := make(chan error, 1)
	before := readChars(t)
	start := time.Now()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- h.Normalize([]uint64{addr}, &opts, &res)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("normalize: %v", err)
		}
	case <-time.After(60 * time.Second): // only a hang gets here, even on a loaded machine
		t.Fatalf("normalize still running after 60 s: hang")
	}
	read := readChars(t) - before
	if read > maxRead {
		t.Fatalf("normalize read %d bytes (limit %d) in %v", read, maxRead, time.Since(start))
	}
	hostileMaxRead, hostileMaxTime = max(hostileMaxRead, read), max(hostileMaxTime, time.Since(start))
	return res.Metas[res.Outputs[0].Meta]
}

// The most one hostile normalization read and took.
var (
	hostileMaxRead int64
	hostileMaxTime time.Duration
)

var (
	idA = []byte("AAAAAAAAAAAAAAAAAAAA")
	idB = []byte("BBBBBBBBBBBBBBBBBBBB")
)

// TestHostileMappedELF maps truncated, malformed and huge sparse ELF files
// and normalizes an address in each: no hang, reads bounded, no panic, and
// the build ID is the one planted in the file or none.
func TestHostileMappedELF(t *testing.T) {
	requireIoctl(t)
	dir := t.TempDir()
	cases := map[string]struct {
		spec elfSpec
		want []byte // the planted ID if it must be found; nil: found or none
	}{
		"valid":              {elfSpec{buildID: idA}, idA},
		"truncated-header":   {elfSpec{buildID: idA, truncate: 40}, nil},
		"truncated-phdrs":    {elfSpec{buildID: idA, truncate: 100}, nil},
		"truncated-note":     {elfSpec{buildID: idA, truncate: 64 + 2*56 + 20}, nil},
		"phdrs-beyond-eof":   {elfSpec{buildID: idA, phoff: 1 << 40}, nil},
		"phnum-65535":        {elfSpec{buildID: idA, phnum: 0xffff}, nil},
		"phentsize-0":        {elfSpec{buildID: idA, phentsize: 0xffff}, nil},
		"namesz-huge":        {elfSpec{buildID: idA, namesz: 0xffffffff}, nil},
		"descsz-huge":        {elfSpec{buildID: idA, descsz: 0xfffffff0}, nil},
		"note-filesz-huge":   {elfSpec{buildID: idA, noteFileSize: 1 << 62}, nil},
		"100k-empty-notes":   {elfSpec{buildID: idA, zeroNotes: 100000}, nil},
		"elf32-garbage":      {elfSpec{buildID: idA, class: 1}, nil},
		"big-endian-garbage": {elfSpec{buildID: idA, data: 2}, nil},
		"sparse-1TiB-note-at-end": {elfSpec{buildID: idA, sparseSize: 1 << 40, noteOff: 1<<40 - 4096,
			noteFileSize: 1 << 30}, nil},
		"sparse-1TiB-note-1GiB": {elfSpec{buildID: idA, sparseSize: 1 << 40, noteFileSize: 1 << 30}, nil},
	}
	var paths []string
	for name, c := range cases {
		p := filepath.Join(dir, name+".so")
		c.spec.write(t, p)
		paths = append(paths, p)
	}
	notELF := filepath.Join(dir, "not-elf.so")
	if err := os.WriteFile(notELF, bytes.Repeat([]byte("not an ELF file "), 300), 0o644); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, notELF)
	pid, starts := mapTarget(t, paths...)
	checked := 0
	for name, c := range cases {
		for optName, opts := range normalizeOptionSets {
			m := normalizeBounded(t, pid, starts[filepath.Join(dir, name+".so")]+16, opts, 64<<20)
			checked++
			switch {
			case m.Kind != core.MetaELF:
				t.Errorf("%s/%s: meta kind %v", name, optName, m.Kind)
			case c.want != nil && !bytes.Equal(m.BuildID, c.want):
				t.Errorf("%s/%s: build ID %q (%v), want %q", name, optName, m.BuildID, m.BuildIDSource, c.want)
			case len(m.BuildID) > 0 && !bytes.Equal(m.BuildID, idA):
				t.Errorf("%s/%s: build ID %q (%v): not the one in the file", name, optName, m.BuildID, m.BuildIDSource)
			}
		}
	}
	for optName, opts := range normalizeOptionSets {
		m := normalizeBounded(t, pid, starts[notELF]+16, opts, 64<<20)
		checked++
		if m.Kind != core.MetaELF || len(m.BuildID) != 0 {
			t.Errorf("not-elf/%s: kind %v build ID %q", optName, m.Kind, m.BuildID)
		}
	}
	t.Logf("%d hostile mapped files x %d option sets: %d normalizations, each < 10 s and < 64 MiB read", len(cases)+1,
		len(normalizeOptionSets), checked)
	fmt.Fprintf(os.Stderr, "FIGURE hostile-elf-mapped: files=%d normalizations=%d max_bytes_read=%d max_time=%v\n",
		len(cases)+1, checked, hostileMaxRead, hostileMaxTime)
}

// TestReplacedMappedFile maps an ELF with build ID A, then puts at its path
// a FIFO, a huge sparse ELF with build ID B, or a symlink to another ELF
// with build ID B: no hang, bounded reads, and never B.
func TestReplacedMappedFile(t *testing.T) {
	requireIoctl(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "other.so")
	elfSpec{buildID: idB}.write(t, other)
	replacements := map[string]func(path string) error{
		"fifo": func(p string) error { return syscall.Mkfifo(p, 0o644) },
		"sparse-1TiB-elf-B": func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.Write(elfSpec{buildID: idB}.build()); err != nil {
				return err
			}
			return f.Truncate(1 << 40)
		},
		"symlink-to-B": func(p string) error { return os.Symlink(other, p) },
	}
	var paths []string
	for name := range replacements {
		p := filepath.Join(dir, name+".so")
		elfSpec{buildID: idA}.write(t, p)
		paths = append(paths, p)
	}
	pid, starts := mapTarget(t, paths...)
	for name, replace := range replacements {
		p := filepath.Join(dir, name+".so")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := replace(p); err != nil {
			t.Fatal(err)
		}
	}
	// A FIFO with a writer that never writes: a read that reached it would
	// block forever, not just until EOF.
	fifoWriter, err := os.OpenFile(filepath.Join(dir, "fifo.so"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifoWriter.Close()
	for name := range replacements {
		for optName, opts := range normalizeOptionSets {
			m := normalizeBounded(t, pid, starts[filepath.Join(dir, name+".so")]+16, opts, 64<<20)
			if bytes.Equal(m.BuildID, idB) {
				t.Errorf("%s/%s: build ID of the replacement reported (misattribution)", name, optName)
			} else if len(m.BuildID) > 0 && !bytes.Equal(m.BuildID, idA) {
				t.Errorf("%s/%s: build ID %q", name, optName, m.BuildID)
			}
			// Through map_files or the kernel, the mapped file itself is
			// still there: its ID must be found.
			if optName != "text-by-path" && optName != "auto-no-mapfile" && !bytes.Equal(m.BuildID, idA) {
				t.Errorf("%s/%s: build ID %q (%v), want the mapped file's %q", name, optName, m.BuildID, m.BuildIDSource, idA)
			}
			t.Logf("%s/%s: build ID %q source %v flags %#x", name, optName, m.BuildID, m.BuildIDSource, m.Flags)
		}
	}
	fmt.Fprintf(os.Stderr, "FIGURE hostile-elf-replaced: replacements=%d normalizations=%d max_bytes_read=%d max_time=%v\n",
		len(replacements), len(replacements)*len(normalizeOptionSets), hostileMaxRead, hostileMaxTime)
}
