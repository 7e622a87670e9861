/* arguments: the C ABI's contract at its edges - version, feature probe,
 * error strings and the per-thread last error, NULL and out-of-range
 * arguments, unknown flags, the size rule of every extensible struct
 * (smaller, larger with a zero tail, non-zero tail), pointers to
 * inaccessible memory, double close, and pids that do not exist. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "procmapq.h"

/* Our own PROCMAP_QUERY probe (uapi <linux/fs.h> of Debian 12 lacks it):
 * _IOWR('f', 17, struct procmap_query), a 104-byte struct. */
#define PROCMAP_QUERY_IOCTL 0xC0686611u
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10u

static int probe_procmap_query(void)
{
	uint64_t q[13] = {0}; /* size, query_flags, query_addr, ... (104 bytes) */
	q[0] = sizeof q;
	q[1] = PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = ioctl(fd, PROCMAP_QUERY_IOCTL, q);
	int err = errno;
	close(fd);
	if (rc == 0 || err == ENOENT)
		return 1;
	return err == ENOTTY ? 0 : -err;
}

static void check_version_and_probe(void)
{
	CHECK(procmapq_version() == PROCMAPQ_VERSION_NUMBER, "library %u, header %u", procmapq_version(),
	      PROCMAPQ_VERSION_NUMBER);
	int ours = probe_procmap_query();
	/* The documented override (for tests of the fallback) wins. */
	const char *forced = getenv("PROCMAPQ_FORCE_PROBE");
	if (forced && (strcmp(forced, "0") == 0 || strcmp(forced, "1") == 0))
		ours = forced[0] - '0';
	int lib = procmapq_supports_procmap_query();
	CHECK(lib == ours, "procmapq_supports_procmap_query %d, our own ioctl probe %d", lib, ours);
	CHECK(procmapq_supports_procmap_query() == lib, "probe answer changed between calls");
}

static void check_strerror(void)
{
	static const int codes[] = {EINVAL, E2BIG, ERANGE, ESRCH, EACCES, EPERM, ENOTTY, EBADF, EFAULT, EAGAIN,
				    ENOMEM, ECHILD, ENOTRECOVERABLE};
	const size_t n = sizeof codes / sizeof codes[0];
	for (size_t i = 0; i < n; i++) {
		const char *neg = procmapq_strerror(-codes[i]), *pos = procmapq_strerror(codes[i]);
		CHECK(neg && *neg && pos && strcmp(neg, pos) == 0, "strerror(%d) \"%s\" vs strerror(%d) \"%s\"",
		      -codes[i], neg ? neg : "(null)", codes[i], pos ? pos : "(null)");
		CHECK(neg && strcmp(neg, "unknown error") != 0, "strerror(%d) is \"unknown error\"", -codes[i]);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(neg, procmapq_strerror(-codes[j])) != 0, "codes %d and %d share \"%s\"", codes[i],
			      codes[j], neg);
	}
	const char *unknown = procmapq_strerror(-99999);
	CHECK(unknown && strcmp(unknown, "unknown error") == 0, "strerror(-99999) \"%s\"", unknown ? unknown : "(null)");
}

/* reaped_pid returns the pid of a child that has exited and been reaped:
 * a pid that names no process (until the kernel reuses it, which it does
 * only after cycling through pid_max). */
static pid_t reaped_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0); /* no library call in the forked child */
	int st;
	waitpid(pid, &st, 0);
	return pid;
}

