/* target: a process with real, chosen mappings, for tests and benchmarks.
 *
 *   target [-n VMAS] [-m MODULES] [-f] [-o] [-d DIR]
 *
 *   -n VMAS     add VMAS anonymous one-page VMAs (alternating r-- / rw- so
 *               that neighbours never merge)
 *   -m MODULES  map MODULES distinct files r-x (plus an r-- page before
 *               each), named DIR/module-<i>.so, like shared objects
 *   -f          add the special mappings differential tests need: a file at a
 *               non-zero offset, a deleted file, names with spaces, a
 *               newline, a literal backslash-012, unicode, a file really
 *               named "x (deleted)", memfd, shared anonymous memory, SysV
 *               shm, exec-only, PROT_NONE, hugetlb (when the machine has
 *               huge pages), and a file whose path is longer than PATH_MAX
 *               (4096 bytes; built with mkdirat/openat since no single
 *               system call takes such a path), and, when the kernel has
 *               CONFIG_ANON_VMA_NAME, "[anon:...]" and "[anon_shmem:...]"
 *               names (labels anon-named, shmem-named)
 *   -o          open /proc/self/maps and keep it open; its fd number is
 *               printed as "mapsfd FD" (for fd-passing tests)
 *   -d DIR      where files are created (default: a new directory in /tmp);
 *               it is removed at exit
 *
 * On stdout, one line per mapping it made, then "ready PID":
 *   map LABEL START END
 * (hex addresses; LABEL has no spaces). It then waits: a line "exit" or
 * end of input on stdin ends it; a line "exec" makes it exec itself with no
 * options (same pid, new address space), which prints "ready PID" again; a
 * line "leaderexit" makes the main thread exit while a new thread keeps
 * the process (and its mappings) alive and serving; it prints
 * "leaderless TID" once the leader is a zombie. Exit status 0, or 2 on a setup error
 * (reason on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[4096];
static long page;

static void die(const char *what)
{
	fprintf(stderr, "target: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void report(const char *label, void *p, size_t len)
{
	printf("map %s %lx %lx\n", label, (unsigned long)p, (unsigned long)p + len);
}

/* make_file creates DIR/NAME holding PAGES pages and returns an fd. */
static int make_file(const char *name, int pages)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	if (ftruncate(fd, (off_t)pages * page) != 0)
		die("ftruncate");
	/* Some content so pages are distinct. */
	for (int i = 0; i < pages; i++) {
		char c = (char)('A' + i % 26);
		if (pwrite(fd, &c, 1, (off_t)i * page) != 1)
			die("pwrite");
	}
	return fd;
}

static void *map_file(const char *label, const char *name, int pages, int map_pages, int off_pages, int prot, int flags)
{
	int fd = make_file(name, pages);
	void *p = mmap(NULL, (size_t)map_pages * page, prot, flags, fd, (off_t)off_pages * page);
	if (p == MAP_FAILED)
		die(name);
	close(fd);
	report(label, p, (size_t)map_pages * page);
	return p;
}

static void add_vmas(long n)
{
	if (n <= 0)
		return;
	char *p = mmap(NULL, (size_t)n * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap vmas");
	for (long i = 1; i < n; i += 2)
		if (mprotect(p + i * page, page, PROT_READ | PROT_WRITE) != 0)
			die("mprotect (raise vm.max_map_count?)");
	report("vmas", p, (size_t)n * page);
}

static void add_modules(int n)
{
	for (int i = 0; i < n; i++) {
		char name[64], label[64];
		snprintf(name, sizeof name, "module-%d.so", i);
		int fd = make_file(name, 4);
		/* r-- header page, r-x text, as a shared object is laid out. */
		char *p = mmap(NULL, 4 * page, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			die("mmap module");
		if (mprotect(p + page, 2 * page, PROT_READ | PROT_EXEC) != 0)
			die("mprotect module");
		close(fd);
		snprintf(label, sizeof label, "module-%d", i);
		report(label, p, 4 * page);
		snprintf(label, sizeof label, "module-%d-text", i);
		report(label, p + page, 2 * page);
	}
}

/* add_long_path maps a file whose full path is longer than PATH_MAX: the
 * ioctl cannot return its name, the text can. */
static void add_long_path(void)
{
	char comp[251];
	memset(comp, 'd', sizeof comp - 1);
	comp[sizeof comp - 1] = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open dir");
	size_t len = strlen(dir);
	for (int i = 0; len < 4096 + 64; i++) {
		if (mkdirat(dfd, comp, 0755) != 0)
			die("mkdirat");
		int next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0)
			die("openat dir");
		close(dfd);
		dfd = next;
		len += 1 + strlen(comp);
	}
	int fd = openat(dfd, "long-path.bin", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("openat long-path.bin");
	if (ftruncate(fd, page) != 0)
		die("ftruncate long path");
	void *p = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		die("mmap long path");
	close(fd);
	close(dfd);
	report("long-path", p, page);
}

/* add_anon_names names an anonymous and a shared anonymous mapping with
 * prctl(PR_SET_VMA_ANON_NAME) ("[anon:...]", "[anon_shmem:...]"). Kernels
 * built without CONFIG_ANON_VMA_NAME refuse (EINVAL): the labels are then
 * not reported. */
static void add_anon_names(void)
{
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
	void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap anon named");
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, 2 * page, (unsigned long)"procmapq-anon") == 0)
		report("anon-named", p, 2 * page);
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap shmem named");
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, 2 * page, (unsigned long)"procmapq-shmem") == 0)
		report("shmem-named", p, 2 * page);
}

