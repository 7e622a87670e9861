package core

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading build IDs and program headers from the files a target maps.
//
// A mapped file is located, in order, through
//
//  1. <path> in the caller's namespace, accepted only if its device and
//     inode are exactly the VMA's: then it is the mapped inode itself, as
//     map_files would give, at a third of the cost (a statx of a plain
//     path takes about 1.6 us, of a map_files link 4.5 us);
//  2. <procroot>/<pid>/map_files/<start>-<end>: the mapped file itself, even
//     when deleted or in another mount namespace (needs CAP_SYS_ADMIN);
//  3. <procroot>/<pid>/root/<path>: the path in the target's mount namespace
//     (containers);
//  4. <path> again, now accepting an inode match on another device;
//
// where <path> is the kernel's name without a " (deleted)" suffix. Each
// candidate is statx'ed first and must be a regular file whose inode (and
// device, see MetaDevUnverified) matches the VMA: a file replaced at the
// same path, a FIFO or a device is never opened or attributed. The open is
// O_PATH, checked again with fstat, and only then turned into a read
// descriptor, so a swap between the stat and the open is caught before any
// driver sees an open. Reads are bounded (elfnote.go).
//
// What is read is cached process-wide per (device, inode, mtime, size,
// ctime) of the file, for fileCacheMax files, so a cache hit costs one
// statx. Entries keep no descriptor open.

// fileCacheMax bounds the number of files whose ELF facts are cached.
const fileCacheMax = 1024

// fileKey identifies one version of one file.
type fileKey struct {
	devMajor, devMinor uint32
	ino, size          uint64
	mtime, ctime       unix.StatxTimestamp
}

// fileFacts is what was read from one file. It is immutable once cached.
type fileFacts struct {
	buildID          []byte
	buildIDInSection bool
	isELF            bool
	loads            []loadSegment
	// kernelID is what PROCMAP_QUERY reports for this file version (empty:
	// none), when kernelKnown.
	kernelID    []byte
	kernelKnown bool
}

var fileCache struct {
	sync.Mutex
	m map[fileKey]*fileFacts
}

func fileCacheGet(k *fileKey) *fileFacts {
	fileCache.Lock()
	f := fileCache.m[*k]
	fileCache.Unlock()
	return f
}

func fileCachePut(k *fileKey, f *fileFacts) {
	fileCache.Lock()
	defer fileCache.Unlock()
	if fileCache.m == nil {
		fileCache.m = make(map[fileKey]*fileFacts)
	}
	if len(fileCache.m) >= fileCacheMax {
		// Evict an arbitrary eighth (map order is random): cheap, bounded,
		// and hot files come back on their next miss.
		n := fileCacheMax / 8
		for key := range fileCache.m {
			delete(fileCache.m, key)
			if n--; n == 0 {
				break
			}
		}
	}
	fileCache.m[*k] = f
}

// fileScratch is the reusable memory of file lookups. The statx buffer
// lives here, not on the stack: a pointer passed to a raw syscall escapes.
type fileScratch struct {
	path  []byte  // NUL-terminated candidate path
	key   fileKey // of the file lookupFile last returned
	opens int     // files opened for reading, in all (tests)
	stx   unix.Statx_t
	fstx  unix.Statx_t
	rd    fdReader
	elf   elfScratch
	facts fileFacts // uncached results

	// The vDSO image last read from memory.
	vdso               fileFacts
	vdsoOK             bool
	vdsoPid            int
	vdsoStart, vdsoEnd uint64
	vdsoRoot           string
	mem                memReader
}

// memReader reads the target's memory through /proc/<pid>/mem from base.
type memReader struct {
	fd   int
	base uint64
}

func (r *memReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(r.fd, p, int64(r.base+uint64(off)))
	if n < 0 {
		n = 0
	}
	return n, err
}

// readMemoryELF reads the ELF image mapped at [start, start+size) of pid
// (the vDSO) into sc.vdso.
func (sc *fileScratch) readMemoryELF(procRoot string, pid int, start, size uint64) bool {
	p := append(sc.path[:0], procRoot...)
	p = append(p, '/')
	p = strconv.AppendInt(p, int64(pid), 10)
	sc.path = append(append(p, "/mem"...), 0)
	fd, en := openPath(sc.path, unix.O_RDONLY)
	if en != 0 {
		return false
	}
	defer unix.Close(fd)
	sc.mem = memReader{fd: fd, base: start}
	info, err := readELF(&sc.mem, size, true, true, &sc.elf)
	if err != nil {
		return false
	}
	sc.vdso.buildID = append(sc.vdso.buildID[:0], info.BuildID...)
	sc.vdso.loads = append(sc.vdso.loads[:0], info.Loads...)
	sc.vdso.isELF = true
	return true
}

