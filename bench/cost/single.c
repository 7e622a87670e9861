/* single.c - the one-address call the cost account measures (bench/README.md,
 * "Cost account"): N calls of one mode on the calling process, after a
 * warm-up, and the thread CPU time per call on stdout.
 *
 *   single MODE N      MODE: limit (one PROCMAP_QUERY on a kept fd, plain C)
 *                            cabi  (procmapq_query, kept handle, auto)
 *                            empty (procmapq_query with no address)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "procmapq.h"
#include "../../tests/uapi/procmap_query.h"


static double cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: single limit|cabi|empty N\n");
		return 2;
	}
	const char *mode = argv[1];
	long n = atol(argv[2]);
	uint64_t addr = (uint64_t)(uintptr_t)&main;
	static char name[4096];
	static struct procmapq_vma vmas[4];
	static char names[8192];
	struct procmapq_lookup lk;
	struct procmapq *h = NULL;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || procmapq_open(0, NULL, &h) < 0) {
		fprintf(stderr, "open: %s %s\n", strerror(errno), procmapq_last_error());
		return 1;
	}
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .flags = PROCMAPQ_QUERY_SORTED);
	int limit = !strcmp(mode, "limit"), empty = !strcmp(mode, "empty");
	double t0 = 0;
	for (long i = -n / 10; i < n; i++) { /* a tenth of warm-up */
		if (i == 0)
			t0 = cpu_ns();
		if (limit) {
			struct pmq_arg q = { .size = sizeof q, .query_flags = PMQ_COVERING_OR_NEXT, .query_addr = addr,
					     .vma_name_addr = (uintptr_t)name, .vma_name_size = sizeof name };
			if (ioctl(fd, PROCMAP_QUERY_REQUEST, &q) < 0)
				return 1;
			continue;
		}
		PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 4, .names = names, .names_cap = sizeof names);
		if (procmapq_query(h, &addr, empty ? 0 : 1, &opts, &lk, &out) < 0) {
			fprintf(stderr, "query: %s\n", procmapq_last_error());
			return 1;
		}
	}
	printf("%.0f\n", (cpu_ns() - t0) / (double)n);
	procmapq_close(h);
	close(fd);
	return 0;
}
