// Package locator finds, verifies and reads the files a target process
// maps: the ELF facts (build ID, PT_LOAD segments) of the file behind one
// mapping, with a process-wide cache of what was read. It knows mappings
// only as the few fields in [Mapping]; it knows nothing of core's handles
// or backends, and reads ELF through core/internal/elfnote.
//
// A mapped file is located, in order, through
//
//  1. <path> in the caller's namespace, accepted only if its device and
//     inode are exactly the mapping's: then it is the mapped inode itself,
//     as map_files would give, at a third of the cost (a statx of a plain
//     path takes about 1.6 us, of a map_files link 4.5 us);
//  2. <procroot>/<pid>/map_files/<start>-<end>: the mapped file itself, even
//     when deleted or in another mount namespace (needs CAP_SYS_ADMIN);
//  3. <procroot>/<pid>/root/<path>: the path in the target's mount namespace
//     (containers);
//  4. <path> again, now accepting an inode match on another device;
//
// where <path> is the kernel's name without a " (deleted)" suffix. Each
// candidate is statx'ed first and must be a regular file whose inode (and
// device, see Lookup's devUnverified) matches the mapping: a file replaced
// at the same path, a FIFO or a device is never opened or attributed. The
// open is O_PATH, checked again with fstat, and only then turned into a
// read descriptor, so a swap between the stat and the open is caught
// before any driver sees an open. Reads are bounded (elfnote).
//
// What is read is cached process-wide per (device, inode, mtime, size,
// ctime) of the file, for cacheMax files, so a cache hit costs one statx.
// Entries keep no descriptor open. docs/kernel-quirks.md ("Devices and
// inodes") says why a device mismatch is accepted as unverified.
package locator

import (
	"bytes"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/libprocmapq/libprocmapq/core/internal/elfnote"
)

// Mapping is what a lookup needs to know about one mapping (a VMA).
type Mapping struct {
	Name               []byte // the kernel's name, absolute path for files
	Deleted            bool   // Name ends in " (deleted)", to be removed
	Start, End         uint64
	Inode              uint64
	DevMajor, DevMinor uint32
}

// Target says where to look for the file behind Mapping.
type Target struct {
	ProcRoot   string // "/proc" or another procfs mount
	Pid        int    // <= 0: no /proc/<pid> candidates (a captured text)
	Mapping    Mapping
	NoMapFiles bool // skip <procroot>/<pid>/map_files
	Cached     bool // use and fill the process-wide cache
}

// Facts is what was read from one file. A cached Facts is immutable.
type Facts struct {
	BuildID          []byte
	BuildIDInSection bool // the build ID is only in an SHT_NOTE section
	IsELF            bool
	Loads            []elfnote.Segment
	// KernelID is what PROCMAP_QUERY reports for this file version (empty:
	// none), when KernelKnown. The locator never asks the kernel; the
	// caller records the answer with [Scratch.RememberKernelID].
	KernelID    []byte
	KernelKnown bool
}

// Scratch is the reusable memory of lookups; one Scratch serves one
// lookup at a time. The statx buffers live here, not on the stack: a
// pointer passed to a raw syscall escapes.
type Scratch struct {
	// Opens counts the files opened for reading, in all (for tests).
	Opens int

	path  []byte // NUL-terminated candidate path
	key   fileKey
	stx   unix.Statx_t
	fstx  unix.Statx_t
	rd    fdReader
	elf   elfnote.Scratch
	facts Facts // uncached results
	vdso  vdsoImage
}

// location is one way of finding a mapped file, in the order tried.
type location uint8

const (
	locPathExact location = iota // the path, same device and inode only
	locMapFiles
	locPidRoot
	locPath // the path again, same inode on another device
)

var deletedSuffix = []byte(" (deleted)")

// Lookup finds the file behind t.Mapping and returns what it holds. The
// result may be a cache entry (immutable) or sc's own (valid until the
// next call). devUnverified says the file matched by inode only. A nil
// result means no matching file could be read.
func (sc *Scratch) Lookup(t *Target) (f *Facts, devUnverified bool) {
	m := &t.Mapping
	name := m.Name
	if m.Deleted {
		name = bytes.TrimSuffix(name, deletedSuffix)
	}
	inodeOnlyAtPath := false // step 1 found the inode on another device
	for loc := locPathExact; loc <= locPath; loc++ {
		if loc == locPath && !inodeOnlyAtPath || !sc.candidate(t, loc, name) {
			continue
		}
		if statxPath(sc.path, &sc.stx) != 0 {
			continue
		}
		ok, unverified := matches(&sc.stx, m, loc == locMapFiles)
		if !ok {
			continue
		}
		if unverified && loc == locPathExact {
			inodeOnlyAtPath = true // map_files may still verify it
			continue
		}
		if f := sc.factsOfStated(t.Cached); f != nil {
			return f, unverified
		}
	}
	return nil, false
}

