/* handle_kinds: the three ways to open a target, on a live target with the
 * special mappings - the captured-text handle (from a buffer this test
 * read), the fd handle (a /proc/PID/maps fd this test opened), the pid
 * handle - and what happens when the target goes away (zombie, reaped) or
 * execs (-ESRCH, PROCMAPQ_REASON_PROCESS_GONE, procmapq_reopen). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mapsparse.h"
#include "procmapq.h"
#include "spawn.h"
#include "testbuf.h"
#include "vmacheck.h"

static const uint32_t all_backends[] = {PROCMAPQ_BACKEND_AUTO, PROCMAPQ_BACKEND_IOCTL, PROCMAPQ_BACKEND_TEXT};
#define N_BACKENDS (sizeof all_backends / sizeof all_backends[0])

static int ioctl_supported;

/* check_handle enumerates and queries h with every backend and compares
 * with t. A text handle answers every backend from its snapshot. */
static void check_handle(struct procmapq *h, const struct maps_table *t, const char *what, bool is_text)
{
	size_t n;
	uint64_t *addrs;
	struct test_out o;
	if (test_batch_init(&o, t, &addrs, &n, 11) != 0) {
		CHECK(0, "out of memory");
		return;
	}
	for (size_t b = 0; b < N_BACKENDS; b++) {
		if (all_backends[b] == PROCMAPQ_BACKEND_IOCTL && !ioctl_supported && !is_text)
			continue;
		enum vma_source source = is_text ? VMA_FROM_TEXT : vma_source_for_backend(all_backends[b]);
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = all_backends[b]);
		char label[160];
		snprintf(label, sizeof label, "%s enumerate backend %u", what, all_backends[b]);
		int rc = procmapq_enumerate(h, &opts, &o.buf);
		int problems = check_enumeration(label, t, rc, &o.buf, source, 0, false);
		CHECK(problems == 0, "%s: %d problems", label, problems);
		if (is_text)
			CHECK(o.buf.strategy == PROCMAPQ_STRATEGY_TEXT && o.buf.syscalls == 0,
			      "%s: strategy %u with %u syscalls on a snapshot", label, o.buf.strategy, o.buf.syscalls);
		snprintf(label, sizeof label, "%s query backend %u", what, all_backends[b]);
		rc = procmapq_query(h, addrs, n, &opts, o.lookups, &o.buf);
		problems = check_query(label, t, addrs, n, rc, o.lookups, &o.buf, source, 0, false);
		CHECK(problems == 0, "%s: %d problems", label, problems);
		/* A filter on a snapshot has the kernel's meaning too. */
		PROCMAPQ_OPTS(procmapq_query_opts, filtered, .backend = all_backends[b],
			      .perms = PROCMAPQ_PERM_R | PROCMAPQ_PERM_X, .flags = PROCMAPQ_QUERY_FILE_BACKED);
		snprintf(label, sizeof label, "%s query R|X file-backed backend %u", what, all_backends[b]);
		rc = procmapq_query(h, addrs, n, &filtered, o.lookups, &o.buf);
		problems = check_query(label, t, addrs, n, rc, o.lookups, &o.buf, source,
				       PROCMAPQ_PERM_R | PROCMAPQ_PERM_X, true);
		CHECK(problems == 0, "%s: %d problems", label, problems);
	}
	free(addrs);
	test_out_free(&o);
}

static void check_text_handle(const struct spawned_target *tg)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", tg->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *text = NULL;
	size_t len = 0;
	CHECK(fd >= 0 && maps_read_fd(fd, &text, &len) == 0, "read %s", path);
	if (fd >= 0)
		close(fd);
	if (!text)
		return;
	struct maps_table t;
	size_t bad_line = 0;
	int rc = maps_parse(text, len, &t, &bad_line);
	CHECK(rc == 0, "parse captured text: line %zu", bad_line);
	struct procmapq *h = NULL;
	int orc = procmapq_open_text(text, len, NULL, &h);
	CHECK(orc == 0, "open_text(%zu bytes): %d %s", len, orc, procmapq_last_error());
	/* The library copies the text: scribble over ours before querying. */
	memset(text, 'x', len);
	if (rc == 0 && orc == 0) {
		check_handle(h, &t, "text handle", true);
		CHECK(procmapq_pid(h) == 0, "pid of a text handle: %d", procmapq_pid(h));
	}
	procmapq_close(h);
	maps_free(&t);
	free(text);

	/* A captured text missing its final newline is still a maps text. The
	 * kernel pads the header to column 72, then one space. */
	char one[160];
	int one_len = snprintf(one, sizeof one, "%-72s %s", "00400000-00452000 r-xp 00001000 08:02 173521 ",
			       "/usr/bin/dbus daemon ");
	orc = procmapq_open_text(one, (size_t)one_len, NULL, &h);
	CHECK(orc == 0, "open_text without final newline: %d %s", orc, procmapq_last_error());
	if (orc == 0) {
		struct maps_table t1;
		rc = maps_parse(one, (size_t)one_len, &t1, NULL);
		CHECK(rc == 0 && t1.count == 1, "parse the one-line text");
		if (rc == 0)
			check_handle(h, &t1, "one-line text handle", true);
		maps_free(&t1);
		procmapq_close(h);
	}
}

