/* threads: one handle queried from 8 threads at once - every backend,
 * queries and enumerations with filters - each result checked against the
 * independent parser; and procmapq_last_error() stays per thread while
 * other threads succeed and fail around it. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mapsparse.h"
#include "procmapq.h"
#include "spawn.h"
#include "testbuf.h"
#include "vmacheck.h"

#define THREADS 8
#define ROUNDS 12

static struct procmapq *shared_handle;
static struct maps_table table;
static pthread_barrier_t start_together;
static int ioctl_supported;
static atomic_int thread_failures, thread_checks;

struct worker {
	int id;
	int failures;
	int checks;
};

static void tally(struct worker *w, bool ok, const char *what)
{
	w->checks++;
	if (!ok) {
		w->failures++;
		fprintf(stderr, "FAIL thread %d: %s\n", w->id, what);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t n;
	uint64_t *addrs;
	struct test_out o;
	if (test_batch_init(&o, &table, &addrs, &n, 100u + (unsigned)w->id) != 0) {
		tally(w, false, "out of memory");
		pthread_barrier_wait(&start_together); /* the others wait for us */
		atomic_fetch_add(&thread_failures, w->failures);
		return NULL;
	}
	static const uint32_t backends[] = {PROCMAPQ_BACKEND_AUTO, PROCMAPQ_BACKEND_IOCTL, PROCMAPQ_BACKEND_TEXT};
	static const uint32_t perms[] = {0, PROCMAPQ_PERM_R, PROCMAPQ_PERM_R | PROCMAPQ_PERM_X, PROCMAPQ_PERM_W};
	pthread_barrier_wait(&start_together);
	for (int round = 0; round < ROUNDS; round++) {
		uint32_t backend = backends[(round + w->id) % 3];
		if (backend == PROCMAPQ_BACKEND_IOCTL && !ioctl_supported)
			backend = PROCMAPQ_BACKEND_TEXT;
		enum vma_source source = vma_source_for_backend(backend);
		uint32_t p = perms[(round * 3 + w->id) % 4];
		bool file_backed = (round + w->id) % 2;
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backend, .perms = p,
			      .flags = file_backed ? PROCMAPQ_QUERY_FILE_BACKED : 0);
		char what[128];
		snprintf(what, sizeof what, "thread %d round %d backend %u perms %#x file %d", w->id, round, backend,
			 p, file_backed);
		int rc = procmapq_query(shared_handle, addrs, n, &opts, o.lookups, &o.buf);
		tally(w, check_query(what, &table, addrs, n, rc, o.lookups, &o.buf, source, p, file_backed) == 0,
		      what);
		rc = procmapq_enumerate(shared_handle, &opts, &o.buf);
		tally(w, check_enumeration(what, &table, rc, &o.buf, source, p, file_backed) == 0, what);

		/* The last error belongs to this thread: a failure here leaves
		 * a message that other threads' calls do not overwrite, and
		 * this thread's next success clears it. */
		if (w->id % 2) {
			PROCMAPQ_OPTS(procmapq_query_opts, bad, .flags = 0x40000000u);
			rc = procmapq_query(shared_handle, addrs, 1, &bad, o.lookups, &o.buf);
			tally(w, rc == -EINVAL, "unknown flag not rejected");
			sched_yield();
			tally(w, strlen(procmapq_last_error()) > 0, "message of this thread's failure lost");
		} else {
			tally(w, strcmp(procmapq_last_error(), "") == 0, "another thread's failure seen here");
		}
	}
	free(addrs);
	test_out_free(&o);
	atomic_fetch_add(&thread_failures, w->failures);
	atomic_fetch_add(&thread_checks, w->checks);
	return NULL;
}

int main(void)
{
	ioctl_supported = t_ioctl(procmapq_supports_procmap_query());
	const char *const args[] = {"-f", "-m", "4", "-n", "1000", NULL};
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target");
		return t_finish("threads");
	}
	int rc = maps_load(tg.pid, &table);
	CHECK(rc == 0, "parse maps: %d", rc);
	rc = procmapq_open(tg.pid, NULL, &shared_handle);
	CHECK(rc == 0, "open: %d %s", rc, procmapq_last_error());
	if (rc == 0 && table.count > 0) {
		pthread_t threads[THREADS];
		struct worker workers[THREADS];
		pthread_barrier_init(&start_together, NULL, THREADS);
		int started = 0;
		for (int i = 0; i < THREADS; i++) {
			workers[i] = (struct worker){.id = i};
			if (pthread_create(&threads[i], NULL, work, &workers[i]) == 0)
				started++;
		}
		CHECK(started == THREADS, "started %d of %d threads", started, THREADS);
		for (int i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		pthread_barrier_destroy(&start_together);
		int failures = atomic_load(&thread_failures), checks = atomic_load(&thread_checks);
		CHECK(failures == 0, "%d of %d checks failed in the threads", failures, checks);
		/* Per round: query + enumeration, then 2 error checks (odd
		 * threads) or 1 (even threads). */
		int want_checks = ROUNDS * ((THREADS / 2) * 4 + (THREADS - THREADS / 2) * 3);
		CHECK(checks == want_checks, "threads made %d checks, want %d", checks, want_checks);
	}
	procmapq_close(shared_handle);
	maps_free(&table);
	CHECK(target_end(&tg) == 0, "target did not exit cleanly");
	return t_finish("threads");
}
