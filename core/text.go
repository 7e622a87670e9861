package core

import (
	"bytes"
	"fmt"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// textBufMin is the smallest read buffer: most processes' maps fit in one.
const textBufMin = 64 << 10

// maxTextSize bounds how much of a maps file is read (or accepted as a
// snapshot): 1 GiB, about 10 million VMAs, far above the kernel's default
// vm.max_map_count of 65530.
const maxTextSize = 1 << 30

// readAll reads the whole maps file on fd into buf (reused, grown as
// needed) with pread at offset 0, so no lseek is needed between reads.
// The kernel returns at most a page per read.
func readAll(fd int, buf []byte) ([]byte, int, syscall.Errno) {
	reads := 0
	if cap(buf) < textBufMin {
		buf = make([]byte, 0, textBufMin)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxTextSize {
				return buf, reads, syscall.EFBIG
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Pread(fd, buf[len(buf):cap(buf)], int64(len(buf)))
		reads++
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return buf, reads, err.(syscall.Errno)
		}
		if n == 0 {
			// The file also ends early, without an error, when the mm goes
			// away between two reads (the target exits): confirm with a
			// fresh read at offset 0, which then returns nothing, so a
			// truncated text is never taken for the whole. (The probe
			// reuses buf's spare capacity: a local array would escape.) A
			// text ending with the gate VMA, always the last, is whole.
			if len(buf) > 0 && len(buf) < cap(buf) && !endsWithGate(buf) {
				m, err := unix.Pread(fd, buf[len(buf):len(buf)+1], 0)
				reads++
				if err == nil && m == 0 {
					return buf[:0], reads, 0 // empty: the caller's "gone"
				}
			}
			return buf, reads, 0
		}
		buf = buf[:len(buf)+n]
	}
}

// endsWithGate reports whether text ends with the line of the x86-64
// vsyscall gate VMA, which the kernel always lists last (above every user
// address): such a text was read whole, whatever became of the mm after.
func endsWithGate(text []byte) bool {
	if !bytes.HasSuffix(text, []byte(" [vsyscall]\n")) {
		return false
	}
	line := text[:len(text)-1]
	line = line[bytes.LastIndexByte(line, '\n')+1:]
	return bytes.HasPrefix(line, []byte("ffffffffff600000-ffffffffff601000 "))
}

// lineError describes a malformed maps line.
type lineError struct {
	line int // 1-based
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("maps line %d: %s", e.line, e.msg) }

// parseLine parses one maps line (without its newline) into v, all but
// the name, which it returns raw (still escaped) for setName. A non-empty
// message means the line is malformed (v is then left partly set).
func parseLine(line []byte, v *VMA) ([]byte, string) {
	raw, _, msg := parseLineIn(line, v)
	return raw, msg
}

// parseLineIn is parseLine on the line at the start of b, which may go on
// past the line's newline (a whole text): it also returns the length of
// the line with its newline. Every field stops at a byte that cannot be
// part of it, a newline included, so the line need not be split off first
// (the text is scanned once, and a line without a name never has its end
// searched for). It is the hot loop of the text backend and allocates
// nothing.
func parseLineIn(b []byte, v *VMA) ([]byte, int, string) {
	// Every field is set here, the name by setName: clearing the pointers
	// only when set means fresh (zeroed) memory is written once and no
	// write barrier runs for it while the GC is marking.
	v.PageSize, v.Kind, v.Flags = 0, 0, 0
	if v.Name != nil {
		v.Name = nil
	}
	if v.BuildID != nil {
		v.BuildID = nil
	}
	i := 0
	var ok bool
	if v.Start, i, ok = parseHex(b, i, '-'); !ok {
		return nil, i, "bad start address"
	}
	if v.End, i, ok = parseHex(b, i, ' '); !ok {
		return nil, i, "bad end address"
	}
	if v.End <= v.Start {
		return nil, i, "end address not above start"
	}
	if (v.Start|v.End)&(minPageSize-1) != 0 {
		return nil, i, "addresses not page-aligned"
	}
	p, bad := parsePerms(b, i)
	if bad {
		return nil, i, "bad permissions"
	}
	v.Perms = p
	i += 5
	if v.Offset, i, ok = parseHex(b, i, ' '); !ok {
		return nil, i, "bad offset"
	}
	var maj, min uint64
	if maj, i, ok = parseHex(b, i, ':'); !ok || maj > 0xffffffff {
		return nil, i, "bad device"
	}
	if min, i, ok = parseHex(b, i, ' '); !ok || min > 0xffffffff {
		return nil, i, "bad device"
	}
	v.DevMajor, v.DevMinor = uint32(maj), uint32(min)
	// Inode: decimal, ended by a space or the end of the line.
	j := i
	var ino uint64
	for j < len(b) {
		d := uint64(b[j] - '0')
		if d > 9 {
			break
		}
		// ino*10 + d overflows exactly when ino > (2^64-1-d)/10, that is
		// when ino is above 1844674407370955161, or equal to it with d > 5.
		if ino >= 1844674407370955161 && (ino > 1844674407370955161 || d > 5) {
			return nil, j, "bad inode"
		}
		ino = ino*10 + d
		j++
	}
	if j == i {
		return nil, j, "bad inode"
	}
	v.Inode = ino
	if j >= len(b) {
		return nil, j, "" // no name, no trailing space
	}
	if b[j] == '\n' {
		return nil, j + 1, ""
	}
	if b[j] != ' ' {
		return nil, j, "bad inode"
	}
	j++ // the header's trailing space
	// The name starts after padding to column 72 plus one space, or after
	// one space when the header is already that long. Text not written by
	// the kernel may be padded less: a name then starts at its first
	// non-space byte before that column.
	nameStart := max(j, nameColumn-1) + 1
	k := j
	for k < len(b) && k < nameStart && b[k] == ' ' {
		k++
	}
	if k >= len(b) {
		return nil, k, "" // only padding: no name
	}
	if b[k] == '\n' {
		return nil, k + 1, ""
	}
	name := b[k:]
	n := len(b)
	if e := bytes.IndexByte(name, '\n'); e >= 0 {
		name, n = name[:e], k+e+1
	}
	// The kernel never writes a NUL (no path holds one); a captured text
	// with one is corrupt, and the C API's names are NUL-terminated.
	if bytes.IndexByte(name, 0) >= 0 {
		return nil, k, "NUL byte in the name"
	}
	return name, n, ""
}

// minPageSize is the smallest page size Linux has; every VMA boundary is a
// multiple of it.
const minPageSize = 4096

// setName appends the raw text name to arena, turning "\012" back into a
// newline, points v.Name at the copy and sets Kind and Flags. It returns the
// grown arena.
func (v *VMA) setName(raw []byte, arena []byte) []byte {
	v.Kind, v.Flags = KindAnonymous, 0
	if len(raw) == 0 {
		if v.Name != nil {
			v.Name = nil
		}
		return arena
	}
	off := len(arena)
	if bytes.IndexByte(raw, '\\') >= 0 && bytes.Contains(raw, []byte(`\012`)) {
		v.Flags |= FlagNameAmbiguous
		for len(raw) > 0 {
			n := bytes.Index(raw, []byte(`\012`))
			if n < 0 {
				arena = append(arena, raw...)
				break
			}
			arena = append(arena, raw[:n]...)
			arena = append(arena, '\n')
			raw = raw[n+4:]
		}
	} else {
		arena = append(arena, raw...)
	}
	v.Name = arena[off:len(arena):len(arena)]
	k, f := kindOf(v.Name)
	v.Kind, v.Flags = k, v.Flags|f
	return arena
}

// hexDigit maps a byte to its hex value, or to 0xff when it is not a hex
// digit (either case).
var hexDigit = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c-'a') + 10
		t[c-'a'+'A'] = uint8(c-'a') + 10
	}
	return t
}()

