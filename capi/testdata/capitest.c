/*
 * capitest.c - drives libprocmapq.so through its public C ABI for the Go
 * tests in capi/ (capi_test.go), which build it against a fresh library
 * and check its output against package core and the target's own report.
 *
 *   capitest enumerate PID BACKEND FLAGS PERMS   dump procmapq_enumerate
 *   capitest query PID BACKEND FLAGS PERMS ADDR..  dump procmapq_query
 *   capitest normalize PID FLAGS ADDR...         dump procmapq_normalize
 *   capitest compare PID                         dump procmapq_compare
 *   capitest contract                            size rule, flags, errno, messages
 *   capitest faults                              bad pointers give -EFAULT/-EBADF
 *   capitest handles PID                         close/NULL/stale handles
 *   capitest threads PID ADDR...                 one handle, many threads
 *   capitest fork [fork|sysfork|clone]           -ECHILD in a forked child (with
 *                                                the mode: made while threads
 *                                                query, by fork(3),
 *                                                syscall(SYS_fork) or clone(2))
 *   capitest manyhandles N                       N live text handles at once
 *   capitest bigbatch N                          RSS falls back after an N-address
 *                                                unsorted batch and close
 *   capitest gone PID ADDR...                    open, print "opened", wait for a
 *                                                line on stdin (the target is
 *                                                gone by then), query: -ESRCH
 *   capitest crash                               C crash under the library
 *   capitest bench MODE N PID ADDR               ns per call; MODE: empty, one
 *   capitest allocs PID N IOCTL ADDR...          Go heap objects the library
 *                                                allocates in N steady-state
 *                                                calls, per kind of call
 *                                                (needs the procmapq_allocs
 *                                                variant; IOCTL 1: also the
 *                                                ioctl backend)
 *
 * Exit status: 0 pass, 1 fail (with a message on stderr), 2 usage.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procmapq.h"

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, \
				__LINE__, #cond);                            \
			fprintf(stderr, __VA_ARGS__);                        \
			fprintf(stderr, " [last_error: %s]\n",               \
				procmapq_last_error());                      \
			failures++;                                          \
		}                                                            \
	} while (0)

/* expect_rc checks a return code, errno, and that a message is set exactly
 * on failure. */
