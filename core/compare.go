package core

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/libprocmapq/libprocmapq/core/internal/locator"
)

// DiffKind classifies one difference between the ioctl and the text view.
type DiffKind uint8

const (
	// Expected differences: both views are right; the kernel shows them so.

	// DiffGateVMA: the [vsyscall] gate VMA, which only the text shows.
	DiffGateVMA DiffKind = iota
	// DiffNameEscaping: a path holding the four bytes `\012`, which the text
	// cannot tell from an escaped newline; the ioctl has the exact name.
	DiffNameEscaping
	// DiffNameTooLong: a path of PATH_MAX bytes or more, which only the
	// text shows.
	DiffNameTooLong
	// DiffBuildIDTooLong: the file has a build ID longer than 20 bytes (or
	// in a section-only note); the kernel reports none.
	DiffBuildIDTooLong

	// Real mismatches: one view is wrong, or the library is.

	// DiffMissingInIoctl: a VMA only the text shows.
	DiffMissingInIoctl
	// DiffMissingInText: a VMA only the ioctl shows.
	DiffMissingInText
	// DiffFields: same range, different offset, permissions, device or inode.
	DiffFields
	// DiffName: same range, different names.
	DiffName
	// DiffBuildID: the kernel's and the file's build IDs differ.
	DiffBuildID
)

var diffNames = [...]string{"gate-vma", "name-escaping", "name-too-long", "build-id-too-long",
	"missing-in-ioctl", "missing-in-text", "fields", "name", "build-id"}

func (k DiffKind) String() string { return enumName(diffNames[:], k, "diff") }

// Expected reports whether k is a documented difference between the two
// kernel interfaces rather than a real mismatch.
func (k DiffKind) Expected() bool { return k <= DiffBuildIDTooLong }

// Difference is one classified difference. Text and Ioctl are the VMA as
// each side saw it (nil when absent); they do not alias any Result.
type Difference struct {
	Kind   DiffKind
	Text   *VMA
	Ioctl  *VMA
	Detail string
}

func (d *Difference) String() string {
	var b strings.Builder
	b.WriteString(d.Kind.String())
	v := d.Text
	if v == nil {
		v = d.Ioctl
	}
	if v != nil {
		fmt.Fprintf(&b, " %x-%x", v.Start, v.End)
	}
	if d.Detail != "" {
		b.WriteString(": " + d.Detail)
	}
	return b.String()
}

// CompareOptions tune [Handle.Compare]. The zero value (or nil) means 5
// attempts 100 ms apart.
type CompareOptions struct {
	Attempts   int           // attempts before giving up on a changing target; 0 = 5
	RetryDelay time.Duration // pause between attempts; 0 = 100 ms
}

// CompareReport is the outcome of [Handle.Compare].
type CompareReport struct {
	Pid int
	// Attempts is how many reads it took; Settled is false when the maps
	// changed during every attempt (the report is then of the last one).
	Attempts int
	Settled  bool
	// VMA counts on each side and the number matched field for field.
	TextVMAs, IoctlVMAs, Matched int
	// PageSizeOnlyIoctl counts matched VMAs whose page size only the ioctl
	// reports (all of them: the text has no page size). Expected.
	PageSizeOnlyIoctl int
	Expected          []Difference
	Mismatches        []Difference
}

// String renders the report for people, one difference per line.
func (r *CompareReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d: %d text VMAs, %d ioctl VMAs, %d matched; %d expected differences, %d mismatches; %d attempt(s)",
		r.Pid, r.TextVMAs, r.IoctlVMAs, r.Matched, len(r.Expected), len(r.Mismatches), r.Attempts)
	if !r.Settled {
		b.WriteString(" (maps kept changing)")
	}
	b.WriteByte('\n')
	for i := range r.Expected {
		b.WriteString("  expected: " + r.Expected[i].String() + "\n")
	}
	for i := range r.Mismatches {
		b.WriteString("  MISMATCH: " + r.Mismatches[i].String() + "\n")
	}
	return b.String()
}

