/* mutator: a target whose mappings keep changing, for reliability tests.
 *
 *   mutator [-t THREADS] [-s SLEEP_US] [-d DIR]
 *
 * It keeps a set of mappings it never touches and runs THREADS threads
 * (default 4) that each churn their own window of address space with the
 * patterns of the kernel's proc-maps-race selftest
 * (tools/testing/selftests/proc/proc-maps-race.c):
 *   split:   mprotect / mmap(MAP_FIXED) one page of a 3-page VMA with other
 *            permissions, then back (split, then merge)
 *   resize:  mremap 3 pages -> 1 page -> 3 pages in place
 *   move:    mremap(MREMAP_FIXED) the VMA elsewhere in the window and back
 *   replace: munmap + mmap(MAP_FIXED) at the same address, alternating
 *            anonymous memory and a file mapping
 * With -s each thread sleeps SLEEP_US microseconds after each round, so the
 * maps hold still now and then (for compare runs).
 * All churn stays inside the thread's window and uses MAP_FIXED or
 * MREMAP_FIXED only, so it never lands next to an untouched mapping.
 *
 * On stdout, before "ready PID":
 *   untouched LABEL START END PERMS OFFSET NAME   (hex START END OFFSET;
 *                                                  NAME may be empty)
 *   window START END          a churn window: anything may appear inside
 *   allow PERMS NAME          a (perms, name) pair churn may create
 * Untouched mappings are unmergeable: files of their own, or anonymous
 * pages between PROT_NONE guards, never next to a window.
 * It then waits for "go" on stdin to start churning, and "exit" (or end of
 * input) to stop; it then prints "ops N" (mutations made) and exits 0.
 * Exit status 2 on a setup error (reason on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINDOW_PAGES 64
#define MAX_THREADS 64

static char dir[2048];
static long page;
static atomic_int stop;
static atomic_int go;
static atomic_ullong ops;
static int sleep_us;

static void die(const char *what)
{
	fprintf(stderr, "mutator: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* make_file creates DIR/NAME of PAGES pages, prints its full path into
 * path and returns an fd. */
static int make_file(const char *name, int pages, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(path);
	if (ftruncate(fd, (off_t)pages * page) != 0)
		die("ftruncate");
	return fd;
}

static const char *perm_text(int prot, int shared)
{
	static char s[8][2][5];
	char *p = s[prot & 7][shared != 0];
	p[0] = prot & PROT_READ ? 'r' : '-';
	p[1] = prot & PROT_WRITE ? 'w' : '-';
	p[2] = prot & PROT_EXEC ? 'x' : '-';
	p[3] = shared ? 's' : 'p';
	p[4] = 0;
	return p;
}

static void untouched(const char *label, void *p, size_t len, int prot, int shared, off_t off, const char *name)
{
	printf("untouched %s %lx %lx %s %lx %s\n", label, (unsigned long)p, (unsigned long)p + len,
	       perm_text(prot, shared), (unsigned long)off, name);
}

/* guarded_anon maps LEN bytes of private anonymous memory with PROT
 * between two PROT_NONE guard pages, so it merges with nothing. */
static void *guarded_anon(size_t len, int prot)
{
	char *g = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		die("mmap guard");
	void *p = mmap(g + page, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		die("mmap guarded");
	return p;
}

static void make_untouched(void)
{
	char path[4096];
	struct {
		const char *label;
		int prot, shared, pages, off_pages;
	} files[] = {
		{"file-r", PROT_READ, 0, 2, 0},
		{"file-rx-off", PROT_READ | PROT_EXEC, 0, 3, 2},
		{"file-rw-private", PROT_READ | PROT_WRITE, 0, 1, 0},
		{"file-rw-shared", PROT_READ | PROT_WRITE, 1, 4, 1},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "untouched-%s.bin", files[i].label);
		int fd = make_file(name, files[i].pages + files[i].off_pages, path, sizeof path);
		size_t len = (size_t)files[i].pages * page;
		void *p = mmap(NULL, len, files[i].prot, files[i].shared ? MAP_SHARED : MAP_PRIVATE, fd,
			       (off_t)files[i].off_pages * page);
		if (p == MAP_FAILED)
			die(name);
		close(fd);
		untouched(files[i].label, p, len, files[i].prot, files[i].shared, (off_t)files[i].off_pages * page, path);
	}
	static const int anon_prots[] = {PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC};
	static const char *anon_labels[] = {"anon-r", "anon-rw", "anon-rx"};
	for (int i = 0; i < 3; i++) {
		void *p = guarded_anon((size_t)(i + 1) * page, anon_prots[i]);
		untouched(anon_labels[i], p, (size_t)(i + 1) * page, anon_prots[i], 0, 0, "");
	}
}

struct churn {
	int id;
	char *win;          /* WINDOW_PAGES pages, PROT_NONE reserved */
	int fd;             /* this thread's churn file */
	char path[4096];
};

static struct churn churns[MAX_THREADS];

/* Region layout inside a window (page indexes): split at 4..6, resize at
 * 12..14, move between 20..22 and 40..42, replace at 30..31; the rest stays
 * PROT_NONE. Each region is framed by PROT_NONE, so nothing merges across. */
static void *at(struct churn *c, int pg) { return c->win + (size_t)pg * page; }

