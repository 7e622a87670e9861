/* soak: millions of queries and many open/close cycles through the C ABI;
 * memory, fds, handles and threads must come back.
 *
 *   soak QUERIES OPEN_CLOSE_CYCLES [THREADS]
 *
 * Target: a child "sleep" process (stable maps). THREADS threads (default
 * 2) share QUERIES procmapq_query calls of 8 addresses each on one handle
 * (backends auto and ioctl, every 64th call text; every 1000th call an
 * enumeration instead) while the main thread runs OPEN_CLOSE_CYCLES cycles
 * of open by pid, open_fd and open_text, a query on each, and close; both
 * advance together, slice by slice. A warm-up of 5% more (at least 100,000
 * calls and 5,000 cycles) comes first.
 *
 * Memory: RSS is sampled through the measured phase. A leak raises the
 * floor RSS returns to; the Go heap's collection cycle only adds peaks of
 * a MiB or so that come and go. So the growth checked is the floor of the
 * last fifth of the phase (its lowest sample, or the RSS at the end if
 * lower) minus the mean of its first fifth: it must stay under 2 MiB
 * (20 unloaded runs printed -824..+269 KiB; 6 beside two busy loops up to
 * +610 KiB).
 * Peaks, means and end-to-end growth are printed too. With
 * PMQ_SOAK_LEAK_BYTES=N the program leaks N bytes per call itself, the
 * negative control make test runs: 32 bytes give about 7 MiB.
 *
 * Open fds and live handles (opened minus closed) must come back to their
 * values after the warm-up; the thread count must end within 2 of its peak
 * during the warm-up (the Go runtime keeps idle threads parked; a leak
 * grows with the work). Prints a FIGURE line. Exit 0 pass, 1 fail, 2 setup
 * error. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "procmapq.h"

static pid_t target;
static long queries_per_thread;
static atomic_long failures, calls, live_handles, threads_max;
/* RSS samples of the measured phase's first and last fifth of slices
 * (sums and counts for means, minimums for floors) and its peak. */
static long rss_first_sum, rss_first_n, rss_last_sum, rss_last_n, rss_peak;
static long rss_last_min = -1;
/* PMQ_SOAK_LEAK_BYTES=N leaks N bytes (touched) per call: the negative
 * control showing that the RSS check fails on a leak. */
static long leak_bytes;
static void *volatile leak_sink;
static char *target_text;
static size_t target_text_len;
static uint64_t target_addrs[8];

static long status_field(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* count_fds counts the open descriptors, less the Go runtime's poller
 * (an eventpoll and an eventfd): the runtime opens them on its own
 * schedule, at its first timer (a collection's scavenger, say), which with
 * an allocation-free library may come after the warm-up; they stay for the
 * life of the process and are documented in procmapq.h. Everything else
 * counts, so a descriptor the library leaks does. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[300], link[64];
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, link, sizeof link - 1);
		link[k > 0 ? k : 0] = 0;
		if (!strcmp(link, "anon_inode:[eventpoll]") || !strcmp(link, "anon_inode:[eventfd]"))
			continue;
		n++;
	}
	closedir(d);
	return n - 3; /* ., .. and the DIR's own fd */
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* wait_sleeping: until PID runs sleep(1) and blocks in it ("(sleep) S" in
 * its stat), so that its maps are sleep's, fully loaded. A fixed 50 ms was
 * not enough on a loaded machine: the maps read could still be this
 * program's (the child before exec) or the loader's half-done ones, and
 * every query then failed "query answers". At most ~30 s. */
static int wait_sleeping(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 3000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = 0;
			const char *l = strchr(buf, '('), *r = strrchr(buf, ')');
			if (l && r && r - l == 6 && strncmp(l + 1, "sleep", 5) == 0 && strncmp(r, ") S", 3) == 0)
				return 0;
		}
		usleep(10000);
	}
	return -1;
}

static void fail(const char *what, int rc)
{
	if (atomic_fetch_add(&failures, 1) < 10)
		fprintf(stderr, "FAIL %s: %d %s\n", what, rc, procmapq_last_error());
}

static int query_once(struct procmapq *h, uint32_t backend, int enumerate)
{
	static _Thread_local struct procmapq_vma vmas[256];
	static _Thread_local char names[1 << 16];
	struct procmapq_lookup lk[8];
	PROCMAPQ_OPTS(procmapq_query_opts, o, .backend = backend);
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 256, .names = names, .names_cap = sizeof names);
	int rc = enumerate ? procmapq_enumerate(h, &o, &out) : procmapq_query(h, target_addrs, 8, &o, lk, &out);
	atomic_fetch_add(&calls, 1);
	if (leak_bytes > 0) {
		char *p = malloc(leak_bytes);
		if (p)
			memset(p, 1, leak_bytes);
		leak_sink = p; /* so the compiler keeps the allocation */
	}
	if (rc <= 0) {
		fail(enumerate ? "enumerate" : "query", rc);
		return rc;
	}
	if (!enumerate && (lk[0].reason != PROCMAPQ_REASON_FOUND || lk[7].reason != PROCMAPQ_REASON_UNMAPPED))
		fail("query answers", rc);
	return rc;
}

