/* driver: runs the C contenders of the side-by-side benchmark.
 *
 *   driver SPEC                 run the workloads of SPEC, print results
 *   driver --extras LIB PID ADDRS   syscall cost; C ABI per-call costs (empty
 *                               batch, first call on a new thread); LIB "-"
 *                               = no library, the syscall cost only
 *   driver --load-probe LIB     dlopen + first call, RSS and threads added
 *
 * SPEC lines (written by the orchestrator, bench/cmd/benchrun):
 *   lib PATH                    libprocmapq.so to dlopen (optional)
 *   contenders NAME,NAME...     run only these (optional)
 *   workload NAME KIND PID MODE ITERS BUDGET_MS ARG
 * KIND is query (ARG = file of sorted hex addresses), single (one address
 * per call, cycling through ARG), enum (ARG = all | exec), blazesym (own
 * process, five addresses chosen here; PID 0), or parse (ARG = a captured
 * maps text, read into memory before timing; only contenders with a parser
 * of their own run it, no open, no kernel). MODE is kept (one handle per
 * contender for the whole workload) or open (open, query, close per call).
 *
 * A "lib" line that names a library which does not load is an error (exit
 * 2): the cabi-* contenders are never dropped silently.
 *
 * Contenders run round-robin, a block of calls each in turn, so that they
 * share the machine's noise; each first runs once untimed and its answers'
 * digest is printed, so the orchestrator can check that all contenders
 * agree. Output:
 *   digest WORKLOAD CONTENDER HEX FOUND VMAS
 *   samples WORKLOAD CONTENDER NS...       steady-state calls
 *   cold WORKLOAD CONTENDER NS...          first call of each block
 *   info WORKLOAD CONTENDER strategy=NAME   (libprocmapq: the last call's)
 *   error WORKLOAD CONTENDER MESSAGE
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_CONTENDERS 16

/* ---- digests: the same arithmetic as bench/internal/digest (Go) ------ */

#define DIGEST_SEED 0xcbf29ce484222325ull
#define DIGEST_PRIME 0x100000001b3ull
#define DIGEST_MISSING 0xffffffffffffffffull

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * DIGEST_PRIME; }

static uint64_t name_hash(const char *p, size_t n)
{
	uint64_t h = DIGEST_SEED;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * DIGEST_PRIME;
	return h;
}

static uint64_t mix_vma(uint64_t h, const struct answers *a, const struct vma *v)
{
	h = mix(h, v->start);
	h = mix(h, v->end);
	h = mix(h, v->pgoff);
	h = mix(h, v->inode);
	h = mix(h, (uint64_t)v->major << 32 | v->minor);
	h = mix(h, v->perms);
	return mix(h, name_hash(a->arena + v->name_off, v->name_len));
}

/* query_digest folds, per address, its VMA (or a marker for none). */
static uint64_t query_digest(uint64_t h, const struct answers *a, size_t n, size_t *found)
{
	for (size_t i = 0; i < n; i++) {
		if (a->idx[i] < 0) {
			h = mix(h, DIGEST_MISSING);
			continue;
		}
		(*found)++;
		h = mix_vma(h, a, &a->vmas[a->idx[i]]);
	}
	return h;
}

/* enum_digest folds every VMA but the gate page (text-only). */
static uint64_t enum_digest(const struct answers *a, size_t *count)
{
	uint64_t h = DIGEST_SEED;
	for (size_t i = 0; i < a->nvmas; i++) {
		if (a->vmas[i].start >= GATE_START)
			continue;
		(*count)++;
		h = mix_vma(h, a, &a->vmas[i]);
	}
	return h;
}

/* ---- workloads ------------------------------------------------------- */

enum kind { KIND_QUERY, KIND_SINGLE, KIND_ENUM, KIND_BLAZESYM, KIND_PARSE };

