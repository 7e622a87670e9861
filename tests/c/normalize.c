/* normalize: procmapq_normalize checked against sources independent of the
 * library:
 *   - this process's own code, libc functions (dlsym), libprocmapq itself
 *     and the vDSO: ELF path and file offset from the text parser, the ELF
 *     virtual address from the dynamic loader's load bias (dladdr1), the
 *     build ID from the loaded object's PT_NOTE in memory
 *     (dl_iterate_phdr); the kernel's build ID (PROCMAPQ_QUERY_BUILD_IDS)
 *     against the same;
 *   - a live target with the special mappings, every VMA, every backend:
 *     kind/reason from the name, path, file offset, deleted flag, the
 *     target binary's build ID read from the file by this test;
 *   - a target that is gone, and bad arguments. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "check.h"
#include "mapsparse.h"
#include "procmapq.h"
#include "spawn.h"
#include "vmacheck.h"

#define MAX_BUILD_ID 64

struct build_id {
	uint8_t bytes[MAX_BUILD_ID];
	size_t len;
};

/* note_build_id finds NT_GNU_BUILD_ID (owner "GNU") in a PT_NOTE segment's
 * bytes. */
static bool note_build_id(const uint8_t *p, size_t size, struct build_id *out)
{
	size_t pos = 0;
	while (pos + sizeof(Elf64_Nhdr) <= size) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + pos, sizeof nh);
		size_t name_at = pos + sizeof nh, desc_at = name_at + ((nh.n_namesz + 3) & ~3u);
		size_t next = desc_at + ((nh.n_descsz + 3) & ~3u);
		if (next > size)
			break;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(p + name_at, "GNU", 4) == 0 &&
		    nh.n_descsz > 0 && nh.n_descsz <= MAX_BUILD_ID) {
			memcpy(out->bytes, p + desc_at, nh.n_descsz);
			out->len = nh.n_descsz;
			return true;
		}
		pos = next;
	}
	return false;
}

/* file_build_id reads the build ID of an ELF64 file from its PT_NOTE
 * segments. */
static bool file_build_id(const char *path, struct build_id *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool found = false;
	Elf64_Ehdr eh;
	if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
	    eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
		for (unsigned i = 0; i < eh.e_phnum && !found; i++) {
			Elf64_Phdr ph;
			if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
				break;
			if (ph.p_type != PT_NOTE || ph.p_filesz > 1 << 20)
				continue;
			uint8_t *buf = malloc(ph.p_filesz);
			if (buf && pread(fd, buf, ph.p_filesz, (off_t)ph.p_offset) == (ssize_t)ph.p_filesz)
				found = note_build_id(buf, ph.p_filesz, out);
			free(buf);
		}
	}
	close(fd);
	return found;
}

/* The loaded object that holds an address, as the dynamic loader sees it. */
struct loaded_object {
	uint64_t addr;
	uint64_t load_bias;
	struct build_id build_id;
	bool has_build_id;
	bool found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct loaded_object *o = arg;
	bool holds = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t start = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && o->addr >= start && o->addr < start + ph->p_memsz)
			holds = true;
	}
	if (!holds)
		return 0;
	o->found = true;
	o->load_bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum && !o->has_build_id; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE)
			o->has_build_id = note_build_id((const uint8_t *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz,
							&o->build_id);
	}
	return 1;
}

static bool same_build_id(const uint8_t *a, uint64_t a_len, const struct build_id *b)
{
	return a_len == b->len && (a_len == 0 || memcmp(a, b->bytes, a_len) == 0);
}

