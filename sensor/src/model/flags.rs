//! Human names for numeric arguments, as Falco renders them: mode bits, flag words, errno
//! values and capability sets.

use super::syscalls::{EnumSet, FlagSet};

/// Renders file mode bits exactly as Falco does: every set bit by name, in the order of
/// libsinsp's `chmod_mode` table (`S_IXOTH|S_IROTH|...|S_IRUSR|S_ISUID`), so Falco's own rules
/// (`evt.arg.mode contains "S_IXUSR"`) match. The rules engine owns the table.
pub fn mode(mode: u64) -> String {
    let text = sensor_rules::falco_format::chmod_mode_flags((mode & 0o7777) as u32);
    if text.is_empty() {
        // No bit set: say so rather than print nothing.
        "0".to_string()
    } else {
        text
    }
}

fn bits(value: u64, names: &[(u64, &str)]) -> String {
    let mut parts = Vec::new();
    let mut rest = value;
    for (bit, name) in names {
        // Against what is left, as libsinsp does, so that a name whose bits include
        // another's (O_SYNC holds O_DSYNC) takes them first.
        if *bit != 0 && rest & bit == *bit {
            parts.push((*name).to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

const MS: &[(u64, &str)] = &[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (256, "MS_NOSYMFOLLOW"),
    (1024, "MS_NOATIME"),
    (2048, "MS_NODIRATIME"),
    (4096, "MS_BIND"),
    (8192, "MS_MOVE"),
    (16384, "MS_REC"),
    (32768, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
];
const UMOUNT: &[(u64, &str)] = &[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
];
const AT: &[(u64, &str)] = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
];
const FSOPEN: &[(u64, &str)] = &[(1, "FSOPEN_CLOEXEC")];
const FSMOUNT: &[(u64, &str)] = &[(1, "FSMOUNT_CLOEXEC")];
const MOUNT_ATTR: &[(u64, &str)] = &[
    (0x1, "MOUNT_ATTR_RDONLY"),
    (0x2, "MOUNT_ATTR_NOSUID"),
    (0x4, "MOUNT_ATTR_NODEV"),
    (0x8, "MOUNT_ATTR_NOEXEC"),
    (0x10, "MOUNT_ATTR_NOATIME"),
    (0x20, "MOUNT_ATTR_STRICTATIME"),
    (0x80, "MOUNT_ATTR_NODIRATIME"),
    (0x100000, "MOUNT_ATTR_IDMAP"),
    (0x200000, "MOUNT_ATTR_NOSYMFOLLOW"),
];
const MOVE_MOUNT: &[(u64, &str)] = &[
    (0x1, "MOVE_MOUNT_F_SYMLINKS"),
    (0x2, "MOVE_MOUNT_F_AUTOMOUNTS"),
    (0x4, "MOVE_MOUNT_F_EMPTY_PATH"),
    (0x10, "MOVE_MOUNT_T_SYMLINKS"),
    (0x20, "MOVE_MOUNT_T_AUTOMOUNTS"),
    (0x40, "MOVE_MOUNT_T_EMPTY_PATH"),
    (0x100, "MOVE_MOUNT_SET_GROUP"),
    (0x200, "MOVE_MOUNT_BENEATH"),
];
const OPEN_TREE: &[(u64, &str)] = &[
    (0x1, "OPEN_TREE_CLONE"),
    (0x80000, "OPEN_TREE_CLOEXEC"),
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
];
const FSCONFIG_CMD: &[&str] = &[
    "FSCONFIG_SET_FLAG",
    "FSCONFIG_SET_STRING",
    "FSCONFIG_SET_BINARY",
    "FSCONFIG_SET_PATH",
    "FSCONFIG_SET_PATH_EMPTY",
    "FSCONFIG_SET_FD",
    "FSCONFIG_CMD_CREATE",
    "FSCONFIG_CMD_RECONFIGURE",
    "FSCONFIG_CMD_CREATE_EXCL",
];

const UNLINKAT: &[(u64, &str)] = &[(0x200, "AT_REMOVEDIR")];
const LINKAT: &[(u64, &str)] = &[(0x400, "AT_SYMLINK_FOLLOW"), (0x1000, "AT_EMPTY_PATH")];
const RENAMEAT2: &[(u64, &str)] = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];
/// Falco's `clone_flags` order, with Linux's values (`include/uapi/linux/sched.h`).
const CLONE: &[(u64, &str)] = &[
    (0x400, "CLONE_FILES"),
    (0x200, "CLONE_FS"),
    (0x8000_0000, "CLONE_IO"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x8000, "CLONE_PARENT"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x2000, "CLONE_PTRACE"),
    (0x800, "CLONE_SIGHAND"),
    (0x0004_0000, "CLONE_SYSVSEM"),
    (0x0001_0000, "CLONE_THREAD"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x100, "CLONE_VM"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0008_0000, "CLONE_SETTLS"),
    (0x4000, "CLONE_VFORK"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
];
const MEMFD_CREATE: &[(u64, &str)] = &[
    (1, "MFD_CLOEXEC"),
    (2, "MFD_ALLOW_SEALING"),
    (4, "MFD_HUGETLB"),
];
const FINIT_MODULE: &[(u64, &str)] = &[
    (1, "MODULE_INIT_IGNORE_MODVERSIONS"),
    (2, "MODULE_INIT_IGNORE_VERMAGIC"),
    (4, "MODULE_INIT_COMPRESSED_FILE"),
];
/// Falco's `file_flags` order, with x86_64's and arm64's (generic) values. dup3 and
/// userfaultfd take only O_CLOEXEC and O_NONBLOCK; the access bits never appear there.
const FILE: &[(u64, &str)] = &[
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o40000, "O_DIRECT"),
    (0o1000, "O_TRUNC"),
    (0o4010000, "O_SYNC"),
    (0o4000, "O_NONBLOCK"),
    (0o200, "O_EXCL"),
    (0o10000, "O_DSYNC"),
    (0o2000, "O_APPEND"),
    (0o100, "O_CREAT"),
    (0o2, "O_RDWR"),
    (0o1, "O_WRONLY"),
    (0o2000000, "O_CLOEXEC"),
];

/// An open's flags other than the access mode, in Falco's `file_flags` order (x86_64's and
/// arm64's values; `O_SYNC` is `__O_SYNC` alone, as the driver converts it, so that a sync
/// open shows `O_DSYNC` too), then the bits Falco's driver drops, named rather than lost.
const OPEN_BEFORE_ACCESS: &[(u64, &str)] = &[
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o40000, "O_DIRECT"),
    (0o1000, "O_TRUNC"),
    (0o4000000, "O_SYNC"),
    (0o4000, "O_NONBLOCK"),
    (0o200, "O_EXCL"),
    (0o10000, "O_DSYNC"),
    (0o2000, "O_APPEND"),
    (0o100, "O_CREAT"),
];
const OPEN_AFTER_ACCESS: &[(u64, &str)] = &[
    (0o2000000, "O_CLOEXEC"),
    // `__O_TMPFILE`: O_TMPFILE is it with O_DIRECTORY, named above.
    (0o20000000, "O_TMPFILE"),
    (O_F_CREATED, "O_F_CREATED"),
    (0o10000000, "O_PATH"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o400, "O_NOCTTY"),
];
/// Not an `O_*` bit: set by the agent on an open's flags when the kernel reports the open
/// created the file (`FMODE_CREATED`), which Falco shows as `O_F_CREATED`.
pub const O_F_CREATED: u64 = 1 << 32;

/// An open's flags as Falco renders them: `O_RDONLY|O_CLOEXEC`.
fn open_flags(value: u64) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = value & !0o3;
    let named = |rest: &mut u64, table: &[(u64, &str)], parts: &mut Vec<String>| {
        for (bit, name) in table {
            if *rest & bit == *bit {
                parts.push((*name).to_string());
                *rest &= !bit;
            }
        }
    };
    named(&mut rest, OPEN_BEFORE_ACCESS, &mut parts);
    match value & 0o3 {
        0 => parts.push("O_RDONLY".to_string()),
        1 => parts.push("O_WRONLY".to_string()),
        2 => parts.push("O_RDWR".to_string()),
        _ => {}
    }
    named(&mut rest, OPEN_AFTER_ACCESS, &mut parts);
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "O_NONE".to_string()
    } else {
        parts.join("|")
    }
}