static void add_specials(void)
{
	char path[8192];
	map_file("offset", "offset.bin", 8, 2, 3, PROT_READ, MAP_PRIVATE);
	map_file("deleted", "deleted.bin", 2, 2, 0, PROT_READ, MAP_PRIVATE);
	snprintf(path, sizeof path, "%s/deleted.bin", dir);
	if (unlink(path) != 0)
		die("unlink");
	map_file("spaces", "two  spaces and trailing ", 1, 1, 0, PROT_READ, MAP_PRIVATE);
	map_file("leading-space", " leading", 1, 1, 0, PROT_READ, MAP_PRIVATE);
	map_file("newline", "new\nline", 1, 1, 0, PROT_READ, MAP_PRIVATE);
	map_file("backslash012", "back\\012slash", 1, 1, 0, PROT_READ, MAP_PRIVATE);
	map_file("unicode", "ünïcödé-\xe2\x9c\x93", 1, 1, 0, PROT_READ, MAP_PRIVATE);
	map_file("fake-deleted", "x (deleted)", 1, 1, 0, PROT_READ, MAP_PRIVATE);
	map_file("exec-only", "exec-only.bin", 1, 1, 0, PROT_EXEC, MAP_PRIVATE);
	map_file("shared-file", "shared.bin", 2, 2, 0, PROT_READ, MAP_SHARED);

	int mfd = memfd_create("procmapq test memfd", MFD_CLOEXEC);
	if (mfd < 0)
		die("memfd_create");
	if (ftruncate(mfd, 2 * page) != 0)
		die("ftruncate memfd");
	void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		die("mmap memfd");
	report("memfd", p, 2 * page);

	p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap shared anon");
	report("shared-anon", p, 3 * page);

	int id = shmget(IPC_PRIVATE, 2 * page, IPC_CREAT | 0600);
	if (id >= 0) {
		p = shmat(id, NULL, SHM_RDONLY);
		shmctl(id, IPC_RMID, NULL);
		if (p != (void *)-1)
			report("sysv-shm", p, 2 * page);
	}

	p = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap guard");
	report("prot-none", p, 4 * page);

	p = mmap(NULL, 2 * page, PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap anon exec");
	report("anon-exec-only", p, 2 * page);

	p = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p != MAP_FAILED)
		report("hugetlb", p, 2 << 20);

	add_long_path();
	add_anon_names();
}

static void cleanup(void)
{
	char cmd[8300];
	if (dir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "target: could not remove %s\n", dir);
	}
}

static void *serve_thread(void *arg);

/* serve reads commands on stdin until "exit" or its end. */
static void serve(void)
{
	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "exit", 4) == 0)
			break;
		if (strncmp(line, "exec", 4) == 0) {
			cleanup();
			dir[0] = 0;
			execl("/proc/self/exe", "target", (char *)NULL);
			die("exec");
		}
		if (strncmp(line, "leaderexit", 10) == 0) {
			/* The main thread (the thread-group leader) exits; another
			 * thread keeps the process alive and serving. */
			pthread_t t;
			if (pthread_create(&t, NULL, serve_thread, NULL) != 0)
				die("pthread_create");
			pthread_exit(NULL);
		}
	}
}

static void *serve_thread(void *arg)
{
	(void)arg;
	/* Wait until the leader has exited (its /proc status says zombie). */
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", (int)getpid());
	for (int tries = 0; tries < 5000; tries++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (strstr(buf, "State:\tZ"))
			break;
		usleep(1000);
	}
	printf("leaderless %d\n", (int)gettid());
	fflush(stdout);
	serve();
	exit(0);
}

int main(int argc, char **argv)
{
	long vmas = 0;
	int modules = 0, specials = 0, open_maps = 0, opt;
	const char *d = NULL;
	page = sysconf(_SC_PAGESIZE);
	while ((opt = getopt(argc, argv, "n:m:fod:")) != -1) {
		switch (opt) {
		case 'n': vmas = strtol(optarg, NULL, 0); break;
		case 'm': modules = atoi(optarg); break;
		case 'f': specials = 1; break;
		case 'o': open_maps = 1; break;
		case 'd': d = optarg; break;
		default:
			fprintf(stderr, "usage: target [-n VMAS] [-m MODULES] [-f] [-o] [-d DIR]\n");
			return 2;
		}
	}
	if (d) {
		snprintf(dir, sizeof dir, "%s", d);
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			die(dir);
	} else {
		snprintf(dir, sizeof dir, "/tmp/procmapq-target-XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp");
	}
	atexit(cleanup);
	add_modules(modules);
	if (specials)
		add_specials();
	add_vmas(vmas);
	if (open_maps) {
		/* Kept open so a test can take it with pidfd_getfd, the way a
		 * profiler receives a maps fd the target hands over. */
		int mfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
		if (mfd < 0)
			die("open /proc/self/maps");
		printf("mapsfd %d\n", mfd);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	serve();
	return 0;
}
