/* dlopen_host: a host that loads the library at run time, as plugin hosts
 * and language runtimes (Python ctypes) do - dlopen(RTLD_NOW | RTLD_LOCAL),
 * functions by dlsym - then resolves its own code through it and checks
 * the answer against the text parser. dlclose must leave the library
 * mapped and working (a Go runtime cannot be unloaded: NODELETE).
 * Not linked against the library: $PROCMAPQ_LIBRARY, else
 * build/libprocmapq.so.<major>. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mapsparse.h"
#include "procmapq.h"

#define STR(x) #x
#define XSTR(x) STR(x)
#define DEFAULT_LIBRARY "build/libprocmapq.so." XSTR(PROCMAPQ_VERSION_MAJOR)

struct api {
	uint32_t (*version)(void);
	int (*open)(int, const struct procmapq_open_opts *, struct procmapq **);
	int (*query)(struct procmapq *, const uint64_t *, size_t, const struct procmapq_query_opts *,
		     struct procmapq_lookup *, struct procmapq_vma_buf *);
	int (*close)(struct procmapq *);
	const char *(*last_error)(void);
};

static bool load_api(void *lib, struct api *a)
{
	/* POSIX lets a data pointer from dlsym be converted to a function
	 * pointer; memcpy keeps -Wpedantic quiet about it. */
	void *p;
#define LOAD(field, name)                              \
	p = dlsym(lib, name);                          \
	CHECK(p != NULL, "dlsym %s: %s", name, dlerror()); \
	if (!p)                                        \
		return false;                          \
	memcpy(&a->field, &p, sizeof p);
	LOAD(version, "procmapq_version");
	LOAD(open, "procmapq_open");
	LOAD(query, "procmapq_query");
	LOAD(close, "procmapq_close");
	LOAD(last_error, "procmapq_last_error");
#undef LOAD
	return true;
}

/* resolve_own_code queries this function's address and compares the VMA
 * with the parser's. */
static void resolve_own_code(const struct api *a, const char *when)
{
	struct procmapq *h = NULL;
	int rc = a->open(0, NULL, &h);
	CHECK(rc == 0, "%s: open self: %d %s", when, rc, a->last_error());
	if (rc != 0)
		return;
	uint64_t addr = (uint64_t)(uintptr_t)&resolve_own_code;
	struct procmapq_lookup lk;
	struct procmapq_vma vma;
	char names[4096];
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = &vma, .vmas_cap = 1, .names = names, .names_cap = sizeof names);
	rc = a->query(h, &addr, 1, NULL, &lk, &out);
	struct maps_table t;
	int prc = maps_load(getpid(), &t);
	const struct maps_entry *e = prc == 0 ? maps_find(&t, addr) : NULL;
	CHECK(rc == 1 && lk.reason == PROCMAPQ_REASON_FOUND && e, "%s: query %d reason %u, parser %s", when, rc,
	      lk.reason, e ? "found" : "missed");
	if (rc == 1 && e)
		CHECK(vma.start == e->start && vma.end == e->end && vma.perms == e->perms && vma.offset == e->offset &&
			      vma.name_len == e->name_len && memcmp(names + vma.name_off, e->name, e->name_len) == 0 &&
			      lk.file_offset == addr - e->start + e->offset,
		      "%s: library %#llx-%#llx \"%s\", parser %#llx-%#llx \"%s\"", when,
		      (unsigned long long)vma.start, (unsigned long long)vma.end, names + vma.name_off,
		      (unsigned long long)e->start, (unsigned long long)e->end, e->name);
	maps_free(&t);
	CHECK(a->close(h) == 0, "%s: close", when);
}

int main(void)
{
	const char *path = getenv("PROCMAPQ_LIBRARY");
	if (!path || !*path)
		path = DEFAULT_LIBRARY;
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CHECK(lib != NULL, "dlopen %s: %s", path, dlerror());
	if (!lib)
		return t_finish("dlopen_host");
	struct api a;
	if (load_api(lib, &a)) {
		CHECK(a.version() == PROCMAPQ_VERSION_NUMBER, "version %u, header %u", a.version(),
		      PROCMAPQ_VERSION_NUMBER);
		resolve_own_code(&a, "after dlopen");
		CHECK(dlclose(lib) == 0, "dlclose: %s", dlerror());
		/* Still mapped (NODELETE), so the same function pointers work. */
		void *again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
		CHECK(again != NULL, "library unloaded by dlclose (it must stay: it hosts a Go runtime)");
		if (again) {
			resolve_own_code(&a, "after dlclose");
			dlclose(again);
		}
	}
	return t_finish("dlopen_host");
}