struct workload {
	char name[64];
	enum kind kind;
	int pid;
	enum open_mode mode;
	int iters, budget_ms;
	bool exec_only;
	uint64_t *addrs;
	size_t n;
	char *text; /* KIND_PARSE: the captured maps text */
	size_t text_len;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void read_addrs(const char *path, struct workload *w)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	size_t cap = 0;
	unsigned long long a;
	while (fscanf(f, "%llx", &a) == 1) {
		if (w->n == cap) {
			cap = cap ? 2 * cap : 1024;
			w->addrs = xreallocarray(w->addrs, cap, sizeof *w->addrs);
		}
		w->addrs[w->n++] = a;
	}
	fclose(f);
}

/* read_text loads a parse workload's captured maps text. */
static void read_text(const char *path, struct workload *w)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	size_t cap = 1 << 16;
	w->text = xmalloc(cap);
	size_t got;
	while ((got = fread(w->text + w->text_len, 1, cap - w->text_len, f)) > 0) {
		w->text_len += got;
		if (w->text_len == cap)
			w->text = xrealloc(w->text, cap *= 2);
	}
	if (ferror(f)) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

/* Two functions of this executable for the blazesym workload: kept out of
 * line so that they have addresses of their own. */
__attribute__((noinline)) int bench_marker_one(int x) { return x * 3 + 1; }
__attribute__((noinline)) int bench_marker_two(int x) { return x * 5 + 2; }

/* blazesym_addrs picks the blazesym benchmark's addresses in this process:
 * three libc functions found with dlsym (never &f, which may be a PLT
 * stub) and two functions of the executable; two modules in all. */
static void blazesym_addrs(struct workload *w)
{
	static const char *const libc_syms[] = { "chdir", "fopen", "qsort" };
	w->addrs = xreallocarray(NULL, 5, sizeof *w->addrs);
	for (int i = 0; i < 3; i++)
		w->addrs[w->n++] = (uintptr_t)dlsym(RTLD_DEFAULT, libc_syms[i]);
	w->addrs[w->n++] = (uintptr_t)&bench_marker_one;
	w->addrs[w->n++] = (uintptr_t)&bench_marker_two;
	qsort(w->addrs, w->n, sizeof *w->addrs, cmp_u64);
}

/* run_once runs one timed call of contender c; batch is the address index
 * for KIND_SINGLE. Returns the elapsed ns, or -errno. */
static int64_t run_once(struct contender *c, const struct workload *w, size_t batch, struct answers *ans)
{
	uint64_t t0 = now_ns();
	int err = 0;
	if (w->mode == OPEN_PER_CALL && (err = c->open(c, w->pid)))
		return err;
	switch (w->kind) {
	case KIND_QUERY:
	case KIND_BLAZESYM:
		err = c->query(c, w->addrs, w->n, ans);
		break;
	case KIND_SINGLE:
		err = c->query(c, &w->addrs[batch % w->n], 1, ans);
		break;
	case KIND_ENUM:
		err = c->enumerate(c, w->exec_only, ans);
		break;
	case KIND_PARSE:
		err = c->parse(c, w->text, w->text_len, ans);
		break;
	}
	if (w->mode == OPEN_PER_CALL)
		c->close(c);
	uint64_t t1 = now_ns();
	return err ? err : (int64_t)(t1 - t0);
}

/* check_run answers the whole workload once, untimed, and prints the
 * digest of the answers. */
static int check_run(struct contender *c, const struct workload *w, struct answers *ans, uint64_t *per_call_ns)
{
	uint64_t h = DIGEST_SEED;
	size_t found = 0, count = 0;
	int64_t r = 0;
	uint64_t t0 = now_ns();
	ans->want = true;
	if (w->kind == KIND_SINGLE) {
		for (size_t i = 0; i < w->n && (r = run_once(c, w, i, ans)) >= 0; i++) {
			h = query_digest(h, ans, 1, &found);
			count += ans->nvmas;
		}
	} else if ((r = run_once(c, w, 0, ans)) >= 0) {
		if (w->kind == KIND_ENUM || w->kind == KIND_PARSE)
			h = enum_digest(ans, &count);
		else {
			h = query_digest(h, ans, w->n, &found);
			count = ans->nvmas;
		}
	}
	ans->want = false;
	if (r < 0)
		return (int)r;
	*per_call_ns = (now_ns() - t0) / (w->kind == KIND_SINGLE && w->n > 0 ? w->n : 1);
	printf("digest %s %s %016llx %zu %zu\n", w->name, c->name, (unsigned long long)h, found, count);
	return 0;
}

