#!/usr/bin/env python3
"""microbench.py: the Python binding's cost against plain C, in one process.

    PROCMAPQ_LIBRARY=build/libprocmapq.so python3 microbench.py [ROUNDS]

(make micro-python runs it.) Starts a tests/target process (650 anonymous
VMAs and 5 modules), then times, round after round so that every row shares
the machine's noise:

  C loops, in a small C library compiled here and called once per block:
    c-ioctl            one PROCMAP_QUERY on a kept /proc/PID/maps fd (the
                       physical limit of one address)
    c-ioctl-64k        the same with 64 KiB read between calls (a caller
                       that does other work between lookups, as Python does)
    cabi-1, cabi-1-64k procmapq_query of one address through the C ABI, with
                       a procmapq_query_opts (flags SORTED), as the bench's
                       C driver calls it
    cabi-1-null-opts   the same with opts NULL (auto backend, no flags), as
                       Handle.lookup passes default options
    cabi-3000          procmapq_query of 3,000 sorted addresses in 5 VMAs
  Python, one call per loop iteration:
    py-bare            _fast_query with ready-made arguments: the floor of
                       any ctypes binding (no result decoding at all)
    py-lookup-*        Handle.lookup (auto, ioctl, an unmapped address)
    py-query-1         Handle.query([addr])
    py-bulk-1          Handle.query_bulk(array('Q', [addr]))
    py-bulk-3000       Handle.query_bulk of the 3,000 addresses (+views:
                       also the three per-address views and the Vma table)
    py-query-3000      Handle.query of the 3,000 addresses (Lookup objects)

Prints the medians (ns per call) with their quartiles, and the ratios the
issue asks about: one address against c-ioctl, and ns per address of the
bulk form over the same C call.
"""

import array
import ctypes
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import procmapq  # noqa: E402

C_LOOPS = r"""
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>
#include <procmapq.h>
struct pmq_arg {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
static uint64_t now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000ull + t.tv_nsec; }
static char name[4096], names[1 << 20], other[1 << 16];
static struct procmapq_lookup lk[4096];
static struct procmapq_vma vmas[4096];
static void touch_other(void) { volatile char x = 0; for (char *p = other; p < other + sizeof other; p += 64) x += *p; }
/* Nanoseconds spent in n calls (0 on failure); with touch, 64 KiB is read
 * between calls, outside the timed part. */
uint64_t c_ioctl(int fd, uint64_t addr, int n, int touch)
{
	uint64_t total = 0;
	for (int i = 0; i < n; i++) {
		struct pmq_arg q = { .size = sizeof q, .query_addr = addr, .vma_name_size = sizeof name,
				     .vma_name_addr = (uintptr_t)name };
		uint64_t t0 = now();
		if (ioctl(fd, 0xC0686611ul, &q) < 0)
			return 0;
		total += now() - t0;
		if (touch)
			touch_other();
	}
	return total;
}
uint64_t cabi(struct procmapq *h, const uint64_t *addrs, size_t m, int n, int touch, int with_opts)
{
	PROCMAPQ_OPTS(procmapq_vma_buf, out, .vmas = vmas, .vmas_cap = 4096, .names = names, .names_cap = sizeof names);
	PROCMAPQ_OPTS(procmapq_query_opts, o, .flags = PROCMAPQ_QUERY_SORTED);
	uint64_t total = 0;
	for (int i = 0; i < n; i++) {
		uint64_t t0 = now();
		if (procmapq_query(h, addrs, m, with_opts ? &o : NULL, lk, &out) < 0)
			return 0;
		total += now() - t0;
		if (touch)
			touch_other();
	}
	return total;
}
"""


def build_c_loops(tmp):
    src = os.path.join(tmp, "loops.c")
    out = os.path.join(tmp, "loops.so")
    with open(src, "w") as f:
        f.write(C_LOOPS)
    libdir = os.path.dirname(os.path.abspath(procmapq.LIBRARY_PATH))
    cc = os.environ.get("CC") or "cc"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-I", os.path.join(REPO, "include"), src, "-o", out,
                    os.path.abspath(procmapq.LIBRARY_PATH), "-Wl,-rpath," + libdir], check=True)
    lib = ctypes.CDLL(out)
    lib.c_ioctl.restype = ctypes.c_uint64
    lib.c_ioctl.argtypes = [ctypes.c_int, ctypes.c_uint64, ctypes.c_int, ctypes.c_int]
    lib.cabi.restype = ctypes.c_uint64
    lib.cabi.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    return lib


