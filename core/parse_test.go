package core

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/libprocmapq/libprocmapq/internal/testtarget"
	"golang.org/x/sys/unix"
)

const fixturePath = "testdata/blazesym-proc-maps-large.txt"

func readFixture(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// kernelLine writes a maps line the way a 64-bit kernel does: the header and
// its trailing space padded to 72 columns, one space, the name. It is written
// independently of AppendMapsLine so the parser is not checked against itself.
func kernelLine(header, name string) string {
	return fmt.Sprintf("%-72s %s", header+" ", name)
}

func TestParseMapsLines(t *testing.T) {
	const hdr = "7f1c2a400000-7f1c2a428000 r--p 00028000 08:01 1835071"
	base := VMA{Start: 0x7f1c2a400000, End: 0x7f1c2a428000, Offset: 0x28000, DevMajor: 8, DevMinor: 1, Inode: 1835071, Perms: PermRead}
	with := func(name string, k Kind, f VMAFlags) VMA {
		v := base
		v.Name, v.Kind, v.Flags = []byte(name), k, f
		return v
	}
	anon := func(start, end uint64, p Perm) VMA { return VMA{Start: start, End: end, Perms: p} }
	special := func(line, name string, k Kind) (string, VMA) {
		v := anon(0x7ffd1000, 0x7ffd3000, PermRead|PermWrite)
		v.Name, v.Kind = []byte(name), k
		return kernelLine("7ffd1000-7ffd3000 rw-p 00000000 00:00 0", line), v
	}
	type tc struct {
		name string
		line string
		want VMA
	}
	cases := []tc{
		{"file", kernelLine(hdr, "/usr/lib/x86_64-linux-gnu/libc.so.6"), with("/usr/lib/x86_64-linux-gnu/libc.so.6", KindFile, 0)},
		{"spaces inside", kernelLine(hdr, "/tmp/a b/c d"), with("/tmp/a b/c d", KindFile, 0)},
		{"double and trailing spaces", kernelLine(hdr, "/tmp/two  spaces and trailing "), with("/tmp/two  spaces and trailing ", KindFile, 0)},
		{"leading space in name", kernelLine(hdr, " leading"), with(" leading", KindFile, 0)},
		{"only spaces as name", kernelLine(hdr, "   "), with("   ", KindFile, 0)},
		{"escaped newline", kernelLine(hdr, `/tmp/new\012line`), with("/tmp/new\nline", KindFile, FlagNameAmbiguous)},
		{"two escaped newlines", kernelLine(hdr, `\012a\012`), with("\na\n", KindFile, FlagNameAmbiguous)},
		{"other backslash kept", kernelLine(hdr, `/tmp/a\011b\\c`), with(`/tmp/a\011b\\c`, KindFile, 0)},
		{"deleted", kernelLine(hdr, "/tmp/gone.so (deleted)"), with("/tmp/gone.so (deleted)", KindDeletedFile, FlagDeleted)},
		{"memfd", kernelLine(hdr, "/memfd:jit (deleted)"), with("/memfd:jit (deleted)", KindDeletedFile, FlagDeleted)},
		{"unicode", kernelLine(hdr, "/tmp/ünïcödé-✓"), with("/tmp/ünïcödé-✓", KindFile, 0)},
		{"carriage return kept", kernelLine(hdr, "/tmp/a\rb"), with("/tmp/a\rb", KindFile, 0)},
		{"no name, trailing space", "7f1c2a400000-7f1c2a428000 rw-p 00000000 00:00 0 ", anon(0x7f1c2a400000, 0x7f1c2a428000, PermRead|PermWrite)},
		{"no name, no trailing space", "7f1c2a400000-7f1c2a428000 ---p 00000000 00:00 0", anon(0x7f1c2a400000, 0x7f1c2a428000, 0)},
		{"no name, padding only", kernelLine("7f1c2a400000-7f1c2a428000 rwxs 00000000 00:00 0", ""), anon(0x7f1c2a400000, 0x7f1c2a428000, PermRead|PermWrite|PermExec|PermShared)},
		{"32-bit kernel padding", "08048000-08049000 r-xp 00001000 03:0c 64593      /usr/sbin/gpm",
			VMA{Start: 0x08048000, End: 0x08049000, Offset: 0x1000, DevMajor: 3, DevMinor: 12, Inode: 64593, Perms: PermRead | PermExec, Name: []byte("/usr/sbin/gpm"), Kind: KindFile}},
		{"32-bit-wide addresses, 64-bit padding", kernelLine("00400000-00452000 r-xp 00000000 08:02 173521", "/usr/bin/dbus-daemon"),
			VMA{Start: 0x400000, End: 0x452000, DevMajor: 8, DevMinor: 2, Inode: 173521, Perms: PermRead | PermExec, Name: []byte("/usr/bin/dbus-daemon"), Kind: KindFile}},
		{"64-bit-wide addresses, vsyscall", kernelLine("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0", "[vsyscall]"),
			VMA{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: PermExec, Name: []byte("[vsyscall]"), Kind: KindVsyscall}},
		// No padding past column 72: the header's trailing space, one space,
		// then the name (here " two").
		{"header longer than the pad", "ffffffffff600000-ffffffffff601000 r-xs 123456789abcdef0 fff:fffff 18446744073709551615   two",
			VMA{Start: 0xffffffffff600000, End: 0xffffffffff601000, Offset: 0x123456789abcdef0, DevMajor: 0xfff, DevMinor: 0xfffff, Inode: 18446744073709551615,
				Perms: PermRead | PermExec | PermShared, Name: []byte(" two"), Kind: KindFile}},
		{"wide device numbers", kernelLine("7f0000000000-7f0000001000 r--s 00000000 103:05 12", "/dev/shm/x"),
			VMA{Start: 0x7f0000000000, End: 0x7f0000001000, DevMajor: 0x103, DevMinor: 5, Inode: 12, Perms: PermRead | PermShared, Name: []byte("/dev/shm/x"), Kind: KindFile}},
		{"uppercase hex", kernelLine("7F1C2A400000-7F1C2A428000 r--p 0002800A 0A:0B 1", "/x"),
			VMA{Start: 0x7f1c2a400000, End: 0x7f1c2a428000, Offset: 0x2800a, DevMajor: 10, DevMinor: 11, Inode: 1, Perms: PermRead, Name: []byte("/x"), Kind: KindFile}},
	}
	for _, s := range []struct {
		name string
		kind Kind
	}{
		{"[heap]", KindHeap}, {"[stack]", KindStack}, {"[vdso]", KindVDSO}, {"[vvar]", KindVVAR},
		{"[vvar_vclock]", KindVVAR}, {"[uprobes]", KindSpecial}, {"[anon:jit cache]", KindNamedAnon},
		{"[anon_shmem:ring]", KindNamedAnon}, {"[stack:1234]", KindSpecial},
	} {
		line, v := special(s.name, s.name, s.kind)
		cases = append(cases, tc{s.name, line, v})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseMaps([]byte(c.line + "\n"))
			if err != nil {
				t.Fatalf("ParseMaps(%q): %v", c.line, err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d VMAs, want 1", len(got))
			}
			if !equalVMA(&got[0], &c.want) {
				t.Errorf("ParseMaps(%q)\n got %+v (name %q)\nwant %+v (name %q)", c.line, got[0], got[0].Name, c.want, c.want.Name)
			}
			// Without the final newline, the same answer.
			got2, err := ParseMaps([]byte(c.line))
			if err != nil || len(got2) != 1 || !equalVMA(&got2[0], &c.want) {
				t.Errorf("without final newline: %v %+v", err, got2)
			}
		})
	}
}

