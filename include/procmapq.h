/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * procmapq.h - which mapping covers this address, at which file offset, in
 * which ELF file with which build ID, for any Linux process.
 *
 * libprocmapq answers batches of address lookups against another process's
 * (or its own) memory map. It uses the PROCMAP_QUERY ioctl on
 * /proc/<pid>/maps (Linux 6.11 or later) and falls back to an exact parser
 * of the maps text on older kernels, with the same results.
 *
 * Typical use:
 *
 *     struct procmapq *h;
 *     if (procmapq_open(pid, NULL, &h) < 0) { ... procmapq_last_error() ... }
 *     struct procmapq_lookup lk[N];
 *     struct procmapq_vma vmas[N];
 *     char names[N * 256];
 *     PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = N,
 *                   .names = names, .names_cap = sizeof(names));
 *     int rc = procmapq_query(h, addrs, N, NULL, lk, &out);
 *     ... lk[i].vma is an index into vmas (or -1, lk[i].reason says why) ...
 *     procmapq_close(h);
 *
 * Error handling
 * --------------
 * Every fallible function returns int: >= 0 on success (0 or a count), a
 * negative errno value on failure. It also sets errno to the positive
 * value, and leaves a message naming the pid, path or address involved for
 * procmapq_last_error() on the calling thread. procmapq_strerror() explains
 * a code. The codes used:
 *   -EINVAL        bad argument: NULL where not allowed, unknown flag bits,
 *                  options struct with size < 8, malformed maps text
 *   -E2BIG         an input struct is larger than this library knows and its
 *                  extra tail is not zero (only this; never "buffer too small")
 *   -ERANGE        a caller-provided output array or buffer is too small; the
 *                  sizes needed are written back (see each function)
 *   -ESRCH         no such process, or it exited/exec'd since open
 *   -EACCES/-EPERM the caller may not read the target's maps
 *   -ENOTTY        PROCMAP_QUERY is needed (forced ioctl backend, compare)
 *                  but the kernel lacks it (needs Linux 6.11)
 *   -EBADF         a closed (or never opened) handle, where detectable
 *   -EFAULT        a pointer argument points to unreadable/unwritable memory
 *                  (detected where the Go runtime can recover the fault)
 *   -ENOMEM        out of memory
 *   -ECHILD        called in a child forked (without exec) from the process
 *                  that loaded the library: the Go runtime cannot run there
 *   -ENOTRECOVERABLE  internal error in the library (a bug; please report
 *                  the procmapq_last_error() text)
 * Other errno values from open(2), read(2) and ioctl(2) are passed through.
 *
 * Thread safety
 * -------------
 * All functions may be called from any number of threads at once. A handle
 * may be shared by threads: calls on one handle are serialized inside the
 * library; calls on different handles run in parallel. Global state is only
 * the cached PROCMAP_QUERY probe and the per-thread error message. The one
 * exception is procmapq_close(): no other call may use the handle during or
 * after it.
 *
 * Compatibility
 * -------------
 * Structs that start with "uint64_t size" are extensible input (or in/out)
 * structs. Set size = sizeof(struct ...) as compiled (PROCMAPQ_OPTS does it)
 * and zero every field you do not set. The library follows the kernel's
 * copy_struct_from_user() rule: a smaller struct (older caller) is
 * zero-extended; a larger one (newer caller) is accepted only if the bytes
 * the library does not know are all zero, else -E2BIG; size < 8 or > 4096 is
 * -EINVAL/-E2BIG. Unknown flag bits give -EINVAL. Out fields beyond the
 * caller's size are not written. Output element structs (procmapq_vma,
 * procmapq_lookup, ...) have fixed sizes and reserved fields that are
 * written as zero, so array strides never change within a major version.
 * Every field has a fixed width and there is no implicit padding. The ABI
 * targets 64-bit Linux (x86-64, arm64).
 *
 * Symbols are versioned (node PROCMAPQ_<major>.<minor>); the soname is
 * libprocmapq.so.<major>. New functions come with a new minor version.
 *
 * Hosting a Go runtime
 * --------------------
 * libprocmapq is written in Go and built as a C shared library: loading it
 * starts a Go runtime inside your process. That means:
 *   - Load cost: dlopen plus the first call take milliseconds: 8.7-23.5 ms
 *     (median about 13 ms) measured in 40 runs of a small C program
 *     (dlopen, one call) on a 2-core VM busy with other work (load
 *     average about 4); about 2 ms on a quieter run. The process
 *     gains about 3.3 MiB RSS, about 1.5 GiB of reserved (not committed)
 *     virtual memory and 5 threads (measured by `make bench` on a 2-core
 *     VM with GOMAXPROCS=2).
 *   - The Go runtime keeps file descriptors of its own for the life of the
 *     process, opened at load: the cgroup CPU-limit files it re-reads for
 *     GOMAXPROCS (two on cgroup v1: cpu.cfs_quota_us and cpu.cfs_period_us,
 *     seen after load, open, query, normalize and compare; none of epoll
 *     or eventfd there), plus an epoll descriptor and an eventfd if its
 *     poller starts. Do not close them (closefrom(), "close all other
 *     descriptors" in daemonizing code). The library's own descriptors are
 *     O_CLOEXEC: a pid handle's maps fd until procmapq_close().
 *   - The first call on each thread costs a few microseconds (the thread is
 *     attached to the runtime; 4-9 us there, 10-35 us reported elsewhere);
 *     later calls cost about 100-150 ns plus the work. Call
 *     procmapq_supports_procmap_query() once on each long-lived thread to
 *     warm it up, and batch addresses: one call per batch, not per address.
 *   - Signal handlers installed after loading must use SA_ONSTACK and use
 *     well under 28 KiB of stack on threads that have called the library.
 *     SIGURG belongs to the Go runtime (preemption). Install SIGSEGV/SIGBUS
 *     handlers (crash reporters, Python faulthandler) BEFORE loading, so the
 *     runtime can chain to them.
 *   - Never call procmapq_* from a signal handler, from an ELF constructor,
 *     or in a child forked without exec (it returns -ECHILD there, instead
 *     of hanging in the Go runtime, however the child was made: fork(),
 *     syscall(SYS_fork) or clone() without CLONE_VM; before Linux 4.14
 *     only fork() is detected). fork()+exec() is fine.
 *   - Only one Go runtime per process: do not load libprocmapq into a
 *     process that loads another Go shared library. Go programs should
 *     import the Go package (github.com/libprocmapq/libprocmapq/core)
 *     instead.
 *   - The library cannot be unloaded (dlclose keeps it mapped), and musl's
 *     dlopen cannot load it (glibc only).
 *   - The runtime reads GOMAXPROCS, GOGC, GOMEMLIMIT, GODEBUG and
 *     GOTRACEBACK from the environment at load time.
 *   - Never pass memory that another thread frees or remaps during a call.
 */
#ifndef PROCMAPQ_H
#define PROCMAPQ_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifndef PROCMAPQ_API
#define PROCMAPQ_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------ */

#define PROCMAPQ_VERSION_MAJOR 0
#define PROCMAPQ_VERSION_MINOR 1
#define PROCMAPQ_VERSION_PATCH 0
#define PROCMAPQ_VERSION_NUMBER                                              \
	(PROCMAPQ_VERSION_MAJOR * 10000 + PROCMAPQ_VERSION_MINOR * 100 +     \
	 PROCMAPQ_VERSION_PATCH)

/* PROCMAPQ_OPTS(TYPE, NAME, ...) declares "struct TYPE NAME" with size set
 * and every other field zero unless given, e.g.
 * PROCMAPQ_OPTS(procmapq_query_opts, o, .backend = PROCMAPQ_BACKEND_TEXT);
 * (C99 designated initializers; in C++ use aggregate init and set .size). */
#define PROCMAPQ_OPTS(TYPE, NAME, ...)                                       \
	struct TYPE NAME = { .size = sizeof(struct TYPE), __VA_ARGS__ }

/**
 * procmapq_version - the library's version number at run time.
 * @return PROCMAPQ_VERSION_NUMBER of the loaded library (compare it with the
 * macro to detect a header/library mismatch). Never fails. Thread-safe, any
 * kernel, does not enter the Go runtime.
 */
PROCMAPQ_API uint32_t procmapq_version(void);

/**
 * procmapq_supports_procmap_query - whether the kernel has PROCMAP_QUERY.
 * Probes once per process with one ioctl on /proc/self/maps and caches a
 * conclusive answer (an inconclusive probe is retried next call). The
 * environment variable PROCMAPQ_FORCE_PROBE=0/1, read at load time, forces
 * the answer (for tests).
 * @return 1 if supported (Linux 6.11+), 0 if not (queries then use the text
 * backend), negative errno if the probe could not run (e.g. /proc missing).
 * Thread-safe; any kernel.
 */
PROCMAPQ_API int procmapq_supports_procmap_query(void);

/**
 * procmapq_strerror - a short static description of an error code.
 * @err: a code returned by this library, either sign.
 * @return a static NUL-terminated string (never NULL, never freed); unknown
 * codes give "unknown error". Thread-safe; any kernel; does not enter the
 * Go runtime.
 */
PROCMAPQ_API const char *procmapq_strerror(int err);

/**
 * procmapq_last_error - detail of the last failed call on this thread.
 * Every fallible call clears it on entry and, on failure, sets a message
 * such as "procmapq: open pid 42 /proc/42/maps: permission denied".
 * @return a NUL-terminated string owned by the library, valid on this
 * thread until its next procmapq_* call; "" if the last call succeeded.
 * Never NULL. Per-thread; any kernel; does not enter the Go runtime.
 */
PROCMAPQ_API const char *procmapq_last_error(void);

/* ------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------ */

/* An open target address space (opaque). Safe to share between threads. */
struct procmapq;

struct procmapq_open_opts {
	uint64_t size;          /* in: sizeof(struct procmapq_open_opts) */
	const char *proc_root;  /* in: procfs mount point; NULL = "/proc" */
	int32_t pid;            /* in: procmapq_open_fd only: pid the fd belongs
				 * to (messages, locating files); 0 = unknown.
				 * Must be 0 for the other open functions. */
	uint32_t flags;         /* in: must be 0 (none defined yet) */
};

/**
 * procmapq_open - open process @pid's address space by /proc/<pid>/maps.
 * The maps file stays open until procmapq_close(), bound to the process
 * that had @pid at open: if it exits, calls say -ESRCH, never answering for
 * a process that reuses the pid. One open(2); close is one close(2). Works
 * on every kernel; PROCMAP_QUERY (6.11+) is used when available. A process
 * whose main thread exited while others run is answered from a live
 * thread's view; a zombie or a kernel thread gets -ESRCH saying which.
 * @pid: target pid; 0 = the calling process.
 * @opts: may be NULL (defaults). Not kept after the call.
 * @out: must not be NULL; receives the handle on success (NULL on failure).
 * The caller owns the handle and frees it with procmapq_close().
 * @return 0, or -EINVAL (pid < 0, bad opts, out NULL), -ESRCH (no such
 * process), -EACCES/-EPERM (no PTRACE_MODE_READ access), -EMFILE, -ENOMEM.
 * Thread-safe. Any kernel (PROCMAP_QUERY, 6.11+, is used when present).
 */
PROCMAPQ_API int procmapq_open(int pid, const struct procmapq_open_opts *opts,
			       struct procmapq **out);

/**
 * procmapq_open_fd - open a handle on a /proc/<pid>/maps file descriptor,
 * typically one the target opened on /proc/self/maps and passed over a unix
 * socket, so the caller needs no privilege over the target.
 * @fd: an open procfs maps file; it is duplicated, the caller keeps its own.
 * @opts: may be NULL; opts->pid names the target if known.
 * @out: must not be NULL; receives the handle (NULL on failure), freed with
 * procmapq_close().
 * @return 0, or -EINVAL (fd is not a procfs file, bad opts), -EBADF (fd not
 * open), -EMFILE. Thread-safe; any kernel.
 */
PROCMAPQ_API int procmapq_open_fd(int fd, const struct procmapq_open_opts *opts,
				  struct procmapq **out);

/**
 * procmapq_open_text - open a handle on a captured maps text (e.g. one
 * saved at sample time, for symbolizing after the process exited).
 * The text is copied and parsed once; queries are answered from it with the
 * text backend whatever backend they ask for.
 * @text: @len bytes in /proc/<pid>/maps format (need not be NUL-terminated);
 * NULL (or any pointer: it is not read) when @len is 0 (an empty map).
 * @opts: may be NULL; opts->pid must be 0.
 * @out: must not be NULL; receives the handle, freed with procmapq_close().
 * @return 0, or -EINVAL (procmapq_last_error() names the line: malformed,
 * unsorted or overlapping, a start or end not a multiple of 4096, a NUL
 * byte in a name; or @len over 1 GiB), -ENOMEM. Thread-safe; any kernel.
 */
PROCMAPQ_API int procmapq_open_text(const char *text, size_t len,
				    const struct procmapq_open_opts *opts,
				    struct procmapq **out);

/**
 * procmapq_close - close a handle and free it.
 * @h: a handle from procmapq_open*(), or NULL (then nothing happens).
 * No call on @h may be running or follow. A second close of the same pointer
 * is detected and returns -EBADF as long as that memory has not been
 * reused by a new allocation; after reuse the behaviour is undefined (as
 * for free()).
 * @return 0, or -EBADF (not a live handle). Thread-safe for distinct
 * handles; any kernel.
 */
PROCMAPQ_API int procmapq_close(struct procmapq *h);

/**
 * procmapq_reopen - reopen a pid handle's maps file after its process
 * exec'd (queries then fail with -ESRCH).
 * @h: a handle from procmapq_open(); must not be NULL.
 * The file is reopened through /proc/self/fd, which reaches the same
 * process (its new image after an exec) and fails once it is gone.
 * @return 0, or -ESRCH (the process is gone, or its pid now belongs to
 * another process), -EINVAL (fd and text handles cannot be reopened),
 * -EBADF. Thread-safe; any kernel.
 */
PROCMAPQ_API int procmapq_reopen(struct procmapq *h);

/**
 * procmapq_pid - the target's pid.
 * @return the pid (> 0), 0 when unknown (fd handles opened without
 * opts->pid, text handles), -EBADF/-EINVAL for a bad or NULL handle.
 * Thread-safe; any kernel.
 */
PROCMAPQ_API int procmapq_pid(const struct procmapq *h);

/* ------------------------------------------------------------------------
 * Query and enumeration
 * ------------------------------------------------------------------------ */

/* Backends (procmapq_query_opts.backend). */
#define PROCMAPQ_BACKEND_AUTO  0 /* cheapest per call; text on old kernels */
#define PROCMAPQ_BACKEND_IOCTL 1 /* PROCMAP_QUERY only; -ENOTTY before 6.11 */
#define PROCMAPQ_BACKEND_TEXT  2 /* read and parse the whole maps text */

/* Query flags (procmapq_query_opts.flags). */
#define PROCMAPQ_QUERY_SORTED      0x1u /* addrs are ascending (skips a sort;
					 * unsorted input is still correct) */