#define EXPECT_RC(call, want)                                                \
	do {                                                                 \
		errno = 0;                                                   \
		int rc_ = (call);                                            \
		int errno_ = errno;                                          \
		CHECK(rc_ == (want), "%s returned %d (%s), want %d", #call, rc_, \
		      procmapq_strerror(rc_), (want));                       \
		if ((want) < 0) {                                            \
			CHECK(errno_ == -(want), "%s: errno %d, want %d", #call, \
			      errno_, -(want));                              \
			CHECK(procmapq_last_error()[0] != '\0',              \
			      "%s: no message", #call);                      \
		} else if (rc_ >= 0) {                                       \
			CHECK(procmapq_last_error()[0] == '\0',              \
			      "%s: message left after success", #call);      \
		}                                                            \
	} while (0)

static struct procmapq *open_or_die(int pid)
{
	struct procmapq *h = NULL;
	int rc = procmapq_open(pid, NULL, &h);
	if (rc < 0) {
		fprintf(stderr, "procmapq_open(%d): %s\n", pid, procmapq_last_error());
		exit(1);
	}
	return h;
}

/* Output arrays sized by asking first (-ERANGE gives the sizes). */
struct outbuf {
	struct procmapq_vma_buf buf;
	struct procmapq_vma *vmas;
	char *names;
};

static void outbuf_grow(struct outbuf *o)
{
	uint64_t nv = o->buf.vmas_count + 16, nn = o->buf.names_len + 4096;
	free(o->vmas);
	free(o->names);
	o->vmas = calloc(nv, sizeof(*o->vmas));
	o->names = malloc(nn);
	if (!o->vmas || !o->names)
		abort();
	memset(&o->buf, 0, sizeof(o->buf));
	o->buf.size = sizeof(o->buf);
	o->buf.vmas = o->vmas;
	o->buf.vmas_cap = nv;
	o->buf.names = o->names;
	o->buf.names_cap = nn;
}

static void print_hex(const void *p, size_t n)
{
	const unsigned char *b = p;
	if (n == 0)
		fputs("-", stdout);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static void print_vmas(const struct outbuf *o, int n)
{
	for (int i = 0; i < n; i++) {
		const struct procmapq_vma *v = &o->vmas[i];
		const char *name = o->names + v->name_off;
		CHECK(name[v->name_len] == '\0', "name %d not NUL-terminated", i);
		CHECK(v->reserved[0] == 0 && v->reserved[3] == 0, "reserved not zero");
		printf("vma %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIu64 " %" PRIu64 " %u %u %u %u %u ",
		       v->start, v->end, v->offset, v->inode, v->page_size, v->dev_major,
		       v->dev_minor, v->perms, v->kind, v->flags);
		print_hex(name, v->name_len);
		putchar(' ');
		print_hex(v->build_id, v->build_id_len);
		putchar('\n');
	}
}

static int cmd_enumerate(int pid, uint32_t backend, uint32_t flags, uint32_t perms)
{
	struct procmapq *h = open_or_die(pid);
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backend, .flags = flags, .perms = perms);
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	o.buf.vmas_cap = 0; /* ask for the sizes first */
	int rc = procmapq_enumerate(h, &opts, &o.buf);
	if (rc == -ERANGE) {
		CHECK(o.buf.vmas_count > 0 && o.buf.names_len > 0, "-ERANGE without sizes");
		outbuf_grow(&o);
		rc = procmapq_enumerate(h, &opts, &o.buf);
	}
	if (rc < 0) {
		fprintf(stderr, "enumerate: %s\n", procmapq_last_error());
		return 1;
	}
	CHECK((uint64_t)rc == o.buf.vmas_count, "rc %d, vmas_count %" PRIu64, rc, o.buf.vmas_count);
	printf("strategy %u\n", o.buf.strategy);
	print_vmas(&o, rc);
	procmapq_close(h);
	return failures != 0;
}

static int cmd_query(int pid, uint32_t backend, uint32_t flags, uint32_t perms, int n, char **argv)
{
	struct procmapq *h = open_or_die(pid);
	uint64_t *addrs = calloc(n + 1, sizeof(*addrs));
	struct procmapq_lookup *lk = calloc(n + 1, sizeof(*lk));
	for (int i = 0; i < n; i++)
		addrs[i] = strtoull(argv[i], NULL, 0);
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = backend, .flags = flags, .perms = perms);
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	int rc = procmapq_query(h, addrs, n, &opts, lk, &o.buf);
	if (rc == -ERANGE) {
		outbuf_grow(&o);
		rc = procmapq_query(h, addrs, n, &opts, lk, &o.buf);
	}
	if (rc < 0) {
		fprintf(stderr, "query: %s\n", procmapq_last_error());
		return 1;
	}
	printf("strategy %u\n", o.buf.strategy);
	print_vmas(&o, rc);
	for (int i = 0; i < n; i++) {
		CHECK(lk[i].reserved == 0, "lookup reserved not zero");
		if (lk[i].vma >= 0) {
			const struct procmapq_vma *v = &o.vmas[lk[i].vma];
			CHECK(lk[i].vma < rc, "vma index %d out of %d", lk[i].vma, rc);
			CHECK(addrs[i] >= v->start && addrs[i] < v->end, "addr %" PRIx64 " outside its VMA", addrs[i]);
		}
		printf("lookup %d %d %u %" PRIx64 "\n", i, lk[i].vma, lk[i].reason, lk[i].file_offset);
	}
	procmapq_close(h);
	return failures != 0;
}

static int cmd_normalize(int pid, uint32_t flags, int n, char **argv)
{
	struct procmapq *h = open_or_die(pid);
	uint64_t *addrs = calloc(n + 1, sizeof(*addrs));
	for (int i = 0; i < n; i++)
		addrs[i] = strtoull(argv[i], NULL, 0);
	PROCMAPQ_OPTS(procmapq_normalize_opts, opts, .flags = flags);
	struct procmapq_normalized *r = NULL;
	int rc = procmapq_normalize(h, addrs, n, &opts, &r);
	if (rc < 0) {
		fprintf(stderr, "normalize: %s\n", procmapq_last_error());
		return 1;
	}
	CHECK((uint64_t)rc == r->meta_count, "rc %d, meta_count %" PRIu64, rc, r->meta_count);
	CHECK(r->output_count == (uint64_t)n, "output_count %" PRIu64, r->output_count);
	for (uint64_t i = 0; i < r->meta_count; i++) {
		const struct procmapq_norm_meta *m = &r->metas[i];
		CHECK(m->path != NULL && m->path[m->path_len] == '\0', "meta path");
		printf("meta %" PRIu64 " %u %u %u %u %u %u %" PRIu64 " ", i, m->kind, m->reason,
		       m->build_id_source, m->flags, m->dev_major, m->dev_minor, m->inode);
		print_hex(m->path, m->path_len);
		putchar(' ');
		print_hex(m->build_id, m->build_id_len);
		putchar('\n');
	}
	for (uint64_t i = 0; i < r->output_count; i++) {
		const struct procmapq_norm_output *out = &r->outputs[i];
		CHECK(out->meta < r->meta_count, "meta index");
		printf("out %" PRIu64 " %" PRIx64 " %u %u %" PRIx64 "\n", i, out->file_offset, out->meta,
		       out->flags, out->virt_addr);
	}
	procmapq_normalized_free(r);
	procmapq_close(h);
	return failures != 0;
}

static int cmd_compare(int pid)
{
	struct procmapq *h = open_or_die(pid);
	struct procmapq_compare_report *r = NULL;
	PROCMAPQ_OPTS(procmapq_compare_opts, opts, .attempts = 10, .retry_delay_ms = 20);
	int rc = procmapq_compare(h, &opts, &r);
	if (rc < 0) {
		fprintf(stderr, "compare: %s\n", procmapq_last_error());
		return 1;
	}
	CHECK((uint32_t)rc == r->mismatch_count, "rc %d, mismatches %u", rc, r->mismatch_count);
	CHECK(r->diff_count == r->expected_count + r->mismatch_count, "diff_count");
	printf("report %d %u %u %u %u %u %u %u\n", r->pid, r->settled, r->text_vmas, r->ioctl_vmas,
	       r->matched, r->page_size_only_ioctl, r->expected_count, r->mismatch_count);
	for (uint32_t i = 0; i < r->diff_count; i++) {
		const struct procmapq_difference *d = &r->diffs[i];
		printf("diff %u %u %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " ", d->kind, d->flags,
		       d->text_start, d->text_end, d->ioctl_start, d->ioctl_end);
		print_hex(d->detail, strlen(d->detail));
		putchar('\n');
	}
	procmapq_compare_report_free(r);
	procmapq_compare_report_free(NULL);
	procmapq_close(h);
	return failures != 0;
}

/* The extensible-struct rule, flag checks, errno and messages (on this
 * process). */
static int cmd_contract(void)
{
	int pid = getpid();
	struct procmapq *h = open_or_die(pid);
	uint64_t addr = (uint64_t)(uintptr_t)&cmd_contract;
	struct procmapq_lookup lk;
	struct outbuf o = { 0 };
	outbuf_grow(&o);

	/* A larger struct: the tail must be zero. */
	struct {
		struct procmapq_query_opts opts;
		uint64_t tail[2];
	} big;
	memset(&big, 0, sizeof(big));
	big.opts.size = sizeof(big);
	EXPECT_RC(procmapq_query(h, &addr, 1, &big.opts, &lk, &o.buf), 1);
	big.tail[1] = 1;
	EXPECT_RC(procmapq_query(h, &addr, 1, &big.opts, &lk, &o.buf), -E2BIG);
	big.tail[1] = 0;
	big.opts.size = 8192;
	EXPECT_RC(procmapq_query(h, &addr, 1, &big.opts, &lk, &o.buf), -E2BIG);

	/* A smaller struct is zero-extended: size 8 = all defaults. The
	 * fields past size are garbage the library must not read. */
	struct procmapq_query_opts small;
	memset(&small, 0xff, sizeof(small));
	small.size = 8;
	EXPECT_RC(procmapq_query(h, &addr, 1, &small, &lk, &o.buf), 1);
	CHECK(lk.reason == PROCMAPQ_REASON_FOUND, "reason %u", lk.reason);
	small.size = 12; /* backend = 0xffffffff now visible */
	EXPECT_RC(procmapq_query(h, &addr, 1, &small, &lk, &o.buf), -EINVAL);
	small.size = 0;
	EXPECT_RC(procmapq_query(h, &addr, 1, &small, &lk, &o.buf), -EINVAL);
	small.size = 4;
	EXPECT_RC(procmapq_query(h, &addr, 1, &small, &lk, &o.buf), -EINVAL);

	/* Unknown values. */
	PROCMAPQ_OPTS(procmapq_query_opts, q, .backend = 3);
	EXPECT_RC(procmapq_query(h, &addr, 1, &q, &lk, &o.buf), -EINVAL);
	q.backend = 0;
	q.flags = 0x80;
	EXPECT_RC(procmapq_query(h, &addr, 1, &q, &lk, &o.buf), -EINVAL);
	q.flags = 0;
	q.perms = 0x10;
	EXPECT_RC(procmapq_query(h, &addr, 1, &q, &lk, &o.buf), -EINVAL);
	q.perms = 0;
	q.reserved = 1;
	EXPECT_RC(procmapq_query(h, &addr, 1, &q, &lk, &o.buf), -EINVAL);
	q.reserved = 0;
	EXPECT_RC(procmapq_query(h, &addr, 1, &q, &lk, &o.buf), 1);
	PROCMAPQ_OPTS(procmapq_normalize_opts, no, .flags = 0x40);
	struct procmapq_normalized *nr = (struct procmapq_normalized *)&no; /* must be reset */
	EXPECT_RC(procmapq_normalize(h, &addr, 1, &no, &nr), -EINVAL);
	CHECK(nr == NULL, "*out not cleared on failure");
	PROCMAPQ_OPTS(procmapq_open_opts, oo, .flags = 1);
	struct procmapq *h2 = (struct procmapq *)&oo;
	EXPECT_RC(procmapq_open(pid, &oo, &h2), -EINVAL);
	CHECK(h2 == NULL, "*out not cleared on failure");
	oo.flags = 0;
	oo.pid = pid; /* only procmapq_open_fd takes a pid */
	EXPECT_RC(procmapq_open(pid, &oo, &h2), -EINVAL);
	oo.pid = 0;
	oo.proc_root = "/nonexistent-proc";
	EXPECT_RC(procmapq_open(pid, &oo, &h2), -ESRCH);
	oo.proc_root = "/proc";
	EXPECT_RC(procmapq_open(pid, &oo, &h2), 0);
	EXPECT_RC(procmapq_close(h2), 0);

	/* The output struct: too small to carry the sizes needed. */
	struct procmapq_vma_buf tiny = o.buf;
	tiny.size = 16;
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &tiny), -EINVAL);
	/* An older caller without strategy/syscalls: those stay untouched. */
	struct procmapq_vma_buf older = o.buf;
	older.size = 56;
	older.strategy = 77;
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &older), 1);
	CHECK(older.strategy == 77, "wrote past the caller's size");
	CHECK(older.vmas_count == 1, "vmas_count %" PRIu64, older.vmas_count);
	/* Pointer/capacity pairs. */
	struct procmapq_vma_buf bad = o.buf;
	bad.vmas = NULL;
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &bad), -EINVAL);

	/* -ERANGE reports sizes and writes nothing past the caps. */
	struct procmapq_vma one[2];
	char names[4];
	memset(one, 0xab, sizeof(one));
	memset(names, 0xab, sizeof(names));
	PROCMAPQ_OPTS(procmapq_vma_buf, small_buf, .vmas = one, .vmas_cap = 1, .names = names, .names_cap = 3);
	EXPECT_RC(procmapq_enumerate(h, NULL, &small_buf), -ERANGE);
	CHECK(small_buf.vmas_count > 1 && small_buf.names_len > 3, "sizes needed %" PRIu64 " %" PRIu64,
	      small_buf.vmas_count, small_buf.names_len);
	CHECK(((unsigned char *)&one[1])[0] == 0xab && names[3] == (char)0xab, "wrote past a cap");

	/* NULL rules. */
	EXPECT_RC(procmapq_query(h, NULL, 1, NULL, &lk, &o.buf), -EINVAL);
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, NULL, &o.buf), -EINVAL);
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, NULL), -EINVAL);
	EXPECT_RC(procmapq_query(NULL, &addr, 1, NULL, &lk, &o.buf), -EINVAL);
	EXPECT_RC(procmapq_query(h, NULL, 0, NULL, NULL, &o.buf), 0);
	CHECK(o.buf.strategy == PROCMAPQ_STRATEGY_NONE, "empty batch strategy %u", o.buf.strategy);
	EXPECT_RC(procmapq_open(pid, NULL, NULL), -EINVAL);
	EXPECT_RC(procmapq_open(-5, NULL, &h2), -EINVAL);
	EXPECT_RC(procmapq_compare(h, NULL, NULL), -EINVAL);
	EXPECT_RC(procmapq_normalize(h, NULL, 1, NULL, &nr), -EINVAL);

	/* Success clears the message; strerror takes either sign. */
	EXPECT_RC(procmapq_pid(h), pid);
	CHECK(strcmp(procmapq_strerror(ERANGE), procmapq_strerror(-ERANGE)) == 0, "strerror sign");
	CHECK(strcmp(procmapq_strerror(-123456), "unknown error") == 0, "strerror unknown");
	CHECK(procmapq_version() == PROCMAPQ_VERSION_NUMBER, "version %u", procmapq_version());
	int sup = procmapq_supports_procmap_query();
	CHECK(sup == 0 || sup == 1, "supports %d", sup);

	procmapq_close(h);
	return failures != 0;
}

