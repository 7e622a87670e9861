/* common.c: what the driver and every contender share — the clock,
 * checked allocation, the answers table, a median, and the system-call
 * reference. It calls nothing in driver.c, plain.c or cabi.c, so the link
 * graph is driver → {plain, cabi} → common, without cycles. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void out_of_memory(const char *what, size_t n)
{
	fprintf(stderr, "driver: %s of %zu bytes failed\n", what, n);
	exit(2);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory("malloc", n);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		out_of_memory("realloc", n);
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		out_of_memory("reallocarray (overflow)", SIZE_MAX);
	return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

void answers_reset(struct answers *a, size_t n)
{
	if (n > a->idx_cap) {
		a->idx = xreallocarray(a->idx, n, sizeof *a->idx);
		a->idx_cap = n;
	}
	for (size_t i = 0; i < n; i++)
		a->idx[i] = -1;
	a->nvmas = 0;
	a->arena_len = 0;
}

int32_t answers_add(struct answers *a, const struct vma *v, const char *name, size_t name_len)
{
	if (a->nvmas == a->vmas_cap) {
		a->vmas_cap = a->vmas_cap ? 2 * a->vmas_cap : 64;
		a->vmas = xreallocarray(a->vmas, a->vmas_cap, sizeof *a->vmas);
	}
	if (a->arena_len + name_len > a->arena_cap) {
		a->arena_cap = 2 * (a->arena_len + name_len) + 4096;
		a->arena = xrealloc(a->arena, a->arena_cap);
	}
	struct vma *dst = &a->vmas[a->nvmas];
	*dst = *v;
	dst->name_off = (uint32_t)a->arena_len;
	dst->name_len = (uint32_t)name_len;
	memcpy(a->arena + a->arena_len, name, name_len);
	a->arena_len += name_len;
	return (int32_t)a->nvmas++;
}

void answers_free(struct answers *a)
{
	free(a->vmas);
	free(a->idx);
	free(a->arena);
	*a = (struct answers){ 0 };
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void syscall_cost(void)
{
	enum { REPS = 7, CALLS = 100000 };
	double per[REPS];
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < CALLS; i++)
			syscall(SYS_getppid);
		per[r] = (double)(now_ns() - t0) / CALLS;
	}
	printf("extra syscall_getppid_ns %.0f\n", median(per, REPS));
}