/* The phase's work advances in SLICES equal slices: the query threads and
 * this thread's open/close cycles meet at a barrier at each slice's start
 * and end, so both kinds of work are spread evenly over the samples (left
 * alone, the queries finished within the first window and a leak in them
 * never reached the RSS windows). */
#define SLICES 50
static pthread_barrier_t slice_start, slice_end;

static void *query_worker(void *arg)
{
	struct procmapq *h = arg;
	int have_ioctl = procmapq_supports_procmap_query() == 1;
	long i = 0;
	for (int s = 0; s < SLICES; s++) {
		pthread_barrier_wait(&slice_start);
		for (long end = queries_per_thread * (s + 1) / SLICES; i < end; i++) {
			uint32_t backend = i % 64 == 0 ? PROCMAPQ_BACKEND_TEXT
					   : (i & 1) && have_ioctl ? PROCMAPQ_BACKEND_IOCTL
								     : PROCMAPQ_BACKEND_AUTO;
			query_once(h, backend, i % 1000 == 999);
		}
		pthread_barrier_wait(&slice_end);
	}
	return NULL;
}

static void open_close_cycle(long i)
{
	struct procmapq *h;
	int rc;
	switch (i % 3) {
	case 0:
		rc = procmapq_open(target, NULL, &h);
		break;
	case 1: {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/maps", (int)target);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		PROCMAPQ_OPTS(procmapq_open_opts, oo, .pid = target);
		rc = procmapq_open_fd(fd, &oo, &h);
		close(fd);
		break;
	}
	default:
		rc = procmapq_open_text(target_text, target_text_len, NULL, &h);
	}
	if (rc != 0) {
		fail("open", rc);
		return;
	}
	atomic_fetch_add(&live_handles, 1);
	query_once(h, PROCMAPQ_BACKEND_AUTO, 0);
	if ((rc = procmapq_close(h)) != 0)
		fail("close", rc);
	else
		atomic_fetch_sub(&live_handles, 1);
}

static void sample_threads(void)
{
	long n = status_field("Threads");
	if (n > atomic_load(&threads_max))
		atomic_store(&threads_max, n);
}

/* sample_rss adds the current RSS to the window of slice S of the
 * measured phase: the first fifth of the slices or the last fifth. */
static void sample_rss(int s)
{
	long rss = status_field("VmRSS");
	if (rss > rss_peak)
		rss_peak = rss;
	if (s < SLICES / 5) {
		rss_first_sum += rss;
		rss_first_n++;
	} else if (s >= SLICES - SLICES / 5) {
		rss_last_sum += rss;
		rss_last_n++;
		if (rss_last_min < 0 || rss < rss_last_min)
			rss_last_min = rss;
	}
}

/* run_phase opens a shared handle, runs QUERIES calls on THREADS threads
 * and CYCLES open/close cycles on this thread, slice by slice, then closes
 * the handle. It samples the thread count every 100 cycles and at each
 * slice's end; if MEASURED, the RSS too. */