#define PROCMAPQ_QUERY_BUILD_IDS   0x2u /* fill build_id from the kernel
					 * (ioctl backend only) */
#define PROCMAPQ_QUERY_FILE_BACKED 0x4u /* only VMAs that map a file */

/* VMA permissions (procmapq_vma.perms, procmapq_query_opts.perms): the
 * kernel's PROCMAP_QUERY_VMA_* values. */
#define PROCMAPQ_PERM_R      0x1u
#define PROCMAPQ_PERM_W      0x2u
#define PROCMAPQ_PERM_X      0x4u
#define PROCMAPQ_PERM_SHARED 0x8u /* 's' in maps (VM_MAYSHARE); 'p' if clear */

struct procmapq_query_opts {
	uint64_t size;    /* in: sizeof(struct procmapq_query_opts) */
	uint32_t backend; /* in: PROCMAPQ_BACKEND_*; 0 = auto */
	uint32_t flags;   /* in: PROCMAPQ_QUERY_* bits */
	uint32_t perms;   /* in: PROCMAPQ_PERM_* bits a VMA must all have (AND,
			   * as the kernel: an exec-only VMA does not match
			   * R|X); 0 = any */
	uint32_t reserved; /* in: must be 0 */
};

/* What backs a VMA, as far as its name tells (procmapq_vma.kind). */
#define PROCMAPQ_KIND_ANONYMOUS    0 /* no name */
#define PROCMAPQ_KIND_FILE         1 /* a file path */
#define PROCMAPQ_KIND_DELETED_FILE 2 /* path ending in " (deleted)": unlinked
				      * file, memfd, shared anonymous memory */
