// Command capi is the C ABI of libprocmapq: built with
// -buildmode=c-shared it becomes libprocmapq.so, whose public functions
// (include/procmapq.h) are defined by the C shim procmapq.c over the
// private Go exports in this package.
//
// This package is glue only: it checks and converts C arguments, calls
// package core, and writes results into C memory. Rules kept everywhere
// (docs/cshared-hazards.md says why, hazard by hazard):
//   - every export recovers panics and turns a memory fault on a caller
//     pointer into -EFAULT (debug.SetPanicOnFault); nothing may reach the
//     host as a Go panic, os.Exit or log.Fatal;
//   - no Go pointer is ever stored in C memory: a handle is a C-allocated
//     struct holding an id into a Go-side registry;
//   - no os/signal, no CPU profiling, no background goroutines.
package main

func main() {}