static void check_open_errors(void)
{
	struct procmapq *h = (struct procmapq *)&h; /* non-NULL garbage to see it reset */
	pid_t gone = reaped_pid();
	errno = 0;
	int rc = procmapq_open(gone, NULL, &h);
	CHECK(rc == -ESRCH && errno == ESRCH && h == NULL, "open(reaped pid %d): %d errno %d h %p", gone, rc, errno,
	      (void *)h);
	char pid_text[32];
	snprintf(pid_text, sizeof pid_text, "%d", gone);
	const char *msg = procmapq_last_error();
	CHECK(strstr(msg, pid_text) != NULL, "last error \"%s\" does not name pid %s", msg, pid_text);

	rc = procmapq_open(0x3fffffff, NULL, &h); /* above any pid_max */
	CHECK(rc == -ESRCH, "open(0x3fffffff): %d", rc);
	rc = procmapq_open(-1, NULL, &h);
	CHECK(rc == -EINVAL && h == NULL, "open(-1): %d", rc);
	rc = procmapq_open(0, NULL, NULL);
	CHECK(rc == -EINVAL, "open(out NULL): %d", rc);

	PROCMAPQ_OPTS(procmapq_open_opts, with_pid, .pid = getpid());
	rc = procmapq_open(0, &with_pid, &h);
	CHECK(rc == -EINVAL, "open with opts.pid set: %d", rc);
	PROCMAPQ_OPTS(procmapq_open_opts, with_flags, .flags = 1);
	rc = procmapq_open(0, &with_flags, &h);
	CHECK(rc == -EINVAL, "open with unknown opts.flags: %d", rc);

	rc = procmapq_open_text(NULL, 5, NULL, &h);
	CHECK(rc == -EINVAL, "open_text(NULL, 5): %d", rc);
	rc = procmapq_open_text((const char *)1, 0, NULL, &h);
	CHECK(rc == 0, "open_text(dangling, 0), an empty map: %d", rc);
	if (rc == 0)
		procmapq_close(h);
	/* A length no text can have (a caller's size_t underflow): refused
	 * as a bad argument naming len, not an internal error. */
	rc = procmapq_open_text("x", (size_t)1 << 63, NULL, &h);
	CHECK(rc == -EINVAL && strstr(procmapq_last_error(), "len") && !strchr(procmapq_last_error(), '\n'),
	      "open_text(len 2^63): %d \"%s\"", rc, procmapq_last_error());
	rc = procmapq_open_text("x", SIZE_MAX, NULL, &h);
	CHECK(rc == -EINVAL, "open_text(len SIZE_MAX): %d \"%s\"", rc, procmapq_last_error());
	/* Names hold any byte but NUL, and boundaries are page multiples. */
	static const char nul_name[] = "00400000-00401000 r-xp 00000000 08:01 7 /a\0b.so\n";
	rc = procmapq_open_text(nul_name, sizeof nul_name - 1, NULL, &h);
	CHECK(rc == -EINVAL && strstr(procmapq_last_error(), "NUL"), "open_text(NUL in a name): %d \"%s\"", rc,
	      procmapq_last_error());
	static const char unaligned[] = "00400001-00400003 r-xp 00000000 08:01 7 /a.so\n";
	rc = procmapq_open_text(unaligned, sizeof unaligned - 1, NULL, &h);
	CHECK(rc == -EINVAL && strstr(procmapq_last_error(), "aligned"), "open_text(unaligned range): %d \"%s\"", rc,
	      procmapq_last_error());
	static const char bad[] = "this is not a maps line\n";
	rc = procmapq_open_text(bad, sizeof bad - 1, NULL, &h);
	CHECK(rc == -EINVAL && strlen(procmapq_last_error()) > 0, "open_text(garbage): %d \"%s\"", rc,
	      procmapq_last_error());
	rc = procmapq_open_fd(-1, NULL, &h);
	CHECK(rc == -EBADF, "open_fd(-1): %d", rc);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rc = procmapq_open_fd(devnull, NULL, &h);
	CHECK(rc == -EINVAL, "open_fd(/dev/null): %d", rc);
	close(devnull);
	rc = procmapq_open_fd(devnull, NULL, &h); /* now closed */
	CHECK(rc == -EBADF, "open_fd(closed fd): %d", rc);
}

/* A query_opts followed by bytes this library does not know. */
struct query_opts_larger {
	struct procmapq_query_opts opts;
	uint64_t future[3];
};