#define PROCMAPQ_KIND_NAMED_ANON   3 /* "[anon:NAME]" or "[anon_shmem:NAME]" */
#define PROCMAPQ_KIND_HEAP         4 /* "[heap]" */
#define PROCMAPQ_KIND_STACK        5 /* "[stack]" */
#define PROCMAPQ_KIND_VDSO         6 /* "[vdso]" */
#define PROCMAPQ_KIND_VVAR         7 /* "[vvar]", "[vvar_vclock]" */
#define PROCMAPQ_KIND_VSYSCALL     8 /* "[vsyscall]" (text backend only) */
#define PROCMAPQ_KIND_SPECIAL      9 /* any other "[...]" name */

/* Facts about a VMA's name (procmapq_vma.flags). */
#define PROCMAPQ_VMA_DELETED          0x1u /* name ends in " (deleted)" */
#define PROCMAPQ_VMA_NAME_AMBIGUOUS   0x2u /* text backend turned "\012" into
					    * a newline; the path may really
					    * hold the 4 bytes "\012" */
#define PROCMAPQ_VMA_NAME_UNAVAILABLE 0x4u /* forced ioctl backend only:
					    * path >= PATH_MAX, which the
					    * ioctl cannot return; name
					    * empty. Auto and text fill it
					    * from the text. */
