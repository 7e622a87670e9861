/* cabi.c: libprocmapq through its C ABI, one contender per backend
 * (cabi-ioctl, cabi-text, cabi-auto), plus the costs of the ABI itself.
 *
 * The library is loaded with dlopen, so that the driver builds and runs
 * the other contenders when libprocmapq.so does not exist yet (the
 * orchestrator then gives no "lib" line), and so that the load cost can be
 * measured in a fresh process (--load-probe). The header is always there
 * (include/, compiled with -I include); a library that was asked for and
 * does not load is an error, never a silent drop of the cabi-* contenders.
 * cabi-text also answers parse-only workloads (procmapq_open_text). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <procmapq.h> /* always there: built with -I include */

#include "bench.h"


static struct {
	int (*open)(int, const struct procmapq_open_opts *, struct procmapq **);
	int (*open_text)(const char *, size_t, const struct procmapq_open_opts *, struct procmapq **);
	int (*close)(struct procmapq *);
	int (*query)(struct procmapq *, const uint64_t *, size_t, const struct procmapq_query_opts *,
		     struct procmapq_lookup *, struct procmapq_vma_buf *);
	int (*enumerate)(struct procmapq *, const struct procmapq_query_opts *, struct procmapq_vma_buf *);
	int (*supports)(void);
	const char *(*last_error)(void);
} lib;

static int load_symbols(const char *path, const char **why)
{
	void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		*why = dlerror();
		return -1;
	}
#define SYM(field, name)                                  \
	if (!(*(void **)&lib.field = dlsym(so, name))) {  \
		*why = "symbol " name " missing";         \
		return -1;                                \
	}
	SYM(open, "procmapq_open");
	SYM(open_text, "procmapq_open_text");
	SYM(close, "procmapq_close");
	SYM(query, "procmapq_query");
	SYM(enumerate, "procmapq_enumerate");
	SYM(supports, "procmapq_supports_procmap_query");
	SYM(last_error, "procmapq_last_error");
#undef SYM
	return 0;
}

struct cabi_state {
	struct procmapq *h;
	uint32_t backend;
	struct procmapq_lookup *lookups;
	size_t lookups_cap;
	struct procmapq_vma *vmas;
	size_t vmas_cap;
	char *names;
	size_t names_cap;
};

/* One state per backend; the contender's open/close only manage the
 * handle, so buffers survive open-per-call workloads. */
static struct cabi_state states[3];

static int cabi_open(struct contender *c, int pid)
{
	struct cabi_state *s = c->state;
	return lib.open(pid, NULL, &s->h);
}

static void cabi_close(struct contender *c)
{
	struct cabi_state *s = c->state;
	lib.close(s->h);
	s->h = NULL;
}

static const char *strategy_name(uint32_t s)
{
	static const char *const names[] = { "none", "point-ioctl", "ioctl-walk", "text", "ioctl-then-text" };
	return s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* grow makes the output buffers at least as large as a -ERANGE asked. */
static void grow(struct cabi_state *s, const struct procmapq_vma_buf *out)
{
	if (out->vmas_count > s->vmas_cap) {
		s->vmas_cap = 2 * out->vmas_count;
		s->vmas = xreallocarray(s->vmas, s->vmas_cap, sizeof *s->vmas);
	}
	if (out->names_len > s->names_cap) {
		s->names_cap = 2 * out->names_len;
		s->names = xrealloc(s->names, s->names_cap);
	}
}

/* to_answers converts the library's output, only when the driver wants
 * the answers (the untimed check run): the timed calls stop at the
 * library's own output. */
static void to_answers(struct cabi_state *s, const struct procmapq_vma_buf *out, size_t n, struct answers *ans)
{
	snprintf(ans->strategy, sizeof ans->strategy, "%s", strategy_name(out->strategy));
	if (!ans->want)
		return;
	answers_reset(ans, n);
	for (uint64_t k = 0; k < out->vmas_count; k++) {
		const struct procmapq_vma *v = &s->vmas[k];
		struct vma w = { .start = v->start, .end = v->end, .pgoff = v->offset, .inode = v->inode,
				 .major = v->dev_major, .minor = v->dev_minor, .perms = v->perms };
		answers_add(ans, &w, s->names + v->name_off, v->name_len);
	}
	for (size_t i = 0; i < n; i++)
		ans->idx[i] = s->lookups[i].reason == PROCMAPQ_REASON_FOUND ? s->lookups[i].vma : -1;
}

static int cabi_query(struct contender *c, const uint64_t *addrs, size_t n, struct answers *ans)
{
	struct cabi_state *s = c->state;
	if (n > s->lookups_cap) {
		s->lookups_cap = n;
		s->lookups = xreallocarray(s->lookups, n, sizeof *s->lookups);
	}
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = s->backend, .flags = PROCMAPQ_QUERY_SORTED);
	for (;;) {
		PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = s->vmas, .vmas_cap = s->vmas_cap,
			      .names = s->names, .names_cap = s->names_cap);
		int r = lib.query(s->h, addrs, n, &opts, s->lookups, &out);
		if (r == -ERANGE) {
			grow(s, &out);
			continue;
		}
		if (r < 0)
			return r;
		to_answers(s, &out, n, ans);
		return 0;
	}
}