/* Bad pointers: a recoverable fault inside the library gives -EFAULT and
 * the library keeps working. */
static int cmd_faults(void)
{
	int pid = getpid();
	struct procmapq *h = open_or_die(pid);
	long page = sysconf(_SC_PAGESIZE);
	char *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *zeros = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED || ro == MAP_FAILED || zeros == MAP_FAILED)
		return 1;
	uint64_t addr = (uint64_t)(uintptr_t)&cmd_faults;
	struct procmapq_lookup lk;
	struct outbuf o = { 0 };
	outbuf_grow(&o);

	EXPECT_RC(procmapq_query(h, (const uint64_t *)8, 1, NULL, &lk, &o.buf), -EFAULT);
	EXPECT_RC(procmapq_query(h, (const uint64_t *)none, 1, NULL, &lk, &o.buf), -EFAULT);
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, (struct procmapq_lookup *)ro, &o.buf), -EFAULT);
	EXPECT_RC(procmapq_query(h, &addr, 1, (const struct procmapq_query_opts *)none, &lk, &o.buf), -EFAULT);
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, (struct procmapq_vma_buf *)none), -EFAULT);
	struct procmapq_vma_buf rob = o.buf;
	rob.vmas = (struct procmapq_vma *)ro;
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &rob), -EFAULT);
	rob = o.buf;
	rob.names = ro;
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &rob), -EFAULT);
	/* Handles: unreadable memory faults, readable garbage is not a handle. */
	EXPECT_RC(procmapq_query((struct procmapq *)none, &addr, 1, NULL, &lk, &o.buf), -EFAULT);
	EXPECT_RC(procmapq_query((struct procmapq *)zeros, &addr, 1, NULL, &lk, &o.buf), -EBADF);
	EXPECT_RC(procmapq_close((struct procmapq *)zeros), -EBADF);
	EXPECT_RC(procmapq_open(pid, NULL, (struct procmapq **)ro), -EFAULT);
	EXPECT_RC(procmapq_open_text(none, 100, NULL, (struct procmapq **)zeros), -EFAULT);
	struct procmapq_open_opts *oo = (struct procmapq_open_opts *)zeros;
	oo->size = sizeof(*oo);
	oo->proc_root = none;
	struct procmapq *h2;
	EXPECT_RC(procmapq_open(pid, oo, &h2), -EFAULT);
	struct procmapq_normalized *nr;
	EXPECT_RC(procmapq_normalize(h, (const uint64_t *)none, 1, NULL, &nr), -EFAULT);
	EXPECT_RC(procmapq_compare(h, NULL, (struct procmapq_compare_report **)ro), -EFAULT);

	/* Still fine afterwards, on this handle and a new one. */
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &o.buf), 1);
	CHECK(lk.reason == PROCMAPQ_REASON_FOUND, "reason %u", lk.reason);
	EXPECT_RC(procmapq_open(pid, NULL, &h2), 0);
	EXPECT_RC(procmapq_close(h2), 0);
	procmapq_close(h);
	return failures != 0;
}

