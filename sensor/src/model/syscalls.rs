//! The syscalls the sensor traces: their numbers on this architecture, tracepoint names, and
//! arguments with Falco's names. The kernel side learns from this table (through the `SYSCALLS`
//! map) which arguments to read as strings; the agent uses it to decode and name them.

use sensor_common::syscall::{SpecKind, ADDR_IN_MSGHDR, NO_ARG};
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
    /// A signed `int` in an 8-byte slot (a pid).
    Int,
    /// A number Falco shows in upper-case hex without a prefix (`PF_HEX`: mkdir's mode
    /// 0755 is `1ED`).
    Hex,
    /// A number that names one value of a set (`PT_ENUMFLAGS`: ptrace's request, the socket
    /// domain, bpf's command), shown by that name.
    Enum(EnumSet),
    /// capset's capability sets (decoded from string slot 0).
    CapSet(CapSet),
    /// The call's return value as an fd (the open family's `fd`; the index is unused).
    Res,
    /// A number Falco shows in octal with a leading 0 (`PF_OCT`: an open's mode `0644`).
    Oct,
    /// What the kernel side read about an opened file (the index is unused).
    Opened(OpenedField),
    /// A `struct sockaddr *` (its length the next argument), copied from the caller's
    /// memory at the exit into string slot 1 and shown as Falco shows an address.
    SockAddr,
    /// A `struct msghdr *` whose `msg_name` is copied likewise (sendmsg).
    MsgAddr,
    /// The connection as the kernel's socket holds it, `client:port->server:port` (Falco's
    /// `tuple`; the index is unused).
    Tuple,
}