// parseHex parses 1 to 16 lowercase or uppercase hex digits at b[i:] and
// the delimiter after them, which it consumes. Small enough to be inlined.
func parseHex(b []byte, i int, delim byte) (uint64, int, bool) {
	var v uint64
	start := i
	for i < len(b) {
		d := hexDigit[b[i]]
		if d > 15 {
			break
		}
		v = v<<4 | uint64(d)
		i++
	}
	if i == start || i-start > 16 || i >= len(b) || b[i] != delim {
		return 0, i, false
	}
	return v, i + 1, true
}

// parsePerms parses the permissions at b[i:]: "rwxp" and the space after.
func parsePerms(b []byte, i int) (Perm, bool) {
	if i < 0 || i+5 > len(b) || b[i+4] != ' ' {
		return 0, true
	}
	p := permLetter[b[i]] & PermRead
	p |= permLetter[b[i+1]] & PermWrite
	p |= permLetter[b[i+2]] & PermExec
	p |= permLetter[b[i+3]] & PermShared
	bad := permLetter[b[i]]&(PermRead|permDash) == 0 ||
		permLetter[b[i+1]]&(PermWrite|permDash) == 0 ||
		permLetter[b[i+2]]&(PermExec|permDash) == 0 ||
		permLetter[b[i+3]]&(PermShared|permPrivate) == 0
	return p, bad
}

