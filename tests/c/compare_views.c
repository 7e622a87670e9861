/* compare_views: procmapq_compare on a live target with the special
 * mappings must find no real mismatch and exactly the expected differences
 * this test predicts on its own: the [vsyscall] gate VMA (from the parser),
 * the file really named "back\012slash" (from the target's labels: the
 * parser alone cannot tell it from the file named with a newline - that is
 * the ambiguity), and the path longer than PATH_MAX. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "check.h"
#include "mapsparse.h"
#include "procmapq.h"
#include "spawn.h"
#include "vmacheck.h"

struct expected_diff {
	uint32_t kind;
	uint64_t text_start;
	bool seen;
};

int main(void)
{
	if (procmapq_supports_procmap_query() != 1) {
		SKIP_NO_IOCTL("no PROCMAP_QUERY (kernel before 6.11, or PROCMAPQ_FORCE_PROBE=0): nothing to compare");
		return t_finish("compare_views");
	}
	const char *const args[] = {"-f", NULL};
	struct spawned_target tg;
	if (target_spawn(&tg, args) != 0) {
		CHECK(0, "could not start the target");
		return t_finish("compare_views");
	}
	struct maps_table t;
	CHECK(maps_load(tg.pid, &t) == 0, "parse maps");

	struct expected_diff want[8];
	size_t nwant = 0, gate = 0;
	for (size_t i = 0; i < t.count; i++) {
		if (!vma_ioctl_visible(&t.entries[i])) {
			want[nwant++] = (struct expected_diff){PROCMAPQ_DIFF_GATE_VMA, t.entries[i].start, false};
			gate++;
		}
		if (t.entries[i].name_len >= 4096)
			want[nwant++] = (struct expected_diff){PROCMAPQ_DIFF_NAME_TOO_LONG, t.entries[i].start, false};
	}
	const struct target_mapping *backslash = target_mapping_find(&tg, "backslash012");
	CHECK(backslash != NULL, "target made no backslash012 mapping");
	if (backslash)
		want[nwant++] = (struct expected_diff){PROCMAPQ_DIFF_NAME_ESCAPING, backslash->start, false};

	struct procmapq *h = NULL;
	CHECK(procmapq_open(tg.pid, NULL, &h) == 0, "open: %s", procmapq_last_error());
	struct procmapq_compare_report *r = NULL;
	int rc = h ? procmapq_compare(h, NULL, &r) : -EBADF;
	CHECK(rc == 0 && r, "compare: %d %s", rc, procmapq_last_error());
	if (r) {
		CHECK(r->pid == tg.pid && r->settled == 1, "pid %d settled %u", r->pid, r->settled);
		CHECK(r->text_vmas == t.count && r->ioctl_vmas == t.count - gate,
		      "text %u / ioctl %u VMAs, parser %zu (gate %zu)", r->text_vmas, r->ioctl_vmas, t.count, gate);
		CHECK(r->mismatch_count == 0 && r->expected_count == nwant && r->diff_count == nwant,
		      "%u mismatches, %u expected, %u diffs; want 0, %zu, %zu", r->mismatch_count, r->expected_count,
		      r->diff_count, nwant, nwant);
		for (uint32_t i = 0; i < r->diff_count; i++) {
			const struct procmapq_difference *d = &r->diffs[i];
			bool known = false;
			for (size_t k = 0; k < nwant; k++) {
				if (!want[k].seen && want[k].kind == d->kind && (d->flags & PROCMAPQ_DIFF_F_HAS_TEXT) &&
				    d->text_start == want[k].text_start) {
					want[k].seen = known = true;
					break;
				}
			}
			CHECK(known && (d->flags & PROCMAPQ_DIFF_F_EXPECTED) && d->detail,
			      "difference %u: kind %u flags %#x text %#llx: %s", i, d->kind, d->flags,
			      (unsigned long long)d->text_start, d->detail ? d->detail : "(null)");
		}
		for (size_t k = 0; k < nwant; k++)
			CHECK(want[k].seen, "expected difference kind %u at %#llx not reported", want[k].kind,
			      (unsigned long long)want[k].text_start);
		/* Every VMA the ioctl shows is matched by range and fields (the
		 * expected name differences count as matched), and the page size
		 * of each is known only from the ioctl. */
		CHECK(r->matched == r->ioctl_vmas && r->page_size_only_ioctl == r->matched,
		      "matched %u, page size only from the ioctl %u, ioctl VMAs %u", r->matched,
		      r->page_size_only_ioctl, r->ioctl_vmas);
	}
	procmapq_compare_report_free(r);
	procmapq_close(h);
	maps_free(&t);
	CHECK(target_end(&tg) == 0, "target did not exit cleanly");
	return t_finish("compare_views");
}
