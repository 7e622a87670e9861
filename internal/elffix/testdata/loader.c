/* loader: a process for the normalization tests of core/. It dlopens the
 * shared objects named on the command line, makes a few kinds of memory,
 * prints one "NAME HEXADDR" line per probe address, then "ready PID", and
 * exits on "exit" or EOF on stdin.
 *
 *   lib I ADDR    probe_fn of the I-th argument (1-based)
 *   main, local   functions of this executable
 *   fopen, chdir, getpid  libc functions (dlsym, not a PLT stub)
 *   vdso          the vDSO ELF header (AT_SYSINFO_EHDR)
 *   jit           anonymous r-x memory, as a JIT makes
 *   gap           an unmapped page between two mapped ones
 *   heap          a malloc'd block in [heap]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noinline)) int local_fn(int x) { return x * 3 + 1; }

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		void *h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "loader: %s\n", dlerror());
			return 1;
		}
		void *f = dlsym(h, "probe_fn");
		if (!f) {
			fprintf(stderr, "loader: %s: no probe_fn\n", argv[i]);
			return 1;
		}
		printf("lib %d %lx\n", i, (unsigned long)f);
	}
	printf("main %lx\n", (unsigned long)&main);
	printf("local %lx\n", (unsigned long)&local_fn);
	printf("fopen %lx\n", (unsigned long)dlsym(RTLD_DEFAULT, "fopen"));
	printf("chdir %lx\n", (unsigned long)dlsym(RTLD_DEFAULT, "chdir"));
	printf("getpid %lx\n", (unsigned long)dlsym(RTLD_DEFAULT, "getpid"));
	printf("vdso %lx\n", getauxval(AT_SYSINFO_EHDR));

	unsigned char *jit = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (jit == MAP_FAILED)
		die("mmap jit");
	memset(jit, 0xc3, 2 * page); /* ret */
	if (mprotect(jit, 2 * page, PROT_READ | PROT_EXEC) != 0)
		die("mprotect jit");
	printf("jit %lx\n", (unsigned long)jit);

	char *gap = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gap == MAP_FAILED || munmap(gap + page, page) != 0)
		die("mmap gap");
	printf("gap %lx\n", (unsigned long)(gap + page));

	char *heap = malloc(64);
	printf("heap %lx\n", (unsigned long)heap);
	printf("ready %d\n", (int)getpid());

	char line[64];
	while (fgets(line, sizeof line, stdin))
		if (strncmp(line, "exit", 4) == 0)
			break;
	return local_fn(0) == 1 ? 0 : 1;
}
