"""ctypes bindings for libprocmapq (standard library only).

Which mapping covers an address of a Linux process, at which file offset,
in which ELF file with which build ID::

    import procmapq
    with procmapq.open(pid) as h:
        for lk in h.query([0x401000, 0x7f0000001000]).lookups:
            print(hex(lk.addr), lk.vma.name if lk.vma else lk.reason, hex(lk.file_offset))

Three ways to ask, same answers:

  h.lookup(addr) -> Lookup         one address, the cheapest call: reused
                                   argument buffers, no VMA table, a Vma
                                   object reused while its VMA is unchanged
  h.query(addrs) -> QueryResult    a batch; one Lookup object per address
  h.query_bulk(addrs) -> BulkResult
                                   a batch as arrays: vma_index, reason and
                                   file_offset per address are zero-copy
                                   views of the C struct procmapq_lookup
                                   array (no Python object per address),
                                   plus the deduplicated VMA table; takes an
                                   array('Q'), a uint64 buffer or bytes in
                                   place, without a copy

    import array
    res = h.query_bulk(array.array("Q", addrs), sorted=True)
    for i, j in enumerate(res.vma_index):
        if j >= 0:
            print(hex(res.addrs[i]), res.vma_name(j), hex(res.file_offset[i]))

Loading: $PROCMAPQ_LIBRARY (a path; if set, it must load), then the soname
libprocmapq.so.<MAJOR> (found through LD_LIBRARY_PATH and the system
paths), then ctypes.util.find_library("procmapq"); ImportError names what
was tried.

Errors: a negative errno from the library raises OSError(errno, message)
with the library's own message (procmapq_last_error()), so the usual
subclasses apply (ProcessLookupError for ESRCH, PermissionError for
EACCES, ...). Addresses outside [0, 2**64) raise OverflowError.

Thread safety: a Handle may be shared by threads (the library serializes
calls on one handle; ctypes releases the GIL during calls). close() must not
run while another thread uses the handle.

The library contains a Go runtime: do not use it in a child forked without
exec (subprocess is fine); enable faulthandler before importing this module.
"""

import array
import ctypes
import ctypes.util
import dataclasses
import errno as _errno
import itertools
import operator
import os
import struct as _struct
import sys
from typing import Iterable, List, NamedTuple, Optional, Tuple

# --- Constants (keep in sync with include/procmapq.h; a test compares) -----

VERSION_MAJOR = 0
VERSION_MINOR = 1
VERSION_PATCH = 0
VERSION_NUMBER = VERSION_MAJOR * 10000 + VERSION_MINOR * 100 + VERSION_PATCH

BACKEND_AUTO = 0
BACKEND_IOCTL = 1
BACKEND_TEXT = 2

QUERY_SORTED = 0x1
QUERY_BUILD_IDS = 0x2
QUERY_FILE_BACKED = 0x4

PERM_R = 0x1
PERM_W = 0x2
PERM_X = 0x4
PERM_SHARED = 0x8

KIND_ANONYMOUS = 0
KIND_FILE = 1
KIND_DELETED_FILE = 2
KIND_NAMED_ANON = 3
KIND_HEAP = 4
KIND_STACK = 5
KIND_VDSO = 6
KIND_VVAR = 7
KIND_VSYSCALL = 8
KIND_SPECIAL = 9

VMA_DELETED = 0x1
VMA_NAME_AMBIGUOUS = 0x2
VMA_NAME_UNAVAILABLE = 0x4

BUILD_ID_MAX = 20

REASON_FOUND = 0
REASON_UNMAPPED = 1
REASON_FILTERED = 2
REASON_PROCESS_GONE = 3

STRATEGY_NONE = 0
STRATEGY_POINT_IOCTL = 1
STRATEGY_IOCTL_WALK = 2
STRATEGY_TEXT = 3
STRATEGY_IOCTL_THEN_TEXT = 4

DIFF_GATE_VMA = 0
DIFF_NAME_ESCAPING = 1
DIFF_NAME_TOO_LONG = 2
DIFF_BUILD_ID_TOO_LONG = 3
DIFF_MISSING_IN_IOCTL = 4
DIFF_MISSING_IN_TEXT = 5
DIFF_FIELDS = 6
DIFF_NAME = 7
DIFF_BUILD_ID = 8

DIFF_F_EXPECTED = 0x1
DIFF_F_HAS_TEXT = 0x2
DIFF_F_HAS_IOCTL = 0x4

NORM_SORTED = 0x01
NORM_BUILD_IDS = 0x02
NORM_FILE_BACKED = 0x04
NORM_VIRT_ADDRS = 0x08
NORM_NO_MAP_FILES = 0x10
NORM_NO_BUILD_ID_CACHE = 0x20

META_UNKNOWN = 0
META_ELF = 1
META_VDSO = 2

NORM_REASON_UNMAPPED = 0
NORM_REASON_ANONYMOUS = 1
NORM_REASON_UNSUPPORTED = 2
NORM_REASON_FILTERED = 3
NORM_REASON_PROCESS_GONE = 4

BUILD_ID_NONE = 0
BUILD_ID_KERNEL = 1
BUILD_ID_FILE = 2
BUILD_ID_MEMORY = 3

META_F_DELETED = 0x1
META_F_FILE_UNAVAILABLE = 0x2
META_F_DEV_UNVERIFIED = 0x4
META_F_NAME_AMBIGUOUS = 0x8

NORM_OUT_HAS_VIRT_ADDR = 0x1

# --- Structures (keep in sync with include/procmapq.h; a test compares the
# --- layouts with tests/abi/layout.c) -------------------------------------

_u32, _u64, _i32 = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int32


class Procmapq(ctypes.Structure):
    """struct procmapq: opaque, only used through pointers."""


class ProcmapqOpenOpts(ctypes.Structure):
    _fields_ = [("size", _u64), ("proc_root", ctypes.c_char_p), ("pid", _i32), ("flags", _u32)]


class ProcmapqQueryOpts(ctypes.Structure):
    _fields_ = [("size", _u64), ("backend", _u32), ("flags", _u32), ("perms", _u32), ("reserved", _u32)]


class ProcmapqVma(ctypes.Structure):
    _fields_ = [
        ("start", _u64),
        ("end", _u64),
        ("offset", _u64),
        ("inode", _u64),
        ("page_size", _u64),
        ("name_off", _u64),
        ("dev_major", _u32),
        ("dev_minor", _u32),
        ("perms", _u32),
        ("kind", _u32),
        ("flags", _u32),
        ("name_len", _u32),
        ("build_id_len", _u32),
        ("build_id", ctypes.c_uint8 * BUILD_ID_MAX),
        ("reserved", _u64 * 4),
    ]