static int query_self(struct procmapq *h, const void *opts)
{
	uint64_t addr = (uint64_t)(uintptr_t)&query_self;
	struct procmapq_lookup lk;
	struct procmapq_vma vmas[2];
	char names[8192];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 2, .names = names, .names_cap = sizeof names);
	int rc = procmapq_query(h, &addr, 1, opts, &lk, &out);
	if (rc >= 0 && lk.reason != PROCMAPQ_REASON_FOUND)
		return -1000 - (int)lk.reason;
	return rc;
}

static void check_query_arguments(struct procmapq *h)
{
	uint64_t addr = 0;
	struct procmapq_lookup lk;
	struct procmapq_vma vmas[2];
	char names[256];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 2, .names = names, .names_cap = sizeof names);

	CHECK(query_self(h, NULL) == 1, "query own code with NULL opts");
	CHECK(strcmp(procmapq_last_error(), "") == 0, "last error after success: \"%s\"", procmapq_last_error());
	CHECK(procmapq_query(NULL, &addr, 1, NULL, &lk, &out) == -EINVAL, "query(NULL handle)");
	CHECK(procmapq_query(h, NULL, 1, NULL, &lk, &out) == -EINVAL, "query(addrs NULL, n 1)");
	CHECK(procmapq_query(h, &addr, 1, NULL, NULL, &out) == -EINVAL, "query(lookups NULL, n 1)");
	CHECK(procmapq_query(h, &addr, 1, NULL, &lk, NULL) == -EINVAL, "query(out NULL)");
	{
		/* Answers written over addresses not yet read would be wrong:
		 * lookups may not overlap addrs, in either direction. */
		static union {
			uint64_t addrs[12];
			struct procmapq_lookup lk[4];
		} shared;
		for (int i = 0; i < 12; i++)
			shared.addrs[i] = addr + (uint64_t)i;
		CHECK(procmapq_query(h, shared.addrs, 4, NULL, shared.lk, &out) == -EINVAL &&
			      strstr(procmapq_last_error(), "overlap"),
		      "query(lookups == addrs): \"%s\"", procmapq_last_error());
		CHECK(procmapq_query(h, shared.addrs + 2, 4, NULL, shared.lk, &out) == -EINVAL,
		      "query(lookups overlapping the front of addrs)");
		CHECK(procmapq_query(h, shared.addrs, 3, NULL, (struct procmapq_lookup *)(void *)(shared.addrs + 2), &out) == -EINVAL,
		      "query(lookups overlapping the back of addrs)");
		CHECK(procmapq_query(h, shared.addrs + 9, 3, NULL, shared.lk, &out) >= 0,
		      "query(lookups just below addrs): \"%s\"", procmapq_last_error());
	}
	CHECK(procmapq_query(h, NULL, 0, NULL, NULL, &out) == 0, "query of an empty batch");
	/* An empty array is never touched, whatever its pointer (Rust passes a
	 * dangling, aligned one for an empty slice). */
	CHECK(procmapq_query(h, (const uint64_t *)8, 0, NULL, (struct procmapq_lookup *)8, &out) == 0,
	      "query of an empty batch with dangling array pointers");
	struct procmapq_normalized *norm = NULL;
	CHECK(procmapq_normalize(h, (const uint64_t *)8, 0, NULL, &norm) == 0,
	      "normalize of an empty batch with a dangling array pointer");
	procmapq_normalized_free(norm);
	CHECK(strcmp(procmapq_last_error(), "") == 0, "last error not cleared by a successful call");
	/* Out of range: more than INT32_MAX addresses. The library must refuse
	 * before reading them (only one is really there). */
	int rc = procmapq_query(h, &addr, (size_t)INT32_MAX + 1, NULL, &lk, &out);
	CHECK(rc == -EINVAL, "query of INT32_MAX + 1 addresses: %d", rc);
	struct procmapq_vma_buf bad_out = out;
	bad_out.vmas = NULL; /* with vmas_cap 2 */
	rc = procmapq_query(h, &addr, 1, NULL, &lk, &bad_out);
	CHECK(rc == -EINVAL, "query with vmas NULL but vmas_cap 2: %d", rc);

	/* Unknown values. */
	PROCMAPQ_OPTS(procmapq_query_opts, bad_backend, .backend = 3);
	CHECK(query_self(h, &bad_backend) == -EINVAL, "backend 3");
	PROCMAPQ_OPTS(procmapq_query_opts, bad_flags, .flags = 0x80000000u);
	errno = 0;
	rc = query_self(h, &bad_flags);
	CHECK(rc == -EINVAL && errno == EINVAL, "unknown flag bit: %d errno %d", rc, errno);
	/* The message names the offending field, so a caller can fix it. */
	CHECK(strstr(procmapq_last_error(), "flags") != NULL, "message \"%s\" does not name the flags",
	      procmapq_last_error());
	PROCMAPQ_OPTS(procmapq_query_opts, bad_perms, .perms = 0x10);
	CHECK(query_self(h, &bad_perms) == -EINVAL, "unknown perm bit 0x10");
	CHECK(strstr(procmapq_last_error(), "perms") != NULL, "message \"%s\" does not name perms",
	      procmapq_last_error());
	PROCMAPQ_OPTS(procmapq_query_opts, bad_reserved, .reserved = 1);
	CHECK(query_self(h, &bad_reserved) == -EINVAL, "reserved field 1");
	CHECK(strstr(procmapq_last_error(), "reserved") != NULL, "message \"%s\" does not name the reserved field",
	      procmapq_last_error());
	CHECK(strlen(procmapq_last_error()) > 0, "no message after -EINVAL");
	PROCMAPQ_OPTS(procmapq_query_opts, bad_enum_flags, .flags = 0x100);
	CHECK(procmapq_enumerate(h, &bad_enum_flags, &out) == -EINVAL, "enumerate with unknown flag");
	CHECK(procmapq_enumerate(NULL, NULL, &out) == -EINVAL, "enumerate(NULL handle)");
	CHECK(procmapq_enumerate(h, NULL, NULL) == -EINVAL, "enumerate(out NULL)");
	CHECK(procmapq_pid(NULL) == -EINVAL, "pid(NULL)");
	CHECK(procmapq_pid(h) == getpid(), "pid of open(0) is %d, want %d", procmapq_pid(h), getpid());
	CHECK(procmapq_reopen(NULL) == -EINVAL, "reopen(NULL)");
	struct procmapq_compare_report *report = (struct procmapq_compare_report *)&report;
	CHECK(procmapq_compare(NULL, NULL, &report) == -EINVAL, "compare(NULL handle)");
	CHECK(procmapq_compare(h, NULL, NULL) == -EINVAL, "compare(out NULL)");
	procmapq_compare_report_free(NULL);
}

