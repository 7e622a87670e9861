/* mapfiles: a target that maps the files it is given, for hostile
 * build-ID tests (the test then swaps what is at those paths).
 *
 *   mapfiles FILE...
 *
 * Maps the first page of each FILE PROT_READ, MAP_PRIVATE (a file shorter
 * than a page still maps one page), prints "map START END FILE" for each,
 * then "ready PID", and waits until stdin ends. Exit 2 on a setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "mapfiles: %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		void *p = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "mapfiles: mmap %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		close(fd);
		printf("map %lx %lx %s\n", (unsigned long)p, (unsigned long)p + page, argv[i]);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
	return 0;
}
