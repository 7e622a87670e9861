/* cabi_hostile: hostile callers of the C ABI get defined errors, never a
 * crash.
 *
 *   cabi_hostile            run every case (exit 0 pass, 1 fail)
 *   cabi_hostile --dump-handle
 *                           (internal) open a handle and print its bytes,
 *                           as another library instance would hold them
 *
 * Cases: NULL and dangling pointers (unmapped, read-only, kernel
 * addresses) in every pointer argument, huge counts, every size-field case
 * of the extensible structs, unknown flags/backends/perms/reserved bits,
 * double close, use after close, a handle copied to other memory and a
 * handle from another library instance (another process). Before each
 * case its name goes to stderr, so a crash names the culprit. At the end
 * the open fd count must be back where it started.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "procmapq.h"

static long page;
static void *unmapped;  /* a PROT_NONE page, kept so nothing else lands there */
static void *readonly;  /* a PROT_READ page of zeros */
static void *const kernel_ptr = (void *)0xffff880000000000ull;

#define CASE(name) fprintf(stderr, "case %s\n", name)

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = -1; /* the DIR's own fd */
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2; /* . and .. */
}

/* expect checks rc == want and that the message names the function. */
#define EXPECT(call, want)                                                                  \
	do {                                                                                \
		int rc_ = (call);                                                           \
		CHECK(rc_ == (want), "%s = %d (%s), want %d; last error: %s", #call, rc_,    \
		      procmapq_strerror(rc_), (want), procmapq_last_error());               \
		if ((want) < 0)                                                             \
			CHECK(procmapq_last_error()[0] != 0, "%s: no message", #call);       \
	} while (0)

/* A size-first struct in a page-sized buffer, for size-field cases. */
static unsigned char big[8192] __attribute__((aligned(16)));

static void *sized(uint64_t size, size_t nonzero_at)
{
	memset(big, 0, sizeof big);
	memcpy(big, &size, 8);
	if (nonzero_at)
		big[nonzero_at] = 1;
	return big;
}

static void open_cases(void)
{
	struct procmapq *h = (void *)1;
	CASE("open: out NULL");
	EXPECT(procmapq_open(0, NULL, NULL), -EINVAL);
	CASE("open: negative pid");
	EXPECT(procmapq_open(-1, NULL, &h), -EINVAL);
	CHECK(h == NULL, "out not cleared on failure");
	CASE("open: no such pid");
	EXPECT(procmapq_open(INT_MAX, NULL, &h), -ESRCH);
	CASE("open: opts unmapped / kernel");
	EXPECT(procmapq_open(0, unmapped, &h), -EFAULT);
	EXPECT(procmapq_open(0, kernel_ptr, &h), -EFAULT);
	CASE("open: out unmapped / read-only");
	EXPECT(procmapq_open(0, NULL, unmapped), -EFAULT);
	EXPECT(procmapq_open(0, NULL, readonly), -EFAULT);
	CASE("open: opts size cases");
	EXPECT(procmapq_open(0, sized(0, 0), &h), -EINVAL);
	EXPECT(procmapq_open(0, sized(7, 0), &h), -EINVAL);
	EXPECT(procmapq_open(0, sized(8, 0), &h), 0);
	EXPECT(procmapq_close(h), 0);
	EXPECT(procmapq_open(0, sized(sizeof(struct procmapq_open_opts), 0), &h), 0);
	EXPECT(procmapq_close(h), 0);
	EXPECT(procmapq_open(0, sized(sizeof(struct procmapq_open_opts) + 64, 0), &h), 0);
	EXPECT(procmapq_close(h), 0);
	EXPECT(procmapq_open(0, sized(sizeof(struct procmapq_open_opts) + 64, sizeof(struct procmapq_open_opts) + 63), &h), -E2BIG);
	EXPECT(procmapq_open(0, sized(4096, 0), &h), 0);
	EXPECT(procmapq_close(h), 0);
	EXPECT(procmapq_open(0, sized(4097, 0), &h), -E2BIG);
	EXPECT(procmapq_open(0, sized(UINT64_MAX, 0), &h), -E2BIG);
	CASE("open: size says 4096 but the struct ends at an unmapped page");
	{
		/* the last 16 bytes of a page followed by a PROT_NONE page */
		char *edge = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(edge + page, page, PROT_NONE);
		char *p = edge + page - 16;
		memset(p, 0, 16);
		*(uint64_t *)p = 4096;
		EXPECT(procmapq_open(0, (void *)p, &h), -EFAULT);
		munmap(edge, 2 * page);
	}
	CASE("open: unknown flags, pid field, empty proc_root");
	PROCMAPQ_OPTS(procmapq_open_opts, f1, .flags = 1);
	EXPECT(procmapq_open(0, &f1, &h), -EINVAL);
	PROCMAPQ_OPTS(procmapq_open_opts, f2, .flags = 0x80000000u);
	EXPECT(procmapq_open(0, &f2, &h), -EINVAL);
	PROCMAPQ_OPTS(procmapq_open_opts, f3, .pid = 1);
	EXPECT(procmapq_open(0, &f3, &h), -EINVAL);
	PROCMAPQ_OPTS(procmapq_open_opts, f4, .proc_root = "");
	EXPECT(procmapq_open(0, &f4, &h), -EINVAL);
	PROCMAPQ_OPTS(procmapq_open_opts, f5, .proc_root = unmapped);
	EXPECT(procmapq_open(0, &f5, &h), -EFAULT);
	PROCMAPQ_OPTS(procmapq_open_opts, f6, .proc_root = "/nonexistent");
	CHECK(procmapq_open(0, &f6, &h) < 0, "proc_root /nonexistent opened");
	CASE("open_fd: bad fds");
	EXPECT(procmapq_open_fd(-1, NULL, &h), -EBADF);
	EXPECT(procmapq_open_fd(1 << 20, NULL, &h), -EBADF);
	int devnull = open("/dev/null", O_RDONLY);
	EXPECT(procmapq_open_fd(devnull, NULL, &h), -EINVAL);
	close(devnull);
	PROCMAPQ_OPTS(procmapq_open_opts, f7, .pid = -5);
	int maps = open("/proc/self/maps", O_RDONLY);
	EXPECT(procmapq_open_fd(maps, &f7, &h), -EINVAL);
	close(maps);
	CASE("open_text: NULL, unmapped, huge, malformed");
	EXPECT(procmapq_open_text(NULL, 5, NULL, &h), -EINVAL);
	EXPECT(procmapq_open_text(NULL, 0, NULL, &h), 0);
	EXPECT(procmapq_close(h), 0);
	EXPECT(procmapq_open_text(unmapped, 100, NULL, &h), -EFAULT);
	CHECK(procmapq_open_text("x", SIZE_MAX, NULL, &h) < 0, "SIZE_MAX text accepted");
	CHECK(procmapq_open_text(readonly, (size_t)1 << 40, NULL, &h) < 0, "1 TiB text accepted");
	EXPECT(procmapq_open_text("garbage\n", 8, NULL, &h), -EINVAL);
	EXPECT(procmapq_open_text("2000-1000 r--p 0 0:0 0\n", 23, NULL, &h), -EINVAL);
}

static void query_cases(struct procmapq *h)
{
	/* found in the live handle (&page), in the text handle (0x1800) */
	uint64_t addrs[4] = {(uint64_t)(uintptr_t)&page, 0x1800, UINT64_MAX, (uint64_t)(uintptr_t)query_cases};
	struct procmapq_lookup lk[4];
	struct procmapq_vma vmas[8];
	char names[8192];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 8, .names = names, .names_cap = sizeof names);
	CASE("query: baseline");
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &out), (int)out.vmas_count);
	CHECK(out.vmas_count > 0 && lk[2].reason == PROCMAPQ_REASON_UNMAPPED, "bad answers");
	/* out's counts are unspecified after the failures below (the header
	 * specifies them on success, -ERANGE and -ESRCH only): keep the
	 * baseline's, which the cases further down compare with. */
	const uint64_t base_vmas = out.vmas_count, base_names = out.names_len;
	CASE("query: NULL handle, dangling handles");
	EXPECT(procmapq_query(NULL, addrs, 4, NULL, lk, &out), -EINVAL);
	EXPECT(procmapq_query(unmapped, addrs, 4, NULL, lk, &out), -EFAULT);
	EXPECT(procmapq_query(kernel_ptr, addrs, 4, NULL, lk, &out), -EFAULT);
	EXPECT(procmapq_query(readonly, addrs, 4, NULL, lk, &out), -EBADF);
	EXPECT(procmapq_query((void *)names, addrs, 4, NULL, lk, &out), -EBADF);
	CASE("query: NULL and dangling arrays");
	EXPECT(procmapq_query(h, NULL, 4, NULL, lk, &out), -EINVAL);
	EXPECT(procmapq_query(h, addrs, 4, NULL, NULL, &out), -EINVAL);
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, NULL), -EINVAL);
	EXPECT(procmapq_query(h, NULL, 0, NULL, NULL, &out), 0);
	EXPECT(procmapq_query(h, unmapped, 4, NULL, lk, &out), -EFAULT);
	EXPECT(procmapq_query(h, kernel_ptr, 4, NULL, lk, &out), -EFAULT);
	EXPECT(procmapq_query(h, addrs, 4, NULL, unmapped, &out), -EFAULT);
	EXPECT(procmapq_query(h, addrs, 4, NULL, readonly, &out), -EFAULT);
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, unmapped), -EFAULT);
	EXPECT(procmapq_query(h, addrs, 4, unmapped, lk, &out), -EFAULT);
	CASE("query: huge counts");
	EXPECT(procmapq_query(h, addrs, SIZE_MAX, NULL, lk, &out), -EINVAL);
	EXPECT(procmapq_query(h, addrs, (size_t)INT32_MAX + 1, NULL, lk, &out), -EINVAL);
	/* INT32_MAX addresses claimed, 4 real: a fault, never a 16 GiB
	 * allocation that kills the host. The lookups live in .bss, below the
	 * stack's addrs, so the claimed array cannot overlap them (which is
	 * -EINVAL, checked before the pointers) and the fault is what is
	 * tested. */
	static struct procmapq_lookup lk_below[4];
	CHECK((uintptr_t)(lk_below + 4) <= (uintptr_t)addrs, "lk_below %p not below addrs %p", (void *)lk_below,
	      (void *)addrs);
	EXPECT(procmapq_query(h, addrs, INT32_MAX, NULL, lk_below, &out), -EFAULT);
	EXPECT(procmapq_query(h, addrs, 1u << 24, NULL, lk_below, &out), -EFAULT);
	/* Lookups over the addresses: -EINVAL (the header's rule), never
	 * answers written over addresses not yet read. */
	struct procmapq_vma_buf ob = out;
	EXPECT(procmapq_query(h, addrs, 4, NULL, (struct procmapq_lookup *)(void *)addrs, &ob), -EINVAL);
	CASE("query: output arrays");
	out.vmas_count = base_vmas, out.names_len = base_names;
	struct procmapq_vma_buf b = out;
	b.vmas = NULL;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), -EINVAL);
	b = out, b.names = NULL;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), -EINVAL);
	b = out, b.vmas = unmapped;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), -EFAULT);
	b = out, b.names = readonly;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), -EFAULT);
	b = out, b.vmas_cap = 0, b.vmas = NULL;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), -ERANGE);
	CHECK(b.vmas_count == out.vmas_count, "-ERANGE: vmas_count %lu, need %lu", (unsigned long)b.vmas_count,
	      (unsigned long)out.vmas_count);
	b = out, b.names_cap = 1;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), out.names_len > 1 ? -ERANGE : (int)out.vmas_count);
	CHECK(b.names_len == out.names_len, "-ERANGE: names_len %lu, need %lu", (unsigned long)b.names_len,
	      (unsigned long)out.names_len);
	b = out, b.vmas_cap = UINT64_MAX; /* more than the address space */
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), -EINVAL);
	b = out, b.names_cap = UINT64_MAX;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, &b), -EINVAL);
	CASE("query: vma_buf size cases");
	struct procmapq_vma_buf *sb = sized(0, 0);
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, sb), -EINVAL);
	sb = sized(7, 0);
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, sb), -EINVAL);
	sb = sized(sizeof out + 32, 0);
	memcpy((char *)sb + 8, (char *)&out + 8, sizeof out - 8);
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, sb), (int)out.vmas_count);
	big[sizeof out + 31] = 7;
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, sb), -E2BIG);
	sb = sized(8, 0); /* knows no arrays: every output needs room */
	CHECK(procmapq_query(h, addrs, 4, NULL, lk, sb) < 0, "8-byte vma_buf accepted");
	sb = sized(4097, 0);
	EXPECT(procmapq_query(h, addrs, 4, NULL, lk, sb), -E2BIG);
	CASE("query: opts size, flags, backend, perms, reserved");
	EXPECT(procmapq_query(h, addrs, 4, sized(0, 0), lk, &out), -EINVAL);
	EXPECT(procmapq_query(h, addrs, 4, sized(8, 0), lk, &out), (int)out.vmas_count);
	EXPECT(procmapq_query(h, addrs, 4, sized(sizeof(struct procmapq_query_opts) + 8, 0), lk, &out),
	       (int)out.vmas_count);
	EXPECT(procmapq_query(h, addrs, 4, sized(sizeof(struct procmapq_query_opts) + 8, sizeof(struct procmapq_query_opts)), lk, &out),
	       -E2BIG);
	EXPECT(procmapq_query(h, addrs, 4, sized(UINT64_MAX, 0), lk, &out), -E2BIG);
	PROCMAPQ_OPTS(procmapq_query_opts, o1, .backend = 3);
	EXPECT(procmapq_query(h, addrs, 4, &o1, lk, &out), -EINVAL);
	PROCMAPQ_OPTS(procmapq_query_opts, o2, .backend = UINT32_MAX);
	EXPECT(procmapq_query(h, addrs, 4, &o2, lk, &out), -EINVAL);
	PROCMAPQ_OPTS(procmapq_query_opts, o3, .flags = 0x8);
	EXPECT(procmapq_query(h, addrs, 4, &o3, lk, &out), -EINVAL);
	PROCMAPQ_OPTS(procmapq_query_opts, o4, .flags = 0x80000000u);
	EXPECT(procmapq_query(h, addrs, 4, &o4, lk, &out), -EINVAL);
	PROCMAPQ_OPTS(procmapq_query_opts, o5, .perms = 0x10);
	EXPECT(procmapq_query(h, addrs, 4, &o5, lk, &out), -EINVAL);
	PROCMAPQ_OPTS(procmapq_query_opts, o6, .reserved = 1);
	EXPECT(procmapq_query(h, addrs, 4, &o6, lk, &out), -EINVAL);
	CASE("enumerate: arguments");
	struct procmapq_vma ev[512];
	static char en[1 << 16];
	PROCMAPQ_OPTS(procmapq_vma_buf, eo, .vmas = ev, .vmas_cap = 512, .names = en, .names_cap = sizeof en);
	int nvmas = procmapq_enumerate(h, NULL, &eo);
	CHECK(nvmas > 0, "enumerate: %s", procmapq_last_error());
	EXPECT(procmapq_enumerate(NULL, NULL, &eo), -EINVAL);
	EXPECT(procmapq_enumerate(unmapped, NULL, &eo), -EFAULT);
	EXPECT(procmapq_enumerate(h, NULL, NULL), -EINVAL);
	EXPECT(procmapq_enumerate(h, unmapped, &eo), -EFAULT);
	EXPECT(procmapq_enumerate(h, NULL, unmapped), -EFAULT);
	EXPECT(procmapq_enumerate(h, &o1, &eo), -EINVAL);
	EXPECT(procmapq_enumerate(h, &o5, &eo), -EINVAL);
	b = eo, b.vmas = readonly;
	EXPECT(procmapq_enumerate(h, NULL, &b), -EFAULT);
	b = eo, b.vmas_cap = 1;
	EXPECT(procmapq_enumerate(h, NULL, &b), nvmas > 1 ? -ERANGE : nvmas);
	CASE("compare: arguments");
	struct procmapq_compare_report *rep = (void *)1;
	EXPECT(procmapq_compare(h, NULL, NULL), -EINVAL);
	EXPECT(procmapq_compare(h, NULL, unmapped), -EFAULT);
	EXPECT(procmapq_compare(h, unmapped, &rep), -EFAULT);
	EXPECT(procmapq_compare(h, sized(0, 0), &rep), -EINVAL);
	EXPECT(procmapq_compare(h, sized(4097, 0), &rep), -E2BIG);
	EXPECT(procmapq_compare(NULL, NULL, &rep), -EINVAL);
	procmapq_compare_report_free(NULL);
	CASE("reopen / pid: arguments");
	EXPECT(procmapq_reopen(NULL), -EINVAL);
	EXPECT(procmapq_reopen(unmapped), -EFAULT);
	EXPECT(procmapq_pid(NULL), -EINVAL);
	EXPECT(procmapq_pid(unmapped), -EFAULT);
	EXPECT(procmapq_pid(kernel_ptr), -EFAULT);
}

