#!/bin/busybox sh
# The guest's /init for `cargo xtask vm-test`: runs the sensor's kernel-level checks on the
# booted kernel and prints one `VMCHECK <name> pass|fail <detail>` line each on the serial
# console, then `VMTEST-END`, and powers off. The host reads the console.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /tmp /run /dev /mnt /root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp
export PATH=/bin
echo "VMTEST-BEGIN $(uname -r) $(uname -m)"

check() { # name, status (0 = pass), detail
    if [ "$2" = 0 ]; then echo "VMCHECK $1 pass $3"; else echo "VMCHECK $1 fail $3"; fi
}

# Waits (TCG is slow: the verifier alone takes seconds) for the sensor whose stderr is $1 to
# attach; returns non-zero if it failed instead.
attached() {
    for i in $(seq 1 600); do
        grep -q "eBPF programs attached" "$1" && return 0
        grep -q "sensor: error" "$1" && return 1
        sleep 1
    done
    return 1
}

# 1. Load and attach, and every traced family with its arguments.
/sensor events --json --families all >/tmp/events.json 2>/tmp/events.err &
SENSOR=$!
if attached /tmp/events.err; then
    check attach 0 "$(grep -o 'programs=[0-9]* syscalls=[0-9]* load_ms=[0-9]*' /tmp/events.err)"
else
    check attach 1 "$(grep -a "sensor: error" /tmp/events.err | head -3 | cut -c1-600)"
    # The whole error (a verifier log's last lines say why) stays on the console.
    tail -c 6000 /tmp/events.err
    echo VMTEST-END
    poweroff -f
fi
grep -o "missing=.*" /tmp/events.err | sed "s/^/VMINFO helpers /"
grep -o "RLIMIT_MEMLOCK lifted" /tmp/events.err | sed "s/^/VMINFO /"
grep -o "recordings will use [a-z_ ]*" /tmp/events.err | sed 's/^/VMINFO recorder /'
mkdir -p /tmp/w
touch /tmp/w/f
chmod 4755 /tmp/w/f
mount -t tmpfs vmtest-src /mnt
umount /mnt
/bin/true vmtest-arg
cat /etc/passwd >/dev/null
su nobody -s /bin/true -c true
# The other families: links, renames, removals and directories; a namespace; a module; a
# socket; a duplicated descriptor.
mkdir /tmp/w/vmtest-dir && rmdir /tmp/w/vmtest-dir
ln -s /tmp/w/f /tmp/w/vmtest-symlink
ln /tmp/w/f /tmp/w/vmtest-hardlink
mv /tmp/w/vmtest-hardlink /tmp/w/vmtest-renamed
rm /tmp/w/vmtest-renamed /tmp/w/vmtest-symlink
unshare -m true
insmod /tmp/w/f 2>/dev/null
ip link set lo up
nc -w 1 127.0.0.1 9 </dev/null 2>/dev/null
sh -c 'exec 3>&1'
sleep 2
kill -TERM $SENSOR
wait $SENSOR
SUMMARY=$(grep -a "sensor summary" /tmp/events.err | cut -c1-400)
has() { grep -Eq "$1" /tmp/events.json && grep -E "$1" /tmp/events.json | grep -q "$2"; }
# arm64 has no chmod syscall: busybox's chmod is an fchmodat there.
has '"evt.type":"(chmod|fchmodat)"' '"evt.arg.filename":"/tmp/w/f"'; check chmod $? "path and mode 04755"
has '"evt.type":"(chmod|fchmodat)"' '"evt.rawarg.mode":2541'; check chmod-mode $? "mode from the call"
has '"evt.type":"mount"' '"evt.arg.dev":"vmtest-src"'; check mount $? "source vmtest-src"
has '"evt.type":"execve"' '"proc.args":"vmtest-arg"'; check exec $? "argv from the kernel"
has '"evt.type":"openat"' '"fd.name":"/etc/passwd"'; check open $? "fd.name walked from the fd table"
has '"evt.type":"set[a-z]*uid"' '"evt.res":"SUCCESS"'; check setid $? "su's set*id calls"
has '"evt.type":"(mkdir|mkdirat)"' 'vmtest-dir' &&
    has '"evt.type":"(symlink|symlinkat)"' 'vmtest-symlink' &&
    has '"evt.type":"(link|linkat)"' 'vmtest-hardlink' &&
    has '"evt.type":"(rename|renameat|renameat2)"' 'vmtest-renamed' &&
    has '"evt.type":"(unlink|unlinkat)"' 'vmtest-symlink'
check file $? "mkdir, symlink, link, rename, unlink with their paths"
has '"evt.type":"unshare"' '"proc.name":"unshare"'; check process $? "unshare"
has '"evt.type":"(init_module|finit_module)"' '"proc.name":"insmod"'; check module $? "insmod of a non-module"
has '"evt.type":"connect"' '127.0.0.1'; check net $? "connect to 127.0.0.1"
has '"evt.type":"dup(2|3)?"' '"proc.name":"sh"'; check fd $? "a shell's exec 3>&1"
echo "$SUMMARY" | grep -q "lost 0 "; check loss $? "$SUMMARY"

# 2. A default rule fires.
/sensor run --json --no-grpc-socket --no-health >/tmp/alerts.json 2>/tmp/alerts.err &
SENSOR=$!
if attached /tmp/alerts.err; then
    chmod 4711 /tmp/w/f
    sleep 2
fi
kill -TERM $SENSOR
wait $SENSOR
grep -q '"rule":"Setuid or Setgid Bit Set on a File"' /tmp/alerts.json
check rule $? "Setuid or Setgid Bit Set on a File"

# 3. A recording and its profile, verified.
cd /tmp
/sensor record --out /tmp/prof --format oci -- /bin/ls /tmp >/dev/null 2>/tmp/record.err
PROFILE=$(ls /tmp/prof/*.seccomp.json 2>/dev/null | head -1)
[ -n "$PROFILE" ]; check record $? "$(grep -a 'syscalls seen' /tmp/record.err | cut -c1-200)"
/sensor profile verify "$PROFILE" -- /bin/ls /tmp >/dev/null 2>/tmp/verify.err
check profile-verify $? "$(tail -1 /tmp/verify.err | cut -c1-200)"

echo VMTEST-END
poweroff -f