type fdReader struct{ fd int }

func (r *fdReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(r.fd, p, off)
	if n < 0 {
		n = 0
	}
	return n, err
}

// fileLocation says how a file was located.
type fileLocation uint8

const (
	locPathExact fileLocation = iota // the path, same device and inode only
	locMapFiles
	locPidRoot
	locPath
)

// fileTarget is what the lookup needs to know about the mapping.
type fileTarget struct {
	procRoot string
	pid      int // <= 0: no /proc/<pid> candidates
	vma      *VMA
	noMap    bool
	cached   bool
}

// lookupFile finds the file behind t.vma and returns what it holds. The
// result may be a cache entry (immutable) or sc.facts (valid until the
// next call). devUnverified says the file matched by inode only. A nil
// result means no matching file could be read.
func (sc *fileScratch) lookupFile(t *fileTarget) (f *fileFacts, devUnverified bool) {
	v := t.vma
	name := v.Name
	if v.Flags&FlagDeleted != 0 {
		name = bytes.TrimSuffix(name, []byte(" (deleted)"))
	}
	pathInodeOnly := false // step 1 found the inode on another device
	for loc := locPathExact; loc <= locPath; loc++ {
		p := sc.path[:0]
		switch loc {
		case locPathExact:
			if len(name) == 0 || name[0] != '/' {
				continue
			}
			p = append(p, name...)
		case locMapFiles:
			if t.noMap || t.pid <= 0 {
				continue
			}
			p = append(p, t.procRoot...)
			p = append(p, '/')
			p = strconv.AppendInt(p, int64(t.pid), 10)
			p = append(p, "/map_files/"...)
			p = strconv.AppendUint(p, v.Start, 16)
			p = append(p, '-')
			p = strconv.AppendUint(p, v.End, 16)
		case locPidRoot:
			if t.pid <= 0 || len(name) == 0 || name[0] != '/' {
				continue
			}
			p = append(p, t.procRoot...)
			p = append(p, '/')
			p = strconv.AppendInt(p, int64(t.pid), 10)
			p = append(p, "/root"...)
			p = append(p, name...)
		case locPath:
			if !pathInodeOnly {
				continue
			}
			p = append(p, name...)
		}
		if bytes.IndexByte(p, 0) >= 0 {
			continue
		}
		sc.path = append(p, 0)
		if statxPath(sc.path, &sc.stx) != 0 {
			continue
		}
		ok, unverified := matchesVMA(&sc.stx, v, loc == locMapFiles)
		if ok && unverified && loc == locPathExact {
			pathInodeOnly = true // map_files may still verify it
			continue
		}
		if !ok {
			continue
		}
		key := keyOf(&sc.stx)
		sc.key = key
		if t.cached {
			if f := fileCacheGet(&key); f != nil {
				return f, unverified
			}
		}
		f, ok := sc.readFile(&key)
		if !ok {
			continue
		}
		if t.cached {
			c := &fileFacts{buildID: bytes.Clone(f.buildID), buildIDInSection: f.buildIDInSection,
				isELF: f.isELF, loads: append([]loadSegment(nil), f.loads...)}
			fileCachePut(&key, c)
			return c, unverified
		}
		return f, unverified
	}
	return nil, false
}

// matchesVMA reports whether a stat'ed file is the one a VMA maps: a
// regular file with the same inode and, unless opened through map_files
// (the mapped file by construction), the same device. A device mismatch
// with a matching inode is accepted as unverified (btrfs subvolumes report
// their own st_dev; see kernel-procmap-query.md §11).
func matchesVMA(st *unix.Statx_t, v *VMA, viaMapFiles bool) (ok, devUnverified bool) {
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Ino != v.Inode {
		return false, false
	}
	if st.Dev_major == v.DevMajor && st.Dev_minor == v.DevMinor {
		return true, false
	}
	return true, !viaMapFiles
}

func keyOf(st *unix.Statx_t) fileKey {
	return fileKey{devMajor: st.Dev_major, devMinor: st.Dev_minor, ino: st.Ino, size: st.Size,
		mtime: st.Mtime, ctime: st.Ctime}
}