/// A property of the file an open opened (`sensor_common::record::open::OpenedFile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenedField {
    /// The device number, shown in hex as Falco does.
    Dev,
    /// The inode number.
    Ino,
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
    /// unlinkat's `AT_REMOVEDIR`.
    Unlinkat,
    /// linkat's `AT_SYMLINK_FOLLOW`, `AT_EMPTY_PATH`.
    Linkat,
    Renameat2,
    /// `CLONE_*` namespace bits (unshare's flags, setns's nstype).
    Clone,
    MemfdCreate,
    FinitModule,
    /// `O_*` bits as Falco's `file_flags` (dup3, userfaultfd).
    File,
    /// An open's flags: the access mode named (`O_RDONLY`, `O_WRONLY`, `O_RDWR`) and the
    /// other `O_*` bits, as Falco renders `file_flags`.
    Open,
    /// openat2's `RESOLVE_*` bits.
    Openat2Resolve,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumSet {
    PtraceRequest,
    SocketFamily,
    BpfCommand,
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
    /// Links, renames, removals and directories: paths the caller names.
    File,
    /// Reaching into other processes and namespaces: ptrace, setns, unshare, memory files,
    /// userfaultfd, bpf.
    Process,
    /// Kernel modules.
    Module,
    /// Sockets.
    Net,
    /// File descriptors duplicated (dup family).
    Fd,
    /// Files opened (open, openat, openat2, creat): the machine's most frequent calls, so
    /// traced only when asked for.
    Open,
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
    /// For the exec family: which argument is argv; for openat2, its `open_how` pointer; for
    /// a socket call, its fd (`None`: the result is the socket, as for accept).
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
            match arg.ty {
                ArgType::Str(slot) => spec.str_args[slot as usize] = arg.index,
                ArgType::SockAddr => spec.addr_arg = arg.index,
                ArgType::MsgAddr => spec.addr_arg = arg.index | ADDR_IN_MSGHDR,
                _ => {}
            }
        }
        spec
    }

    /// The argument named `name` (Falco's `evt.arg.<name>`).
    pub fn arg(&self, name: &str) -> Option<&'static ArgDef> {
        self.args.iter().find(|a| a.name == name)
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
        "open",
        "open",
        Some(2),
        None,
        Open,
        Open,
        None,
        [
            arg("fd", 0, Res),
            arg("name", 0, Str(0)),
            arg("flags", 1, Flags(FlagSet::Open)),
            arg("mode", 2, Oct),
            arg("dev", 0, Opened(OpenedField::Dev)),
            arg("ino", 0, Opened(OpenedField::Ino)),
        ]
    ),
    def!(
        "openat",
        "openat",
        Some(257),
        Some(56),
        Open,
        Open,
        None,
        [
            arg("fd", 0, Res),
            arg("dirfd", 0, Dirfd),
            arg("name", 1, Str(0)),
            arg("flags", 2, Flags(FlagSet::Open)),
            arg("mode", 3, Oct),
            arg("dev", 0, Opened(OpenedField::Dev)),
            arg("ino", 0, Opened(OpenedField::Ino)),
        ]
    ),
    // `struct open_how` (argument 2) is read at enter into args 3..6 (`SpecKind::Open`).
    def!(
        "openat2",
        "openat2",
        Some(437),
        Some(437),
        Open,
        Open,
        Some(2),
        [
            arg("fd", 0, Res),
            arg("dirfd", 0, Dirfd),
            arg("name", 1, Str(0)),
            arg("flags", 3, Flags(FlagSet::Open)),
            arg("mode", 4, Oct),
            arg("resolve", 5, Flags(FlagSet::Openat2Resolve)),
            arg("dev", 0, Opened(OpenedField::Dev)),
            arg("ino", 0, Opened(OpenedField::Ino)),
        ]
    ),
    def!(
        "creat",
        "creat",
        Some(85),
        None,
        Open,
        Open,
        None,
        [
            arg("fd", 0, Res),
            arg("name", 0, Str(0)),
            arg("mode", 1, Oct),
            arg("dev", 0, Opened(OpenedField::Dev)),
            arg("ino", 0, Opened(OpenedField::Ino)),
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
    // Files: links, renames, removals, directories. Falco's argument names; paths relative
    // to a dirfd are shown as the caller wrote them, as the chmod family's are.
    def!(
        "symlink",
        "symlink",
        Some(88),
        None,
        File,
        Checked,
        None,
        [arg("target", 0, Str(0)), arg("linkpath", 1, Str(1))]
    ),
    def!(
        "symlinkat",
        "symlinkat",
        Some(266),
        Some(36),
        File,
        Checked,
        None,
        [
            arg("target", 0, Str(0)),
            arg("linkdirfd", 1, Dirfd),
            arg("linkpath", 2, Str(1)),
        ]
    ),
    def!(
        "link",
        "link",
        Some(86),
        None,
        File,
        Checked,
        None,
        [arg("oldpath", 0, Str(0)), arg("newpath", 1, Str(1))]
    ),
    def!(
        "linkat",
        "linkat",
        Some(265),
        Some(37),
        File,
        Checked,
        None,
        [
            arg("olddir", 0, Dirfd),
            arg("oldpath", 1, Str(0)),
            arg("newdir", 2, Dirfd),
            arg("newpath", 3, Str(1)),
            arg("flags", 4, Flags(FlagSet::Linkat)),
        ]
    ),
    def!(
        "unlink",
        "unlink",
        Some(87),
        None,
        File,
        Checked,
        None,
        [arg("path", 0, Str(0))]
    ),
    def!(
        "unlinkat",
        "unlinkat",
        Some(263),
        Some(35),
        File,
        Checked,
        None,
        [
            arg("dirfd", 0, Dirfd),
            arg("name", 1, Str(0)),
            arg("flags", 2, Flags(FlagSet::Unlinkat)),
        ]
    ),
    def!(
        "rename",
        "rename",
        Some(82),
        None,
        File,
        Checked,
        None,
        [arg("oldpath", 0, Str(0)), arg("newpath", 1, Str(1))]
    ),
    def!(
        "renameat",
        "renameat",
        Some(264),
        Some(38),
        File,
        Checked,
        None,
        [
            arg("olddirfd", 0, Dirfd),
            arg("oldpath", 1, Str(0)),
            arg("newdirfd", 2, Dirfd),
            arg("newpath", 3, Str(1)),
        ]
    ),
    def!(
        "renameat2",
        "renameat2",
        Some(316),
        Some(276),
        File,
        Checked,
        None,
        [
            arg("olddirfd", 0, Dirfd),
            arg("oldpath", 1, Str(0)),
            arg("newdirfd", 2, Dirfd),
            arg("newpath", 3, Str(1)),
            arg("flags", 4, Flags(FlagSet::Renameat2)),
        ]
    ),
    def!(
        "mkdir",
        "mkdir",
        Some(83),
        None,
        File,
        Checked,
        None,
        [arg("path", 0, Str(0)), arg("mode", 1, Hex)]
    ),
    def!(
        "mkdirat",
        "mkdirat",
        Some(258),
        Some(34),
        File,
        Checked,
        None,
        [
            arg("dirfd", 0, Dirfd),
            arg("path", 1, Str(0)),
            arg("mode", 2, Hex),
        ]
    ),
    def!(
        "rmdir",
        "rmdir",
        Some(84),
        None,
        File,
        Checked,
        None,
        [arg("path", 0, Str(0))]
    ),
    // Processes and namespaces.
    def!(
        "ptrace",
        "ptrace",
        Some(101),
        Some(117),
        Process,
        Plain,
        None,
        [
            arg("request", 0, Enum(EnumSet::PtraceRequest)),
            arg("pid", 1, Int),
        ]
    ),
    def!(
        "setns",
        "setns",
        Some(308),
        Some(268),
        Process,
        Plain,
        None,
        [arg("fd", 0, Fd), arg("nstype", 1, Flags(FlagSet::Clone))]
    ),
    def!(
        "unshare",
        "unshare",
        Some(272),
        Some(97),
        Process,
        Plain,
        None,
        [arg("flags", 0, Flags(FlagSet::Clone))]
    ),
    def!(
        "memfd_create",
        "memfd_create",
        Some(319),
        Some(279),
        Process,
        Checked,
        None,
        [
            arg("name", 0, Str(0)),
            arg("flags", 1, Flags(FlagSet::MemfdCreate)),
        ]
    ),
    def!(
        "userfaultfd",
        "userfaultfd",
        Some(323),
        Some(282),
        Process,
        Plain,
        None,
        [arg("flags", 0, Flags(FlagSet::File))]
    ),
    def!(
        "bpf",
        "bpf",
        Some(321),
        Some(280),
        Process,
        Plain,
        None,
        [arg("cmd", 0, Enum(EnumSet::BpfCommand))]
    ),
    // io_uring's operations (openat, connect, symlinkat, ...) bypass the syscall
    // tracepoints; its setup does not, so a rule can at least see who starts a ring. Falco's
    // sq/cq sizes and features come from the `params` the kernel fills; only the entries
    // asked for are carried.
    def!(
        "io_uring_setup",
        "io_uring_setup",
        Some(425),
        Some(425),
        Process,
        Plain,
        None,
        [arg("entries", 0, Num)]
    ),
    // Kernel modules. init_module's image is not carried (Falco's `img` is a byte buffer of
    // up to the whole module); its length and parameters are.
    def!(
        "init_module",
        "init_module",
        Some(175),
        Some(105),
        Module,
        Checked,
        None,
        [arg("length", 1, Num), arg("uargs", 2, Str(0))]
    ),
    def!(
        "finit_module",
        "finit_module",
        Some(313),
        Some(273),
        Module,
        Checked,
        None,
        [
            arg("fd", 0, Fd),
            arg("uargs", 1, Str(0)),
            arg("flags", 2, Flags(FlagSet::FinitModule)),
        ]
    ),
    // Sockets.
    def!(
        "socket",
        "socket",
        Some(41),
        Some(198),
        Net,
        Plain,
        None,
        [
            arg("domain", 0, Enum(EnumSet::SocketFamily)),
            arg("type", 1, Num),
            arg("proto", 2, Num),
        ]
    ),
    // Socket calls (`SpecKind::Socket`): the socket behind the fd is read from the kernel.
    def!(
        "connect",
        "connect",
        Some(42),
        Some(203),
        Net,
        Socket,
        Some(0),
        [
            arg("fd", 0, Fd),
            arg("addr", 1, SockAddr),
            arg("tuple", 0, Tuple),
        ]
    ),
    def!(
        "accept",
        "accept",
        Some(43),
        Some(202),
        Net,
        Socket,
        None,
        [arg("fd", 0, Res), arg("tuple", 0, Tuple)]
    ),
    def!(
        "accept4",
        "accept4",
        Some(288),
        Some(242),
        Net,
        Socket,
        None,
        [
            arg("fd", 0, Res),
            arg("tuple", 0, Tuple),
            arg("flags", 3, Flags(FlagSet::File)),
        ]
    ),
    def!(
        "bind",
        "bind",
        Some(49),
        Some(200),
        Net,
        Socket,
        Some(0),
        [arg("fd", 0, Fd), arg("addr", 1, SockAddr)]
    ),
    def!(
        "listen",
        "listen",
        Some(50),
        Some(201),
        Net,
        Socket,
        Some(0),
        [arg("fd", 0, Fd), arg("backlog", 1, Int)]
    ),
    def!(
        "sendto",
        "sendto",
        Some(44),
        Some(206),
        Net,
        Socket,
        Some(0),
        [
            arg("fd", 0, Fd),
            arg("size", 2, Num),
            arg("tuple", 0, Tuple),
            arg("addr", 4, SockAddr),
        ]
    ),
    def!(
        "sendmsg",
        "sendmsg",
        Some(46),
        Some(211),
        Net,
        Socket,
        Some(0),
        [
            arg("fd", 0, Fd),
            arg("tuple", 0, Tuple),
            arg("addr", 1, MsgAddr),
        ]
    ),
    // Descriptors duplicated: the result is the new fd (`evt.rawres`), whose file the kernel
    // side reads (`SpecKind::Dup`: a socket's family is `fd.type`).
    def!(
        "dup",
        "dup",
        Some(32),
        Some(23),
        Fd,
        Dup,
        None,
        [arg("oldfd", 0, Fd)]
    ),
    def!(
        "dup2",
        "dup2",
        Some(33),
        None,
        Fd,
        Dup,
        None,
        [arg("oldfd", 0, Fd), arg("newfd", 1, Int)]
    ),
    def!(
        "dup3",
        "dup3",
        Some(292),
        Some(24),
        Fd,
        Dup,
        None,
        [
            arg("oldfd", 0, Fd),
            arg("newfd", 1, Int),
            arg("flags", 2, Flags(FlagSet::File)),
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
