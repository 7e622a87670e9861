"""An independent parser of /proc/<pid>/maps text (shares no code with
libprocmapq), used by the tests and compare.py as the reference the library
is checked against, and the documented ways the ioctl view differs.

Format (fs/proc/task_mmu.c): START-END PERMS OFFSET MAJ:MIN INODE, then for
named VMAs spaces up to column 72, one more space, and the name verbatim to
the end of the line. Numbers are hex except INODE. The kernel escapes only
'\\n', as "\\012" (a literal backslash is not escaped, so a name holding
"\\012" is ambiguous).
"""

import dataclasses
import os
import re
from typing import List, Optional

PAD_COLUMN = 72  # 25 + 6 * 8 - 1 on 64-bit
KERNEL_PATH_MAX = 4096  # the ioctl cannot return names this long
GATE_AREA_START = 0xFFFFFFFFFF600000  # [vsyscall]: the ioctl never returns it

_HEADER = re.compile(rb"([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([r-][w-][x-][sp]) ([0-9a-f]{1,16}) "
                     rb"([0-9a-f]+):([0-9a-f]+) ([0-9]+)")
_PERM_BITS = {0: 0x1, 1: 0x2, 2: 0x4}  # r, w, x -> PROCMAP_QUERY_VMA_* values
_PERM_SHARED = 0x8
# procmapq.h values, restated here so the parser stays independent.
VMA_DELETED, VMA_NAME_AMBIGUOUS, VMA_NAME_UNAVAILABLE = 0x1, 0x2, 0x4


@dataclasses.dataclass(frozen=True)
class MapsEntry:
    start: int
    end: int
    perms: int  # the kernel's PROCMAP_QUERY_VMA_* bits
    offset: int
    dev_major: int
    dev_minor: int
    inode: int
    name: bytes  # "\012" turned into "\n"
    raw_name: bytes  # exactly as the text has it
    ambiguous: bool  # the raw name held "\012"

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    @property
    def ioctl_visible(self) -> bool:
        return self.start < GATE_AREA_START

    @property
    def deleted(self) -> bool:
        return self.name.endswith(b" (deleted)")

    @property
    def file_backed(self) -> bool:
        """What the kernel's file-backed filter keeps: any absolute path
        (memfd, SysV shm, "/dev/zero (deleted)" too) or "[anon_shmem:...]"."""
        return self.name.startswith(b"/") or (len(self.name) > 12 and self.name.startswith(b"[anon_shmem:"))

    def perms_str(self) -> str:
        return "".join(c if self.perms & b else "-" for c, b in zip("rwx", (1, 2, 4))) + (
            "s" if self.perms & _PERM_SHARED else "p")

    def expected_kind(self) -> int:
        """procmapq.h's KIND_* values, from the name alone."""
        n = self.name
        specials = {b"[heap]": 4, b"[stack]": 5, b"[vdso]": 6, b"[vvar]": 7, b"[vvar_vclock]": 7, b"[vsyscall]": 8}
        if not n:
            return 0
        if n.startswith(b"[") and n.endswith(b"]"):
            if n in specials:
                return specials[n]
            return 3 if n.startswith((b"[anon:", b"[anon_shmem:")) else 9
        return 2 if n.endswith(b" (deleted)") else 1


def parse_line(line: bytes) -> MapsEntry:
    """Parses one line without its newline; ValueError if malformed."""
    m = _HEADER.match(line)
    if not m:
        raise ValueError(f"not a maps line: {line!r}")
    start, end, offset = (int(m.group(i), 16) for i in (1, 2, 4))
    major, minor, inode = int(m.group(5), 16), int(m.group(6), 16), int(m.group(7))
    if start >= end:
        raise ValueError(f"start after end: {line!r}")
    perm_text = m.group(3)
    perms = sum(bit for i, bit in _PERM_BITS.items() if perm_text[i] != ord("-"))
    perms |= _PERM_SHARED if perm_text[3] == ord("s") else 0
    pos = m.end()
    raw = b""
    if not (pos == len(line) or line[pos:] == b" "):
        name_start = max(pos + 1, PAD_COLUMN) + 1
        if name_start >= len(line) or line[pos:name_start].strip(b" "):
            raise ValueError(f"bad name padding: {line!r}")
        raw = line[name_start:]
    return MapsEntry(start, end, perms, offset, major, minor, inode, raw.replace(b"\\012", b"\n"), raw,
                     b"\\012" in raw)


