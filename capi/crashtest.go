//go:build procmapq_crashtest

package main

// Built only with -tags procmapq_crashtest (capi_test.go does): an extra
// entry point that crashes in C code called from Go, to show that the
// crash report symbolizes the C frames (cgosymbolizer).

/*
void pmq_crash_outer(void);
*/
import "C"

//export pmqGoCrashForTest
func pmqGoCrashForTest() C.int {
	C.pmq_crash_outer()
	return 0
}