static void check_fd_handle(const struct spawned_target *tg, const struct maps_table *t)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", tg->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s", path);
	if (fd < 0)
		return;
	struct procmapq *h = NULL, *anonymous = NULL;
	PROCMAPQ_OPTS(procmapq_open_opts, opts, .pid = tg->pid);
	int rc = procmapq_open_fd(fd, &opts, &h);
	CHECK(rc == 0, "open_fd(%d): %d %s", fd, rc, procmapq_last_error());
	rc = procmapq_open_fd(fd, NULL, &anonymous);
	CHECK(rc == 0, "open_fd without pid: %d %s", rc, procmapq_last_error());
	/* The library duplicated the fd: ours can go. */
	close(fd);
	if (h) {
		CHECK(procmapq_pid(h) == tg->pid, "pid of the fd handle %d, want %d", procmapq_pid(h), tg->pid);
		check_handle(h, t, "fd handle", false);
		CHECK(procmapq_reopen(h) == -EINVAL, "reopen of an fd handle");
	}
	if (anonymous) {
		CHECK(procmapq_pid(anonymous) == 0, "pid of an fd handle opened without pid: %d",
		      procmapq_pid(anonymous));
		check_handle(anonymous, t, "fd handle without pid", false);
	}
	procmapq_close(h);
	procmapq_close(anonymous);
}

/* query_gone checks that a handle on a target that went away answers
 * -ESRCH with every lookup PROCESS_GONE, for every backend. */
static void query_gone(struct procmapq *h, const struct maps_table *t, const char *state)
{
	size_t n;
	uint64_t *addrs;
	struct test_out o;
	if (test_batch_init(&o, t, &addrs, &n, 5) != 0) {
		CHECK(0, "out of memory");
		return;
	}
	for (size_t b = 0; b < N_BACKENDS; b++) {
		if (all_backends[b] == PROCMAPQ_BACKEND_IOCTL && !ioctl_supported)
			continue;
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = all_backends[b]);
		errno = 0;
		int rc = procmapq_query(h, addrs, n, &opts, o.lookups, &o.buf);
		CHECK(rc == -ESRCH && errno == ESRCH, "%s, backend %u: query %d errno %d", state, all_backends[b], rc,
		      errno);
		size_t gone = 0;
		for (size_t i = 0; i < n; i++)
			gone += o.lookups[i].reason == PROCMAPQ_REASON_PROCESS_GONE && o.lookups[i].vma == -1;
		CHECK(gone == n, "%s, backend %u: %zu of %zu lookups process-gone", state, all_backends[b], gone, n);
		CHECK(strlen(procmapq_last_error()) > 0, "%s: no message after -ESRCH", state);
		rc = procmapq_enumerate(h, &opts, &o.buf);
		CHECK(rc == -ESRCH, "%s, backend %u: enumerate %d", state, all_backends[b], rc);
	}
	free(addrs);
	test_out_free(&o);
}

static void check_process_gone(void)
{
	const char *const args[] = {"-m", "2", NULL};
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target");
		return;
	}
	struct maps_table t;
	CHECK(maps_load(tg.pid, &t) == 0, "parse /proc/%d/maps", tg.pid);
	struct procmapq *by_pid = NULL, *by_fd = NULL;
	CHECK(procmapq_open(tg.pid, NULL, &by_pid) == 0, "open %d: %s", tg.pid, procmapq_last_error());
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", tg.pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(procmapq_open_fd(fd, NULL, &by_fd) == 0, "open_fd: %s", procmapq_last_error());
	close(fd);
	pid_t pid = tg.pid;
	if (by_pid && by_fd) {
		check_handle(by_pid, &t, "pid handle before exit", false);
		target_kill(&tg, 1);
		query_gone(by_pid, &t, "pid handle, zombie target");
		query_gone(by_fd, &t, "fd handle, zombie target");
		target_reap(&tg);
		query_gone(by_pid, &t, "pid handle, reaped target");
		query_gone(by_fd, &t, "fd handle, reaped target");
		CHECK(procmapq_reopen(by_pid) == -ESRCH, "reopen of a reaped target");
		struct procmapq *again = NULL;
		int rc = procmapq_open(pid, NULL, &again);
		CHECK(rc == -ESRCH && again == NULL, "open of the reaped pid %d: %d", pid, rc);
	} else {
		target_kill(&tg, 0);
	}
	procmapq_close(by_pid);
	procmapq_close(by_fd);
	maps_free(&t);
}

/* check_exec: after the target execs, the handle's mm is gone (-ESRCH);
 * procmapq_reopen attaches to the new image of the same process. */
