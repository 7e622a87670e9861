/* vmacheck: see vmacheck.h. */
#define _GNU_SOURCE
#include "vmacheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel's PATH_MAX: the ioctl cannot return names this long. */
#define KERNEL_PATH_MAX 4096

/* The gate VMA lives above the highest user address (x86-64 vsyscall). */
#define GATE_AREA_START 0xffffffffff600000ull

static bool fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return false;
}

bool vma_ioctl_visible(const struct maps_entry *e)
{
	return e->start < GATE_AREA_START;
}

enum vma_source vma_source_for_backend(uint32_t backend)
{
	switch (backend) {
	case PROCMAPQ_BACKEND_IOCTL:
		return VMA_FROM_IOCTL;
	case PROCMAPQ_BACKEND_TEXT:
		return VMA_FROM_TEXT;
	default:
		return VMA_FROM_EITHER;
	}
}

enum vma_source vma_source_of(uint32_t strategy, enum vma_source forced)
{
	if (forced != VMA_FROM_EITHER)
		return forced;
	switch (strategy) {
	case PROCMAPQ_STRATEGY_POINT_IOCTL:
	case PROCMAPQ_STRATEGY_IOCTL_WALK:
		return VMA_FROM_AUTO_IOCTL;
	case PROCMAPQ_STRATEGY_TEXT:
		return VMA_FROM_TEXT;
	default:
		return VMA_FROM_EITHER;
	}
}

static bool has_prefix(const struct maps_entry *e, const char *p)
{
	size_t n = strlen(p);
	return e->name_len >= n && memcmp(e->name, p, n) == 0;
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

uint32_t vma_expected_kind(const struct maps_entry *e)
{
	static const struct {
		const char *name;
		uint32_t kind;
	} specials[] = {
		{"[heap]", PROCMAPQ_KIND_HEAP},       {"[stack]", PROCMAPQ_KIND_STACK},
		{"[vdso]", PROCMAPQ_KIND_VDSO},       {"[vvar]", PROCMAPQ_KIND_VVAR},
		{"[vvar_vclock]", PROCMAPQ_KIND_VVAR}, {"[vsyscall]", PROCMAPQ_KIND_VSYSCALL},
	};
	if (e->name_len == 0)
		return PROCMAPQ_KIND_ANONYMOUS;
	if (e->name[0] == '[' && e->name[e->name_len - 1] == ']') {
		for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
			if (strcmp(e->name, specials[i].name) == 0)
				return specials[i].kind;
		if (has_prefix(e, "[anon:") || has_prefix(e, "[anon_shmem:"))
			return PROCMAPQ_KIND_NAMED_ANON;
		return PROCMAPQ_KIND_SPECIAL;
	}
	if (has_suffix(e->name, e->name_len, " (deleted)"))
		return PROCMAPQ_KIND_DELETED_FILE;
	return PROCMAPQ_KIND_FILE;
}

/* escaped_equals tells whether name, with '\n' escaped as "\012" the way
 * the kernel prints it, equals the raw text name. */
static bool escaped_equals(const char *name, size_t len, const char *raw, size_t raw_len)
{
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '\n') {
			if (raw_len - j < 4 || memcmp(raw + j, "\\012", 4) != 0)
				return false;
			j += 4;
		} else {
			if (j >= raw_len || raw[j] != name[i])
				return false;
			j++;
		}
	}
	return j == raw_len;
}

