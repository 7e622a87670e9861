/* fuzz_cabi.c - one fuzz input run against the real libprocmapq.so: a
 * captured maps text opened as a handle, then queries and enumerations
 * whose option structs, size fields, flags, counts and output capacities
 * all come from the input.
 *
 * Built three ways:
 *   -DFUZZ_LIBFUZZER  LLVMFuzzerTestOneInput, for clang -fsanitize=fuzzer
 *   -DFUZZ_SERVER     reads inputs from stdin (u32 length + bytes), answers
 *                     one byte each: the Go fuzz target FuzzCABIDecode
 *                     drives it (a crash ends the server and fails the
 *                     input)
 *   neither           runs the files named on the command line once each
 *                     (corpus replay in make test)
 *
 * Input layout (little endian; missing bytes read as zero):
 *   u8  ops        bit 0 query, bit 1 enumerate, bit 2 second query
 *                  after enumerate, bit 3 close twice, bit 4 BUILD_IDS
 *   u8  opts_len   bytes of the query options struct given (0 = NULL opts)
 *   opts_len bytes the struct, starting with its size field: placed so
 *                  that it ends right before a PROT_NONE page, so reading
 *                  past the given bytes faults
 *   u16 vmas_cap, u32 names_cap   output capacities
 *   u16 text_len, text_len bytes  the maps text
 *   rest           addresses, 8 bytes each (at most 4096)
 * Checked: every call returns 0..count or a documented negative errno;
 * -EFAULT never comes when every byte the size field claims was given;
 * answers are consistent (index in range, VMA covers the address, file
 * offset, ascending table); -ERANGE reports sizes that then work. A
 * violation aborts (a crash for every harness).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "procmapq.h"

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct reader *r, size_t bytes)
{
	uint64_t v = 0;
	for (size_t i = 0; i < bytes; i++)
		if (r->n) {
			v |= (uint64_t)r->p[0] << (8 * i);
			r->p++, r->n--;
		}
	return v;
}

static const uint8_t *take_bytes(struct reader *r, size_t *want)
{
	if (*want > r->n)
		*want = r->n;
	const uint8_t *p = r->p;
	r->p += *want, r->n -= *want;
	return p;
}

#define VIOLATION(...)                                   \
	do {                                             \
		fprintf(stderr, "fuzz_cabi: " __VA_ARGS__); \
		fprintf(stderr, " (last error: %s)\n", procmapq_last_error()); \
		abort();                                 \
	} while (0)

static int documented(int rc)
{
	switch (-rc) {
	case EINVAL: case E2BIG: case ERANGE: case EFAULT: case EBADF: case ENOMEM: case ENOTTY:
		return 1;
	}
	return 0;
}

/* Guarded area: two pages, the second PROT_NONE; structs end at the fence. */
static uint8_t *guard;
static long page;

static void *fenced(const void *src, size_t len)
{
	if (!guard) {
		page = sysconf(_SC_PAGESIZE);
		guard = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard == MAP_FAILED || mprotect(guard + page, page, PROT_NONE))
			abort();
	}
	uint8_t *p = guard + page - len;
	memcpy(p, src, len);
	return p;
}

static void check_buf(const char *what, int rc, const struct procmapq_vma_buf *b)
{
	if (rc < 0)
		return;
	if ((uint64_t)rc != b->vmas_count || b->vmas_count > b->vmas_cap || b->names_len > b->names_cap)
		VIOLATION("%s: rc %d, %lu VMAs (cap %lu), %lu name bytes (cap %lu)", what, rc,
			  (unsigned long)b->vmas_count, (unsigned long)b->vmas_cap, (unsigned long)b->names_len,
			  (unsigned long)b->names_cap);
	for (uint64_t i = 0; i < b->vmas_count; i++) {
		const struct procmapq_vma *v = &b->vmas[i];
		if (v->start >= v->end || (i > 0 && v->start < b->vmas[i - 1].start))
			VIOLATION("%s: VMA %lu %lx-%lx malformed or out of order", what, (unsigned long)i,
				  (unsigned long)v->start, (unsigned long)v->end);
		if (v->name_off + v->name_len >= b->names_len || b->names[v->name_off + v->name_len] != 0)
			VIOLATION("%s: VMA %lu name outside the names buffer", what, (unsigned long)i);
		if (v->reserved[0] | v->reserved[1] | v->reserved[2] | v->reserved[3])
			VIOLATION("%s: reserved fields not zero", what);
	}
}