static int cmd_handles(int pid)
{
	EXPECT_RC(procmapq_close(NULL), 0);
	struct procmapq *h = open_or_die(pid);
	EXPECT_RC(procmapq_pid(h), pid);
	EXPECT_RC(procmapq_close(h), 0);
	/* Stale pointer: detected while the memory is not reused. */
	EXPECT_RC(procmapq_pid(h), -EBADF);
	EXPECT_RC(procmapq_close(h), -EBADF);

	/* Many open/close cycles leak nothing visible (fds). */
	for (int i = 0; i < 2000; i++) {
		struct procmapq *t = NULL;
		if (procmapq_open(pid, NULL, &t) < 0 || procmapq_close(t) < 0) {
			CHECK(0, "cycle %d: %s", i, procmapq_last_error());
			break;
		}
	}

	/* No such process. */
	struct procmapq *g;
	EXPECT_RC(procmapq_open(0x3fffffff, NULL, &g), -ESRCH);

	/* Text handles: parse errors name the line; pid unknown is 0. */
	const char bad[] = "00400000-00401000 r-xp 00000000 08:01 42 /bin/x\nnot a maps line\n";
	EXPECT_RC(procmapq_open_text(bad, sizeof(bad) - 1, NULL, &g), -EINVAL);
	CHECK(strstr(procmapq_last_error(), "2") != NULL, "message does not name line 2: %s", procmapq_last_error());
	const char good[] = "00400000-00401000 r-xp 00001000 08:01 42                         /bin/x y\n";
	EXPECT_RC(procmapq_open_text(good, sizeof(good) - 1, NULL, &g), 0);
	EXPECT_RC(procmapq_pid(g), 0);
	EXPECT_RC(procmapq_reopen(g), -EINVAL);
	uint64_t a = 0x400010;
	struct procmapq_lookup lk;
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	EXPECT_RC(procmapq_query(g, &a, 1, NULL, &lk, &o.buf), 1);
	CHECK(lk.file_offset == 0x1010, "file_offset %" PRIx64, lk.file_offset);
	CHECK(o.vmas[0].name_len == 8 && memcmp(o.names + o.vmas[0].name_off, "/bin/x y", 9) == 0, "name");
	EXPECT_RC(procmapq_open_text(NULL, 0, NULL, &h), 0);
	EXPECT_RC(procmapq_query(h, &a, 1, NULL, &lk, &o.buf), 0);
	CHECK(lk.reason == PROCMAPQ_REASON_UNMAPPED && lk.vma == -1, "empty text");
	EXPECT_RC(procmapq_close(h), 0);
	struct procmapq_compare_report *r;
	EXPECT_RC(procmapq_compare(g, NULL, &r), -EINVAL);
	EXPECT_RC(procmapq_close(g), 0);

	/* fd handles: a maps fd (here our own), the pid only if given. */
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open /proc/self/maps");
	PROCMAPQ_OPTS(procmapq_open_opts, fo, .pid = getpid());
	EXPECT_RC(procmapq_open_fd(fd, &fo, &g), 0);
	EXPECT_RC(procmapq_pid(g), getpid());
	a = (uint64_t)(uintptr_t)&cmd_handles;
	EXPECT_RC(procmapq_query(g, &a, 1, NULL, &lk, &o.buf), 1);
	CHECK(lk.reason == PROCMAPQ_REASON_FOUND, "fd handle: reason %u", lk.reason);
	EXPECT_RC(procmapq_reopen(g), -EINVAL);
	EXPECT_RC(procmapq_close(g), 0);
	EXPECT_RC(procmapq_open_fd(fd, NULL, &g), 0);
	EXPECT_RC(procmapq_pid(g), 0);
	EXPECT_RC(procmapq_close(g), 0);
	close(fd);
	EXPECT_RC(procmapq_open_fd(-1, NULL, &g), -EBADF);
	int reg = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	if (reg >= 0) {
		EXPECT_RC(procmapq_open_fd(reg, NULL, &g), -EINVAL);
		close(reg);
	}
	return failures != 0;
}

