"""Tests of the Python bindings against the real library.

Run from examples/python (make test-python does it):
    PROCMAPQ_LIBRARY=../../build/libprocmapq.so python3 -m unittest -v test_procmapq
Optional: PROCMAPQ_TARGET (build/target), PROCMAPQ_ABI_LAYOUT
(build/abi-layout.txt); without them the tests compile tests/target/target.c
and tests/abi/layout.c with $CC (default cc).
"""

import array
import ctypes
import dataclasses
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import maps_text
import procmapq

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HEADER = os.path.join(REPO, "include", "procmapq.h")
_scratch = tempfile.TemporaryDirectory(prefix="procmapq-python-tests-")


def _compile(source: str, out_name: str, *flags: str) -> str:
    out = os.path.join(_scratch.name, out_name)
    if not os.path.exists(out):
        cc = os.environ.get("CC") or "cc"
        subprocess.run([cc, *flags, "-I", os.path.join(REPO, "include"), source, "-o", out], check=True)
    return out


def target_program() -> str:
    """A private copy of $PROCMAPQ_TARGET (so a concurrent rebuild of
    build/target cannot turn its mappings into "(deleted)" ones mid-test),
    or tests/target/target.c compiled here."""
    given = os.environ.get("PROCMAPQ_TARGET")
    if not given:
        return _compile(os.path.join(REPO, "tests", "target", "target.c"), "target", "-O2", "-std=gnu11")
    copy = os.path.join(_scratch.name, "target")
    if not os.path.exists(copy):
        shutil.copy2(given, copy)
    return copy


def abi_layout_text() -> str:
    path = os.environ.get("PROCMAPQ_ABI_LAYOUT")
    if path:
        with open(path) as f:
            return f.read()
    program = _compile(os.path.join(REPO, "tests", "abi", "layout.c"), "abi-layout", "-std=c99")
    return subprocess.run([program], check=True, capture_output=True, text=True).stdout


