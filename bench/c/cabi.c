/* cabi.c: libprocmapq through its C ABI (placeholder until the header lands). */
#include "bench.h"
int cabi_load(const char *lib_path, struct contender **out, int max, const char **why)
{
	(void)lib_path, (void)out, (void)max;
	*why = "include/procmapq.h not available when the driver was built";
	return 0;
}
void cabi_extras(int pid, const uint64_t *addrs, size_t n) { (void)pid, (void)addrs, (void)n; }
int cabi_load_probe(const char *lib_path) { (void)lib_path; return 0; }