struct thread_arg {
	struct procmapq *h;
	const uint64_t *addrs;
	int n;
	const struct procmapq_lookup *want_lk;
	const struct procmapq_vma *want_vmas;
	int id;
	int ioctl; /* the kernel has PROCMAP_QUERY */
	int bad;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;
	struct procmapq_lookup *lk = calloc(t->n, sizeof(*lk));
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	for (int iter = 0; iter < 500; iter++) {
		/* Odd threads also fail on purpose: messages are per thread. */
		if (t->id % 2 && procmapq_query(t->h, NULL, 1, NULL, lk, &o.buf) != -EINVAL)
			t->bad++;
		/* Cycle through the backends (the ioctl only where the kernel has it). */
		PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = (uint32_t)(iter % (t->ioctl ? 3 : 2)));
		if (!t->ioctl && opts.backend == PROCMAPQ_BACKEND_IOCTL)
			opts.backend = PROCMAPQ_BACKEND_TEXT;
		int rc = procmapq_query(t->h, t->addrs, t->n, &opts, lk, &o.buf);
		if (rc < 0) {
			fprintf(stderr, "thread %d: %s\n", t->id, procmapq_last_error());
			t->bad++;
			continue;
		}
		if (t->id % 2 == 0 && procmapq_last_error()[0] != '\0')
			t->bad++; /* another thread's message leaked here */
		for (int i = 0; i < t->n; i++) {
			if (lk[i].reason != t->want_lk[i].reason ||
			    (lk[i].vma >= 0 && (o.vmas[lk[i].vma].start != t->want_vmas[t->want_lk[i].vma].start ||
						o.vmas[lk[i].vma].end != t->want_vmas[t->want_lk[i].vma].end ||
						lk[i].file_offset != t->want_lk[i].file_offset)))
				t->bad++;
		}
	}
	free(lk);
	return NULL;
}

static int cmd_threads(int pid, int n, char **argv)
{
	enum { THREADS = 8 };
	struct procmapq *h = open_or_die(pid);
	uint64_t *addrs = calloc(n, sizeof(*addrs));
	for (int i = 0; i < n; i++)
		addrs[i] = strtoull(argv[i], NULL, 0);
	struct procmapq_lookup *want = calloc(n, sizeof(*want));
	struct outbuf ref = { 0 };
	outbuf_grow(&ref);
	PROCMAPQ_OPTS(procmapq_query_opts, text, .backend = PROCMAPQ_BACKEND_TEXT);
	if (procmapq_query(h, addrs, n, &text, want, &ref.buf) < 0) {
		fprintf(stderr, "reference query: %s\n", procmapq_last_error());
		return 1;
	}
	pthread_t th[THREADS];
	struct thread_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){ h, addrs, n, want, ref.vmas, i, procmapq_supports_procmap_query() == 1, 0 };
		pthread_create(&th[i], NULL, thread_main, &args[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK(args[i].bad == 0, "thread %d: %d wrong answers", i, args[i].bad);
	}
	procmapq_close(h);
	return failures != 0;
}

/* Threads that keep querying while the main thread forks: the child must
 * be refused (-ECHILD) however it was made, never hang. */
struct busy_arg {
	struct procmapq *h;
	uint64_t addr;
	volatile int *stop;
};

static void *busy_main(void *p)
{
	struct busy_arg *a = p;
	struct procmapq_lookup lk;
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	while (!*a->stop)
		procmapq_query(a->h, &a->addr, 1, NULL, &lk, &o.buf);
	return NULL;
}