static int cabi_enumerate(struct contender *c, bool exec_only, struct answers *ans)
{
	struct cabi_state *s = c->state;
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = s->backend, .perms = exec_only ? PROCMAPQ_PERM_X : 0);
	for (;;) {
		PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = s->vmas, .vmas_cap = s->vmas_cap,
			      .names = s->names, .names_cap = s->names_cap);
		int r = lib.enumerate(s->h, &opts, &out);
		if (r == -ERANGE) {
			grow(s, &out);
			continue;
		}
		if (r < 0)
			return r;
		to_answers(s, &out, 0, ans);
		return 0;
	}
}

/* cabi_parse is procmapq_open_text + procmapq_enumerate + procmapq_close
 * on a captured text in memory: the library's parser, no kernel (the
 * cabi-text contender on parse-only workloads). */
static int cabi_parse(struct contender *c, const char *text, size_t len, struct answers *ans)
{
	struct cabi_state *s = c->state;
	int r = lib.open_text(text, len, NULL, &s->h);
	if (r < 0)
		return r;
	r = cabi_enumerate(c, false, ans);
	cabi_close(c);
	return r;
}

static struct contender cabi_contenders[3] = {
	{ .name = "cabi-ioctl", .state = &states[0] },
	{ .name = "cabi-text", .state = &states[1] },
	{ .name = "cabi-auto", .state = &states[2] },
};

int cabi_load(const char *lib_path, struct contender **out, int max, const char **why)
{
	if (load_symbols(lib_path, why))
		return -1;
	const uint32_t backends[3] = { PROCMAPQ_BACKEND_IOCTL, PROCMAPQ_BACKEND_TEXT, PROCMAPQ_BACKEND_AUTO };
	int k = 0;
	for (; k < 3 && k < max; k++) {
		struct contender *c = &cabi_contenders[k];
		states[k].backend = backends[k];
		states[k].vmas_cap = 1024;
		states[k].vmas = xreallocarray(NULL, states[k].vmas_cap, sizeof *states[k].vmas);
		states[k].names_cap = 64 << 10;
		states[k].names = xmalloc(states[k].names_cap);
		c->open = cabi_open;
		c->close = cabi_close;
		c->query = cabi_query;
		c->enumerate = cabi_enumerate;
		c->parse = backends[k] == PROCMAPQ_BACKEND_TEXT ? cabi_parse : NULL;
		out[k] = c;
	}
	return k;
}

/* ---- costs of the ABI itself ---------------------------------------- */

struct thread_probe {
	struct procmapq *h;
	uint64_t addr;
	double first_ns, second_ns;
};