static void run_phase(long queries, long cycles, int threads, int measured)
{
	struct procmapq *h;
	int rc = procmapq_open(target, NULL, &h);
	if (rc != 0) {
		fail("open", rc);
		return;
	}
	atomic_fetch_add(&live_handles, 1);
	queries_per_thread = queries / threads;
	pthread_barrier_init(&slice_start, NULL, threads + 1);
	pthread_barrier_init(&slice_end, NULL, threads + 1);
	pthread_t t[16];
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, query_worker, h);
	long i = 0;
	for (int s = 0; s < SLICES; s++) {
		pthread_barrier_wait(&slice_start);
		for (long end = cycles * (s + 1) / SLICES; i < end; i++) {
			open_close_cycle(i);
			if (i % 100 == 0) {
				sample_threads();
				if (measured)
					sample_rss(s);
			}
		}
		pthread_barrier_wait(&slice_end);
		sample_threads();
		if (measured)
			sample_rss(s);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&slice_start);
	pthread_barrier_destroy(&slice_end);
	if ((rc = procmapq_close(h)) != 0)
		fail("close", rc);
	else
		atomic_fetch_sub(&live_handles, 1);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: soak QUERIES OPEN_CLOSE_CYCLES [THREADS]\n");
		return 2;
	}
	long queries = atol(argv[1]), cycles = atol(argv[2]);
	int threads = argc > 3 ? atoi(argv[3]) : 2;
	if (getenv("PMQ_SOAK_LEAK_BYTES"))
		leak_bytes = atol(getenv("PMQ_SOAK_LEAK_BYTES"));
	if (threads < 1 || threads > 16)
		return 2;
	/* Without the ioctl the workers use auto and text only; that must not
	 * pass silently where CI found the ioctl (tests/c/check.h). */
	if (procmapq_supports_procmap_query() != 1 && t_ioctl_required()) {
		fprintf(stderr, "FAIL PROCMAP_QUERY unavailable, but PROCMAPQ_REQUIRE_IOCTL=1\n");
		return 1;
	}
	target = fork();
	if (target == 0) {
		execlp("sleep", "sleep", "3600", (char *)NULL);
		_exit(127);
	}
	if (target < 0 || wait_sleeping(target) != 0) {
		fprintf(stderr, "soak: the target did not exec sleep in 30 s\n");
		return 2;
	}
	/* Its maps text (for text handles) and addresses: the start of each of
	 * its first 7 VMAs and one unmapped address. */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)target);
	FILE *f = fopen(path, "r");
	target_text = calloc(1, 1 << 20);
	target_text_len = f ? fread(target_text, 1, (1 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	char *line = target_text;
	for (int i = 0; i < 7 && line && *line; i++) {
		target_addrs[i] = strtoull(line, NULL, 16);
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	target_addrs[7] = 0x1000; /* below every mapping */
	if (target_addrs[6] == 0) {
		fprintf(stderr, "soak: target has fewer than 7 VMAs\n");
		return 2;
	}

	/* Warm-up: 5% more queries and cycles (at least 100,000 and 5,000, so
	 * the Go heap reaches its steady size), run together like the measured
	 * phase. The runtime opens its netpoller fds and starts its threads on
	 * first use: the reference figures are taken after the warm-up, with
	 * every handle closed. */
	int fds_load = count_fds();
	double t0 = now();
	long warm_cycles = cycles / 20 > 5000 ? cycles / 20 : 5000;
	long warm_queries = queries / 20 > 100000 ? queries / 20 : 100000;
	run_phase(warm_queries, warm_cycles, threads, 0);
	long rss_warm = status_field("VmRSS"), threads_warm = status_field("Threads");
	long threads_warm_max = atomic_load(&threads_max) > threads_warm ? atomic_load(&threads_max) : threads_warm;
	atomic_store(&threads_max, 0);
	int fds_warm = count_fds();
	run_phase(queries, cycles, threads, 1);
	double elapsed = now() - t0;
	long rss_end = status_field("VmRSS"), threads_end = status_field("Threads");
	int fds_end = count_fds();
	if (getenv("PMQ_DEBUG_FDS")) {
		char cmd[64];
		snprintf(cmd, sizeof cmd, "ls -l /proc/%d/fd >&2", (int)getpid());
		if (system(cmd)) {}
	}
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);

	long growth = rss_end - rss_warm;
	long rss_first_mean = rss_first_n ? rss_first_sum / rss_first_n : rss_warm;
	long rss_last_mean = rss_last_n ? rss_last_sum / rss_last_n : rss_end;
	long rss_last_floor = rss_last_min >= 0 && rss_last_min < rss_end ? rss_last_min : rss_end;
	long floor_growth = rss_last_floor - rss_first_mean;
	printf("FIGURE soak-cabi: calls=%ld (warm-up included; queries+enumerations, 8 addresses per query) open_close_cycles=%ld (measured) "
	       "threads=%d seconds=%.1f rss_warm_kib=%ld rss_end_kib=%ld end_to_end_growth_kib=%ld rss_peak_kib=%ld "
	       "rss_first20pct_mean_kib=%ld rss_last20pct_mean_kib=%ld rss_last20pct_floor_kib=%ld growth_kib=%ld fds_at_load=%d fds_warm=%d "
	       "fds_end=%d live_handles_end=%ld os_threads_warm=%ld os_threads_warm_max=%ld os_threads_max=%ld "
	       "os_threads_end=%ld failures=%ld\n",
	       atomic_load(&calls), cycles, threads, elapsed, rss_warm, rss_end, growth, rss_peak,
	       rss_first_mean, rss_last_mean, rss_last_floor, floor_growth, fds_load, fds_warm, fds_end,
	       atomic_load(&live_handles), threads_warm, threads_warm_max, atomic_load(&threads_max), threads_end,
	       atomic_load(&failures));
	int bad = atomic_load(&failures) != 0;
	if (floor_growth >= 2048) {
		fprintf(stderr,
			"FAIL RSS grew %ld KiB after warm-up (floor of the last fifth minus the mean of the first; limit 2048)\n",
			floor_growth);
		bad = 1;
	}
	if (fds_end != fds_warm || atomic_load(&live_handles) != 0) {
		fprintf(stderr, "FAIL fds %d -> %d, live handles %ld\n", fds_warm, fds_end, atomic_load(&live_handles));
		bad = 1;
	}
	/* The Go runtime parks idle threads and never ends them: the count is
	 * the peak of threads it needed at once, not a function of the work.
	 * A leak grows with the work; a rarer scheduling peak adds one or two. */
	if (threads_end > threads_warm_max + 2) {
		fprintf(stderr, "FAIL threads %ld (peak %ld during warm-up) -> %ld\n", threads_warm, threads_warm_max,
			threads_end);
		bad = 1;
	}
	return bad;
}
