/* symbolize: the job libprocmapq exists for, as a profiler or symbolizer
 * does it - take the code addresses of a process, resolve them all in ONE
 * library call (which mapping, file offset, permissions), then normalize
 * them (ELF path, build ID, ELF virtual address) - and show, side by side,
 * the same resolution done by hand with a plain text parse of
 * /proc/<pid>/maps, whether the two agree, and the time each took.
 *
 *   symbolize              this process: its own functions, libc functions
 *                          found with dlsym, a libprocmapq function, the
 *                          vDSO, a stack, a heap and an unmapped address.
 *                          Clearest demo: every address has a known name.
 *   symbolize --spawn      a fresh tests/target process (build/target, or
 *                          $PROCMAPQ_TARGET) with 3 r-x "modules"
 *   symbolize PID [ADDR]...  another process: the given hex addresses, or
 *                          by default a few addresses in each of its
 *                          executable file mappings
 *
 * Times are of one run, for illustration only; bench/ measures.
 * Exit status 0 if library and parser agree on every address, 1 if not,
 * 2 on a usage or setup error. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "mapsparse.h"
#include "procmapq.h"
#include "spawn.h"
#include "vmacheck.h"

#define MAX_ADDRS 256

struct address {
	uint64_t addr;
	char what[48];
};

int main_symbolize_marker(void);

static struct address addrs[MAX_ADDRS];
static size_t addr_count;

static void add(uint64_t addr, const char *what)
{
	if (addr_count < MAX_ADDRS) {
		addrs[addr_count].addr = addr;
		snprintf(addrs[addr_count].what, sizeof addrs[addr_count].what, "%s", what);
		addr_count++;
	}
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* gather_self collects addresses of this process whose names we know. */
static void gather_self(void)
{
	static const char *const libc_functions[] = {"printf", "malloc", "qsort", "clock_gettime"};
	add((uint64_t)(uintptr_t)&gather_self, "gather_self (this program)");
	add((uint64_t)(uintptr_t)&main_symbolize_marker, "main_symbolize_marker");
	for (size_t i = 0; i < sizeof libc_functions / sizeof libc_functions[0]; i++) {
		void *f = dlsym(RTLD_DEFAULT, libc_functions[i]);
		char what[48];
		snprintf(what, sizeof what, "%s (dlsym)", libc_functions[i]);
		if (f)
			add((uint64_t)(uintptr_t)f, what);
	}
	void *q = dlsym(RTLD_DEFAULT, "procmapq_query");
	if (q)
		add((uint64_t)(uintptr_t)q, "procmapq_query (dlsym)");
	unsigned long vdso = getauxval(AT_SYSINFO_EHDR);
	if (vdso)
		add(vdso, "vDSO image (auxv)");
	int on_stack = 0;
	add((uint64_t)(uintptr_t)&on_stack, "a stack variable");
	add((uint64_t)(uintptr_t)addrs, "a .bss array");
	add(0x10, "near NULL (unmapped)");
}

/* gather_from_maps picks, in each executable file mapping of t, its first
 * byte, a byte in the middle and its last byte: where code of a profiled
 * process lives. */
static void gather_from_maps(const struct maps_table *t)
{
	for (size_t i = 0; i < t->count; i++) {
		const struct maps_entry *e = &t->entries[i];
		if (!(e->perms & MAPS_PERM_EXEC) || !maps_is_file_backed(e))
			continue;
		const char *base = strrchr(e->name, '/');
		base = base ? base + 1 : e->name;
		char what[48];
		snprintf(what, sizeof what, "%.30s +start", base);
		add(e->start, what);
		snprintf(what, sizeof what, "%.30s +middle", base);
		add(e->start + (e->end - e->start) / 2, what);
		snprintf(what, sizeof what, "%.30s +end-1", base);
		add(e->end - 1, what);
	}
}

static const char *reason_text(uint32_t reason)
{
	static const char *const names[] = {"found", "unmapped", "filtered", "process gone"};
	return reason < 4 ? names[reason] : "?";
}

