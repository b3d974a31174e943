//! The syscalls the sensor traces: their numbers on this architecture, tracepoint names, and
//! arguments with Falco's names. The kernel side learns from this table (through the `SYSCALLS`
//! map) which arguments to read as strings; the agent uses it to decode and name them.

use sensor_common::syscall::{SpecKind, NO_ARG};
use sensor_common::SyscallSpec;

/// How an argument's raw value is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// A string read from the caller's memory: string slot N of the record.
    Str(u8),
    /// A file descriptor (an `int` in an 8-byte slot).
    Fd,
    /// A directory fd, where AT_FDCWD (-100) means the current directory.
    Dirfd,
    /// File mode bits, rendered as Falco does (`S_ISUID|S_IRWXU`).
    Mode,
    /// A user or group id, where -1 means "leave unchanged".
    Id,
    /// A flags word rendered with the named bit set.
    Flags(FlagSet),
    /// A plain number.
    Num,
    /// capset's capability sets (decoded from string slot 0).
    CapSet(CapSet),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagSet {
    Mount,
    Umount,
    At,
    Fsopen,
    FsconfigCmd,
    Fsmount,
    MountAttr,
    MoveMount,
    OpenTree,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapSet {
    Effective,
    Permitted,
    Inheritable,
}

#[derive(Clone, Copy, Debug)]
pub struct ArgDef {
    /// Falco's argument name (`evt.arg.<name>`).
    pub name: &'static str,
    /// Index into the syscall's raw arguments.
    pub index: u8,
    pub ty: ArgType,
}

/// Which family a syscall belongs to; rules and profiles group by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Exec,
    Chmod,
    Mount,
    SetId,
}

#[derive(Debug)]
pub struct SyscallDef {
    /// The syscall's name, which is Falco's `evt.type`.
    pub name: &'static str,
    /// The `syscalls:sys_{enter,exit}_<tracepoint>` name (x86_64's umount2 is `umount`).
    pub tracepoint: &'static str,
    pub nr_x86_64: Option<u32>,
    pub nr_aarch64: Option<u32>,
    pub family: Family,
    pub kind: SpecKind,
    /// For the exec family: which argument is argv.
    pub argv_arg: Option<u8>,
    pub args: &'static [ArgDef],
}

impl SyscallDef {
    /// This syscall's number on the architecture the agent was built for.
    pub fn nr(&self) -> Option<u32> {
        if cfg!(target_arch = "x86_64") {
            self.nr_x86_64
        } else if cfg!(target_arch = "aarch64") {
            self.nr_aarch64
        } else {
            None
        }
    }

    /// The spec the kernel side reads from the `SYSCALLS` map.
    pub fn spec(&self) -> SyscallSpec {
        let mut spec = SyscallSpec::OFF;
        spec.kind = self.kind as u8;
        spec.argv_arg = self.argv_arg.unwrap_or(NO_ARG);
        for arg in self.args {
            if let ArgType::Str(slot) = arg.ty {
                spec.str_args[slot as usize] = arg.index;
            }
        }
        spec
    }

    /// The argument read into string slot `slot`, if any.
    pub fn string_arg(&self, slot: u8) -> Option<&'static ArgDef> {
        self.args.iter().find(|a| a.ty == ArgType::Str(slot))
    }
}

const fn arg(name: &'static str, index: u8, ty: ArgType) -> ArgDef {
    ArgDef { name, index, ty }
}

use ArgType::*;

macro_rules! def {
    ($name:literal, $tp:literal, $x86:expr, $arm:expr, $family:ident, $kind:ident, $argv:expr, [$($args:expr),* $(,)?]) => {
        SyscallDef {
            name: $name,
            tracepoint: $tp,
            nr_x86_64: $x86,
            nr_aarch64: $arm,
            family: Family::$family,
            kind: SpecKind::$kind,
            argv_arg: $argv,
            args: &[$($args),*],
        }
    };
}

