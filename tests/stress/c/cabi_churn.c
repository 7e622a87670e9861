/* cabi_churn: query a mutating target through the C ABI from several
 * threads and check every answer.
 *
 *   cabi_churn MUTATOR_BIN SECONDS THREADS
 *
 * Threads share one handle and each has its own; they pick the backend
 * (auto, ioctl, text), a permission filter and FILE_BACKED at random,
 * query batches (both ends of every untouched mapping, every page of the
 * churn windows, random addresses) or enumerate, and check: each VMA well
 * formed, a VMA reported for an address covers it and gives its file
 * offset, enumerations sorted without overlaps, every untouched mapping
 * present and exact, perms and names among those the mutator created.
 * On a kernel without PROCMAP_QUERY (or under tests/stress/c/noprocmapq) a
 * forced ioctl must give -ENOTTY. Prints a FIGURE line; exit 0 if no
 * violation, 1 otherwise, 2 on a setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mutator_client.h"
#include "check.h"
#include "procmapq.h"

#define PAGE 4096u
#define VMAS_CAP 8192
#define NAMES_CAP (1u << 20)

static struct mutator mut;
static struct procmapq *shared;
static int have_ioctl;
static double deadline;
static atomic_long queries, addresses, enums, violations, eranges, enotty, overlaps;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	if (atomic_fetch_add(&violations, 1) >= 20)
		return;
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&print_lock);
	fputs("VIOLATION ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&print_lock);
	va_end(ap);
}

static void perms_text(uint32_t p, char s[5])
{
	s[0] = p & PROCMAPQ_PERM_R ? 'r' : '-';
	s[1] = p & PROCMAPQ_PERM_W ? 'w' : '-';
	s[2] = p & PROCMAPQ_PERM_X ? 'x' : '-';
	s[3] = p & PROCMAPQ_PERM_SHARED ? 's' : 'p';
	s[4] = 0;
}

static uint32_t perms_bits(const char *s)
{
	return (s[0] == 'r' ? PROCMAPQ_PERM_R : 0) | (s[1] == 'w' ? PROCMAPQ_PERM_W : 0) |
	       (s[2] == 'x' ? PROCMAPQ_PERM_X : 0) | (s[3] == 's' ? PROCMAPQ_PERM_SHARED : 0);
}

static bool passes(const struct mut_untouched *u, uint32_t perms, bool file_backed)
{
	return (perms_bits(u->perms) & perms) == perms && (!file_backed || u->name[0]);
}

static void check_vma(const char *what, const struct procmapq_vma *v, const struct procmapq_vma_buf *b)
{
	char p[5];
	perms_text(v->perms, p);
	if (v->start >= v->end || v->start % PAGE || v->end % PAGE || v->offset % PAGE)
		violation("%s: malformed VMA %lx-%lx offset %lx", what, (unsigned long)v->start, (unsigned long)v->end,
			  (unsigned long)v->offset);
	if (v->name_off + v->name_len >= b->names_len || b->names[v->name_off + v->name_len] != 0) {
		violation("%s: VMA %lx name %lu+%u outside names (%lu)", what, (unsigned long)v->start,
			  (unsigned long)v->name_off, v->name_len, (unsigned long)b->names_len);
		return;
	}
	if (v->name_len == 0 && v->offset != 0)
		violation("%s: anonymous VMA %lx with offset %lx", what, (unsigned long)v->start, (unsigned long)v->offset);
	if (!mutator_pair_allowed(&mut, v->start, v->end, p, b->names + v->name_off, v->name_len))
		violation("%s: VMA %lx-%lx %s \"%.*s\" never created there", what, (unsigned long)v->start,
			  (unsigned long)v->end, p, (int)v->name_len, b->names + v->name_off);
}

static void check_untouched(const char *what, const struct mut_untouched *u, const struct procmapq_vma *v,
			    const struct procmapq_vma_buf *b)
{
	char p[5];
	perms_text(v->perms, p);
	if (v->start != u->start || v->end != u->end || strcmp(p, u->perms) || v->offset != u->offset ||
	    v->name_len != strlen(u->name) || memcmp(b->names + v->name_off, u->name, v->name_len))
		violation("%s: untouched %s is %lx-%lx %s %lx, want %lx-%lx %s %lx %s", what, u->label,
			  (unsigned long)v->start, (unsigned long)v->end, p, (unsigned long)v->offset,
			  (unsigned long)u->start, (unsigned long)u->end, u->perms, (unsigned long)u->offset, u->name);
}

static void check_enum(const char *what, const struct procmapq_vma_buf *b, uint32_t perms, bool fb)
{
	atomic_fetch_add(&enums, 1);
	for (size_t i = 0; i < b->vmas_count; i++) {
		const struct procmapq_vma *v = &b->vmas[i];
		check_vma(what, v, b);
		if (i > 0 && v->start < b->vmas[i - 1].end)
			violation("%s: VMA %lx-%lx not after %lx-%lx", what, (unsigned long)v->start,
				  (unsigned long)v->end, (unsigned long)b->vmas[i - 1].start,
				  (unsigned long)b->vmas[i - 1].end);
		if ((v->perms & perms) != perms)
			violation("%s: VMA %lx fails the perms filter", what, (unsigned long)v->start);
	}
	for (size_t k = 0; k < mut.n_untouched; k++) {
		const struct mut_untouched *u = &mut.untouched[k];
		if (!passes(u, perms, fb))
			continue;
		size_t i = 0;
		while (i < b->vmas_count && b->vmas[i].end <= u->start)
			i++;
		if (i == b->vmas_count || b->vmas[i].start > u->start)
			violation("%s: untouched %s missing", what, u->label);
		else
			check_untouched(what, u, &b->vmas[i], b);
	}
}

static void check_query(const char *what, const uint64_t *addrs, const int *untouched, size_t n,
			const struct procmapq_lookup *lk, const struct procmapq_vma_buf *b, uint32_t perms, bool fb)
{
	atomic_fetch_add(&queries, 1);
	atomic_fetch_add(&addresses, (long)n);
	bool overlap = false;
	for (size_t i = 0; i < b->vmas_count; i++) {
		check_vma(what, &b->vmas[i], b);
		if (i > 0 && b->vmas[i].start < b->vmas[i - 1].start)
			violation("%s: VMA table not ascending at %lx", what, (unsigned long)b->vmas[i].start);
		overlap = overlap || (i > 0 && b->vmas[i].start < b->vmas[i - 1].end);
	}
	if (overlap)
		atomic_fetch_add(&overlaps, 1);
	for (size_t i = 0; i < n; i++) {
		const struct procmapq_lookup *l = &lk[i];
		if (l->reserved)
			violation("%s: lookup reserved field not zero", what);
		if (l->reason == PROCMAPQ_REASON_FOUND) {
			if (l->vma < 0 || (uint64_t)l->vma >= b->vmas_count) {
				violation("%s: addr %lx: VMA index %d of %lu", what, (unsigned long)addrs[i], l->vma,
					  (unsigned long)b->vmas_count);
				continue;
			}
			const struct procmapq_vma *v = &b->vmas[l->vma];
			if (addrs[i] < v->start || addrs[i] >= v->end)
				violation("%s: addr %lx reported in %lx-%lx", what, (unsigned long)addrs[i],
					  (unsigned long)v->start, (unsigned long)v->end);
			else if (l->file_offset != addrs[i] - v->start + v->offset)
				violation("%s: addr %lx file offset %lx", what, (unsigned long)addrs[i],
					  (unsigned long)l->file_offset);
			if ((v->perms & perms) != perms)
				violation("%s: addr %lx: VMA fails the filter", what, (unsigned long)addrs[i]);
		} else if ((l->reason != PROCMAPQ_REASON_UNMAPPED && l->reason != PROCMAPQ_REASON_FILTERED) ||
			   l->vma != -1 || l->file_offset != 0) {
			violation("%s: addr %lx: reason %u vma %d on a live target", what, (unsigned long)addrs[i],
				  l->reason, l->vma);
		}
		if (untouched[i] >= 0) {
			const struct mut_untouched *u = &mut.untouched[untouched[i]];
			uint32_t want = passes(u, perms, fb) ? PROCMAPQ_REASON_FOUND : PROCMAPQ_REASON_FILTERED;
			if (l->reason != want)
				violation("%s: untouched %s addr %lx: reason %u, want %u", what, u->label,
					  (unsigned long)addrs[i], l->reason, want);
			else if (want == PROCMAPQ_REASON_FOUND)
				check_untouched(what, u, &b->vmas[l->vma], b);
		}
	}
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
	return *s;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	struct procmapq *h = shared;
	if (id % 2 == 1 && procmapq_open(mut.pid, NULL, &h) != 0) {
		violation("open: %s", procmapq_last_error());
		return NULL;
	}
	size_t cap = mut.n_untouched * 3 + mut.n_windows * 64 + 32;
	uint64_t *addrs = malloc(cap * sizeof *addrs);
	int *untouched = malloc(cap * sizeof *untouched);
	struct procmapq_lookup *lk = malloc(cap * sizeof *lk);
	struct procmapq_vma *vmas = malloc(VMAS_CAP * sizeof *vmas);
	char *names = malloc(NAMES_CAP);
	if (!addrs || !untouched || !lk || !vmas || !names)
		abort();
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	static const uint32_t backends[] = {PROCMAPQ_BACKEND_AUTO, PROCMAPQ_BACKEND_IOCTL, PROCMAPQ_BACKEND_TEXT};
	static const uint32_t filters[] = {0, PROCMAPQ_PERM_X, PROCMAPQ_PERM_R | PROCMAPQ_PERM_W};
	for (unsigned long it = 0; now() < deadline; it++) {
		uint32_t backend = backends[rnd(&seed) % 3];
		uint32_t perms = filters[rnd(&seed) % 3];
		bool fb = rnd(&seed) % 4 == 0;
		PROCMAPQ_OPTS(procmapq_query_opts, o, .backend = backend, .perms = perms,
			      .flags = (fb ? PROCMAPQ_QUERY_FILE_BACKED : 0) |
				       (backend != PROCMAPQ_BACKEND_TEXT && rnd(&seed) % 4 == 0 ? PROCMAPQ_QUERY_BUILD_IDS : 0));
		PROCMAPQ_OPTS(procmapq_vma_buf, b, .vmas = vmas, .vmas_cap = VMAS_CAP, .names = names,
			      .names_cap = NAMES_CAP);
		char what[64];
		snprintf(what, sizeof what, "%s backend %u perms %u fb %d", it % 3 ? "query" : "enumerate", backend,
			 perms, fb);
		size_t n = 0;
		int rc;
		if (it % 3 == 0) {
			rc = procmapq_enumerate(h, &o, &b);
		} else {
			for (size_t k = 0; k < mut.n_untouched; k++) {
				const struct mut_untouched *u = &mut.untouched[k];
				uint64_t a[3] = {u->start, u->end - 1, u->start + rnd(&seed) % (u->end - u->start)};
				for (int j = 0; j < 3; j++)
					addrs[n] = a[j], untouched[n++] = (int)k;
			}
			for (size_t w = 0; w < mut.n_windows; w++)
				for (uint64_t a = mut.windows[w][0]; a < mut.windows[w][1]; a += PAGE)
					addrs[n] = a + rnd(&seed) % PAGE, untouched[n++] = -1;
			for (int j = 0; j < 32; j++)
				addrs[n] = rnd(&seed) % (1ull << 47), untouched[n++] = -1;
			rc = procmapq_query(h, addrs, n, &o, lk, &b);
		}
		if (backend == PROCMAPQ_BACKEND_IOCTL && !have_ioctl) {
			if (rc != -ENOTTY)
				violation("%s: forced ioctl without PROCMAP_QUERY gave %d (%s), want -ENOTTY", what, rc,
					  procmapq_last_error());
			atomic_fetch_add(&enotty, 1);
			continue;
		}
		if (rc == -ERANGE) {
			atomic_fetch_add(&eranges, 1);
			continue;
		}
		if (rc < 0) {
			violation("%s: %d %s", what, rc, procmapq_last_error());
			continue;
		}
		if ((uint64_t)rc != b.vmas_count)
			violation("%s: returned %d but vmas_count %lu", what, rc, (unsigned long)b.vmas_count);
		if (it % 3 == 0)
			check_enum(what, &b, perms, fb);
		else
			check_query(what, addrs, untouched, n, lk, &b, perms, fb);
	}
	if (h != shared && procmapq_close(h) != 0)
		violation("close: %s", procmapq_last_error());
	free(addrs), free(untouched), free(lk), free(vmas), free(names);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: cabi_churn MUTATOR_BIN SECONDS THREADS\n");
		return 2;
	}
	double seconds = atof(argv[2]);
	int threads = atoi(argv[3]);
	if (threads < 1 || threads > 64)
		return 2;
	have_ioctl = procmapq_supports_procmap_query();
	if (have_ioctl < 0) {
		fprintf(stderr, "probe: %s\n", procmapq_last_error());
		return 2;
	}
	if (have_ioctl != 1 && t_ioctl_required()) {
		fprintf(stderr, "FAIL PROCMAP_QUERY unavailable, but PROCMAPQ_REQUIRE_IOCTL=1 (tests/c/check.h)\n");
		return 1;
	}
	if (mutator_start(&mut, argv[1], 4) != 0)
		return 2;
	if (procmapq_open(mut.pid, NULL, &shared) != 0) {
		fprintf(stderr, "open: %s\n", procmapq_last_error());
		return 2;
	}
	pthread_t t[64];
	double start = now();
	deadline = start + seconds;
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double elapsed = now() - start;
	procmapq_close(shared);
	int st = mutator_stop(&mut);
	if (st != 0)
		violation("mutator exit status %d", st);
	if (mut.ops == 0)
		violation("the mutator made no mutation");
	printf("FIGURE churn-cabi: ioctl=%d threads=%d queries=%ld addresses=%ld enumerations=%ld violations=%ld "
	       "erange=%ld forced_ioctl_enotty=%ld query_table_overlaps=%ld mutations=%llu seconds=%.1f\n",
	       have_ioctl, threads, atomic_load(&queries), atomic_load(&addresses), atomic_load(&enums),
	       atomic_load(&violations), atomic_load(&eranges), atomic_load(&enotty), atomic_load(&overlaps), mut.ops,
	       elapsed);
	return atomic_load(&violations) ? 1 : 0;
}
