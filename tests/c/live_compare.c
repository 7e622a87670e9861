/* live_compare: every backend (auto, ioctl, text) of the real library, on
 * live targets with the special mappings (-f) and with 20,000 VMAs
 * (-n 20000), checked against the independent text parser: enumeration,
 * batch queries (unsorted, duplicates, below the first and above the last
 * VMA, gaps), permission and file-backed filters, and -ERANGE with the
 * sizes needed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mapsparse.h"
#include "procmapq.h"
#include "spawn.h"
#include "testbuf.h"
#include "vmacheck.h"

struct filter {
	uint32_t perms;
	bool file_backed;
};

static const struct {
	uint32_t backend;
	const char *name;
} backends[] = {
	{PROCMAPQ_BACKEND_AUTO, "auto"},
	{PROCMAPQ_BACKEND_IOCTL, "ioctl"},
	{PROCMAPQ_BACKEND_TEXT, "text"},
};

static int ioctl_supported;

static void check_backend(struct procmapq *h, const struct maps_table *t, const char *target, size_t b,
			  const struct filter *filters, size_t nfilters)
{
	size_t n;
	uint64_t *addrs;
	struct test_out o;
	if (test_batch_init(&o, t, &addrs, &n, 42) != 0) {
		CHECK(0, "out of memory");
		return;
	}
	enum vma_source source = vma_source_for_backend(backends[b].backend);
	for (size_t f = 0; f < nfilters; f++) {
		char what[128];
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backends[b].backend, .perms = filters[f].perms,
			      .flags = filters[f].file_backed ? PROCMAPQ_QUERY_FILE_BACKED : 0);

		snprintf(what, sizeof what, "%s enumerate %s perms=%#x file=%d", target, backends[b].name,
			 filters[f].perms, filters[f].file_backed);
		int rc = procmapq_enumerate(h, &opts, &o.buf);
		int problems = check_enumeration(what, t, rc, &o.buf, source, filters[f].perms, filters[f].file_backed);
		CHECK(problems == 0, "%s: %d problems", what, problems);
		if (backends[b].backend == PROCMAPQ_BACKEND_TEXT)
			CHECK(o.buf.strategy == PROCMAPQ_STRATEGY_TEXT, "%s: strategy %u", what, o.buf.strategy);
		if (backends[b].backend == PROCMAPQ_BACKEND_IOCTL)
			CHECK(o.buf.strategy == PROCMAPQ_STRATEGY_IOCTL_WALK ||
				      o.buf.strategy == PROCMAPQ_STRATEGY_POINT_IOCTL,
			      "%s: strategy %u", what, o.buf.strategy);

		snprintf(what, sizeof what, "%s query(%zu) %s perms=%#x file=%d", target, n, backends[b].name,
			 filters[f].perms, filters[f].file_backed);
		rc = procmapq_query(h, addrs, n, &opts, o.lookups, &o.buf);
		problems = check_query(what, t, addrs, n, rc, o.lookups, &o.buf, source, filters[f].perms,
				       filters[f].file_backed);
		CHECK(problems == 0, "%s: %d problems", what, problems);
	}
	free(addrs);
	test_out_free(&o);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* check_sorted_flag: PROCMAPQ_QUERY_SORTED with a sorted batch, and with an
 * unsorted one (documented as still answered correctly). */
static void check_sorted_flag(struct procmapq *h, const struct maps_table *t, const char *target)
{
	size_t n;
	uint64_t *addrs;
	struct test_out o;
	if (test_batch_init(&o, t, &addrs, &n, 7) != 0) {
		CHECK(0, "out of memory");
		return;
	}
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .flags = PROCMAPQ_QUERY_SORTED);
	char what[128];
	snprintf(what, sizeof what, "%s query unsorted with SORTED flag", target);
	int rc = procmapq_query(h, addrs, n, &opts, o.lookups, &o.buf);
	int problems = check_query(what, t, addrs, n, rc, o.lookups, &o.buf, VMA_FROM_EITHER, 0, false);
	CHECK(problems == 0, "%s: %d problems", what, problems);
	qsort(addrs, n, sizeof *addrs, compare_u64);
	snprintf(what, sizeof what, "%s query sorted with SORTED flag", target);
	rc = procmapq_query(h, addrs, n, &opts, o.lookups, &o.buf);
	problems = check_query(what, t, addrs, n, rc, o.lookups, &o.buf, VMA_FROM_EITHER, 0, false);
	CHECK(problems == 0, "%s: %d problems", what, problems);
	free(addrs);
	test_out_free(&o);
}

/* check_erange: arrays one short report -ERANGE and the exact sizes a
 * successful call then uses; retrying with those sizes succeeds. */