// permLetter maps the letters of a permission field to their bits: 'r',
// 'w', 'x' and 's' to their Perm; '-' and 'p', which mean a bit is clear,
// to bits of their own so that a wrong letter in a place is told apart.
const (
	permDash    Perm = 0x10
	permPrivate Perm = 0x20
)

var permLetter = [256]Perm{'r': PermRead, 'w': PermWrite, 'x': PermExec, 's': PermShared, '-': permDash, 'p': permPrivate}

// textScanner walks the lines of a maps text, each split off at its
// newline (the backend parses lines where they lie, parseLineIn; the tests
// check it against lines split off first).
type textScanner struct {
	text []byte
	pos  int
	line int
}

// next returns the next line without its newline, or false at the end.
func (s *textScanner) next() ([]byte, bool) {
	if s.pos >= len(s.text) {
		return nil, false
	}
	rest := s.text[s.pos:]
	n := bytes.IndexByte(rest, '\n')
	s.line++
	if n < 0 {
		s.pos = len(s.text)
		return rest, true
	}
	s.pos += n + 1
	return rest[:n], true
}

// appendTextVMAs parses every line of text, appending the VMAs that pass f
// to vmas (with appendLatest) and their names to arena. It returns the grown
// slices and the number of lines, or the first malformed line.
func appendTextVMAs(text []byte, f Filter, vmas []VMA, arena []byte) ([]VMA, []byte, int, *lineError) {
	lines := 0
	for pos := 0; pos < len(text); {
		lines++
		// Parse straight into the next slot of vmas (no copy of the VMA).
		if len(vmas) == cap(vmas) {
			vmas = append(vmas, VMA{})[:len(vmas)]
		}
		v := &vmas[:len(vmas)+1][len(vmas)]
		raw, n, msg := parseLineIn(text[pos:], v)
		if msg != "" {
			return vmas, arena, lines, &lineError{lines, msg}
		}
		pos += n
		if f.Perms != 0 && v.Perms&f.Perms != f.Perms {
			continue // rejected before the name is copied
		}
		arena = v.setName(raw, arena)
		if !f.matches(v) {
			arena = arena[:len(arena)-len(v.Name)]
			continue
		}
		if n := len(vmas); n > 0 && vmas[n-1].End > v.Start {
			vmas = appendLatest(vmas, *v) // rare: see appendLatest
			continue
		}
		vmas = vmas[:len(vmas)+1]
	}
	return vmas, arena, lines, nil
}

