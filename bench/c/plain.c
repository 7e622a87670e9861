/* plain.c: the contenders that do not use libprocmapq.
 *
 *   limit      the physical limit: one PROCMAP_QUERY per distinct VMA (or
 *              gap) touched, on a kept-open fd, nothing else
 *   fscanf     the seed tool's text resolver (procfs_query.c): stdio with a
 *              4 KiB buffer, fscanf per line, stop once every address is
 *              resolved
 *   fastparse  a hand-written text parser (perf style): pread() into one
 *              64 KiB buffer, hex scanned by hand, same early stop; on
 *              parse-only workloads, its line splitter and parser alone
 *              over a captured text in memory
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bench.h"

#include "../../tests/uapi/procmap_query.h"

static int open_maps(int pid, int *fd)
{
	char path[64];
	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/maps", pid);
	else
		snprintf(path, sizeof path, "/proc/self/maps");
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

/* ---- limit ---------------------------------------------------------- */

struct limit_state {
	int fd;
	char name[4096];
};

/* fd_state_open allocates a contender state of size bytes whose first
 * member is the maps fd (limit and fastparse), and opens the maps file.
 * Not zeroed: open-per-call workloads would pay for clearing 64 KiB. */
static int fd_state_open(struct contender *c, int pid, size_t size)
{
	int *fd = xmalloc(size);
	int err = open_maps(pid, fd);
	if (err) {
		free(fd);
		return err;
	}
	c->state = fd;
	return 0;
}

static int limit_open(struct contender *c, int pid)
{
	return fd_state_open(c, pid, sizeof(struct limit_state));
}

static void fd_state_close(struct contender *c)
{
	int *fd = c->state;
	if (fd) {
		close(*fd);
		free(c->state);
		c->state = NULL;
	}
}

static void limit_fill(const struct pmq_arg *q, struct vma *v)
{
	*v = (struct vma){ .start = q->vma_start, .end = q->vma_end, .pgoff = q->vma_offset,
			   .inode = q->inode, .major = q->dev_major, .minor = q->dev_minor,
			   .perms = (uint32_t)q->vma_flags & 0xf };
}

static int limit_query(struct contender *c, const uint64_t *addrs, size_t n, struct answers *out)
{
	struct limit_state *s = c->state;
	struct pmq_arg q = { .size = sizeof q, .query_flags = PMQ_COVERING_OR_NEXT,
			     .vma_name_addr = (uintptr_t)s->name };
	answers_reset(out, n);
	size_t i = 0;
	while (i < n) {
		q.query_addr = addrs[i];
		q.vma_name_size = sizeof s->name; /* the kernel overwrites it */
		if (ioctl(s->fd, PROCMAP_QUERY_REQUEST, &q) < 0) {
			if (errno == ENOENT)
				break; /* nothing at or above: the rest is unmapped */
			return -errno;
		}
		while (i < n && addrs[i] < q.vma_start)
			i++;
		if (i < n && addrs[i] < q.vma_end) {
			struct vma v;
			limit_fill(&q, &v);
			int32_t k = answers_add(out, &v, s->name, q.vma_name_size ? q.vma_name_size - 1 : 0);
			while (i < n && addrs[i] < q.vma_end)
				out->idx[i++] = k;
		}
	}
	return 0;
}

static int limit_enumerate(struct contender *c, bool exec_only, struct answers *out)
{
	struct limit_state *s = c->state;
	struct pmq_arg q = { .size = sizeof q,
			     .query_flags = PMQ_COVERING_OR_NEXT | (exec_only ? PMQ_VMA_EXECUTABLE : 0),
			     .vma_name_addr = (uintptr_t)s->name };
	answers_reset(out, 0);
	for (uint64_t addr = 0;;) {
		q.query_addr = addr;
		q.vma_name_size = sizeof s->name;
		if (ioctl(s->fd, PROCMAP_QUERY_REQUEST, &q) < 0)
			return errno == ENOENT ? 0 : -errno;
		struct vma v;
		limit_fill(&q, &v);
		answers_add(out, &v, s->name, q.vma_name_size ? q.vma_name_size - 1 : 0);
		addr = q.vma_end;
	}
}

struct contender limit_contender = {
	.name = "c-limit", .open = limit_open, .close = fd_state_close,
	.query = limit_query, .enumerate = limit_enumerate,
};

/* ---- fscanf (the seed's text resolver) ------------------------------- */

