//! Raw FFI mirror of `include/procmapq.h`: every public struct, constant and
//! function, written by hand (no bindgen, no libc crate).
//!
//! Keep in sync with include/procmapq.h. The layout of every struct is
//! checked at compile time against the output of `tests/abi/layout.c` (see
//! build.rs and the `layout_asserts.rs` it generates), and a test compares
//! every `#define PROCMAPQ_*` of the header with [`CONSTANTS`].
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int};
use core::marker::{PhantomData, PhantomPinned};

/// Defines each constant and lists it in [`CONSTANTS`], so the test that
/// compares them with the header cannot miss one.
macro_rules! constants {
    ($($name:ident: $ty:ty = $value:expr;)*) => {
        $(pub const $name: $ty = $value;)*
        /// Every constant of this module, by its C name, for the header test.
        pub const CONSTANTS: &[(&str, u64)] = &[$((stringify!($name), $value as u64),)*];
    };
}

constants! {
    PROCMAPQ_VERSION_MAJOR: u32 = 0;
    PROCMAPQ_VERSION_MINOR: u32 = 1;
    PROCMAPQ_VERSION_PATCH: u32 = 0;
    PROCMAPQ_VERSION_NUMBER: u32 =
        PROCMAPQ_VERSION_MAJOR * 10000 + PROCMAPQ_VERSION_MINOR * 100 + PROCMAPQ_VERSION_PATCH;

    PROCMAPQ_BACKEND_AUTO: u32 = 0;
    PROCMAPQ_BACKEND_IOCTL: u32 = 1;
    PROCMAPQ_BACKEND_TEXT: u32 = 2;

    PROCMAPQ_QUERY_SORTED: u32 = 0x1;
    PROCMAPQ_QUERY_BUILD_IDS: u32 = 0x2;
    PROCMAPQ_QUERY_FILE_BACKED: u32 = 0x4;

    PROCMAPQ_PERM_R: u32 = 0x1;
    PROCMAPQ_PERM_W: u32 = 0x2;
    PROCMAPQ_PERM_X: u32 = 0x4;
    PROCMAPQ_PERM_SHARED: u32 = 0x8;

    PROCMAPQ_KIND_ANONYMOUS: u32 = 0;
    PROCMAPQ_KIND_FILE: u32 = 1;
    PROCMAPQ_KIND_DELETED_FILE: u32 = 2;
    PROCMAPQ_KIND_NAMED_ANON: u32 = 3;
    PROCMAPQ_KIND_HEAP: u32 = 4;
    PROCMAPQ_KIND_STACK: u32 = 5;
    PROCMAPQ_KIND_VDSO: u32 = 6;
    PROCMAPQ_KIND_VVAR: u32 = 7;
    PROCMAPQ_KIND_VSYSCALL: u32 = 8;
    PROCMAPQ_KIND_SPECIAL: u32 = 9;

    PROCMAPQ_VMA_DELETED: u32 = 0x1;
    PROCMAPQ_VMA_NAME_AMBIGUOUS: u32 = 0x2;
    PROCMAPQ_VMA_NAME_UNAVAILABLE: u32 = 0x4;

    PROCMAPQ_BUILD_ID_MAX: usize = 20;

    PROCMAPQ_REASON_FOUND: u32 = 0;
    PROCMAPQ_REASON_UNMAPPED: u32 = 1;
    PROCMAPQ_REASON_FILTERED: u32 = 2;
    PROCMAPQ_REASON_PROCESS_GONE: u32 = 3;

    PROCMAPQ_STRATEGY_NONE: u32 = 0;
    PROCMAPQ_STRATEGY_POINT_IOCTL: u32 = 1;
    PROCMAPQ_STRATEGY_IOCTL_WALK: u32 = 2;
    PROCMAPQ_STRATEGY_TEXT: u32 = 3;
    PROCMAPQ_STRATEGY_IOCTL_THEN_TEXT: u32 = 4;

    PROCMAPQ_DIFF_GATE_VMA: u32 = 0;
    PROCMAPQ_DIFF_NAME_ESCAPING: u32 = 1;
    PROCMAPQ_DIFF_NAME_TOO_LONG: u32 = 2;
    PROCMAPQ_DIFF_BUILD_ID_TOO_LONG: u32 = 3;
    PROCMAPQ_DIFF_MISSING_IN_IOCTL: u32 = 4;
    PROCMAPQ_DIFF_MISSING_IN_TEXT: u32 = 5;
    PROCMAPQ_DIFF_FIELDS: u32 = 6;
    PROCMAPQ_DIFF_NAME: u32 = 7;
    PROCMAPQ_DIFF_BUILD_ID: u32 = 8;

    PROCMAPQ_DIFF_F_EXPECTED: u32 = 0x1;
    PROCMAPQ_DIFF_F_HAS_TEXT: u32 = 0x2;
    PROCMAPQ_DIFF_F_HAS_IOCTL: u32 = 0x4;

    PROCMAPQ_NORM_SORTED: u32 = 0x01;
    PROCMAPQ_NORM_BUILD_IDS: u32 = 0x02;
    PROCMAPQ_NORM_FILE_BACKED: u32 = 0x04;
    PROCMAPQ_NORM_VIRT_ADDRS: u32 = 0x08;
    PROCMAPQ_NORM_NO_MAP_FILES: u32 = 0x10;
    PROCMAPQ_NORM_NO_BUILD_ID_CACHE: u32 = 0x20;

    PROCMAPQ_META_UNKNOWN: u32 = 0;
    PROCMAPQ_META_ELF: u32 = 1;
    PROCMAPQ_META_VDSO: u32 = 2;

    PROCMAPQ_NORM_REASON_UNMAPPED: u32 = 0;
    PROCMAPQ_NORM_REASON_ANONYMOUS: u32 = 1;
    PROCMAPQ_NORM_REASON_UNSUPPORTED: u32 = 2;
    PROCMAPQ_NORM_REASON_FILTERED: u32 = 3;
    PROCMAPQ_NORM_REASON_PROCESS_GONE: u32 = 4;

    PROCMAPQ_BUILD_ID_NONE: u32 = 0;
    PROCMAPQ_BUILD_ID_KERNEL: u32 = 1;
    PROCMAPQ_BUILD_ID_FILE: u32 = 2;
    PROCMAPQ_BUILD_ID_MEMORY: u32 = 3;

    PROCMAPQ_META_F_DELETED: u32 = 0x1;
    PROCMAPQ_META_F_FILE_UNAVAILABLE: u32 = 0x2;
    PROCMAPQ_META_F_DEV_UNVERIFIED: u32 = 0x4;
    PROCMAPQ_META_F_NAME_AMBIGUOUS: u32 = 0x8;

    PROCMAPQ_NORM_OUT_HAS_VIRT_ADDR: u32 = 0x1;
}