// equalVMA compares every field, names and build IDs by content.
func equalVMA(a, b *VMA) bool {
	return a.Start == b.Start && a.End == b.End && a.Offset == b.Offset && a.Inode == b.Inode &&
		a.PageSize == b.PageSize && a.DevMajor == b.DevMajor && a.DevMinor == b.DevMinor &&
		a.Perms == b.Perms && a.Kind == b.Kind && a.Flags == b.Flags &&
		bytes.Equal(a.Name, b.Name) && bytes.Equal(a.BuildID, b.BuildID)
}

func TestParseMapsMalformed(t *testing.T) {
	good := kernelLine("7f1c2a400000-7f1c2a428000 r--p 00000000 08:01 1", "/x")
	cases := []struct {
		name string
		text string
		line int // the line the error must name
	}{
		{"empty line in the middle", good + "\n\n" + good + "\n", 2},
		{"no dash", "7f1c2a400000 7f1c2a428000 r--p 00000000 08:01 1\n", 1},
		{"empty start", "-7f1c2a428000 r--p 00000000 08:01 1\n", 1},
		{"end equals start", "1000-1000 r--p 00000000 08:01 1\n", 1},
		{"end below start", "2000-1000 r--p 00000000 08:01 1\n", 1},
		{"17 hex digits", "10000000000000000-10000000000001000 r--p 00000000 08:01 1\n", 1},
		{"non-hex start", "7f1g2a400000-7f1c2a428000 r--p 00000000 08:01 1\n", 1},
		{"bad permission letter", "1000-2000 rwzp 00000000 08:01 1\n", 1},
		{"bad share letter", "1000-2000 rwxq 00000000 08:01 1\n", 1},
		{"short permissions", "1000-2000 rw 0 08:01 1\n", 1},
		{"line ends after permissions", "1000-2000 r--p", 1},
		{"line ends after range", "1000-2000 ", 1},
		{"bad offset", "1000-2000 r--p 0000z000 08:01 1\n", 1},
		{"device without colon", "1000-2000 r--p 00000000 08-01 1\n", 1},
		{"device major too large", "1000-2000 r--p 00000000 100000000:01 1\n", 1},
		{"device minor too large", "1000-2000 r--p 00000000 08:100000000 1\n", 1},
		{"no inode", "1000-2000 r--p 00000000 08:01 \n", 1},
		{"inode with letters", "1000-2000 r--p 00000000 08:01 12a /x\n", 1},
		{"inode overflow", "1000-2000 r--p 00000000 08:01 18446744073709551616 /x\n", 1},
		{"negative inode", "1000-2000 r--p 00000000 08:01 -1\n", 1},
		{"garbage", good + "\nhello world\n", 2},
		{"NUL bytes", "\x00\x00\x00\n", 1},
		{"NUL in a name", good + "\n" + kernelLine("7f1c2a428000-7f1c2a429000 r--p 00000000 08:01 1", "/li\x00b.so") + "\n", 2},
		{"start not page-aligned", "00400001-00402000 r--p 00000000 08:01 1\n", 1},
		{"end not page-aligned", "00400000-00400003 r--p 00000000 08:01 1\n", 1},
		{"only a newline", "\n" + good, 1},
		{"third line bad", good + "\n" + good + "\n1000-2000 r--p\n", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vmas, err := ParseMaps([]byte(c.text))
			if err == nil {
				t.Fatalf("ParseMaps(%q) = %d VMAs, want an error", c.text, len(vmas))
			}
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("error %v does not wrap ErrInvalidArgument", err)
			}
			if want := fmt.Sprintf("maps line %d:", c.line); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
			if _, err := OpenText([]byte(c.text)); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("OpenText: %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestParseMapsEmpty(t *testing.T) {
	for _, text := range []string{"", "\n"} {
		vmas, err := ParseMaps([]byte(text))
		if err != nil || len(vmas) != 0 {
			t.Errorf("ParseMaps(%q) = %v, %v; want no VMAs, no error", text, vmas, err)
		}
	}
}

// TestParseFixture parses the real 7,066-line Chromium maps and checks the
// counts its README gives and that every line renders back byte for byte.
func TestParseFixture(t *testing.T) {
	text := readFixture(t)
	vmas, err := ParseMaps(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(vmas) != 7066 {
		t.Fatalf("%d VMAs, want 7066", len(vmas))
	}
	perms := map[string]int{}
	kinds := map[Kind]int{}
	for i := range vmas {
		perms[vmas[i].Perms.String()]++
		kinds[vmas[i].Kind]++
	}
	want := map[string]int{"---p": 2853, "rw-p": 3089, "r--p": 721, "r-xp": 260, "rwxp": 82, "r--s": 30, "rw-s": 30, "--xp": 1}
	for p, n := range want {
		if perms[p] != n {
			t.Errorf("%d %s VMAs, want %d", perms[p], p, n)
		}
	}
	if kinds[KindVsyscall] != 1 || kinds[KindVDSO] != 1 || kinds[KindStack] != 1 || kinds[KindDeletedFile] != 43 {
		t.Errorf("kinds: %v", kinds)
	}
	last := vmas[len(vmas)-1]
	if last.Start != 0xffffffffff600000 || string(last.Name) != "[vsyscall]" {
		t.Errorf("last VMA %x %q, want the vsyscall gate", last.Start, last.Name)
	}
	var out []byte
	for i := range vmas {
		out = vmas[i].AppendMapsLine(out)
	}
	if !bytes.Equal(out, text) {
		a, b := strings.Split(string(text), "\n"), strings.Split(string(out), "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("line %d does not round-trip:\n in  %q\n out %q", i+1, a[i], b[i])
			}
		}
		t.Fatalf("round trip differs in length: %d vs %d bytes", len(text), len(out))
	}
}

// TestAppendMapsLineMatchesKernel renders every VMA of live processes (this
// test process, and a target with every special name) and compares with the
// kernel's own maps text, byte for byte.
func TestAppendMapsLineMatchesKernel(t *testing.T) {
	tg := startSpecialTarget(t)
	for _, pid := range []int{os.Getpid(), tg.Pid} {
		h, err := Open(pid)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		// Read the text twice around the parse so a change in between (this
		// process allocates) is caught rather than reported as a mismatch.
		for attempt := 0; ; attempt++ {
			text1 := readMapsFile(t, pid)
			vmas, err := ParseMaps(text1)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for i := range vmas {
				out = vmas[i].AppendMapsLine(out)
			}
			if bytes.Equal(out, text1) {
				break
			}
			if attempt == 4 {
				t.Fatalf("pid %d: rendered text differs from the kernel's:\n%s", pid, firstDiffLine(text1, out))
			}
		}
	}
}

func readMapsFile(tb testing.TB, pid int) []byte {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func firstDiffLine(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n kernel %q\n ours   %q", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(la), len(lb))
}

func TestOpenTextFixture(t *testing.T) {
	text := readFixture(t)
	h, err := OpenText(text)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !h.IsSnapshot() || h.Pid() != -1 {
		t.Errorf("IsSnapshot %v Pid %d", h.IsSnapshot(), h.Pid())
	}
	// The text is copied: scribbling on the caller's buffer changes nothing.
	for i := range text {
		text[i] = 'X'
	}
	var res Result
	for _, b := range []Backend{BackendAuto, BackendIoctl, BackendText} {
		// 0x5ffca657000 starts line 1; 0x5ffca657000-1 is below every VMA;
		// the vdso and vsyscall are the last two lines.
		addrs := []uint64{0xffffffffff600123, 0x5ffca657000, 0x7fff41592000 + 5, 0x5ffca657000 - 1, 0x7fff41594000}
		if err := h.Query(addrs, &Options{Backend: b}, &res); err != nil {
			t.Fatalf("%v: %v", b, err)
		}
		if res.Strategy != StrategyText || res.Syscalls != 0 {
			t.Errorf("%v: strategy %v, %d syscalls; want text from the snapshot, none", b, res.Strategy, res.Syscalls)
		}
		wantNames := []string{"[vsyscall]", "", "[vdso]"}
		for i, n := range wantNames {
			v, r := res.Found(i)
			if r != ReasonFound || string(v.Name) != n {
				t.Errorf("%v: address %#x: %v %v, want %q", b, addrs[i], r, v, n)
			}
		}
		for i := 3; i < 5; i++ {
			if _, r := res.Found(i); r != ReasonUnmapped {
				t.Errorf("%v: address %#x: %v, want unmapped", b, addrs[i], r)
			}
		}
	}
	if err := h.Enumerate(nil, &res); err != nil || len(res.VMAs) != 7066 {
		t.Fatalf("Enumerate: %v, %d VMAs", err, len(res.VMAs))
	}
	if err := h.Enumerate(&Options{Filter: Filter{Perms: PermExec}}, &res); err != nil || len(res.VMAs) != 260+82+1 {
		t.Fatalf("Enumerate x: %v, %d VMAs, want 343", err, len(res.VMAs))
	}
	if _, err := h.Compare(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Compare on a snapshot: %v, want ErrInvalidArgument", err)
	}
	if err := h.Reopen(); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Reopen on a snapshot: %v, want ErrInvalidArgument", err)
	}
}

func TestOpenTextRejectsUnsortedAndOverlapping(t *testing.T) {
	a := "2000-3000 r--p 00000000 00:00 0 \n"
	b := "1000-2000 r--p 00000000 00:00 0 \n"
	c := "2800-4000 r--p 00000000 00:00 0 \n"
	for name, text := range map[string]string{"unsorted": a + b, "overlapping": a + c, "duplicate": a + a} {
		if _, err := OpenText([]byte(text)); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v, want ErrInvalidArgument naming line 2", name, err)
		}
	}
	if h, err := OpenText([]byte(b + a)); err != nil {
		t.Errorf("adjacent VMAs rejected: %v", err)
	} else {
		h.Close()
	}
	h, err := OpenText(nil)
	if err != nil {
		t.Fatalf("empty snapshot: %v", err)
	}
	var res Result
	if err := h.Query([]uint64{0, 1 << 40}, nil, &res); err != nil || res.Lookups[0].Reason != ReasonUnmapped || res.Lookups[1].Reason != ReasonUnmapped {
		t.Errorf("query on an empty snapshot: %v %+v", err, res.Lookups)
	}
}

// FuzzParseMaps feeds arbitrary text to the parser and the snapshot
// handle. Whatever the input: no panic; a text that parses renders back to
// lines that parse to the same VMAs; queries on it agree with a linear scan.
func FuzzParseMaps(f *testing.F) {
	fixture := readFixture(f)
	lines := bytes.SplitAfter(fixture, []byte("\n"))
	f.Add(fixture[:4096])
	f.Add(bytes.Join(lines[len(lines)-6:], nil))
	for _, l := range lines[:40] {
		f.Add(l)
	}
	for _, s := range []string{
		kernelLine("7f1c2a400000-7f1c2a428000 r--p 00028000 08:01 1835071", `/a b\012c (deleted)`),
		kernelLine("1000-2000 rw-s 00000000 00:05 3", "[anon_shmem:x]"),
		"1000-2000 r--p 00000000 00:00 0 \n2000-3000 rw-p 00000000 00:00 0",
		"08048000-08049000 r-xp 00001000 03:0c 64593      /usr/sbin/gpm\n",
		"ffffffffff600000-ffffffffff601000 r-xs 123456789abcdef0 fff:fffff 18446744073709551615   two\n",
		"1000-1000 r--p 0 0:0 0\n", "-\n", "\n\n", "1-2 ---p 0 0:0 0 \\012\\01\\0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		vmas, err := ParseMaps(text)
		checkSplitParse(t, text, vmas, err)
		h, herr := OpenText(text)
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("error %v does not wrap ErrInvalidArgument", err)
			}
			if herr == nil {
				t.Fatal("OpenText accepted a text ParseMaps rejects")
			}
			return
		}
		var out []byte
		for i := range vmas {
			if vmas[i].End <= vmas[i].Start {
				t.Fatalf("VMA %d: empty range %x-%x", i, vmas[i].Start, vmas[i].End)
			}
			out = vmas[i].AppendMapsLine(out)
		}
		again, err := ParseMaps(out)
		if err != nil {
			t.Fatalf("rendered text does not parse: %v\n%q", err, out)
		}
		if len(again) != len(vmas) {
			t.Fatalf("rendered text has %d VMAs, want %d", len(again), len(vmas))
		}
		for i := range vmas {
			a, b := vmas[i], again[i]
			// A rendered newline comes back flagged ambiguous; a name of
			// spaces only cannot be told from padding once rendered.
			a.Flags &^= FlagNameAmbiguous
			b.Flags &^= FlagNameAmbiguous
			if len(bytes.TrimLeft(a.Name, " ")) == 0 {
				continue
			}
			if !equalVMA(&a, &b) {
				t.Fatalf("VMA %d changed in a round trip:\n %+v %q\n %+v %q", i, a, a.Name, b, b.Name)
			}
		}
		if herr != nil {
			if !errors.Is(herr, ErrInvalidArgument) {
				t.Fatalf("OpenText error %v does not wrap ErrInvalidArgument", herr)
			}
			return
		}
		defer h.Close()
		// The handle's enumeration parser gives the same VMAs on a text
		// the snapshot accepts (sorted, no overlaps).
		if got, _, _, lerr := appendTextVMAs(text, Filter{}, nil, nil); lerr == nil {
			if len(got) != len(vmas) {
				t.Fatalf("appendTextVMAs: %d VMAs, ParseMaps %d", len(got), len(vmas))
			}
			for i := range got {
				if !equalVMA(&got[i], &vmas[i]) {
					t.Fatalf("appendTextVMAs VMA %d: %+v %q, ParseMaps %+v %q", i, got[i], got[i].Name, vmas[i], vmas[i].Name)
				}
			}
		}
		addrs := []uint64{0, ^uint64(0), 1 << 47}
		for _, v := range vmas {
			addrs = append(addrs, v.Start, v.End-1, v.End, v.Start-1, v.Start+(v.End-v.Start)/2)
			if len(addrs) > 64 {
				break
			}
		}
		var res Result
		for _, o := range []*Options{nil, {Filter: Filter{Perms: PermRead}}, {Filter: Filter{FileBacked: true}, Sorted: true}} {
			if err := h.Query(addrs, o, &res); err != nil {
				t.Fatal(err)
			}
			for i, a := range addrs {
				want := ReasonUnmapped
				var wv *VMA
				for j := range vmas {
					if vmas[j].Contains(a) {
						wv, want = &vmas[j], ReasonFiltered
						if o == nil || o.Filter.matches(wv) {
							want = ReasonFound
						}
						break
					}
				}
				got, r := res.Found(i)
				if r != want || (r == ReasonFound && (got.Start != wv.Start || !bytes.Equal(got.Name, wv.Name))) {
					t.Fatalf("address %#x: %v %+v, want %v %+v", a, r, got, want, wv)
				}
			}
		}
	})
}