/* From the auto backend, DELETED and NAME_AMBIGUOUS can appear (as from
 * text); NAME_UNAVAILABLE cannot. */

#define PROCMAPQ_BUILD_ID_MAX 20 /* the kernel reports build IDs <= 20 bytes */

/* One VMA (output element; fixed 128 bytes). */
struct procmapq_vma {
	uint64_t start;        /* out: first address (page aligned) */
	uint64_t end;          /* out: one past the last address */
	uint64_t offset;       /* out: file offset of start; 0 if anonymous */
	uint64_t inode;        /* out */
	uint64_t page_size;    /* out: kernel page size of the VMA (huge page
				* size for hugetlb); 0 = unknown (text) */
	uint64_t name_off;     /* out: offset of the name in the names buffer */
	uint32_t dev_major;    /* out */
	uint32_t dev_minor;    /* out */
	uint32_t perms;        /* out: PROCMAPQ_PERM_* */
	uint32_t kind;         /* out: PROCMAPQ_KIND_* */
	uint32_t flags;        /* out: PROCMAPQ_VMA_* */
	uint32_t name_len;     /* out: name length in bytes, without the NUL;
				* 0 = no name */
	uint32_t build_id_len; /* out: 0 = none (not asked, text backend, or
				* longer than 20 bytes) */
	uint8_t build_id[PROCMAPQ_BUILD_ID_MAX]; /* out: raw GNU build ID */
	uint64_t reserved[4];  /* out: zero */
};

