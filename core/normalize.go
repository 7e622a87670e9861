package core

import (
	"bytes"
	"slices"

	"github.com/libprocmapq/libprocmapq/core/internal/elfnote"
	"github.com/libprocmapq/libprocmapq/core/internal/locator"
)

// MetaKind says what a normalized address belongs to. The values are
// stable (C bindings copy them).
type MetaKind uint8

const (
	// MetaUnknown: the address could not be attributed to a file; see
	// [Meta.Reason].
	MetaUnknown MetaKind = 0
	// MetaELF: a file-backed mapping, normally an ELF object. The output's
	// FileOffset is an offset into that file. A non-ELF file (a data file,
	// shared anonymous memory shown as "/dev/zero (deleted)") is reported
	// the same way and simply has no build ID.
	MetaELF MetaKind = 1
	// MetaVDSO: the kernel's vDSO image ("[vdso]"), which has no file; the
	// output's FileOffset is an offset into the in-memory image.
	MetaVDSO MetaKind = 2
)

var metaKindNames = [...]string{"unknown", "elf", "vdso"}

func (k MetaKind) String() string { return enumName(metaKindNames[:], k, "meta-kind") }

// UnknownReason says why an address is [MetaUnknown]. Values 0 to 2 are
// blazesym's (Unmapped, MissingComponent, Unsupported); the values are
// stable.
type UnknownReason uint8

const (
	// UnknownUnmapped: no VMA covers the address (a gap, below the first or
	// above the last VMA). Also the ioctl's answer for the x86-64
	// [vsyscall] page, which only the text backend shows.
	UnknownUnmapped UnknownReason = 0
	// UnknownAnonymous: anonymous memory without a name (heap arenas,
	// thread stacks, JIT code).
	UnknownAnonymous UnknownReason = 1
	// UnknownUnsupported: a named mapping that is not a file: [heap],
	// [stack], [vvar], [vsyscall], [anon:NAME], [anon_shmem:NAME], ...
	UnknownUnsupported UnknownReason = 2
	// UnknownFiltered: a VMA covers the address but fails
	// NormalizeOptions.Filter.
	UnknownFiltered UnknownReason = 3
	// UnknownProcessGone: the target went away before the address was
	// resolved.
	UnknownProcessGone UnknownReason = 4
)

var unknownReasonNames = [...]string{"unmapped", "anonymous", "unsupported", "filtered", "process-gone"}

func (r UnknownReason) String() string {
	return enumName(unknownReasonNames[:], r, "unknown-reason")
}

// BuildIDSource says where a meta's build ID came from. The values are
// stable.
type BuildIDSource uint8

const (
	// BuildIDNone: no build ID (not asked for, none in the file, or no
	// file matching the mapping could be read; see [MetaFileUnavailable]).
	BuildIDNone BuildIDSource = 0
	// BuildIDKernel: reported by PROCMAP_QUERY (Linux 6.11+, at most 20
	// bytes, GNU notes in PT_NOTE segments only).
	BuildIDKernel BuildIDSource = 1
	// BuildIDFile: read from the mapped file by this package (any length;
	// PT_NOTE segments first, then SHT_NOTE sections).
	BuildIDFile BuildIDSource = 2
	// BuildIDMemory: read from the target's memory (the vDSO image, which
	// has no file), through /proc/<pid>/mem.
	BuildIDMemory BuildIDSource = 3
)

var buildIDSourceNames = [...]string{"none", "kernel", "file", "memory"}

func (s BuildIDSource) String() string {
	return enumName(buildIDSourceNames[:], s, "build-id-source")
}

// MetaFlags carry facts about an ELF meta.
type MetaFlags uint8