int pmqfuzz_run(const uint8_t *data, size_t size);
int pmqfuzz_run(const uint8_t *data, size_t size)
{
	struct reader r = {data, size};
	unsigned ops = (unsigned)take(&r, 1);
	size_t opts_len = (size_t)take(&r, 1);
	const uint8_t *opts_src = take_bytes(&r, &opts_len);
	uint64_t vmas_cap = take(&r, 2), names_cap = take(&r, 4) & 0xfffff;
	size_t text_len = (size_t)take(&r, 2);
	const uint8_t *text = take_bytes(&r, &text_len);
	size_t n = r.n / 8 > 4096 ? 4096 : r.n / 8;
	uint64_t *addrs = malloc((n ? n : 1) * sizeof *addrs);
	for (size_t i = 0; i < n; i++)
		addrs[i] = take(&r, 8);

	struct procmapq *h;
	int rc = procmapq_open_text((const char *)text, text_len, NULL, &h);
	if (rc != 0) {
		if (rc != -EINVAL || h != NULL)
			VIOLATION("open_text: %d, handle %p", rc, (void *)h);
		free(addrs);
		return 0;
	}
	/* The options: as given, ending at the fence. Reading past the bytes
	 * given faults; that must be -EFAULT only if the size field claims
	 * more than was given. */
	uint64_t claimed = 0;
	if (opts_len >= 8)
		memcpy(&claimed, opts_src, 8);
	const struct procmapq_query_opts *opts = opts_len ? fenced(opts_src, opts_len) : NULL;
	int may_fault = opts_len > 0 && (opts_len < 8 || claimed > opts_len);
	(void)(ops & 16); /* BUILD_IDS comes through the fuzzed flags */

	struct procmapq_vma *vmas = calloc(vmas_cap ? vmas_cap : 1, sizeof *vmas);
	char *names = calloc(names_cap ? names_cap : 1, 1);
	struct procmapq_lookup *lk = calloc(n ? n : 1, sizeof *lk);
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = vmas_cap, .names = names, .names_cap = names_cap);
	for (int pass = 0; pass < 3; pass++) {
		int query = pass == 0 ? (ops & 1) : pass == 2 ? (ops & 4) : 0;
		int enumerate = pass == 1 && (ops & 2);
		if (!query && !enumerate)
			continue;
		struct procmapq_vma_buf b = out;
		rc = query ? procmapq_query(h, addrs, n, opts, lk, &b) : procmapq_enumerate(h, opts, &b);
		const char *what = query ? "query" : "enumerate";
		if (rc < 0 && !documented(rc))
			VIOLATION("%s: undocumented %d", what, rc);
		if (rc == -EFAULT && !may_fault)
			VIOLATION("%s: -EFAULT with every claimed byte readable", what);
		if (rc == -EBADF || rc == -ENOMEM)
			VIOLATION("%s: %d on a live handle", what, rc);
		check_buf(what, rc, &b);
		if (rc == -ERANGE) {
			/* The sizes needed must then be enough (a text handle does not change). */
			struct procmapq_vma *v2 = calloc(b.vmas_count + 1, sizeof *v2);
			char *n2 = calloc(b.names_len + 1, 1);
			PROCMAPQ_OPTS(procmapq_vma_buf, b2, .vmas = v2, .vmas_cap = b.vmas_count, .names = n2,
				      .names_cap = b.names_len);
			int rc2 = query ? procmapq_query(h, addrs, n, opts, lk, &b2) : procmapq_enumerate(h, opts, &b2);
			if (rc2 < 0)
				VIOLATION("%s: -ERANGE asked for %lu VMAs / %lu name bytes, then %d", what,
					  (unsigned long)b.vmas_count, (unsigned long)b.names_len, rc2);
			check_buf(what, rc2, &b2);
			free(v2), free(n2);
		}
		if (query && rc >= 0) {
			for (size_t i = 0; i < n; i++) {
				const struct procmapq_lookup *l = &lk[i];
				if (l->reason == PROCMAPQ_REASON_FOUND) {
					if (l->vma < 0 || (uint64_t)l->vma >= b.vmas_count)
						VIOLATION("addr %lx: index %d of %lu", (unsigned long)addrs[i], l->vma,
							  (unsigned long)b.vmas_count);
					const struct procmapq_vma *v = &b.vmas[l->vma];
					if (addrs[i] < v->start || addrs[i] >= v->end ||
					    l->file_offset != addrs[i] - v->start + v->offset)
						VIOLATION("addr %lx answered by %lx-%lx offset %lx", (unsigned long)addrs[i],
							  (unsigned long)v->start, (unsigned long)v->end,
							  (unsigned long)l->file_offset);
				} else if (l->vma != -1 || l->reason > PROCMAPQ_REASON_FILTERED) {
					VIOLATION("addr %lx: reason %u index %d", (unsigned long)addrs[i], l->reason,
						  l->vma);
				}
			}
		}
	}
	if (procmapq_close(h) != 0)
		VIOLATION("close: %s", procmapq_last_error());
	if ((ops & 8) && procmapq_close(h) != -EBADF)
		VIOLATION("second close did not give -EBADF");
	free(vmas), free(names), free(lk), free(addrs);
	return 0;
}

#if defined(FUZZ_LIBFUZZER)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return pmqfuzz_run(data, size); }
#elif defined(FUZZ_SERVER)
int main(void)
{
	uint8_t *buf = NULL;
	for (;;) {
		uint32_t len;
		if (fread(&len, 4, 1, stdin) != 1)
			return 0;
		buf = realloc(buf, len ? len : 1);
		if (len && fread(buf, 1, len, stdin) != len)
			return 2;
		pmqfuzz_run(buf, len);
		fputc('k', stdout);
		fflush(stdout);
	}
}
#else
int main(int argc, char **argv)
{
	int runs = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 2;
		}
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		pmqfuzz_run(buf, len);
		runs++;
	}
	printf("FIGURE fuzz-cabi-replay: inputs=%d crashes=0\n", runs);
	return 0;
}
#endif
