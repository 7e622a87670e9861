/* mapsparse: an independent parser of /proc/<pid>/maps text, used by the C
 * tests and the C example as the reference the library is checked against.
 * It shares no code with the library on purpose.
 *
 * Format (fs/proc/task_mmu.c, show_vma_header_prefix + seq_pad):
 *   START-END PERMS OFFSET MAJ:MIN INODE [padding to column 72] ' ' NAME
 * All numbers are hex except INODE (decimal). The name starts at byte
 * max(header length, 72) + 1 and runs to the end of the line, kept verbatim
 * (leading and trailing spaces included). The kernel escapes only '\n', as
 * "\012"; a literal backslash is not escaped, so a name containing "\012"
 * is ambiguous and flagged.
 */
#ifndef MAPSPARSE_H
#define MAPSPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Permission bits, the values of the kernel's PROCMAP_QUERY_VMA_* flags. */
#define MAPS_PERM_READ   0x01u
#define MAPS_PERM_WRITE  0x02u
#define MAPS_PERM_EXEC   0x04u
#define MAPS_PERM_SHARED 0x08u

struct maps_entry {
	uint64_t start, end; /* [start, end) */
	uint64_t offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	uint32_t perms;      /* MAPS_PERM_* */
	const char *name;    /* unescaped ("\012" -> '\n'), NUL-terminated; "" if none */
	size_t name_len;     /* bytes, without the NUL */
	const char *raw_name;/* the name exactly as the text has it */
	size_t raw_name_len;
	bool name_ambiguous; /* raw name contained "\012" */
};

struct maps_table {
	struct maps_entry *entries; /* in text order (ascending addresses) */
	size_t count;
	char *text;                 /* the text read (owned) */
	size_t text_len;
	char *names;                /* storage for unescaped names (owned) */
};

/* maps_parse parses text[0, len) into t (which owns copies). Returns 0, or
 * -EINVAL with the 1-based line number in *bad_line (if not NULL). */
int maps_parse(const char *text, size_t len, struct maps_table *t, size_t *bad_line);

/* maps_read_fd reads an open maps file from its current position to EOF
 * into a malloc'd buffer (*out, *out_len). Returns 0 or -errno. */
int maps_read_fd(int fd, char **out, size_t *out_len);

/* maps_load reads and parses /proc/<pid>/maps. Returns 0 or -errno. */
int maps_load(int pid, struct maps_table *t);

/* maps_find returns the entry covering addr, or NULL. */
const struct maps_entry *maps_find(const struct maps_table *t, uint64_t addr);

/* maps_perms_text writes the 4-letter form ("r-xp") and a NUL into buf[5]. */
void maps_perms_text(uint32_t perms, char buf[5]);

/* maps_is_file_backed tells, from the name alone, whether the kernel's
 * PROCMAP_QUERY_FILE_BACKED_VMA filter keeps the VMA: any absolute path
 * (also memfd "/memfd:...", "/dev/zero (deleted)", SysV "/SYSV...") or an
 * "[anon_shmem:...]" name; not "[heap]", "[stack]", "[vdso]" or no name. */
bool maps_is_file_backed(const struct maps_entry *e);

void maps_free(struct maps_table *t);

#endif