class Target:
    """A live tests/target process: "map LABEL START END" lines, then "ready
    PID"; exits on "exit". subprocess execs right after fork, so the Go
    runtime in this process never runs in the child."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([target_program(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.maps = {}
        for line in self.proc.stdout:
            words = line.decode().split()
            if words[:1] == ["map"]:
                self.maps[words[1]] = (int(words[2], 16), int(words[3], 16))
            elif words[:1] == ["ready"]:
                self.pid = int(words[1])
                break
        else:
            raise RuntimeError(f"target {args} ended before 'ready' (status {self.proc.wait()})")

    def exit(self):
        if self.proc.poll() is None:
            self.proc.stdin.write(b"exit\n")
            self.proc.stdin.close()
            self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.exit()


def have_ioctl():
    """Whether PROCMAP_QUERY may be used. Under PROCMAPQ_REQUIRE_IOCTL=1
    (set by .ci/run where its probe found the ioctl; the seccomp mask and
    PROCMAPQ_FORCE_PROBE=0 lift it) a missing ioctl is an error, so no test
    skips or narrows itself silently (tests/c/check.h has the same rule)."""
    ok = procmapq.supports_procmap_query()
    if (not ok and os.environ.get("PROCMAPQ_REQUIRE_IOCTL") == "1"
            and os.environ.get("PROCMAPQ_FORCE_PROBE") != "0"):
        raise AssertionError("PROCMAP_QUERY unavailable, but PROCMAPQ_REQUIRE_IOCTL=1: cannot skip")
    return ok


def backends():
    """auto and text always; ioctl when the kernel has PROCMAP_QUERY."""
    found = [procmapq.BACKEND_AUTO, procmapq.BACKEND_TEXT]
    if have_ioctl():
        found.append(procmapq.BACKEND_IOCTL)
    return found


def test_addresses(entries, seed=42):
    """0, below the first VMA, 2**64-1, each VMA's first, middle and last
    byte, each gap's first byte, then duplicates, shuffled reproducibly."""
    import random

    addrs = [0, 2**64 - 1]
    if entries and entries[0].start > 0:
        addrs.append(entries[0].start - 1)
    for i, e in enumerate(entries):
        addrs += [e.start, e.end - 1, e.start + (e.end - e.start) // 2]
        if i + 1 == len(entries) or e.end < entries[i + 1].start:
            addrs.append(e.end)
    rng = random.Random(seed)
    addrs += rng.choices(addrs, k=len(addrs) // 8 + 1)
    rng.shuffle(addrs)
    return addrs


FILTERS = [
    (0, False),
    (procmapq.PERM_X, False),
    (procmapq.PERM_R | procmapq.PERM_X, False),
    (procmapq.PERM_SHARED, False),
    (0, True),
    (procmapq.PERM_R, True),
]


def passes(e, perms, file_backed):
    return e.perms & perms == perms and (not file_backed or e.file_backed)


class LiveCase(unittest.TestCase):
    def source_is_ioctl(self, backend, strategy, vma):
        """Where a VMA came from: forced backends say; auto is told apart
        per VMA by its page size (only the ioctl knows it)."""
        if backend == procmapq.BACKEND_AUTO:
            return strategy != procmapq.STRATEGY_TEXT and vma.page_size != 0
        return backend == procmapq.BACKEND_IOCTL

    def check_enumeration(self, what, table, entries, backend, perms=0, file_backed=False):
        got = list(table)
        j = 0
        for e in entries:
            if not passes(e, perms, file_backed):
                continue
            if not e.ioctl_visible:
                # The ioctl never shows [vsyscall]; auto may or may not.
                if backend == procmapq.BACKEND_IOCTL or j >= len(got) or got[j].start != e.start:
                    continue
            self.assertLess(j, len(got), f"{what}: missing {e}")
            problems = maps_text.vma_differences(got[j], e, self.source_is_ioctl(backend, table.strategy, got[j]),
                                                 forced_ioctl=backend == procmapq.BACKEND_IOCTL)
            self.assertEqual(problems, [], f"{what}: {e.name!r}")
            j += 1
        self.assertEqual(got[j:], [], f"{what}: extra VMAs")

    def check_query(self, what, addrs, res, entries, backend, perms=0, file_backed=False):
        self.assertEqual(len(res.lookups), len(addrs), what)
        used = set()
        for addr, lk in zip(addrs, res.lookups):
            self.assertEqual(lk.addr, addr)
            e = maps_text.find(entries, addr)
            if e is None or (backend == procmapq.BACKEND_IOCTL and not e.ioctl_visible):
                want = procmapq.REASON_UNMAPPED
            elif not passes(e, perms, file_backed):
                want = procmapq.REASON_FILTERED
            else:
                want = procmapq.REASON_FOUND
            if e is not None and not e.ioctl_visible and lk.reason == procmapq.REASON_UNMAPPED:
                want = procmapq.REASON_UNMAPPED  # auto answered the gate VMA by an ioctl
            self.assertEqual(lk.reason, want, f"{what}: {addr:#x}")
            if want != procmapq.REASON_FOUND:
                self.assertEqual((lk.vma, lk.file_offset), (None, 0), f"{what}: {addr:#x}")
                continue
            used.add(lk.vma.start)
            problems = maps_text.vma_differences(lk.vma, e, self.source_is_ioctl(backend, res.strategy, lk.vma),
                                                 forced_ioctl=backend == procmapq.BACKEND_IOCTL)
            self.assertEqual(problems, [], f"{what}: {addr:#x}")
            self.assertEqual(lk.file_offset, addr - e.start + e.offset, f"{what}: {addr:#x}")
        self.assertEqual(sorted(used), [v.start for v in res.vmas], f"{what}: table holds exactly the VMAs found")


class TestLayout(unittest.TestCase):
    def test_structs_match_the_layout_program(self):
        sizes, offsets = {}, {}
        for line in abi_layout_text().splitlines():
            words = line.split()
            if words[:1] == ["struct"]:
                sizes[words[1]] = int(words[2])
            elif words[:1] == ["field"]:
                struct, field = words[1].split(".")
                offsets.setdefault(struct, {})[field] = int(words[2])
        self.assertEqual(sorted(procmapq.STRUCTS), sorted(sizes), "mirrored structs vs the header's")
        for name, cls in procmapq.STRUCTS.items():
            with self.subTest(struct=name):
                self.assertEqual(ctypes.sizeof(cls), sizes[name], "size")
                mirrored = {f: getattr(cls, f).offset for f, _ in cls._fields_}
                self.assertEqual(mirrored, offsets[name], "field offsets")

    def test_constants_match_the_header(self):
        with open(HEADER) as f:
            header = f.read()
        c_side = {}
        for name, value in re.findall(r"^#define PROCMAPQ_(\w+)\s+(0x[0-9a-fA-F]+|[0-9]+)u?\b", header, re.M):
            c_side[name] = int(value, 0)
        c_side["VERSION_NUMBER"] = c_side["VERSION_MAJOR"] * 10000 + c_side["VERSION_MINOR"] * 100 + c_side["VERSION_PATCH"]
        self.assertGreater(len(c_side), 60)
        py_side = {n: getattr(procmapq, n) for n in dir(procmapq) if re.fullmatch(r"[A-Z][A-Z0-9_]+", n)
                   and isinstance(getattr(procmapq, n), int)}
        self.assertEqual(py_side, c_side)

    def test_every_function_has_a_signature(self):
        with open(HEADER) as f:
            functions = re.findall(r"^PROCMAPQ_API [^(]*?\b(procmapq_\w+)\(", f.read(), re.M)
        self.assertEqual(sorted(functions), sorted(procmapq.SIGNATURES))
        for name in ("procmapq_strerror", "procmapq_last_error"):
            # A default int restype would truncate the pointer.
            self.assertIs(getattr(procmapq._lib, name).restype, ctypes.c_char_p)
        self.assertEqual(procmapq.version(), procmapq.VERSION_NUMBER, "header and library versions differ")


class TestLive(LiveCase):
    def test_enumerate_and_query_agree_with_the_parser(self):
        with Target("-f", "-m", "2", "-n", "40") as t, procmapq.open(t.pid) as h:
            self.assertEqual(h.pid, t.pid)
            entries = maps_text.read(t.pid)
            addrs = test_addresses(entries)
            for backend in backends():
                for perms, file_backed in FILTERS:
                    what = f"backend {backend} perms {procmapq.perms_string(perms)} file_backed {file_backed}"
                    table = h.enumerate(backend=backend, perms=perms, file_backed=file_backed)
                    self.check_enumeration("enumerate " + what, table, entries, backend, perms, file_backed)
                    res = h.query(addrs, backend=backend, perms=perms, file_backed=file_backed)
                    self.check_query("query " + what, addrs, res, entries, backend, perms, file_backed)

    def test_large_maps_and_sorted_batches(self):
        # More VMAs than the first guess of the bindings: -ERANGE, then a
        # retry with the sizes the library reports.
        with Target("-n", "5000", "-m", "3") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            addrs = sorted(test_addresses(entries, seed=7))
            for backend in backends():
                self.check_enumeration(f"5000 VMAs backend {backend}", h.enumerate(backend=backend), entries, backend)
                res = h.query(addrs, backend=backend, sorted=True)
                self.check_query(f"sorted backend {backend}", addrs, res, entries, backend)
            empty = h.query([])
            self.assertEqual((empty.lookups, empty.vmas), ([], []))

    def test_text_and_fd_handles(self):
        with Target("-f") as t:
            text = maps_text.read_text(t.pid)
            entries = maps_text.parse(text)
            with procmapq.open_text(text) as h:
                self.assertEqual(h.pid, 0)
                table = h.enumerate()
                self.assertEqual(table.strategy, procmapq.STRATEGY_TEXT)
                self.check_enumeration("text handle", table, entries, procmapq.BACKEND_TEXT)
            with open(f"/proc/{t.pid}/maps", "rb") as f:
                h = procmapq.open_fd(f, pid=t.pid)
            with h:  # the library keeps its own duplicate of the fd
                self.assertEqual(h.pid, t.pid)
                for backend in backends():
                    self.check_enumeration(f"fd handle {backend}", h.enumerate(backend=backend), entries, backend)

    def test_normalize_agrees_with_the_parser(self):
        exe = os.path.realpath(target_program()).encode()
        with Target("-f", "-m", "2") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            addrs = [e.start + (e.end - e.start) // 2 for e in entries if e.ioctl_visible] + [0x10]
            for backend in backends():
                for file_backed in (False, True):
                    what = f"backend {backend} file_backed {file_backed}"
                    res = h.normalize(addrs, backend=backend, file_backed=file_backed, build_ids=True)
                    self.assertEqual(len(res.outputs), len(addrs), what)
                    saw_exe = False
                    for out in res.outputs:
                        m, e = out.meta, maps_text.find(entries, out.addr)
                        if e is None:
                            self.assertEqual((m.kind, m.reason, out.file_offset),
                                             (procmapq.META_UNKNOWN, procmapq.NORM_REASON_UNMAPPED, out.addr))
                            continue
                        if e.file_backed:
                            want_kind = procmapq.META_ELF
                        elif e.name == b"[vdso]" and not file_backed:
                            want_kind = procmapq.META_VDSO
                        else:
                            want_kind = procmapq.META_UNKNOWN
                        self.assertEqual(m.kind, want_kind, f"{what}: {e.name!r}")
                        if want_kind == procmapq.META_UNKNOWN:
                            reason = (procmapq.NORM_REASON_FILTERED if file_backed and not e.file_backed
                                      else procmapq.NORM_REASON_ANONYMOUS if not e.name
                                      else procmapq.NORM_REASON_UNSUPPORTED)
                            self.assertEqual((m.reason, out.file_offset), (reason, out.addr), f"{what}: {e.name!r}")
                            continue
                        self.assertEqual(out.file_offset, out.addr - e.start + e.offset, f"{what}: {e.name!r}")
                        # Exact names except the documented ioctl cases.
                        self.assertTrue(m.path == e.name or e.ambiguous or len(e.name) >= maps_text.KERNEL_PATH_MAX,
                                        f"{what}: {m.path!r} vs {e.name!r}")
                        self.assertEqual(bool(m.flags & procmapq.META_F_DELETED), e.deleted, f"{what}: {e.name!r}")
                        if m.kind == procmapq.META_ELF:
                            self.assertEqual((m.dev_major, m.dev_minor, m.inode), (e.dev_major, e.dev_minor, e.inode))
                        if m.path == exe:
                            saw_exe = True
                            self.assertEqual(m.build_id, elf_build_id(exe), f"{what}: build ID of the target")
                    self.assertTrue(saw_exe, f"{what}: the target binary is not among the metas")

    def test_normalize_own_code(self):
        libc = ctypes.CDLL(None)
        addrs = [ctypes.cast(libc.printf, ctypes.c_void_p).value,
                 ctypes.cast(procmapq._lib.procmapq_version, ctypes.c_void_p).value]
        with procmapq.open() as h:
            res = h.normalize(addrs, build_ids=True, virt_addrs=True)
        entries = maps_text.read(os.getpid())
        for out in res.outputs:
            e = maps_text.find(entries, out.addr)
            self.assertEqual((out.meta.kind, out.meta.path), (procmapq.META_ELF, e.name))
            self.assertEqual(out.file_offset, out.addr - e.start + e.offset)
            self.assertEqual(out.meta.build_id, elf_build_id(e.name))
        self.assertIn(b"libprocmapq.so", res.outputs[1].meta.path)

    def test_compare_reports_only_expected_differences(self):
        if not have_ioctl():
            self.skipTest("procmapq_compare needs PROCMAP_QUERY (Linux 6.11+)")
        with Target("-f") as t, procmapq.open(t.pid) as h:
            report = h.compare()
            entries = maps_text.read(t.pid)
            self.assertTrue(report.settled)
            self.assertEqual(report.mismatch_count, 0, report.diffs)
            self.assertEqual(report.text_vmas, len(entries))
            self.assertEqual(report.ioctl_vmas, sum(e.ioctl_visible for e in entries))
            # Predicted from the parser and the target's labels: the gate VMA,
            # the name >= PATH_MAX, the file really named "back\012slash".
            want = [(procmapq.DIFF_GATE_VMA, e.start) for e in entries if not e.ioctl_visible]
            want += [(procmapq.DIFF_NAME_TOO_LONG, e.start) for e in entries
                     if len(e.name) >= maps_text.KERNEL_PATH_MAX]
            want.append((procmapq.DIFF_NAME_ESCAPING, t.maps["backslash012"][0]))
            got = [(d.kind, (d.text or d.ioctl)[0]) for d in report.diffs]
            self.assertTrue(all(d.expected for d in report.diffs), report.diffs)
            self.assertEqual(sorted(got), sorted(want))

    def test_one_handle_shared_by_threads(self):
        with Target("-m", "2", "-n", "100") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            failures = []

            def work(seed):
                try:
                    addrs = test_addresses(entries, seed)
                    for _ in range(10):
                        self.check_query(f"thread {seed}", addrs, h.query(addrs), entries, procmapq.BACKEND_AUTO)
                except Exception as err:  # reported by the main thread
                    failures.append(err)

            threads = [threading.Thread(target=work, args=(seed,)) for seed in range(1, 5)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            self.assertEqual(failures, [])


class TestFastForms(LiveCase):
    """Handle.lookup and Handle.query_bulk give the answers of query() and
    of the tests' own parser."""

    def check_bulk(self, what, addrs, bulk, entries, backend, perms=0, file_backed=False):
        """The arrays agree with the object views of the same result, and
        those with the parser."""
        n = len(addrs)
        self.assertEqual(len(bulk), n, what)
        self.assertEqual(list(bulk.addrs), list(addrs), what)
        index, reason, offset = bulk.vma_index.tolist(), bulk.reason.tolist(), bulk.file_offset.tolist()
        self.assertEqual((len(index), len(reason), len(offset)), (n, n, n), what)
        self.assertEqual(len(bulk.lookups_buffer), n * ctypes.sizeof(procmapq.ProcmapqLookup), what)
        vmas = bulk.vmas
        self.assertEqual(len(vmas), bulk.count, what)
        self.assertEqual(len(bulk.vmas_buffer), bulk.count * ctypes.sizeof(procmapq.ProcmapqVma), what)
        for field in ("start", "end", "offset", "inode", "page_size", "dev_major", "dev_minor", "perms", "kind",
                      "flags"):
            self.assertEqual(getattr(bulk, "vma_" + field).tolist(), [getattr(v, field) for v in vmas],
                             f"{what}: vma_{field}")
        for j, v in enumerate(vmas):
            self.assertEqual(bulk.vma_name(j), v.name, what)
            self.assertIs(bulk.vma(j), v, what)
            self.assertEqual(bulk.names_buffer[:len(v.name)].tobytes() if j == 0 and v.name else v.name, v.name)
        lookups = bulk.lookups()
        for i, lk in enumerate(lookups):
            self.assertEqual((lk.addr, lk.reason, lk.file_offset), (addrs[i], reason[i], offset[i]), what)
            self.assertIs(lk.vma, vmas[index[i]] if index[i] >= 0 else None, what)
            self.assertEqual(index[i] >= 0, reason[i] == procmapq.REASON_FOUND, what)
        if n:
            self.assertEqual(bulk.lookup(n - 1), lookups[-1], what)
            self.assertEqual(bulk.lookup(-1), lookups[-1], what)
        res = procmapq.QueryResult(lookups, vmas, bulk.strategy, bulk.syscalls)
        self.check_query(what, list(addrs), res, entries, backend, perms, file_backed)
        return lookups

    def check_lookup(self, what, addr, lk, entries, backend, perms=0, file_backed=False):
        # A one-address result: auto answers it with an ioctl when it can,
        # which the VMA's page size tells.
        res = procmapq.QueryResult([lk], [lk.vma] if lk.vma else [], procmapq.STRATEGY_POINT_IOCTL, 0)
        self.check_query(what, [addr], res, entries, backend, perms, file_backed)

    def test_bulk_and_lookup_agree_with_query_and_the_parser(self):
        with Target("-f", "-m", "2", "-n", "40") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            addrs = test_addresses(entries)
            packed = array.array("Q", addrs)
            for backend in backends():
                for perms, file_backed in FILTERS:
                    what = f"backend {backend} perms {procmapq.perms_string(perms)} file_backed {file_backed}"
                    opts = dict(backend=backend, perms=perms, file_backed=file_backed)
                    bulk = h.query_bulk(packed, **opts)
                    lookups = self.check_bulk("bulk " + what, addrs, bulk, entries, backend, perms, file_backed)
                    for k in (1, 5, 8, 9):  # small batches decode their lookups another way
                        self.check_bulk(f"bulk of {k} {what}", addrs[:k], h.query_bulk(addrs[:k], **opts), entries,
                                        backend, perms, file_backed)
                    singles = [h.lookup(a, **opts) for a in addrs]
                    for a, lk in zip(addrs, singles):
                        self.check_lookup(f"lookup {what} {a:#x}", a, lk, entries, backend, perms, file_backed)
                    if backend != procmapq.BACKEND_AUTO:
                        # Forced backends: exactly the same answers by all
                        # three forms (auto may choose another strategy per
                        # call, and only the ioctl reports page sizes).
                        self.assertEqual(lookups, h.query(addrs, **opts).lookups, what)
                        self.assertEqual(singles, lookups, what)

    def test_bulk_inputs(self):
        """Every accepted form of the addresses gives the same answers;
        array('Q'), writable uint64 buffers and bytes are used in place."""
        with Target("-m", "2", "-n", "20") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            addrs = sorted(test_addresses(entries, seed=3))
            want = h.query_bulk(addrs, backend=procmapq.BACKEND_TEXT).lookups()
            packed = array.array("Q", addrs)
            raw = packed.tobytes()
            forms = {
                "list": addrs,
                "tuple": tuple(addrs),
                "generator": (a for a in addrs),
                "array Q": packed,
                "array L": array.array("L", addrs),
                "bytes": raw,
                "bytearray": bytearray(raw),
                "memoryview Q": memoryview(bytearray(raw)).cast("Q"),
                "read-only memoryview": memoryview(raw)[0:],
                "ctypes uint64 array": (ctypes.c_uint64 * len(addrs))(*addrs),
            }
            for name, form in forms.items():
                for sorted_ in (False, True):
                    if name == "generator":
                        form = (a for a in addrs)
                    res = h.query_bulk(form, backend=procmapq.BACKEND_TEXT, sorted=sorted_)
                    self.assertEqual(res.lookups(), want, f"{name} sorted={sorted_}")
            self.assertIs(h.query_bulk(packed).addrs, packed, "array('Q') is used in place")
            # Small items are converted and range-checked like a list.
            small = [e.start for e in entries[:4]]
            self.assertEqual(h.query_bulk(array.array("q", small), backend=procmapq.BACKEND_TEXT).lookups(),
                             h.query_bulk(small, backend=procmapq.BACKEND_TEXT).lookups())
            for bad in ([-1], [2**64], array.array("q", [-1])):
                with self.assertRaises(OverflowError):
                    h.query_bulk(bad)
            with self.assertRaises(TypeError):
                h.query_bulk(["x"])
            with self.assertRaises(ValueError):
                h.query_bulk(b"1234567")  # not whole uint64s
            empty = h.query_bulk(array.array("Q"))
            self.assertEqual((len(empty), empty.count, empty.vma_index.tolist(), empty.lookups()), (0, 0, [], []))
            self.assertEqual(h.query_bulk(b"").lookups(), [])

    def test_bulk_views_outlive_the_call(self):
        with Target("-m", "1") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            addrs = [e.start for e in entries if e.ioctl_visible]
            index = h.query_bulk(addrs).vma_index  # the result itself is dropped
            other = h.query_bulk(addrs[::-1])
            self.assertEqual(index.tolist(), list(range(len(addrs))))
            self.assertEqual(array.array("i", index).tolist(), index.tolist())
            self.assertEqual(other.vma_index.tolist(), list(range(len(addrs)))[::-1])
            for view in (index, other.reason, other.file_offset, other.vma_start, other.lookups_buffer):
                self.assertTrue(view.readonly)
                with self.assertRaises(TypeError):
                    view[0] = 1

    def test_large_maps_bulk(self):
        # More VMAs than the first guess: -ERANGE, a retry with the sizes the
        # library reports, and a handle that remembers them.
        with Target("-n", "5000", "-m", "3") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            addrs = sorted(test_addresses(entries, seed=11))
            for backend in backends():
                for _ in range(2):
                    res = h.query_bulk(array.array("Q", addrs), backend=backend, sorted=True)
                    self.check_bulk(f"5000 VMAs bulk backend {backend}", addrs, res, entries, backend)
                    self.assertGreater(res.count, 5000)

    def test_lookup_long_names_fall_back(self):
        """A name longer than the lookup buffers: the general path answers."""
        with Target("-f") as t:
            entries = maps_text.read(t.pid)
            longest = max((e for e in entries if e.ioctl_visible), key=lambda e: len(e.name))
            self.assertGreater(len(longest.name), 64)
            saved = procmapq._SINGLE_NAMES_CAP
            procmapq._SINGLE_NAMES_CAP = 64
            try:
                with procmapq.open(t.pid) as h:
                    for backend in backends():
                        lk = h.lookup(longest.start, backend=backend)
                        self.check_lookup(f"long name backend {backend}", longest.start, lk, entries, backend)
            finally:
                procmapq._SINGLE_NAMES_CAP = saved

    def test_lookup_reuses_vma_objects(self):
        with Target("-m", "1") as t, procmapq.open(t.pid) as h:
            e = next(e for e in maps_text.read(t.pid) if e.name.endswith(b"module-0.so"))
            first, second = h.lookup(e.start), h.lookup(e.end - 1)
            self.assertIs(first.vma, second.vma)
            # Built without the dataclass __init__, still a plain Vma.
            rebuilt = procmapq.Vma(**dataclasses.asdict(first.vma))
            self.assertEqual((rebuilt, hash(rebuilt), repr(rebuilt)), (first.vma, hash(first.vma), repr(first.vma)))
            self.assertEqual(second.file_offset, e.end - 1 - e.start + e.offset)

    def test_lookup_follows_a_changing_vma(self):
        """The reused Vma objects never hide a change: new permissions, then
        a file mapped over the same address, in this process."""
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        prot_read, prot_write, map_private, map_fixed, map_anonymous = 1, 2, 2, 0x10, 0x20
        page = os.sysconf("SC_PAGESIZE")
        addr = libc.mmap(None, 3 * page, prot_read, map_private | map_anonymous, -1, 0)
        self.assertNotEqual(addr, ctypes.c_void_p(-1).value)
        addr += page  # the middle page: its neighbours keep it apart below
        try:
            with procmapq.open() as h, tempfile.NamedTemporaryFile(dir=_scratch.name) as f:
                f.write(b"x" * page)
                f.flush()
                steps = [
                    lambda: None,
                    lambda: self.assertEqual(libc.mprotect(addr, page, prot_read | prot_write), 0),
                    lambda: self.assertEqual(libc.mmap(addr, page, prot_read, map_private | map_fixed, f.fileno(), 0),
                                             addr),
                    lambda: self.assertEqual(libc.mprotect(addr, page, prot_read | prot_write), 0),
                ]
                seen = []
                for step in steps:
                    step()
                    for backend in backends():
                        lk = h.lookup(addr + 8, backend=backend)
                        e = maps_text.find(maps_text.read(os.getpid()), addr + 8)
                        self.check_lookup(f"step {len(seen)} backend {backend}", addr + 8, lk,
                                          maps_text.read(os.getpid()), backend)
                        self.assertEqual((lk.vma.start, lk.vma.perms, lk.vma.name), (e.start, e.perms, e.name))
                    seen.append(lk.vma)
                self.assertEqual(seen[2].name, os.fsencode(os.path.realpath(f.name)))
                self.assertEqual(len({(v.perms, v.name) for v in seen}), 4)
        finally:
            libc.munmap(addr - page, 3 * page)

    def test_fast_forms_shared_by_threads(self):
        with Target("-m", "2", "-n", "100") as t, procmapq.open(t.pid) as h:
            entries = maps_text.read(t.pid)
            failures = []

            def work(seed):
                try:
                    addrs = test_addresses(entries, seed)
                    for _ in range(5):
                        self.check_bulk(f"thread {seed}", addrs, h.query_bulk(addrs), entries, procmapq.BACKEND_AUTO)
                        for a in addrs[:50]:
                            self.check_lookup(f"thread {seed}", a, h.lookup(a), entries, procmapq.BACKEND_AUTO)
                except Exception as err:  # reported by the main thread
                    failures.append(err)

            threads = [threading.Thread(target=work, args=(seed,)) for seed in range(1, 5)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            self.assertEqual(failures, [])

    def test_module_docstring_bulk_example(self):
        """The bulk example of procmapq.py's docstring, on this process."""
        import contextlib
        import io

        match = re.search(r"\n    import array\n(.*?)\n\n", procmapq.__doc__, re.S)
        self.assertIsNotNone(match)
        code = "import array\n" + "\n".join(line[4:] for line in match.group(1).splitlines())
        addr = ctypes.cast(procmapq._lib.procmapq_version, ctypes.c_void_p).value
        printed = io.StringIO()
        with procmapq.open() as h, contextlib.redirect_stdout(printed):
            exec(compile(code, "procmapq.py docstring", "exec"), {"h": h, "addrs": [addr, addr + 1]})
        self.assertIn(hex(addr), printed.getvalue())
        self.assertIn("libprocmapq.so", printed.getvalue())


def elf_build_id(path: bytes) -> bytes:
    """The GNU build ID from an ELF64 file's PT_NOTE segments (b"" if none)."""
    import struct

    with open(path, "rb") as f:
        elf = f.read()
    if elf[:5] != b"\x7fELF\x02":
        return b""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ph = phoff + i * phentsize
        p_type, = struct.unpack_from("<I", elf, ph)
        if p_type != 4:  # PT_NOTE
            continue
        offset, = struct.unpack_from("<Q", elf, ph + 8)
        size, = struct.unpack_from("<Q", elf, ph + 32)
        pos = offset
        while pos + 12 <= offset + size:
            namesz, descsz, kind = struct.unpack_from("<III", elf, pos)
            desc = pos + 12 + (namesz + 3) // 4 * 4
            if kind == 3 and elf[pos + 12:pos + 16] == b"GNU\0":
                return elf[desc:desc + descsz]
            pos = desc + (descsz + 3) // 4 * 4
    return b""


class TestBadInput(unittest.TestCase):
    def assertLibraryError(self, cm, code):
        self.assertEqual(cm.exception.errno, code, cm.exception)
        self.assertTrue(cm.exception.strerror, "the library's message")

    def test_bad_opens(self):
        with self.assertRaises(OSError) as cm:
            procmapq.open(-1)
        self.assertLibraryError(cm, errno.EINVAL)
        with self.assertRaises(ProcessLookupError) as cm:
            procmapq.open(0x7FFFFFF0)  # above pid_max: never exists
        self.assertLibraryError(cm, errno.ESRCH)
        self.assertIn("2147483632", str(cm.exception), "the message names the pid")
        for text in (b"not a maps line\n", b"2000-1000 r--p 00000000 00:00 0 \n"):
            with self.assertRaises(OSError) as cm:
                procmapq.open_text(text)
            self.assertLibraryError(cm, errno.EINVAL)
        with procmapq.open_text(b"") as h:
            self.assertEqual(len(h.enumerate()), 0)
        with open("/dev/null", "rb") as f, self.assertRaises(OSError) as cm:
            procmapq.open_fd(f)
        self.assertLibraryError(cm, errno.EINVAL)
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        with self.assertRaises(OSError) as cm:
            procmapq.open_fd(r)
        self.assertLibraryError(cm, errno.EBADF)
        with self.assertRaises(OSError):
            procmapq.open(0, proc_root="/nonexistent-proc")
        with self.assertRaises(ValueError):
            procmapq.open(0, proc_root="/pr\0c")
        with self.assertRaises(TypeError):
            procmapq.open("1")

    def test_bad_calls(self):
        with procmapq.open() as h:
            for bad in ([-1], [2**64], ["x"]):
                with self.assertRaises((OverflowError, TypeError)):
                    h.query(bad)
                with self.assertRaises((OverflowError, TypeError)):
                    h.lookup(bad[0])
            for call in (lambda: h.lookup(0x1000, backend=9), lambda: h.query_bulk([0x1000], backend=9)):
                with self.assertRaises(OSError) as cm:
                    call()
                self.assertLibraryError(cm, errno.EINVAL)
            with self.assertRaises(OSError) as cm:
                h.query([0x1000], backend=9)
            self.assertLibraryError(cm, errno.EINVAL)
            with self.assertRaises(OSError) as cm:
                h.normalize([0x1000], flags=0x4000)
            self.assertLibraryError(cm, errno.EINVAL)
        with self.assertRaises(ValueError):
            h.query([0x1000])  # closed
        with self.assertRaises(ValueError):
            h.lookup(0x1000)
        with self.assertRaises(ValueError):
            h.query_bulk([0x1000])
        h.close()  # closing twice is harmless
        with procmapq.open_text(b"1000-2000 r--p 00000000 00:00 0 \n") as text:
            with self.assertRaises(OSError) as cm:
                text.compare()
            self.assertLibraryError(cm, errno.EINVAL)

    def test_raw_struct_rules(self):
        """The extensible-struct rules through the raw functions: size < 8 is
        EINVAL, a larger struct with a non-zero tail E2BIG."""
        with procmapq.open() as h:
            handle = h._handle()

            class Larger(ctypes.Structure):
                _fields_ = [("opts", procmapq.ProcmapqQueryOpts), ("future", ctypes.c_uint64)]

            buf = procmapq.ProcmapqVmaBuf(size=ctypes.sizeof(procmapq.ProcmapqVmaBuf))
            larger = Larger(procmapq.ProcmapqQueryOpts(size=ctypes.sizeof(Larger)), 1)
            with self.assertRaises(OSError) as cm:
                procmapq._lib.procmapq_enumerate(handle, ctypes.byref(larger.opts), ctypes.byref(buf))
            self.assertLibraryError(cm, errno.E2BIG)
            larger.future = 0  # a zero tail is accepted; the empty arrays are too small
            with self.assertRaises(OSError) as cm:
                procmapq._lib.procmapq_enumerate(handle, ctypes.byref(larger.opts), ctypes.byref(buf))
            self.assertLibraryError(cm, errno.ERANGE)
            self.assertGreater(buf.vmas_count, 0, "-ERANGE reports the VMAs needed")
            tiny = procmapq.ProcmapqQueryOpts(size=4)
            with self.assertRaises(OSError) as cm:
                procmapq._lib.procmapq_enumerate(handle, ctypes.byref(tiny), ctypes.byref(buf))
            self.assertLibraryError(cm, errno.EINVAL)
            with self.assertRaises(OSError) as cm:
                procmapq._lib.procmapq_enumerate(None, None, ctypes.byref(buf))
            self.assertLibraryError(cm, errno.EINVAL)

    def test_gone_target(self):
        t = Target()
        h = procmapq.open(t.pid)
        t.exit()
        with h:
            for call in (lambda: h.query([0x1000]), h.enumerate, lambda: h.normalize([0x1000]),
                         lambda: h.lookup(0x1000), lambda: h.query_bulk([0x1000])):
                with self.assertRaises(ProcessLookupError) as cm:
                    call()
                self.assertIn(str(t.pid), str(cm.exception))


class TestReadme(unittest.TestCase):
    def test_readme_python_example_runs(self):
        """The README's Python example, run on this process."""
        import contextlib
        import io

        with open(os.path.join(REPO, "README.md")) as f:
            readme = f.read()
        match = re.search(r"```python\n(.*?)```", readme, re.S)
        self.assertIsNotNone(match, "README.md has no ```python block")
        addr = ctypes.cast(procmapq._lib.procmapq_version, ctypes.c_void_p).value
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(match.group(1), "README.md", "exec"), {"pid": 0, "addrs": [addr, 0x10]})
        self.assertIn(hex(addr), printed.getvalue())
        self.assertIn("libprocmapq.so", printed.getvalue())


class TestPythonReadme(unittest.TestCase):
    def test_examples_python_readme_runs(self):
        """examples/python/README.md's example, run on this process."""
        import contextlib
        import io

        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")) as f:
            readme = f.read()
        match = re.search(r"```python\n(.*?)```", readme, re.S)
        self.assertIsNotNone(match, "examples/python/README.md has no ```python block")
        addr = ctypes.cast(procmapq._lib.procmapq_version, ctypes.c_void_p).value
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(match.group(1), "README.md", "exec"), {"pid": 0, "addr": addr, "addrs": [0x10, addr]})
        self.assertEqual(printed.getvalue().count("libprocmapq.so"), 3, printed.getvalue())
        self.assertIn(hex(addr), printed.getvalue())


class TestMicrobench(unittest.TestCase):
    def test_microbench_runs(self):
        """microbench.py, one round: it builds its C loops and prints every row."""
        run = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "microbench.py"),
                              "1"], capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        for row in ("c-ioctl", "cabi-1", "py-bare", "py-lookup-auto", "py-bulk-3000", "ns per address"):
            self.assertIn(row, run.stdout)


class TestCompareScript(unittest.TestCase):
    def test_compare_py_on_a_live_target(self):
        """compare.py as a user runs it: the views and no unexpected
        difference (exit 0)."""
        with Target("-f", "-m", "1") as t:
            run = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "compare.py"), str(t.pid)],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertIn("module-0.so", run.stdout)
            self.assertRegex(run.stdout, r"0 unexpected")
            if have_ioctl():
                self.assertIn("back\\012slash", run.stdout)


if __name__ == "__main__":
    unittest.main()
