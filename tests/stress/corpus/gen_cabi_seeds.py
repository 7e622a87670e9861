#!/usr/bin/env python3
"""Writes the seed inputs of the C-ABI fuzzers (layout: tests/stress/c/fuzz_cabi.c)."""
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cabi")

TEXT = (b"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon\n"
        b"00651000-00652000 r--p 00051000 08:02 173521      /usr/bin/dbus-daemon\n"
        b"00e03000-00e24000 rw-p 00000000 00:00 0           [heap]\n"
        b"7f0000000000-7f0000002000 rw-s 00001000 00:05 42  /memfd:x (deleted)\n"
        b"7f0000003000-7f0000004000 ---p 00000000 00:00 0 \n"
        b"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
        b"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n")


def seed(name, ops, opts, vcap, ncap, text, addrs):
    data = struct.pack("<BB", ops, len(opts)) + opts + struct.pack("<HIH", vcap, ncap, len(text)) + text
    data += b"".join(struct.pack("<Q", a) for a in addrs)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def opts(size, backend=0, flags=0, perms=0, reserved=0, tail=b""):
    return struct.pack("<QIIII", size, backend, flags, perms, reserved) + tail


addrs = [0x400000, 0x451fff, 0x452000, 0xe03010, 0x7f0000001000, 0x7f0000003000, 0, 2**64 - 1, 0xffffffffff600000]
os.makedirs(HERE, exist_ok=True)
seed("query-default", 1, b"", 64, 4096, TEXT, addrs)
seed("query-enum-text", 7, opts(24, backend=2), 64, 4096, TEXT, addrs)
seed("query-filter-x", 5, opts(24, perms=4, flags=1), 64, 4096, TEXT, addrs)
seed("query-file-backed", 3, opts(24, flags=4), 64, 4096, TEXT, addrs)
seed("erange-vmas", 3, b"", 1, 4096, TEXT, addrs)
seed("erange-names", 3, b"", 64, 3, TEXT, addrs)
seed("opts-size-8", 3, opts(8)[:8], 64, 4096, TEXT, addrs)
seed("opts-size-short", 3, opts(7)[:7], 64, 4096, TEXT, addrs)
seed("opts-size-overclaimed", 3, opts(4096), 64, 4096, TEXT, addrs)
seed("opts-tail-nonzero", 3, opts(32, tail=b"\0\0\0\0\0\0\0\1"), 64, 4096, TEXT, addrs)
seed("opts-tail-zero", 3, opts(32, tail=b"\0" * 8), 64, 4096, TEXT, addrs)
seed("opts-unknown-flag", 3, opts(24, flags=8), 64, 4096, TEXT, addrs)
seed("opts-bad-backend", 3, opts(24, backend=9), 64, 4096, TEXT, addrs)
seed("opts-reserved", 3, opts(24, reserved=1), 64, 4096, TEXT, addrs)
seed("ioctl-on-text", 3, opts(24, backend=1, flags=2), 64, 4096, TEXT, addrs)
seed("double-close", 9, b"", 64, 4096, TEXT, addrs)
seed("empty-text", 3, b"", 0, 0, b"", addrs)
seed("malformed-text", 1, b"", 64, 4096, b"0040-0030 r-xp 0 0:0 0\n", addrs)
seed("escaped-name", 3, b"", 64, 4096, b"1000-2000 r--p 00000000 08:01 7 /tmp/a\\012b\n", [0x1800])
