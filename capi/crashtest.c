//go:build procmapq_crashtest

/* Built only with -tags procmapq_crashtest: see crashtest.go. */
#include <stddef.h>

#include "_cgo_export.h"

__attribute__((noinline)) void pmq_crash_inner(volatile int *p)
{
	*p = 42; /* NULL: SIGSEGV inside a cgo call */
}

__attribute__((noinline)) void pmq_crash_outer(void)
{
	pmq_crash_inner(NULL);
	__asm__ __volatile__("" ::: "memory"); /* no tail call: keep this frame */
}

int procmapq_crash_for_test(void)
{
	return pmqGoCrashForTest();
}