static void *first_call_thread(void *arg)
{
	struct thread_probe *p = arg;
	struct procmapq_lookup lk;
	struct procmapq_vma v;
	char names[4096];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = &v, .vmas_cap = 1, .names = names, .names_cap = sizeof names);
	uint64_t t0 = now_ns();
	lib.query(p->h, &p->addr, 1, NULL, &lk, &out);
	uint64_t t1 = now_ns();
	lib.query(p->h, &p->addr, 1, NULL, &lk, &out);
	uint64_t t2 = now_ns();
	p->first_ns = (double)(t1 - t0);
	p->second_ns = (double)(t2 - t1);
	return NULL;
}

void cabi_extras(int pid, const uint64_t *addrs, size_t n)
{
	struct procmapq *h;
	if (lib.open(pid, NULL, &h) < 0) {
		printf("error extras c-abi open: %s\n", lib.last_error());
		return;
	}
	/* Empty batch: the price of crossing into the library and back. */
	enum { REPS = 7, CALLS = 20000, THREADS = 20 };
	double per[REPS > THREADS ? REPS : THREADS], second[THREADS];
	struct procmapq_vma_buf out = { .size = sizeof out };
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < CALLS; i++)
			lib.query(h, NULL, 0, NULL, NULL, &out);
		per[r] = (double)(now_ns() - t0) / CALLS;
	}
	printf("extra cabi_empty_batch_ns %.1f\n", median(per, REPS));
	/* First call on a new thread: the thread is attached to the Go runtime. */
	size_t done = 0;
	for (int t = 0; t < THREADS && n > 0; t++) {
		struct thread_probe p = { .h = h, .addr = addrs[(size_t)t % n] };
		pthread_t th;
		int err = pthread_create(&th, NULL, first_call_thread, &p);
		if (err) {
			printf("error extras c-abi pthread_create: %s\n", strerror(err));
			break;
		}
		pthread_join(th, NULL);
		per[done] = p.first_ns;
		second[done++] = p.second_ns;
	}
	if (done > 0) {
		printf("extra cabi_new_thread_first_call_ns %.0f\n", median(per, done));
		printf("extra cabi_new_thread_second_call_ns %.0f\n", median(second, done));
	}
	lib.close(h);
}

/* status_field reads a "Name: value" number from /proc/self/status. */
static long status_field(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t len = strlen(name);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			v = strtol(line + len + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

int cabi_load_probe(const char *lib_path)
{
	long rss0 = status_field("VmRSS"), vm0 = status_field("VmSize"), th0 = status_field("Threads");
	const char *why;
	uint64_t t0 = now_ns();
	if (load_symbols(lib_path, &why)) {
		fprintf(stderr, "driver: cannot load %s: %s\n", lib_path, why);
		return 2;
	}
	uint64_t t1 = now_ns();
	int sup = lib.supports(); /* the first call enters the Go runtime */
	uint64_t t2 = now_ns();
	struct procmapq *h;
	struct procmapq_lookup lk;
	struct procmapq_vma v;
	char names[4096];
	uint64_t addr = (uintptr_t)&cabi_load_probe;
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = &v, .vmas_cap = 1, .names = names, .names_cap = sizeof names);
	if (lib.open(0, NULL, &h) < 0) {
		fprintf(stderr, "driver: load probe: procmapq_open(0): %s\n", lib.last_error());
		return 2;
	}
	lib.query(h, &addr, 1, NULL, &lk, &out);
	lib.close(h);
	uint64_t t3 = now_ns();
	printf("extra load_dlopen_ns %llu\n", (unsigned long long)(t1 - t0));
	printf("extra load_first_call_ns %llu\n", (unsigned long long)(t2 - t1));
	printf("extra load_dlopen_plus_first_call_ns %llu\n", (unsigned long long)(t2 - t0));
	printf("extra load_first_open_query_close_ns %llu\n", (unsigned long long)(t3 - t2));
	printf("extra load_supports_procmap_query %d\n", sup);
	printf("extra load_rss_added_kib %ld\n", status_field("VmRSS") - rss0);
	printf("extra load_vmsize_added_kib %ld\n", status_field("VmSize") - vm0);
	printf("extra load_threads_added %ld\n", status_field("Threads") - th0);
	return 0;
}