static void check_erange(struct procmapq *h, const struct maps_table *t, const char *target, size_t b)
{
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backends[b].backend);
	struct test_out o;
	size_t n;
	uint64_t *addrs;
	if (test_batch_init(&o, t, &addrs, &n, 3) != 0) {
		CHECK(0, "out of memory");
		return;
	}
	const char *be = backends[b].name;
	int full = procmapq_enumerate(h, &opts, &o.buf);
	CHECK(full > 1, "%s %s: enumerate %d %s", target, be, full, procmapq_last_error());
	if (full <= 1)
		goto out;
	uint64_t need_vmas = o.buf.vmas_count, need_names = o.buf.names_len;

	struct procmapq_vma_buf small = o.buf;
	small.vmas_cap = need_vmas - 1;
	errno = 0;
	int rc = procmapq_enumerate(h, &opts, &small);
	CHECK(rc == -ERANGE && errno == ERANGE, "%s %s: enumerate into %llu VMAs: %d", target, be,
	      (unsigned long long)small.vmas_cap, rc);
	CHECK(small.vmas_count == need_vmas, "%s %s: -ERANGE says %llu VMAs needed, a full call used %llu", target,
	      be, (unsigned long long)small.vmas_count, (unsigned long long)need_vmas);
	CHECK(small.names_len == need_names, "%s %s: -ERANGE says %llu name bytes, a full call used %llu", target,
	      be, (unsigned long long)small.names_len, (unsigned long long)need_names);
	CHECK(strlen(procmapq_last_error()) > 0, "%s %s: no last error after -ERANGE", target, be);

	small = o.buf;
	small.names_cap = need_names - 1;
	rc = procmapq_enumerate(h, &opts, &small);
	CHECK(rc == -ERANGE && small.names_len == need_names, "%s %s: names cap %llu: %d, needs %llu", target, be,
	      (unsigned long long)small.names_cap, rc, (unsigned long long)small.names_len);

	small = o.buf;
	small.vmas_cap = need_vmas;
	small.names_cap = need_names;
	rc = procmapq_enumerate(h, &opts, &small);
	CHECK(rc == full, "%s %s: exact sizes: %d, want %d (%s)", target, be, rc, full, procmapq_last_error());

	/* A query too: no VMA array at all. */
	small = o.buf;
	small.vmas = NULL;
	small.vmas_cap = 0;
	rc = procmapq_query(h, addrs, n, &opts, o.lookups, &small);
	CHECK(rc == -ERANGE && small.vmas_count > 0, "%s %s: query without a VMA array: %d, needs %llu", target, be,
	      rc, (unsigned long long)small.vmas_count);
	uint64_t need_q = small.vmas_count;
	rc = procmapq_query(h, addrs, n, &opts, o.lookups, &o.buf);
	CHECK(rc >= 0 && (uint64_t)rc == need_q, "%s %s: query needed %llu VMAs, used %d", target, be,
	      (unsigned long long)need_q, rc);
out:
	free(addrs);
	test_out_free(&o);
}

/* check_special_filters: the filters on chosen mappings of the -f target,
 * stated directly rather than through the parser. */
static void check_special_filters(struct procmapq *h, const struct spawned_target *tg, const struct maps_table *t)
{
	static const struct {
		const char *label;
		uint32_t perms;
		bool file_backed;
		uint32_t want;
	} cases[] = {
		/* The kernel ANDs permission bits: exec-only is not R|X. */
		{"exec-only", PROCMAPQ_PERM_R | PROCMAPQ_PERM_X, false, PROCMAPQ_REASON_FILTERED},
		{"exec-only", PROCMAPQ_PERM_X, false, PROCMAPQ_REASON_FOUND},
		{"exec-only", 0, true, PROCMAPQ_REASON_FOUND},
		{"anon-exec-only", PROCMAPQ_PERM_X, true, PROCMAPQ_REASON_FILTERED},
		{"anon-exec-only", PROCMAPQ_PERM_X, false, PROCMAPQ_REASON_FOUND},
		{"prot-none", PROCMAPQ_PERM_R, false, PROCMAPQ_REASON_FILTERED},
		{"prot-none", 0, false, PROCMAPQ_REASON_FOUND},
		/* File-backed in the kernel's sense: vm_file is set. */
		{"memfd", 0, true, PROCMAPQ_REASON_FOUND},
		{"shared-anon", 0, true, PROCMAPQ_REASON_FOUND},
		{"sysv-shm", 0, true, PROCMAPQ_REASON_FOUND},
		{"deleted", 0, true, PROCMAPQ_REASON_FOUND},
		{"shared-file", PROCMAPQ_PERM_SHARED, true, PROCMAPQ_REASON_FOUND},
		{"offset", PROCMAPQ_PERM_SHARED, false, PROCMAPQ_REASON_FILTERED},
		{"vmas", 0, true, PROCMAPQ_REASON_FILTERED},
	};
	struct test_out o;
	if (test_out_init(&o, t, 1) != 0) {
		CHECK(0, "out of memory");
		return;
	}
	for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
		if (backends[b].backend == PROCMAPQ_BACKEND_IOCTL && !ioctl_supported)
			continue;
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			const struct target_mapping *m = target_mapping_find(tg, cases[i].label);
			if (!m) {
				if (strcmp(cases[i].label, "vmas") != 0)
					SKIP("target made no %s mapping", cases[i].label);
				continue;
			}
			PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backends[b].backend,
				      .perms = cases[i].perms,
				      .flags = cases[i].file_backed ? PROCMAPQ_QUERY_FILE_BACKED : 0);
			uint64_t addr = m->start;
			int rc = procmapq_query(h, &addr, 1, &opts, o.lookups, &o.buf);
			CHECK(rc >= 0 && o.lookups[0].reason == cases[i].want,
			      "%s backend %s perms=%#x file=%d: rc %d reason %u, want %u", cases[i].label,
			      backends[b].name, cases[i].perms, cases[i].file_backed, rc, o.lookups[0].reason,
			      cases[i].want);
		}
	}
	test_out_free(&o);
}

