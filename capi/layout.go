package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include "procmapq.h"
*/
import "C"

import (
	"unsafe"

	"github.com/libprocmapq/libprocmapq/core"
)

// core.Query writes answers straight into a C caller's procmapq_lookup
// array, so core.Lookup must have its layout. Reason is a uint8 followed by
// three zero bytes, which reads as the uint32 reason on little-endian
// machines (the ABI's targets, x86-64 and arm64). Each line fails the build
// (a negative or non-constant array length) when the layouts differ.
var (
	_ [unsafe.Sizeof(core.Lookup{}) - C.sizeof_struct_procmapq_lookup]byte
	_ [C.sizeof_struct_procmapq_lookup - unsafe.Sizeof(core.Lookup{})]byte
	_ [unsafe.Offsetof(core.Lookup{}.VMA) - unsafe.Offsetof(C.struct_procmapq_lookup{}.vma)]byte
	_ [unsafe.Offsetof(C.struct_procmapq_lookup{}.vma) - unsafe.Offsetof(core.Lookup{}.VMA)]byte
	_ [unsafe.Offsetof(core.Lookup{}.Reason) - unsafe.Offsetof(C.struct_procmapq_lookup{}.reason)]byte
	_ [unsafe.Offsetof(C.struct_procmapq_lookup{}.reason) - unsafe.Offsetof(core.Lookup{}.Reason)]byte
	_ [unsafe.Offsetof(core.Lookup{}.FileOffset) - unsafe.Offsetof(C.struct_procmapq_lookup{}.file_offset)]byte
	_ [unsafe.Offsetof(C.struct_procmapq_lookup{}.file_offset) - unsafe.Offsetof(core.Lookup{}.FileOffset)]byte
)