// Compare enumerates the target through both backends and matches every
// VMA, classifying each difference as expected or as a real mismatch. The
// target may change between the two reads: Compare reads the text before and
// after the ioctl walk and retries while they differ; after the last attempt
// it returns the report with Settled false and an error wrapping
// [ErrNotSettled]. It needs PROCMAP_QUERY: on older kernels it returns
// [ErrNotSupported].
func (h *Handle) Compare(opts *CompareOptions) (*CompareReport, error) {
	if h == nil {
		return nil, errNilHandle("compare")
	}
	var o CompareOptions
	if opts != nil {
		o = *opts
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 100 * time.Millisecond
	}
	if h.IsSnapshot() {
		return nil, &Error{Op: "compare", Pid: h.pid, Err: invalidf("a text snapshot has no ioctl view")}
	}
	var before, after, walk Result
	var rep *CompareReport
	var prevMismatches []Difference // of the last attempt with stable text
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		if attempt > 1 {
			time.Sleep(o.RetryDelay)
		}
		if err := h.Enumerate(&Options{Backend: BackendText}, &before); err != nil {
			return nil, err
		}
		if err := h.Enumerate(&Options{Backend: BackendIoctl, BuildIDs: true}, &walk); err != nil {
			return nil, err
		}
		if err := h.Enumerate(&Options{Backend: BackendText}, &after); err != nil {
			return nil, err
		}
		rep = compareVMAs(before.VMAs, walk.VMAs)
		h.compareBuildIDs(walk.VMAs, rep)
		rep.Pid, rep.Attempts = h.pid, attempt
		rep.Settled = sameVMAs(before.VMAs, after.VMAs) && len(rep.Mismatches) == 0
		if rep.Settled {
			return rep, nil
		}
		if sameVMAs(before.VMAs, after.VMAs) {
			// Stable text but real mismatches: retry once more only if the
			// ioctl walk may have raced; a second identical outcome stands.
			// (Identical: a target that changes a mapping and changes it
			// back between the two text reads shows stable text around a
			// walk that saw the change: tests/stress TestChurnCompare.)
			if prevMismatches != nil && sameDifferences(prevMismatches, rep.Mismatches) {
				rep.Settled = true
				return rep, nil
			}
			prevMismatches = rep.Mismatches
		} else {
			prevMismatches = nil
		}
	}
	return rep, &Error{Op: "compare", Pid: h.pid, Err: ErrNotSettled}
}

// sameDifferences reports whether two attempts found the same mismatches.
func sameDifferences(a, b []Difference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() {
			return false
		}
	}
	return true
}

func sameVMAs(a, b []VMA) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameVMA(&a[i], &b[i]) {
			return false
		}
	}
	return true
}

func sameVMA(a, b *VMA) bool {
	return a.Start == b.Start && a.End == b.End && a.Offset == b.Offset && a.Perms == b.Perms &&
		a.DevMajor == b.DevMajor && a.DevMinor == b.DevMinor && a.Inode == b.Inode && bytes.Equal(a.Name, b.Name)
}

// escapeNewlines renders a name the way the text file prints it.
func escapeNewlines(name []byte) []byte {
	return bytes.ReplaceAll(name, []byte{'\n'}, []byte(`\012`))
}