/* Why an address has, or has no, VMA (procmapq_lookup.reason). */
#define PROCMAPQ_REASON_FOUND        0 /* a VMA covers it and passes filters */
#define PROCMAPQ_REASON_UNMAPPED     1 /* no VMA covers it */
#define PROCMAPQ_REASON_FILTERED     2 /* its VMA fails perms/FILE_BACKED */
#define PROCMAPQ_REASON_PROCESS_GONE 3 /* the target went away first */

/* The answer for one input address (output element; fixed 24 bytes). */
struct procmapq_lookup {
	int32_t vma;          /* out: index into procmapq_vma_buf.vmas; -1
			       * unless reason is PROCMAPQ_REASON_FOUND */
	uint32_t reason;      /* out: PROCMAPQ_REASON_* */
	uint64_t file_offset; /* out: addr - vma.start + vma.offset when found,
			       * else 0 */
	uint64_t reserved;    /* out: zero */
};

/* How a call was answered (procmapq_vma_buf.strategy). */
#define PROCMAPQ_STRATEGY_NONE            0 /* nothing read (empty batch) */
#define PROCMAPQ_STRATEGY_POINT_IOCTL     1 /* one ioctl per VMA touched */
#define PROCMAPQ_STRATEGY_IOCTL_WALK      2 /* ioctl walk, kernel filters */
#define PROCMAPQ_STRATEGY_TEXT            3 /* whole text read (or snapshot) */
#define PROCMAPQ_STRATEGY_IOCTL_THEN_TEXT 4 /* ioctls, then switched to text */

/*
 * Caller-owned output of a query or an enumeration: a deduplicated VMA table
 * in ascending address order and the bytes of their names. The library
 * writes into the caller's arrays and keeps no pointer after the call.
 * An enumeration's VMAs never overlap. A query's may, but only when the
 * target changed its mappings during the call: the kernel answers one VMA
 * at a time, so two answers can show one region before and after an
 * mmap/munmap/mprotect. Each entry was true when it was read, starts are
 * ascending, and every found lookup's entry covers its address: use the
 * lookup's entry, never a search of the table by address.
 * Names are the exact bytes (they may contain newlines or any byte but NUL),
 * each followed by a NUL for convenience: VMA i's name is
 * names[vmas[i].name_off] .. + vmas[i].name_len.
 * size must reach at least names_len (56 bytes), which carries the sizes
 * needed on -ERANGE; strategy and syscalls are written only if size covers
 * them.
 */
struct procmapq_vma_buf {
	uint64_t size;               /* in: sizeof(struct procmapq_vma_buf) */
	struct procmapq_vma *vmas;   /* in: array of vmas_cap entries; may be
				      * NULL if vmas_cap is 0 */
	uint64_t vmas_cap;           /* in */
	char *names;                 /* in: buffer of names_cap bytes; may be
				      * NULL if names_cap is 0 */
	uint64_t names_cap;          /* in */
	uint64_t vmas_count;         /* out: VMAs written; on -ERANGE, VMAs
				      * needed */
	uint64_t names_len;          /* out: name bytes used (NULs included);
				      * on -ERANGE, bytes needed */
	uint32_t strategy;           /* out: PROCMAPQ_STRATEGY_* */
	uint32_t syscalls;           /* out: ioctl and read calls made */
};

/**
 * procmapq_query - resolve a batch of addresses in one call.
 * Addresses may come in any order and repeat; the answers keep input order.
 * Allocates nothing in steady state (per-handle scratch is reused).
 * @h: an open handle; must not be NULL.
 * @addrs: @n addresses, read only; NULL (or any pointer: it is not read)
 *   when @n is 0.
 * @n: number of addresses, at most INT32_MAX.
 * @opts: may be NULL (auto backend, no filter, no build IDs).
 * @lookups: caller array of @n entries (out); NULL (or any pointer: it is
 *   not written) when @n is 0. It must not overlap @addrs (-EINVAL).
 *   lookups[i] answers addrs[i]. On failures other than -ESRCH its
 *   contents are unspecified.
 * @out: must not be NULL; caller-owned arrays (in) and counts (out). Only
 *   the VMAs that answer some address are in the table.
 * @return the number of VMAs in the table (>= 0) on success.
 *   -ERANGE: out->vmas_cap or out->names_cap is too small; out->vmas_count
 *   and out->names_len hold the sizes needed (the maps may grow before a
 *   retry: loop); lookups and arrays are then unspecified.
 *   -ESRCH: the target went away (or exec'd) during the batch; addresses
 *   already resolved keep their answers (and the VMA table and counts are
 *   valid), the others have PROCMAPQ_REASON_PROCESS_GONE.
 *   -ENOTTY: backend IOCTL forced on a kernel before 6.11.
 *   -EINVAL (NULL or bad arguments, unknown flags/backend/perms), -E2BIG,
 *   -EFAULT, -EBADF, -EACCES.
 * Thread-safe; concurrent calls on one handle are serialized. Any kernel
 * (auto/text); the ioctl backend and build IDs need Linux 6.11+.
 */