class ProcmapqLookup(ctypes.Structure):
    _fields_ = [("vma", _i32), ("reason", _u32), ("file_offset", _u64), ("reserved", _u64)]


class ProcmapqVmaBuf(ctypes.Structure):
    _fields_ = [
        ("size", _u64),
        ("vmas", ctypes.POINTER(ProcmapqVma)),
        ("vmas_cap", _u64),
        # c_void_p, not c_char_p: the buffer is written by the library.
        ("names", ctypes.c_void_p),
        ("names_cap", _u64),
        ("vmas_count", _u64),
        ("names_len", _u64),
        ("strategy", _u32),
        ("syscalls", _u32),
    ]


class ProcmapqCompareOpts(ctypes.Structure):
    _fields_ = [("size", _u64), ("attempts", _u32), ("retry_delay_ms", _u32)]


class ProcmapqDifference(ctypes.Structure):
    _fields_ = [
        ("kind", _u32),
        ("flags", _u32),
        ("text_start", _u64),
        ("text_end", _u64),
        ("ioctl_start", _u64),
        ("ioctl_end", _u64),
        ("detail", ctypes.c_char_p),
        ("reserved", _u64 * 2),
    ]


class ProcmapqCompareReport(ctypes.Structure):
    _fields_ = [
        ("pid", _i32),
        ("attempts", _u32),
        ("settled", _u32),
        ("text_vmas", _u32),
        ("ioctl_vmas", _u32),
        ("matched", _u32),
        ("page_size_only_ioctl", _u32),
        ("expected_count", _u32),
        ("mismatch_count", _u32),
        ("diff_count", _u32),
        ("diffs", ctypes.POINTER(ProcmapqDifference)),
        ("reserved", _u64 * 4),
    ]


class ProcmapqNormalizeOpts(ctypes.Structure):
    _fields_ = [("size", _u64), ("backend", _u32), ("flags", _u32), ("perms", _u32), ("reserved", _u32)]


class ProcmapqNormOutput(ctypes.Structure):
    _fields_ = [("file_offset", _u64), ("virt_addr", _u64), ("meta", _u32), ("flags", _u32), ("reserved", _u64)]


class ProcmapqNormMeta(ctypes.Structure):
    _fields_ = [
        ("kind", _u32),
        ("reason", _u32),
        ("build_id_source", _u32),
        ("flags", _u32),
        # c_void_p: paths may hold any byte but NUL; read with string_at.
        ("path", ctypes.c_void_p),
        ("path_len", _u64),
        ("build_id", ctypes.c_void_p),
        ("build_id_len", _u64),
        ("dev_major", _u32),
        ("dev_minor", _u32),
        ("inode", _u64),
        ("reserved", _u64 * 4),
    ]


class ProcmapqNormalized(ctypes.Structure):
    _fields_ = [
        ("output_count", _u64),
        ("outputs", ctypes.POINTER(ProcmapqNormOutput)),
        ("meta_count", _u64),
        ("metas", ctypes.POINTER(ProcmapqNormMeta)),
        ("strategy", _u32),
        ("reserved0", _u32),
        ("reserved", _u64 * 3),
    ]


# struct name in the header -> mirror (the layout test walks this).
STRUCTS = {
    "procmapq_open_opts": ProcmapqOpenOpts,
    "procmapq_query_opts": ProcmapqQueryOpts,
    "procmapq_vma": ProcmapqVma,
    "procmapq_lookup": ProcmapqLookup,
    "procmapq_vma_buf": ProcmapqVmaBuf,
    "procmapq_compare_opts": ProcmapqCompareOpts,
    "procmapq_difference": ProcmapqDifference,
    "procmapq_compare_report": ProcmapqCompareReport,
    "procmapq_normalize_opts": ProcmapqNormalizeOpts,
    "procmapq_norm_output": ProcmapqNormOutput,
    "procmapq_norm_meta": ProcmapqNormMeta,
    "procmapq_normalized": ProcmapqNormalized,
}

# --- Functions ---------------------------------------------------------------

_handle_p = ctypes.POINTER(Procmapq)
_c_int, _size_t = ctypes.c_int, ctypes.c_size_t
_u64_p = ctypes.POINTER(_u64)
_report_p = ctypes.POINTER(ProcmapqCompareReport)
_normalized_p = ctypes.POINTER(ProcmapqNormalized)

# name -> (argtypes, restype). Every pointer result has a pointer restype:
# ctypes' default c_int would truncate it.
SIGNATURES = {
    "procmapq_version": ([], _u32),
    "procmapq_supports_procmap_query": ([], _c_int),
    "procmapq_strerror": ([_c_int], ctypes.c_char_p),
    "procmapq_last_error": ([], ctypes.c_char_p),
    "procmapq_open": ([_c_int, ctypes.POINTER(ProcmapqOpenOpts), ctypes.POINTER(_handle_p)], _c_int),
    "procmapq_open_fd": ([_c_int, ctypes.POINTER(ProcmapqOpenOpts), ctypes.POINTER(_handle_p)], _c_int),
    "procmapq_open_text": (
        [ctypes.c_char_p, _size_t, ctypes.POINTER(ProcmapqOpenOpts), ctypes.POINTER(_handle_p)],
        _c_int,
    ),
    "procmapq_close": ([_handle_p], _c_int),
    "procmapq_reopen": ([_handle_p], _c_int),
    "procmapq_pid": ([_handle_p], _c_int),
    "procmapq_query": (
        [
            _handle_p,
            _u64_p,
            _size_t,
            ctypes.POINTER(ProcmapqQueryOpts),
            ctypes.POINTER(ProcmapqLookup),
            ctypes.POINTER(ProcmapqVmaBuf),
        ],
        _c_int,
    ),
    "procmapq_enumerate": (
        [_handle_p, ctypes.POINTER(ProcmapqQueryOpts), ctypes.POINTER(ProcmapqVmaBuf)],
        _c_int,
    ),
    "procmapq_compare": ([_handle_p, ctypes.POINTER(ProcmapqCompareOpts), ctypes.POINTER(_report_p)], _c_int),
    "procmapq_compare_report_free": ([_report_p], None),
    "procmapq_normalize": (
        [_handle_p, _u64_p, _size_t, ctypes.POINTER(ProcmapqNormalizeOpts), ctypes.POINTER(_normalized_p)],
        _c_int,
    ),
    "procmapq_normalized_free": ([_normalized_p], None),
}