static void check_self(void)
{
	static const char *const functions[] = {"printf", "malloc", "qsort", "procmapq_normalize", "procmapq_query"};
	uint64_t addrs[16];
	size_t n = 0;
	addrs[n++] = (uint64_t)(uintptr_t)&check_self;
	for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
		void *f = dlsym(RTLD_DEFAULT, functions[i]);
		CHECK(f != NULL, "dlsym %s", functions[i]);
		if (f)
			addrs[n++] = (uint64_t)(uintptr_t)f;
	}
	uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
	if (vdso)
		addrs[n++] = vdso + 0x100; /* inside the vDSO's ELF header page */
	const size_t code_count = n;
	int on_stack = 0;
	addrs[n++] = (uint64_t)(uintptr_t)&on_stack;
	addrs[n++] = 0x10;

	struct procmapq *h = NULL;
	CHECK(procmapq_open(0, NULL, &h) == 0, "open self: %s", procmapq_last_error());
	if (!h)
		return;
	PROCMAPQ_OPTS(procmapq_normalize_opts, opts, .flags = PROCMAPQ_NORM_BUILD_IDS | PROCMAPQ_NORM_VIRT_ADDRS);
	struct procmapq_normalized *r = NULL;
	int rc = procmapq_normalize(h, addrs, n, &opts, &r);
	struct maps_table t;
	int prc = maps_load(getpid(), &t);
	CHECK(rc > 0 && r && r->output_count == n, "normalize self: %d %s", rc, procmapq_last_error());
	CHECK(prc == 0, "parse /proc/self/maps: %d", prc);
	if (rc > 0 && r && prc == 0) {
		CHECK((uint64_t)rc == r->meta_count, "returned %d, meta_count %llu", rc,
		      (unsigned long long)r->meta_count);
		for (size_t i = 0; i < n; i++) {
			const struct procmapq_norm_output *o = &r->outputs[i];
			CHECK(o->meta < r->meta_count, "address %zu: meta %u of %llu", i, o->meta,
			      (unsigned long long)r->meta_count);
			if (o->meta >= r->meta_count)
				continue;
			const struct procmapq_norm_meta *m = &r->metas[o->meta];
			const struct maps_entry *e = maps_find(&t, addrs[i]);
			if (i >= code_count) {
				uint32_t want = e ? PROCMAPQ_NORM_REASON_UNSUPPORTED : PROCMAPQ_NORM_REASON_UNMAPPED;
				CHECK(m->kind == PROCMAPQ_META_UNKNOWN && m->reason == want && o->file_offset == addrs[i],
				      "%#llx: kind %u reason %u (want %u) offset %#llx", (unsigned long long)addrs[i],
				      m->kind, m->reason, want, (unsigned long long)o->file_offset);
				continue;
			}
			CHECK(e != NULL, "%#llx not in the parser's maps", (unsigned long long)addrs[i]);
			if (!e)
				continue;
			bool is_vdso = strcmp(e->name, "[vdso]") == 0;
			CHECK(m->kind == (is_vdso ? PROCMAPQ_META_VDSO : PROCMAPQ_META_ELF), "%#llx (%s): kind %u",
			      (unsigned long long)addrs[i], e->name, m->kind);
			CHECK(m->path_len == e->name_len && memcmp(m->path, e->name, e->name_len) == 0 &&
				      m->path[m->path_len] == 0,
			      "%#llx: path \"%s\", parser \"%s\"", (unsigned long long)addrs[i], m->path, e->name);
			uint64_t want_off = addrs[i] - e->start + e->offset;
			CHECK(o->file_offset == want_off, "%#llx (%s): file offset %#llx, want %#llx",
			      (unsigned long long)addrs[i], e->name, (unsigned long long)o->file_offset,
			      (unsigned long long)want_off);
			struct loaded_object lo = {.addr = addrs[i]};
			dl_iterate_phdr(find_object, &lo);
			CHECK(lo.found, "%#llx: no loaded object holds it", (unsigned long long)addrs[i]);
			if (!lo.found)
				continue;
			uint64_t want_virt = addrs[i] - lo.load_bias;
			CHECK((o->flags & PROCMAPQ_NORM_OUT_HAS_VIRT_ADDR) && o->virt_addr == want_virt,
			      "%#llx (%s): virt %#llx flags %#x, loader says %#llx", (unsigned long long)addrs[i],
			      e->name, (unsigned long long)o->virt_addr, o->flags, (unsigned long long)want_virt);
			CHECK(lo.has_build_id, "%s has no build ID in memory", e->name);
			if (lo.has_build_id)
				CHECK(same_build_id(m->build_id, m->build_id_len, &lo.build_id) &&
					      m->build_id_source != PROCMAPQ_BUILD_ID_NONE,
				      "%s: build ID of %llu bytes (source %u) differs from its PT_NOTE", e->name,
				      (unsigned long long)m->build_id_len, m->build_id_source);
		}
		/* The kernel's build IDs through the query API agree. */
		if (t_ioctl(procmapq_supports_procmap_query())) {
			struct procmapq_lookup lk[16];
			struct procmapq_vma vmas[16];
			char names[16 * 4096];
			PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 16, .names = names,
				      .names_cap = sizeof names);
			PROCMAPQ_OPTS(procmapq_query_opts, qo, .backend = PROCMAPQ_BACKEND_IOCTL,
				      .flags = PROCMAPQ_QUERY_BUILD_IDS);
			rc = procmapq_query(h, addrs, code_count, &qo, lk, &out);
			CHECK(rc > 0, "query with build IDs: %d %s", rc, procmapq_last_error());
			for (size_t i = 0; rc > 0 && i < code_count; i++) {
				struct loaded_object lo = {.addr = addrs[i]};
				dl_iterate_phdr(find_object, &lo);
				const struct procmapq_vma *v = &vmas[lk[i].vma];
				bool is_vdso = v->kind == PROCMAPQ_KIND_VDSO; /* no file: the kernel has none */
				CHECK(lk[i].reason == PROCMAPQ_REASON_FOUND && lo.has_build_id &&
					      (is_vdso ? v->build_id_len == 0
						       : same_build_id(v->build_id, v->build_id_len, &lo.build_id)),
				      "%#llx: kernel build ID of %u bytes differs", (unsigned long long)addrs[i],
				      v->build_id_len);
			}
		}
	}
	procmapq_normalized_free(r);
	maps_free(&t);
	procmapq_close(h);
}