static const char *norm_reason_text(uint32_t reason)
{
	static const char *const names[] = {"unmapped", "anonymous", "not a file", "filtered", "process gone"};
	return reason < 5 ? names[reason] : "?";
}

/* short_name returns the last path component, for a narrow column. */
static const char *short_name(const char *name, size_t len)
{
	if (len == 0)
		return "(anonymous)";
	const char *slash = strrchr(name, '/');
	return slash ? slash + 1 : name;
}

/* The library's answer for the batch: lookups[i] answers addrs[i]. */
static struct procmapq_lookup lookups[MAX_ADDRS];
static struct procmapq_vma vmas[MAX_ADDRS];
static char names[MAX_ADDRS * 512];
static struct procmapq_vma_buf out = {
	.size = sizeof out, .vmas = vmas, .vmas_cap = MAX_ADDRS, .names = names, .names_cap = sizeof names};

/* The parser's answer: found[i] covers addrs[i], or NULL. */
static const struct maps_entry *found[MAX_ADDRS];

/* agree_found tells whether the library and the parser agree on address i:
 * the same VMA field for field (names exact) and file offset, or both
 * unmapped (the ioctl never returns the [vsyscall] gate VMA). */
static bool agree_found(size_t i, char *why, size_t why_len)
{
	const struct procmapq_lookup *l = &lookups[i];
	const struct maps_entry *e = found[i];
	why[0] = 0;
	if (l->reason != PROCMAPQ_REASON_FOUND)
		return l->reason == PROCMAPQ_REASON_UNMAPPED && (!e || !vma_ioctl_visible(e));
	if (!e)
		return false;
	/* Auto answers the gate VMA as the text does, once it has read it. */
	enum vma_source source = vma_ioctl_visible(e) ? vma_source_of(out.strategy, VMA_FROM_EITHER) : VMA_FROM_TEXT;
	return vma_check(&vmas[l->vma], names, e, source, why, why_len) &&
	       l->file_offset == addrs[i].addr - e->start + e->offset;
}

static size_t print_side_by_side(void)
{
	printf("%-18s %-28s | %-4s %-10s %-22s | %-10s %-22s | %s\n", "ADDRESS", "WHAT", "PERM", "FILE OFF",
	       "LIBRARY: MAPPING", "FILE OFF", "PARSER: MAPPING", "AGREE");
	size_t agreed = 0;
	for (size_t i = 0; i < addr_count; i++) {
		const struct procmapq_lookup *l = &lookups[i];
		const struct maps_entry *e = found[i];
		char perms[5] = "", lib_off[24] = "-", lib_map[64], parse_off[24] = "-", parse_map[64], why[512];
		if (l->reason == PROCMAPQ_REASON_FOUND) {
			const struct procmapq_vma *v = &vmas[l->vma];
			maps_perms_text(v->perms, perms);
			snprintf(lib_off, sizeof lib_off, "%#" PRIx64, l->file_offset);
			snprintf(lib_map, sizeof lib_map, "%.22s", short_name(names + v->name_off, v->name_len));
		} else {
			snprintf(lib_map, sizeof lib_map, "(%s)", reason_text(l->reason));
		}
		if (e) {
			snprintf(parse_off, sizeof parse_off, "%#" PRIx64, addrs[i].addr - e->start + e->offset);
			snprintf(parse_map, sizeof parse_map, "%.22s", short_name(e->name, e->name_len));
		} else {
			snprintf(parse_map, sizeof parse_map, "(unmapped)");
		}
		bool agree = agree_found(i, why, sizeof why);
		agreed += agree;
		printf("%#-18" PRIx64 " %-28s | %-4s %-10s %-22s | %-10s %-22s | %s%s%s\n", addrs[i].addr,
		       addrs[i].what, perms, lib_off, lib_map, parse_off, parse_map, agree ? "yes" : "NO",
		       why[0] ? ": " : "", why);
	}
	return agreed;
}