def start_target(tmp):
    program = os.environ.get("PROCMAPQ_TARGET")
    if not program:
        program = os.path.join(tmp, "target")
        cc = os.environ.get("CC") or "cc"
        subprocess.run([cc, "-O2", "-std=gnu11", os.path.join(REPO, "tests", "target", "target.c"), "-o", program],
                       check=True)
    proc = subprocess.Popen([program, "-n", "650", "-m", "5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for line in proc.stdout:
        words = line.split()
        if words[:1] == [b"ready"]:
            return proc, int(words[1])
    raise RuntimeError("target ended before 'ready'")


def main(argv):
    rounds = int(argv[1]) if len(argv) > 1 else 60
    with tempfile.TemporaryDirectory(prefix="procmapq-microbench-") as tmp:
        loops = build_c_loops(tmp)
        proc, pid = start_target(tmp)
        try:
            run(loops, pid, rounds)
        finally:
            proc.stdin.close()
            proc.wait()
    return 0


def run(loops, pid, rounds):
    with open(f"/proc/{pid}/maps", "rb") as f:
        ranges = [tuple(int(x, 16) for x in line.split()[0].split(b"-")) for line in f]
    mid = len(ranges) // 2
    addr = ranges[mid][0] + 8
    rng = random.Random(1)
    batch = array.array("Q", sorted(rng.randrange(a, b) for _ in range(600) for a, b in ranges[mid:mid + 5]))
    one = array.array("Q", [addr])
    fd = os.open(f"/proc/{pid}/maps", os.O_RDONLY | os.O_CLOEXEC)
    h = procmapq.open(pid)
    raw = ctypes.cast(h._raw, ctypes.c_void_p).value
    single = procmapq._Single(h._raw)
    single.addr[0] = addr
    bare = single.auto
    fast_query = procmapq._fast_query
    k1, kb = 200, 4

    def py(fn, k):
        t0 = time.perf_counter_ns()
        for _ in range(k):
            fn()
        return (time.perf_counter_ns() - t0) / k

    def views(res):
        return res.vma_index, res.reason, res.file_offset, res.vmas

    rows = [
        ("c-ioctl", lambda: loops.c_ioctl(fd, addr, k1, 0) / k1),
        ("c-ioctl-64k", lambda: loops.c_ioctl(fd, addr, k1, 1) / k1),
        ("cabi-1", lambda: loops.cabi(raw, one.buffer_info()[0], 1, k1, 0, 1) / k1),
        ("cabi-1-null-opts", lambda: loops.cabi(raw, one.buffer_info()[0], 1, k1, 0, 0) / k1),
        ("cabi-1-64k", lambda: loops.cabi(raw, one.buffer_info()[0], 1, k1, 1, 1) / k1),
        ("py-bare", lambda: py(lambda: fast_query(*bare), k1)),
        ("py-lookup-auto", lambda: py(lambda: h.lookup(addr), k1)),
        ("py-lookup-ioctl", lambda: py(lambda: h.lookup(addr, backend=procmapq.BACKEND_IOCTL), k1)),
        ("py-lookup-unmapped", lambda: py(lambda: h.lookup(0x10), k1)),
        ("py-query-1", lambda: py(lambda: h.query(one, sorted=True), k1)),
        ("py-bulk-1", lambda: py(lambda: h.query_bulk(one, sorted=True), k1)),
        ("cabi-3000", lambda: loops.cabi(raw, batch.buffer_info()[0], len(batch), kb, 0, 1) / kb),
        ("py-bulk-3000", lambda: py(lambda: h.query_bulk(batch, sorted=True), kb)),
        ("py-bulk-3000+views", lambda: py(lambda: views(h.query_bulk(batch, sorted=True)), kb)),
        ("py-query-3000", lambda: py(lambda: h.query(batch, sorted=True), 1)),
    ]
    if not procmapq.supports_procmap_query():  # the forced ioctl backend would fail
        rows = [row for row in rows if row[0] != "py-lookup-ioctl"]
    samples = {name: [] for name, _ in rows}
    for _ in range(rounds):
        for name, fn in rows:
            samples[name].append(fn())
    med = {}
    print(f"| row | median | p25 | p75 |\n|---|--:|--:|--:|")
    for name, values in samples.items():
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        med[name] = statistics.median(values)
        print(f"| `{name}` | {med[name]:.0f} ns | {q[0]:.0f} | {q[2]:.0f} |")
    limit = med["c-ioctl"]
    print()
    for name in ("py-bare", "py-lookup-auto", "py-lookup-ioctl", "cabi-1", "cabi-1-null-opts"):
        if name in med and limit > 0:
            print(f"- `{name}`: {med[name] / limit:.2f}x c-ioctl")
    if limit <= 0:
        print("- no ratios to c-ioctl: PROCMAP_QUERY is not available here (old kernel or masked)")
    print(f"- `py-lookup-auto` - `py-bare`: {med['py-lookup-auto'] - med['py-bare']:.0f} ns of Python work")
    for name in ("py-bulk-3000", "py-bulk-3000+views", "py-query-3000"):
        print(f"- `{name}` - `cabi-3000`: {(med[name] - med['cabi-3000']) / len(batch):.1f} ns per address")
    h.close()
    os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