/* The seed opens the file for every batch, and so does this contender:
 * stdio cannot be made to re-read a kept FILE (rewind() keeps the buffered
 * text and never asks the kernel again). */
struct fscanf_state {
	char path[64];
	FILE *f;
	char fbuf[4096];
	char name[4096];
};

static int fscanf_open(struct contender *c, int pid)
{
	struct fscanf_state *s = xmalloc(sizeof *s);
	if (pid > 0)
		snprintf(s->path, sizeof s->path, "/proc/%d/maps", pid);
	else
		snprintf(s->path, sizeof s->path, "/proc/self/maps");
	c->state = s;
	return 0;
}

static void fscanf_close(struct contender *c)
{
	free(c->state);
	c->state = NULL;
}

static int fscanf_begin(struct fscanf_state *s)
{
	s->f = fopen(s->path, "re");
	if (!s->f)
		return -errno;
	setvbuf(s->f, s->fbuf, _IOFBF, sizeof s->fbuf);
	return 0;
}

static uint32_t perm_bits(const char p[4])
{
	return (p[0] == 'r' ? PERM_READ : 0) | (p[1] == 'w' ? PERM_WRITE : 0) |
	       (p[2] == 'x' ? PERM_EXEC : 0) | (p[3] == 's' ? PERM_SHARED : 0);
}

/* fscanf_next reads one line as the seed does, except that the name is read
 * without skipping the newline first: the seed's "%zu %[^\n]" takes the
 * next line as the name of a nameless (anonymous) VMA. Returns false at
 * the end of the file. */
static bool fscanf_next(struct fscanf_state *s, struct vma *v, const char **name, size_t *name_len)
{
	size_t start, end, off, ino;
	unsigned maj, min;
	char p[4];
	s->name[0] = 0;
	int got = fscanf(s->f, "%zx-%zx %c%c%c%c %zx %x:%x %zu%4095[^\n]", &start, &end,
			 &p[0], &p[1], &p[2], &p[3], &off, &maj, &min, &ino, s->name);
	if (got < 10)
		return false;
	*v = (struct vma){ .start = start, .end = end, .pgoff = off, .inode = ino,
			   .major = maj, .minor = min, .perms = perm_bits(p) };
	const char *nm = s->name;
	if (got == 11)
		while (*nm == ' ')
			nm++;
	else
		nm = "";
	*name = nm;
	*name_len = strlen(nm);
	return true;
}

static int fscanf_query(struct contender *c, const uint64_t *addrs, size_t n, struct answers *out)
{
	struct fscanf_state *s = c->state;
	answers_reset(out, n);
	int err = fscanf_begin(s);
	if (err)
		return err;
	struct vma v;
	const char *name;
	size_t name_len, i = 0;
	while (i < n && fscanf_next(s, &v, &name, &name_len)) {
		while (i < n && addrs[i] < v.start)
			i++;
		if (i < n && addrs[i] < v.end) {
			int32_t k = answers_add(out, &v, name, name_len);
			while (i < n && addrs[i] < v.end)
				out->idx[i++] = k;
		}
	}
	fclose(s->f);
	return 0;
}

static int fscanf_enumerate(struct contender *c, bool exec_only, struct answers *out)
{
	struct fscanf_state *s = c->state;
	answers_reset(out, 0);
	int err = fscanf_begin(s);
	if (err)
		return err;
	struct vma v;
	const char *name;
	size_t name_len;
	while (fscanf_next(s, &v, &name, &name_len))
		if (!exec_only || (v.perms & PERM_EXEC))
			answers_add(out, &v, name, name_len);
	fclose(s->f);
	return 0;
}

struct contender fscanf_contender = {
	.name = "c-fscanf", .open = fscanf_open, .close = fscanf_close,
	.query = fscanf_query, .enumerate = fscanf_enumerate,
};

/* ---- fastparse (perf-style hand-written parser) ---------------------- */

struct fast_state {
	int fd;
	off_t off;          /* file offset of the next pread */
	size_t have, pos;   /* bytes in buf; start of the unparsed rest */
	bool eof;
	char buf[64 << 10]; /* a line is at most ~4.2 KiB */
};

static int fast_open(struct contender *c, int pid)
{
	return fd_state_open(c, pid, sizeof(struct fast_state));
}

static void fast_rewind(struct fast_state *s)
{
	s->off = 0, s->have = 0, s->pos = 0, s->eof = false;
}

/* fast_line returns the next line (without '\n'), reading more when the
 * buffer holds no complete line. pread at offset 0 restarts the seq_file,
 * so no lseek is needed. */