// TestRoundTripEveryProcess parses the maps text of every process this
// test can read and renders it back byte for byte: real names of every
// kind (sockets, anon inodes, device files, deleted files) on this machine.
func TestRoundTripEveryProcess(t *testing.T) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		path := "/proc/" + e.Name() + "/maps"
		a, err1 := os.ReadFile(path)
		b, err2 := os.ReadFile(path)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) || len(a) == 0 {
			continue // gone, unreadable, changing, or a kernel thread
		}
		vmas, err := ParseMaps(a)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		var out []byte
		for i := range vmas {
			out = vmas[i].AppendMapsLine(out)
		}
		if !bytes.Equal(out, a) {
			t.Errorf("%s does not round-trip:\n%s", path, firstDiffLine(a, out))
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d processes checked", checked)
	}
}

// parseHexRef is the plain byte-by-byte hex parser parseHex must agree
// with: 1 to 16 digits of either case, then the delimiter.
func parseHexRef(line []byte, i int, delim byte) (uint64, int, bool) {
	var v uint64
	start := i
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		case c == delim:
			if i == start {
				return 0, i, false
			}
			return v, i + 1, true
		default:
			return 0, i, false
		}
		if i-start >= 16 {
			return 0, i, false
		}
		v = v<<4 | uint64(d)
	}
	return 0, i, false
}

