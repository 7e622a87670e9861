/* probe_ioctl: does this kernel answer PROCMAP_QUERY? .ci/run compiles and
 * runs it before the tests, independently of the library (whose own probe
 * is one of the things under test), and sets PROCMAPQ_REQUIRE_IOCTL=1 when
 * it does: then every test that needs the ioctl fails instead of skipping.
 *
 * It asks /proc/self/maps for the VMA covering its own code and checks the
 * answer. Exit 0: the ioctl works; 1: ENOTTY (a kernel before 6.11, or a
 * sandbox answering so); 2: any other error (printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../uapi/procmap_query.h"

int main(void)
{
	uintptr_t self = (uintptr_t)&main;
	struct pmq_arg q = {.size = sizeof q, .query_addr = self};
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "probe_ioctl: /proc/self/maps: %s\n", strerror(errno));
		return 2;
	}
	int rc = ioctl(fd, PROCMAP_QUERY_REQUEST, &q);
	int err = errno;
	close(fd);
	if (rc == 0 && q.vma_start <= self && self < q.vma_end) {
		printf("PROCMAP_QUERY works (own code in %#llx-%#llx)\n", (unsigned long long)q.vma_start,
		       (unsigned long long)q.vma_end);
		return 0;
	}
	if (rc == 0) {
		fprintf(stderr, "probe_ioctl: PROCMAP_QUERY answered %#llx-%#llx for %#llx\n",
			(unsigned long long)q.vma_start, (unsigned long long)q.vma_end, (unsigned long long)self);
		return 2;
	}
	if (err == ENOTTY) {
		printf("PROCMAP_QUERY unavailable (ENOTTY)\n");
		return 1;
	}
	fprintf(stderr, "probe_ioctl: PROCMAP_QUERY: %s\n", strerror(err));
	return 2;
}
