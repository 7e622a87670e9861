/* check: the tiny harness every C test uses. Each test program is
 * standalone and exits T_EXIT_PASS / T_EXIT_FAIL / T_EXIT_SKIP (liburing
 * style) after printing "N passed, N failed[, N skipped]". */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum t_exit { T_EXIT_PASS = 0, T_EXIT_FAIL = 1, T_EXIT_SKIP = 77 };

/* Counters are per program; tests run single-threaded checks except where
 * they say so (threads count their own failures). */
static int t_passed, t_failed, t_skipped;

/* CHECK records one check; on failure it prints where and why. */
#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (cond) {                                                     \
			t_passed++;                                             \
		} else {                                                        \
			t_failed++;                                             \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

/* SKIP records a check that this machine cannot run, with the reason. */
#define SKIP(...)                                           \
	do {                                                \
		t_skipped++;                                \
		fprintf(stderr, "SKIP %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);               \
		fputc('\n', stderr);                        \
	} while (0)

/* t_ioctl_required: PROCMAPQ_REQUIRE_IOCTL=1 (set by .ci/run when its own
 * probe found PROCMAP_QUERY) and the probe not forced off on purpose
 * (PROCMAPQ_FORCE_PROBE=0). Runs under the seccomp mask
 * (tests/stress/c/noprocmapq) have the variable removed. The Go tests read
 * the same rule (internal/testtarget/ioctl.go). */
static inline int t_ioctl_required(void)
{
	const char *req = getenv("PROCMAPQ_REQUIRE_IOCTL");
	const char *forced = getenv("PROCMAPQ_FORCE_PROBE");
	return req && strcmp(req, "1") == 0 && !(forced && strcmp(forced, "0") == 0);
}

/* t_ioctl takes procmapq_supports_procmap_query()'s answer and returns
 * whether the ioctl may be used; a missing ioctl that is required is a
 * failed check, so no test narrows itself silently. */
#define t_ioctl(supported) t_ioctl_at(__FILE__, __LINE__, (supported))
static inline int t_ioctl_at(const char *file, int line, int supported)
{
	if (supported != 1 && t_ioctl_required()) {
		t_failed++;
		fprintf(stderr, "FAIL %s:%d: PROCMAP_QUERY unavailable (probe %d), but PROCMAPQ_REQUIRE_IOCTL=1\n",
			file, line, supported);
	}
	return supported == 1;
}

/* SKIP_NO_IOCTL skips a check that needs PROCMAP_QUERY, or fails it when
 * the ioctl is required (see t_ioctl_required). */
#define SKIP_NO_IOCTL(...)                                                      \
	do {                                                                    \
		if (t_ioctl_required()) {                                       \
			t_failed++;                                             \
			fprintf(stderr, "FAIL %s:%d: PROCMAPQ_REQUIRE_IOCTL=1, cannot skip: ", __FILE__, __LINE__); \
		} else {                                                        \
			t_skipped++;                                            \
			fprintf(stderr, "SKIP %s:%d: ", __FILE__, __LINE__);    \
		}                                                               \
		fprintf(stderr, __VA_ARGS__);                                   \
		fputc('\n', stderr);                                            \
	} while (0)

/* t_finish prints the summary line and returns the exit status: fail if
 * any check failed, skip if nothing ran but something was skipped. */
static inline int t_finish(const char *program)
{
	printf("%s: %d passed, %d failed", program, t_passed, t_failed);
	if (t_skipped)
		printf(", %d skipped", t_skipped);
	printf("\n");
	if (t_failed)
		return T_EXIT_FAIL;
	if (t_passed == 0)
		return t_skipped ? T_EXIT_SKIP : T_EXIT_FAIL;
	return T_EXIT_PASS;
}

#endif