const (
	// MetaDeleted: the kernel's name ends in " (deleted)": the file was
	// unlinked or replaced after it was mapped (also memfd and shared
	// anonymous memory). Path keeps the suffix.
	MetaDeleted MetaFlags = 1 << iota
	// MetaFileUnavailable: build IDs or virtual addresses were asked for,
	// the kernel had no build ID, and no file matching the mapping's
	// device and inode could be opened (no privilege for map_files, the
	// file was deleted or replaced, another mount namespace without
	// access, ...), or for the vDSO, its memory could not be read.
	// BuildID is then empty and outputs have no VirtAddr.
	MetaFileUnavailable
	// MetaDevUnverified: the file was opened by path and its inode matches
	// the mapping but its device number does not. On btrfs stat() reports
	// a per-subvolume device while the mapping shows the filesystem's, so
	// the file is accepted; this flag says the match rests on the inode
	// alone. Never set for files opened through map_files, which are the
	// mapped file by construction.
	MetaDevUnverified
	// MetaNameAmbiguous: the text backend read "\012" in the name and
	// turned it into a newline; the path may really hold those four bytes
	// (the ioctl backend has the exact name). A build ID is still found
	// through map_files.
	MetaNameAmbiguous
)

// Meta describes what a group of normalized addresses belongs to. Path
// and BuildID alias memory owned by the [Normalized] they came from and
// stay valid until it is reused.
type Meta struct {
	Kind MetaKind
	// Reason is why the address is unknown (MetaUnknown only).
	Reason        UnknownReason
	BuildIDSource BuildIDSource
	Flags         MetaFlags
	// Path is the mapping's name exactly as the kernel reports it: an
	// absolute path (with " (deleted)" kept for unlinked files) for
	// MetaELF, "[vdso]" for MetaVDSO, empty for MetaUnknown.
	Path []byte
	// BuildID is the raw GNU build ID (any length), empty when
	// BuildIDSource is BuildIDNone.
	BuildID []byte
	// DevMajor, DevMinor and Inode identify the mapped file (MetaELF).
	DevMajor, DevMinor uint32
	Inode              uint64
}

// NormOutput is the normalized form of one input address.
type NormOutput struct {
	// FileOffset is addr - vma.Start + vma.Offset for MetaELF and MetaVDSO
	// (for the vDSO: the offset in its image);
	// for MetaUnknown it is the input address unchanged (as in blazesym).
	FileOffset uint64
	// VirtAddr is the ELF virtual address (as in the file's symbol tables)
	// of FileOffset, when NormalizeOptions.VirtAddrs was set and a PT_LOAD
	// segment's file range holds the offset. Valid only if HasVirtAddr.
	VirtAddr uint64
	// Meta indexes [Normalized.Metas].
	Meta        uint32
	HasVirtAddr bool
}

// NormalizeOptions tune [Handle.Normalize]. The zero value (or nil) means:
// auto backend, every VMA, no build IDs, no virtual addresses, mapped files
// also looked up through /proc/<pid>/map_files, build-ID cache on.
type NormalizeOptions struct {
	// Backend selects how VMAs are found, as in [Options].
	Backend Backend
	// Filter makes addresses in VMAs that fail it UnknownFiltered.
	Filter Filter
	// Sorted says the addresses are already ascending, which saves the
	// internal sort. Unsorted input is still answered correctly.
	Sorted bool
	// BuildIDs asks for build IDs: the kernel's (PROCMAP_QUERY, Linux
	// 6.11+) unless Backend is BackendText, else, or when the kernel has
	// none, read from the mapped file; for the vDSO, read from the
	// target's memory (needs the ptrace access /proc/<pid>/mem requires;
	// without it the vDSO meta has no build ID).
	BuildIDs bool
	// VirtAddrs asks for [NormOutput.VirtAddr] (reads the files' program
	// headers, and the vDSO's from memory).
	VirtAddrs bool
	// NoMapFiles skips /proc/<pid>/map_files when opening mapped files (it
	// needs CAP_SYS_ADMIN; without it each attempt costs a failed statx).
	// Files are then found by path only: in the caller's mount namespace,
	// then through /proc/<pid>/root; either must have the mapping's inode
	// (see [MetaDevUnverified]). Deleted files are then unavailable.
	NoMapFiles bool
	// NoBuildIDCache reads every file, and asks the kernel, again instead
	// of using the process-wide cache of what was read from each file and
	// what the kernel said about it, keyed by the file's device, inode,
	// size, mtime and ctime (one statx per file and call on a hit).
	NoBuildIDCache bool
}

