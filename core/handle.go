package core

import (
	"bytes"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"

	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultProcRoot is where procfs is mounted.
const DefaultProcRoot = "/proc"

type handleKind uint8

const (
	kindPid  handleKind = iota // opened by pid: can be reopened
	kindFD                     // a maps fd handed over by the target
	kindText                   // a captured maps text
)

// OpenOptions tune how a handle is opened. The zero value is the default.
type OpenOptions struct {
	// ProcRoot is where procfs is mounted; empty means "/proc".
	ProcRoot string
	// Pid names the process a maps fd belongs to ([OpenFD] only), for error
	// messages and for locating mapped files (normalization); 0 = unknown.
	Pid int
}

// Handle is one target address space, kept open between calls. All its
// methods are safe for concurrent use; calls on one handle are serialized.
type Handle struct {
	mu       sync.Mutex
	kind     handleKind
	fd       int // maps fd; -1 for text handles and after Close
	pid      int // target pid; -1 when unknown
	procRoot string
	closed   bool
	gone     bool   // the fd answered ESRCH or read empty: the mm is gone
	goneWhy  string // how, once asked (see goneCause)
	// adoptTried: a live thread's view was looked for since the mm went
	// (see adoptLiveThread).
	adoptTried bool

	// ioctlState is this handle's own knowledge of the ioctl: an fd that is
	// not a maps fd answers ENOTTY even on a new kernel.
	ioctlState int8 // 0 unknown, 1 works, -1 ENOTTY

	// The gate VMA ([vsyscall]) only the text shows, learnt from the first
	// text read, so that auto can answer as the text does without reading
	// it again; fixed for the life of an mm.
	gateKnown bool
	hasGate   bool
	gate      VMA

	// Text backend scratch, reused between calls.
	textBuf []byte
	reads   int // read calls made by the last readText
	ioc     *ioctlBuffers

	// Text handles: the snapshot, parsed once at open.
	snapVMAs []VMA

	plan planner
}

// Open opens the address space of process pid (0 = the calling process) by
// its /proc/<pid>/maps file and keeps the file open. The caller needs
// PTRACE_MODE_READ access to the target (the same as for reading its maps);
// without it Open returns an error wrapping [ErrPermission]. A pid that does
// not exist gives [ErrNoProcess].
//
// The open file stays bound to the process that had the pid when Open ran:
// if it exits, queries fail with [ErrProcessGone], never answering for
// another process that reuses the pid. Open costs one open(2) and Close one
// close(2), as reading the maps by hand would.
//
// Open does not need PROCMAP_QUERY: on kernels older than 6.11 every query
// uses the text backend.
func Open(pid int) (*Handle, error) { return OpenWithOptions(pid, nil) }

// selfPid is the calling process's pid, read once: a Go process keeps its
// pid (the C library refuses calls in a forked child).
var selfPid = unix.Getpid()

// OpenWithOptions is [Open] with options.
func OpenWithOptions(pid int, opts *OpenOptions) (*Handle, error) {
	if pid < 0 {
		return nil, &Error{Op: "open", Pid: pid, Err: ErrInvalidArgument}
	}
	if pid == 0 {
		pid = selfPid
	}
	h := &Handle{kind: kindPid, fd: -1, pid: pid, procRoot: DefaultProcRoot}
	if opts != nil && opts.ProcRoot != "" {
		h.procRoot = opts.ProcRoot
	}
	path := h.procRoot + "/" + strconv.Itoa(h.pid) + "/maps"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		en := err.(syscall.Errno)
		if en == syscall.ENOENT {
			return nil, &Error{Op: "open", Pid: h.pid, Path: path, Err: &errnoError{sentinel: ErrNoProcess, errno: syscall.ESRCH}}
		}
		return nil, &Error{Op: "open", Pid: h.pid, Path: path, Err: classifyErrno(en)}
	}
	h.fd = fd
	h.plan.attach(h.pid)
	return h, nil
}

// reopenMaps opens the maps file again through the open one's
// /proc/self/fd link: procfs binds the file to the process (not the pid)
// that it was opened for, so the new file shows that same process's
// current address space (after an exec), and the open fails with ESRCH
// once that process is gone, even if another one now has its pid.
func (h *Handle) reopenMaps() error {
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(h.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		en := err.(syscall.Errno)
		if en != syscall.ESRCH && en != syscall.ENOENT {
			return &Error{Op: "reopen", Pid: h.pid, Err: classifyErrno(en)}
		}
		// Gone for good; say whether another process now has the pid.
		var st unix.Stat_t
		if unix.Stat(h.procRoot+"/"+strconv.Itoa(h.pid), &st) == nil {
			return &Error{Op: "reopen", Pid: h.pid, Err: &errnoError{sentinel: ErrPidReused, errno: syscall.ESRCH}}
		}
		return &Error{Op: "reopen", Pid: h.pid, Err: &errnoError{sentinel: ErrProcessGone, errno: syscall.ESRCH}}
	}
	unix.Close(h.fd)
	h.fd, h.gone, h.goneWhy, h.ioctlState, h.adoptTried = fd, false, "", 0, false
	h.gateKnown, h.hasGate = false, false // an exec may change the ABI
	return nil
}