/* make_child forks the way mode says: "fork" (fork(3), which runs the
 * atfork handlers), "sysfork" (syscall(SYS_fork), which does not) or
 * "clone" (clone(2) without CLONE_VM, which does not either). In the child
 * it returns 0 (for clone, the child runs child_fn instead). */
static pid_t make_child(const char *mode, int (*child_fn)(void *), void *arg)
{
	if (!strcmp(mode, "sysfork"))
		return (pid_t)syscall(SYS_fork);
	if (!strcmp(mode, "clone")) {
		static char stack[1 << 16] __attribute__((aligned(16)));
		return clone(child_fn, stack + sizeof stack, SIGCHLD, arg);
	}
	return fork();
}

static struct procmapq *fork_h;
static int fork_pid;

/* child_checks runs in the child: every Go-backed call is refused, the
 * pure-C ones still work. Returns the exit status. */
static int child_checks(void *arg)
{
	(void)arg;
	alarm(10); /* a hang in the Go runtime would end here */
	uint64_t addr = (uint64_t)(uintptr_t)&child_checks;
	struct procmapq_lookup lk;
	struct procmapq_vma v;
	char names[64];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = &v, .vmas_cap = 1, .names = names, .names_cap = sizeof names);
	int rc = procmapq_query(fork_h, &addr, 1, NULL, &lk, &out);
	int ok = rc == -ECHILD && errno == ECHILD && strstr(procmapq_last_error(), "fork") != NULL;
	struct procmapq *h2;
	ok = ok && procmapq_open(fork_pid, NULL, &h2) == -ECHILD;
	ok = ok && procmapq_version() == PROCMAPQ_VERSION_NUMBER; /* pure C, still fine */
	if (!ok)
		fprintf(stderr, "child: rc %d errno %d: %s\n", rc, errno, procmapq_last_error());
	_exit(ok ? 0 : 1);
}

static int cmd_fork(const char *mode)
{
	int pid = getpid();
	struct procmapq *h = open_or_die(pid);
	uint64_t addr = (uint64_t)(uintptr_t)&cmd_fork;
	struct procmapq_lookup lk;
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &o.buf), 1);
	if (mode) {
		fork_h = h;
		fork_pid = pid;
		volatile int stop = 0;
		pthread_t th[4];
		struct busy_arg a = { h, addr, &stop };
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, busy_main, &a);
		usleep(20000); /* the threads are mid-query when the child is made */
		pid_t child = make_child(mode, child_checks, NULL);
		if (child == 0)
			child_checks(NULL);
		stop = 1;
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		int status;
		CHECK(child > 0, "%s: %s", mode, strerror(errno));
		if (child > 0) {
			waitpid(child, &status, 0);
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s child status %#x", mode, status);
		}
		EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &o.buf), 1);
		procmapq_close(h);
		return failures != 0;
	}
	pid_t child = fork();
	if (child == 0) {
		alarm(10); /* a hang in the Go runtime would end here */
		int rc = procmapq_query(h, &addr, 1, NULL, &lk, &o.buf);
		int ok = rc == -ECHILD && errno == ECHILD && strstr(procmapq_last_error(), "fork") != NULL;
		ok = ok && procmapq_open(pid, NULL, &h) == -ECHILD;
		ok = ok && procmapq_version() == PROCMAPQ_VERSION_NUMBER; /* pure C, still fine */
		if (!ok)
			fprintf(stderr, "child: rc %d errno %d: %s\n", rc, errno, procmapq_last_error());
		_exit(ok ? 0 : 1);
	}
	int status;
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	/* The parent is unaffected. */
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk, &o.buf), 1);
	procmapq_close(h);
	return failures != 0;
}

/* n live handles at once (text handles: no fds), each answering from its
 * own text; then closed in an interleaved order. Opening and closing must
 * not depend on how many handles are live (the registry is chunked). */
static int cmd_manyhandles(int n)
{
	struct procmapq **hs = calloc((size_t)n, sizeof *hs);
	CHECK(hs != NULL, "calloc");
	if (!hs)
		return 1;
	char text[128];
	for (int i = 0; i < n; i++) {
		uint64_t start = 0x10000000ull + (uint64_t)i * 0x1000;
		int len = snprintf(text, sizeof text, "%08llx-%08llx r-xp 00000000 00:00 0 \n",
				   (unsigned long long)start, (unsigned long long)start + 0x1000);
		int rc = procmapq_open_text(text, (size_t)len, NULL, &hs[i]);
		if (rc < 0) {
			CHECK(0, "open_text %d: %d %s", i, rc, procmapq_last_error());
			return 1;
		}
	}
	struct procmapq_vma v;
	char names[16];
	int bad = 0;
	for (int i = 0; i < n; i += 997) {
		uint64_t a = 0x10000000ull + (uint64_t)i * 0x1000 + 8;
		struct procmapq_lookup lk;
		PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = &v, .vmas_cap = 1, .names = names, .names_cap = sizeof names);
		int rc = procmapq_query(hs[i], &a, 1, NULL, &lk, &out);
		if (rc != 1 || lk.reason != PROCMAPQ_REASON_FOUND || v.start != a - 8)
			bad++;
	}
	CHECK(bad == 0, "%d of the sampled handles answered wrongly", bad);
	for (int i = 0; i < n; i += 2)
		EXPECT_RC(procmapq_close(hs[i]), 0);
	for (int i = 1; i < n; i += 2)
		EXPECT_RC(procmapq_close(hs[i]), 0);
	free(hs);
	return failures != 0;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/* A huge unsorted batch: once the caller has freed its arrays and closed
 * the handle, the process's RSS falls back near where it was (the
 * library's sort scratch, about 44 bytes per address, is not kept). */
