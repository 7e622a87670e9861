/* procmap_query.h - the kernel's struct procmap_query and its request
 * number, for the plain-C programs that call PROCMAP_QUERY without the
 * library (the bench's C limit, the cost account, CI's probe). Written out
 * here because older <linux/fs.h> lack them; one copy for all of them. */
#ifndef PROCMAPQ_TESTS_UAPI_PROCMAP_QUERY_H
#define PROCMAPQ_TESTS_UAPI_PROCMAP_QUERY_H

#include <stdint.h>

/* struct procmap_query (linux/fs.h since 6.11): 104 bytes, no padding. */
struct pmq_arg {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
_Static_assert(sizeof(struct pmq_arg) == 104, "struct procmap_query is 104 bytes");

#define PROCMAP_QUERY_REQUEST 0xC0686611ul /* _IOWR('f', 17, struct procmap_query) */
#define PMQ_VMA_EXECUTABLE    0x04         /* PROCMAP_QUERY_VMA_EXECUTABLE */
#define PMQ_COVERING_OR_NEXT  0x10         /* PROCMAP_QUERY_COVERING_OR_NEXT_VMA */

#endif