PROCMAPQ_API int procmapq_query(struct procmapq *h, const uint64_t *addrs,
				size_t n, const struct procmapq_query_opts *opts,
				struct procmapq_lookup *lookups,
				struct procmapq_vma_buf *out);

/**
 * procmapq_enumerate - list every VMA that passes the filters, in ascending
 * address order, into @out (same shape as procmapq_query()).
 * The ioctl backend never returns the x86-64 [vsyscall] gate VMA; the text
 * and auto backends do.
 * @h: an open handle; must not be NULL.
 * @opts: may be NULL; PROCMAPQ_QUERY_SORTED is accepted and ignored.
 * @out: must not be NULL.
 * @return the number of VMAs (>= 0); -ERANGE with the sizes needed in
 * out->vmas_count / out->names_len; -ESRCH (the target went away: nothing
 * is written), -ENOTTY, -EINVAL, -E2BIG, -EFAULT, -EBADF as for
 * procmapq_query().
 * Thread-safe; any kernel (auto/text).
 */
PROCMAPQ_API int procmapq_enumerate(struct procmapq *h,
				    const struct procmapq_query_opts *opts,
				    struct procmapq_vma_buf *out);

/* ------------------------------------------------------------------------
 * Comparison of the ioctl and text views
 * ------------------------------------------------------------------------ */

/* Difference kinds (procmapq_difference.kind). 0-3 are expected: both views
 * are right, the kernel shows them so. 4-8 are real mismatches. */
#define PROCMAPQ_DIFF_GATE_VMA          0 /* [vsyscall]: only the text has it */
#define PROCMAPQ_DIFF_NAME_ESCAPING     1 /* path with the bytes "\012" */
#define PROCMAPQ_DIFF_NAME_TOO_LONG     2 /* path >= PATH_MAX: only text */
#define PROCMAPQ_DIFF_BUILD_ID_TOO_LONG 3 /* build ID > 20 bytes: kernel none */
#define PROCMAPQ_DIFF_MISSING_IN_IOCTL  4 /* a VMA only the text shows */
#define PROCMAPQ_DIFF_MISSING_IN_TEXT   5 /* a VMA only the ioctl shows */
#define PROCMAPQ_DIFF_FIELDS            6 /* same range, other offset/perms/
					   * device/inode, or ranges overlap */
#define PROCMAPQ_DIFF_NAME              7 /* same range, different names */
#define PROCMAPQ_DIFF_BUILD_ID          8 /* kernel and file build IDs differ */

/* procmapq_difference.flags */
#define PROCMAPQ_DIFF_F_EXPECTED  0x1u /* a documented, expected difference */
#define PROCMAPQ_DIFF_F_HAS_TEXT  0x2u /* text_start/text_end are valid */
#define PROCMAPQ_DIFF_F_HAS_IOCTL 0x4u /* ioctl_start/ioctl_end are valid */

struct procmapq_compare_opts {
	uint64_t size;           /* in: sizeof(struct procmapq_compare_opts) */
	uint32_t attempts;       /* in: reads before giving up on a changing
				  * target; 0 = 5 */
	uint32_t retry_delay_ms; /* in: pause between attempts; 0 = 100 */
};

/* One classified difference (output element; fixed 64 bytes). */
struct procmapq_difference {
	uint32_t kind;        /* out: PROCMAPQ_DIFF_* */
	uint32_t flags;       /* out: PROCMAPQ_DIFF_F_* */
	uint64_t text_start;  /* out: the VMA as the text shows it */
	uint64_t text_end;
	uint64_t ioctl_start; /* out: the VMA as the ioctl shows it */
	uint64_t ioctl_end;
	const char *detail;   /* out: NUL-terminated explanation ("" if none),
			       * inside the report's allocation */
	uint64_t reserved[2]; /* out: zero */
};

/* The report of procmapq_compare(): one allocation (this struct, the
 * differences array and their strings), freed by
 * procmapq_compare_report_free(). */
struct procmapq_compare_report {
	int32_t pid;                /* out: target pid; 0 if unknown */
	uint32_t attempts;          /* out: reads it took */
	uint32_t settled;           /* out: 1 if the maps held still; 0 if they
				     * changed on every attempt (the report is
				     * of the last one) */
	uint32_t text_vmas;         /* out: VMAs the text shows */
	uint32_t ioctl_vmas;        /* out: VMAs the ioctl shows */
	uint32_t matched;           /* out: VMAs matched field for field */
	uint32_t page_size_only_ioctl; /* out: matched VMAs whose page size only
					* the ioctl reports (expected) */
	uint32_t expected_count;    /* out: expected differences */
	uint32_t mismatch_count;    /* out: real mismatches */
	uint32_t diff_count;        /* out: entries in diffs (expected first,
				     * then mismatches) */
	struct procmapq_difference *diffs; /* out */
	uint64_t reserved[4];       /* out: zero */
};

