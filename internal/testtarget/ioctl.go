package testtarget

import (
	"os"
	"testing"
)

// RequireIoctlEnv is the environment variable under which a test that needs
// PROCMAP_QUERY fails instead of skipping when it is unavailable. .ci/run
// sets it to 1 when its own probe of the ioctl (tests/ci/probe_ioctl.c)
// succeeds, so that a kernel with the ioctl cannot turn half of the suite
// into silent skips (a broken probe, a wrong ioctl number, a sandbox).
// The C tests (tests/c/check.h SKIP_NO_IOCTL) and the bindings' tests read
// the same variable.
const RequireIoctlEnv = "PROCMAPQ_REQUIRE_IOCTL"

// IoctlRequired reports whether this process must have PROCMAP_QUERY:
// PROCMAPQ_REQUIRE_IOCTL=1 and the probe not forced off on purpose
// (PROCMAPQ_FORCE_PROBE=0, the documented fallback switch). Runs with the
// ioctl masked by seccomp (tests/stress/c/noprocmapq) have the variable
// removed by the wrapper.
func IoctlRequired() bool {
	return os.Getenv(RequireIoctlEnv) == "1" && os.Getenv("PROCMAPQ_FORCE_PROBE") != "0"
}

// CheckIoctl is what every Go test that depends on PROCMAP_QUERY calls
// with the library's answer (core.SupportsProcmapQuery): it returns ok,
// after failing the test when the ioctl is missing but required (see
// IoctlRequired). Tests then skip, or narrow to the text backend, only
// where that is allowed.
func CheckIoctl(tb testing.TB, ok bool, err error) bool {
	tb.Helper()
	if err != nil {
		tb.Fatalf("probing PROCMAP_QUERY: %v", err)
	}
	if !ok && IoctlRequired() {
		tb.Fatalf("PROCMAP_QUERY unavailable, but %s=1 (the CI's probe found it on this kernel): "+
			"the test cannot skip", RequireIoctlEnv)
	}
	return ok
}

// SkipWithoutIoctl skips a test about the ioctl itself when PROCMAP_QUERY
// is unavailable (ok false), or fails it when the ioctl is required.
func SkipWithoutIoctl(tb testing.TB, ok bool, err error) {
	tb.Helper()
	if !CheckIoctl(tb, ok, err) {
		tb.Skip("PROCMAP_QUERY unavailable (kernel < 6.11, PROCMAPQ_FORCE_PROBE=0 or masked by seccomp)")
	}
}