static bool check_name(const struct procmapq_vma *v, const char *name, const struct maps_entry *e,
		       bool from_ioctl, bool forced_ioctl, char *why, size_t why_len)
{
	uint32_t want_flags = 0;
	if (has_suffix(e->name, e->name_len, " (deleted)"))
		want_flags |= PROCMAPQ_VMA_DELETED;
	/* Auto fills a long path from the text: only a forced ioctl backend
	 * leaves it out. */
	bool long_from_text = e->name_len >= KERNEL_PATH_MAX && !forced_ioctl;
	if (long_from_text)
		from_ioctl = false;
	if (from_ioctl && e->name_len >= KERNEL_PATH_MAX) {
		/* The ioctl fails for such paths; only the text has the name. */
		want_flags |= PROCMAPQ_VMA_NAME_UNAVAILABLE;
		want_flags &= ~PROCMAPQ_VMA_DELETED;
		if (v->name_len != 0)
			return fail(why, why_len, "name of %zu bytes (>= PATH_MAX) returned by the ioctl as %u bytes",
				    e->name_len, v->name_len);
	} else if (from_ioctl && e->name_ambiguous) {
		/* The ioctl has the raw bytes; the text can only be compared
		 * escaped. */
		if (!escaped_equals(name, v->name_len, e->raw_name, e->raw_name_len))
			return fail(why, why_len, "ioctl name \"%.*s\" does not escape to text \"%.*s\"",
				    (int)v->name_len, name, (int)e->raw_name_len, e->raw_name);
	} else {
		if (!from_ioctl && e->name_ambiguous)
			want_flags |= PROCMAPQ_VMA_NAME_AMBIGUOUS;
		if (v->name_len != e->name_len || memcmp(name, e->name, e->name_len) != 0)
			return fail(why, why_len, "name \"%.*s\" (%u bytes), parser \"%s\" (%zu bytes)",
				    (int)v->name_len, name, v->name_len, e->name, e->name_len);
	}
	if (v->name_len > 0 && name[v->name_len] != 0)
		return fail(why, why_len, "name not NUL-terminated");
	if (v->flags != want_flags)
		return fail(why, why_len, "flags %#x, want %#x", v->flags, want_flags);
	return true;
}

bool vma_check(const struct procmapq_vma *v, const char *names, const struct maps_entry *e,
	       enum vma_source source, char *why, size_t why_len)
{
	static long page;
	if (!page)
		page = sysconf(_SC_PAGESIZE);
	if (v->start != e->start || v->end != e->end)
		return fail(why, why_len, "range %#llx-%#llx, parser %#llx-%#llx", (unsigned long long)v->start,
			    (unsigned long long)v->end, (unsigned long long)e->start, (unsigned long long)e->end);
	if (v->perms != e->perms || v->offset != e->offset || v->inode != e->inode || v->dev_major != e->dev_major ||
	    v->dev_minor != e->dev_minor) {
		char p1[5], p2[5];
		maps_perms_text(v->perms, p1);
		maps_perms_text(e->perms, p2);
		return fail(why, why_len, "%#llx: %s %llx %x:%x %llu, parser %s %llx %x:%x %llu",
			    (unsigned long long)v->start, p1, (unsigned long long)v->offset, v->dev_major,
			    v->dev_minor, (unsigned long long)v->inode, p2, (unsigned long long)e->offset,
			    e->dev_major, e->dev_minor, (unsigned long long)e->inode);
	}
	bool from_ioctl;
	switch (source) {
	case VMA_FROM_IOCTL:
	case VMA_FROM_AUTO_IOCTL:
		from_ioctl = true;
		break;
	case VMA_FROM_TEXT:
		from_ioctl = false;
		break;
	default:
		from_ioctl = v->page_size != 0;
		break;
	}
	if (from_ioctl) {
		/* hugetlb VMAs report the huge page size; this machine's
		 * targets have none unless huge pages are reserved. */
		bool huge = has_prefix(e, "/anon_hugepage");
		if (huge ? v->page_size <= (uint64_t)page : v->page_size != (uint64_t)page)
			return fail(why, why_len, "%#llx: page size %llu from the ioctl", (unsigned long long)v->start,
				    (unsigned long long)v->page_size);
		if (!vma_ioctl_visible(e))
			return fail(why, why_len, "the ioctl returned the gate VMA %#llx", (unsigned long long)v->start);
	} else if (v->page_size != 0) {
		return fail(why, why_len, "%#llx: page size %llu from the text", (unsigned long long)v->start,
			    (unsigned long long)v->page_size);
	}
	char name_why[512];
	if (!check_name(v, names + v->name_off, e, from_ioctl, source == VMA_FROM_IOCTL, name_why, sizeof name_why))
		return fail(why, why_len, "%#llx (%s): %s", (unsigned long long)v->start,
			    from_ioctl ? "ioctl" : "text", name_why);
	uint32_t kind = vma_expected_kind(e);
	if (v->kind != kind && !(v->flags & PROCMAPQ_VMA_NAME_UNAVAILABLE))
		return fail(why, why_len, "%#llx: kind %u, want %u", (unsigned long long)v->start, v->kind, kind);
	for (size_t i = 0; i < sizeof v->reserved / sizeof v->reserved[0]; i++)
		if (v->reserved[i] != 0)
			return fail(why, why_len, "%#llx: reserved[%zu] = %#llx", (unsigned long long)v->start, i,
				    (unsigned long long)v->reserved[i]);
	return true;
}