func checkParseHex(t *testing.T, line []byte, i int, delim byte) {
	t.Helper()
	v, j, ok := parseHex(line, i, delim)
	rv, rj, rok := parseHexRef(line, i, delim)
	if ok != rok || (ok && (v != rv || j != rj)) {
		t.Fatalf("parseHex(%q, %d, %q) = %#x, %d, %v; want %#x, %d, %v", line, i, delim, v, j, ok, rv, rj, rok)
	}
}

// TestParseHex compares the 8-bytes-at-a-time hex parser with the plain
// one on every length from 0 to 20 digits, at every position in a line
// shorter and longer than a chunk, with every byte value as the byte after
// the digits and inside them.
func TestParseHex(t *testing.T) {
	const digits = "0123456789abcdefABCDEF"
	for n := 0; n <= 20; n++ {
		for pad := 0; pad <= 17; pad++ {
			for c := 0; c < 256; c++ {
				var b []byte
				for k := range n {
					b = append(b, digits[(k*7+n+c)%len(digits)])
				}
				b = append(b, byte(c))
				b = append(b, bytes.Repeat([]byte{'x'}, pad)...)
				for _, delim := range []byte{'-', ' ', ':'} {
					checkParseHex(t, b, 0, delim)
					checkParseHex(t, append([]byte("zz"), b...), 2, delim)
					if n > 0 {
						// the odd byte inside the digits
						m := append([]byte(nil), b...)
						m[(c+pad)%n] = byte(c)
						checkParseHex(t, m, 0, delim)
					}
				}
			}
		}
	}
	checkParseHex(t, []byte("12-"), 3, '-')
	checkParseHex(t, []byte("12-"), 4, '-')
	checkParseHex(t, nil, 0, '-')
}

