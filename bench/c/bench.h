/* bench.h: what every C contender of the benchmark driver shares.
 *
 * Files: driver.c (the spec reader, the timing loop and the digests) uses
 * plain.c (c-limit, c-fscanf, c-fastparse) and cabi.c (cabi-*); all three
 * use common.c (clock, checked allocation, answers, median). Nothing calls
 * back into driver.c.
 *
 * A contender answers a sorted batch of addresses (or enumerates) into a
 * struct answers: a deduplicated table of VMAs plus, per address, the index
 * of its VMA or -1. Names are copied into the answers' arena once per
 * distinct VMA, as a real resolver must (the kernel's or the read buffer is
 * reused), and hashed only afterwards, outside the timed region. */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Permission bits: the kernel's PROCMAP_QUERY_VMA_* values. */
#define PERM_READ   0x01u
#define PERM_WRITE  0x02u
#define PERM_EXEC   0x04u
#define PERM_SHARED 0x08u

/* The x86-64 vsyscall page: only the text shows it, so answer digests
 * leave it out. */
#define GATE_START 0xffffffffff600000ull

struct vma {
	uint64_t start, end, pgoff, inode;
	uint32_t major, minor, perms;
	uint32_t name_off, name_len;
};

struct answers {
	struct vma *vmas;
	size_t nvmas, vmas_cap;
	int32_t *idx; /* per address of the batch; -1 = no VMA */
	size_t idx_cap;
	char *arena;
	size_t arena_len, arena_cap;
	/* Set by the driver for the untimed check run: contenders whose own
	 * output is not a struct answers convert it only then. */
	bool want;
	/* Filled by libprocmapq contenders: how the call was answered. */
	char strategy[24];
};

/* ---- common.c: shared by the driver and every contender ------------- */

uint64_t now_ns(void);
/* Checked allocation: on failure they print what failed and exit(2), so
 * no caller handles NULL. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
/* answers_reset prepares a for a batch of n addresses (all -1). */
void answers_reset(struct answers *a, size_t n);
/* answers_add appends a VMA, copying its name, and returns its index. */
int32_t answers_add(struct answers *a, const struct vma *v, const char *name, size_t name_len);
void answers_free(struct answers *a);
/* median sorts v[0..n) and returns its median (0 when n is 0). */
double median(double *v, size_t n);
/* syscall_cost prints the cost of a trivial system call ("extra" line),
 * to describe the machine next to the numbers. */
void syscall_cost(void);

/* How a workload uses handles: one kept per contender, one per call, or
 * none (parse-only workloads). */
enum open_mode { KEEP_OPEN, OPEN_PER_CALL, NO_HANDLE };

struct contender {
	const char *name;
	/* open prepares the contender for pid (0 = self); close undoes it. */
	int (*open)(struct contender *c, int pid);
	void (*close)(struct contender *c);
	/* query answers addrs[0..n) (sorted); enumerate lists every VMA, or only
	 * executable ones. Both return 0 or a negative errno. */
	int (*query)(struct contender *c, const uint64_t *addrs, size_t n, struct answers *out);
	int (*enumerate)(struct contender *c, bool exec_only, struct answers *out);
	/* parse lists every VMA of a captured maps text held in memory (no
	 * kernel, no open/close); NULL when the contender has no parser of
	 * its own (it then sits out parse-only workloads). */
	int (*parse)(struct contender *c, const char *text, size_t len, struct answers *out);
	void *state;
	int pid;
};

/* ---- plain.c: the contenders that do not use libprocmapq -------------- */

extern struct contender limit_contender, fscanf_contender, fastparse_contender;

/* ---- cabi.c: libprocmapq through its C ABI ---------------------------- */

/* cabi_load dlopens lib_path and returns the number of contenders added to
 * out, or -1 with the reason in *why (the caller asked for the library:
 * it reports the failure, never drops the contenders silently). */
int cabi_load(const char *lib_path, struct contender **out, int max, const char **why);
/* cabi_extras prints the per-call costs of the C ABI (empty batch, first
 * call on a new thread) as "extra" lines; after cabi_load. */
void cabi_extras(int pid, const uint64_t *addrs, size_t n);
/* cabi_load_probe measures, in this fresh process, dlopen plus the first
 * call and what loading added (RSS, threads); prints "extra" lines.
 * Returns 0, or 2 when the library cannot be loaded. */
int cabi_load_probe(const char *lib_path);

#endif
