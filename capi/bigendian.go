//go:build armbe || arm64be || m68k || mips || mips64 || mips64p32 || ppc || ppc64 || s390 || s390x || shbe || sparc || sparc64

package main

// The C ABI shares core.Lookup's memory layout with struct procmapq_lookup
// (see layout.go), which holds on little-endian machines only: building
// for a big-endian one fails here.
var _ = "libprocmapq's C ABI needs a little-endian machine" + 1
