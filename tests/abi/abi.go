// Package abi holds cgo's view of the public structs of procmapq.h (the
// view package capi is compiled with), for the layout test in this
// directory. It is a non-test package because _test.go files cannot
// import "C".
package abi

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include "procmapq.h"
*/
import "C"

import "unsafe"

// Field is one struct field as cgo lays it out.
type Field struct {
	Name         string
	Offset, Size uintptr
}

// Struct is one public struct as cgo lays it out, fields in declaration
// order.
type Struct struct {
	Name   string
	Size   uintptr
	Fields []Field
}

func field[T any](name string, off uintptr, v T) Field {
	return Field{name, off, unsafe.Sizeof(v)}
}

// CgoLayout returns every public struct of procmapq.h as cgo sees it.
func CgoLayout() []Struct {
	var openOpts C.struct_procmapq_open_opts
	var queryOpts C.struct_procmapq_query_opts
	var vma C.struct_procmapq_vma
	var lookup C.struct_procmapq_lookup
	var vmaBuf C.struct_procmapq_vma_buf
	var compareOpts C.struct_procmapq_compare_opts
	var difference C.struct_procmapq_difference
	var compareReport C.struct_procmapq_compare_report
	var normalizeOpts C.struct_procmapq_normalize_opts
	var normOutput C.struct_procmapq_norm_output
	var normMeta C.struct_procmapq_norm_meta
	var normalized C.struct_procmapq_normalized
	return []Struct{
		{"procmapq_open_opts", unsafe.Sizeof(openOpts), []Field{
			field("size", unsafe.Offsetof(openOpts.size), openOpts.size),
			field("proc_root", unsafe.Offsetof(openOpts.proc_root), openOpts.proc_root),
			field("pid", unsafe.Offsetof(openOpts.pid), openOpts.pid),
			field("flags", unsafe.Offsetof(openOpts.flags), openOpts.flags),
		}},
		{"procmapq_query_opts", unsafe.Sizeof(queryOpts), []Field{
			field("size", unsafe.Offsetof(queryOpts.size), queryOpts.size),
			field("backend", unsafe.Offsetof(queryOpts.backend), queryOpts.backend),
			field("flags", unsafe.Offsetof(queryOpts.flags), queryOpts.flags),
			field("perms", unsafe.Offsetof(queryOpts.perms), queryOpts.perms),
			field("reserved", unsafe.Offsetof(queryOpts.reserved), queryOpts.reserved),
		}},
		{"procmapq_vma", unsafe.Sizeof(vma), []Field{
			field("start", unsafe.Offsetof(vma.start), vma.start),
			field("end", unsafe.Offsetof(vma.end), vma.end),
			field("offset", unsafe.Offsetof(vma.offset), vma.offset),
			field("inode", unsafe.Offsetof(vma.inode), vma.inode),
			field("page_size", unsafe.Offsetof(vma.page_size), vma.page_size),
			field("name_off", unsafe.Offsetof(vma.name_off), vma.name_off),
			field("dev_major", unsafe.Offsetof(vma.dev_major), vma.dev_major),
			field("dev_minor", unsafe.Offsetof(vma.dev_minor), vma.dev_minor),
			field("perms", unsafe.Offsetof(vma.perms), vma.perms),
			field("kind", unsafe.Offsetof(vma.kind), vma.kind),
			field("flags", unsafe.Offsetof(vma.flags), vma.flags),
			field("name_len", unsafe.Offsetof(vma.name_len), vma.name_len),
			field("build_id_len", unsafe.Offsetof(vma.build_id_len), vma.build_id_len),
			field("build_id", unsafe.Offsetof(vma.build_id), vma.build_id),
			field("reserved", unsafe.Offsetof(vma.reserved), vma.reserved),
		}},
		{"procmapq_lookup", unsafe.Sizeof(lookup), []Field{
			field("vma", unsafe.Offsetof(lookup.vma), lookup.vma),
			field("reason", unsafe.Offsetof(lookup.reason), lookup.reason),
			field("file_offset", unsafe.Offsetof(lookup.file_offset), lookup.file_offset),
			field("reserved", unsafe.Offsetof(lookup.reserved), lookup.reserved),
		}},
		{"procmapq_vma_buf", unsafe.Sizeof(vmaBuf), []Field{
			field("size", unsafe.Offsetof(vmaBuf.size), vmaBuf.size),
			field("vmas", unsafe.Offsetof(vmaBuf.vmas), vmaBuf.vmas),
			field("vmas_cap", unsafe.Offsetof(vmaBuf.vmas_cap), vmaBuf.vmas_cap),
			field("names", unsafe.Offsetof(vmaBuf.names), vmaBuf.names),
			field("names_cap", unsafe.Offsetof(vmaBuf.names_cap), vmaBuf.names_cap),
			field("vmas_count", unsafe.Offsetof(vmaBuf.vmas_count), vmaBuf.vmas_count),
			field("names_len", unsafe.Offsetof(vmaBuf.names_len), vmaBuf.names_len),
			field("strategy", unsafe.Offsetof(vmaBuf.strategy), vmaBuf.strategy),
			field("syscalls", unsafe.Offsetof(vmaBuf.syscalls), vmaBuf.syscalls),
		}},
		{"procmapq_compare_opts", unsafe.Sizeof(compareOpts), []Field{
			field("size", unsafe.Offsetof(compareOpts.size), compareOpts.size),
			field("attempts", unsafe.Offsetof(compareOpts.attempts), compareOpts.attempts),
			field("retry_delay_ms", unsafe.Offsetof(compareOpts.retry_delay_ms), compareOpts.retry_delay_ms),
		}},
		{"procmapq_difference", unsafe.Sizeof(difference), []Field{
			field("kind", unsafe.Offsetof(difference.kind), difference.kind),
			field("flags", unsafe.Offsetof(difference.flags), difference.flags),
			field("text_start", unsafe.Offsetof(difference.text_start), difference.text_start),
			field("text_end", unsafe.Offsetof(difference.text_end), difference.text_end),
			field("ioctl_start", unsafe.Offsetof(difference.ioctl_start), difference.ioctl_start),
			field("ioctl_end", unsafe.Offsetof(difference.ioctl_end), difference.ioctl_end),
			field("detail", unsafe.Offsetof(difference.detail), difference.detail),
			field("reserved", unsafe.Offsetof(difference.reserved), difference.reserved),
		}},
		{"procmapq_compare_report", unsafe.Sizeof(compareReport), []Field{
			field("pid", unsafe.Offsetof(compareReport.pid), compareReport.pid),
			field("attempts", unsafe.Offsetof(compareReport.attempts), compareReport.attempts),
			field("settled", unsafe.Offsetof(compareReport.settled), compareReport.settled),
			field("text_vmas", unsafe.Offsetof(compareReport.text_vmas), compareReport.text_vmas),
			field("ioctl_vmas", unsafe.Offsetof(compareReport.ioctl_vmas), compareReport.ioctl_vmas),
			field("matched", unsafe.Offsetof(compareReport.matched), compareReport.matched),
			field("page_size_only_ioctl", unsafe.Offsetof(compareReport.page_size_only_ioctl), compareReport.page_size_only_ioctl),
			field("expected_count", unsafe.Offsetof(compareReport.expected_count), compareReport.expected_count),
			field("mismatch_count", unsafe.Offsetof(compareReport.mismatch_count), compareReport.mismatch_count),
			field("diff_count", unsafe.Offsetof(compareReport.diff_count), compareReport.diff_count),
			field("diffs", unsafe.Offsetof(compareReport.diffs), compareReport.diffs),
			field("reserved", unsafe.Offsetof(compareReport.reserved), compareReport.reserved),
		}},
		{"procmapq_normalize_opts", unsafe.Sizeof(normalizeOpts), []Field{
			field("size", unsafe.Offsetof(normalizeOpts.size), normalizeOpts.size),
			field("backend", unsafe.Offsetof(normalizeOpts.backend), normalizeOpts.backend),
			field("flags", unsafe.Offsetof(normalizeOpts.flags), normalizeOpts.flags),
			field("perms", unsafe.Offsetof(normalizeOpts.perms), normalizeOpts.perms),
			field("reserved", unsafe.Offsetof(normalizeOpts.reserved), normalizeOpts.reserved),
		}},
		{"procmapq_norm_output", unsafe.Sizeof(normOutput), []Field{
			field("file_offset", unsafe.Offsetof(normOutput.file_offset), normOutput.file_offset),
			field("virt_addr", unsafe.Offsetof(normOutput.virt_addr), normOutput.virt_addr),
			field("meta", unsafe.Offsetof(normOutput.meta), normOutput.meta),
			field("flags", unsafe.Offsetof(normOutput.flags), normOutput.flags),
			field("reserved", unsafe.Offsetof(normOutput.reserved), normOutput.reserved),
		}},
		{"procmapq_norm_meta", unsafe.Sizeof(normMeta), []Field{
			field("kind", unsafe.Offsetof(normMeta.kind), normMeta.kind),
			field("reason", unsafe.Offsetof(normMeta.reason), normMeta.reason),
			field("build_id_source", unsafe.Offsetof(normMeta.build_id_source), normMeta.build_id_source),
			field("flags", unsafe.Offsetof(normMeta.flags), normMeta.flags),
			field("path", unsafe.Offsetof(normMeta.path), normMeta.path),
			field("path_len", unsafe.Offsetof(normMeta.path_len), normMeta.path_len),
			field("build_id", unsafe.Offsetof(normMeta.build_id), normMeta.build_id),
			field("build_id_len", unsafe.Offsetof(normMeta.build_id_len), normMeta.build_id_len),
			field("dev_major", unsafe.Offsetof(normMeta.dev_major), normMeta.dev_major),
			field("dev_minor", unsafe.Offsetof(normMeta.dev_minor), normMeta.dev_minor),
			field("inode", unsafe.Offsetof(normMeta.inode), normMeta.inode),
			field("reserved", unsafe.Offsetof(normMeta.reserved), normMeta.reserved),
		}},
		{"procmapq_normalized", unsafe.Sizeof(normalized), []Field{
			field("output_count", unsafe.Offsetof(normalized.output_count), normalized.output_count),
			field("outputs", unsafe.Offsetof(normalized.outputs), normalized.outputs),
			field("meta_count", unsafe.Offsetof(normalized.meta_count), normalized.meta_count),
			field("metas", unsafe.Offsetof(normalized.metas), normalized.metas),
			field("strategy", unsafe.Offsetof(normalized.strategy), normalized.strategy),
			field("reserved0", unsafe.Offsetof(normalized.reserved0), normalized.reserved0),
			field("reserved", unsafe.Offsetof(normalized.reserved), normalized.reserved),
		}},
	}
}

