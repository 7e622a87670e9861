package core

import (
	"bytes"
	"strconv"
)

// Perm is a set of VMA permission bits. The values are those of the
// kernel's PROCMAP_QUERY_VMA_* flags, so they pass straight to the ioctl.
type Perm uint8

const (
	PermRead   Perm = 0x01 // r
	PermWrite  Perm = 0x02 // w
	PermExec   Perm = 0x04 // x
	PermShared Perm = 0x08 // s (VM_MAYSHARE); p when clear

	permMask = PermRead | PermWrite | PermExec | PermShared
)

// String returns the four-letter form used by /proc/<pid>/maps, e.g. "r-xp".
func (p Perm) String() string { return string(p.appendText(nil)) }

func (p Perm) appendText(b []byte) []byte {
	c := [4]byte{'-', '-', '-', 'p'}
	if p&PermRead != 0 {
		c[0] = 'r'
	}
	if p&PermWrite != 0 {
		c[1] = 'w'
	}
	if p&PermExec != 0 {
		c[2] = 'x'
	}
	if p&PermShared != 0 {
		c[3] = 's'
	}
	return append(b, c[:]...)
}

// Kind says what backs a VMA, as far as its name tells.
type Kind uint8

const (
	KindAnonymous   Kind = iota // no name: private or thread-stack anonymous memory
	KindFile                    // a file path
	KindDeletedFile             // a path ending in " (deleted)": unlinked file, memfd, shared anonymous memory
	KindNamedAnon               // "[anon:NAME]" or "[anon_shmem:NAME]" (prctl PR_SET_VMA_ANON_NAME)
	KindHeap                    // "[heap]"
	KindStack                   // "[stack]" (main thread)
	KindVDSO                    // "[vdso]"
	KindVVAR                    // "[vvar]", "[vvar_vclock]"
	KindVsyscall                // "[vsyscall]" (text backend only: the ioctl never returns the gate VMA)
	KindSpecial                 // any other "[...]" name, e.g. "[uprobes]"
)

var kindNames = [...]string{"anonymous", "file", "deleted-file", "named-anon", "heap", "stack", "vdso", "vvar", "vsyscall", "special"}

func (k Kind) String() string { return enumName(kindNames[:], k, "kind") }

// VMAFlags carry facts about a VMA's name.
type VMAFlags uint8

const (
	// FlagDeleted: the name ends in " (deleted)". A file really named
	// "x (deleted)" looks the same; the kernel cannot tell them apart.
	FlagDeleted VMAFlags = 1 << iota
	// FlagNameAmbiguous: the text backend turned "\012" back into a newline;
	// the path may really have contained the four bytes `\012`.
	FlagNameAmbiguous
	// FlagNameUnavailable: the ioctl could not return the name because the
	// path is PATH_MAX (4096) bytes or longer. Name is empty. Only a forced
	// ioctl backend returns it: auto fills such names from the text.
	FlagNameUnavailable
)

// VMA is one virtual memory area of the target, as every backend reports it.
//
// Name and BuildID alias memory owned by the [Result] they came from and stay
// valid until that Result is reused; copy them (or use [VMA.Clone]) to keep.
type VMA struct {
	Start, End uint64 // [Start, End), page aligned
	Offset     uint64 // file offset of Start; 0 for anonymous memory
	Inode      uint64
	// PageSize is the kernel page size of the VMA (the huge page size for
	// hugetlb). 0 means unknown: the text backend does not have it.
	PageSize uint64
	DevMajor uint32
	DevMinor uint32
	Perms    Perm
	Kind     Kind
	Flags    VMAFlags
	// Name is the exact name: a path (with raw newlines, never escaped), a
	// "[...]" special name, or empty for anonymous memory.
	Name []byte
	// BuildID is the GNU build ID the kernel reported, when requested and
	// available (ioctl backend only; at most 20 bytes).
	BuildID []byte
}

// Contains reports whether addr lies in [Start, End).
func (v *VMA) Contains(addr uint64) bool { return addr >= v.Start && addr < v.End }

// FileOffset returns the file offset of addr: addr - Start + Offset.
func (v *VMA) FileOffset(addr uint64) uint64 { return addr - v.Start + v.Offset }

// FileBacked reports whether the VMA maps a file (the kernel's
// PROCMAP_QUERY_FILE_BACKED_VMA meaning: vm_file is set). Shared anonymous
// memory, memfd and SysV shm count; [vdso], [heap] and [stack] do not.
func (v *VMA) FileBacked() bool {
	switch v.Kind {
	case KindFile, KindDeletedFile:
		return true
	case KindNamedAnon:
		return bytes.HasPrefix(v.Name, []byte("[anon_shmem:"))
	}
	return false
}

// Clone returns a copy of v whose Name and BuildID do not alias any Result.
func (v VMA) Clone() VMA {
	if v.Name != nil {
		v.Name = bytes.Clone(v.Name)
	}
	if v.BuildID != nil {
		v.BuildID = bytes.Clone(v.BuildID)
	}
	return v
}

// AppendMapsLine appends v in the exact format of a /proc/<pid>/maps line,
// newline included: a newline in the name is escaped as "\012", as the
// kernel does.
func (v *VMA) AppendMapsLine(b []byte) []byte {
	start := len(b)
	b = appendHexPad(b, v.Start, 8)
	b = append(b, '-')
	b = appendHexPad(b, v.End, 8)
	b = append(b, ' ')
	b = v.Perms.appendText(b)
	b = append(b, ' ')
	b = appendHexPad(b, v.Offset, 8)
	b = append(b, ' ')
	b = appendHexPad(b, uint64(v.DevMajor), 2)
	b = append(b, ':')
	b = appendHexPad(b, uint64(v.DevMinor), 2)
	b = append(b, ' ')
	b = strconv.AppendUint(b, v.Inode, 10)
	b = append(b, ' ')
	if len(v.Name) > 0 {
		// Pad to column 72, then always one space (seq_pad), even when the
		// header is already longer.
		for len(b)-start < nameColumn-1 {
			b = append(b, ' ')
		}
		b = append(b, ' ')
		for _, c := range v.Name {
			if c == '\n' {
				b = append(b, `\012`...)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '\n')
}

// nameColumn is where the kernel starts a name on 64-bit: the header is
// padded to 72 characters and followed by one space (show_vma_header_prefix
// + seq_pad), so the name starts at byte 73.
const nameColumn = 73

func appendHexPad(b []byte, v uint64, width int) []byte {
	var tmp [16]byte
	i := len(tmp)
	for v != 0 || len(tmp)-i < width {
		i--
		tmp[i] = "0123456789abcdef"[v&0xf]
		v >>= 4
		if i == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// kindOf classifies a raw (unescaped) name.
func kindOf(name []byte) (Kind, VMAFlags) {
	if len(name) == 0 {
		return KindAnonymous, 0
	}
	if name[0] == '[' && name[len(name)-1] == ']' {
		switch string(name) {
		case "[heap]":
			return KindHeap, 0
		case "[stack]":
			return KindStack, 0
		case "[vdso]":
			return KindVDSO, 0
		case "[vvar]", "[vvar_vclock]":
			return KindVVAR, 0
		case "[vsyscall]":
			return KindVsyscall, 0
		}
		if bytes.HasPrefix(name, []byte("[anon:")) || bytes.HasPrefix(name, []byte("[anon_shmem:")) {
			return KindNamedAnon, 0
		}
		return KindSpecial, 0
	}
	if bytes.HasSuffix(name, []byte(" (deleted)")) {
		return KindDeletedFile, FlagDeleted
	}
	return KindFile, 0
}