/**
 * procmapq_compare - enumerate the target through both the ioctl and the
 * text, match every VMA and classify each difference.
 * The target may change between reads: the text is read before and after
 * the ioctl walk and the comparison is retried while they differ.
 * @h: an open pid or fd handle (not a text handle: -EINVAL); not NULL.
 * @opts: may be NULL (5 attempts, 100 ms apart).
 * @out: must not be NULL; receives the report (NULL on failure). The caller
 *   owns it and frees it with procmapq_compare_report_free(). Maps that
 *   change on every attempt are not an error: the report of the last
 *   attempt is returned with settled = 0 and success (never -EAGAIN).
 * @return the number of real mismatches (>= 0; 0 = the views agree), or
 *   -ENOTTY (kernel before 6.11), -ESRCH, -EINVAL, -E2BIG, -EFAULT, -EBADF,
 *   -ENOMEM.
 * Thread-safe. Needs Linux 6.11+.
 */
PROCMAPQ_API int procmapq_compare(struct procmapq *h,
				  const struct procmapq_compare_opts *opts,
				  struct procmapq_compare_report **out);

/**
 * procmapq_compare_report_free - free a report from procmapq_compare().
 * @report: may be NULL. Thread-safe; never fails; does not enter the Go
 * runtime.
 */
PROCMAPQ_API void procmapq_compare_report_free(struct procmapq_compare_report *report);

/* ------------------------------------------------------------------------
 * Normalization: address -> (file offset, ELF file + build ID)
 * ------------------------------------------------------------------------ */

/* Normalize flags (procmapq_normalize_opts.flags). */
#define PROCMAPQ_NORM_SORTED            0x01u /* addrs are ascending (skips a
					       * sort; unsorted is still right) */
#define PROCMAPQ_NORM_BUILD_IDS         0x02u /* build IDs: the kernel's when
					       * the ioctl has one, else read
					       * from the mapped file */
#define PROCMAPQ_NORM_FILE_BACKED       0x04u /* only file-backed VMAs; others
					       * give REASON_FILTERED */
#define PROCMAPQ_NORM_VIRT_ADDRS        0x08u /* also compute the ELF virtual
					       * address (reads program headers) */
#define PROCMAPQ_NORM_NO_MAP_FILES      0x10u /* do not try
					       * /proc/<pid>/map_files (needs
					       * CAP_SYS_ADMIN) to open files */
#define PROCMAPQ_NORM_NO_BUILD_ID_CACHE 0x20u /* read files again instead of
					       * the process-wide cache */

struct procmapq_normalize_opts {
	uint64_t size;     /* in: sizeof(struct procmapq_normalize_opts) */
	uint32_t backend;  /* in: PROCMAPQ_BACKEND_*; 0 = auto */
	uint32_t flags;    /* in: PROCMAPQ_NORM_* bits */
	uint32_t perms;    /* in: PROCMAPQ_PERM_* bits a VMA must all have;
			    * others give REASON_FILTERED; 0 = any */
	uint32_t reserved; /* in: must be 0 */
};

/* Meta kinds (procmapq_norm_meta.kind). */
#define PROCMAPQ_META_UNKNOWN 0 /* not attributable; reason says why */
#define PROCMAPQ_META_ELF     1 /* a mapped file (normally an ELF object) */
#define PROCMAPQ_META_VDSO    2 /* the kernel's vDSO image; file_offset is an
				 * offset into the in-memory image */

/* Why an address is PROCMAPQ_META_UNKNOWN (procmapq_norm_meta.reason);
 * 0-2 have blazesym's values. */
#define PROCMAPQ_NORM_REASON_UNMAPPED     0 /* no VMA covers it */
#define PROCMAPQ_NORM_REASON_ANONYMOUS    1 /* anonymous memory, no name */
#define PROCMAPQ_NORM_REASON_UNSUPPORTED  2 /* named, not a file: [heap],
					     * [stack], [anon:...], ... */
#define PROCMAPQ_NORM_REASON_FILTERED     3 /* VMA fails perms/FILE_BACKED */
#define PROCMAPQ_NORM_REASON_PROCESS_GONE 4 /* the target went away first */

/* Where a build ID came from (procmapq_norm_meta.build_id_source). */
#define PROCMAPQ_BUILD_ID_NONE   0 /* none: not asked, none, or no file */
#define PROCMAPQ_BUILD_ID_KERNEL 1 /* PROCMAP_QUERY (<= 20 bytes) */
#define PROCMAPQ_BUILD_ID_FILE   2 /* read from the mapped file (any length) */
#define PROCMAPQ_BUILD_ID_MEMORY 3 /* read from the target's memory (the
				    * vDSO, which has no file) */

/* procmapq_norm_meta.flags */
#define PROCMAPQ_META_F_DELETED          0x1u /* name ends in " (deleted)"
					       * (kept in path) */
#define PROCMAPQ_META_F_FILE_UNAVAILABLE 0x2u /* build ID / virtual address
					       * asked, but no file matching
					       * the mapping could be opened */
