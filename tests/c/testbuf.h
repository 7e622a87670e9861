/* testbuf: output buffers sized from the parser's view of a target, so the
 * library never needs a retry, plus the address batches the tests send.
 * Shared by the C tests. */
#ifndef TESTBUF_H
#define TESTBUF_H

#include <stddef.h>
#include <stdint.h>

#include "mapsparse.h"
#include "procmapq.h"

struct test_out {
	struct procmapq_vma *vmas;
	char *names;
	struct procmapq_lookup *lookups;
	size_t lookups_cap;
	struct procmapq_vma_buf buf; /* points at vmas and names */
};

/* test_out_init sizes the arrays for every VMA of t (plus slack for maps
 * that grow) and for lookups_cap addresses. Returns 0 or -ENOMEM. */
int test_out_init(struct test_out *o, const struct maps_table *t, size_t lookups_cap);
void test_out_free(struct test_out *o);

/* test_addresses returns a malloc'd batch that probes every VMA of t (start,
 * last byte, middle), every gap, 0, the byte below the first VMA and the
 * top of the address space, in a shuffled order with duplicates (seeded,
 * so runs repeat). *n receives the count. */
uint64_t *test_addresses(const struct maps_table *t, size_t *n, unsigned seed);

/* test_batch_init makes a test_addresses batch (seed) and a test_out sized
 * for it. Returns 0, or -ENOMEM with nothing allocated. */
int test_batch_init(struct test_out *o, const struct maps_table *t, uint64_t **addrs, size_t *n, unsigned seed);

#endif