/* print_normalized shows what a symbolizer needs next (which ELF file,
 * which build ID, which offset / ELF virtual address), and checks the file
 * offset and path against the parser. Returns the addresses that agree. */
static size_t print_normalized(const struct procmapq_normalized *norm)
{
	printf("%-18s %-28s %-10s %-10s %-40s %-5s %s\n", "ADDRESS", "WHAT", "FILE OFF", "ELF VADDR", "BUILD ID",
	       "AGREE", "ELF PATH (build ID source) / REASON");
	size_t agreed = 0;
	for (size_t i = 0; i < norm->output_count; i++) {
		const struct procmapq_norm_output *o = &norm->outputs[i];
		const struct procmapq_norm_meta *m = &norm->metas[o->meta];
		const struct maps_entry *e = found[i];
		bool agree;
		if (m->kind == PROCMAPQ_META_UNKNOWN) {
			/* Unknown: the parser found nothing, or nothing that is a file. */
			agree = !e || !maps_is_file_backed(e);
			agreed += agree;
			printf("%#-18" PRIx64 " %-28s %-10s %-10s %-40s %-5s (%s)\n", addrs[i].addr, addrs[i].what, "-",
			       "-", "-", agree ? "yes" : "NO", norm_reason_text(m->reason));
			continue;
		}
		char vaddr[24] = "-", build_id[2 * 64 + 1] = "-";
		if (o->flags & PROCMAPQ_NORM_OUT_HAS_VIRT_ADDR)
			snprintf(vaddr, sizeof vaddr, "%#" PRIx64, o->virt_addr);
		for (uint64_t k = 0; k < m->build_id_len && k < 64; k++)
			snprintf(build_id + 2 * k, 3, "%02x", m->build_id[k]);
		agree = e && o->file_offset == addrs[i].addr - e->start + e->offset &&
			((m->path_len == e->name_len && memcmp(m->path, e->name, e->name_len) == 0) ||
			 (e->name_ambiguous && m->kind == PROCMAPQ_META_ELF));
		agreed += agree;
		printf("%#-18" PRIx64 " %-28s %#-10" PRIx64 " %-10s %-40.40s %-5s %s%s\n", addrs[i].addr, addrs[i].what,
		       o->file_offset, vaddr, build_id, agree ? "yes" : "NO", m->path,
		       m->build_id_source == PROCMAPQ_BUILD_ID_KERNEL ? " (kernel)"
		       : m->build_id_source == PROCMAPQ_BUILD_ID_FILE ? " (file)"
								       : "");
	}
	return agreed;
}