/// Every traced syscall. Numbers from the kernel's syscall tables (x86_64 `syscall_64.tbl`,
/// the generic `unistd.h` for aarch64, which has no chmod).
pub static SYSCALLS: &[SyscallDef] = &[
    def!(
        "execve",
        "execve",
        Some(59),
        Some(221),
        Exec,
        Exec,
        Some(1),
        [arg("filename", 0, Str(0))]
    ),
    def!(
        "execveat",
        "execveat",
        Some(322),
        Some(281),
        Exec,
        Exec,
        Some(2),
        [
            arg("dirfd", 0, Dirfd),
            arg("pathname", 1, Str(0)),
            arg("flags", 4, Flags(FlagSet::At)),
        ]
    ),
    def!(
        "chmod",
        "chmod",
        Some(90),
        None,
        Chmod,
        Checked,
        None,
        [arg("filename", 0, Str(0)), arg("mode", 1, Mode),]
    ),
    def!(
        "fchmod",
        "fchmod",
        Some(91),
        Some(52),
        Chmod,
        Plain,
        None,
        [arg("fd", 0, Fd), arg("mode", 1, Mode),]
    ),
    def!(
        "fchmodat",
        "fchmodat",
        Some(268),
        Some(53),
        Chmod,
        Checked,
        None,
        [
            arg("dirfd", 0, Dirfd),
            arg("filename", 1, Str(0)),
            arg("mode", 2, Mode),
        ]
    ),
    def!(
        "fchmodat2",
        "fchmodat2",
        Some(452),
        Some(452),
        Chmod,
        Checked,
        None,
        [
            arg("dirfd", 0, Dirfd),
            arg("filename", 1, Str(0)),
            arg("mode", 2, Mode),
            arg("flags", 3, Flags(FlagSet::At)),
        ]
    ),
    def!(
        "mount",
        "mount",
        Some(165),
        Some(40),
        Mount,
        Mount,
        None,
        [
            arg("dev", 0, Str(0)),
            arg("dir", 1, Str(1)),
            arg("type", 2, Str(2)),
            arg("flags", 3, Flags(FlagSet::Mount)),
        ]
    ),
    def!(
        "umount2",
        "umount",
        Some(166),
        Some(39),
        Mount,
        Checked,
        None,
        [
            arg("name", 0, Str(0)),
            arg("flags", 1, Flags(FlagSet::Umount)),
        ]
    ),
    def!(
        "fsopen",
        "fsopen",
        Some(430),
        Some(430),
        Mount,
        Checked,
        None,
        [
            arg("fsname", 0, Str(0)),
            arg("flags", 1, Flags(FlagSet::Fsopen)),
        ]
    ),
    def!(
        "fsconfig",
        "fsconfig",
        Some(431),
        Some(431),
        Mount,
        Checked,
        None,
        [
            arg("fd", 0, Fd),
            arg("cmd", 1, Flags(FlagSet::FsconfigCmd)),
            arg("key", 2, Str(0)),
            arg("value", 3, Str(1)),
            arg("aux", 4, Num),
        ]
    ),
    def!(
        "fsmount",
        "fsmount",
        Some(432),
        Some(432),
        Mount,
        Plain,
        None,
        [
            arg("fd", 0, Fd),
            arg("flags", 1, Flags(FlagSet::Fsmount)),
            arg("attr_flags", 2, Flags(FlagSet::MountAttr)),
        ]
    ),
    def!(
        "move_mount",
        "move_mount",
        Some(429),
        Some(429),
        Mount,
        Checked,
        None,
        [
            arg("from_dirfd", 0, Dirfd),
            arg("from_path", 1, Str(0)),
            arg("to_dirfd", 2, Dirfd),
            arg("to_path", 3, Str(1)),
            arg("flags", 4, Flags(FlagSet::MoveMount)),
        ]
    ),
    def!(
        "open_tree",
        "open_tree",
        Some(428),
        Some(428),
        Mount,
        Checked,
        None,
        [
            arg("dirfd", 0, Dirfd),
            arg("path", 1, Str(0)),
            arg("flags", 2, Flags(FlagSet::OpenTree)),
        ]
    ),
    def!(
        "open_tree_attr",
        "open_tree_attr",
        Some(467),
        Some(467),
        Mount,
        Checked,
        None,
        [
            arg("dirfd", 0, Dirfd),
            arg("path", 1, Str(0)),
            arg("flags", 2, Flags(FlagSet::OpenTree)),
        ]
    ),
    def!(
        "mount_setattr",
        "mount_setattr",
        Some(442),
        Some(442),
        Mount,
        Checked,
        None,
        [
            arg("dirfd", 0, Dirfd),
            arg("path", 1, Str(0)),
            arg("flags", 2, Flags(FlagSet::At)),
        ]
    ),
    def!(
        "setuid",
        "setuid",
        Some(105),
        Some(146),
        SetId,
        Creds,
        None,
        [arg("uid", 0, Id)]
    ),
    def!(
        "setgid",
        "setgid",
        Some(106),
        Some(144),
        SetId,
        Creds,
        None,
        [arg("gid", 0, Id)]
    ),
    def!(
        "setreuid",
        "setreuid",
        Some(113),
        Some(145),
        SetId,
        Creds,
        None,
        [arg("ruid", 0, Id), arg("euid", 1, Id),]
    ),
    def!(
        "setregid",
        "setregid",
        Some(114),
        Some(143),
        SetId,
        Creds,
        None,
        [arg("rgid", 0, Id), arg("egid", 1, Id),]
    ),
    def!(
        "setresuid",
        "setresuid",
        Some(117),
        Some(147),
        SetId,
        Creds,
        None,
        [arg("ruid", 0, Id), arg("euid", 1, Id), arg("suid", 2, Id),]
    ),
    def!(
        "setresgid",
        "setresgid",
        Some(119),
        Some(149),
        SetId,
        Creds,
        None,
        [arg("rgid", 0, Id), arg("egid", 1, Id), arg("sgid", 2, Id),]
    ),
    def!(
        "setfsuid",
        "setfsuid",
        Some(122),
        Some(151),
        SetId,
        Creds,
        None,
        [arg("uid", 0, Id)]
    ),
    def!(
        "setfsgid",
        "setfsgid",
        Some(123),
        Some(152),
        SetId,
        Creds,
        None,
        [arg("gid", 0, Id)]
    ),
    def!(
        "capset",
        "capset",
        Some(126),
        Some(90),
        SetId,
        Capset,
        None,
        [
            arg("cap_effective", 1, CapSet(self::CapSet::Effective)),
            arg("cap_permitted", 1, CapSet(self::CapSet::Permitted)),
            arg("cap_inheritable", 1, CapSet(self::CapSet::Inheritable)),
        ]
    ),
];