// candidate puts into sc.path the NUL-terminated path of location loc for
// the file named name, or reports false when loc does not apply.
func (sc *Scratch) candidate(t *Target, loc location, name []byte) bool {
	absolute := len(name) > 0 && name[0] == '/'
	p := sc.path[:0]
	switch loc {
	case locPathExact, locPath:
		if !absolute {
			return false
		}
		p = append(p, name...)
	case locMapFiles:
		if t.NoMapFiles || t.Pid <= 0 {
			return false
		}
		p = appendProcPid(p, t.ProcRoot, t.Pid)
		p = append(p, "/map_files/"...)
		p = strconv.AppendUint(p, t.Mapping.Start, 16)
		p = append(p, '-')
		p = strconv.AppendUint(p, t.Mapping.End, 16)
	case locPidRoot:
		if t.Pid <= 0 || !absolute {
			return false
		}
		p = appendProcPid(p, t.ProcRoot, t.Pid)
		p = append(p, "/root"...)
		p = append(p, name...)
	}
	sc.path = p
	if bytes.IndexByte(p, 0) >= 0 {
		return false
	}
	sc.path = append(p, 0)
	return true
}

// appendProcPid appends "<procRoot>/<pid>" to p.
func appendProcPid(p []byte, procRoot string, pid int) []byte {
	p = append(p, procRoot...)
	p = append(p, '/')
	return strconv.AppendInt(p, int64(pid), 10)
}

// matches reports whether a stat'ed file is the one a mapping maps: a
// regular file with the same inode and, unless opened through map_files
// (the mapped file by construction), the same device. A device mismatch
// with a matching inode is accepted as unverified (btrfs subvolumes report
// their own st_dev; docs/kernel-quirks.md, "Devices and inodes").
func matches(st *unix.Statx_t, m *Mapping, viaMapFiles bool) (ok, devUnverified bool) {
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Ino != m.Inode {
		return false, false
	}
	if st.Dev_major == m.DevMajor && st.Dev_minor == m.DevMinor {
		return true, false
	}
	return true, !viaMapFiles
}

// factsOfStated returns the facts of the file at sc.path, stat'ed into
// sc.stx: from the cache when cached and known, else read (and then
// cached when cached). nil: the file could not be read.
func (sc *Scratch) factsOfStated(cached bool) *Facts {
	key := keyOf(&sc.stx)
	sc.key = key
	if cached {
		if f := cacheGet(&key); f != nil {
			return f
		}
	}
	f, ok := sc.readFile(&key)
	if !ok || !cached {
		return f
	}
	c := &Facts{BuildID: bytes.Clone(f.BuildID), BuildIDInSection: f.BuildIDInSection,
		IsELF: f.IsELF, Loads: append([]elfnote.Segment(nil), f.Loads...)}
	cachePut(&key, c)
	return c
}

// readFile opens sc.path and reads its ELF facts into sc.facts, after
// checking that the opened file is the one stat'ed (key). The path is
// first opened O_PATH, which never runs a driver's open: if the path was
// swapped for a device or a FIFO since the stat (a hostile target controls
// the path components under /proc/<pid>/root), nothing happens. Only the
// verified inode is then opened for reading, through /proc/self/fd.
func (sc *Scratch) readFile(key *fileKey) (*Facts, bool) {
	pfd, en := openPath(sc.path, unix.O_PATH)
	if en != 0 {
		return nil, false
	}
	defer unix.Close(pfd)
	if statxFD(pfd, &sc.fstx) != 0 || sc.fstx.Mode&unix.S_IFMT != unix.S_IFREG || keyOf(&sc.fstx) != *key {
		return nil, false
	}
	p := append(sc.path[:0], "/proc/self/fd/"...)
	sc.path = append(strconv.AppendInt(p, int64(pfd), 10), 0)
	fd, en := openPath(sc.path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if en != 0 {
		return nil, false
	}
	defer unix.Close(fd)
	sc.Opens++
	sc.rd.fd = fd
	info, err := elfnote.Read(&sc.rd, sc.fstx.Size, true, true, &sc.elf)
	f := &sc.facts
	*f = Facts{BuildID: f.BuildID[:0], Loads: f.Loads[:0]}
	switch err {
	case nil:
		f.IsELF = true
		f.BuildID = append(f.BuildID, info.BuildID...)
		f.BuildIDInSection = info.BuildIDInSection
		f.Loads = append(f.Loads, info.Loads...)
	case elfnote.ErrNotELF, elfnote.ErrBadELF, elfnote.ErrLimits:
		// A readable file without (usable) ELF structure: cache that too.
	default:
		return nil, false // an I/O error: do not cache
	}
	return f, true
}