// ParseMaps parses a whole /proc/<pid>/maps text into fresh VMAs. It is the
// text backend's parser, exposed for callers holding a text of their own;
// see [OpenText] to query one. A malformed line gives an error wrapping
// [ErrInvalidArgument] that names the line.
//
// It makes two allocations: the VMAs, sized from the newline count, and
// one block for all the names, sized exactly.
func ParseMaps(text []byte) ([]VMA, error) {
	n := countLines(text)
	if len(text) > 0 && text[len(text)-1] != '\n' {
		n++
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]VMA, 0, n)
	// First pass: every field but the name, whose raw text Name holds for
	// now (aliasing text), and the size of all the names.
	names := 0
	for pos := 0; pos < len(text); {
		if text[pos] == '\n' && pos+1 == len(text) {
			break // an empty last line
		}
		out = out[:len(out)+1]
		v := &out[len(out)-1]
		raw, n, msg := parseLineIn(text[pos:], v)
		if msg != "" {
			return nil, &Error{Op: "parse", Pid: -1, Err: withDetail(ErrInvalidArgument, &lineError{len(out), msg})}
		}
		pos += n
		if raw != nil {
			v.Name = raw // for the second pass
			names += len(raw)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	// Second pass: copy the names into one block (unescaping only
	// shrinks them, so it never grows and every Name stays in it).
	arena := make([]byte, 0, names)
	for i := range out {
		if out[i].Name != nil { // the others are anonymous already
			arena = out[i].setName(out[i].Name, arena)
		}
	}
	return out, nil
}

// resolveText answers pairs[from:] from the text: lines are parsed in
// order and only the VMAs hit are entered in the table.
//
// Once the handle knows the VMA count (the planner's) and whether the
// target has the gate VMA, the text is streamed: read in chunks and parsed
// as it comes, and reading stops once the last address of the batch is
// passed, as the C text resolvers do. Until then it is read whole, so that
// the planner learns the count and the handle the gate.
func (h *Handle) resolveText(sorted *batch, from int, o *Options, res *Result, op string) error {
	if h.gateKnown && h.plan.vmaCount > 0 {
		return h.resolveTextStream(sorted, from, o, res, op)
	}
	start := time.Now()
	text, err := h.readText(op)
	res.Syscalls += h.reads
	if err != nil {
		return failLookups(err, sorted, from, res)
	}
	if res.Strategy == StrategyNone || res.Strategy == StrategyPointIoctl {
		res.Strategy = StrategyText
	}
	b := textBatch{b: sorted, i: from, o: o, res: res}
	lines, pos := 0, 0
	var v VMA
	for b.i < len(sorted.addrs) && pos < len(text) {
		lines++
		raw, n, msg := parseLineIn(text[pos:], &v)
		if msg != "" {
			return failLookups(&Error{Op: op, Pid: h.pid, Err: withDetail(ErrInvalidArgument, &lineError{lines, msg})}, sorted, b.i, res)
		}
		pos += n
		b.add(&v, raw)
	}
	b.rest()
	// Count the rest of the lines for the planner without parsing them.
	rest := countLines(text[pos:])
	h.plan.noteText(lines+rest, len(text), time.Since(start))
	return nil
}

// resolveTextStream is resolveText reading the text in chunks and stopping
// once the batch is answered.
//
// The planner's VMA count: a read stopped early has seen only part of the
// lines, so it does not report them (nor their time, which covers only
// part of a full read): the planner keeps the count of the last full read,
// which is right unless the target has since mapped or unmapped much, and
// is refreshed by every batch that reaches the end of the text and every
// text enumeration.
func (h *Handle) resolveTextStream(sorted *batch, from int, o *Options, res *Result, op string) error {
	if h.gone {
		return failLookups(h.goneError(op), sorted, from, res)
	}
	start := time.Now()
	if res.Strategy == StrategyNone || res.Strategy == StrategyPointIoctl {
		res.Strategy = StrategyText
	}
	s := mapsStream{fd: h.fd, buf: h.textScratch()[:0]}
	b := textBatch{b: sorted, i: from, o: o, res: res}
	var v VMA
	var err error
	for b.i < len(sorted.addrs) {
		raw, ok, en, msg := s.parseNext(&v)
		if en != 0 {
			err = h.streamError(op, en)
			break
		}
		if msg != "" {
			err = &Error{Op: op, Pid: h.pid, Err: withDetail(ErrInvalidArgument, &lineError{s.line, msg})}
			break
		}
		if !ok {
			break
		}
		b.add(&v, raw)
	}
	h.textBuf = s.buf[:0]
	res.Syscalls += s.reads
	if err != nil {
		return failLookups(err, sorted, b.i, res)
	}
	b.rest()
	if s.eof {
		// The whole text was read: its lines are those parsed and those
		// left in the buffer.
		rest := s.buf[s.pos:]
		lines := s.line + countLines(rest)
		if len(rest) > 0 && rest[len(rest)-1] != '\n' {
			lines++
		}
		h.plan.noteText(lines, int(s.off), time.Since(start))
	}
	return nil
}

// streamError turns a failed read of the stream into the error readText
// would give (esrch also stands for a text found empty: the mm is gone).
func (h *Handle) streamError(op string, en syscall.Errno) error {
	if en == syscall.ESRCH {
		h.gone = true
		return h.goneError(op)
	}
	return &Error{Op: op, Pid: h.pid, Err: classifyErrno(en)}
}

// textBatch enters the VMAs of a sorted batch as the text's lines go by.
type textBatch struct {
	b   *batch
	i   int // the first position not yet answered
	o   *Options
	res *Result
}

// add answers the addresses that line v (parsed but for its raw name)
// settles: those below it are unmapped, those in it hit it.
func (t *textBatch) add(v *VMA, raw []byte) {
	b, res, i := t.b, t.res, t.i
	// Count what point ioctls would have needed: one per VMA hit, and one
	// per gap hit unless the VMA after it is hit too (the ioctl on the gap
	// returns that VMA).
	j := b.below(i, v.Start)
	if j > i {
		res.touched++
		res.answerNone(b, i, j, ReasonUnmapped)
	}
	k := b.below(j, v.End)
	t.i = k
	if k == j {
		return
	}
	if j == i {
		res.touched++
	}
	res.arena = v.setName(raw, res.arena)
	if t.o.Filter.matches(v) {
		res.VMAs = append(res.VMAs, *v)
		res.answerFound(b, j, k, int32(len(res.VMAs)-1), v.Offset-v.Start)
	} else {
		res.answerNone(b, j, k, ReasonFiltered)
	}
}

// rest answers the addresses above the last line: unmapped.
func (t *textBatch) rest() {
	t.res.answerNone(t.b, t.i, len(t.b.addrs), ReasonUnmapped)
	t.i = len(t.b.addrs)
}

// streamRoom is the free space below which the stream moves the unread
// rest of its buffer to the front before reading more: a read returns at
// most about a page, so a smaller room would cost more reads.
const streamRoom = 16 << 10

// mapsStream reads a maps file with pread in chunks, parsing its lines as
// they arrive.
type mapsStream struct {
	fd    int
	buf   []byte // buf[pos:] is read but not yet parsed
	pos   int
	off   int64 // file offset of the next read: bytes read so far
	eof   bool  // the end was read (and confirmed)
	gate  bool  // the text read so far ends with the gate VMA's line
	reads int
	line  int // lines parsed
}

// parseNext parses the next line into v (parseLineIn) and returns its raw
// name; false at the end. The line is parsed where it lies in the buffer,
// without splitting it off first: a parse that reaches the end of the
// buffer without a newline, or fails before it, may have seen only part of
// the line, so more is read and the line parsed again (once per read, at
// most). msg says the line (s.line) is malformed. An errno says a read
// failed; ESRCH also means the mm went away (the text was empty, or ended
// early: see readAll).
func (s *mapsStream) parseNext(v *VMA) ([]byte, bool, syscall.Errno, string) {
	for {
		rest := s.buf[s.pos:]
		if len(rest) > 0 {
			raw, n, msg := parseLineIn(rest, v)
			complete := n > 0 && n <= len(rest) && rest[n-1] == '\n'
			if msg == "" && (complete || s.eof) {
				s.pos += n
				s.line++
				return raw, true, 0, ""
			}
			if msg != "" && (s.eof || bytes.IndexByte(rest, '\n') >= 0) {
				s.line++
				return nil, false, 0, msg
			}
		} else if s.eof {
			return nil, false, 0, ""
		}
		if en := s.fill(); en != 0 {
			return nil, false, en, ""
		}
	}
}

// fill reads more of the file after the rest of the buffer.
func (s *mapsStream) fill() syscall.Errno {
	if cap(s.buf)-len(s.buf) < streamRoom {
		if s.pos > 0 {
			n := copy(s.buf, s.buf[s.pos:])
			s.buf, s.pos = s.buf[:n], 0
		}
		if cap(s.buf)-len(s.buf) < streamRoom {
			if len(s.buf) >= maxTextSize {
				return syscall.EFBIG
			}
			s.buf = slices.Grow(s.buf, max(cap(s.buf), textBufMin))
		}
	}
	for {
		n, err := unix.Pread(s.fd, s.buf[len(s.buf):cap(s.buf)], s.off)
		s.reads++
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err.(syscall.Errno)
		}
		if n > 0 {
			s.buf = s.buf[:len(s.buf)+n]
			s.off += int64(n)
			// Checked now, while the last line is whole in the buffer.
			s.gate = endsWithGate(s.buf)
			return 0
		}
		break
	}
	// The end. Nothing at all, or an end that a fresh read at offset 0
	// finds empty too, means the mm went away (see readAll); a text ending
	// with the gate VMA is whole.
	if s.off == 0 {
		return syscall.ESRCH
	}
	if s.gate {
		s.eof = true
		return 0
	}
	m, err := unix.Pread(s.fd, s.buf[len(s.buf):len(s.buf)+1], 0)
	s.reads++
	if err == nil && m == 0 {
		return syscall.ESRCH
	}
	s.eof = true
	return 0
}