// FuzzParseHex: the chunked hex parser agrees with the plain one.
func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"7f1c2a400000-", "ffffffffffffffff ", "10000000000000000 ", "0:", "fF9aA0:", "\xb0\xb1-", "\x10\x19 ", "@G`g/ "} {
		f.Add([]byte(s), byte(s[len(s)-1]))
	}
	f.Fuzz(func(t *testing.T, line []byte, delim byte) {
		for i := 0; i <= len(line) && i < 20; i++ {
			checkParseHex(t, line, i, delim)
		}
	})
}

// checkStream parses the text in fd with the stream, which starts with a
// buffer of capacity start, and checks it against the text's lines split
// off first and parsed alone: the same VMAs and raw names, or the same
// malformed line and message, then the end.
func checkStream(t *testing.T, fd int, text []byte, start int) {
	t.Helper()
	s := mapsStream{fd: fd, buf: make([]byte, 0, start)}
	ref := textScanner{text: text}
	for {
		line, wok := ref.next()
		var want, got VMA
		wraw, wmsg := []byte(nil), ""
		if wok {
			wraw, wmsg = parseLine(line, &want)
		}
		raw, ok, en, msg := s.parseNext(&got)
		if en != 0 {
			t.Fatalf("buffer %d, line %d: errno %v", start, ref.line, en)
		}
		if wmsg != "" || msg != "" {
			if msg != wmsg || s.line != ref.line {
				t.Fatalf("buffer %d: line %d %q, line %d %q split off", start, s.line, msg, ref.line, wmsg)
			}
			return
		}
		if ok != wok || !bytes.Equal(raw, wraw) || (ok && !equalVMA(&got, &want)) {
			t.Fatalf("buffer %d, line %d: %v %+v %q, want %v %+v %q", start, ref.line, ok, got, raw, wok, want, wraw)
		}
		if !ok {
			break
		}
	}
	if !s.eof || s.off != int64(len(text)) || s.line != ref.line {
		t.Errorf("buffer %d: eof %v, %d bytes, %d lines; want %d bytes, %d lines", start, s.eof, s.off, s.line, len(text), ref.line)
	}
}