/* dump_handle prints the bytes of a handle of this (other) instance. */
static int dump_handle(void)
{
	struct procmapq *h;
	if (procmapq_open(0, NULL, &h) != 0)
		return 1;
	unsigned char *p = (unsigned char *)h;
	for (int i = 0; i < 16; i++)
		printf("%02x", p[i]);
	printf("\n");
	fflush(stdout);
	return 0;
}

static void handle_cases(void)
{
	struct procmapq *h, *other[4];
	CASE("double close, use after close");
	EXPECT(procmapq_open(0, NULL, &h), 0);
	EXPECT(procmapq_close(h), 0);
	EXPECT(procmapq_close(h), -EBADF);
	EXPECT(procmapq_pid(h), -EBADF);
	EXPECT(procmapq_reopen(h), -EBADF);
	uint64_t a = 1;
	struct procmapq_lookup lk;
	struct procmapq_vma v;
	char names[64];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = &v, .vmas_cap = 1, .names = names, .names_cap = 64);
	EXPECT(procmapq_query(h, &a, 1, NULL, &lk, &out), -EBADF);
	EXPECT(procmapq_enumerate(h, NULL, &out), -EBADF);
	EXPECT(procmapq_close(NULL), 0);

	CASE("a handle copied to other memory");
	EXPECT(procmapq_open(0, NULL, &h), 0);
	unsigned char copy[64] __attribute__((aligned(16)));
	memcpy(copy, h, 16);
	EXPECT(procmapq_pid((struct procmapq *)copy), -EBADF);
	EXPECT(procmapq_close((struct procmapq *)copy), -EBADF);
	EXPECT(procmapq_pid(h), (int)getpid());
	EXPECT(procmapq_close(h), 0);

	CASE("a handle from another library instance");
	/* Open a few handles here so that the other instance's first handle
	 * has the same internal number as one of ours. */
	for (int i = 0; i < 4; i++)
		EXPECT(procmapq_open(0, NULL, &other[i]), 0);
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof cmd, "/proc/%d/exe --dump-handle", (int)getpid());
	FILE *p = popen(cmd, "r");
	char hex[64] = {0};
	CHECK(p && fgets(hex, sizeof hex, p), "no handle from the other instance");
	if (p)
		pclose(p);
	unsigned char foreign[16] __attribute__((aligned(16)));
	for (int i = 0; i < 16; i++)
		sscanf(hex + 2 * i, "%2hhx", &foreign[i]);
	EXPECT(procmapq_pid((struct procmapq *)foreign), -EBADF);
	EXPECT(procmapq_close((struct procmapq *)foreign), -EBADF);
	for (int i = 0; i < 4; i++)
		EXPECT(procmapq_close(other[i]), 0);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--dump-handle") == 0)
		return dump_handle();
	page = sysconf(_SC_PAGESIZE);
	CHECK(procmapq_supports_procmap_query() >= 0, "probe failed");
	int fds = count_fds();
	if (getenv("PMQ_DEBUG_FDS"))
		if (system("ls -l /proc/$PPID/fd >&2")) {}
	unmapped = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	readonly = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CASE("strerror, last_error");
	for (int e = -200; e <= 200; e++)
		CHECK(procmapq_strerror(e) != NULL, "strerror(%d) NULL", e);
	CHECK(procmapq_strerror(INT_MIN) != NULL, "strerror(INT_MIN) NULL");
	CHECK(procmapq_last_error() != NULL, "last_error NULL");
	CHECK(procmapq_version() == PROCMAPQ_VERSION_NUMBER, "version %u", procmapq_version());

	open_cases();
	struct procmapq *h;
	EXPECT(procmapq_open(0, NULL, &h), 0);
	query_cases(h);
	EXPECT(procmapq_close(h), 0);
	EXPECT(procmapq_open_text("1000-2000 r--p 0 0:0 0\n", 23, NULL, &h), 0);
	query_cases(h);
	struct procmapq_compare_report *rep;
	EXPECT(procmapq_compare(h, NULL, &rep), -EINVAL);
	EXPECT(procmapq_reopen(h), -EINVAL);
	EXPECT(procmapq_close(h), 0);
	handle_cases();
	int after = count_fds();
	CHECK(after == fds, "open fds %d -> %d", fds, after);
	if (after != fds)
		if (system("ls -l /proc/$PPID/fd >&2")) {}
	printf("FIGURE hostile-cabi: checks=%d failed=%d fds_before=%d fds_after=%d\n", t_passed + t_failed, t_failed,
	       fds, after);
	return t_finish("cabi_hostile");
}