static void check_target(void)
{
	const char *const args[] = {"-f", "-m", "2", NULL};
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target");
		return;
	}
	struct maps_table t;
	CHECK(maps_load(tg.pid, &t) == 0, "parse maps");
	struct procmapq *h = NULL;
	CHECK(procmapq_open(tg.pid, NULL, &h) == 0, "open: %s", procmapq_last_error());
	struct build_id target_id;
	bool target_has_id = file_build_id(target_path(), &target_id);
	/* The kernel names the mapped binary by its canonical path. */
	char exe[PATH_MAX] = "";
	ssize_t exe_len = realpath(target_path(), exe) ? (ssize_t)strlen(exe) : -1;
	uint64_t *addrs = calloc(t.count + 1, sizeof *addrs);
	size_t n = 0;
	for (size_t i = 0; addrs && i < t.count; i++)
		if (vma_ioctl_visible(&t.entries[i]))
			addrs[n++] = t.entries[i].start + (t.entries[i].end - t.entries[i].start) / 2;
	static const uint32_t backends[] = {PROCMAPQ_BACKEND_AUTO, PROCMAPQ_BACKEND_IOCTL, PROCMAPQ_BACKEND_TEXT};
	for (size_t b = 0; h && addrs && b < 3; b++) {
		if (backends[b] == PROCMAPQ_BACKEND_IOCTL && !t_ioctl(procmapq_supports_procmap_query()))
			continue;
		for (int file_backed = 0; file_backed < 2; file_backed++) {
			PROCMAPQ_OPTS(procmapq_normalize_opts, opts, .backend = backends[b],
				      .flags = PROCMAPQ_NORM_BUILD_IDS | (file_backed ? PROCMAPQ_NORM_FILE_BACKED : 0));
			struct procmapq_normalized *r = NULL;
			int rc = procmapq_normalize(h, addrs, n, &opts, &r);
			CHECK(rc > 0 && r && r->output_count == n, "backend %u: normalize %d %s", backends[b], rc,
			      procmapq_last_error());
			if (!r || rc <= 0)
				continue;
			int problems = 0;
			bool saw_target_binary = false;
			for (size_t i = 0; i < n && r->outputs[i].meta < r->meta_count; i++) {
				const struct procmapq_norm_output *o = &r->outputs[i];
				const struct procmapq_norm_meta *m = &r->metas[o->meta];
				const struct maps_entry *e = maps_find(&t, addrs[i]);
				bool is_file = maps_is_file_backed(e), is_vdso = strcmp(e->name, "[vdso]") == 0;
				uint32_t want_kind = is_file ? PROCMAPQ_META_ELF
						     : is_vdso && !file_backed ? PROCMAPQ_META_VDSO
									       : PROCMAPQ_META_UNKNOWN;
				uint32_t want_reason = file_backed && !is_file ? PROCMAPQ_NORM_REASON_FILTERED
						       : e->name_len == 0     ? PROCMAPQ_NORM_REASON_ANONYMOUS
									      : PROCMAPQ_NORM_REASON_UNSUPPORTED;
				bool ok = m->kind == want_kind;
				if (ok && want_kind == PROCMAPQ_META_UNKNOWN)
					ok = m->reason == want_reason && o->file_offset == addrs[i];
				if (ok && want_kind != PROCMAPQ_META_UNKNOWN) {
					ok = o->file_offset == addrs[i] - e->start + e->offset;
					/* Exact names, except the documented ioctl cases:
					 * raw "\012" bytes, no name >= PATH_MAX. */
					bool exact = m->path_len == e->name_len &&
						     memcmp(m->path, e->name, e->name_len) == 0;
					ok = ok && (exact || e->name_ambiguous || e->name_len >= 4096);
					bool deleted = e->name_len > 10 &&
						       strcmp(e->name + e->name_len - 10, " (deleted)") == 0;
					ok = ok && !!(m->flags & PROCMAPQ_META_F_DELETED) == deleted;
				}
				if (ok && is_file && exe_len > 0 && e->name_len == (size_t)exe_len &&
				    memcmp(e->name, exe, (size_t)exe_len) == 0) {
					saw_target_binary = true;
					ok = target_has_id && same_build_id(m->build_id, m->build_id_len, &target_id);
				}
				if (!ok && ++problems <= 5)
					fprintf(stderr, "  backend %u file_backed %d: %#llx \"%s\": kind %u reason %u "
							"offset %#llx path \"%s\" flags %#x\n",
						backends[b], file_backed, (unsigned long long)addrs[i], e->name, m->kind,
						m->reason, (unsigned long long)o->file_offset, m->path, m->flags);
			}
			CHECK(problems == 0, "backend %u file_backed %d: %d problems", backends[b], file_backed,
			      problems);
			CHECK(saw_target_binary, "the target binary %s was not among the metas", exe);
			procmapq_normalized_free(r);
		}
	}
	/* The target goes away: -ESRCH, and the result is still there. */
	target_kill(&tg, 0);
	if (h && addrs) {
		struct procmapq_normalized *r = NULL;
		int rc = procmapq_normalize(h, addrs, n, NULL, &r);
		CHECK(rc == -ESRCH && r != NULL, "normalize of a gone target: %d, result %p", rc, (void *)r);
		size_t gone = 0;
		for (size_t i = 0; r && i < r->output_count; i++)
			gone += r->metas[r->outputs[i].meta].kind == PROCMAPQ_META_UNKNOWN &&
				r->metas[r->outputs[i].meta].reason == PROCMAPQ_NORM_REASON_PROCESS_GONE;
		CHECK(r && gone == n, "%zu of %zu addresses process-gone", gone, n);
		procmapq_normalized_free(r);
	}
	free(addrs);
	maps_free(&t);
	procmapq_close(h);
}