/// openat2's `RESOLVE_*`, in Falco's `openat2_flags` order.
const OPENAT2_RESOLVE: &[(u64, &str)] = &[
    (0x08, "RESOLVE_BENEATH"),
    (0x10, "RESOLVE_IN_ROOT"),
    (0x02, "RESOLVE_NO_MAGICLINKS"),
    (0x04, "RESOLVE_NO_SYMLINKS"),
    (0x01, "RESOLVE_NO_XDEV"),
    (0x20, "RESOLVE_CACHED"),
];

/// An octal number as Falco's `PF_OCT` shows it: a leading 0 (`0644`, and `00` for none).
pub fn octal(value: u64) -> String {
    format!("0{value:o}")
}

/// ptrace requests (`include/uapi/linux/ptrace.h`, x86's `asm/ptrace-abi.h`).
const PTRACE_REQUEST: &[(u64, &str)] = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (18, "PTRACE_GETFPXREGS"),
    (19, "PTRACE_SETFPXREGS"),
    (21, "PTRACE_OLDSETOPTIONS"),
    (24, "PTRACE_SYSCALL"),
    (25, "PTRACE_GET_THREAD_AREA"),
    (26, "PTRACE_SET_THREAD_AREA"),
    (30, "PTRACE_ARCH_PRCTL"),
    (31, "PTRACE_SYSEMU"),
    (32, "PTRACE_SYSEMU_SINGLESTEP"),
    (33, "PTRACE_SINGLEBLOCK"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
    (0x4209, "PTRACE_PEEKSIGINFO"),
    (0x420a, "PTRACE_GETSIGMASK"),
    (0x420b, "PTRACE_SETSIGMASK"),
];
/// Address families (`include/linux/socket.h`).
const SOCKET_FAMILY: &[(u64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (6, "AF_NETROM"),
    (7, "AF_BRIDGE"),
    (8, "AF_ATMPVC"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (11, "AF_ROSE"),
    (12, "AF_DECnet"),
    (13, "AF_NETBEUI"),
    (14, "AF_SECURITY"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (18, "AF_ASH"),
    (19, "AF_ECONET"),
    (20, "AF_ATMSVC"),
    (21, "AF_RDS"),
    (22, "AF_SNA"),
    (23, "AF_IRDA"),
    (24, "AF_PPPOX"),
    (25, "AF_WANPIPE"),
    (26, "AF_LLC"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (32, "AF_IUCV"),
    (33, "AF_RXRPC"),
    (34, "AF_ISDN"),
    (35, "AF_PHONET"),
    (36, "AF_IEEE802154"),
    (37, "AF_CAIF"),
    (38, "AF_ALG"),
    (39, "AF_NFC"),
];
/// bpf(2) commands (`include/uapi/linux/bpf.h`), in their numbering.
const BPF_COMMAND: &[&str] = &[
    "BPF_MAP_CREATE",
    "BPF_MAP_LOOKUP_ELEM",
    "BPF_MAP_UPDATE_ELEM",
    "BPF_MAP_DELETE_ELEM",
    "BPF_MAP_GET_NEXT_KEY",
    "BPF_PROG_LOAD",
    "BPF_OBJ_PIN",
    "BPF_OBJ_GET",
    "BPF_PROG_ATTACH",
    "BPF_PROG_DETACH",
    "BPF_PROG_TEST_RUN",
    "BPF_PROG_GET_NEXT_ID",
    "BPF_MAP_GET_NEXT_ID",
    "BPF_PROG_GET_FD_BY_ID",
    "BPF_MAP_GET_FD_BY_ID",
    "BPF_OBJ_GET_INFO_BY_FD",
    "BPF_PROG_QUERY",
    "BPF_RAW_TRACEPOINT_OPEN",
    "BPF_BTF_LOAD",
    "BPF_BTF_GET_FD_BY_ID",
    "BPF_TASK_FD_QUERY",
    "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
    "BPF_MAP_FREEZE",
    "BPF_BTF_GET_NEXT_ID",
    "BPF_MAP_LOOKUP_BATCH",
    "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
    "BPF_MAP_UPDATE_BATCH",
    "BPF_MAP_DELETE_BATCH",
    "BPF_LINK_CREATE",
    "BPF_LINK_UPDATE",
    "BPF_LINK_GET_FD_BY_ID",
    "BPF_LINK_GET_NEXT_ID",
    "BPF_ENABLE_STATS",
    "BPF_ITER_CREATE",
    "BPF_LINK_DETACH",
    "BPF_PROG_BIND_MAP",
];

/// The name of `value` in an enumerated set, as Falco shows `PT_ENUMFLAGS` arguments; the
/// number itself where the set has no name for it.
pub fn enum_name(set: EnumSet, value: u64) -> String {
    let named = match set {
        EnumSet::PtraceRequest => PTRACE_REQUEST
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, n)| *n),
        EnumSet::SocketFamily => SOCKET_FAMILY
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, n)| *n),
        EnumSet::BpfCommand => usize::try_from(value)
            .ok()
            .and_then(|i| BPF_COMMAND.get(i))
            .copied(),
    };
    named.map_or_else(|| value.to_string(), str::to_string)
}