// readFile opens sc.path and reads its ELF facts into sc.facts, after
// checking that the opened file is the one stat'ed (key). The path is
// first opened O_PATH, which never runs a driver's open: if the path was
// swapped for a device or a FIFO since the stat (a hostile target controls
// the path components under /proc/<pid>/root), nothing happens. Only the
// verified inode is then opened for reading, through /proc/self/fd.
func (sc *fileScratch) readFile(key *fileKey) (*fileFacts, bool) {
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
	sc.opens++
	sc.rd.fd = fd
	info, err := readELF(&sc.rd, sc.fstx.Size, true, true, &sc.elf)
	f := &sc.facts
	*f = fileFacts{buildID: f.buildID[:0], loads: f.loads[:0]}
	switch err {
	case nil:
		f.isELF = true
		f.buildID = append(f.buildID, info.BuildID...)
		f.buildIDInSection = info.BuildIDInSection
		f.loads = append(f.loads, info.Loads...)
	case errNotELF, errBadELF, errELFLimits:
		// A readable file without (usable) ELF structure: cache that too.
	default:
		return nil, false // an I/O error: do not cache
	}
	return f, true
}

// statxPath stats the NUL-terminated path (following symlinks, as the
// map_files and root links need).
func statxPath(path []byte, st *unix.Statx_t) syscall.Errno {
	_, _, en := unix.Syscall6(unix.SYS_STATX, atFDCWD, uintptr(unsafe.Pointer(&path[0])),
		uintptr(unix.AT_STATX_SYNC_AS_STAT), uintptr(unix.STATX_BASIC_STATS), uintptr(unsafe.Pointer(st)), 0)
	return en
}

// emptyPath is "" for AT_EMPTY_PATH (a global: a local would escape).
var emptyPath = [1]byte{}

func statxFD(fd int, st *unix.Statx_t) syscall.Errno {
	_, _, en := unix.Syscall6(unix.SYS_STATX, uintptr(fd), uintptr(unsafe.Pointer(&emptyPath[0])),
		uintptr(unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT), uintptr(unix.STATX_BASIC_STATS), uintptr(unsafe.Pointer(st)), 0)
	return en
}

// openPath opens the NUL-terminated path with flags (plus O_CLOEXEC).
func openPath(path []byte, flags int) (int, syscall.Errno) {
	for {
		fd, _, en := unix.Syscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&path[0])),
			uintptr(flags|unix.O_CLOEXEC), 0, 0, 0)
		if en == syscall.EINTR {
			continue
		}
		return int(fd), en
	}
}

// atFDCWD is AT_FDCWD (-100) as a syscall argument.
const atFDCWD = ^uintptr(-unix.AT_FDCWD - 1)

// compareBuildIDs adds to r, once per mapped file, how the build ID the
// kernel reported in the ioctl walk compares with the one in the file:
// DiffBuildIDTooLong (expected) when the kernel has none because the
// file's is longer than 20 bytes or only in a section, DiffBuildID when
// they differ otherwise (two GNU notes, or a 6.11 kernel that missed a
// note outside the page cache). Files that cannot be found and verified
// are not classified.
func (h *Handle) compareBuildIDs(ioctl []VMA, r *CompareReport) {
	var sc fileScratch
	t := fileTarget{procRoot: h.procRoot, pid: h.pid, cached: true}
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
		t.vma = v
		f, _ := sc.lookupFile(&t)
		if f == nil || !f.isELF {
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
func classifyBuildIDs(kernel []byte, f *fileFacts) (kind DiffKind, detail string, differ bool) {
	switch {
	case bytes.Equal(kernel, f.buildID):
		return 0, "", false
	case len(kernel) == 0 && len(f.buildID) > buildIDMax:
		return DiffBuildIDTooLong, fmt.Sprintf("file has a %d-byte build ID %x", len(f.buildID), f.buildID), true
	case len(kernel) == 0 && f.buildIDInSection:
		return DiffBuildIDTooLong, fmt.Sprintf("file's build ID %x is in a section outside PT_NOTE", f.buildID), true
	}
	return DiffBuildID, fmt.Sprintf("kernel %x, file %x", kernel, f.buildID), true
}

// kernelBuildID appends to dst the build ID PROCMAP_QUERY reports for the
// file v maps (one ioctl at v.Start, nothing when the kernel has none). ok
// is false when the ioctl cannot be used (kernel older than 6.11, text
// snapshot, target gone) or the VMA changed since it was found.
func (h *Handle) kernelBuildID(v *VMA, dst []byte) (_ []byte, ok bool) {
	if h.kind == kindText || h.lockOpen("normalize") != nil {
		return dst, false
	}
	defer h.mu.Unlock()
	if h.gone || !h.ioctlUsable() {
		return dst, false
	}
	b := h.buffers()
	if b.doQuery(h.fd, v.Start, 0, true) != 0 {
		return dst, false
	}
	q := &b.q
	if q.VMAStart != v.Start || q.VMAEnd != v.End || q.Inode != v.Inode || q.DevMajor != v.DevMajor ||
		q.DevMinor != v.DevMinor || q.BuildIDSz > buildIDMax {
		return dst, false
	}
	return append(dst, b.buildID[:q.BuildIDSz]...), true
}
