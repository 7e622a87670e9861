#!/usr/bin/env python3
"""pybench: the Python contenders of the side-by-side benchmark.

    pybench.py SPEC      run the workloads of SPEC (see bench/internal/spec)
    pybench.py --probe   exit 0 if the binding (examples/python/procmapq.py)
                         and the library load

Contenders py-ioctl, py-text, py-auto: the ctypes binding's object API with
each backend, called as a Python user would: Handle.lookup for one address
(single rows), Handle.query for batches, Handle.enumerate; the timed call
includes building the binding's result objects (a Lookup per address, a Vma
per VMA).

Contenders py-bulk-auto, py-bulk-ioctl: Handle.query_bulk on the batch held
in an array('Q') (single rows: a one-address slice of it), the timed call
including the three per-address views (vma_index, reason, file_offset); no
Python object per address. Enumeration rows have no bulk form: skipped.

Same round-robin blocks, digests and output lines as the C and Go drivers.
"""

import array
import ctypes
import errno
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))

# Same arithmetic as bench/internal/spec/digest.go and driver.c.
DIGEST_SEED = 0xCBF29CE484222325
DIGEST_PRIME = 0x100000001B3
DIGEST_MISSING = 0xFFFFFFFFFFFFFFFF
MASK = 0xFFFFFFFFFFFFFFFF
GATE_START = 0xFFFFFFFFFF600000

BLOCK_NS = 2_000_000
BLOCK_MAX = 50


def mix(h, v):
    return ((h ^ v) * DIGEST_PRIME) & MASK


def name_hash(name):
    h = DIGEST_SEED
    for c in name:
        h = ((h ^ c) * DIGEST_PRIME) & MASK
    return h


def mix_vma(h, v):
    for x in (v.start, v.end, v.offset, v.inode, (v.dev_major << 32) | v.dev_minor, v.perms):
        h = mix(h, x)
    return mix(h, name_hash(v.name))


class Workload:
    def __init__(self, fields):
        self.name, self.kind = fields[1], fields[2]
        self.pid, self.open_each = int(fields[3]), fields[4] == "open"
        self.iters, self.budget_ms, self.arg = int(fields[5]), int(fields[6]), fields[7]
        self.addrs = []
        if self.kind in ("query", "single"):
            with open(self.arg) as f:
                self.addrs = [int(x, 16) for x in f.read().split()]
        elif self.kind == "blazesym":
            self.addrs = blazesym_addrs()
        self.packed = array.array("Q", self.addrs)  # the bulk contenders' input


def blazesym_addrs():
    """Three libc functions and two of the interpreter (the executable, or
    libpython when the interpreter is built shared), sorted."""
    libc = ctypes.CDLL(None)
    funcs = [libc.chdir, libc.fopen, libc.qsort, ctypes.pythonapi.Py_Initialize, ctypes.pythonapi.PyObject_Repr]
    return sorted(ctypes.cast(f, ctypes.c_void_p).value for f in funcs)


class Contender:
    def __init__(self, procmapq, name, backend, bulk=False):
        self.pmq, self.name, self.backend, self.bulk = procmapq, name, backend, bulk
        self.h = None
        self.last = None
        self.last_strategy = None

    def applies(self, w):
        return not (self.bulk and w.kind == "enum")

    def open(self, pid):
        self.h = self.pmq.open(pid)

    def close(self):
        if self.h is not None:
            self.h.close()
            self.h = None

    def call(self, w, i):
        if w.open_each:
            self.open(w.pid)
        try:
            if w.kind == "enum":
                self.last = self.h.enumerate(backend=self.backend, perms=self.pmq.PERM_X if w.arg == "exec" else 0)
            elif self.bulk:
                if w.kind == "single":
                    j = i % len(w.packed)
                    res = self.h.query_bulk(w.packed[j : j + 1], backend=self.backend, sorted=True)
                else:
                    res = self.h.query_bulk(w.packed, backend=self.backend, sorted=True)
                res.vma_index, res.reason, res.file_offset  # the answers' views
                self.last = res
            elif w.kind == "single":
                self.last = self.h.lookup(w.addrs[i % len(w.addrs)], backend=self.backend)
            else:
                self.last = self.h.query(w.addrs, backend=self.backend, sorted=True)
        finally:
            if w.open_each:
                self.close()

    def digest(self, h):
        """Folds the last call's answers into h: (h, found, VMAs)."""
        last = self.last
        if self.bulk:
            return mix_bulk(h, last)
        if isinstance(last, self.pmq.Lookup):  # lookup(): one address
            if last.vma is None:
                return mix(h, DIGEST_MISSING), 0, 0
            return mix_vma(h, last.vma), 1, 1
        found = 0
        for lk in last.lookups:
            if lk.vma is None:
                h = mix(h, DIGEST_MISSING)
            else:
                found += 1
                h = mix_vma(h, lk.vma)
        return h, found, len(last.vmas)

    def strategy(self):
        names = ["none", "point-ioctl", "ioctl-walk", "text", "ioctl-then-text"]
        s = self.last_strategy
        if s is None:
            s = getattr(self.last, "strategy", 0) if self.last is not None else 0
        return names[s] if s < len(names) else "?"


