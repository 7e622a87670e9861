//go:build ignore

/*
 * layout.c - print the size of every public struct of procmapq.h and the
 * offset of each of its fields, as compiled by this compiler:
 *
 *     struct NAME SIZE
 *     field NAME.FIELD OFFSET
 *
 * The Go test in this directory compares it with cgo's view and with
 * pinned strides; the Rust and Python bindings check their mirrors
 * against it. Builds as C99 and as C++17. (The go:build line keeps cgo
 * from compiling this file into package abi.)
 */
#include <stddef.h>
#include <stdio.h>

#include "procmapq.h"

#define S(name) printf("struct %s %zu\n", #name, sizeof(struct name))
#define F(name, field) printf("field %s.%s %zu\n", #name, #field, offsetof(struct name, field))

int main(void)
{
	S(procmapq_open_opts);
	F(procmapq_open_opts, size);
	F(procmapq_open_opts, proc_root);
	F(procmapq_open_opts, pid);
	F(procmapq_open_opts, flags);

	S(procmapq_query_opts);
	F(procmapq_query_opts, size);
	F(procmapq_query_opts, backend);
	F(procmapq_query_opts, flags);
	F(procmapq_query_opts, perms);
	F(procmapq_query_opts, reserved);

	S(procmapq_vma);
	F(procmapq_vma, start);
	F(procmapq_vma, end);
	F(procmapq_vma, offset);
	F(procmapq_vma, inode);
	F(procmapq_vma, page_size);
	F(procmapq_vma, name_off);
	F(procmapq_vma, dev_major);
	F(procmapq_vma, dev_minor);
	F(procmapq_vma, perms);
	F(procmapq_vma, kind);
	F(procmapq_vma, flags);
	F(procmapq_vma, name_len);
	F(procmapq_vma, build_id_len);
	F(procmapq_vma, build_id);
	F(procmapq_vma, reserved);

	S(procmapq_lookup);
	F(procmapq_lookup, vma);
	F(procmapq_lookup, reason);
	F(procmapq_lookup, file_offset);
	F(procmapq_lookup, reserved);

	S(procmapq_vma_buf);
	F(procmapq_vma_buf, size);
	F(procmapq_vma_buf, vmas);
	F(procmapq_vma_buf, vmas_cap);
	F(procmapq_vma_buf, names);
	F(procmapq_vma_buf, names_cap);
	F(procmapq_vma_buf, vmas_count);
	F(procmapq_vma_buf, names_len);
	F(procmapq_vma_buf, strategy);
	F(procmapq_vma_buf, syscalls);

	S(procmapq_compare_opts);
	F(procmapq_compare_opts, size);
	F(procmapq_compare_opts, attempts);
	F(procmapq_compare_opts, retry_delay_ms);

	S(procmapq_difference);
	F(procmapq_difference, kind);
	F(procmapq_difference, flags);
	F(procmapq_difference, text_start);
	F(procmapq_difference, text_end);
	F(procmapq_difference, ioctl_start);
	F(procmapq_difference, ioctl_end);
	F(procmapq_difference, detail);
	F(procmapq_difference, reserved);

	S(procmapq_compare_report);
	F(procmapq_compare_report, pid);
	F(procmapq_compare_report, attempts);
	F(procmapq_compare_report, settled);
	F(procmapq_compare_report, text_vmas);
	F(procmapq_compare_report, ioctl_vmas);
	F(procmapq_compare_report, matched);
	F(procmapq_compare_report, page_size_only_ioctl);
	F(procmapq_compare_report, expected_count);
	F(procmapq_compare_report, mismatch_count);
	F(procmapq_compare_report, diff_count);
	F(procmapq_compare_report, diffs);
	F(procmapq_compare_report, reserved);

	S(procmapq_normalize_opts);
	F(procmapq_normalize_opts, size);
	F(procmapq_normalize_opts, backend);
	F(procmapq_normalize_opts, flags);
	F(procmapq_normalize_opts, perms);
	F(procmapq_normalize_opts, reserved);

	S(procmapq_norm_output);
	F(procmapq_norm_output, file_offset);
	F(procmapq_norm_output, virt_addr);
	F(procmapq_norm_output, meta);
	F(procmapq_norm_output, flags);
	F(procmapq_norm_output, reserved);

	S(procmapq_norm_meta);
	F(procmapq_norm_meta, kind);
	F(procmapq_norm_meta, reason);
	F(procmapq_norm_meta, build_id_source);
	F(procmapq_norm_meta, flags);
	F(procmapq_norm_meta, path);
	F(procmapq_norm_meta, path_len);
	F(procmapq_norm_meta, build_id);
	F(procmapq_norm_meta, build_id_len);
	F(procmapq_norm_meta, dev_major);
	F(procmapq_norm_meta, dev_minor);
	F(procmapq_norm_meta, inode);
	F(procmapq_norm_meta, reserved);

	S(procmapq_normalized);
	F(procmapq_normalized, output_count);
	F(procmapq_normalized, outputs);
	F(procmapq_normalized, meta_count);
	F(procmapq_normalized, metas);
	F(procmapq_normalized, strategy);
	F(procmapq_normalized, reserved0);
	F(procmapq_normalized, reserved);
	return 0;
}