/// Looks a syscall up by this architecture's number.
pub fn by_nr(nr: u32) -> Option<&'static SyscallDef> {
    SYSCALLS.iter().find(|s| s.nr() == Some(nr))
}

/// Looks a syscall up by name (`evt.type`).
pub fn by_name(name: &str) -> Option<&'static SyscallDef> {
    SYSCALLS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_unique() {
        for (i, a) in SYSCALLS.iter().enumerate() {
            for b in &SYSCALLS[i + 1..] {
                assert_ne!(a.name, b.name);
                if a.nr().is_some() {
                    assert_ne!(a.nr(), b.nr(), "{} and {}", a.name, b.name);
                }
            }
        }
    }

    #[test]
    fn string_slots_are_dense_and_in_range() {
        for s in SYSCALLS {
            let slots: Vec<u8> = s
                .args
                .iter()
                .filter_map(|a| match a.ty {
                    ArgType::Str(slot) => Some(slot),
                    _ => None,
                })
                .collect();
            for (i, slot) in slots.iter().enumerate() {
                assert_eq!(*slot as usize, i, "{}", s.name);
            }
            assert!(slots.len() <= sensor_common::MAX_STRINGS);
        }
    }

    #[test]
    fn spec_carries_string_arguments() {
        let mount = by_name("mount").unwrap().spec();
        assert_eq!(mount.str_args, [0, 1, 2]);
        let fchmodat = by_name("fchmodat").unwrap().spec();
        assert_eq!(fchmodat.str_args, [1, NO_ARG, NO_ARG]);
        assert_eq!(by_name("execve").unwrap().spec().argv_arg, 1);
    }
}