static void fixed_anon(void *p, size_t len, int prot)
{
	if (mmap(p, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		die("mmap fixed");
}

static void churn_setup(struct churn *c)
{
	char name[64];
	snprintf(name, sizeof name, "churn-%d.bin", c->id);
	c->fd = make_file(name, 4, c->path, sizeof c->path);
	c->win = mmap(NULL, WINDOW_PAGES * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->win == MAP_FAILED)
		die("mmap window");
	fixed_anon(at(c, 4), 3 * page, PROT_READ | PROT_WRITE);
	fixed_anon(at(c, 12), 3 * page, PROT_READ | PROT_WRITE);
	fixed_anon(at(c, 20), 3 * page, PROT_READ);
	fixed_anon(at(c, 30), 2 * page, PROT_READ | PROT_WRITE);
	printf("window %lx %lx\n", (unsigned long)c->win, (unsigned long)c->win + WINDOW_PAGES * page);
	printf("allow r--p %s\n", c->path);
	printf("allow rw-s %s\n", c->path);
}

static void *churn_loop(void *arg)
{
	struct churn *c = arg;
	while (!atomic_load(&go) && !atomic_load(&stop))
		usleep(1000);
	unsigned long n = 0;
	while (!atomic_load(&stop)) {
		/* split / merge, both ways the selftest does it */
		if (mprotect(at(c, 4), page, PROT_READ | PROT_EXEC) != 0)
			die("mprotect split");
		if (mprotect(at(c, 4), page, PROT_READ | PROT_WRITE) != 0)
			die("mprotect merge");
		fixed_anon(at(c, 5), page, PROT_READ | PROT_WRITE | PROT_EXEC);
		if (mprotect(at(c, 5), page, PROT_READ | PROT_WRITE) != 0)
			die("mprotect merge 2");
		/* resize in place: 3 -> 1 -> 3 pages (the freed pages become a hole
		 * inside the window that only this thread maps into) */
		if (mremap(at(c, 12), 3 * page, page, 0) == MAP_FAILED)
			die("mremap shrink");
		if (mremap(at(c, 12), page, 3 * page, 0) == MAP_FAILED)
			die("mremap grow");
		/* move away and back; the source becomes a hole, refilled as
		 * PROT_NONE so the window keeps its shape */
		if (mremap(at(c, 20), 3 * page, 3 * page, MREMAP_MAYMOVE | MREMAP_FIXED, at(c, 40)) == MAP_FAILED)
			die("mremap move");
		if (mremap(at(c, 40), 3 * page, 3 * page, MREMAP_MAYMOVE | MREMAP_FIXED, at(c, 20)) == MAP_FAILED)
			die("mremap move back");
		if (mmap(at(c, 40), 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			die("mmap refill");
		/* replace: munmap + mmap at the same address, file then anon */
		if (munmap(at(c, 30), 2 * page) != 0)
			die("munmap");
		int shared = n & 1;
		if (mmap(at(c, 30), 2 * page, shared ? PROT_READ | PROT_WRITE : PROT_READ,
			 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, c->fd, 0) == MAP_FAILED)
			die("mmap file fixed");
		if (munmap(at(c, 30), 2 * page) != 0)
			die("munmap 2");
		fixed_anon(at(c, 30), 2 * page, PROT_READ | PROT_WRITE);
		n += 12;
		atomic_fetch_add(&ops, 12);
		if (sleep_us > 0)
			usleep(sleep_us);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 4, opt;
	const char *dir_opt = NULL;
	while ((opt = getopt(argc, argv, "t:s:d:")) != -1) {
		switch (opt) {
		case 't': threads = atoi(optarg); break;
		case 's': sleep_us = atoi(optarg); break;
		case 'd': dir_opt = optarg; break;
		default:
			fprintf(stderr, "usage: mutator [-t THREADS] [-s SLEEP_US] [-d DIR]\n");
			return 2;
		}
	}
	if (threads < 1 || threads > MAX_THREADS) {
		fprintf(stderr, "mutator: -t must be 1..%d\n", MAX_THREADS);
		return 2;
	}
	page = sysconf(_SC_PAGESIZE);
	if (dir_opt) {
		snprintf(dir, sizeof dir, "%s", dir_opt);
	} else {
		snprintf(dir, sizeof dir, "/tmp/procmapq-mutator-XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp");
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	make_untouched();
	pthread_t tids[MAX_THREADS];
	for (int i = 0; i < threads; i++) {
		churns[i].id = i;
		churn_setup(&churns[i]);
		if (pthread_create(&tids[i], NULL, churn_loop, &churns[i]) != 0)
			die("pthread_create");
	}
	printf("ready %d\n", (int)getpid());
	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "go", 2) == 0)
			atomic_store(&go, 1);
		if (strncmp(line, "exit", 4) == 0)
			break;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	printf("ops %llu\n", (unsigned long long)atomic_load(&ops));
	if (!dir_opt) {
		char path[4096];
		for (int i = 0; i < threads; i++)
			unlink(churns[i].path);
		const char *labels[] = {"file-r", "file-rx-off", "file-rw-private", "file-rw-shared"};
		for (int i = 0; i < 4; i++) {
			snprintf(path, sizeof path, "%s/untouched-%s.bin", dir, labels[i]);
			unlink(path);
		}
		rmdir(dir);
	}
	return 0;
}