// Normalized is the answer of [Handle.Normalize]. Reusing one Normalized
// across calls makes the steady state allocation-free (with build IDs
// cached). It must not be used by two calls at once.
type Normalized struct {
	// Outputs has one entry per input address, in input order.
	Outputs []NormOutput
	// Metas is the deduplicated meta table: one per mapped file, one for
	// the vDSO, one per unknown reason. Metas appear in the order of the
	// lowest address that uses them.
	Metas []Meta
	// Strategy is how the VMAs were found.
	Strategy Strategy

	q         Result            // the underlying query
	vmaMeta   []uint32          // q.VMAs index -> meta index (noMeta until used)
	metaVMA   []int32           // meta index -> a q.VMAs index of that meta (-1 for unknown)
	metaLoads [][2]uint32       // meta index -> range of loads (VirtAddrs)
	loads     []elfnote.Segment // PT_LOAD segments of the metas' files
	arena     []byte            // build IDs read from files
	files     *locator.Scratch
	fileMetas map[fileIdentity]uint32 // ELF meta of a file (first name seen)
	// special holds the meta index of each unknown reason and, in the
	// last slot, of the vDSO (noMeta until used).
	special [vdsoSlot + 1]uint32
}

const noMeta = ^uint32(0)

// vdsoSlot is the vDSO's slot in Normalized.special, after the reasons.
const vdsoSlot = int(UnknownProcessGone) + 1

// fileIdentity is a mapped file's device and inode.
type fileIdentity struct {
	devMajor, devMinor uint32
	ino                uint64
}

// normalizeHookAfterQuery, when set by a test, runs between finding the
// VMAs and reading the files (to make a target exit exactly there).
var normalizeHookAfterQuery func()

// Normalize turns absolute addresses of the target into (file offset,
// meta) pairs, blazesym-style: res.Outputs[i] answers addrs[i] (any order,
// duplicates allowed) and indexes res.Metas, a table deduplicated per file.
// An address that cannot be attributed gets a MetaUnknown meta with the
// reason; it never fails the batch. res may be reused.
//
// Build-ID and file-read failures are not errors: the meta then has no
// build ID (see [MetaFileUnavailable]). If the target goes away during the
// call, res is still complete (unresolved addresses get
// UnknownProcessGone) and Normalize returns an error wrapping
// [ErrProcessGone]. Other errors (closed handle, invalid options) leave
// res.Outputs empty.
//
// The text and ioctl backends give the same answers, except where the
// kernel interfaces differ: the x86-64 [vsyscall] page is
// UnknownUnsupported with text and UnknownUnmapped with the ioctl (which
// never reports it); a path of PATH_MAX bytes or more is empty in the
// ioctl's meta; a path holding a newline or the four bytes "\012" is
// ambiguous in the text (MetaNameAmbiguous), exact with the ioctl;
// BuildIDSource is BuildIDKernel with the ioctl where text
// gives BuildIDFile. The bytes of a build ID only differ for a file with
// several GNU build-ID notes, the first longer than 20 bytes: the kernel
// skips it and reports the next, and its answer is kept (it read the
// mapped file itself; [Handle.Compare] reports the file as DiffBuildID).
//
// On kernels older than 6.11 the auto backend reads the text and build IDs
// come from the files only; a forced ioctl backend fails with
// [ErrNotSupported].
func (h *Handle) Normalize(addrs []uint64, opts *NormalizeOptions, res *Normalized) error {
	var o NormalizeOptions
	if opts != nil {
		o = *opts
	}
	if err := h.checkCall("normalize", res == nil, o.Backend, o.Filter); err != nil {
		return err
	}
	res.reset()
	// With the cache on, the kernel's build IDs are cached too (keyed by
	// the file's statx, like the rest): asking the kernel costs about 4 to
	// 10 us per ioctl on Linux 6.18 (it parses the file each time), a
	// cache hit one statx of the path, about 1.6 us, per file.
	askKernel := o.BuildIDs && o.Backend != BackendText && h.kind != kindText
	kernelCached := askKernel && !o.NoBuildIDCache
	qopts := Options{Backend: o.Backend, Filter: o.Filter, Sorted: o.Sorted, BuildIDs: o.BuildIDs && !kernelCached}
	res.q.keepBatch = true
	qerr := h.Query(addrs, &qopts, &res.q)
	defer res.q.releaseBatch()
	if !AnswersComplete(qerr) || len(addrs) == 0 {
		return qerr
	}
	res.Strategy = res.q.Strategy
	res.Outputs = slices.Grow(res.Outputs, len(addrs))[:len(addrs)]
	res.vmaMeta = slices.Grow(res.vmaMeta[:0], len(res.q.VMAs))[:len(res.q.VMAs)]
	for i := range res.vmaMeta {
		res.vmaMeta[i] = noMeta
	}
	// Walk the addresses in ascending order so that metas are numbered by
	// their lowest address whatever the backend or the input order.
	b := &res.q.batch
	for i, a := range b.addrs {
		in := b.input(i)
		res.Outputs[in] = res.normalizeOne(a, res.q.Lookups[in])
	}
	if normalizeHookAfterQuery != nil {
		normalizeHookAfterQuery()
	}
	if o.BuildIDs || o.VirtAddrs {
		res.readFiles(h, &o, askKernel, kernelCached)
	}
	if o.VirtAddrs {
		res.addVirtAddrs()
	}
	return qerr
}