static void check_exec(void)
{
	const char *const args[] = {"-m", "1", NULL};
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target");
		return;
	}
	struct maps_table before;
	CHECK(maps_load(tg.pid, &before) == 0, "parse maps");
	struct procmapq *h = NULL;
	CHECK(procmapq_open(tg.pid, NULL, &h) == 0, "open: %s", procmapq_last_error());
	int rc = target_exec(&tg);
	CHECK(rc == 0, "target exec: %d", rc);
	if (h && rc == 0) {
		query_gone(h, &before, "pid handle after exec");
		rc = procmapq_reopen(h);
		CHECK(rc == 0, "reopen after exec: %d %s", rc, procmapq_last_error());
		struct maps_table after;
		CHECK(maps_load(tg.pid, &after) == 0, "parse maps after exec");
		if (rc == 0)
			check_handle(h, &after, "pid handle reopened after exec", false);
		maps_free(&after);
	}
	procmapq_close(h);
	maps_free(&before);
	CHECK(target_end(&tg) == 0, "target did not exit cleanly");
}

struct killer {
	pid_t pid;
	unsigned delay_us;
};

static void *kill_later(void *arg)
{
	const struct killer *k = arg;
	usleep(k->delay_us);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* check_dies_during_batch: the target is killed while a long ioctl batch
 * runs (20,000 VMAs, one ioctl each). Whatever the timing, every answer
 * must be either right or PROCESS_GONE, and -ESRCH comes exactly when some
 * address went unanswered. */
static void check_dies_during_batch(void)
{
	if (!ioctl_supported) {
		SKIP_NO_IOCTL("no PROCMAP_QUERY: the text backend reads the whole map at once, nothing to interrupt");
		return;
	}
	const char *const args[] = {"-n", "20000", NULL};
	static const unsigned delays_us[] = {2000, 8000};
	for (size_t d = 0; d < sizeof delays_us / sizeof delays_us[0]; d++) {
		struct spawned_target tg;
		if (target_spawn(&tg, args) != 0) {
			CHECK(0, "could not start the target");
			return;
		}
		struct maps_table t;
		struct procmapq *h = NULL;
		CHECK(maps_load(tg.pid, &t) == 0, "parse maps");
		CHECK(procmapq_open(tg.pid, NULL, &h) == 0, "open: %s", procmapq_last_error());
		uint64_t *addrs = calloc(t.count + 1, sizeof *addrs);
		struct test_out o;
		if (!h || !addrs || test_out_init(&o, &t, t.count) != 0) {
			CHECK(0, "setup failed");
			free(addrs);
			target_kill(&tg, 0);
			procmapq_close(h);
			maps_free(&t);
			return;
		}
		size_t n = 0;
		for (size_t i = 0; i < t.count; i++)
			if (vma_ioctl_visible(&t.entries[i]))
				addrs[n++] = t.entries[i].start;
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = PROCMAPQ_BACKEND_IOCTL, .flags = PROCMAPQ_QUERY_SORTED);
		struct killer k = {tg.pid, delays_us[d]};
		pthread_t killer_thread;
		CHECK(pthread_create(&killer_thread, NULL, kill_later, &k) == 0, "pthread_create");
		int rc = procmapq_query(h, addrs, n, &opts, o.lookups, &o.buf);
		pthread_join(killer_thread, NULL);
		size_t gone = 0, right = 0, wrong = 0;
		for (size_t i = 0; (rc >= 0 || rc == -ESRCH) && i < n; i++) {
			const struct procmapq_lookup *l = &o.lookups[i];
			char why[512];
			if (l->reason == PROCMAPQ_REASON_PROCESS_GONE && l->vma == -1)
				gone++;
			else if (l->reason == PROCMAPQ_REASON_FOUND && l->vma >= 0 &&
				 (uint64_t)l->vma < o.buf.vmas_count &&
				 vma_check(&o.vmas[l->vma], o.names, maps_find(&t, addrs[i]), VMA_FROM_IOCTL, why,
					   sizeof why))
				right++;
			else
				wrong++;
		}
		printf("handle_kinds: killed after %u us: rc %d, %zu answered, %zu process-gone of %zu\n",
		       delays_us[d], rc, right, gone, n);
		CHECK(rc == -ESRCH || rc >= 0, "rc %d %s", rc, procmapq_last_error());
		CHECK(wrong == 0 && right + gone == n, "%zu wrong answers (%zu right, %zu gone of %zu)", wrong, right,
		      gone, n);
		CHECK((rc == -ESRCH) == (gone > 0), "rc %d with %zu process-gone answers", rc, gone);
		test_out_free(&o);
		free(addrs);
		procmapq_close(h);
		maps_free(&t);
		target_reap(&tg);
	}
}

int main(void)
{
	ioctl_supported = t_ioctl(procmapq_supports_procmap_query());
	const char *const args[] = {"-f", NULL};
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target");
		return t_finish("handle_kinds");
	}
	struct maps_table t;
	CHECK(maps_load(tg.pid, &t) == 0, "parse /proc/%d/maps", tg.pid);
	check_text_handle(&tg);
	check_fd_handle(&tg, &t);
	maps_free(&t);
	CHECK(target_end(&tg) == 0, "target did not exit cleanly");
	check_process_gone();
	check_exec();
	check_dies_during_batch();
	return t_finish("handle_kinds");
}