// TestMapsStreamLines reads texts from regular files, where a read returns
// all it is asked for and so splits lines anywhere, and checks the stream
// parses exactly the lines of the whole text: a last line without a
// newline, a line longer than the buffer, malformed lines, buffers of every
// start size.
func TestMapsStreamLines(t *testing.T) {
	fixture := readFixture(t)
	long := kernelLine("1000-2000 r--p 00000000 08:01 1", strings.Repeat("/very-long", 20000)) + "\n"
	for _, tc := range []struct {
		name string
		text []byte
	}{
		{"fixture", fixture},
		{"no final newline", bytes.TrimSuffix(fixture, []byte("\n"))},
		{"long line", []byte(string(fixture[:5000]) + long + string(fixture[5000:]))},
		{"one line", []byte("1000-2000 r--p 00000000 08:01 1")},
		{"empty lines", []byte("\n\n\n")},
		{"malformed", []byte(string(fixture[:30000]) + "1000-2000 r--p 0000z000 08:01 1\n" + string(fixture[30000:]))},
		{"malformed last", []byte("1000-2000 r--p 00000000 08:01 1\n2000-1000 r--p 0 0:0 0")},
	} {
		path := filepath.Join(t.TempDir(), "maps")
		if err := os.WriteFile(path, tc.text, 0o600); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		for _, start := range []int{0, 1, 100, streamRoom, textBufMin, 1 << 20} {
			checkStream(t, fd, tc.text, start)
		}
	}
	// An empty file is a gone mm, as for readAll.
	path := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	s := mapsStream{fd: fd}
	var v VMA
	if _, ok, en, _ := s.parseNext(&v); ok || en != syscall.ESRCH {
		t.Errorf("empty file: %v %v, want ESRCH", ok, en)
	}
}