/* check_size_rule: smaller structs are zero-extended, larger ones accepted
 * only with a zero tail (else -E2BIG), size < 8 is -EINVAL, > 4096 -E2BIG. */
static void check_size_rule(struct procmapq *h)
{
	/* Smaller: size covers backend and flags only; the perms field past
	 * size holds an invalid value that must not be read. */
	struct procmapq_query_opts small = {.size = offsetof(struct procmapq_query_opts, perms), .perms = 0xffu};
	CHECK(query_self(h, &small) == 1, "query_opts of %zu bytes with garbage past size", (size_t)small.size);
	struct procmapq_query_opts tiny = {.size = 8, .backend = 99};
	CHECK(query_self(h, &tiny) == 1, "query_opts of 8 bytes (size only)");
	for (uint64_t size = 0; size < 8; size++) {
		struct procmapq_query_opts o = {.size = size};
		int rc = query_self(h, &o);
		CHECK(rc == -EINVAL, "query_opts size %llu: %d", (unsigned long long)size, rc);
	}
	struct query_opts_larger big = {.opts = {.size = sizeof big}};
	CHECK(query_self(h, &big) == 1, "query_opts of %zu bytes, zero tail", sizeof big);
	big.future[2] = 1;
	errno = 0;
	int rc = query_self(h, &big);
	CHECK(rc == -E2BIG && errno == E2BIG, "query_opts with a non-zero tail: %d errno %d", rc, errno);
	CHECK(strlen(procmapq_last_error()) > 0, "no message after -E2BIG");

	static uint64_t page[4096 / 8 + 1];
	memset(page, 0, sizeof page);
	page[0] = 4096;
	CHECK(query_self(h, page) == 1, "query_opts of 4096 bytes, zero tail");
	page[4095 / 8] = 1ull << 56; /* byte 4095 */
	CHECK(query_self(h, page) == -E2BIG, "query_opts of 4096 bytes, byte 4095 set");
	page[4095 / 8] = 0;
	page[0] = 4097;
	CHECK(query_self(h, page) == -E2BIG, "query_opts of 4097 bytes");

	/* The output struct: a smaller one does not get fields past its size. */
	uint64_t addr = (uint64_t)(uintptr_t)&check_size_rule;
	struct procmapq_lookup lk;
	struct procmapq_vma vmas[2];
	char names[8192];
	struct procmapq_vma_buf out = {.size = offsetof(struct procmapq_vma_buf, strategy), .vmas = vmas, .vmas_cap = 2,
				       .names = names, .names_cap = sizeof names, .strategy = 0xdead, .syscalls = 0xbeef};
	rc = procmapq_query(h, &addr, 1, NULL, &lk, &out);
	CHECK(rc == 1 && out.vmas_count == 1 && out.strategy == 0xdead && out.syscalls == 0xbeef,
	      "vma_buf without strategy/syscalls: rc %d count %llu strategy %#x syscalls %#x", rc,
	      (unsigned long long)out.vmas_count, out.strategy, out.syscalls);
	struct {
		struct procmapq_vma_buf buf;
		uint64_t future;
	} out_big = {.buf = {.size = sizeof out_big, .vmas = vmas, .vmas_cap = 2, .names = names, .names_cap = sizeof names},
		     .future = 0};
	rc = procmapq_query(h, &addr, 1, NULL, &lk, &out_big.buf);
	CHECK(rc == 1 && out_big.future == 0, "vma_buf larger with zero tail: %d", rc);
	out_big.future = 5;
	rc = procmapq_query(h, &addr, 1, NULL, &lk, &out_big.buf);
	CHECK(rc == -E2BIG, "vma_buf larger with non-zero tail: %d", rc);
	struct procmapq_vma_buf out_zero = {.size = 4};
	CHECK(procmapq_query(h, &addr, 1, NULL, &lk, &out_zero) == -EINVAL, "vma_buf size 4");

	/* open_opts: smaller (pid and flags past size are ignored), larger. */
	struct procmapq *h2 = NULL;
	struct procmapq_open_opts oo_small = {.size = offsetof(struct procmapq_open_opts, pid), .pid = 12345, .flags = 7};
	rc = procmapq_open(0, &oo_small, &h2);
	CHECK(rc == 0, "open_opts of %zu bytes with garbage past size: %d %s", (size_t)oo_small.size, rc,
	      procmapq_last_error());
	procmapq_close(h2);
	struct {
		struct procmapq_open_opts o;
		uint32_t future[2];
	} oo_big = {.o = {.size = sizeof oo_big}};
	rc = procmapq_open(0, &oo_big.o, &h2);
	CHECK(rc == 0, "open_opts larger with zero tail: %d", rc);
	procmapq_close(h2);
	h2 = NULL;
	oo_big.future[1] = 1;
	rc = procmapq_open(0, &oo_big.o, &h2);
	CHECK(rc == -E2BIG && h2 == NULL, "open_opts larger with non-zero tail: %d", rc);
	struct procmapq_open_opts oo_zero = {.size = 0};
	CHECK(procmapq_open(0, &oo_zero, &h2) == -EINVAL, "open_opts size 0");

	/* compare_opts: non-zero tail. */
	if (t_ioctl(procmapq_supports_procmap_query())) {
		struct {
			struct procmapq_compare_opts o;
			uint64_t future;
		} co = {.o = {.size = sizeof co}, .future = 1};
		struct procmapq_compare_report *report = NULL;
		rc = procmapq_compare(h, &co.o, &report);
		CHECK(rc == -E2BIG && report == NULL, "compare_opts larger with non-zero tail: %d", rc);
	}
}