/// A number as Falco's `PF_HEX` shows it: upper-case hex, no prefix.
pub fn hex(value: u64) -> String {
    format!("{value:X}")
}

/// The top 16 bits of mount(2) flags may hold the historical MS_MGC_VAL magic; it means nothing.
const MS_MGC_MASK: u64 = 0xffff_0000;
const MS_MGC_VAL: u64 = 0xc0ed_0000;

pub fn flags(set: FlagSet, value: u64) -> String {
    match set {
        FlagSet::Mount => {
            let value = if value & MS_MGC_MASK == MS_MGC_VAL {
                value & !MS_MGC_MASK
            } else {
                value
            };
            bits(value, MS)
        }
        FlagSet::Umount => bits(value, UMOUNT),
        FlagSet::At => bits(value, AT),
        FlagSet::Fsopen => bits(value, FSOPEN),
        FlagSet::Fsmount => bits(value, FSMOUNT),
        FlagSet::MountAttr => bits(value, MOUNT_ATTR),
        FlagSet::MoveMount => bits(value, MOVE_MOUNT),
        FlagSet::OpenTree => bits(value, OPEN_TREE),
        FlagSet::Unlinkat => bits(value, UNLINKAT),
        FlagSet::Linkat => bits(value, LINKAT),
        FlagSet::Renameat2 => bits(value, RENAMEAT2),
        FlagSet::Clone => bits(value, CLONE),
        FlagSet::MemfdCreate => bits(value, MEMFD_CREATE),
        FlagSet::FinitModule => bits(value, FINIT_MODULE),
        FlagSet::File => bits(value, FILE),
        FlagSet::Open => open_flags(value),
        FlagSet::Openat2Resolve => bits(value, OPENAT2_RESOLVE),
        FlagSet::FsconfigCmd => FSCONFIG_CMD
            .get(value as usize)
            .map_or_else(|| value.to_string(), |s| (*s).to_string()),
    }
}

