package main

// The Go driver is built with cgo so that, like the C driver and the
// blazesym benchmark, its own process has libc as a second module.

/*
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
static uint64_t sym(const char *name) { return (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, name); }
*/
import "C"

import (
	"reflect"
	"unsafe"
)

func libcAddrs() []uint64 {
	var addrs []uint64
	for _, name := range []string{"chdir", "fopen", "qsort"} {
		cs := C.CString(name)
		addrs = append(addrs, uint64(C.sym(cs)))
		C.free(unsafe.Pointer(cs))
	}
	return addrs
}

func funcAddr(f func(int) int) uint64 { return uint64(reflect.ValueOf(f).Pointer()) }