/* check_bad_pointers: pointers into an inaccessible page give -EFAULT, not a
 * crash, and the handle keeps working. */
static void check_bad_pointers(struct procmapq *h)
{
	long page = sysconf(_SC_PAGESIZE);
	void *none = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(none != MAP_FAILED, "mmap PROT_NONE: %s", strerror(errno));
	if (none == MAP_FAILED)
		return;
	uint64_t addr = (uint64_t)(uintptr_t)&check_bad_pointers;
	struct procmapq_lookup lk;
	struct procmapq_vma vmas[2];
	char names[8192];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 2, .names = names, .names_cap = sizeof names);
	int rc = procmapq_query(h, none, 1, NULL, &lk, &out);
	CHECK(rc == -EFAULT, "unreadable addrs: %d", rc);
	char hex[32];
	snprintf(hex, sizeof hex, "%#lx", (unsigned long)(uintptr_t)none);
	CHECK(strstr(procmapq_last_error(), hex) != NULL, "message \"%s\" does not name the address %s",
	      procmapq_last_error(), hex);
	rc = procmapq_query(h, &addr, 1, none, &lk, &out);
	CHECK(rc == -EFAULT, "unreadable opts: %d", rc);
	rc = procmapq_query(h, &addr, 1, NULL, none, &out);
	CHECK(rc == -EFAULT, "unwritable lookups: %d", rc);
	struct procmapq_vma_buf bad = out;
	bad.vmas = none;
	rc = procmapq_query(h, &addr, 1, NULL, &lk, &bad);
	CHECK(rc == -EFAULT, "unwritable VMA array: %d", rc);
	bad = out;
	bad.names = none;
	bad.names_cap = (uint64_t)page;
	rc = procmapq_query(h, &addr, 1, NULL, &lk, &bad);
	CHECK(rc == -EFAULT, "unwritable names: %d", rc);
	rc = procmapq_enumerate(h, NULL, none);
	CHECK(rc == -EFAULT, "unreadable vma_buf: %d", rc);
	CHECK(query_self(h, NULL) == 1, "handle unusable after -EFAULT");
	munmap(none, (size_t)page);
}