static void check_arguments(void)
{
	struct procmapq *h = NULL;
	CHECK(procmapq_open(0, NULL, &h) == 0, "open self");
	uint64_t addr = (uint64_t)(uintptr_t)&check_arguments;
	struct procmapq_normalized *r = (struct procmapq_normalized *)&r;
	CHECK(procmapq_normalize(h, &addr, 1, NULL, NULL) == -EINVAL, "out NULL");
	CHECK(procmapq_normalize(NULL, &addr, 1, NULL, &r) == -EINVAL && r == NULL, "handle NULL");
	CHECK(procmapq_normalize(h, NULL, 1, NULL, &r) == -EINVAL, "addrs NULL");
	PROCMAPQ_OPTS(procmapq_normalize_opts, bad_flags, .flags = 0x4000u);
	CHECK(procmapq_normalize(h, &addr, 1, &bad_flags, &r) == -EINVAL, "unknown flag");
	PROCMAPQ_OPTS(procmapq_normalize_opts, bad_reserved, .reserved = 2);
	CHECK(procmapq_normalize(h, &addr, 1, &bad_reserved, &r) == -EINVAL, "reserved set");
	struct {
		struct procmapq_normalize_opts o;
		uint64_t future;
	} big = {.o = {.size = sizeof big}, .future = 9};
	CHECK(procmapq_normalize(h, &addr, 1, &big.o, &r) == -E2BIG, "non-zero tail");
	big.future = 0;
	int rc = procmapq_normalize(h, &addr, 1, &big.o, &r);
	CHECK(rc == 1 && r && r->metas[0].kind == PROCMAPQ_META_ELF, "zero tail: %d", rc);
	procmapq_normalized_free(r);
	r = NULL;
	rc = procmapq_normalize(h, NULL, 0, NULL, &r);
	CHECK(rc == 0 && r && r->output_count == 0, "empty batch: %d", rc);
	procmapq_normalized_free(r);
	procmapq_normalized_free(NULL);
	procmapq_close(h);
}

int main(void)
{
	check_self();
	check_target();
	check_arguments();
	return t_finish("normalize");
}