// OpenFD opens a handle on a /proc/<pid>/maps file descriptor, typically
// one the target opened on /proc/self/maps and passed to the profiler: the
// profiler then needs no privileges over the target. fd is duplicated; the
// caller keeps ownership of its own descriptor. fd must be a readable
// /proc/<pid>/maps (or task/<tid>/maps) file; anything else, smaps or
// pagemap included, gives [ErrInvalidArgument] (on kernels with
// PROCMAP_QUERY the fd must also answer the ioctl). opts.Pid, if known, is used
// in messages and to locate mapped files.
func OpenFD(fd int, opts *OpenOptions) (*Handle, error) {
	pid := -1
	if opts != nil && opts.Pid > 0 {
		pid = opts.Pid
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return nil, &Error{Op: "open fd", Pid: pid, Err: classifyErrno(err.(syscall.Errno))}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &Error{Op: "open fd", Pid: pid, Err: classifyErrno(err.(syscall.Errno))}
	}
	if why := notMapsFile(fd, &st, &sfs); why != "" {
		return nil, &Error{Op: "open fd", Pid: pid, Err: invalidf("%s", why)}
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Op: "open fd", Pid: pid, Err: classifyErrno(err.(syscall.Errno))}
	}
	h := &Handle{kind: kindFD, fd: nfd, pid: pid, procRoot: DefaultProcRoot}
	if ok, _ := SupportsProcmapQuery(); ok {
		// Every maps fd answers the ioctl on such a kernel; smaps, status
		// and the like answer ENOTTY, pagemap EINVAL.
		if works, _, err := probeFD(nfd); !works || err != nil {
			unix.Close(nfd)
			return nil, &Error{Op: "open fd", Pid: pid, Err: invalidf("not a maps file (PROCMAP_QUERY refused)")}
		}
		h.ioctlState = 1
	}
	if opts != nil && opts.ProcRoot != "" {
		h.procRoot = opts.ProcRoot
	}
	return h, nil
}

// notMapsFile says why fd is not a readable /proc maps file, or "" when it
// is (or cannot be told). Other procfs files would parse wrongly or not at
// all (smaps_rollup's first line is a valid maps line covering everything;
// pagemap is binary and as large as the address space), so they are refused
// here on every kernel.
func notMapsFile(fd int, st *unix.Stat_t, sfs *unix.Statfs_t) string {
	if sfs.Type != unix.PROC_SUPER_MAGIC || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "not a procfs maps file"
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil &&
		(fl&unix.O_PATH != 0 || fl&unix.O_ACCMODE == unix.O_WRONLY) {
		return "fd not open for reading"
	}
	// The link of a procfs file names it (".../1234/maps").
	if link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err == nil && path.Base(link) != "maps" {
		return "not a maps file: " + link
	}
	return ""
}

// MaxTextSize is the largest maps text OpenText accepts, and the most of a
// live maps file a text read takes (1 GiB).
const MaxTextSize = maxTextSize

// OpenText opens a handle on a captured maps text (for example one saved
// at sample time). The text is copied and parsed once; queries are then
// answered from it by the text backend, whatever backend they ask for. A
// malformed line gives an error wrapping [ErrInvalidArgument] that names the
// line; lines must be sorted and not overlap, as the kernel writes them.
func OpenText(text []byte) (*Handle, error) {
	if len(text) > maxTextSize {
		return nil, &Error{Op: "open text", Pid: -1, Err: ErrInvalidArgument}
	}
	vmas, err := ParseMaps(text)
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(vmas); i++ {
		if vmas[i].Start < vmas[i-1].End {
			return nil, &Error{Op: "open text", Pid: -1, Err: withDetail(ErrInvalidArgument,
				&lineError{i + 1, "VMA not above the previous one"})}
		}
	}
	return &Handle{kind: kindText, fd: -1, pid: -1, snapVMAs: vmas, procRoot: DefaultProcRoot}, nil
}

// Pid returns the target's pid, or -1 when unknown (fd handles opened
// without a pid, text handles).
func (h *Handle) Pid() int {
	if h == nil {
		return -1
	}
	return h.pid
}

// ProcRoot returns the procfs mount point the handle uses.
func (h *Handle) ProcRoot() string { return h.procRoot }

// IsSnapshot reports whether h was opened from a captured text.
func (h *Handle) IsSnapshot() bool { return h != nil && h.kind == kindText }

