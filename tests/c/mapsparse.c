/* mapsparse: see mapsparse.h. */
#define _GNU_SOURCE
#include "mapsparse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel pads the header to this column on 64-bit (25 + 6 * 8 - 1). */
#define NAME_PAD_COLUMN 72

static bool parse_hex(const char *s, const char *end, size_t *pos, char delim, uint64_t *out)
{
	size_t i = *pos, digits = 0;
	uint64_t v = 0;
	for (; s + i < end && s[i] != delim; i++, digits++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		if (digits >= 16)
			return false;
		v = v << 4 | d;
	}
	if (digits == 0 || s + i >= end)
		return false;
	*out = v;
	*pos = i + 1; /* skip the delimiter */
	return true;
}

static bool parse_perms(const char *p, uint32_t *out)
{
	static const char set[4] = {'r', 'w', 'x', 's'};
	uint32_t perms = 0;
	for (int i = 0; i < 3; i++) {
		if (p[i] == set[i])
			perms |= 1u << i;
		else if (p[i] != '-')
			return false;
	}
	if (p[3] == 's')
		perms |= MAPS_PERM_SHARED;
	else if (p[3] != 'p')
		return false;
	*out = perms;
	return true;
}

/* parse_line fills e from line[0, len) (no newline). The name is unescaped
 * into *names, which advances. */
static bool parse_line(const char *line, size_t len, struct maps_entry *e, char **names)
{
	const char *end = line + len;
	size_t pos = 0;
	uint64_t major, minor;
	memset(e, 0, sizeof *e);
	if (!parse_hex(line, end, &pos, '-', &e->start) || !parse_hex(line, end, &pos, ' ', &e->end))
		return false;
	if (pos + 5 > len || !parse_perms(line + pos, &e->perms) || line[pos + 4] != ' ')
		return false;
	pos += 5;
	if (!parse_hex(line, end, &pos, ' ', &e->offset) || !parse_hex(line, end, &pos, ':', &major) ||
	    !parse_hex(line, end, &pos, ' ', &minor) || major > UINT32_MAX || minor > UINT32_MAX)
		return false;
	e->dev_major = (uint32_t)major;
	e->dev_minor = (uint32_t)minor;
	size_t digits = 0;
	for (; pos < len && line[pos] >= '0' && line[pos] <= '9'; pos++, digits++) {
		uint64_t d = (uint64_t)(line[pos] - '0');
		if (e->inode > (UINT64_MAX - d) / 10)
			return false;
		e->inode = e->inode * 10 + d;
	}
	if (digits == 0 || e->start >= e->end)
		return false;
	/* Unnamed lines end with one space after the inode (or, on old
	 * kernels, none). */
	char *out = *names;
	e->name = out;
	e->raw_name = end;
	if (pos == len || (pos + 1 == len && line[pos] == ' ')) {
		*out++ = 0;
		*names = out;
		return true;
	}
	if (line[pos] != ' ')
		return false;
	size_t header_len = pos + 1;
	size_t name_start = (header_len > NAME_PAD_COLUMN ? header_len : NAME_PAD_COLUMN) + 1;
	if (name_start >= len)
		return false; /* padding but no name */
	for (size_t i = pos; i < name_start; i++)
		if (line[i] != ' ')
			return false;
	e->raw_name = line + name_start;
	e->raw_name_len = len - name_start;
	for (size_t i = name_start; i < len; i++) {
		if (line[i] == '\\' && len - i >= 4 && memcmp(line + i, "\\012", 4) == 0) {
			*out++ = '\n';
			i += 3;
			e->name_ambiguous = true;
		} else {
			*out++ = line[i];
		}
	}
	e->name_len = (size_t)(out - e->name);
	*out++ = 0;
	*names = out;
	return true;
}

int maps_parse(const char *text, size_t len, struct maps_table *t, size_t *bad_line)
{
	memset(t, 0, sizeof *t);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (len > 0 && text[len - 1] != '\n')
		lines++;
	t->text = malloc(len + 1);
	t->names = malloc(len + lines + 1); /* unescaping only shrinks; + NULs */
	t->entries = calloc(lines + 1, sizeof *t->entries);
	if (!t->text || !t->names || !t->entries) {
		maps_free(t);
		return -ENOMEM;
	}
	memcpy(t->text, text, len);
	t->text[len] = 0;
	t->text_len = len;
	char *names = t->names;
	const char *p = t->text, *end = t->text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (!parse_line(p, line_len, &t->entries[t->count], &names)) {
			if (bad_line)
				*bad_line = t->count + 1;
			maps_free(t);
			return -EINVAL;
		}
		t->count++;
		p += line_len + 1;
	}
	return 0;
}

int maps_read_fd(int fd, char **out, size_t *out_len)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = -errno;
			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int maps_load(int pid, struct maps_table *t)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *text;
	size_t len;
	int err = maps_read_fd(fd, &text, &len);
	close(fd);
	if (err)
		return err;
	err = maps_parse(text, len, t, NULL);
	free(text);
	return err;
}

const struct maps_entry *maps_find(const struct maps_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct maps_entry *e = &t->entries[mid];
		if (addr < e->start)
			hi = mid;
		else if (addr >= e->end)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

void maps_perms_text(uint32_t perms, char buf[5])
{
	buf[0] = perms & MAPS_PERM_READ ? 'r' : '-';
	buf[1] = perms & MAPS_PERM_WRITE ? 'w' : '-';
	buf[2] = perms & MAPS_PERM_EXEC ? 'x' : '-';
	buf[3] = perms & MAPS_PERM_SHARED ? 's' : 'p';
	buf[4] = 0;
}

bool maps_is_file_backed(const struct maps_entry *e)
{
	return (e->name_len > 0 && e->name[0] == '/') ||
	       (e->name_len > 12 && memcmp(e->name, "[anon_shmem:", 12) == 0);
}

void maps_free(struct maps_table *t)
{
	free(t->entries);
	free(t->text);
	free(t->names);
	memset(t, 0, sizeof *t);
}