func countLines(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

// resolveSnapshot answers from a text handle's parsed snapshot.
func (h *Handle) resolveSnapshot(b *batch, o *Options, res *Result) {
	vmas := h.snapVMAs
	n := len(b.addrs)
	for i := 0; i < n; {
		a := b.addrs[i]
		j, _ := slices.BinarySearchFunc(vmas, a, func(v VMA, a uint64) int {
			if v.End <= a {
				return -1
			}
			if v.Start > a {
				return 1
			}
			return 0
		})
		if j >= len(vmas) {
			res.answerNone(b, i, n, ReasonUnmapped)
			return
		}
		v := &vmas[j]
		if !v.Contains(a) { // in the gap below v
			k := b.below(i, v.Start)
			res.answerNone(b, i, k, ReasonUnmapped)
			i = k
			continue
		}
		k := b.below(i, v.End)
		if o.Filter.matches(v) {
			res.VMAs = append(res.VMAs, *v) // names alias the snapshot
			res.answerFound(b, i, k, int32(len(res.VMAs)-1), v.Offset-v.Start)
		} else {
			res.answerNone(b, i, k, ReasonFiltered)
		}
		i = k
	}
}

// fillLongNames gives the VMAs of res that the ioctl returned without a
// name (a path of PATH_MAX or more: FlagNameUnavailable) their name from
// one read of the text, which has it. Auto calls it, so that only a forced
// ioctl backend leaves such a name out; a VMA the text no longer shows
// (changed since) keeps the flag. Such paths are rare: the cost is one
// flag test per VMA of the table.
func (h *Handle) fillLongNames(res *Result) error {
	res.nameless = false
	missing := 0
	for i := range res.VMAs {
		if res.VMAs[i].Flags&FlagNameUnavailable != 0 {
			missing++
		}
	}
	if missing == 0 {
		return nil
	}
	text, err := h.readText("query")
	res.Syscalls += h.reads
	if err != nil {
		return err
	}
	var v VMA
	for pos, line := 0, 0; pos < len(text) && missing > 0; {
		line++
		raw, n, msg := parseLineIn(text[pos:], &v)
		if msg != "" {
			return &Error{Op: "query", Pid: h.pid, Err: withDetail(ErrInvalidArgument, &lineError{line, msg})}
		}
		pos += n
		if len(raw) < pathMax-1 {
			continue
		}
		for i := range res.VMAs {
			w := &res.VMAs[i]
			if w.Flags&FlagNameUnavailable != 0 && w.Start == v.Start && w.End == v.End && w.Inode == v.Inode {
				res.arena = v.setName(raw, res.arena)
				w.Name, w.Kind, w.Flags = v.Name, v.Kind, v.Flags
				missing--
			}
		}
	}
	return nil
}