static int fast_line(struct fast_state *s, const char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(s->buf + s->pos, '\n', s->have - s->pos);
		if (nl) {
			*line = s->buf + s->pos;
			*len = (size_t)(nl - *line);
			s->pos += *len + 1;
			return 1;
		}
		if (s->eof)
			return 0;
		memmove(s->buf, s->buf + s->pos, s->have - s->pos);
		s->have -= s->pos;
		s->pos = 0;
		ssize_t r = pread(s->fd, s->buf + s->have, sizeof s->buf - s->have, s->off);
		if (r < 0)
			return -errno;
		if (r == 0)
			s->eof = true;
		s->off += r;
		s->have += (size_t)r;
	}
}

static const char *scan_hex(const char *p, const char *end, uint64_t *v)
{
	uint64_t x = 0;
	for (; p < end; p++) {
		unsigned c = (unsigned char)*p, d;
		if (c - '0' < 10)
			d = c - '0';
		else if ((c | 0x20) - 'a' < 6)
			d = (c | 0x20) - 'a' + 10;
		else
			break;
		x = x << 4 | d;
	}
	*v = x;
	return p;
}

/* fast_parse splits "START-END PERMS OFF MAJ:MIN INODE   NAME"; the name
 * is the rest of the line after the padding. */
static int fast_parse(const char *p, size_t len, struct vma *v, const char **name, size_t *name_len)
{
	const char *end = p + len;
	uint64_t x;
	p = scan_hex(p, end, &v->start);
	p = scan_hex(p + 1, end, &v->end);
	if (end - p < 6)
		return -EINVAL;
	v->perms = perm_bits(p + 1);
	p = scan_hex(p + 6, end, &v->pgoff);
	p = scan_hex(p + 1, end, &x);
	v->major = (uint32_t)x;
	p = scan_hex(p + 1, end, &x);
	v->minor = (uint32_t)x;
	x = 0;
	for (p++; p < end && *p >= '0' && *p <= '9'; p++)
		x = x * 10 + (uint64_t)(*p - '0');
	v->inode = x;
	while (p < end && *p == ' ')
		p++;
	*name = p;
	*name_len = (size_t)(end - p);
	return 0;
}

static int fast_query(struct contender *c, const uint64_t *addrs, size_t n, struct answers *out)
{
	struct fast_state *s = c->state;
	answers_reset(out, n);
	fast_rewind(s);
	const char *line, *name;
	size_t len, name_len, i = 0;
	struct vma v;
	int r = 0;
	while (i < n && (r = fast_line(s, &line, &len)) > 0) {
		/* Only the range is needed to skip a line. */
		const char *p = scan_hex(line, line + len, &v.start);
		scan_hex(p + 1, line + len, &v.end);
		while (i < n && addrs[i] < v.start)
			i++;
		if (i == n || addrs[i] >= v.end)
			continue;
		if (fast_parse(line, len, &v, &name, &name_len))
			return -EINVAL;
		int32_t k = answers_add(out, &v, name, name_len);
		while (i < n && addrs[i] < v.end)
			out->idx[i++] = k;
	}
	return r < 0 ? r : 0;
}

static int fast_enumerate(struct contender *c, bool exec_only, struct answers *out)
{
	struct fast_state *s = c->state;
	answers_reset(out, 0);
	fast_rewind(s);
	const char *line, *name;
	size_t len, name_len;
	struct vma v;
	int r = 0;
	while ((r = fast_line(s, &line, &len)) > 0) {
		if (fast_parse(line, len, &v, &name, &name_len))
			return -EINVAL;
		if (!exec_only || (v.perms & PERM_EXEC))
			answers_add(out, &v, name, name_len);
	}
	return r;
}

/* fast_text is the parsing part of fast_enumerate run over a captured text
 * in memory: the same line splitting (memchr) and the same fast_parse, no
 * read and no kernel. */
static int fast_text(struct contender *c, const char *text, size_t len, struct answers *out)
{
	(void)c;
	answers_reset(out, 0);
	const char *p = text, *end = text + len, *name;
	size_t name_len;
	struct vma v;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (fast_parse(p, n, &v, &name, &name_len))
			return -EINVAL;
		answers_add(out, &v, name, name_len);
		p += n + 1;
	}
	return 0;
}

struct contender fastparse_contender = {
	.name = "c-fastparse", .open = fast_open, .close = fd_state_close,
	.query = fast_query, .enumerate = fast_enumerate, .parse = fast_text,
};