def mix_bulk(h, res):
    """The digest of a BulkResult, from its arrays."""
    table = list(zip(res.vma_start.tolist(), res.vma_end.tolist(), res.vma_offset.tolist(), res.vma_inode.tolist(),
                     res.vma_dev_major.tolist(), res.vma_dev_minor.tolist(), res.vma_perms.tolist(),
                     (name_hash(res.vma_name(j)) for j in range(res.count))))
    found = 0
    for j in res.vma_index.tolist():
        if j < 0:
            h = mix(h, DIGEST_MISSING)
            continue
        found += 1
        start, end, offset, inode, major, minor, perms, name = table[j]
        for x in (start, end, offset, inode, (major << 32) | minor, perms, name):
            h = mix(h, x)
    return h, found, res.count


def check(out, c, w):
    """Answers the whole workload once, untimed; prints the digest and
    returns the time per call in ns."""
    h, found, vmas = DIGEST_SEED, 0, 0
    t0 = time.perf_counter_ns()
    calls = 1
    if w.kind == "enum":
        c.call(w, 0)
        for v in c.last.vmas:
            if v.start < GATE_START:
                h = mix_vma(h, v)
                vmas += 1
    else:
        batches = range(len(w.addrs)) if w.kind == "single" else [0]
        calls = max(1, len(batches))
        for i in batches:
            c.call(w, i)
            h, f, v = c.digest(h)
            found += f
            vmas += v
    per_call = (time.perf_counter_ns() - t0) // calls
    out.append(f"digest {w.name} {c.name} {h:016x} {found} {vmas}")
    return per_call


def run_workload(out, w, contenders):
    cs, blocks = [], []
    for c in contenders:
        if not c.applies(w):
            continue
        try:
            if not w.open_each:
                c.open(w.pid)
            per_call = check(out, c, w)
        except OSError as err:
            # A kernel without PROCMAP_QUERY is not a failure: skipped.
            kind = "note" if err.errno == errno.ENOTTY else "error"
            out.append(f"{kind} {w.name} {c.name} {err}")
            c.close()
            continue
        cs.append(c)
        blocks.append(max(1, min(BLOCK_NS // max(per_call, 1), BLOCK_MAX, w.iters)))
    warm = [[] for _ in cs]
    cold = [[] for _ in cs]
    # Stop at the budget once every contender has 5 calls, and at three
    # times the budget in any case (as the C driver).
    budget = w.budget_ms * 1_000_000
    deadline = time.perf_counter_ns() + budget
    hard_deadline = deadline + 2 * budget
    min_iters = min(w.iters, 5)
    it, least = 0, 0
    while cs and least < w.iters:
        now = time.perf_counter_ns()
        if (least >= min_iters and now >= deadline) or (least > 0 and now >= hard_deadline):
            break
        least = sys.maxsize
        for k, c in enumerate(cs):
            for j in range(blocks[k]):
                t0 = time.perf_counter_ns()
                c.call(w, it + j)
                d = time.perf_counter_ns() - t0
                (cold[k] if j == 0 and blocks[k] > 1 else warm[k]).append(d)
            least = min(least, len(warm[k]))
        it += BLOCK_MAX
    for k, c in enumerate(cs):
        if w.kind == "single" and not c.bulk and c.h is not None:
            # lookup() returns no strategy: the same one-address query once
            # more, untimed, says which one the library used.
            c.last_strategy = c.h.query_bulk(w.packed[:1], backend=c.backend).strategy
        for what, samples in (("samples", warm[k]), ("cold", cold[k])):
            if samples:
                out.append(f"{what} {w.name} {c.name} " + " ".join(map(str, samples)))
        out.append(f"info {w.name} {c.name} strategy={c.strategy()}")
        if not w.open_each:
            c.close()


def main(argv):
    if len(argv) == 2 and argv[1] == "--probe":
        import procmapq  # noqa: F401  (fails if the binding or library is missing)

        return 0
    if len(argv) != 2:
        print("usage: pybench.py SPEC | --probe", file=sys.stderr)
        return 2
    lib, chosen, workloads = None, None, []
    with open(argv[1]) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 2 and fields[0] == "lib":
                lib = fields[1]
            elif len(fields) == 2 and fields[0] == "contenders":
                chosen = fields[1].split(",")
            elif len(fields) == 8 and fields[0] == "workload":
                workloads.append(Workload(fields))
    if lib:
        os.environ["PROCMAPQ_LIBRARY"] = lib
    import procmapq

    contenders = [
        Contender(procmapq, "py-ioctl", procmapq.BACKEND_IOCTL),
        Contender(procmapq, "py-text", procmapq.BACKEND_TEXT),
        Contender(procmapq, "py-auto", procmapq.BACKEND_AUTO),
        Contender(procmapq, "py-bulk-ioctl", procmapq.BACKEND_IOCTL, bulk=True),
        Contender(procmapq, "py-bulk-auto", procmapq.BACKEND_AUTO, bulk=True),
    ]
    if chosen is not None:
        contenders = [c for c in contenders if c.name in chosen]
    for w in workloads:
        out = []
        run_workload(out, w, contenders)
        print("\n".join(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