static int symbolize(int pid)
{
	struct procmapq *h = NULL;
	int rc = procmapq_open(pid, NULL, &h);
	if (rc < 0) {
		fprintf(stderr, "symbolize: %s\n", procmapq_last_error());
		return 2;
	}
	uint32_t version = procmapq_version();
	printf("libprocmapq %u.%u.%u, PROCMAP_QUERY %s, pid %d, %zu addresses\n\n", version / 10000,
	       version / 100 % 100, version % 100,
	       procmapq_supports_procmap_query() == 1 ? "available" : "not available (text fallback)",
	       procmapq_pid(h), addr_count);

	/* 1. The library: one call for the whole batch, timed twice: the first
	 * call on a handle also pays one-time setup. */
	uint64_t batch[MAX_ADDRS];
	for (size_t i = 0; i < addr_count; i++)
		batch[i] = addrs[i].addr;
	double t0 = now_us();
	rc = procmapq_query(h, batch, addr_count, NULL, lookups, &out);
	double first_us = now_us() - t0;
	t0 = now_us();
	if (rc >= 0)
		rc = procmapq_query(h, batch, addr_count, NULL, lookups, &out);
	double again_us = now_us() - t0;
	if (rc < 0) {
		fprintf(stderr, "symbolize: query: %s\n", procmapq_last_error());
		procmapq_close(h);
		return 2;
	}

	/* 2. By hand: read and parse the maps text, look every address up. */
	t0 = now_us();
	struct maps_table t;
	int prc = maps_load(pid ? pid : getpid(), &t);
	for (size_t i = 0; prc == 0 && i < addr_count; i++)
		found[i] = maps_find(&t, addrs[i].addr);
	double parser_us = now_us() - t0;
	if (prc < 0) {
		fprintf(stderr, "symbolize: reading /proc/%d/maps: %s\n", pid, strerror(-prc));
		procmapq_close(h);
		return 2;
	}

	size_t agreed = print_side_by_side();
	static const char *const strategies[] = {"none", "point ioctls", "ioctl walk", "text", "ioctls then text"};
	printf("\nlibrary: 1 call for %zu addresses: %.1f us (first call on the handle), %.1f us (again); %s, "
	       "%u syscalls, %d distinct mappings\n",
	       addr_count, first_us, again_us, out.strategy < 5 ? strategies[out.strategy] : "?", out.syscalls, rc);
	printf("parser:  %.1f us to read and parse %zu lines of /proc/%d/maps and look up %zu addresses\n",
	       parser_us, t.count, pid ? pid : getpid(), addr_count);
	printf("agreement: %zu of %zu addresses\n\n", agreed, addr_count);

	/* 3. Normalization: the input of a symbolizer. */
	PROCMAPQ_OPTS(procmapq_normalize_opts, nopts, .flags = PROCMAPQ_NORM_BUILD_IDS | PROCMAPQ_NORM_VIRT_ADDRS);
	struct procmapq_normalized *norm = NULL;
	t0 = now_us();
	rc = procmapq_normalize(h, batch, addr_count, &nopts, &norm);
	double norm_us = now_us() - t0;
	size_t norm_agreed = addr_count;
	if (!norm) {
		fprintf(stderr, "symbolize: normalize: %s\n", procmapq_last_error());
		norm_agreed = 0;
	} else {
		printf("normalized (ELF path, build ID, file offset, ELF virtual address): 1 call, %.1f us, %d groups\n",
		       norm_us, rc);
		norm_agreed = print_normalized(norm);
		printf("agreement with the parser (file offset, path): %zu of %zu addresses\n", norm_agreed,
		       addr_count);
		procmapq_normalized_free(norm);
	}
	printf("(times are one run, for illustration; bench/ measures)\n");
	maps_free(&t);
	procmapq_close(h);
	return agreed == addr_count && norm_agreed == addr_count ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 1) {
		gather_self();
		return symbolize(0);
	}
	if (strcmp(argv[1], "--spawn") == 0) {
		const char *const args[] = {"-m", "3", NULL};
		struct spawned_target tg;
		if (target_spawn(&tg, args) != 0)
			return 2;
		struct maps_table t;
		if (maps_load(tg.pid, &t) != 0) {
			target_end(&tg);
			return 2;
		}
		gather_from_maps(&t);
		maps_free(&t);
		printf("spawned %s (pid %d) with 3 r-x modules\n", target_path(), tg.pid);
		int rc = symbolize(tg.pid);
		target_end(&tg);
		return rc;
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "usage: symbolize [--spawn | PID [HEXADDR]...]\n");
		return 2;
	}
	char *end;
	long pid = strtol(argv[1], &end, 10);
	if (*end || pid <= 0) {
		fprintf(stderr, "symbolize: not a pid: %s\n", argv[1]);
		return 2;
	}
	for (int i = 2; i < argc; i++)
		add(strtoull(argv[i], NULL, 16), argv[i]);
	if (argc == 2) {
		struct maps_table t;
		int rc = maps_load((int)pid, &t);
		if (rc != 0) {
			fprintf(stderr, "symbolize: /proc/%ld/maps: %s\n", pid,
				rc == -ENOENT ? "no such process" : strerror(-rc));
			return 2;
		}
		gather_from_maps(&t);
		maps_free(&t);
	}
	return symbolize((int)pid);
}

/* A second function of this program, so two of its addresses are shown. */
int main_symbolize_marker(void)
{
	return 0;
}
