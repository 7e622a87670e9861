/*
 * The public C API of libprocmapq (include/procmapq.h), a thin shim over
 * the private Go exports (pmqGo*). Including both the public header and
 * _cgo_export.h makes any drift between header, shim and Go a compile
 * error. The shim keeps what must not enter the Go runtime: the
 * per-thread error message, errno, the fork guard, and pure-C functions
 * (version, strerror, last_error, the frees).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "procmapq.h"
#include "internal.h"
#include "_cgo_export.h"

/* Detail message of the last failed call on this thread. */
static __thread char last_error[PMQ_MSG_MAX];

/* A child forked (without exec) from a process that loaded the library
 * must not call into Go: the Go runtime's threads did not survive the fork,
 * so the call can hang (docs/cshared-hazards.md, "Fork without exec").
 * Two signals, either enough:
 *   - forked, set by a pthread_atfork handler: fork(3) and posix_spawn's
 *     fallbacks run it;
 *   - alive_page, a page marked MADV_WIPEONFORK (Linux 4.14+): the kernel
 *     gives every child a zeroed copy, whatever made it (fork(3),
 *     syscall(SYS_fork), clone(2) without CLONE_VM), so one load tells.
 * Threads (CLONE_VM) share the page and are not mistaken for children. */
static volatile sig_atomic_t forked;
static volatile const unsigned char *alive_page;

static void on_fork_child(void) { forked = 1; }

__attribute__((constructor)) static void procmapq_shim_init(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	if (madvise(p, (size_t)pg, MADV_WIPEONFORK) != 0) {
		munmap(p, (size_t)pg); /* old kernel: the atfork handler only */
		return;
	}
	p[0] = 1;
	alive_page = p;
}

static int in_forked_child(void)
{
	return forked || (alive_page && alive_page[0] == 0);
}

/* result sets errno from a -errno return and passes it on. */
static int result(int rc)
{
	if (rc < 0)
		errno = -rc;
	return rc;
}

/* enter starts every call that may fail: it clears the message and
 * refuses to run in a forked child. */
static int enter(const char *fn)
{
	last_error[0] = '\0';
	if (in_forked_child()) {
		/* Plain copy, no stdio: keep this path trivially safe. */
		static const char why[] = ": called in a forked child; the Go runtime "
					  "does not survive fork() without exec()";
		size_t n = strlen(fn);
		if (n + sizeof(why) > sizeof(last_error))
			n = sizeof(last_error) - sizeof(why);
		memcpy(last_error, fn, n);
		memcpy(last_error + n, why, sizeof(why));
		return -ECHILD;
	}
	return 0;
}

#define ENTER()                                     \
	do {                                        \
		int enter_rc_ = enter(__func__);    \
		if (enter_rc_ < 0)                  \
			return result(enter_rc_);   \
	} while (0)

#define MSG last_error, sizeof(last_error)

/* bad_pointer refuses a non-NULL pointer below PMQ_MIN_POINTER before Go
 * sees it (see internal.h): the first page is never mapped, so it is a
 * bad address anyway. */
static int bad_pointer(const char *fn, const void *p)
{
	if ((uintptr_t)p == 0 || (uintptr_t)p >= PMQ_MIN_POINTER)
		return 0;
	snprintf(last_error, sizeof(last_error), "%s: bad address %p in an argument", fn, p);
	return 1;
}

#define CHECK_PTR(p)                                \
	do {                                        \
		if (bad_pointer(__func__, p))       \
			return result(-EFAULT);     \
	} while (0)

uint32_t procmapq_version(void)
{
	return PROCMAPQ_VERSION_NUMBER;
}

const char *procmapq_last_error(void)
{
	return last_error;
}

const char *procmapq_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0: return "success";
	case EINVAL: return "invalid argument (NULL, unknown flags, bad size or malformed maps text)";
	case E2BIG: return "struct larger than this library knows, with a non-zero tail";
	case ERANGE: return "output buffer too small (the sizes needed were written back)";
	case ESRCH: return "no such process, or it exited or exec'd since open";
	case EACCES: return "permission denied (reading the target's maps needs PTRACE_MODE_READ)";
	case EPERM: return "operation not permitted";
	case ENOTTY: return "PROCMAP_QUERY not supported (needs Linux 6.11 or later)";
	case EBADF: return "not an open handle or file descriptor";
	case EFAULT: return "bad address in an argument";
	case EAGAIN: return "the maps kept changing; try again";
	case ENOMEM: return "out of memory";
	case ECHILD: return "called in a child forked without exec; the Go runtime cannot run there";
	case ENOTRECOVERABLE: return "internal error in libprocmapq (a bug; see procmapq_last_error())";
	case ENOENT: return "no such file or directory";
	case ENAMETOOLONG: return "name too long";
	case EMFILE: return "too many open files in this process";
	case ENFILE: return "too many open files in the system";
	case EIO: return "input/output error";
	}
	return "unknown error";
}

