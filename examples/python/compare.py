#!/usr/bin/env python3
"""compare.py PID - the library's view and the text view of a process's
memory map, side by side, and how they differ.

    python3 compare.py PID [--backend auto|ioctl|text] [--differences-only]

The library's view is procmapq_enumerate (by default the ioctl backend when
the kernel has PROCMAP_QUERY, else the text backend); the text view is this
script's own parse of /proc/PID/maps (maps_text.py). The text is read
before and after the library's walk, again until both reads agree, so a
changing process does not show false differences. Each difference is
marked expected (documented kernel behaviour: the ioctl never shows
[vsyscall], cannot return names of PATH_MAX bytes or more, returns a name
holding the bytes "\\012" raw while the text reads it as a newline; page
sizes only come from the ioctl) or MISMATCH. On kernels with
PROCMAP_QUERY the library's own classification (procmapq_compare) is
printed too. Exit status: 0 no unexpected difference, 1 some, 2 error.
"""

import argparse
import sys

import maps_text
import procmapq

BACKENDS = {"auto": procmapq.BACKEND_AUTO, "ioctl": procmapq.BACKEND_IOCTL, "text": procmapq.BACKEND_TEXT}
STRATEGIES = {
    procmapq.STRATEGY_NONE: "none",
    procmapq.STRATEGY_POINT_IOCTL: "point ioctls",
    procmapq.STRATEGY_IOCTL_WALK: "ioctl walk",
    procmapq.STRATEGY_TEXT: "text",
    procmapq.STRATEGY_IOCTL_THEN_TEXT: "ioctls then text",
}
ATTEMPTS = 5


def show_name(name: bytes) -> str:
    text = name.decode("utf-8", "backslashreplace").replace("\n", "\\n")
    return text if len(text) <= 100 else f"{text[:60]}...{text[-30:]} ({len(name)} bytes)"


def row(start, end, perms, offset, major, minor, inode, page, name) -> str:
    return f"{start:012x}-{end:012x} {perms} {offset:08x} {major:02x}:{minor:02x} {inode:<10} {page:>7} {show_name(name)}"


def snapshot(handle, pid, backend):
    """The library's table and the parsed text, from a moment the text held
    still around the library's walk."""
    for _ in range(ATTEMPTS):
        before = maps_text.read_text(pid)
        table = handle.enumerate(backend=backend)
        after = maps_text.read_text(pid)
        if before == after:
            return table, maps_text.parse(after), True
    return table, maps_text.parse(after), False


def differences(table, entries, backend):
    """(expected, description) for every difference between the views."""
    found = []
    by_start = {v.start: v for v in table}
    text_starts = {e.start for e in entries}
    for e in entries:
        v = by_start.get(e.start)
        where = f"{e.start:x}-{e.end:x} {show_name(e.name)}"
        if v is None:
            if not e.ioctl_visible and backend != procmapq.BACKEND_TEXT:
                found.append((True, f"gate VMA {where}: only the text shows [vsyscall]"))
            else:
                found.append((False, f"only in the text: {where}"))
            continue
        from_ioctl = backend == procmapq.BACKEND_IOCTL or v.page_size != 0
        problems = maps_text.vma_differences(v, e, from_ioctl)
        if problems:
            found.append((False, f"{where}: " + "; ".join(problems)))
        elif from_ioctl and len(e.name) >= maps_text.KERNEL_PATH_MAX:
            found.append((True, f"{e.start:x}-{e.end:x}: a name of {len(e.name)} bytes (>= PATH_MAX) only in the text"))
        elif from_ioctl and e.ambiguous and v.name != e.name:
            found.append((True, f"{e.start:x}-{e.end:x}: the file is named \"{show_name(v.name)}\"; "
                                f"the text's \\012 reads as a newline"))
    for v in table:
        if v.start not in text_starts:
            found.append((False, f"only in the library: {v.start:x}-{v.end:x} {show_name(v.name)}"))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--backend", choices=BACKENDS, help="library backend (default: ioctl if available, else text)")
    parser.add_argument("--differences-only", action="store_true", help="do not print the two views")
    args = parser.parse_args(argv)
    have_ioctl = procmapq.supports_procmap_query()
    backend = BACKENDS[args.backend] if args.backend else (procmapq.BACKEND_IOCTL if have_ioctl else procmapq.BACKEND_TEXT)
    try:
        with procmapq.open(args.pid) as h:
            table, entries, settled = snapshot(h, args.pid, backend)
            report = h.compare() if have_ioctl else None
    except OSError as err:
        print(f"compare.py: {err.strerror}", file=sys.stderr)
        return 2
    backend_name = next(n for n, b in BACKENDS.items() if b == backend)
    if not args.differences_only:
        print(f"== library: backend {backend_name}, {STRATEGIES.get(table.strategy, table.strategy)}, "
              f"{len(table)} VMAs, {table.syscalls} syscalls (page size: 0 = unknown)")
        for v in table:
            print(row(v.start, v.end, v.perms_str, v.offset, v.dev_major, v.dev_minor, v.inode, v.page_size, v.name))
        print(f"\n== text: /proc/{args.pid}/maps, {len(entries)} VMAs")
        for e in entries:
            print(row(e.start, e.end, e.perms_str(), e.offset, e.dev_major, e.dev_minor, e.inode, "-", e.raw_name))
        print()
    if not settled:
        print(f"warning: the maps changed during each of {ATTEMPTS} attempts; differences may be churn")
    found = differences(table, entries, backend)
    print("== differences")
    for expected, text in found:
        print(f"  {'expected' if expected else 'MISMATCH'}  {text}")
    page_only = sum(1 for v in table if v.page_size) if backend != procmapq.BACKEND_TEXT else 0
    if page_only:
        print(f"  expected  page size known only through the ioctl for {page_only} VMAs")
    if report is not None:
        print(f"== procmapq_compare: {report.matched} matched, {report.expected_count} expected, "
              f"{report.mismatch_count} mismatches ({report.attempts} attempts)")
        for d in report.diffs:
            print(f"  {'expected' if d.expected else 'MISMATCH'}  kind {d.kind}: {d.detail}")
    unexpected = sum(1 for expected, _ in found if not expected) + (report.mismatch_count if report else 0)
    print(f"summary: {sum(1 for e, _ in found if e)} expected, {unexpected} unexpected differences")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
