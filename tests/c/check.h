/* check: the tiny harness every C test uses. Each test program is
 * standalone and exits T_EXIT_PASS / T_EXIT_FAIL / T_EXIT_SKIP (liburing
 * style) after printing "N passed, N failed[, N skipped]". */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>

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