static int cmd_bigbatch(int n)
{
	struct procmapq *h = open_or_die(getpid());
	uint64_t addr = (uint64_t)(uintptr_t)&cmd_bigbatch;
	struct procmapq_lookup lk1;
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	EXPECT_RC(procmapq_query(h, &addr, 1, NULL, &lk1, &o.buf), 1); /* warm */
	long before = rss_kib();
	uint64_t *addrs = malloc((size_t)n * sizeof *addrs);
	struct procmapq_lookup *lk = malloc((size_t)n * sizeof *lk);
	CHECK(addrs && lk, "malloc");
	if (!addrs || !lk)
		return 1;
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < n; i++) { /* unsorted, all in our own text */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		addrs[i] = addr + x % 4096;
	}
	int rc;
	while ((rc = procmapq_query(h, addrs, (size_t)n, NULL, lk, &o.buf)) == -ERANGE)
		outbuf_grow(&o);
	CHECK(rc >= 1, "query: %d %s", rc, procmapq_last_error());
	long during = rss_kib();
	free(addrs);
	free(lk);
	procmapq_close(h);
	long after = rss_kib();
	printf("rss before %ld KiB, after the query %ld KiB, after free and close %ld KiB\n", before, during, after);
	CHECK(after - before < 32 * 1024, "RSS after close %ld KiB above the %ld before the batch", after - before, before);
	return failures != 0;
}

/* The target exits between open and query: -ESRCH, with every lookup
 * complete (PROCESS_GONE) and the counts written; enumerate and normalize
 * say -ESRCH too, normalize still with a result. */