def parse(text: bytes) -> List[MapsEntry]:
    return [parse_line(line) for line in text.split(b"\n") if line]


def read_text(pid: int) -> bytes:
    with open(f"/proc/{pid}/maps", "rb") as f:
        return f.read()


def read(pid: int) -> List[MapsEntry]:
    return parse(read_text(pid))


def find(entries: List[MapsEntry], addr: int) -> Optional[MapsEntry]:
    lo, hi = 0, len(entries)
    while lo < hi:
        mid = (lo + hi) // 2
        if entries[mid].end <= addr:
            lo = mid + 1
        else:
            hi = mid
    return entries[lo] if lo < len(entries) and entries[lo].contains(addr) else None


def page_size() -> int:
    return os.sysconf("SC_PAGESIZE")


def escape_newlines(name: bytes) -> bytes:
    return name.replace(b"\n", b"\\012")


def vma_differences(vma, entry: MapsEntry, from_ioctl: bool, forced_ioctl: Optional[bool] = None) -> List[str]:
    """How a library VMA (procmapq.Vma) differs from the parser's entry,
    beyond the documented differences (page size only from the ioctl,
    names >= PATH_MAX left out by a forced ioctl backend (auto fills them
    from the text), "\\012" ambiguous in the text, no gate VMA from the
    ioctl). forced_ioctl defaults to from_ioctl. Empty if they agree."""
    if forced_ioctl is None:
        forced_ioctl = from_ioctl
    if not forced_ioctl and len(entry.name) >= KERNEL_PATH_MAX:
        from_ioctl_name = False  # auto filled the name from the text
    else:
        from_ioctl_name = from_ioctl
    problems = []
    got = (vma.start, vma.end, vma.perms, vma.offset, vma.dev_major, vma.dev_minor, vma.inode)
    want = (entry.start, entry.end, entry.perms, entry.offset, entry.dev_major, entry.dev_minor, entry.inode)
    if got != want:
        problems.append(f"fields {got} != text {want}")
    if from_ioctl:
        huge = entry.name.startswith(b"/anon_hugepage")
        if (vma.page_size <= page_size()) if huge else (vma.page_size != page_size()):
            problems.append(f"page size {vma.page_size} from the ioctl")
        if not entry.ioctl_visible:
            problems.append("the ioctl returned the gate VMA")
    elif vma.page_size != 0:
        problems.append(f"page size {vma.page_size} from the text")
    want_flags = VMA_DELETED if entry.deleted else 0
    if from_ioctl_name and len(entry.name) >= KERNEL_PATH_MAX:
        want_flags = VMA_NAME_UNAVAILABLE
        if vma.name:
            problems.append(f"a name of {len(vma.name)} bytes from the ioctl")
    elif from_ioctl_name and entry.ambiguous:
        if escape_newlines(vma.name) != entry.raw_name:
            problems.append(f"ioctl name {vma.name!r} does not escape to {entry.raw_name!r}")
    else:
        if not from_ioctl_name and entry.ambiguous:
            want_flags |= VMA_NAME_AMBIGUOUS
        if vma.name != entry.name:
            problems.append(f"name {vma.name!r} != text {entry.name!r}")
    if vma.flags != want_flags:
        problems.append(f"flags {vma.flags:#x}, want {want_flags:#x}")
    if vma.kind != entry.expected_kind() and not vma.flags & VMA_NAME_UNAVAILABLE:
        problems.append(f"kind {vma.kind}, want {entry.expected_kind()}")
    return problems