// compareVMAs matches two sorted VMA lists by range and classifies every
// difference.
func compareVMAs(text, ioctl []VMA) *CompareReport {
	r := &CompareReport{TextVMAs: len(text), IoctlVMAs: len(ioctl)}
	clone := func(v *VMA) *VMA { c := v.Clone(); return &c }
	i, j := 0, 0
	for i < len(text) || j < len(ioctl) {
		switch {
		case j == len(ioctl) || (i < len(text) && text[i].End <= ioctl[j].Start):
			t := &text[i]
			d := Difference{Kind: DiffMissingInIoctl, Text: clone(t)}
			if t.Kind == KindVsyscall {
				d.Kind = DiffGateVMA
			}
			r.add(d)
			i++
		case i == len(text) || ioctl[j].End <= text[i].Start:
			r.add(Difference{Kind: DiffMissingInText, Ioctl: clone(&ioctl[j])})
			j++
		case text[i].Start != ioctl[j].Start || text[i].End != ioctl[j].End:
			// Overlapping but different ranges: both sides are wrong.
			r.add(Difference{Kind: DiffFields, Text: clone(&text[i]), Ioctl: clone(&ioctl[j]), Detail: "ranges differ"})
			if text[i].End <= ioctl[j].End {
				i++
			} else {
				j++
			}
		default:
			t, k := &text[i], &ioctl[j]
			i++
			j++
			if t.Offset != k.Offset || t.Perms != k.Perms || t.DevMajor != k.DevMajor ||
				t.DevMinor != k.DevMinor || t.Inode != k.Inode {
				r.add(Difference{Kind: DiffFields, Text: clone(t), Ioctl: clone(k),
					Detail: fmt.Sprintf("text %s %x %x:%x %d, ioctl %s %x %x:%x %d",
						t.Perms, t.Offset, t.DevMajor, t.DevMinor, t.Inode,
						k.Perms, k.Offset, k.DevMajor, k.DevMinor, k.Inode)})
				continue
			}
			switch {
			case bytes.Equal(t.Name, k.Name):
			case k.Flags&FlagNameUnavailable != 0 && len(t.Name) >= pathMax-1:
				r.add(Difference{Kind: DiffNameTooLong, Text: clone(t), Ioctl: clone(k),
					Detail: fmt.Sprintf("%d-byte path", len(t.Name))})
			case bytes.Equal(escapeNewlines(t.Name), escapeNewlines(k.Name)):
				r.add(Difference{Kind: DiffNameEscaping, Text: clone(t), Ioctl: clone(k),
					Detail: fmt.Sprintf("ioctl name %q", k.Name)})
			default:
				r.add(Difference{Kind: DiffName, Text: clone(t), Ioctl: clone(k),
					Detail: fmt.Sprintf("text %q, ioctl %q", t.Name, k.Name)})
				continue
			}
			r.Matched++
			if k.PageSize != 0 {
				r.PageSizeOnlyIoctl++
			}
		}
	}
	return r
}

func (r *CompareReport) add(d Difference) {
	if d.Kind.Expected() {
		r.Expected = append(r.Expected, d)
	} else {
		r.Mismatches = append(r.Mismatches, d)
	}
}

// compareBuildIDs adds to r, once per mapped file, how the build ID the
// kernel reported in the ioctl walk compares with the one in the file:
// DiffBuildIDTooLong (expected) when the kernel has none because the
// file's is longer than 20 bytes or only in a section, DiffBuildID when
// they differ otherwise (two GNU notes, or a 6.11 kernel that missed a
// note outside the page cache). Files that cannot be found and verified
// are not classified.
func (h *Handle) compareBuildIDs(ioctl []VMA, r *CompareReport) {
	var sc locator.Scratch
	t := locator.Target{ProcRoot: h.procRoot, Pid: h.pid, Cached: true}
	type fileID struct {
		major, minor uint32
		ino          uint64
	}
	seen := map[fileID]bool{}
	for i := range ioctl {
		v := &ioctl[i]
		id := fileID{v.DevMajor, v.DevMinor, v.Inode}
		if (v.Kind != KindFile && v.Kind != KindDeletedFile) || seen[id] {
			continue
		}
		seen[id] = true
		t.Mapping = mappingOf(v)
		f, _ := sc.Lookup(&t)
		if f == nil || !f.IsELF {
			continue
		}
		kind, detail, differ := classifyBuildIDs(v.BuildID, f)
		if differ {
			c := v.Clone()
			r.add(Difference{Kind: kind, Ioctl: &c, Detail: detail})
		}
	}
}

// classifyBuildIDs compares the kernel's build ID with a file's.
func classifyBuildIDs(kernel []byte, f *locator.Facts) (kind DiffKind, detail string, differ bool) {
	switch {
	case bytes.Equal(kernel, f.BuildID):
		return 0, "", false
	case len(kernel) == 0 && len(f.BuildID) > buildIDMax:
		return DiffBuildIDTooLong, fmt.Sprintf("file has a %d-byte build ID %x", len(f.BuildID), f.BuildID), true
	case len(kernel) == 0 && f.BuildIDInSection:
		return DiffBuildIDTooLong, fmt.Sprintf("file's build ID %x is in a section outside PT_NOTE", f.BuildID), true
	}
	return DiffBuildID, fmt.Sprintf("kernel %x, file %x", kernel, f.BuildID), true
}