// reset empties res for a new call, keeping its storage.
func (res *Normalized) reset() {
	res.Outputs, res.Metas, res.Strategy = res.Outputs[:0], res.Metas[:0], StrategyNone
	res.metaVMA, res.loads, res.arena = res.metaVMA[:0], res.loads[:0], res.arena[:0]
	for i := range res.special {
		res.special[i] = noMeta
	}
	if res.fileMetas == nil {
		res.fileMetas = make(map[fileIdentity]uint32)
	}
	clear(res.fileMetas) // keeps its storage: no allocation once grown
}

// readFiles completes the ELF metas from their files: the build ID when
// the kernel gave none, the PT_LOAD segments for virtual addresses. The
// kernel's build ID wins when both exist: it comes from the mapped file
// itself, while a file found by path could differ (and they can only
// disagree on an ELF with several GNU build-ID notes, where the kernel
// skips those over 20 bytes; [Handle.Compare] reports that as
// DiffBuildID).
func (res *Normalized) readFiles(h *Handle, o *NormalizeOptions, askKernel, kernelCached bool) {
	// VMAs the auto backend found in the text came without the kernel's
	// build ID: ask for it per file, as the ioctl would have given it.
	textFound := res.q.Strategy == StrategyText || res.q.Strategy == StrategyIoctlThenText
	if res.files == nil {
		res.files = new(locator.Scratch)
	}
	res.metaLoads = slices.Grow(res.metaLoads[:0], len(res.Metas))[:len(res.Metas)]
	pid := h.pid
	if h.kind == kindText {
		pid = -1 // a snapshot: /proc/<pid> is not its process
	}
	t := locator.Target{ProcRoot: h.procRoot, Pid: pid, NoMapFiles: o.NoMapFiles, Cached: !o.NoBuildIDCache}
	for i := range res.Metas {
		m := &res.Metas[i]
		res.metaLoads[i] = [2]uint32{}
		if m.Kind == MetaVDSO {
			res.readVDSO(h, pid, i, o)
			continue
		}
		if m.Kind != MetaELF {
			continue
		}
		needID := o.BuildIDs && m.BuildIDSource == BuildIDNone
		if !needID && !o.VirtAddrs {
			continue
		}
		v := &res.q.VMAs[res.metaVMA[i]]
		t.Mapping = mappingOf(v)
		f, devUnverified := res.files.Lookup(&t)
		switch {
		case !needID || !askKernel:
		case kernelCached:
			needID = !res.cachedKernelID(h, f, v, m)
		case textFound:
			needID = !res.askKernelID(h, v, m)
		}
		res.useFile(i, f, devUnverified, needID, o.VirtAddrs)
	}
	// Build IDs appended to a grown arena keep pointing at the old array,
	// which holds the same bytes: nothing to fix up.
}

