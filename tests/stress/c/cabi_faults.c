/* cabi_faults: targets that die or exec in the middle of a large batch,
 * through the C ABI.
 *
 *   cabi_faults [ROUNDS]
 *
 * Each round forks a target with 20,000 VMAs, opens it, and queries
 * 200,000 addresses (auto, ioctl, text in turn) while another thread kills
 * it (SIGKILL) or makes it exec sleep after a random delay. Checked: the
 * call returns its VMA count or -ESRCH; after -ESRCH each lookup is either
 * a VMA that covers its address or PROCMAPQ_REASON_PROCESS_GONE; later
 * calls give -ESRCH; after an exec procmapq_reopen works and sees the new
 * image; after the target is reaped procmapq_reopen gives -ESRCH; every
 * handle closes; the open fd count comes back to its value after the
 * first round. Prints a FIGURE line. Exit
 * 0 pass, 1 fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "procmapq.h"

#define VMAS 20000
#define BATCH 200000

/* count_fds counts open fds, but not the Go runtime's netpoller (an
 * eventpoll and an eventfd it opens once, lazily, at a point that depends
 * on its timers): the library's own fds are maps files. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		char path[300], target[64] = "";
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		if (e->d_name[0] == '.' || readlink(path, target, sizeof target - 1) < 0)
			continue;
		if (strcmp(target, "anon_inode:[eventpoll]") && strcmp(target, "anon_inode:[eventfd]"))
			n++;
	}
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

/* spawn_target forks a child that maps VMAS one-page VMAs (alternating
 * perms so they never merge) and reports their base through a pipe; on a
 * byte 'e' on its stdin pipe it execs sleep. The child never calls the
 * library (the Go runtime cannot run in a forked child). */
static pid_t spawn_target(uint64_t *base, int *ctl)
{
	int up[2], down[2];
	if (pipe(up) || pipe(down))
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		long page = sysconf(_SC_PAGESIZE);
		char *p = mmap(NULL, (size_t)VMAS * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (int i = 1; i < VMAS; i += 2)
			mprotect(p + (size_t)i * page, page, PROT_READ | PROT_WRITE);
		uint64_t b = (uint64_t)(uintptr_t)p;
		if (write(up[1], &b, 8) != 8)
			_exit(2);
		char c;
		while (read(down[0], &c, 1) == 1)
			if (c == 'e')
				execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], base, 8) != 8)
		abort();
	close(up[0]);
	*ctl = down[1];
	return pid;
}

struct event {
	pid_t pid;
	int ctl;
	int exec; /* 1: exec instead of kill */
	long delay_us;
};

static void *fire(void *arg)
{
	struct event *e = arg;
	usleep((useconds_t)e->delay_us);
	if (e->exec) {
		if (write(e->ctl, "e", 1) != 1)
			abort();
	} else {
		kill(e->pid, SIGKILL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 12;
	long page = sysconf(_SC_PAGESIZE);
	int have_ioctl = t_ioctl(procmapq_supports_procmap_query());
	uint64_t *addrs = malloc(BATCH * sizeof *addrs);
	struct procmapq_lookup *lk = malloc(BATCH * sizeof *lk);
	struct procmapq_vma *vmas = malloc((VMAS + 64) * sizeof *vmas);
	static char names[1 << 20];
	int fds = -1, finished = 0, partial = 0, none = 0, reopened = 0;
	srand(7);
	for (int r = 0; r < rounds; r++) {
		uint64_t base;
		int ctl;
		pid_t pid = spawn_target(&base, &ctl);
		struct procmapq *h;
		CHECK(procmapq_open(pid, NULL, &h) == 0, "open %d: %s", (int)pid, procmapq_last_error());
		for (int i = 0; i < BATCH; i++)
			addrs[i] = base + (uint64_t)(rand() % (VMAS + 4)) * (uint64_t)page + (uint64_t)(rand() % page);
		uint32_t backend = r % 3 == 1 && !have_ioctl ? PROCMAPQ_BACKEND_AUTO : (uint32_t)(r % 3);
		PROCMAPQ_OPTS(procmapq_query_opts, o, .backend = backend);
		PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = VMAS + 64, .names = names,
			      .names_cap = sizeof names);
		struct event e = {pid, ctl, r % 2, rand() % 80000};
		pthread_t t;
		pthread_create(&t, NULL, fire, &e);
		int rc = procmapq_query(h, addrs, BATCH, &o, lk, &out);
		pthread_join(t, NULL);
		if (rc >= 0) {
			finished++;
		} else {
			CHECK(rc == -ESRCH, "round %d: query gave %d (%s), want -ESRCH", r, rc, procmapq_last_error());
			CHECK(strstr(procmapq_last_error(), "pid") != NULL, "message does not name the pid: %s",
			      procmapq_last_error());
			int gone = 0;
			for (int i = 0; i < BATCH; i++) {
				if (lk[i].reason == PROCMAPQ_REASON_PROCESS_GONE) {
					gone++;
				} else if (lk[i].reason == PROCMAPQ_REASON_FOUND) {
					const struct procmapq_vma *v = &vmas[lk[i].vma];
					if (lk[i].vma < 0 || (uint64_t)lk[i].vma >= out.vmas_count || addrs[i] < v->start ||
					    addrs[i] >= v->end) {
						CHECK(0, "round %d: addr %lx answered wrongly after -ESRCH", r,
						      (unsigned long)addrs[i]);
						break;
					}
				}
			}
			if (gone == BATCH)
				none++;
			else
				partial++;
		}
		if (e.exec) {
			/* Wait for the exec to show (sleep maps no 20,000 VMAs):
			 * up to ~30 s, not 2, for a loaded machine. */
			for (int i = 0; i < 3000; i++) {
				PROCMAPQ_OPTS(procmapq_vma_buf, o2, .vmas = vmas, .vmas_cap = VMAS + 64, .names = names,
					      .names_cap = sizeof names);
				if (procmapq_enumerate(h, NULL, &o2) == -ESRCH)
					break;
				usleep(10000);
			}
			CHECK(procmapq_query(h, addrs, 1, NULL, lk, &out) == -ESRCH, "query after exec: %s",
			      procmapq_last_error());
			CHECK(procmapq_reopen(h) == 0, "reopen after exec: %s", procmapq_last_error());
			int n = procmapq_enumerate(h, NULL, &out);
			CHECK(n > 0 && n < 100, "after exec and reopen: %d VMAs (%s)", n, procmapq_last_error());
			reopened += n > 0 && n < 100;
			kill(pid, SIGKILL);
		}
		close(ctl);
		waitpid(pid, NULL, 0);
		CHECK(procmapq_query(h, addrs, 10, &o, lk, &out) == -ESRCH, "query after reaping: %s",
		      procmapq_last_error());
		int rr = procmapq_reopen(h);
		CHECK(rr == -ESRCH, "reopen after reaping gave %d (%s)", rr, procmapq_last_error());
		CHECK(procmapq_close(h) == 0, "close: %s", procmapq_last_error());
		/* The reference: after the first round, once the Go runtime has
		 * opened its netpoller fds. */
		if (r == 0)
			fds = count_fds();
	}
	int after = count_fds();
	CHECK(after == fds, "open fds %d -> %d", fds, after);
	printf("FIGURE faults-cabi: rounds=%d finished=%d partial=%d none=%d reopened_after_exec=%d fds_before=%d "
	       "fds_after=%d\n",
	       rounds, finished, partial, none, reopened, fds, after);
	return t_finish("cabi_faults");
}