#define PROCMAPQ_META_F_DEV_UNVERIFIED   0x4u /* file matched by inode only
					       * (btrfs reports another dev) */
#define PROCMAPQ_META_F_NAME_AMBIGUOUS   0x8u /* text backend: the name had
					       * "\012", turned into a newline;
					       * the path may really hold it */

/* procmapq_norm_output.flags */
#define PROCMAPQ_NORM_OUT_HAS_VIRT_ADDR 0x1u /* virt_addr is valid */

/* The normalized form of one input address (fixed 32 bytes). */
struct procmapq_norm_output {
	uint64_t file_offset; /* out: addr - vma.start + vma.offset for ELF and
			       * vDSO metas; the input address unchanged for
			       * unknown ones (as blazesym) */
	uint64_t virt_addr;   /* out: ELF virtual address of file_offset (with
			       * PROCMAPQ_NORM_VIRT_ADDRS, if a PT_LOAD segment
			       * holds it); valid if flags has HAS_VIRT_ADDR */
	uint32_t meta;        /* out: index into procmapq_normalized.metas */
	uint32_t flags;       /* out: PROCMAPQ_NORM_OUT_* */
	uint64_t reserved;    /* out: zero */
};

/* What a group of addresses belongs to (fixed 96 bytes). Pointers point
 * into the same allocation as the procmapq_normalized that holds it. */
struct procmapq_norm_meta {
	uint32_t kind;            /* out: PROCMAPQ_META_* */
	uint32_t reason;          /* out: PROCMAPQ_NORM_REASON_* (unknown only) */
	uint32_t build_id_source; /* out: PROCMAPQ_BUILD_ID_* */
	uint32_t flags;           /* out: PROCMAPQ_META_F_* */
	const char *path;         /* out: the mapping's name exactly as the
				   * kernel reports it, NUL-terminated (may hold
				   * newlines); "[vdso]" for the vDSO; "" for
				   * unknown. Never NULL. */
	uint64_t path_len;        /* out: bytes, without the NUL */
	const uint8_t *build_id;  /* out: raw GNU build ID (any length); NULL
				   * when build_id_len is 0 */
	uint64_t build_id_len;    /* out */
	uint32_t dev_major;       /* out: device of the mapped file (ELF) */
	uint32_t dev_minor;       /* out */
	uint64_t inode;           /* out: inode of the mapped file (ELF) */
	uint64_t reserved[4];     /* out: zero */
};

/* The result of procmapq_normalize(): ONE allocation holding this struct,
 * both arrays, the paths and the build IDs; freed by
 * procmapq_normalized_free(). */
struct procmapq_normalized {
	uint64_t output_count;                /* out: = n, input order */
	struct procmapq_norm_output *outputs; /* out */
	uint64_t meta_count;                  /* out: deduplicated metas: one
					       * per file, one for the vDSO,
					       * one per unknown reason */
	struct procmapq_norm_meta *metas;     /* out */
	uint32_t strategy;                    /* out: PROCMAPQ_STRATEGY_* */
	uint32_t reserved0;                   /* out: zero */
	uint64_t reserved[3];                 /* out: zero */
};

/**
 * procmapq_normalize - turn absolute addresses of the target into (file
 * offset, meta) pairs, blazesym-style: outputs[i] answers addrs[i] (any
 * order, duplicates allowed) and indexes a meta table deduplicated per file.
 * An address that cannot be attributed gets an unknown meta with a reason;
 * it never fails the batch. Build-ID and file-read failures are not errors
 * either (the meta has PROCMAPQ_META_F_FILE_UNAVAILABLE).
 * @h: an open handle; must not be NULL. Text handles work too (files are
 *   then looked up by path only).
 * @addrs: @n addresses, read only; NULL (or any pointer: it is not read)
 *   when @n is 0.
 * @n: at most INT32_MAX.
 * @opts: may be NULL (auto backend, no filter, no build IDs).
 * @out: must not be NULL; receives the result (NULL on failure except
 *   -ESRCH). The caller owns it and frees it with procmapq_normalized_free().
 * @return the number of metas (>= 0), or:
 *   -ESRCH: the target went away during the call; *out is STILL set and
 *   complete (unresolved addresses have PROCMAPQ_NORM_REASON_PROCESS_GONE)
 *   and must be freed;
 *   -ENOTTY (backend IOCTL before 6.11), -EINVAL, -E2BIG, -EFAULT, -EBADF,
 *   -ENOMEM.
 * Thread-safe. Any kernel (auto/text; build IDs then come from files).
 */
PROCMAPQ_API int procmapq_normalize(struct procmapq *h, const uint64_t *addrs,
				    size_t n,
				    const struct procmapq_normalize_opts *opts,
				    struct procmapq_normalized **out);

/**
 * procmapq_normalized_free - free a result of procmapq_normalize().
 * @res: may be NULL. Thread-safe; never fails; does not enter the Go
 * runtime.
 */
PROCMAPQ_API void procmapq_normalized_free(struct procmapq_normalized *res);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PROCMAPQ_H */