// useFile completes meta i from its file's facts f (nil: not found): the
// build ID when needID, the PT_LOAD segments when virtAddrs.
func (res *Normalized) useFile(i int, f *locator.Facts, devUnverified, needID, virtAddrs bool) {
	m := &res.Metas[i]
	if f == nil {
		if needID || virtAddrs {
			m.Flags |= MetaFileUnavailable
		}
		return
	}
	if devUnverified {
		m.Flags |= MetaDevUnverified
	}
	if needID && len(f.BuildID) > 0 {
		start := len(res.arena)
		res.arena = append(res.arena, f.BuildID...)
		m.BuildID, m.BuildIDSource = res.arena[start:len(res.arena):len(res.arena)], BuildIDFile
	}
	if virtAddrs {
		start := len(res.loads)
		res.loads = append(res.loads, f.Loads...)
		res.metaLoads[i] = [2]uint32{uint32(start), uint32(len(res.loads))}
	}
}

// cachedKernelID gives m the kernel's build ID for the file f (a cache
// entry, or nil when the file could not be found), asking the kernel only
// when the entry does not know it yet. It reports whether m got one; when
// the kernel has none the file's is used, as without the cache.
func (res *Normalized) cachedKernelID(h *Handle, f *locator.Facts, v *VMA, m *Meta) bool {
	start := len(res.arena)
	if f != nil && f.KernelKnown {
		res.arena = append(res.arena, f.KernelID...)
	} else {
		var ok bool
		if res.arena, ok = h.kernelBuildID(v, res.arena); !ok {
			return false
		}
		if f != nil {
			res.files.RememberKernelID(f, res.arena[start:])
		}
	}
	if len(res.arena) == start {
		return false
	}
	m.BuildID, m.BuildIDSource = res.arena[start:len(res.arena):len(res.arena)], BuildIDKernel
	return true
}

// askKernelID gives m the kernel's build ID for the file v maps, if the
// kernel has one (uncached).
func (res *Normalized) askKernelID(h *Handle, v *VMA, m *Meta) bool {
	start := len(res.arena)
	var ok bool
	if res.arena, ok = h.kernelBuildID(v, res.arena); !ok || len(res.arena) == start {
		return false
	}
	m.BuildID, m.BuildIDSource = res.arena[start:len(res.arena):len(res.arena)], BuildIDKernel
	return true
}

// readVDSO completes the vDSO meta i from the target's memory. The image
// is read once per (pid, range) and kept in res.files: it does not change
// while the process lives.
func (res *Normalized) readVDSO(h *Handle, pid, i int, o *NormalizeOptions) {
	m := &res.Metas[i]
	v := &res.q.VMAs[res.metaVMA[i]]
	img, ok := res.files.VDSO(h.procRoot, pid, v.Start, v.End)
	if !ok {
		m.Flags |= MetaFileUnavailable
		return
	}
	if o.BuildIDs && len(img.BuildID) > 0 {
		start := len(res.arena)
		res.arena = append(res.arena, img.BuildID...)
		m.BuildID, m.BuildIDSource = res.arena[start:len(res.arena):len(res.arena)], BuildIDMemory
	}
	if o.VirtAddrs {
		start := len(res.loads)
		res.loads = append(res.loads, img.Loads...)
		res.metaLoads[i] = [2]uint32{uint32(start), uint32(len(res.loads))}
	}
}

// addVirtAddrs sets VirtAddr from the PT_LOAD segment whose file range
// holds the offset (p_filesz, not p_memsz: bss has no file offset).
func (res *Normalized) addVirtAddrs() {
	for i := range res.Outputs {
		out := &res.Outputs[i]
		if res.Metas[out.Meta].Kind == MetaUnknown {
			continue
		}
		r := res.metaLoads[out.Meta]
		for _, l := range res.loads[r[0]:r[1]] {
			if out.FileOffset >= l.Offset && out.FileOffset-l.Offset < l.FileSize {
				out.VirtAddr, out.HasVirtAddr = out.FileOffset-l.Offset+l.VAddr, true
				break
			}
		}
	}
}

