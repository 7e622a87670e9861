/* spawn: start tests/target (built as build/target) as a live process with
 * chosen mappings, read the mappings it reports, and end it. Shared by the
 * C tests and the C example. */
#ifndef SPAWN_H
#define SPAWN_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct target_mapping {
	char label[64];
	uint64_t start, end;
};

struct spawned_target {
	pid_t pid;
	int to_child;   /* write end of its stdin; closing it ends the target */
	FILE *from_child; /* its stdout, after the "ready" line */
	struct target_mapping *maps;
	size_t map_count;
	int maps_fd;    /* the fd number "-o" reported in the target, or -1 */
};

/* target_path returns the target binary: $PROCMAPQ_TARGET if set, else
 * "build/target" (the Makefile runs programs from the repository root). */
const char *target_path(void);

/* target_spawn runs the target with args (NULL-terminated, without argv[0])
 * and waits for its "ready" line. Returns 0 or -errno; on failure the
 * reason is printed on stderr. */
int target_spawn(struct spawned_target *t, const char *const *args);

/* target_mapping_find returns the mapping labelled label, or NULL. */
const struct target_mapping *target_mapping_find(const struct spawned_target *t, const char *label);

/* target_exec makes the target exec itself (same pid, new address space,
 * no special mappings) and waits until it is ready again. Returns 0 or
 * -errno. The mapping list is then stale. */
int target_exec(struct spawned_target *t);

/* target_end asks the target to exit, waits for it and frees t. Returns
 * its exit status, or -1 if it did not exit normally. */
int target_end(struct spawned_target *t);

/* target_kill kills the target (SIGKILL) and reaps it (unless keep_zombie,
 * in which case the pid stays a zombie until target_reap). */
void target_kill(struct spawned_target *t, int keep_zombie);
void target_reap(struct spawned_target *t);

#endif
