package locator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/libprocmapq/libprocmapq/internal/elffix"
)

// mappingOfFile returns a Mapping naming path with its current device and
// inode, as the kernel would report a mapping of it.
func mappingOfFile(t *testing.T, path string) Mapping {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return Mapping{Name: []byte(path), Inode: st.Ino, DevMajor: unix.Major(st.Dev), DevMinor: unix.Minor(st.Dev)}
}

// TestFileCacheSeesRewrite: a file rewritten in place (same inode, new
// mtime) is read again, never answered from the cache.
func TestFileCacheSeesRewrite(t *testing.T) {
	f := elffix.Need(t)
	path := filepath.Join(t.TempDir(), "lib.so")
	elffix.CopyFile(t, f.Libs["sha1"].Path, path)
	v := mappingOfFile(t, path)
	var sc Scratch
	target := Target{Pid: -1, Mapping: v, Cached: true}
	got, _ := sc.Lookup(&target)
	if got == nil || !bytes.Equal(got.BuildID, f.Libs["sha1"].FileID) {
		t.Fatalf("first read: %+v", got)
	}
	time.Sleep(10 * time.Millisecond) // a coarse-grained mtime must move
	elffix.CopyFile(t, f.Libs["md5"].Path, path)
	if w := mappingOfFile(t, path); w.Inode != v.Inode {
		t.Fatalf("rewrite changed the inode")
	}
	got, _ = sc.Lookup(&target)
	if got == nil || !bytes.Equal(got.BuildID, f.Libs["md5"].FileID) {
		t.Fatalf("after rewrite: %+v, want build ID %x", got, f.Libs["md5"].FileID)
	}
}

// TestFileCacheBounded: the cache never holds more than cacheMax files.
func TestFileCacheBounded(t *testing.T) {
	for i := 0; i < cacheMax+300; i++ {
		cachePut(&fileKey{ino: uint64(i), devMajor: 0xffff}, &Facts{})
	}
	cache.Lock()
	n := len(cache.m)
	for k := range cache.m {
		if k.devMajor == 0xffff {
			delete(cache.m, k)
		}
	}
	cache.Unlock()
	if n > cacheMax {
		t.Errorf("%d cached files, limit %d", n, cacheMax)
	}
}

// TestLookupFileOrder: map_files is tried first and is enough on its own;
// with it off, the target's root, then the bare path.
func TestLookupFileOrder(t *testing.T) {
	f := elffix.Need(t)
	p := elffix.StartLoader(t, f, nil, f.Libs["long32"].Path)
	v := mappingAt(t, p.Pid, p.Addrs["lib1"])
	var sc Scratch
	for _, c := range []struct {
		t    Target
		name []byte // VMA name to use
		ok   bool
	}{
		{Target{ProcRoot: "/proc", Pid: p.Pid}, nil, true},                                   // map_files needs no name
		{Target{ProcRoot: "/proc", Pid: p.Pid, NoMapFiles: true}, nil, false},                // nor root nor path without it
		{Target{ProcRoot: "/proc", Pid: p.Pid, NoMapFiles: true}, v.Name, true},              // root
		{Target{ProcRoot: "/nonexistent", Pid: p.Pid}, v.Name, true},                         // bare path
		{Target{ProcRoot: "/nonexistent", Pid: p.Pid}, []byte("/nonexistent/lib.so"), false}, // nothing
	} {
		w := v
		w.Name = c.name
		c.t.Mapping = w
		got, _ := sc.Lookup(&c.t)
		if (got != nil) != c.ok || (got != nil && !bytes.Equal(got.BuildID, f.Libs["long32"].FileID)) {
			t.Errorf("%+v name %q: %+v, want found=%v", c.t, c.name, got, c.ok)
		}
	}
}

// TestLookupFileRefusesNonRegular: a FIFO or a directory whose inode
// matches the mapping is never opened (a FIFO would block) nor attributed.
func TestLookupFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dir} {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		v := Mapping{Name: []byte(path), Inode: st.Ino, DevMajor: unix.Major(st.Dev), DevMinor: unix.Minor(st.Dev)}
		done := make(chan *Facts, 1)
		go func() {
			var sc Scratch
			f, _ := sc.Lookup(&Target{Pid: -1, Mapping: v})
			done <- f
		}()
		select {
		case f := <-done:
			if f != nil {
				t.Errorf("%s: read %+v", path, f)
			}
		case <-time.After(hangTimeout):
			t.Fatalf("%s: lookup blocked", path)
		}
	}
}

// TestReadFileSwappedForFIFO: a path that became a FIFO after it was
// stat'ed as the mapped regular file is refused before any read open
// (which would block on a FIFO without a writer).
func TestReadFileSwappedForFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lib.so")
	if err := os.WriteFile(path, []byte("\x7fELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sc Scratch
	sc.path = append([]byte(path), 0)
	if statxPath(sc.path, &sc.stx) != 0 {
		t.Fatal("statx")
	}
	key := keyOf(&sc.stx)
	os.Remove(path)
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { _, ok := sc.readFile(&key); done <- ok }()
	select {
	case ok := <-done:
		if ok {
			t.Error("read a FIFO as the stat'ed file")
		}
	case <-time.After(hangTimeout):
		t.Fatal("readFile blocked on a FIFO")
	}
}

// mappingAt returns the mapping of process pid that covers addr, parsed
// here from its maps text (the simple lines of a loader's file mappings).
func mappingAt(t *testing.T, pid int, addr uint64) Mapping {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var m Mapping
		var perms, off, dev, name string
		if n, _ := fmt.Sscanf(line, "%x-%x %s %s %s %d %s", &m.Start, &m.End, &perms, &off, &dev, &m.Inode, &name); n < 7 {
			continue
		}
		if addr < m.Start || addr >= m.End {
			continue
		}
		if _, err := fmt.Sscanf(dev, "%x:%x", &m.DevMajor, &m.DevMinor); err != nil {
			t.Fatal(err)
		}
		m.Name = []byte(name)
		return m
	}
	t.Fatalf("no mapping at %#x", addr)
	return Mapping{}
}

// hangTimeout detects a blocked read (a FIFO without a writer): only a hang
// reaches it, so it is generous enough for a loaded 2-core machine.
const hangTimeout = 60 * time.Second
