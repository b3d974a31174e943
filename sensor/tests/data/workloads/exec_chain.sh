#!/bin/sh
# Workload 3: children that exec other binaries, which exec others in turn. With the argument
# `mount`, the last child also calls mount(2), which the recorded run never did.
set -e
sh -c 'echo from a child shell; env sh -c "basename /a/b/c"'
printf '3\n1\n2\n' | sort -n | xargs echo sorted:
find /etc -maxdepth 1 -name hostname -type f | head -n 1 | xargs -r basename
env true
date -d @0 -u +%Y
expr 6 \* 7
python3 -c '
import ctypes, errno, sys
print("python child")
if len(sys.argv) > 1 and sys.argv[1] == "mount":
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.mount(b"none", b"/nonexistent-sensor-test", b"tmpfs", 0, None)
    print("mount:", "allowed" if r == 0 else errno.errorcode[ctypes.get_errno()])
' "${1:-}"