// normalizeOne answers one address from its lookup.
func (res *Normalized) normalizeOne(addr uint64, l Lookup) NormOutput {
	switch l.Reason {
	case ReasonFound:
	case ReasonFiltered:
		return NormOutput{FileOffset: addr, Meta: res.unknownMeta(UnknownFiltered)}
	case ReasonProcessGone:
		return NormOutput{FileOffset: addr, Meta: res.unknownMeta(UnknownProcessGone)}
	default:
		return NormOutput{FileOffset: addr, Meta: res.unknownMeta(UnknownUnmapped)}
	}
	v := &res.q.VMAs[l.VMA]
	m := res.vmaMeta[l.VMA]
	if m == noMeta {
		m = res.metaFor(l.VMA)
		res.vmaMeta[l.VMA] = m
	}
	if res.Metas[m].Kind == MetaUnknown {
		return NormOutput{FileOffset: addr, Meta: m}
	}
	return NormOutput{FileOffset: v.FileOffset(addr), Meta: m}
}

// unknownMeta returns the index of the Unknown meta for reason, adding it.
func (res *Normalized) unknownMeta(reason UnknownReason) uint32 {
	if int(reason) < len(res.special) && res.special[reason] != noMeta {
		return res.special[reason]
	}
	res.Metas = append(res.Metas, Meta{Kind: MetaUnknown, Reason: reason})
	res.metaVMA = append(res.metaVMA, -1)
	i := uint32(len(res.Metas) - 1)
	if int(reason) < len(res.special) {
		res.special[reason] = i
	}
	return i
}

// metaFor returns the meta of a VMA, adding it: one per file (device,
// inode and name), one for the vDSO, one per unknown reason.
func (res *Normalized) metaFor(vi int32) uint32 {
	v := &res.q.VMAs[vi]
	switch v.Kind {
	case KindFile, KindDeletedFile:
	case KindVDSO:
		if res.special[vdsoSlot] == noMeta {
			res.special[vdsoSlot] = res.addMeta(Meta{Kind: MetaVDSO, Path: v.Name}, vi)
		}
		return res.special[vdsoSlot]
	case KindAnonymous:
		return res.unknownMeta(UnknownAnonymous)
	default:
		return res.unknownMeta(UnknownUnsupported)
	}
	id := fileIdentity{v.DevMajor, v.DevMinor, v.Inode}
	if i, ok := res.fileMetas[id]; ok {
		m := &res.Metas[i]
		if bytes.Equal(m.Path, v.Name) {
			if m.BuildIDSource == BuildIDNone && len(v.BuildID) > 0 {
				// The auto backend may have found the first VMA by text.
				m.BuildID, m.BuildIDSource = v.BuildID, BuildIDKernel
			}
			return i
		}
		// Same file under another name (a hard link mapped twice, or
		// renamed between mappings): a meta of its own, found by a scan.
		for j := range res.Metas {
			m := &res.Metas[j]
			if m.Kind == MetaELF && m.Inode == v.Inode && m.DevMajor == v.DevMajor &&
				m.DevMinor == v.DevMinor && bytes.Equal(m.Path, v.Name) {
				return uint32(j)
			}
		}
	}
	m := Meta{Kind: MetaELF, Path: v.Name, DevMajor: v.DevMajor, DevMinor: v.DevMinor, Inode: v.Inode}
	if v.Flags&FlagDeleted != 0 {
		m.Flags |= MetaDeleted
	}
	if v.Flags&FlagNameAmbiguous != 0 {
		m.Flags |= MetaNameAmbiguous
	}
	if len(v.BuildID) > 0 {
		m.BuildID, m.BuildIDSource = v.BuildID, BuildIDKernel
	}
	i := res.addMeta(m, vi)
	if _, ok := res.fileMetas[id]; !ok {
		res.fileMetas[id] = i
	}
	return i
}

func (res *Normalized) addMeta(m Meta, vi int32) uint32 {
	res.Metas = append(res.Metas, m)
	res.metaVMA = append(res.metaVMA, vi)
	return uint32(len(res.Metas) - 1)
}

// mappingOf is what the file locator needs to know of v (no copy of the
// name).
func mappingOf(v *VMA) locator.Mapping {
	return locator.Mapping{Name: v.Name, Deleted: v.Flags&FlagDeleted != 0, Start: v.Start, End: v.End,
		Inode: v.Inode, DevMajor: v.DevMajor, DevMinor: v.DevMinor}
}