// checkSplitParse parses text line by line, each split off at its newline
// first (textScanner, parseLine), and checks that ParseMaps, which parses
// each line where it starts in the whole text, gave the same VMAs or failed
// on the same line with the same message.
func checkSplitParse(t *testing.T, text []byte, vmas []VMA, err error) {
	t.Helper()
	s := textScanner{text: text}
	n := 0
	for {
		line, ok := s.next()
		if !ok || (len(line) == 0 && s.pos >= len(text)) {
			break
		}
		var v VMA
		raw, msg := parseLine(line, &v)
		if msg != "" {
			var le *lineError
			if !errors.As(err, &le) || le.line != s.line || le.msg != msg {
				t.Fatalf("line %d: %s split off, but ParseMaps says %v", s.line, msg, err)
			}
			return
		}
		v.setName(raw, nil)
		if err == nil && (n >= len(vmas) || !equalVMA(&v, &vmas[n])) {
			t.Fatalf("line %d: %+v %q split off; ParseMaps gave %d VMAs, not the same", s.line, v, v.Name, len(vmas))
		}
		n++
	}
	if err != nil || n != len(vmas) {
		t.Fatalf("%d lines split off, ParseMaps: %d VMAs, %v", n, len(vmas), err)
	}
}

// FuzzMapsStream: the chunked reader parses exactly as the lines of the
// whole text split off and parsed alone, whatever the text and the buffer
// it starts with.
func FuzzMapsStream(f *testing.F) {
	fixture := readFixture(f)
	f.Add(fixture[:20000], uint16(0))
	f.Add(fixture[:3000], uint16(17))
	f.Add([]byte("a\n\nb"), uint16(1))
	f.Add([]byte("\n"), uint16(100))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text []byte, start uint16) {
		if len(text) == 0 {
			return // an empty file is a gone mm (TestMapsStreamLines)
		}
		tmp, err := os.CreateTemp(dir, "maps")
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := tmp.Write(text); err != nil {
			t.Fatal(err)
		}
		checkStream(t, int(tmp.Fd()), text, int(start))
	})
}