static int cmd_gone(int pid, int n, char **argv)
{
	struct procmapq *h = open_or_die(pid);
	uint64_t *addrs = calloc(n, sizeof(*addrs));
	struct procmapq_lookup *lk = calloc(n, sizeof(*lk));
	for (int i = 0; i < n; i++) {
		addrs[i] = strtoull(argv[i], NULL, 0);
		lk[i].reason = 99;
	}
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	printf("opened\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	o.buf.vmas_count = 77;
	EXPECT_RC(procmapq_query(h, addrs, n, NULL, lk, &o.buf), -ESRCH);
	CHECK(o.buf.vmas_count == 0, "vmas_count %" PRIu64, o.buf.vmas_count);
	for (int i = 0; i < n; i++)
		CHECK(lk[i].reason == PROCMAPQ_REASON_PROCESS_GONE && lk[i].vma == -1,
		      "lookup %d: reason %u vma %d", i, lk[i].reason, lk[i].vma);
	EXPECT_RC(procmapq_enumerate(h, NULL, &o.buf), -ESRCH);
	struct procmapq_normalized *r = NULL;
	EXPECT_RC(procmapq_normalize(h, addrs, n, NULL, &r), -ESRCH);
	CHECK(r != NULL && r->output_count == (uint64_t)n, "normalize result missing on -ESRCH");
	for (uint64_t i = 0; r && i < r->output_count; i++) {
		const struct procmapq_norm_meta *m = &r->metas[r->outputs[i].meta];
		CHECK(m->kind == PROCMAPQ_META_UNKNOWN && m->reason == PROCMAPQ_NORM_REASON_PROCESS_GONE,
		      "output %" PRIu64 ": kind %u reason %u", i, m->kind, m->reason);
	}
	procmapq_normalized_free(r);
	EXPECT_RC(procmapq_reopen(h), -ESRCH);
	EXPECT_RC(procmapq_close(h), 0);
	printf("done\n");
	return failures != 0;
}

/* Only in a library built with -tags procmapq_crashtest (capi/crashtest.c). */
extern int procmapq_crash_for_test(void) __attribute__((weak));

static int cmd_crash(void)
{
	if (!procmapq_crash_for_test) {
		fprintf(stderr, "library not built with -tags procmapq_crashtest\n");
		return 2;
	}
	procmapq_crash_for_test();
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Prints the nanoseconds per call of N calls of procmapq_query with an
 * empty batch (MODE "empty") or one address (MODE "one"): the same calls as
 * BenchmarkQueryCABI in capi_test.go makes in Go. */
static int cmd_bench(const char *mode, long n, int pid, uint64_t addr)
{
	struct procmapq *h = open_or_die(pid);
	struct procmapq_lookup lk;
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	int one = !strcmp(mode, "one");
	/* Warm up: first call on the thread, the probe, the cost model. */
	for (int i = 0; i < 1000; i++)
		procmapq_query(h, &addr, 1, NULL, &lk, &o.buf);
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (procmapq_query(h, one ? &addr : NULL, one, NULL, one ? &lk : NULL, &o.buf) != one) {
			fprintf(stderr, "bench: %s\n", procmapq_last_error());
			return 1;
		}
	printf("%.2f\n", (now_ns() - t0) / (double)n);
	procmapq_close(h);
	return 0;
}

/* One kind of steady-state call for cmd_allocs: query ADDRS (n of them,
 * maybe 0) or enumerate, with a backend; or, as the control that shows the
 * counter counts, open and close a handle. */
struct alloc_case {
	const char *name;
	enum { AC_QUERY, AC_ENUMERATE, AC_OPEN_CLOSE } op;
	uint32_t backend;
	int n;
};

static int alloc_call(const struct alloc_case *c, struct procmapq *h, int pid, const uint64_t *addrs,
		      struct procmapq_lookup *lk, struct outbuf *o)
{
	PROCMAPQ_OPTS(procmapq_query_opts, opts, .backend = c->backend);
	for (int tries = 0; tries < 4; tries++) {
		int rc;
		if (c->op == AC_OPEN_CLOSE) {
			struct procmapq *h2 = NULL;
			rc = procmapq_open(pid, NULL, &h2);
			if (rc == 0)
				rc = procmapq_close(h2);
		} else if (c->op == AC_ENUMERATE) {
			rc = procmapq_enumerate(h, &opts, &o->buf);
		} else {
			rc = procmapq_query(h, addrs, c->n, &opts, lk, &o->buf);
		}
		if (rc != -ERANGE)
			return rc;
		outbuf_grow(o); /* only during the warm-up: the sizes then stay */
	}
	return -ERANGE;
}

/* Prints "allocs CASE CALLS OBJECTS" per kind of call: the Go heap objects
 * the library allocated (procmapq_test_heap_allocs, exported only by the
 * test variant built with capi/testdata/allocs_export.go) during CALLS
 * calls made after a warm-up of the same calls. */
static int cmd_allocs(int pid, long calls, int ioctl, int n, char **argv)
{
	unsigned long long (*heap_allocs)(void) =
		(unsigned long long (*)(void))dlsym(RTLD_DEFAULT, "procmapq_test_heap_allocs");
	if (!heap_allocs) {
		fprintf(stderr, "allocs: no procmapq_test_heap_allocs: not the procmapq_allocs variant\n");
		return 1;
	}
	uint64_t *addrs = calloc(n + 1, sizeof(*addrs));
	struct procmapq_lookup *lk = calloc(n + 1, sizeof(*lk));
	if (!addrs || !lk)
		abort();
	for (int i = 0; i < n; i++)
		addrs[i] = strtoull(argv[i], NULL, 0);
	const struct alloc_case cases[] = {
		{ "query-empty", AC_QUERY, PROCMAPQ_BACKEND_AUTO, 0 },
		{ "query-one/auto", AC_QUERY, PROCMAPQ_BACKEND_AUTO, 1 },
		{ "query-batch/auto", AC_QUERY, PROCMAPQ_BACKEND_AUTO, n },
		{ "query-batch/text", AC_QUERY, PROCMAPQ_BACKEND_TEXT, n },
		{ "query-one/ioctl", AC_QUERY, PROCMAPQ_BACKEND_IOCTL, 1 },
		{ "query-batch/ioctl", AC_QUERY, PROCMAPQ_BACKEND_IOCTL, n },
		{ "enumerate/auto", AC_ENUMERATE, PROCMAPQ_BACKEND_AUTO, 0 },
		{ "enumerate/text", AC_ENUMERATE, PROCMAPQ_BACKEND_TEXT, 0 },
		{ "enumerate/ioctl", AC_ENUMERATE, PROCMAPQ_BACKEND_IOCTL, 0 },
		{ "control/open-close", AC_OPEN_CLOSE, PROCMAPQ_BACKEND_AUTO, 0 },
	};
	struct procmapq *h = open_or_die(pid);
	struct outbuf o = { 0 };
	outbuf_grow(&o);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		if (cases[c].backend == PROCMAPQ_BACKEND_IOCTL && !ioctl)
			continue;
		/* Warm-up: the first calls size the output, fill the pools and
		 * the cost model, and make this thread known to Go. */
		for (int i = 0; i < 200; i++) {
			int rc = alloc_call(&cases[c], h, pid, addrs, lk, &o);
			if (rc < 0) {
				fprintf(stderr, "allocs %s: %d %s\n", cases[c].name, rc, procmapq_last_error());
				return 1;
			}
		}
		unsigned long long before = heap_allocs();
		for (long i = 0; i < calls; i++) {
			int rc = alloc_call(&cases[c], h, pid, addrs, lk, &o);
			if (rc < 0) {
				fprintf(stderr, "allocs %s: %d %s\n", cases[c].name, rc, procmapq_last_error());
				return 1;
			}
		}
		unsigned long long after = heap_allocs();
		printf("allocs %s %ld %llu\n", cases[c].name, calls, after - before);
	}
	procmapq_close(h);
	free(o.vmas);
	free(o.names);
	free(addrs);
	free(lk);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *cmd = argv[1];
	int pid = argc > 2 ? atoi(argv[2]) : 0;
	if (!strcmp(cmd, "enumerate") && argc == 6)
		return cmd_enumerate(pid, strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), strtoul(argv[5], NULL, 0));
	if (!strcmp(cmd, "query") && argc >= 6)
		return cmd_query(pid, strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), strtoul(argv[5], NULL, 0),
				 argc - 6, argv + 6);
	if (!strcmp(cmd, "normalize") && argc >= 4)
		return cmd_normalize(pid, strtoul(argv[3], NULL, 0), argc - 4, argv + 4);
	if (!strcmp(cmd, "compare") && argc == 3)
		return cmd_compare(pid);
	if (!strcmp(cmd, "contract"))
		return cmd_contract();
	if (!strcmp(cmd, "faults"))
		return cmd_faults();
	if (!strcmp(cmd, "handles") && argc == 3)
		return cmd_handles(pid);
	if (!strcmp(cmd, "threads") && argc > 3)
		return cmd_threads(pid, argc - 3, argv + 3);
	if (!strcmp(cmd, "fork"))
		return cmd_fork(argc > 2 ? argv[2] : NULL);
	if (!strcmp(cmd, "manyhandles") && argc > 2)
		return cmd_manyhandles(atoi(argv[2]));
	if (!strcmp(cmd, "bigbatch") && argc > 2)
		return cmd_bigbatch(atoi(argv[2]));
	if (!strcmp(cmd, "gone") && argc > 3)
		return cmd_gone(pid, argc - 3, argv + 3);
	if (!strcmp(cmd, "crash"))
		return cmd_crash();
	if (!strcmp(cmd, "allocs") && argc >= 5)
		return cmd_allocs(pid, atol(argv[3]), atoi(argv[4]), argc - 5, argv + 5);
	if (!strcmp(cmd, "bench") && argc == 6)
		return cmd_bench(argv[2], atol(argv[3]), atoi(argv[4]), strtoull(argv[5], NULL, 0));
	fprintf(stderr, "usage: see the top of capitest.c\n");
	return 2;
}