bool vma_filter_match(const struct maps_entry *e, uint32_t perms, bool file_backed)
{
	return (e->perms & perms) == perms && (!file_backed || maps_is_file_backed(e));
}

/* Report at most this many problems per check, so a broken batch of 60,000
 * addresses does not flood the log. */
#define MAX_REPORTED 8

static int problem(int *count, const char *what, const char *fmt, ...)
{
	if (++*count <= MAX_REPORTED) {
		va_list ap;
		va_start(ap, fmt);
		fprintf(stderr, "  %s: ", what);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	return *count;
}

static int check_table_shape(const char *what, int rc, const struct procmapq_vma_buf *buf, int *problems)
{
	if (rc < 0) {
		problem(problems, what, "failed: %d (%s) %s", rc, procmapq_strerror(rc), procmapq_last_error());
		return -1;
	}
	if ((uint64_t)rc != buf->vmas_count)
		problem(problems, what, "returned %d but vmas_count is %llu", rc, (unsigned long long)buf->vmas_count);
	if (buf->vmas_count > buf->vmas_cap || buf->names_len > buf->names_cap)
		problem(problems, what, "counts beyond capacity: %llu/%llu VMAs, %llu/%llu name bytes",
			(unsigned long long)buf->vmas_count, (unsigned long long)buf->vmas_cap,
			(unsigned long long)buf->names_len, (unsigned long long)buf->names_cap);
	for (uint64_t i = 0; i < buf->vmas_count && i < buf->vmas_cap; i++) {
		const struct procmapq_vma *v = &buf->vmas[i];
		if (i > 0 && v->start < buf->vmas[i - 1].end)
			problem(problems, what, "table not ascending at %llu", (unsigned long long)i);
		if (v->name_len > 0 && v->name_off + v->name_len >= buf->names_len)
			problem(problems, what, "VMA %llu: name at %llu+%u beyond names_len %llu", (unsigned long long)i,
				(unsigned long long)v->name_off, v->name_len, (unsigned long long)buf->names_len);
	}
	return *problems ? -1 : 0;
}

int check_enumeration(const char *what, const struct maps_table *t, int rc, const struct procmapq_vma_buf *buf,
		      enum vma_source forced, uint32_t perms, bool file_backed)
{
	int problems = 0;
	if (check_table_shape(what, rc, buf, &problems) < 0)
		return problems;
	enum vma_source source = vma_source_of(buf->strategy, forced);
	size_t j = 0;
	char why[1024];
	for (size_t i = 0; i < t->count; i++) {
		const struct maps_entry *e = &t->entries[i];
		if (!vma_filter_match(e, perms, file_backed))
			continue;
		enum vma_source entry_source = source;
		if (!vma_ioctl_visible(e)) {
			if (forced == VMA_FROM_IOCTL)
				continue;
			/* Auto shows the gate VMA, as the text has it, once it has
			 * read the text; before that it cannot know it. */
			if (forced == VMA_FROM_EITHER && (j >= buf->vmas_count || buf->vmas[j].start != e->start))
				continue;
			entry_source = VMA_FROM_TEXT;
		}
		if (j >= buf->vmas_count) {
			problem(&problems, what, "missing VMA %#llx-%#llx \"%s\"", (unsigned long long)e->start,
				(unsigned long long)e->end, e->name);
			continue;
		}
		if (!vma_check(&buf->vmas[j], buf->names, e, entry_source, why, sizeof why))
			problem(&problems, what, "VMA %zu: %s", j, why);
		j++;
	}
	for (; j < buf->vmas_count; j++)
		problem(&problems, what, "extra VMA %#llx-%#llx", (unsigned long long)buf->vmas[j].start,
			(unsigned long long)buf->vmas[j].end);
	return problems;
}

int check_query(const char *what, const struct maps_table *t, const uint64_t *addrs, size_t n, int rc,
		const struct procmapq_lookup *lookups, const struct procmapq_vma_buf *buf, enum vma_source forced,
		uint32_t perms, bool file_backed)
{
	int problems = 0;
	if (check_table_shape(what, rc, buf, &problems) < 0)
		return problems;
	enum vma_source source = vma_source_of(buf->strategy, forced);
	unsigned char *used = calloc(buf->vmas_count + 1, 1);
	char why[1024];
	for (size_t i = 0; i < n; i++) {
		const struct procmapq_lookup *l = &lookups[i];
		const struct maps_entry *e = maps_find(t, addrs[i]);
		enum vma_source entry_source = source;
		uint32_t want = PROCMAPQ_REASON_FOUND;
		if (e && !vma_ioctl_visible(e)) {
			/* The gate VMA: never from the ioctl backend; auto answers
			 * it as the text does once it has read the text, and as
			 * unmapped before. */
			if (forced == VMA_FROM_IOCTL ||
			    (forced == VMA_FROM_EITHER && l->reason == PROCMAPQ_REASON_UNMAPPED))
				e = NULL;
			else
				entry_source = VMA_FROM_TEXT;
		}
		if (!e)
			want = PROCMAPQ_REASON_UNMAPPED;
		else if (!vma_filter_match(e, perms, file_backed))
			want = PROCMAPQ_REASON_FILTERED;
		if (l->reason != want) {
			problem(&problems, what, "address %#llx: reason %u, want %u", (unsigned long long)addrs[i],
				l->reason, want);
			continue;
		}
		if (l->reserved != 0)
			problem(&problems, what, "address %#llx: reserved %#llx", (unsigned long long)addrs[i],
				(unsigned long long)l->reserved);
		if (want != PROCMAPQ_REASON_FOUND) {
			if (l->vma != -1 || l->file_offset != 0)
				problem(&problems, what, "address %#llx: not found but vma %d, file offset %#llx",
					(unsigned long long)addrs[i], l->vma, (unsigned long long)l->file_offset);
			continue;
		}
		if (l->vma < 0 || (uint64_t)l->vma >= buf->vmas_count) {
			problem(&problems, what, "address %#llx: vma index %d of %llu", (unsigned long long)addrs[i],
				l->vma, (unsigned long long)buf->vmas_count);
			continue;
		}
		if (used)
			used[l->vma] = 1;
		if (!vma_check(&buf->vmas[l->vma], buf->names, e, entry_source, why, sizeof why))
			problem(&problems, what, "address %#llx: %s", (unsigned long long)addrs[i], why);
		uint64_t want_off = addrs[i] - e->start + e->offset;
		if (l->file_offset != want_off)
			problem(&problems, what, "address %#llx: file offset %#llx, want %#llx",
				(unsigned long long)addrs[i], (unsigned long long)l->file_offset,
				(unsigned long long)want_off);
	}
	for (uint64_t k = 0; used && k < buf->vmas_count; k++)
		if (!used[k])
			problem(&problems, what, "VMA %llu (%#llx) in the table but no lookup uses it",
				(unsigned long long)k, (unsigned long long)buf->vmas[k].start);
	free(used);
	return problems;
}