static void check_close(void)
{
	CHECK(procmapq_close(NULL) == 0, "close(NULL)");
	struct procmapq *h = NULL;
	int rc = procmapq_open(0, NULL, &h);
	CHECK(rc == 0, "open self: %d", rc);
	CHECK(procmapq_close(h) == 0, "first close");
	/* The header promises -EBADF for a second close while the memory has
	 * not been reused; nothing is allocated in between. */
	rc = procmapq_close(h);
	CHECK(rc == -EBADF, "second close: %d", rc);

	struct procmapq *text = NULL;
	rc = procmapq_open_text(NULL, 0, NULL, &text);
	CHECK(rc == 0 && text, "open_text of an empty map: %d", rc);
	CHECK(procmapq_reopen(text) == -EINVAL, "reopen of a text handle");
	struct procmapq_compare_report *report = NULL;
	CHECK(procmapq_compare(text, NULL, &report) == -EINVAL, "compare of a text handle");
	CHECK(procmapq_pid(text) == 0, "pid of a text handle: %d", procmapq_pid(text));
	procmapq_close(text);
}

int main(void)
{
	check_version_and_probe();
	check_strerror();
	check_open_errors();
	struct procmapq *h = NULL;
	int rc = procmapq_open(0, NULL, &h);
	CHECK(rc == 0, "open self: %d %s", rc, procmapq_last_error());
	if (rc == 0) {
		check_query_arguments(h);
		check_size_rule(h);
		check_bad_pointers(h);
		procmapq_close(h);
	}
	check_close();
	return t_finish("arguments");
}