/* huge_page_size reads the default huge page size from /proc/meminfo (an
 * independent source for the ioctl's vma_page_size), or 0. */
static uint64_t huge_page_size(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long kib = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Hugepagesize: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kib * 1024;
}

/* check_hugetlb: the ioctl reports a hugetlb VMA's huge page size; the text
 * cannot (0). Needs reserved huge pages (vm.nr_hugepages). */
static void check_hugetlb(struct procmapq *h, const struct spawned_target *tg, const struct maps_table *t)
{
	const struct target_mapping *m = target_mapping_find(tg, "hugetlb");
	if (!m) {
		SKIP("no hugetlb mapping (no huge pages reserved: vm.nr_hugepages is 0); page size of huge VMAs "
		     "not checked");
		return;
	}
	struct test_out o;
	if (test_out_init(&o, t, 1) != 0) {
		CHECK(0, "out of memory");
		return;
	}
	uint64_t want = huge_page_size();
	for (size_t b = 1; b < sizeof backends / sizeof backends[0]; b++) {
		if (backends[b].backend == PROCMAPQ_BACKEND_IOCTL && !ioctl_supported)
			continue;
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backends[b].backend);
		uint64_t addr = m->start;
		int rc = procmapq_query(h, &addr, 1, &opts, o.lookups, &o.buf);
		uint64_t got = rc == 1 ? o.vmas[0].page_size : ~0ull;
		uint64_t expect = backends[b].backend == PROCMAPQ_BACKEND_IOCTL ? want : 0;
		CHECK(rc == 1 && got == expect, "hugetlb VMA, backend %s: rc %d page size %llu, want %llu",
		      backends[b].name, rc, (unsigned long long)got, (unsigned long long)expect);
	}
	test_out_free(&o);
}

static void run_target(const char *const *args, const char *label, const struct filter *filters, size_t nfilters,
		       bool specials)
{
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target for %s", label);
		return;
	}
	struct maps_table t;
	int rc = maps_load(tg.pid, &t);
	CHECK(rc == 0, "parse /proc/%d/maps: %d", tg.pid, rc);
	struct procmapq *h = NULL;
	int orc = procmapq_open(tg.pid, NULL, &h);
	CHECK(orc == 0 && h, "procmapq_open(%d): %d %s", tg.pid, orc, procmapq_last_error());
	if (rc == 0 && orc == 0) {
		for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
			if (backends[b].backend == PROCMAPQ_BACKEND_IOCTL && !ioctl_supported) {
				uint64_t addr = 0;
				struct test_out o;
				test_out_init(&o, &t, 1);
				PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = PROCMAPQ_BACKEND_IOCTL);
				rc = procmapq_query(h, &addr, 1, &opts, o.lookups, &o.buf);
				CHECK(rc == -ENOTTY, "forced ioctl without PROCMAP_QUERY: %d", rc);
				test_out_free(&o);
				SKIP_NO_IOCTL("%s: no PROCMAP_QUERY (kernel before 6.11, or PROCMAPQ_FORCE_PROBE=0)", label);
				continue;
			}
			check_backend(h, &t, label, b, filters, nfilters);
			check_erange(h, &t, label, b);
		}
		check_sorted_flag(h, &t, label);
		if (specials) {
			check_special_filters(h, &tg, &t);
			check_hugetlb(h, &tg, &t);
		}
	}
	CHECK(procmapq_close(h) == 0, "close");
	maps_free(&t);
	CHECK(target_end(&tg) == 0, "target %s did not exit cleanly", label);
}

int main(void)
{
	ioctl_supported = t_ioctl(procmapq_supports_procmap_query());

	static const struct filter all_filters[] = {
		{0, false},
		{PROCMAPQ_PERM_R | PROCMAPQ_PERM_X, false},
		{PROCMAPQ_PERM_X, false},
		{PROCMAPQ_PERM_R | PROCMAPQ_PERM_W, false},
		{PROCMAPQ_PERM_SHARED, false},
		{0, true},
		{PROCMAPQ_PERM_R, true},
	};
	const char *const specials[] = {"-f", "-m", "3", NULL};
	run_target(specials, "target -f -m 3", all_filters, sizeof all_filters / sizeof all_filters[0], true);

	/* 20,000 VMAs: fewer filters, each pass touches every VMA. */
	static const struct filter big_filters[] = {
		{0, false},
		{PROCMAPQ_PERM_R | PROCMAPQ_PERM_W, false},
		{0, true},
	};
	const char *const many[] = {"-n", "20000", NULL};
	run_target(many, "target -n 20000", big_filters, sizeof big_filters / sizeof big_filters[0], false);

	return t_finish("live_compare");
}