def check_negative_errno(result, func, args):
    """errcheck: a negative result is -errno; raise OSError with the library's
    message (read now, before any other call on this thread replaces it)."""
    if result < 0:
        message = _lib.procmapq_last_error() or _lib.procmapq_strerror(result)
        raise OSError(-result, message.decode("utf-8", "replace"))
    return result


# Functions whose int result is ">= 0 or -errno".
ERROR_CHECKERS = {
    name: check_negative_errno
    for name in (
        "procmapq_supports_procmap_query",
        "procmapq_open",
        "procmapq_open_fd",
        "procmapq_open_text",
        "procmapq_close",
        "procmapq_reopen",
        "procmapq_pid",
        "procmapq_query",
        "procmapq_enumerate",
        "procmapq_compare",
        "procmapq_normalize",
    )
}


def _load_library():
    """$PROCMAPQ_LIBRARY, then the soname, then find_library."""
    env = os.environ.get("PROCMAPQ_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env, use_errno=True), env
        except OSError as err:
            raise ImportError(f"libprocmapq: PROCMAPQ_LIBRARY={env} cannot be loaded: {err}") from err
    tried = ["$PROCMAPQ_LIBRARY (not set)"]
    candidates = [f"libprocmapq.so.{VERSION_MAJOR}", ctypes.util.find_library("procmapq")]
    for name in candidates:
        if name is None:
            tried.append('ctypes.util.find_library("procmapq") (found nothing)')
            continue
        try:
            return ctypes.CDLL(name, use_errno=True), name
        except OSError as err:
            tried.append(f"{name} ({err})")
    raise ImportError(
        "libprocmapq not found; tried: " + "; ".join(tried) +
        ". Set PROCMAPQ_LIBRARY to the path of libprocmapq.so (make lib builds build/libprocmapq.so)"
        " or add its directory to LD_LIBRARY_PATH."
    )


_lib, LIBRARY_PATH = _load_library()
for _name, (_argtypes, _restype) in SIGNATURES.items():
    _func = getattr(_lib, _name)
    _func.argtypes = _argtypes
    _func.restype = _restype
    if _name in ERROR_CHECKERS:
        _func.errcheck = ERROR_CHECKERS[_name]

# The hot path (Handle.lookup, Handle.query_bulk, Handle.query) calls
# procmapq_query through a second function object: no argtypes (every
# argument is passed as a ready-made ctypes object, so ctypes converts
# nothing), no errcheck (the caller tests the result) and no errno swapping.
_fast_query = ctypes.CFUNCTYPE(_c_int)(("procmapq_query", _lib))
_fast_query.argtypes = None
# Batches and enumerations pass addresses as ints (c_void_p converts them
# in C) into one block per call.
_bulk_query = ctypes.CFUNCTYPE(_c_int, ctypes.c_void_p, ctypes.c_void_p, _size_t, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_void_p)(("procmapq_query", _lib))
_bulk_enumerate = ctypes.CFUNCTYPE(_c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
    ("procmapq_enumerate", _lib))
_last_error = _lib.procmapq_last_error


def _raise_errno(rc: int):
    """Raises OSError(-rc) with the library's message for the call that just
    failed on this thread (as check_negative_errno)."""
    message = _last_error() or _lib.procmapq_strerror(rc)
    raise OSError(-rc, message.decode("utf-8", "replace"))

# --- Library-level functions -------------------------------------------------


def version() -> int:
    """PROCMAPQ_VERSION_NUMBER of the loaded library."""
    return _lib.procmapq_version()


def supports_procmap_query() -> bool:
    """Whether the kernel has PROCMAP_QUERY (Linux 6.11+); probed once."""
    return _lib.procmapq_supports_procmap_query() == 1


def strerror(code: int) -> str:
    """A short description of an error code (either sign)."""
    return _lib.procmapq_strerror(code).decode()


def perms_string(perms: int) -> str:
    """PERM_* bits in the maps file's form, e.g. "r-xp"."""
    return "".join(c if perms & bit else "-" for c, bit in (("r", PERM_R), ("w", PERM_W), ("x", PERM_X))) + (
        "s" if perms & PERM_SHARED else "p"
    )


# --- Results -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Vma:
    """One VMA; name and build_id are the exact bytes."""

    start: int
    end: int
    offset: int
    inode: int
    page_size: int  # 0 = unknown (text backend)
    dev_major: int
    dev_minor: int
    perms: int  # PERM_*
    kind: int  # KIND_*
    flags: int  # VMA_*
    name: bytes
    build_id: bytes

    @property
    def perms_str(self) -> str:
        return perms_string(self.perms)


class Lookup(NamedTuple):
    """The answer for one address: vma is None unless reason is REASON_FOUND."""

    addr: int
    reason: int
    file_offset: int
    vma: Optional[Vma]


@dataclasses.dataclass(frozen=True)
class VmaTable:
    """The VMAs of an enumeration (ascending) and how they were read."""

    vmas: List[Vma]
    strategy: int  # STRATEGY_*
    syscalls: int

    def __iter__(self):
        return iter(self.vmas)

    def __len__(self):
        return len(self.vmas)

    def __getitem__(self, i):
        return self.vmas[i]


@dataclasses.dataclass(frozen=True)
class QueryResult:
    """One Lookup per input address (input order) and the VMAs they found."""

    lookups: List[Lookup]
    vmas: List[Vma]
    strategy: int
    syscalls: int


@dataclasses.dataclass(frozen=True)
class NormMeta:
    """What addresses belong to: an ELF file, the vDSO, or unknown (reason)."""

    kind: int  # META_*
    reason: int  # NORM_REASON_* (unknown only)
    build_id_source: int  # BUILD_ID_*
    flags: int  # META_F_*
    path: bytes
    build_id: bytes
    dev_major: int
    dev_minor: int
    inode: int


class NormOutput(NamedTuple):
    """The normalized form of one address; virt_addr is None unless known."""

    addr: int
    file_offset: int
    virt_addr: Optional[int]
    meta: NormMeta


@dataclasses.dataclass(frozen=True)
class Normalized:
    outputs: List[NormOutput]  # input order
    metas: List[NormMeta]  # deduplicated
    strategy: int


@dataclasses.dataclass(frozen=True)
class Difference:
    kind: int  # DIFF_*
    flags: int  # DIFF_F_*
    text: Optional[Tuple[int, int]]  # (start, end) as the text shows it
    ioctl: Optional[Tuple[int, int]]
    detail: str

    @property
    def expected(self) -> bool:
        return bool(self.flags & DIFF_F_EXPECTED)


@dataclasses.dataclass(frozen=True)
class CompareReport:
    pid: int
    attempts: int
    settled: bool
    text_vmas: int
    ioctl_vmas: int
    matched: int
    page_size_only_ioctl: int
    expected_count: int
    mismatch_count: int
    diffs: List[Difference]


# --- Handles -----------------------------------------------------------------

# First guess of name bytes per VMA; -ERANGE reports the real need.
_NAME_BYTES_PER_VMA = 128
# Retries after -ERANGE (the maps may grow between calls).
_MAX_GROW_ATTEMPTS = 8
# First guess of the VMA table of a batch (at most one VMA per address);
# a handle remembers what its batches needed.
_FIRST_VMAS_CAP = 256

# The output element structs as struct formats (same layout as the ctypes
# mirrors, which a test checks against the header): decoding a whole record
# with one unpack is much cheaper than reading ctypes fields one by one.
_LOOKUP_FMT = _struct.Struct("=iIQ8x")  # vma, reason, file_offset
_VMA_FMT = _struct.Struct("=6Q7I20s32x")  # start..name_off, dev_major..build_id_len, build_id
_LOOKUP_SIZE = _LOOKUP_FMT.size
_VMA_SIZE = _VMA_FMT.size
_NAME_AT = _struct.Struct("=Q20xI")  # name_off, name_len (at offset 40 of a VMA)
# struct procmapq_vma_buf: size, vmas, vmas_cap, names, names_cap (in);
# vmas_count, names_len, strategy, syscalls (out, from offset 40).
_VMABUF_FMT = _struct.Struct("=7Q2I")
_VMABUF_SIZE = _VMABUF_FMT.size
_VMABUF_OUT = _struct.Struct("=2Q2I")
_VMABUF_OUT_AT = 40
# Buffer formats of uint64 items in native byte order (ctypes arrays say
# "<Q"; numpy uint64 arrays "L"); the item size is checked too.
_U64_FORMATS = frozenset(("Q", "L", "@Q", "@L", "=Q", "=L") + (("<Q", "<L") if sys.byteorder == "little" else ((">Q", ">L"))))
_BYTE_FORMATS = frozenset(("B", "b", "c"))


def _addr_array(addrs: Iterable[int]):
    """The addresses as a C uint64 array over a Python array (None if
    empty), that array (keep it alive during the call) and the count.
    array('Q') refuses values outside [0, 2**64) (OverflowError)."""
    packed = array.array("Q", addrs)
    if not packed:
        return None, packed, 0
    return (_u64 * len(packed)).from_buffer(packed), packed, len(packed)


def _addr_of(buffer):
    """(address, export) of a writable buffer of at least one byte; the
    export keeps the buffer from being resized or freed while it lives."""
    export = ctypes.c_char.from_buffer(buffer)
    return ctypes.addressof(export), export


def _addr_buffer(addrs):
    """(pointer (an int, a c_char_p or None), count, uint64 sequence,
    export) for a batch of addresses. Zero copy for array('Q'), writable
    uint64 buffers (numpy uint64 arrays, ...), bytes and writable bytes-like
    objects, which are read as native-endian uint64s; anything else is
    iterated into an array('Q') (OverflowError outside [0, 2**64),
    TypeError for non-integers). The export must stay referenced during the
    call."""
    if type(addrs) is array.array and addrs.typecode in "QL" and addrs.itemsize == 8:
        # The common case, cheapest: the array's address, and a memoryview
        # as the export that keeps it from being resized during the call.
        n = len(addrs)
        return (addrs.buffer_info()[0] if n else None), n, addrs, memoryview(addrs)
    else:
        try:
            view = memoryview(addrs)
        except TypeError:
            seq = buf = array.array("Q", addrs)
        else:
            if view.ndim != 1 or not view.c_contiguous:
                raise ValueError("procmapq: addresses must be a 1-dimensional contiguous buffer")
            if view.format in _BYTE_FORMATS:
                if view.nbytes % 8:
                    raise ValueError("procmapq: a bytes-like batch holds whole uint64 values (len % 8 == 0)")
                view = view.cast("B")
            elif not (view.format in _U64_FORMATS and view.itemsize == 8):
                # Other item types (array('i'), int64, ...) are converted and
                # range-checked like a sequence.
                view = None
            if view is None:
                seq = buf = array.array("Q", addrs)
            elif type(addrs) is bytes:
                seq = view.cast("B").cast("Q")
                n = len(seq)
                return (ctypes.c_char_p(addrs) if n else None), n, seq, addrs  # c_char_p: no copy
            elif view.readonly:
                seq = buf = array.array("Q")
                buf.frombytes(view.cast("B"))
            else:
                buf = view
                seq = view.cast("B").cast("Q")
    n = len(seq)
    if not n:
        return None, 0, seq, None
    export = ctypes.c_char.from_buffer(buf)
    return ctypes.addressof(export), n, seq, export


def _new_vma(values, _new=object.__new__):
    """A Vma from (start, end, offset, inode, page_size, dev_major,
    dev_minor, perms, kind, flags, name, build_id) without the frozen
    dataclass's __init__ (a dozen object.__setattr__ calls)."""
    v = _new(Vma)
    d = v.__dict__
    (d["start"], d["end"], d["offset"], d["inode"], d["page_size"], d["dev_major"], d["dev_minor"], d["perms"],
     d["kind"], d["flags"], d["name"], d["build_id"]) = values
    return v


def _vmas_from(vmas, names, count: int) -> List["Vma"]:
    """The Vma objects of the first count records of a procmapq_vma array
    (a bytes-like buffer) whose names are in names."""
    out = []
    names = memoryview(names)
    for start, end, offset, inode, page_size, name_off, major, minor, perms, kind, flags, name_len, bid_len, bid in (
        _VMA_FMT.iter_unpack(memoryview(vmas)[: count * _VMA_SIZE])
    ):
        out.append(_new_vma((start, end, offset, inode, page_size, major, minor, perms, kind, flags,
                             names[name_off : name_off + name_len].tobytes(), bid[:bid_len])))
    return out


def _bytes_at(pointer: Optional[int], length: int) -> bytes:
    return ctypes.string_at(pointer, length) if pointer and length else b""


def _query_opts(backend, perms, flags, cls):
    return cls(size=ctypes.sizeof(cls), backend=backend, flags=flags, perms=perms, reserved=0)


# (backend, perms, file_backed, build_ids, sorted) -> byref to a
# procmapq_query_opts. The structs are never written after creation, so
# threads share them.
_opts_refs = {}


def _opts_ref(backend, perms, file_backed, build_ids, sorted_):
    """byref to the options struct, or None (NULL: the same defaults) when
    every option is the default: the library then has no struct to check,
    which is measurably cheaper (it builds error-message context strings
    while checking one)."""
    key = (backend, perms, file_backed, build_ids, sorted_)
    if key == (BACKEND_AUTO, 0, False, False, False):
        return None
    ref = _opts_refs.get(key)
    if ref is None:
        flags = (QUERY_FILE_BACKED if file_backed else 0) | (QUERY_BUILD_IDS if build_ids else 0) | (
            QUERY_SORTED if sorted_ else 0)
        opts = _query_opts(backend, perms, flags, ProcmapqQueryOpts)
        if len(_opts_refs) > 256:
            _opts_refs.clear()
        ref = _opts_refs[key] = ctypes.byref(opts)
    return ref


def _frozen(cls, **fields):
    """An instance of a frozen dataclass without its __init__ (one
    object.__setattr__ per field); the fields must be all of cls's."""
    v = object.__new__(cls)
    v.__dict__.update(fields)
    return v


def _ptr(buffer):
    """(byref argument, export) for a writable buffer of at least one byte."""
    export = ctypes.c_char.from_buffer(buffer)
    return ctypes.byref(export), export


# Names longer than this in a one-address lookup fall back to query().
_SINGLE_NAMES_CAP = 8192
# The lookup, then the start of the VMA record that follows it (the fewer
# fields, the cheaper the unpack).
_SINGLE_ANSWER = _struct.Struct("=iIQ8xQ")
# An argument object (what ctypes makes of a c_size_t on every call), made once.
_ONE = ctypes.c_size_t.from_param(1)


class _Single:
    """Reusable arguments of a one-address procmapq_query (Handle.lookup):
    the address, the vma_buf, and one block holding the lookup, the single
    VMA record and the names buffer, in that order (one unpack reads the
    answer and the name's place; the record and the name are one contiguous
    key for the handle's Vma cache), with the ctypes pointer objects made
    once. A handle keeps a pool of them so that threads sharing the handle
    never share one."""

    __slots__ = ("addr", "addr_p", "block", "view", "lk_p", "buf", "buf_p", "keep", "handle_p", "auto", "by_options")

    def __init__(self, raw):
        self.addr = array.array("Q", [0])
        self.block = bytearray(_LOOKUP_SIZE + _VMA_SIZE + _SINGLE_NAMES_CAP)
        self.view = memoryview(self.block)
        self.buf = bytearray(_VMABUF_SIZE)
        self.addr_p, keep_addr = _ptr(self.addr)
        self.buf_p, keep_buf = _ptr(self.buf)
        block_addr, keep_block = _addr_of(self.block)
        self.lk_p = ctypes.byref(keep_block)  # the lookup is at the block's start
        _VMABUF_FMT.pack_into(self.buf, 0, _VMABUF_SIZE, block_addr + _LOOKUP_SIZE, 1,
                              block_addr + _LOOKUP_SIZE + _VMA_SIZE, _SINGLE_NAMES_CAP, 0, 0, 0, 0)
        self.keep = (keep_addr, keep_buf, keep_block)
        # The call's arguments, every pointer as a byref() object (ctypes
        # passes those as they are, where a pointer or c_void_p instance
        # would cost a new argument object per call): for the default
        # options, and per option set.
        self.handle_p = ctypes.byref(raw.contents)
        self.auto = self._make_args(BACKEND_AUTO, 0, False, False)
        self.by_options = {}

    def _make_args(self, backend, perms, file_backed, build_ids):
        return (self.handle_p, self.addr_p, _ONE, _opts_ref(backend, perms, file_backed, build_ids, False), self.lk_p,
                self.buf_p)

    def args(self, raw, backend, perms, file_backed, build_ids):
        key = (backend, perms, file_backed, build_ids)
        args = self.by_options.get(key)
        if args is None:
            if len(self.by_options) > 64:
                self.by_options.clear()
            args = self.by_options[key] = self._make_args(backend, perms, file_backed, build_ids)
        return args


class BulkResult:
    """The answers of Handle.query_bulk(): per-address arrays in input order
    and the deduplicated VMA table, as zero-copy views of the C arrays the
    library wrote (struct procmapq_lookup[n], struct procmapq_vma[count]).
    No Python object is made per address unless asked for.

    Per address i (memoryviews, 1-dimensional, length len(result)):
      vma_index[i]    int32: index into the VMA table, -1 when not found
      reason[i]       uint32: REASON_*
      file_offset[i]  uint64: addr - vma.start + vma.offset when found, else 0
    Per VMA j of the table (length count, ascending addresses):
      vma_start, vma_end, vma_offset, vma_inode, vma_page_size (uint64),
      vma_dev_major, vma_dev_minor, vma_perms, vma_kind, vma_flags (uint32);
      vma_name(j) -> bytes; vma(j) -> Vma; vmas -> list of Vma (built once).
    Whole arrays: lookups_buffer (n * 24 bytes), vmas_buffer (count * 128
    bytes), names_buffer (the names, each NUL-terminated) -- e.g. for
    numpy.frombuffer with a structured dtype.
    Also: addrs (the addresses as a uint64 sequence: the array given, a
    memoryview of the buffer given, or the array a sequence was copied into),
    strategy (STRATEGY_*), syscalls, lookup(i) -> Lookup, lookups() ->
    list of Lookup (the object API's answers).

    Views are read-only and strided (memoryview slicing: no copy); .tolist()
    gives a list, array.array(code, view) an array copy. A result stays valid
    as long as it is referenced; the views keep its buffers alive."""

    __slots__ = ("addrs", "count", "strategy", "syscalls", "_n", "_lk", "_vm", "_names", "_names_len",
                 "_views", "_vmas")

    def __init__(self, addrs, n, lk, vm, names, count, names_len, strategy, syscalls):
        # lk, vm, names: memoryviews of the call's block (n lookups, the VMA
        # array with its spare room, the names buffer).
        self.addrs = addrs
        self._n = n
        self._lk = lk
        self._vm = vm
        self._names = names
        self._names_len = names_len
        self.count = count  # VMAs in the table
        self.strategy = strategy
        self.syscalls = syscalls
        self._views = {}
        self._vmas = None

    def __len__(self):
        return self._n

    def __repr__(self):
        return f"<procmapq.BulkResult {self._n} addresses, {self.count} VMAs, strategy {self.strategy}>"

    def _lk_view(self, fmt, start, step):
        key = (0, fmt, start)
        v = self._views.get(key)
        if v is None:
            v = self._views[key] = self._lk.toreadonly().cast(fmt)[start::step]
        return v

    def _vm_view(self, fmt, start, step):
        key = (1, fmt, start)
        v = self._views.get(key)
        if v is None:
            v = self._views[key] = self._vm[: self.count * _VMA_SIZE].toreadonly().cast(fmt)[start::step]
        return v

    # Per address: struct procmapq_lookup is {int32 vma; uint32 reason;
    # uint64 file_offset; uint64 reserved} = 6 x 32 bits = 3 x 64 bits.
    @property
    def vma_index(self) -> memoryview:
        return self._lk_view("i", 0, 6)

    @property
    def reason(self) -> memoryview:
        return self._lk_view("I", 1, 6)

    @property
    def file_offset(self) -> memoryview:
        return self._lk_view("Q", 1, 3)

    @property
    def lookups_buffer(self) -> memoryview:
        return self._lk.toreadonly()

    # Per VMA: struct procmapq_vma is 16 x 64 bits; the uint32 fields start
    # at 32-bit word 12.
    vma_start = property(lambda self: self._vm_view("Q", 0, 16))
    vma_end = property(lambda self: self._vm_view("Q", 1, 16))
    vma_offset = property(lambda self: self._vm_view("Q", 2, 16))
    vma_inode = property(lambda self: self._vm_view("Q", 3, 16))
    vma_page_size = property(lambda self: self._vm_view("Q", 4, 16))
    vma_dev_major = property(lambda self: self._vm_view("I", 12, 32))
    vma_dev_minor = property(lambda self: self._vm_view("I", 13, 32))
    vma_perms = property(lambda self: self._vm_view("I", 14, 32))
    vma_kind = property(lambda self: self._vm_view("I", 15, 32))
    vma_flags = property(lambda self: self._vm_view("I", 16, 32))

    @property
    def vmas_buffer(self) -> memoryview:
        return self._vm[: self.count * _VMA_SIZE].toreadonly()

    @property
    def names_buffer(self) -> memoryview:
        return self._names[: self._names_len].toreadonly()

    def vma_name(self, j: int) -> bytes:
        if not 0 <= j < self.count:
            raise IndexError("procmapq: VMA index out of range")
        off, length = _NAME_AT.unpack_from(self._vm, j * _VMA_SIZE + 40)
        return bytes(self._names[off : off + length])

    @property
    def vmas(self) -> List[Vma]:
        """The VMA table as Vma objects (built on first use)."""
        if self._vmas is None:
            self._vmas = _vmas_from(self._vm, self._names, self.count)
        return self._vmas

    def vma(self, j: int) -> Vma:
        if not 0 <= j < self.count:
            raise IndexError("procmapq: VMA index out of range")
        return self.vmas[j]

    def lookup(self, i: int) -> Lookup:
        """The answer for address i as a Lookup."""
        if not -self._n <= i < self._n:
            raise IndexError("procmapq: address index out of range")
        i %= self._n
        vma, reason, off = _LOOKUP_FMT.unpack_from(self._lk, i * _LOOKUP_SIZE)
        return Lookup(self.addrs[i], reason, off, self.vmas[vma] if vma >= 0 else None)

    def lookups(self) -> List[Lookup]:
        """One Lookup per address (input order), sharing the Vma objects."""
        table = self.vmas + [None]  # index -1 (not found) -> None
        new = tuple.__new__
        if self._n <= 8:  # cheaper than making the three views
            return [new(Lookup, (addr, reason, offset, table[index]))
                    for addr, (index, reason, offset) in zip(self.addrs, _LOOKUP_FMT.iter_unpack(self._lk))]
        # tuple.__new__(Lookup, answer) called by map: no bytecode per
        # address, and zip reuses its tuple once the Lookup has copied it.
        return list(map(new, itertools.repeat(Lookup, self._n),
                        zip(self.addrs, self.reason.tolist(), self.file_offset.tolist(),
                            map(table.__getitem__, self.vma_index.tolist()))))


_VMA_CACHE_MAX = 4096
_new_tuple = tuple.__new__


class Handle:
    """An open target address space; a context manager that closes it.
    Create with open(), open_fd() or open_text()."""

    def __init__(self, raw):
        self._raw = raw
        self._pool = []  # _Single argument sets for lookup()
        self._vma_cache = {}  # lookup(): VMA start -> (record and name, Vma)
        # What this handle's batches and enumerations needed: the first
        # arrays of the next call are that large (fewer -ERANGE retries).
        self._vmas_hint = _FIRST_VMAS_CAP
        self._name_bytes = 2 * _NAME_BYTES_PER_VMA  # room per VMA of a batch's table
        self._enum_vmas_hint = _FIRST_VMAS_CAP
        self._enum_names_hint = _FIRST_VMAS_CAP * _NAME_BYTES_PER_VMA

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # A forgotten handle is closed when collected (not at exit-time
        # teardown, when the library may be gone).
        if getattr(self, "_raw", None) and _lib is not None:
            self.close()

    def __repr__(self):
        return f"<procmapq.Handle {'closed' if not self._raw else f'pid {self.pid}'}>"

    def _handle(self):
        if not self._raw:
            raise ValueError("procmapq: operation on a closed handle")
        return self._raw

    def close(self) -> None:
        """Closes the handle (idempotent). No other thread may be using it."""
        raw, self._raw = self._raw, None
        self._pool = []  # lookup() on a closed handle: ValueError (a new list:
        # a call still returning its _Single puts it in the old one)
        if raw:
            _lib.procmapq_close(raw)

    @property
    def closed(self) -> bool:
        return not self._raw

    @property
    def pid(self) -> int:
        """The target's pid; 0 when unknown (fd without pid, text handles)."""
        return _lib.procmapq_pid(self._handle())

    def reopen(self) -> None:
        """Reopens a pid handle's maps after the process exec'd."""
        _lib.procmapq_reopen(self._handle())

    def _run(self, call, n: int, vmas_cap: int, names_cap: int):
        """Runs call(base) with one zeroed block at address base holding,
        in order, the struct procmapq_vma_buf, n lookups, vmas_cap VMA
        records and names_cap name bytes (one allocation and one ctypes
        export per call), growing it while the call returns -ERANGE; raises
        OSError on other errors. Returns (lookups, vmas, names, count,
        names_len, strategy, syscalls): the first three are memoryviews of
        the block as the library wrote it."""
        vmas_at = _VMABUF_SIZE + n * _LOOKUP_SIZE
        for attempt in range(_MAX_GROW_ATTEMPTS + 1):
            names_at = vmas_at + vmas_cap * _VMA_SIZE
            block = bytearray(names_at + names_cap)
            export = ctypes.c_char.from_buffer(block)  # alive until we return
            base = ctypes.addressof(export)
            _VMABUF_FMT.pack_into(block, 0, _VMABUF_SIZE, base + vmas_at, vmas_cap, base + names_at, names_cap,
                                  0, 0, 0, 0)
            rc = call(base)
            count, names_len, strategy, syscalls = _VMABUF_OUT.unpack_from(block, _VMABUF_OUT_AT)
            if rc >= 0:
                view = memoryview(block)
                return (view[_VMABUF_SIZE:vmas_at], view[vmas_at:names_at], view[names_at:], rc, names_len,
                        strategy, syscalls)
            if rc != -_errno.ERANGE or attempt == _MAX_GROW_ATTEMPTS:
                _raise_errno(rc)
            # count and names_len are the sizes needed.
            vmas_cap = count + count // 4 + 16
            names_cap = names_len + names_len // 4 + 4096
            del export
        raise AssertionError("unreachable")

    def enumerate(self, backend=BACKEND_AUTO, perms=0, file_backed=False, build_ids=False) -> VmaTable:
        """Every VMA that has all of perms (and maps a file, if file_backed),
        ascending."""
        opts = _opts_ref(backend, perms, file_backed, build_ids, False)
        raw = self._handle()
        _, vmas, names, count, names_len, strategy, syscalls = self._run(
            lambda base: _bulk_enumerate(raw, opts, base), 0, self._enum_vmas_hint, self._enum_names_hint)
        # Room for the next enumeration, with some growth.
        self._enum_vmas_hint = max(self._enum_vmas_hint, count + count // 8 + 16)
        self._enum_names_hint = max(self._enum_names_hint, names_len + names_len // 8 + 4096)
        return _frozen(VmaTable, vmas=_vmas_from(vmas, names, count), strategy=strategy, syscalls=syscalls)

    def query_bulk(
        self, addrs, backend=BACKEND_AUTO, perms=0, file_backed=False, build_ids=False, sorted=False
    ) -> BulkResult:
        """Resolves a batch of addresses in one call and returns the answers
        as arrays (a BulkResult): vma_index, reason and file_offset per
        address, in input order, plus the deduplicated VMA table; no Python
        object is made per address.

        addrs: an array('Q') or any writable buffer of native uint64 (a numpy
        uint64 array, a ctypes c_uint64 array, ...) or bytes (its bytes read
        as native-endian uint64s) is used in place, without a copy; any
        other iterable of ints is copied into an array('Q') (OverflowError
        outside [0, 2**64)). Options as query(); sorted=True promises
        ascending addresses (skips a sort; unsorted input is still answered
        right). OSError (with the library's message) on failure,
        ProcessLookupError if the target went away."""
        ptr, n, seq, keep_addrs = _addr_buffer(addrs)
        raw = self._handle()
        opts = _opts_ref(backend, perms, file_backed, build_ids, sorted)
        vmas_cap = min(n, self._vmas_hint)
        names_cap = vmas_cap * self._name_bytes
        lookups, vmas, names, count, names_len, strategy, syscalls = self._run(
            lambda base: _bulk_query(raw, ptr, n, opts, base + _VMABUF_SIZE, base), n, vmas_cap, names_cap)
        if len(vmas) > vmas_cap * _VMA_SIZE or len(names) > names_cap:  # grown: remember for next time
            self._vmas_hint = max(self._vmas_hint, len(vmas) // _VMA_SIZE)
            # The average name this batch needed, with some room: a later
            # batch like it fits at once (one with a longer name retries
            # once more, then fits).
            self._name_bytes = max(self._name_bytes, names_len // max(count, 1) + 64)
        return BulkResult(seq, n, lookups, vmas, names, count, names_len, strategy, syscalls)

    def query(
        self, addrs: Iterable[int], backend=BACKEND_AUTO, perms=0, file_backed=False, build_ids=False, sorted=False
    ) -> QueryResult:
        """Resolves a batch of addresses (any order, duplicates allowed) in
        one call; one Lookup object per address. query_bulk() answers the
        same without the per-address objects, lookup() one address faster."""
        res = self.query_bulk(addrs, backend, perms, file_backed, build_ids, sorted)
        return _frozen(QueryResult, lookups=res.lookups(), vmas=res.vmas, strategy=res.strategy, syscalls=res.syscalls)

    def lookup(self, addr: int, backend=BACKEND_AUTO, perms=0, file_backed=False, build_ids=False) -> Lookup:
        """Resolves one address: the same answer as query([addr]).lookups[0]
        at a fraction of the cost (reused argument buffers, no table, and a
        Vma object reused while the VMA does not change)."""
        # Every step here is paid on every call: keep them few. A closed
        # handle has an empty pool, and _new_single raises ValueError.
        pool = self._pool
        try:
            s = pool.pop()
        except IndexError:
            s = self._new_single()
        try:
            args = s.auto if not (backend or perms or file_backed or build_ids) else s.args(
                self._raw, backend, perms, file_backed, build_ids)
            s.addr[0] = addr  # OverflowError / TypeError as array('Q')
            rc = _fast_query(*args)  # a ready tuple: ctypes takes it as it is
            if rc < 0:
                if rc == -_errno.ERANGE:  # a name longer than _SINGLE_NAMES_CAP
                    return self.query([addr], backend, perms, file_backed, build_ids).lookups[0]
                _raise_errno(rc)
            index, reason, offset, start = _SINGLE_ANSWER.unpack_from(s.block)
            if type(addr) is not int:
                addr = s.addr[0]
            if index < 0:
                return _new_tuple(Lookup, (addr, reason, offset, None))
            # The handle's Vma for this VMA if its record and name are the
            # ones in the block (compared in place: nothing to allocate or
            # hash but the start address).
            cached = self._vma_cache.get(start)
            if cached is not None and s.block.startswith(cached[0], _LOOKUP_SIZE):
                return _new_tuple(Lookup, (addr, reason, offset, cached[1]))
            name_off, name_len = _NAME_AT.unpack_from(s.block, _LOOKUP_SIZE + 40)
            if name_off:  # not the layout this path expects: the general path
                return self.query([addr], backend, perms, file_backed, build_ids).lookups[0]
            return _new_tuple(Lookup, (addr, reason, offset, self._cache_vma(s, start, name_len)))
        finally:
            pool.append(s)

    def _new_single(self):
        raw = self._raw
        if not raw:
            raise ValueError("procmapq: operation on a closed handle")
        return _Single(raw)

    def _cache_vma(self, s, start, name_len):
        """The Vma of the record and name in a _Single's block, remembered
        by its start address with the bytes it was built from."""
        key = s.view[_LOOKUP_SIZE : _LOOKUP_SIZE + _VMA_SIZE + name_len].tobytes()
        (start, end, offset, inode, page_size, _, major, minor, perms, kind, flags, _, bid_len,
         bid) = _VMA_FMT.unpack_from(key)
        vma = _new_vma((start, end, offset, inode, page_size, major, minor, perms, kind, flags, key[_VMA_SIZE:],
                        bid[:bid_len]))
        cache = self._vma_cache
        if len(cache) >= _VMA_CACHE_MAX:
            cache.clear()
        cache[start] = (key, vma)
        return vma

    def normalize(
        self,
        addrs: Iterable[int],
        backend=BACKEND_AUTO,
        perms=0,
        file_backed=False,
        build_ids=False,
        virt_addrs=False,
        flags=0,
    ) -> Normalized:
        """(file offset, ELF file, build ID) for each address. flags adds
        raw NORM_* bits. ProcessLookupError if the target went away."""
        c_addrs, keep, n = _addr_array(addrs)
        flags |= (
            (NORM_FILE_BACKED if file_backed else 0)
            | (NORM_BUILD_IDS if build_ids else 0)
            | (NORM_VIRT_ADDRS if virt_addrs else 0)
        )
        opts = _query_opts(backend, perms, flags, ProcmapqNormalizeOpts)
        out = _normalized_p()
        try:
            _lib.procmapq_normalize(self._handle(), c_addrs, n, ctypes.byref(opts), ctypes.byref(out))
            res = out.contents
            metas = [
                NormMeta(
                    kind=m.kind,
                    reason=m.reason,
                    build_id_source=m.build_id_source,
                    flags=m.flags,
                    path=_bytes_at(m.path, m.path_len),
                    build_id=_bytes_at(m.build_id, m.build_id_len),
                    dev_major=m.dev_major,
                    dev_minor=m.dev_minor,
                    inode=m.inode,
                )
                for m in res.metas[: res.meta_count]
            ]
            outputs = [
                NormOutput(
                    addr,
                    o.file_offset,
                    o.virt_addr if o.flags & NORM_OUT_HAS_VIRT_ADDR else None,
                    metas[o.meta],
                )
                for addr, o in zip(keep, res.outputs[: res.output_count])
            ]
            return Normalized(outputs, metas, res.strategy)
        finally:
            # Also set on -ESRCH (a partial result): free it either way.
            _lib.procmapq_normalized_free(out)

    def compare(self, attempts=0, retry_delay_ms=0) -> CompareReport:
        """The ioctl and text views of the target, matched and classified
        (Linux 6.11+; OSError ENOTTY before)."""
        opts = ProcmapqCompareOpts(size=ctypes.sizeof(ProcmapqCompareOpts), attempts=attempts, retry_delay_ms=retry_delay_ms)
        out = _report_p()
        try:
            _lib.procmapq_compare(self._handle(), ctypes.byref(opts), ctypes.byref(out))
            r = out.contents
            diffs = [
                Difference(
                    kind=d.kind,
                    flags=d.flags,
                    text=(d.text_start, d.text_end) if d.flags & DIFF_F_HAS_TEXT else None,
                    ioctl=(d.ioctl_start, d.ioctl_end) if d.flags & DIFF_F_HAS_IOCTL else None,
                    detail=(d.detail or b"").decode("utf-8", "replace"),
                )
                for d in r.diffs[: r.diff_count]
            ]
            return CompareReport(
                pid=r.pid,
                attempts=r.attempts,
                settled=bool(r.settled),
                text_vmas=r.text_vmas,
                ioctl_vmas=r.ioctl_vmas,
                matched=r.matched,
                page_size_only_ioctl=r.page_size_only_ioctl,
                expected_count=r.expected_count,
                mismatch_count=r.mismatch_count,
                diffs=diffs,
            )
        finally:
            _lib.procmapq_compare_report_free(out)


def _open_with(call) -> Handle:
    out = _handle_p()
    call(ctypes.byref(out))
    return Handle(out)


def open(pid: int = 0, proc_root: Optional[str] = None) -> Handle:  # noqa: A001 (like io.open)
    """Opens process pid (0 = this process) by /proc/<pid>/maps."""
    pid = operator.index(pid)  # TypeError for non-integers, like os functions
    opts = None
    if proc_root is not None:
        root = os.fsencode(proc_root)
        if b"\0" in root:
            raise ValueError("procmapq: proc_root contains a NUL byte")
        opts = ctypes.byref(ProcmapqOpenOpts(size=ctypes.sizeof(ProcmapqOpenOpts), proc_root=root))
    return _open_with(lambda out: _lib.procmapq_open(pid, opts, out))


def open_fd(fd: int, pid: int = 0) -> Handle:
    """Opens a handle on an open /proc/<pid>/maps fd (duplicated; the caller
    keeps its own). pid names the target if known."""
    fd = operator.index(fd.fileno() if hasattr(fd, "fileno") else fd)
    opts = ProcmapqOpenOpts(size=ctypes.sizeof(ProcmapqOpenOpts), pid=pid)
    return _open_with(lambda out: _lib.procmapq_open_fd(fd, ctypes.byref(opts), out))


def open_text(text: bytes) -> Handle:
    """Opens a handle on captured maps text (copied and parsed once)."""
    text = bytes(text)
    return _open_with(lambda out: _lib.procmapq_open_text(text or None, len(text), None, out))