// Close releases the handle's descriptors. It is safe to call more than
// once; later calls and any use after Close return [ErrClosed].
func (h *Handle) Close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return &Error{Op: "close", Pid: h.pid, Err: ErrClosed}
	}
	h.closed = true
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
	if !h.gone {
		h.plan.share()
	}
	h.releaseScratch()
	snapBytes := cap(h.snapVMAs) * int(unsafe.Sizeof(VMA{}))
	h.snapVMAs = nil
	freeIfLarge(snapBytes)
	return nil
}

// Reopen opens the target's maps file again, for a pid handle whose process
// exec'd (queries then fail with [ErrProcessGone]). It refuses when the
// original process is gone: with [ErrPidReused] when another process now has
// its pid, else with [ErrProcessGone]. fd and text handles cannot be
// reopened ([ErrInvalidArgument]).
func (h *Handle) Reopen() error {
	if h == nil {
		return errNilHandle("reopen")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return &Error{Op: "reopen", Pid: h.pid, Err: ErrClosed}
	}
	if h.kind != kindPid {
		return &Error{Op: "reopen", Pid: h.pid, Err: invalidf("only pid handles can be reopened")}
	}
	return h.reopenMaps()
}

// errNilHandle is returned by the methods of a nil *Handle (a caller bug,
// reported rather than a crash).
func errNilHandle(op string) error {
	return &Error{Op: op, Pid: -1, Err: invalidf("nil handle")}
}

// lockOpen locks h and checks it is usable.
func (h *Handle) lockOpen(op string) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return &Error{Op: op, Pid: h.pid, Err: ErrClosed}
	}
	return nil
}

// readText reads the whole maps file into h.textBuf. An empty file means the
// mm is gone (exec, zombie, kernel thread): ErrProcessGone, like the ioctl.
func (h *Handle) readText(op string) ([]byte, error) {
	if h.gone {
		return nil, h.goneError(op)
	}
	buf, reads, en := readAll(h.fd, h.textScratch())
	h.textBuf, h.reads = buf, reads
	if en == syscall.ESRCH {
		h.gone = true
		return nil, h.goneError(op)
	}
	if en != 0 {
		return nil, &Error{Op: op, Pid: h.pid, Err: classifyErrno(en)}
	}
	if len(buf) == 0 {
		h.gone = true
		return nil, h.goneError(op)
	}
	if !h.gateKnown {
		h.learnGate(buf)
	}
	return buf, nil
}

// learnGate records whether the text ends with the gate VMA.
func (h *Handle) learnGate(text []byte) {
	h.gateKnown, h.hasGate = true, false
	line := bytes.TrimSuffix(text, []byte{'\n'})
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var v VMA
	raw, msg := parseLine(line, &v)
	if msg != "" || string(raw) != "[vsyscall]" {
		return
	}
	v.setName(raw, nil)
	h.gate, h.hasGate = v, true
}

// ioctlUsable reports whether this handle may use the ioctl: the kernel has
// it and this fd answers it.
func (h *Handle) ioctlUsable() bool {
	if h.kind == kindText || h.ioctlState < 0 {
		return false
	}
	ok, err := SupportsProcmapQuery()
	return err == nil && ok
}

func (h *Handle) buffers() *ioctlBuffers {
	if h.ioc == nil {
		h.ioc = ioctlPool.Get().(*ioctlBuffers)
	}
	return h.ioc
}

// Handles' scratch goes back to pools at Close, so that opening a handle
// per call (as symbolizers do) does not allocate and clear it each time.
// Text buffers are pooled only up to maxPooledText: a big one is left to
// the collector rather than kept after its handle is gone.
var (
	ioctlPool = sync.Pool{New: func() any { return new(ioctlBuffers) }}
	textPool  sync.Pool // *[]byte
)

const maxPooledText = 1 << 20

func (h *Handle) releaseScratch() {
	if h.ioc != nil {
		ioctlPool.Put(h.ioc)
		h.ioc = nil
	}
	if c := cap(h.textBuf); c > 0 && c <= maxPooledText {
		b := h.textBuf[:0]
		textPool.Put(&b)
	}
	h.textBuf = nil
}

// textScratch returns the handle's text buffer, from the pool if it has none.
func (h *Handle) textScratch() []byte {
	if h.textBuf == nil {
		if p, ok := textPool.Get().(*[]byte); ok {
			h.textBuf = *p
		}
	}
	return h.textBuf
}

// freeLargeFrom is the amount of scratch or snapshot memory dropped at once
// (one huge batch's sort scratch, one huge snapshot's Close) from which it
// is handed back to the system right away, by a forced collection and
// scavenge (a few milliseconds), rather than whenever the runtime gets to
// it: after such a call a profiler's RSS should fall back. Smaller drops
// are left to the runtime: forcing a collection for each of many ordinary
// closes cost more than the closes themselves (the bench's parse rows).
const freeLargeFrom = 64 << 20

func freeIfLarge(bytes int) {
	if bytes >= freeLargeFrom {
		debug.FreeOSMemory()
	}
}