// TestTextStreamStopsEarly: once a handle knows the VMA count and the gate,
// a text query reads only up to its last address, answers exactly as a
// whole read does, and leaves the planner's count as the last full read
// set it; a batch reaching the end refreshes the count.
func TestTextStreamStopsEarly(t *testing.T) {
	tg := testtarget.Start(t, testtarget.Options{VMAs: 3000, Modules: 3})
	h := mustOpen(t, tg.Pid)
	whole := readMapsFile(t, tg.Pid)
	vmas, err := ParseMaps(whole)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := OpenText(whole)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	o := &Options{Backend: BackendText}
	var res, want Result
	first := []uint64{vmas[0].Start, vmas[0].Start - 1, vmas[1].End - 1}
	if err := h.Query(first, o, &res); err != nil {
		t.Fatal(err)
	}
	fullReads := res.Syscalls
	if h.plan.vmaCount != len(vmas) || !h.gateKnown {
		t.Fatalf("after a whole read: count %d (want %d), gate known %v", h.plan.vmaCount, len(vmas), h.gateKnown)
	}
	if fullReads < 10 {
		t.Fatalf("a whole read of %d bytes took %d reads", len(whole), fullReads)
	}
	mid := vmas[len(vmas)/2]
	last := vmas[len(vmas)-1]
	for _, batch := range [][]uint64{
		first,
		{vmas[3].Start + 7, vmas[2].Start, 0, vmas[3].Start},
		{mid.Start, mid.End, mid.End - 1, 1},
		{last.Start, last.End - 1, last.End, ^uint64(0)},
		{gateStart, gateStart + 8, vmas[0].Start},
	} {
		h.plan.vmaCount = 12345 // marks what a stopped read must not change
		if err := h.Query(batch, o, &res); err != nil {
			t.Fatal(err)
		}
		if err := snap.Query(batch, o, &want); err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			g, gr := res.Found(i)
			w, wr := want.Found(i)
			if gr != wr || (g != nil && !equalVMA(g, w)) {
				t.Errorf("%#x: %v %+v, want %v %+v", batch[i], gr, g, wr, w)
			}
		}
		reachesEnd := slices.Max(batch) >= last.End-1
		if !reachesEnd && h.plan.vmaCount != 12345 {
			t.Errorf("batch %#x stopped early but set the count to %d", batch, h.plan.vmaCount)
		}
		if reachesEnd && h.plan.vmaCount != len(vmas) && h.plan.vmaCount != 12345 {
			t.Errorf("batch %#x read to the end: count %d, want %d", batch, h.plan.vmaCount, len(vmas))
		}
		if slices.Max(batch) < mid.End && res.Syscalls > fullReads/2+1 {
			t.Errorf("batch %#x in the first half made %d reads; a whole read makes %d", batch, res.Syscalls, fullReads)
		}
	}
}

// TestEndsWithGate: a text whose last line is the gate VMA is known whole
// without the probe read that otherwise confirms the end (readAll and the
// stream make one read fewer).
func TestEndsWithGate(t *testing.T) {
	gate := "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
	other := kernelLine("7ffcfaa1e000-7ffcfaa3f000 rw-p 00000000 00:00 0", "[stack]") + "\n"
	for _, tc := range []struct {
		text string
		want bool
	}{
		{other + gate, true},
		{gate, true},
		{other, false},
		{other + strings.TrimSuffix(gate, "\n"), false},
		{other + kernelLine("7ffcfaa3f000-7ffcfaa40000 r--p 00000000 08:01 5", "/tmp/a [vsyscall]") + "\n", false},
		{"", false},
		{"\n", false},
	} {
		if got := endsWithGate([]byte(tc.text)); got != tc.want {
			t.Errorf("endsWithGate(%q) = %v", tc.text, got)
		}
		if tc.text == "" {
			continue
		}
		path := filepath.Join(t.TempDir(), "maps")
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		want := 3 // the text, the end, the probe
		if tc.want {
			want = 2
		}
		buf, reads, en := readAll(fd, nil)
		if en != 0 || string(buf) != tc.text || reads != want {
			t.Errorf("readAll of %q: %d reads, %v; want %d", tc.text, reads, en, want)
		}
		if tc.text == "\n" {
			continue // malformed: the stream stops at it
		}
		s := mapsStream{fd: fd}
		var v VMA
		for {
			if _, ok, en, msg := s.parseNext(&v); !ok || en != 0 || msg != "" {
				break
			}
		}
		if !s.eof || s.reads != want {
			t.Errorf("stream of %q: %d reads, eof %v; want %d", tc.text, s.reads, s.eof, want)
		}
	}
}
