/* sigprof_host: a host that profiles itself - a SIGPROF handler installed
 * with SA_ONSTACK after the library (and its Go runtime) is loaded, and
 * ITIMER_PROF firing - while it calls the library from several threads.
 * Every answer must stay right, the process must not crash, and signals
 * must really have arrived during library calls (else the test proves
 * nothing).
 *
 * Why SA_ONSTACK: a signal that lands while a thread runs Go code arrives on
 * a small goroutine stack; without SA_ONSTACK the kernel builds the signal
 * frame there and the Go runtime aborts. With it, the frame goes on the
 * alternate signal stack the runtime installed for the thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "check.h"
#include "mapsparse.h"
#include "procmapq.h"
#include "spawn.h"
#include "testbuf.h"
#include "vmacheck.h"

#define THREADS 3        /* plus the main thread */
#define MIN_SECONDS 1.5  /* of calls under the profiling timer */
#define MAX_SECONDS 30.0
#define WANT_SIGNALS_IN_CALL 50
#define HANDLER_STACK 4096 /* bytes the handler uses, like a small unwinder */

static atomic_long signals_total, signals_in_call;
static _Thread_local volatile sig_atomic_t in_library_call;

static void on_sigprof(int sig)
{
	(void)sig;
	int saved = errno;
	volatile char frame[HANDLER_STACK];
	memset((char *)frame, 0x5a, sizeof frame);
	atomic_fetch_add(&signals_total, 1);
	if (in_library_call)
		atomic_fetch_add(&signals_in_call, 1);
	errno = saved;
}

static struct procmapq *handle;
static struct maps_table table;
static atomic_int failures, calls;
static struct timespec started_at;

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* keep_going: at least MIN_SECONDS, and on a loaded machine (little CPU
 * time, so few ITIMER_PROF signals) until enough signals hit library calls,
 * but never past MAX_SECONDS. */
static bool keep_going(void)
{
	double elapsed = seconds_since(&started_at);
	if (elapsed >= MAX_SECONDS)
		return false;
	return elapsed < MIN_SECONDS || atomic_load(&signals_in_call) < WANT_SIGNALS_IN_CALL;
}

static void *call_library(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	size_t n;
	uint64_t *addrs;
	struct test_out o;
	if (test_batch_init(&o, &table, &addrs, &n, seed) != 0) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	static const uint32_t backends[] = {PROCMAPQ_BACKEND_AUTO, PROCMAPQ_BACKEND_TEXT, PROCMAPQ_BACKEND_IOCTL};
	int ioctl_ok = procmapq_supports_procmap_query() == 1;
	for (unsigned round = 0; keep_going(); round++) {
		uint32_t backend = backends[round % (ioctl_ok ? 3 : 2)];
		enum vma_source source = vma_source_for_backend(backend);
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backend);
		in_library_call = 1;
		int rc = procmapq_query(handle, addrs, n, &opts, o.lookups, &o.buf);
		in_library_call = 0;
		char what[64];
		snprintf(what, sizeof what, "seed %u round %u backend %u", seed, round, backend);
		if (check_query(what, &table, addrs, n, rc, o.lookups, &o.buf, source, 0, false) != 0)
			atomic_fetch_add(&failures, 1);
		in_library_call = 1;
		rc = procmapq_enumerate(handle, &opts, &o.buf);
		in_library_call = 0;
		if (check_enumeration(what, &table, rc, &o.buf, source, 0, false) != 0)
			atomic_fetch_add(&failures, 1);
		atomic_fetch_add(&calls, 2);
	}
	free(addrs);
	test_out_free(&o);
	return NULL;
}

int main(void)
{
	/* Enter the Go runtime first, so the handler below is installed after
	 * the library is loaded and running: the case the runtime does not
	 * patch for us. A missing ioctl narrows the rounds to two backends;
	 * t_ioctl fails the run when the ioctl is required. */
	t_ioctl(procmapq_supports_procmap_query());

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigprof;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGPROF, &sa, NULL) == 0, "sigaction: %s", strerror(errno));

	const char *const args[] = {"-f", "-n", "3000", NULL};
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target");
		return t_finish("sigprof_host");
	}
	int rc = maps_load(tg.pid, &table);
	CHECK(rc == 0, "parse maps: %d", rc);
	rc = procmapq_open(tg.pid, NULL, &handle);
	CHECK(rc == 0, "open: %d %s", rc, procmapq_last_error());
	if (rc == 0) {
		/* 1 ms of CPU time per signal (the kernel may round up to its
		 * tick). */
		struct itimerval every = {.it_interval = {0, 1000}, .it_value = {0, 1000}};
		CHECK(setitimer(ITIMER_PROF, &every, NULL) == 0, "setitimer: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &started_at);
		pthread_t threads[THREADS];
		int started = 0;
		for (int i = 0; i < THREADS; i++)
			started += pthread_create(&threads[i], NULL, call_library, (void *)(uintptr_t)(i + 1)) == 0;
		call_library((void *)(uintptr_t)100);
		for (int i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		struct itimerval off = {0};
		setitimer(ITIMER_PROF, &off, NULL);

		long total = atomic_load(&signals_total), in_call = atomic_load(&signals_in_call);
		printf("sigprof_host: %d library calls, %ld SIGPROF signals, %ld during library calls\n",
		       atomic_load(&calls), total, in_call);
		CHECK(started == THREADS, "started %d of %d threads", started, THREADS);
		CHECK(atomic_load(&failures) == 0, "%d wrong answers under SIGPROF", atomic_load(&failures));
		CHECK(atomic_load(&calls) > 0, "no library calls made");
		/* Else the run proved nothing: the host was not profiled while
		 * in the library. */
		CHECK(in_call >= WANT_SIGNALS_IN_CALL, "only %ld of %ld signals arrived during library calls in %.0f s",
		      in_call, total, MAX_SECONDS);
	}
	procmapq_close(handle);
	maps_free(&table);
	CHECK(target_end(&tg) == 0, "target did not exit cleanly");
	return t_finish("sigprof_host");
}
