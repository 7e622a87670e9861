package locator

import (
	"bytes"
	"sync"

	"golang.org/x/sys/unix"
)

// cacheMax bounds the number of files whose facts are cached.
const cacheMax = 1024

// fileKey identifies one version of one file.
type fileKey struct {
	devMajor, devMinor uint32
	ino, size          uint64
	mtime, ctime       unix.StatxTimestamp
}

func keyOf(st *unix.Statx_t) fileKey {
	return fileKey{devMajor: st.Dev_major, devMinor: st.Dev_minor, ino: st.Ino, size: st.Size,
		mtime: st.Mtime, ctime: st.Ctime}
}

// cache holds the facts of recently read files, process-wide: every
// handle, and every thread calling through the C ABI, shares it.
var cache struct {
	sync.Mutex
	m map[fileKey]*Facts
}

func cacheGet(k *fileKey) *Facts {
	cache.Lock()
	f := cache.m[*k]
	cache.Unlock()
	return f
}

func cachePut(k *fileKey, f *Facts) {
	cache.Lock()
	defer cache.Unlock()
	if cache.m == nil {
		cache.m = make(map[fileKey]*Facts)
	}
	if len(cache.m) >= cacheMax {
		// Evict an arbitrary eighth (map order is random): cheap, bounded,
		// and hot files come back on their next miss.
		n := cacheMax / 8
		for key := range cache.m {
			delete(cache.m, key)
			if n--; n == 0 {
				break
			}
		}
	}
	cache.m[*k] = f
}

// RememberKernelID caches, for the file of the last successful Lookup
// (which returned f), that the kernel reports kernelID as its build ID
// (empty: none). The cached entry is replaced, never changed: readers
// holding f keep a consistent value.
func (sc *Scratch) RememberKernelID(f *Facts, kernelID []byte) {
	c := *f
	c.KernelID, c.KernelKnown = bytes.Clone(kernelID), true
	cachePut(&sc.key, &c)
}
