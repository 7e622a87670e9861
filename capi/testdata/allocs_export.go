//go:build procmapq_allocs

package main

// Not part of the library: capi_test.go (TestQueryAllocsCABI) adds this file
// to package capi with `go build -overlay` and -tags procmapq_allocs, and
// exports its symbol through a copy of the version script, so that a C
// program can read the library's own Go heap counter around its calls.
// The shipped library is built without it.

import "C"

import "runtime"

// procmapq_test_heap_allocs returns the number of Go heap objects the
// library's runtime has allocated so far (runtime.MemStats.Mallocs, which
// ReadMemStats brings up to date; reading it allocates nothing).
//
//export procmapq_test_heap_allocs
func procmapq_test_heap_allocs() C.ulonglong {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return C.ulonglong(ms.Mallocs)
}
