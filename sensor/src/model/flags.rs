//! Human names for numeric arguments, as Falco renders them: mode bits, flag words, errno
//! values and capability sets.

use super::syscalls::FlagSet;

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
        if *bit != 0 && value & bit == *bit {
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

/// A capability set as Falco shows it: names joined by `|`.
pub fn capabilities(set: u64) -> String {
    let names: Vec<String> = (0..64)
        .filter(|bit| set & (1u64 << bit) != 0)
        .map(|bit| {
            CAPS.get(bit)
                .map_or_else(|| format!("CAP_{bit}"), |s| (*s).to_string())
        })
        .collect();
    names.join("|")
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
