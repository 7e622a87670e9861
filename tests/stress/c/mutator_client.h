/* mutator_client.h - run tests/stress/c/mutator.c from a C test and know
 * what it may map (see mutator.c for its report format). */
#ifndef MUTATOR_CLIENT_H
#define MUTATOR_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define MUT_MAX 64

struct mut_untouched {
	char label[64];
	uint64_t start, end, offset;
	char perms[5];
	char name[4096];
};

struct mutator {
	pid_t pid;
	FILE *to, *from;
	struct mut_untouched untouched[MUT_MAX];
	size_t n_untouched;
	uint64_t windows[MUT_MAX][2];
	size_t n_windows;
	/* "perms name" pairs: before churn (baseline) and churn may add. */
	char *baseline[1024];
	size_t n_baseline;
	char *churn[MUT_MAX * 2 + 8];
	size_t n_churn;
	unsigned long long ops; /* mutations made, after mutator_stop */
};

/* mutator_start runs BIN -t THREADS, reads its report and the baseline and
 * lets it churn. Returns 0 or -1 (message on stderr). */
int mutator_start(struct mutator *m, const char *bin, int threads);
/* mutator_stop ends it and records ops. Returns its exit status or -1. */
int mutator_stop(struct mutator *m);
/* mutator_pair_allowed: may a VMA [start, end) with these perms ("r-xp")
 * and name exist in the mutator at some point? */
bool mutator_pair_allowed(const struct mutator *m, uint64_t start, uint64_t end, const char *perms,
			  const char *name, size_t name_len);

#endif
