#!/usr/bin/env python3
"""Cost account of a call through libprocmapq: reads `perf script` output
(samples with call chains, from `perf record --call-graph dwarf`) on stdin
and splits the samples of the measured thread into where the time went.

Each sample is charged to the first owner found walking its chain from the
leaf up (see OWNERS); the shares are printed, and, given --ns (the call's
measured cost), nanoseconds per call. Standard library only.
"""
import argparse
import re
import sys

# (category, test on a frame's symbol), nearest frame first wins.
KERNEL = "kernel: PROCMAP_QUERY (the ioctl itself, trap included)"
KOTHER = "kernel: anything else (page faults, scheduler, other syscalls)"
WRAP = "Go: system-call wrapper (entersyscall/exitsyscall, RawSyscall)"
CORE = "Go: core (plan, answer loops, VMA table)"
GLUE = "Go: capi glue (argument checks, registry, locks, write-back)"
CGO = "cgo crossing (cgocallback, exitsyscall/entersyscall, context)"
SHIM = "C shim (procmapq_query: errno, message, fork check)"
CALLER = "caller (the C benchmark loop)"
RUNTIME = "Go runtime on the calling thread (scheduler, GC assists)"
ORDER = [KERNEL, KOTHER, WRAP, CORE, GLUE, CGO, SHIM, CALLER, RUNTIME]

TRAP = re.compile(r"^(internal/runtime/syscall/linux\.Syscall6|__GI___ioctl|ioctl)$")
WRAPPER = re.compile(r"^(syscall\.(Raw)?Syscall6?(\.abi0)?|runtime\.(entersyscall|exitsyscall|reentersyscall|exitsyscallfast)\w*|golang\.org/x/sys/unix\.(Syscall|RawSyscall)\w*)$")
IOCTL_FRAME = re.compile(r"(procmapQueryCall|doQuery|__x64_sys_ioctl|__GI___ioctl)")


def owner(frames):
    """frames: list of (sym, dso), leaf first."""
    leaf, dso = frames[0]
    syms = [f[0] for f in frames]
    in_kernel = "kernel" in dso
    via_ioctl = any(IOCTL_FRAME.search(s) for s in syms)
    if in_kernel or TRAP.match(leaf):
        return KERNEL if via_ioctl else KOTHER
    for s in syms:
        if WRAPPER.match(s) and via_ioctl:
            return WRAP
        if s.startswith("github.com/libprocmapq/libprocmapq/core"):
            return CORE
        if s.startswith("main.") or s.startswith("_cgoexp_"):
            return GLUE
        if s.startswith("runtime.cgocallback") or s.startswith("_cgo_") or s in ("crosscall2", "runtime.asmcgocall.abi0") or s.startswith("pmqGo"):
            return CGO
        if s.startswith("procmapq_") or s == "enter":
            return SHIM
        if s == "main" or s == "__libc_start_call_main":
            return CALLER
    return RUNTIME


def samples(f):
    """Yields (tid, frames) per sample of `perf script -F comm,tid,ip,sym,dso`."""
    frames, tid = [], None
    for line in f:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if not line.startswith("\t") and not line.startswith(" "):
            if frames:
                yield tid, frames
            fields = line.split()
            tid, frames = fields[-1] if fields else None, []
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            frames.append((re.sub(r"\+0x[0-9a-f]+$", "", m.group(1)), m.group(2)))
    if frames:
        yield tid, frames


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ns", type=float, help="measured cost of one call, for ns per call")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    # Only the calling thread's samples: the measured cost is its CPU
    # time, and the runtime's own threads (sysmon, GC workers) run on
    # other cores.
    per_tid = {}
    for tid, fr in samples(sys.stdin):
        per_tid.setdefault(tid, []).append(fr)
    if not per_tid:
        sys.exit("no samples")
    caller = max(per_tid, key=lambda t: len(per_tid[t]))
    count = {k: 0 for k in ORDER}
    total = 0
    for fr in per_tid[caller]:
        count[owner(fr)] += 1
        total += 1
    print(f"| {a.title or 'where'} | share |" + (" ns per call |" if a.ns else ""))
    print("|---|--:|" + ("--:|" if a.ns else ""))
    for k in ORDER:
        share = count[k] / total
        row = f"| {k} | {100 * share:.1f}% |"
        if a.ns:
            row += f" {share * a.ns:.0f} |"
        print(row)
    print(f"| total ({total} samples) | 100% |" + (f" {a.ns:.0f} |" if a.ns else ""))


if __name__ == "__main__":
    main()
