package core

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// vmaOfFile returns a VMA naming path with its current device and inode,
// as the kernel would report a mapping of it.
func vmaOfFile(t *testing.T, path string) VMA {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return VMA{Name: []byte(path), Inode: st.Ino, DevMajor: unix.Major(st.Dev), DevMinor: unix.Minor(st.Dev), Kind: KindFile}
}

// TestFileCacheSeesRewrite: a file rewritten in place (same inode, new
// mtime) is read again, never answered from the cache.
func TestFileCacheSeesRewrite(t *testing.T) {
	f := needELFFixtures(t)
	path := filepath.Join(t.TempDir(), "lib.so")
	copyFile(t, f.libs["sha1"].path, path)
	v := vmaOfFile(t, path)
	var sc fileScratch
	target := fileTarget{pid: -1, vma: &v, cached: true}
	got, _ := sc.lookupFile(&target)
	if got == nil || !bytes.Equal(got.buildID, f.libs["sha1"].fileID) {
		t.Fatalf("first read: %+v", got)
	}
	time.Sleep(10 * time.Millisecond) // a coarse-grained mtime must move
	copyFile(t, f.libs["md5"].path, path)
	if w := vmaOfFile(t, path); w.Inode != v.Inode {
		t.Fatalf("rewrite changed the inode")
	}
	got, _ = sc.lookupFile(&target)
	if got == nil || !bytes.Equal(got.buildID, f.libs["md5"].fileID) {
		t.Fatalf("after rewrite: %+v, want build ID %x", got, f.libs["md5"].fileID)
	}
}

// TestFileCacheBounded: the cache never holds more than fileCacheMax files.
func TestFileCacheBounded(t *testing.T) {
	for i := 0; i < fileCacheMax+300; i++ {
		fileCachePut(&fileKey{ino: uint64(i), devMajor: 0xffff}, &fileFacts{})
	}
	fileCache.Lock()
	n := len(fileCache.m)
	for k := range fileCache.m {
		if k.devMajor == 0xffff {
			delete(fileCache.m, k)
		}
	}
	fileCache.Unlock()
	if n > fileCacheMax {
		t.Errorf("%d cached files, limit %d", n, fileCacheMax)
	}
}

// TestLookupFileOrder: map_files is tried first and is enough on its own;
// with it off, the target's root, then the bare path.
func TestLookupFileOrder(t *testing.T) {
	f := needELFFixtures(t)
	p := startLoader(t, f, nil, f.libs["long32"].path)
	h := mustOpen(t, p.pid)
	var q Result
	if err := h.Query([]uint64{p.addrs["lib1"]}, &Options{Backend: BackendText}, &q); err != nil {
		t.Fatal(err)
	}
	v := q.VMAs[0]
	var sc fileScratch
	for _, c := range []struct {
		t    fileTarget
		name []byte // VMA name to use
		ok   bool
	}{
		{fileTarget{procRoot: "/proc", pid: p.pid}, nil, true},                                   // map_files needs no name
		{fileTarget{procRoot: "/proc", pid: p.pid, noMap: true}, nil, false},                     // nor root nor path without it
		{fileTarget{procRoot: "/proc", pid: p.pid, noMap: true}, v.Name, true},                   // root
		{fileTarget{procRoot: "/nonexistent", pid: p.pid}, v.Name, true},                         // bare path
		{fileTarget{procRoot: "/nonexistent", pid: p.pid}, []byte("/nonexistent/lib.so"), false}, // nothing
	} {
		w := v
		w.Name = c.name
		c.t.vma = &w
		got, _ := sc.lookupFile(&c.t)
		if (got != nil) != c.ok || (got != nil && !bytes.Equal(got.buildID, f.libs["long32"].fileID)) {
			t.Errorf("%+v name %q: %+v, want found=%v", c.t, c.name, got, c.ok)
		}
	}
}
