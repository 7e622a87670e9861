"""ctypes bindings for libprocmapq (standard library only).

Which mapping covers an address of a Linux process, at which file offset,
in which ELF file with which build ID::

    import procmapq
    with procmapq.open(pid) as h:
        for lk in h.query([0x401000, 0x7f0000001000]).lookups:
            print(hex(lk.addr), lk.vma.name if lk.vma else lk.reason, hex(lk.file_offset))

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
import operator
import os
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


def _addr_array(addrs: Iterable[int]):
    """The addresses as a C uint64 array over a Python array (None if
    empty), that array (keep it alive during the call) and the count.
    array('Q') refuses values outside [0, 2**64) (OverflowError)."""
    packed = array.array("Q", addrs)
    if not packed:
        return None, packed, 0
    return (_u64 * len(packed)).from_buffer(packed), packed, len(packed)


def _vma_from(raw: ProcmapqVma, names: bytes) -> Vma:
    return Vma(
        start=raw.start,
        end=raw.end,
        offset=raw.offset,
        inode=raw.inode,
        page_size=raw.page_size,
        dev_major=raw.dev_major,
        dev_minor=raw.dev_minor,
        perms=raw.perms,
        kind=raw.kind,
        flags=raw.flags,
        name=names[raw.name_off : raw.name_off + raw.name_len],
        build_id=bytes(raw.build_id[: raw.build_id_len]),
    )


def _bytes_at(pointer: Optional[int], length: int) -> bytes:
    return ctypes.string_at(pointer, length) if pointer and length else b""


def _query_opts(backend, perms, flags, cls):
    return cls(size=ctypes.sizeof(cls), backend=backend, flags=flags, perms=perms, reserved=0)


class Handle:
    """An open target address space; a context manager that closes it.
    Create with open(), open_fd() or open_text()."""

    def __init__(self, raw):
        self._raw = raw

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

    def _fill(self, call, vmas_cap: int, names_cap: int):
        """Runs call(buf) with growing arrays while it raises ERANGE; returns
        the VMAs, the strategy and the syscall count."""
        for attempt in range(_MAX_GROW_ATTEMPTS + 1):
            vmas = (ProcmapqVma * vmas_cap)() if vmas_cap else None
            names = ctypes.create_string_buffer(names_cap) if names_cap else None
            buf = ProcmapqVmaBuf(
                size=ctypes.sizeof(ProcmapqVmaBuf),
                vmas=vmas,
                vmas_cap=vmas_cap,
                names=ctypes.cast(names, ctypes.c_void_p) if names is not None else None,
                names_cap=names_cap,
            )
            try:
                count = call(ctypes.byref(buf))
            except OSError as err:
                if err.errno != _errno.ERANGE or attempt == _MAX_GROW_ATTEMPTS:
                    raise
                vmas_cap = buf.vmas_count + buf.vmas_count // 4 + 16
                names_cap = buf.names_len + buf.names_len // 4 + 4096
                continue
            raw_names = names.raw if names is not None else b""
            table = [_vma_from(vmas[i], raw_names) for i in range(count)]
            return table, buf.strategy, buf.syscalls
        raise AssertionError("unreachable")

    def enumerate(self, backend=BACKEND_AUTO, perms=0, file_backed=False, build_ids=False) -> VmaTable:
        """Every VMA that has all of perms (and maps a file, if file_backed),
        ascending."""
        flags = (QUERY_FILE_BACKED if file_backed else 0) | (QUERY_BUILD_IDS if build_ids else 0)
        opts = _query_opts(backend, perms, flags, ProcmapqQueryOpts)
        handle = self._handle()
        vmas, strategy, syscalls = self._fill(
            lambda buf: _lib.procmapq_enumerate(handle, ctypes.byref(opts), buf), 256, 256 * _NAME_BYTES_PER_VMA
        )
        return VmaTable(vmas, strategy, syscalls)

    def query(
        self, addrs: Iterable[int], backend=BACKEND_AUTO, perms=0, file_backed=False, build_ids=False, sorted=False
    ) -> QueryResult:
        """Resolves a batch of addresses (any order, duplicates allowed) in
        one call."""
        c_addrs, keep, n = _addr_array(addrs)
        flags = (
            (QUERY_FILE_BACKED if file_backed else 0)
            | (QUERY_BUILD_IDS if build_ids else 0)
            | (QUERY_SORTED if sorted else 0)
        )
        opts = _query_opts(backend, perms, flags, ProcmapqQueryOpts)
        lookups = (ProcmapqLookup * n)() if n else None
        handle = self._handle()
        first = min(max(n, 1), 4096)
        vmas, strategy, syscalls = self._fill(
            lambda buf: _lib.procmapq_query(handle, c_addrs, n, ctypes.byref(opts), lookups, buf),
            first,
            first * _NAME_BYTES_PER_VMA,
        )
        answers = [
            Lookup(addr, lk.reason, lk.file_offset, vmas[lk.vma] if lk.vma >= 0 else None)
            for addr, lk in zip(keep, lookups or [])
        ]
        return QueryResult(answers, vmas, strategy, syscalls)

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