// Const is one enum-like macro of procmapq.h.
type Const struct {
	Name  string
	Value uint64
}

// Constants returns the macros whose values must equal package core's.
func Constants() []Const {
	return []Const{
		{"PROCMAPQ_BACKEND_AUTO", C.PROCMAPQ_BACKEND_AUTO},
		{"PROCMAPQ_BACKEND_IOCTL", C.PROCMAPQ_BACKEND_IOCTL},
		{"PROCMAPQ_BACKEND_TEXT", C.PROCMAPQ_BACKEND_TEXT},
		{"PROCMAPQ_PERM_R", C.PROCMAPQ_PERM_R},
		{"PROCMAPQ_PERM_W", C.PROCMAPQ_PERM_W},
		{"PROCMAPQ_PERM_X", C.PROCMAPQ_PERM_X},
		{"PROCMAPQ_PERM_SHARED", C.PROCMAPQ_PERM_SHARED},
		{"PROCMAPQ_KIND_ANONYMOUS", C.PROCMAPQ_KIND_ANONYMOUS},
		{"PROCMAPQ_KIND_FILE", C.PROCMAPQ_KIND_FILE},
		{"PROCMAPQ_KIND_DELETED_FILE", C.PROCMAPQ_KIND_DELETED_FILE},
		{"PROCMAPQ_KIND_NAMED_ANON", C.PROCMAPQ_KIND_NAMED_ANON},
		{"PROCMAPQ_KIND_HEAP", C.PROCMAPQ_KIND_HEAP},
		{"PROCMAPQ_KIND_STACK", C.PROCMAPQ_KIND_STACK},
		{"PROCMAPQ_KIND_VDSO", C.PROCMAPQ_KIND_VDSO},
		{"PROCMAPQ_KIND_VVAR", C.PROCMAPQ_KIND_VVAR},
		{"PROCMAPQ_KIND_VSYSCALL", C.PROCMAPQ_KIND_VSYSCALL},
		{"PROCMAPQ_KIND_SPECIAL", C.PROCMAPQ_KIND_SPECIAL},
		{"PROCMAPQ_VMA_DELETED", C.PROCMAPQ_VMA_DELETED},
		{"PROCMAPQ_VMA_NAME_AMBIGUOUS", C.PROCMAPQ_VMA_NAME_AMBIGUOUS},
		{"PROCMAPQ_VMA_NAME_UNAVAILABLE", C.PROCMAPQ_VMA_NAME_UNAVAILABLE},
		{"PROCMAPQ_REASON_FOUND", C.PROCMAPQ_REASON_FOUND},
		{"PROCMAPQ_REASON_UNMAPPED", C.PROCMAPQ_REASON_UNMAPPED},
		{"PROCMAPQ_REASON_FILTERED", C.PROCMAPQ_REASON_FILTERED},
		{"PROCMAPQ_REASON_PROCESS_GONE", C.PROCMAPQ_REASON_PROCESS_GONE},
		{"PROCMAPQ_STRATEGY_NONE", C.PROCMAPQ_STRATEGY_NONE},
		{"PROCMAPQ_STRATEGY_POINT_IOCTL", C.PROCMAPQ_STRATEGY_POINT_IOCTL},
		{"PROCMAPQ_STRATEGY_IOCTL_WALK", C.PROCMAPQ_STRATEGY_IOCTL_WALK},
		{"PROCMAPQ_STRATEGY_TEXT", C.PROCMAPQ_STRATEGY_TEXT},
		{"PROCMAPQ_STRATEGY_IOCTL_THEN_TEXT", C.PROCMAPQ_STRATEGY_IOCTL_THEN_TEXT},
		{"PROCMAPQ_DIFF_GATE_VMA", C.PROCMAPQ_DIFF_GATE_VMA},
		{"PROCMAPQ_DIFF_NAME_ESCAPING", C.PROCMAPQ_DIFF_NAME_ESCAPING},
		{"PROCMAPQ_DIFF_NAME_TOO_LONG", C.PROCMAPQ_DIFF_NAME_TOO_LONG},
		{"PROCMAPQ_DIFF_BUILD_ID_TOO_LONG", C.PROCMAPQ_DIFF_BUILD_ID_TOO_LONG},
		{"PROCMAPQ_DIFF_MISSING_IN_IOCTL", C.PROCMAPQ_DIFF_MISSING_IN_IOCTL},
		{"PROCMAPQ_DIFF_MISSING_IN_TEXT", C.PROCMAPQ_DIFF_MISSING_IN_TEXT},
		{"PROCMAPQ_DIFF_FIELDS", C.PROCMAPQ_DIFF_FIELDS},
		{"PROCMAPQ_DIFF_NAME", C.PROCMAPQ_DIFF_NAME},
		{"PROCMAPQ_DIFF_BUILD_ID", C.PROCMAPQ_DIFF_BUILD_ID},
		{"PROCMAPQ_META_UNKNOWN", C.PROCMAPQ_META_UNKNOWN},
		{"PROCMAPQ_META_ELF", C.PROCMAPQ_META_ELF},
		{"PROCMAPQ_META_VDSO", C.PROCMAPQ_META_VDSO},
		{"PROCMAPQ_NORM_REASON_UNMAPPED", C.PROCMAPQ_NORM_REASON_UNMAPPED},
		{"PROCMAPQ_NORM_REASON_ANONYMOUS", C.PROCMAPQ_NORM_REASON_ANONYMOUS},
		{"PROCMAPQ_NORM_REASON_UNSUPPORTED", C.PROCMAPQ_NORM_REASON_UNSUPPORTED},
		{"PROCMAPQ_NORM_REASON_FILTERED", C.PROCMAPQ_NORM_REASON_FILTERED},
		{"PROCMAPQ_NORM_REASON_PROCESS_GONE", C.PROCMAPQ_NORM_REASON_PROCESS_GONE},
		{"PROCMAPQ_BUILD_ID_NONE", C.PROCMAPQ_BUILD_ID_NONE},
		{"PROCMAPQ_BUILD_ID_KERNEL", C.PROCMAPQ_BUILD_ID_KERNEL},
		{"PROCMAPQ_BUILD_ID_FILE", C.PROCMAPQ_BUILD_ID_FILE},
		{"PROCMAPQ_BUILD_ID_MEMORY", C.PROCMAPQ_BUILD_ID_MEMORY},
		{"PROCMAPQ_META_F_DELETED", C.PROCMAPQ_META_F_DELETED},
		{"PROCMAPQ_META_F_FILE_UNAVAILABLE", C.PROCMAPQ_META_F_FILE_UNAVAILABLE},
		{"PROCMAPQ_META_F_DEV_UNVERIFIED", C.PROCMAPQ_META_F_DEV_UNVERIFIED},
		{"PROCMAPQ_META_F_NAME_AMBIGUOUS", C.PROCMAPQ_META_F_NAME_AMBIGUOUS},
	}
}