int procmapq_supports_procmap_query(void)
{
	ENTER();
	return result(pmqGoSupports(MSG));
}

int procmapq_open(int pid, const struct procmapq_open_opts *opts, struct procmapq **out)
{
	ENTER();
	CHECK_PTR(opts);
	CHECK_PTR(out);
	return result(pmqGoOpen(pid, (struct procmapq_open_opts *)opts, out, MSG));
}

int procmapq_open_fd(int fd, const struct procmapq_open_opts *opts, struct procmapq **out)
{
	ENTER();
	CHECK_PTR(opts);
	CHECK_PTR(out);
	return result(pmqGoOpenFD(fd, (struct procmapq_open_opts *)opts, out, MSG));
}

int procmapq_open_text(const char *text, size_t len, const struct procmapq_open_opts *opts,
		       struct procmapq **out)
{
	ENTER();
	if (len == 0)
		text = NULL; /* an empty array is never read: any pointer will do */
	CHECK_PTR(text);
	CHECK_PTR(opts);
	CHECK_PTR(out);
	return result(pmqGoOpenText((char *)text, len, (struct procmapq_open_opts *)opts, out, MSG));
}

int procmapq_close(struct procmapq *h)
{
	if (h == NULL) {
		last_error[0] = '\0';
		return 0;
	}
	ENTER();
	CHECK_PTR(h);
	return result(pmqGoClose(h, MSG));
}

int procmapq_reopen(struct procmapq *h)
{
	ENTER();
	CHECK_PTR(h);
	return result(pmqGoReopen(h, MSG));
}

int procmapq_pid(const struct procmapq *h)
{
	ENTER();
	CHECK_PTR(h);
	return result(pmqGoPid((struct procmapq *)h, MSG));
}

int procmapq_query(struct procmapq *h, const uint64_t *addrs, size_t n,
		   const struct procmapq_query_opts *opts, struct procmapq_lookup *lookups,
		   struct procmapq_vma_buf *out)
{
	ENTER();
	if (n == 0) {
		/* Empty arrays are never read or written: any pointer will do
		 * (Rust passes a dangling one for an empty slice). */
		addrs = NULL;
		lookups = NULL;
	}
	CHECK_PTR(h);
	CHECK_PTR(addrs);
	CHECK_PTR(opts);
	CHECK_PTR(lookups);
	CHECK_PTR(out);
	return result(pmqGoQuery(h, (uint64_t *)addrs, n, (struct procmapq_query_opts *)opts,
				 lookups, out, MSG));
}

int procmapq_enumerate(struct procmapq *h, const struct procmapq_query_opts *opts,
		       struct procmapq_vma_buf *out)
{
	ENTER();
	CHECK_PTR(h);
	CHECK_PTR(opts);
	CHECK_PTR(out);
	return result(pmqGoEnumerate(h, (struct procmapq_query_opts *)opts, out, MSG));
}

int procmapq_compare(struct procmapq *h, const struct procmapq_compare_opts *opts,
		     struct procmapq_compare_report **out)
{
	ENTER();
	CHECK_PTR(h);
	CHECK_PTR(opts);
	CHECK_PTR(out);
	return result(pmqGoCompare(h, (struct procmapq_compare_opts *)opts, out, MSG));
}

void procmapq_compare_report_free(struct procmapq_compare_report *report)
{
	free(report); /* one calloc'd block, see capi/compare.go */
}

int procmapq_normalize(struct procmapq *h, const uint64_t *addrs, size_t n,
		       const struct procmapq_normalize_opts *opts, struct procmapq_normalized **out)
{
	ENTER();
	if (n == 0)
		addrs = NULL; /* never read: any pointer will do */
	CHECK_PTR(h);
	CHECK_PTR(addrs);
	CHECK_PTR(opts);
	CHECK_PTR(out);
	return result(pmqGoNormalize(h, (uint64_t *)addrs, n, (struct procmapq_normalize_opts *)opts,
				     out, MSG));
}

void procmapq_normalized_free(struct procmapq_normalized *res)
{
	free(res); /* one calloc'd block, see capi/normalize.go */
}
