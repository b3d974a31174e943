#!/usr/bin/env python3
"""Writes the seed corpus of the record_decoder target: ring buffer records as the eBPF
programs write them (sensor_common::RecordHeader, then the strings), framed as the target
reads them (a little-endian u16 length before each record). Run from fuzz/ after a change to
the record layout; the fuzz crate's test `record_seeds_decode` checks the seeds still decode."""

import os
import struct

C = "corpus/record_decoder"
AT_FDCWD = -100


def header(kind, nr, strings, res=0, args=(0,) * 6, truncated=0, creds_before=(0,) * 8,
           pid=4242, tid=4242, ppid=4200, comm=b"nc", uid=0, cgroup=12345, ts=2_000_000_000,
           changed=0, from_kernel=0, unreadable=0, enter_hash=(0, 0, 0)):
    """A RecordHeader (repr(C), 232 bytes) followed by its strings."""
    lens = [len(s) for s in strings] + [0] * (3 - len(strings))
    h = struct.pack("<BBHI3HH", kind, 0, truncated, nr, *lens, 0)
    h += struct.pack("<BBBB3I", changed, from_kernel, unreadable, 0, *enter_hash)
    h += struct.pack("<QQq", ts - 1000, ts, res)
    h += struct.pack("<6Q", *[a & (2**64 - 1) for a in (list(args) + [0] * 6)[:6]])
    h += struct.pack("<8I", *creds_before)
    # TaskInfo: pid, tid, ppid, vpid, loginuid, mnt_ns, pid_ns, sid, cgroup_id, creds, comm, tty
    h += struct.pack("<8I", pid, tid, ppid, 7, 1000, 4026531841, 4026531836, ppid)
    h += struct.pack("<Q", cgroup)
    h += struct.pack("<8I", *([uid] * 8))
    h += comm.ljust(16, b"\0")[:16]
    h += struct.pack("<II", 34816, 0)
    assert len(h) == 232, len(h)
    return h + b"".join(strings)


def put(name, records):
    os.makedirs(C, exist_ok=True)
    with open(os.path.join(C, name), "wb") as f:
        f.write(b"".join(struct.pack("<H", len(r)) + r for r in records))


# Kinds: 1 syscall, 2 exec arguments, 3 exec image, 4 fork, 5 exit. x86_64 syscall numbers.
put("execve", [header(2, 59, [b"/usr/bin/nc", b"nc\0-l\x004444\0"], comm=b"bash"),
               header(3, 0, [b"/usr/bin/nc.openbsd"], args=(4242,)),
               header(1, 59, [b"/usr/bin/nc"], res=0)])
put("execve-truncated", [header(2, 59, [b"/bin/sh", b"sh\0-c\0" + b"A" * 200],
                                truncated=0b10 | (1 << 8)),
                         header(1, 59, [b"/bin/sh"], res=-2)])
put("execveat-memfd", [header(2, 322, [b"", b"x\0"], args=(3, 0, 0, 0, 0x1000)),
                       header(3, 0, [b"/dev/fd/3"], args=(4242,)),
                       header(1, 322, [b""], args=(3, 0, 0, 0, 0x1000))])
put("fchmodat", [header(1, 268, [b"/tmp/x"], args=(AT_FDCWD, 0, 0o4755))])
put("fchmod", [header(1, 91, [], args=(3, 0o777), res=-1)])
put("chmod-bytes", [header(1, 90, [b"/tmp/\xff\xfe\n\x1b[31m\"x"], args=(0, 0o644),
                           comm=b"\xe2\x82\xac)( \n")])
put("setuid", [header(1, 105, [], args=(0,), creds_before=(1000,) * 8)])
put("setresgid", [header(1, 119, [], args=(0, 2**64 - 1, 0), creds_before=(1000,) * 8, res=-1)])
put("capset", [header(1, 126, [struct.pack("<6I", 0x200000, 0x200000, 0, 1, 1, 0)])])
put("mount", [header(1, 165, [b"tmpfs", b"/mnt/x", b"tmpfs"], args=(0, 0, 0, 0x1000),
                     from_kernel=0b101, enter_hash=(0x1234567, 0x89abcdf, 0))])
put("fchmodat-rewritten", [header(1, 268, [b"/tmp/y"], args=(AT_FDCWD, 0, 0o4755),
                                  enter_hash=(0x2468ace1, 0, 0), unreadable=0b10)])
put("umount2", [header(1, 166, [b"/mnt/x"], args=(0, 2))])
put("fork-exit", [header(4, 0, [], args=(4243,)),
                  header(5, 0, [], args=(256,), pid=4243, tid=4243, ppid=4242)])
