package locator

import (
	"golang.org/x/sys/unix"

	"github.com/libprocmapq/libprocmapq/core/internal/elfnote"
)

// vdsoImage is the vDSO image last read from a target's memory, kept for
// as long as the same (procfs, pid, range) is asked for: it does not change
// while the process lives.
type vdsoImage struct {
	facts      Facts
	ok         bool
	known      bool
	pid        int
	start, end uint64
	procRoot   string
	mem        memReader
}

// VDSO returns the ELF facts of the vDSO that process pid maps at
// [start, end), read from its memory through <procRoot>/<pid>/mem (once
// per pid and range). The result is valid until sc's next VDSO call;
// false when the image cannot be read.
func (sc *Scratch) VDSO(procRoot string, pid int, start, end uint64) (*Facts, bool) {
	v := &sc.vdso
	if !v.known || v.pid != pid || v.start != start || v.end != end || v.procRoot != procRoot {
		v.known, v.pid, v.start, v.end, v.procRoot = true, pid, start, end, procRoot
		v.ok = pid > 0 && sc.readMemoryELF(procRoot, pid, start, end-start)
	}
	return &v.facts, v.ok
}

// readMemoryELF reads the ELF image mapped at [start, start+size) of pid
// into sc.vdso.facts.
func (sc *Scratch) readMemoryELF(procRoot string, pid int, start, size uint64) bool {
	p := appendProcPid(sc.path[:0], procRoot, pid)
	sc.path = append(append(p, "/mem"...), 0)
	fd, en := openPath(sc.path, unix.O_RDONLY)
	if en != 0 {
		return false
	}
	defer unix.Close(fd)
	v := &sc.vdso
	v.mem = memReader{fd: fd, base: start}
	info, err := elfnote.Read(&v.mem, size, true, true, &sc.elf)
	if err != nil {
		return false
	}
	v.facts.BuildID = append(v.facts.BuildID[:0], info.BuildID...)
	v.facts.Loads = append(v.facts.Loads[:0], info.Loads...)
	v.facts.IsELF = true
	return true
}