/* chosen is the "contenders" spec line; NULL runs them all. */
static char *chosen;

static bool is_chosen(const char *name)
{
	if (!chosen)
		return true;
	size_t len = strlen(name);
	for (const char *p = chosen; (p = strstr(p, name)); p += len)
		if ((p == chosen || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
			return true;
	return false;
}

/* samples is a growing array of call times. */
struct samples {
	int64_t *v;
	size_t n, cap;
};

static void samples_add(struct samples *s, int64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = ns;
}

static void samples_print(const char *what, const struct workload *w, const struct contender *c, struct samples *s)
{
	if (s->n == 0)
		return;
	printf("%s %s %s", what, w->name, c->name);
	for (size_t j = 0; j < s->n; j++)
		printf(" %lld", (long long)s->v[j]);
	printf("\n");
	free(s->v);
}

/* Each turn of the round-robin runs a block of calls of one contender,
 * about BLOCK_NS long: the first call of a block comes right after other
 * contenders' work (cold caches; for the C ABI, a Go runtime that has
 * given its P away) and is recorded apart ("cold"); the others are the
 * steady state ("samples"). */
#define BLOCK_NS 2000000u
#define BLOCK_MAX 50u

static void run_workload(struct workload *w, struct contender **all, int nall)
{
	struct contender *cs[MAX_CONTENDERS];
	struct answers ans[MAX_CONTENDERS] = { 0 };
	struct samples warm[MAX_CONTENDERS] = { 0 }, cold[MAX_CONTENDERS] = { 0 };
	unsigned block[MAX_CONTENDERS];
	bool failed[MAX_CONTENDERS] = { 0 };
	int nc = 0;
	for (int i = 0; i < nall; i++) {
		struct contender *c = all[i];
		if (!is_chosen(c->name) || (w->kind == KIND_PARSE && !c->parse))
			continue;
		c->pid = w->pid;
		uint64_t per_call = 0;
		int err = w->mode == KEEP_OPEN ? c->open(c, w->pid) : 0;
		if (!err)
			err = check_run(c, w, &ans[nc], &per_call);
		if (err) {
			/* A kernel without PROCMAP_QUERY (before 6.11) is not a
			 * failure of the contender: say it was skipped. */
			printf("%s %s %s %s\n", err == -ENOTTY ? "note" : "error", w->name, c->name, strerror(-err));
			if (w->mode == KEEP_OPEN && c->state)
				c->close(c);
			continue;
		}
		uint64_t b = BLOCK_NS / (per_call ? per_call : 1);
		block[nc] = b < 1 ? 1 : b > BLOCK_MAX ? BLOCK_MAX : (unsigned)b;
		if ((int)block[nc] > w->iters)
			block[nc] = (unsigned)w->iters;
		cs[nc++] = c;
	}
	/* Stop at the budget once every contender has 5 calls, and at three
	 * times the budget in any case (a contender may stall for seconds on a
	 * loaded machine). */
	const uint64_t budget = (uint64_t)w->budget_ms * 1000000u, deadline = now_ns() + budget;
	const uint64_t hard_deadline = deadline + 2 * budget;
	const size_t iters = (size_t)w->iters, min_iters = iters < 5 ? iters : 5;
	size_t it = 0; /* calls made so far of each contender's next block */
	for (size_t least = 0; least < iters;) {
		uint64_t now = now_ns();
		if ((least >= min_iters && now >= deadline) || (least > 0 && now >= hard_deadline))
			break;
		least = SIZE_MAX;
		for (int k = 0; k < nc; k++) {
			for (unsigned j = 0; j < block[k]; j++) {
				int64_t r = run_once(cs[k], w, it + j, &ans[k]);
				if (r < 0 && !failed[k]) {
					printf("error %s %s %s\n", w->name, cs[k]->name, strerror((int)-r));
					failed[k] = true;
				}
				samples_add(j == 0 && block[k] > 1 ? &cold[k] : &warm[k], r);
			}
			if (warm[k].n < least)
				least = warm[k].n;
		}
		it += BLOCK_MAX;
	}
	for (int k = 0; k < nc; k++) {
		samples_print("samples", w, cs[k], &warm[k]);
		samples_print("cold", w, cs[k], &cold[k]);
		/* How the last timed call was answered (auto may learn). */
		if (ans[k].strategy[0])
			printf("info %s %s strategy=%s\n", w->name, cs[k]->name, ans[k].strategy);
		answers_free(&ans[k]);
		if (w->mode == KEEP_OPEN)
			cs[k]->close(cs[k]);
	}
	fflush(stdout);
}

static int parse_workload(char *line, struct workload *w)
{
	char kind[16], mode[8], arg[4096];
	memset(w, 0, sizeof *w);
	if (sscanf(line, "workload %63s %15s %d %7s %d %d %4095s", w->name, kind, &w->pid, mode,
		   &w->iters, &w->budget_ms, arg) != 7)
		return -1;
	w->mode = strcmp(mode, "open") == 0 ? OPEN_PER_CALL : KEEP_OPEN;
	if (strcmp(kind, "parse") == 0) {
		/* A parser needs no handle: neither kept nor opened per call. */
		w->kind = KIND_PARSE;
		w->mode = NO_HANDLE;
		read_text(arg, w);
	} else
	if (strcmp(kind, "query") == 0 || strcmp(kind, "single") == 0) {
		w->kind = kind[0] == 'q' ? KIND_QUERY : KIND_SINGLE;
		read_addrs(arg, w);
	} else if (strcmp(kind, "enum") == 0) {
		w->kind = KIND_ENUM;
		w->exec_only = strcmp(arg, "exec") == 0;
	} else if (strcmp(kind, "blazesym") == 0) {
		w->kind = KIND_BLAZESYM;
		blazesym_addrs(w);
	} else {
		return -1;
	}
	if (w->iters < 1)
		w->iters = 1;
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc == 3 && strcmp(argv[1], "--load-probe") == 0)
		return cabi_load_probe(argv[2]);
	if (argc == 5 && strcmp(argv[1], "--extras") == 0) {
		struct workload w = { 0 };
		read_addrs(argv[4], &w);
		syscall_cost();
		if (strcmp(argv[2], "-") == 0) /* no library built: the reference only */
			return 0;
		const char *why;
		struct contender *tmp[MAX_CONTENDERS];
		if (cabi_load(argv[2], tmp, MAX_CONTENDERS, &why) < 0) {
			fprintf(stderr, "driver: cannot load %s: %s\n", argv[2], why);
			return 2;
		}
		cabi_extras(atoi(argv[3]), w.addrs, w.n);
		free(w.addrs);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: driver SPEC | --extras LIB|- PID ADDRS | --load-probe LIB\n");
		return 2;
	}
	FILE *spec = fopen(argv[1], "r");
	if (!spec) {
		perror(argv[1]);
		return 2;
	}
	struct contender *all[MAX_CONTENDERS] = { &limit_contender, &fscanf_contender, &fastparse_contender };
	int nall = 3;
	char line[8192];
	while (fgets(line, sizeof line, spec)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "lib ", 4) == 0) {
			const char *why = NULL;
			int added = cabi_load(line + 4, all + nall, MAX_CONTENDERS - nall, &why);
			if (added < 0) {
				fprintf(stderr, "driver: cannot load %s: %s\n", line + 4, why);
				return 2;
			}
			nall += added;
		} else if (strncmp(line, "contenders ", 11) == 0) {
			free(chosen);
			chosen = xstrdup(line + 11);
		} else if (strncmp(line, "workload ", 9) == 0) {
			struct workload w;
			if (parse_workload(line, &w)) {
				fprintf(stderr, "driver: bad spec line: %s\n", line);
				return 2;
			}
			run_workload(&w, all, nall);
			free(w.addrs);
			free(w.text);
		}
	}
	fclose(spec);
	return 0;
}