/// `struct procmapq`: an open target address space. Opaque: only ever used
/// behind a pointer; not Send/Sync/Unpin by itself (the safe layer decides).
#[repr(C)]
pub struct procmapq {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct procmapq_open_opts {
    pub size: u64,
    pub proc_root: *const c_char,
    pub pid: i32,
    pub flags: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct procmapq_query_opts {
    pub size: u64,
    pub backend: u32,
    pub flags: u32,
    pub perms: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct procmapq_vma {
    pub start: u64,
    pub end: u64,
    pub offset: u64,
    pub inode: u64,
    pub page_size: u64,
    pub name_off: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub perms: u32,
    pub kind: u32,
    pub flags: u32,
    pub name_len: u32,
    pub build_id_len: u32,
    pub build_id: [u8; PROCMAPQ_BUILD_ID_MAX],
    pub reserved: [u64; 4],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct procmapq_lookup {
    pub vma: i32,
    pub reason: u32,
    pub file_offset: u64,
    pub reserved: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct procmapq_vma_buf {
    pub size: u64,
    pub vmas: *mut procmapq_vma,
    pub vmas_cap: u64,
    pub names: *mut c_char,
    pub names_cap: u64,
    pub vmas_count: u64,
    pub names_len: u64,
    pub strategy: u32,
    pub syscalls: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct procmapq_compare_opts {
    pub size: u64,
    pub attempts: u32,
    pub retry_delay_ms: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct procmapq_difference {
    pub kind: u32,
    pub flags: u32,
    pub text_start: u64,
    pub text_end: u64,
    pub ioctl_start: u64,
    pub ioctl_end: u64,
    pub detail: *const c_char,
    pub reserved: [u64; 2],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct procmapq_compare_report {
    pub pid: i32,
    pub attempts: u32,
    pub settled: u32,
    pub text_vmas: u32,
    pub ioctl_vmas: u32,
    pub matched: u32,
    pub page_size_only_ioctl: u32,
    pub expected_count: u32,
    pub mismatch_count: u32,
    pub diff_count: u32,
    pub diffs: *mut procmapq_difference,
    pub reserved: [u64; 4],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct procmapq_normalize_opts {
    pub size: u64,
    pub backend: u32,
    pub flags: u32,
    pub perms: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct procmapq_norm_output {
    pub file_offset: u64,
    pub virt_addr: u64,
    pub meta: u32,
    pub flags: u32,
    pub reserved: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct procmapq_norm_meta {
    pub kind: u32,
    pub reason: u32,
    pub build_id_source: u32,
    pub flags: u32,
    pub path: *const c_char,
    pub path_len: u64,
    pub build_id: *const u8,
    pub build_id_len: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub inode: u64,
    pub reserved: [u64; 4],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct procmapq_normalized {
    pub output_count: u64,
    pub outputs: *mut procmapq_norm_output,
    pub meta_count: u64,
    pub metas: *mut procmapq_norm_meta,
    pub strategy: u32,
    pub reserved0: u32,
    pub reserved: [u64; 3],
}

// Compile-time size and offset asserts for every struct above, generated by
// build.rs from the output of tests/abi/layout.c: a header change that the
// mirrors do not follow fails the build (and so `cargo test`).
include!(concat!(env!("OUT_DIR"), "/layout_asserts.rs"));

// Linked against libprocmapq.so (build.rs: PROCMAPQ_LIB_DIR, default build/).
#[link(name = "procmapq")]
unsafe extern "C" {
    pub fn procmapq_version() -> u32;
    pub fn procmapq_supports_procmap_query() -> c_int;
    pub fn procmapq_strerror(err: c_int) -> *const c_char;
    pub fn procmapq_last_error() -> *const c_char;

    pub fn procmapq_open(pid: c_int, opts: *const procmapq_open_opts, out: *mut *mut procmapq) -> c_int;
    pub fn procmapq_open_fd(fd: c_int, opts: *const procmapq_open_opts, out: *mut *mut procmapq) -> c_int;
    pub fn procmapq_open_text(
        text: *const c_char,
        len: usize,
        opts: *const procmapq_open_opts,
        out: *mut *mut procmapq,
    ) -> c_int;
    pub fn procmapq_close(h: *mut procmapq) -> c_int;
    pub fn procmapq_reopen(h: *mut procmapq) -> c_int;
    pub fn procmapq_pid(h: *const procmapq) -> c_int;

    pub fn procmapq_query(
        h: *mut procmapq,
        addrs: *const u64,
        n: usize,
        opts: *const procmapq_query_opts,
        lookups: *mut procmapq_lookup,
        out: *mut procmapq_vma_buf,
    ) -> c_int;
    pub fn procmapq_enumerate(
        h: *mut procmapq,
        opts: *const procmapq_query_opts,
        out: *mut procmapq_vma_buf,
    ) -> c_int;

    pub fn procmapq_compare(
        h: *mut procmapq,
        opts: *const procmapq_compare_opts,
        out: *mut *mut procmapq_compare_report,
    ) -> c_int;
    pub fn procmapq_compare_report_free(report: *mut procmapq_compare_report);

    pub fn procmapq_normalize(
        h: *mut procmapq,
        addrs: *const u64,
        n: usize,
        opts: *const procmapq_normalize_opts,
        out: *mut *mut procmapq_normalized,
    ) -> c_int;
    pub fn procmapq_normalized_free(res: *mut procmapq_normalized);
}
