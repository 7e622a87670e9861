/* testbuf: see testbuf.h. */
#include "testbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VMA_SLACK 64

int test_out_init(struct test_out *o, const struct maps_table *t, size_t lookups_cap)
{
	memset(o, 0, sizeof *o);
	size_t vmas_cap = t->count + VMA_SLACK;
	/* Every name fits in the text it came from, plus one NUL per VMA. */
	size_t names_cap = t->text_len + vmas_cap + 4096;
	o->vmas = calloc(vmas_cap, sizeof *o->vmas);
	o->names = malloc(names_cap);
	o->lookups = calloc(lookups_cap ? lookups_cap : 1, sizeof *o->lookups);
	if (!o->vmas || !o->names || !o->lookups) {
		test_out_free(o);
		return -ENOMEM;
	}
	o->lookups_cap = lookups_cap;
	o->buf.size = sizeof o->buf;
	o->buf.vmas = o->vmas;
	o->buf.vmas_cap = vmas_cap;
	o->buf.names = o->names;
	o->buf.names_cap = names_cap;
	return 0;
}

void test_out_free(struct test_out *o)
{
	free(o->vmas);
	free(o->names);
	free(o->lookups);
	memset(o, 0, sizeof *o);
}

/* A small deterministic generator (xorshift32), so a failing batch can be
 * reproduced. */
static unsigned next_random(unsigned *state)
{
	unsigned x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

uint64_t *test_addresses(const struct maps_table *t, size_t *n, unsigned seed)
{
	size_t cap = t->count * 4 + 8, count = 0;
	size_t dups = cap / 8 + 1;
	uint64_t *a = malloc((cap + dups) * sizeof *a);
	if (!a)
		return NULL;
	a[count++] = 0;
	if (t->count > 0 && t->entries[0].start > 0)
		a[count++] = t->entries[0].start - 1;
	a[count++] = UINT64_MAX;
	for (size_t i = 0; i < t->count; i++) {
		const struct maps_entry *e = &t->entries[i];
		a[count++] = e->start;
		a[count++] = e->end - 1;
		a[count++] = e->start + (e->end - e->start) / 2;
		if (i + 1 == t->count || e->end < t->entries[i + 1].start)
			a[count++] = e->end; /* first byte of a gap */
	}
	if (seed == 0)
		seed = 1;
	for (size_t i = 0; i < dups; i++)
		a[count + i] = a[next_random(&seed) % count];
	count += dups;
	for (size_t i = count - 1; i > 0; i--) {
		size_t j = next_random(&seed) % (i + 1);
		uint64_t tmp = a[i];
		a[i] = a[j];
		a[j] = tmp;
	}
	*n = count;
	return a;
}

int test_batch_init(struct test_out *o, const struct maps_table *t, uint64_t **addrs, size_t *n, unsigned seed)
{
	*addrs = test_addresses(t, n, seed);
	if (!*addrs)
		return -ENOMEM;
	if (test_out_init(o, t, *n) != 0) {
		free(*addrs);
		*addrs = NULL;
		return -ENOMEM;
	}
	return 0;
}