/// Falco's `evt.res`: `SUCCESS`, or the errno's name for a negative result.
pub fn result(res: i64) -> String {
    if res >= 0 {
        return "SUCCESS".to_string();
    }
    let errno = res.unsigned_abs() as i64;
    sensor_rules::falco_format::errno_name(errno)
        .map_or_else(|| format!("E{errno}"), str::to_string)
}

const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability set as Falco shows a syscall's argument: names joined by `|`.
pub fn capabilities(set: u64) -> String {
    capabilities_joined(set, "|")
}

/// A capability set's names, in bit order, joined by `separator` (Falco's `thread.cap_*`
/// use a space).
pub fn capabilities_joined(set: u64, separator: &str) -> String {
    let names: Vec<String> = (0..64)
        .filter(|bit| set & (1u64 << bit) != 0)
        .map(|bit| {
            CAPS.get(bit)
                .map_or_else(|| format!("CAP_{bit}"), |s| (*s).to_string())
        })
        .collect();
    names.join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_every_bit_in_falcos_order() {
        assert_eq!(mode(0o4700), "S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID");
        assert_eq!(
            mode(0o755),
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR"
        );
        assert_eq!(mode(0o2640), "S_IRGRP|S_IWUSR|S_IRUSR|S_ISGID");
        assert_eq!(mode(0), "0");
    }

    #[test]
    fn mount_flags_drop_magic_and_keep_unknown_bits() {
        assert_eq!(
            flags(FlagSet::Mount, 0xc0ed_0000 | 1 | 2),
            "MS_RDONLY|MS_NOSUID"
        );
        assert_eq!(flags(FlagSet::Mount, 0), "0");
        assert_eq!(flags(FlagSet::Umount, 2 | 0x100), "MNT_DETACH|0x100");
        assert_eq!(flags(FlagSet::FsconfigCmd, 6), "FSCONFIG_CMD_CREATE");
    }

    #[test]
    fn open_flags_as_falco_renders_them() {
        assert_eq!(flags(FlagSet::Open, 0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(
            flags(FlagSet::Open, 0o1101 | O_F_CREATED),
            "O_TRUNC|O_CREAT|O_WRONLY|O_F_CREATED"
        );
        // O_SYNC holds O_DSYNC; Falco's driver reports both.
        assert_eq!(flags(FlagSet::Open, 0o4010002), "O_SYNC|O_DSYNC|O_RDWR");
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY.
        assert_eq!(
            flags(FlagSet::Open, 0o20200002),
            "O_DIRECTORY|O_RDWR|O_TMPFILE"
        );
        assert_eq!(flags(FlagSet::Open, 0o10000000), "O_RDONLY|O_PATH");
        assert_eq!(flags(FlagSet::Open, 3), "O_NONE");
        assert_eq!(
            flags(FlagSet::Openat2Resolve, 0x0c),
            "RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS"
        );
        assert_eq!(octal(0o644), "0644");
        assert_eq!(octal(0), "00");
    }

    #[test]
    fn results_use_errno_names() {
        assert_eq!(result(0), "SUCCESS");
        assert_eq!(result(3), "SUCCESS");
        assert_eq!(result(-2), "ENOENT");
        assert_eq!(result(-1), "EPERM");
        assert_eq!(result(-4095), "E4095");
    }

    #[test]
    fn capabilities_by_name() {
        assert_eq!(capabilities((1 << 21) | 1), "CAP_CHOWN|CAP_SYS_ADMIN");
        assert_eq!(capabilities(0), "");
    }
}
