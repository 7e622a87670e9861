/* vmacheck: compare a VMA the library returned with the entry the
 * independent text parser (mapsparse) read, allowing only the documented
 * differences between the ioctl and the text:
 *   - the ioctl returns names raw; the text escapes '\n' as "\012", so a
 *     file really named with the 4 bytes "\012" is ambiguous in the text;
 *   - the ioctl cannot return a name of PATH_MAX (4096) bytes or more;
 *   - only the ioctl knows the page size (the text backend reports 0);
 *   - the ioctl never returns the [vsyscall] gate VMA (the auto backend
 *     answers it as the text does once it has read the text, else not).
 * Shared by the C tests and the C example. */
#ifndef VMACHECK_H
#define VMACHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "mapsparse.h"
#include "procmapq.h"

/* Where a VMA is expected to come from. */
enum vma_source {
	VMA_FROM_IOCTL,      /* forced ioctl backend */
	VMA_FROM_TEXT,       /* forced text backend, or a text handle */
	VMA_FROM_EITHER,     /* auto: told apart per VMA by page_size != 0 */
	VMA_FROM_AUTO_IOCTL, /* auto, answered by the ioctl (strategy): long
			      * paths are filled from the text */
};

/* vma_check returns true if v (with its name in names) agrees with e.
 * Otherwise it writes what differs into why. */
bool vma_check(const struct procmapq_vma *v, const char *names, const struct maps_entry *e,
	       enum vma_source source, char *why, size_t why_len);

/* vma_ioctl_visible tells whether PROCMAP_QUERY can return e: the gate VMA
 * ([vsyscall], at the top of the address space) is never returned. */
bool vma_ioctl_visible(const struct maps_entry *e);

/* vma_source_for_backend tells where a forced backend's VMAs come from
 * (VMA_FROM_EITHER for auto). */
enum vma_source vma_source_for_backend(uint32_t backend);

/* vma_source_of tells which source a strategy reads from, for checks of a
 * whole call (VMA_FROM_EITHER when it used both). */
enum vma_source vma_source_of(uint32_t strategy, enum vma_source forced);

/* vma_expected_kind classifies a name the way the header documents
 * PROCMAPQ_KIND_*, independently of the library. */
uint32_t vma_expected_kind(const struct maps_entry *e);

/* vma_filter_match tells whether e passes a filter of the kernel's meaning:
 * all of perms (AND) and, if file_backed, a file behind it. */
bool vma_filter_match(const struct maps_entry *e, uint32_t perms, bool file_backed);

/* check_enumeration checks the result of procmapq_enumerate (rc and the
 * table in buf) against every entry of t that passes the filter. Returns
 * the number of problems; each is printed on stderr, prefixed by what. */
int check_enumeration(const char *what, const struct maps_table *t, int rc, const struct procmapq_vma_buf *buf,
		      enum vma_source forced, uint32_t perms, bool file_backed);

/* check_query checks the result of procmapq_query for addrs[0, n): every
 * lookup's reason, VMA and file offset against t, and that the table holds
 * only VMAs some lookup uses, in ascending order. Returns the number of
 * problems (printed on stderr). */
int check_query(const char *what, const struct maps_table *t, const uint64_t *addrs, size_t n, int rc,
		const struct procmapq_lookup *lookups, const struct procmapq_vma_buf *buf, enum vma_source forced,
		uint32_t perms, bool file_backed);

#endif
