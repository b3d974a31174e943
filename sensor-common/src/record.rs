//! Records the kernel writes into the ring buffer.
//!
//! Each record is a [`RecordHeader`] followed by up to [`crate::MAX_STRINGS`] byte strings packed
//! back to back, without NULs; `str_len[i]` gives each length, so the agent can slice them.

use crate::COMM_LEN;

/// What a record describes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A traced syscall returned: arguments from its enter, `res` from its exit.
    Syscall = 1,
    /// No longer written (an exec's arguments come from the kernel at `sched_process_exec`, or
    /// from the caller at the exit of a failed exec); the number stays reserved.
    ExecArgs = 2,
    /// `sched_process_exec`: an exec succeeded. Everything in it is what the kernel used, read
    /// from its own memory before the new image runs, so no thread of the caller can change
    /// it: string 0 is the filename the kernel opened (`bprm->filename`), string 1 the argv it
    /// copied into the new image (NUL-separated, from `mm->arg_start`) followed by the
    /// environment it copied (from `mm->env_start`), string 2 the path of the file it mapped
    /// (`mm->exe_file`) as NUL-terminated names from the file up to the mount namespace's
    /// root. `args[0]` is the thread id that called exec (a non-leader thread takes the
    /// leader's id), `args[1]` holds [`exe_flags`], `args[2]` the length of argv in string 1.
    ExecImage = 3,
    /// `sched_process_fork` of a new process (not a thread): `args[0]` is the child's pid.
    Fork = 4,
    /// `sched_process_exit` of a thread group leader: `args[0]` is the exit code.
    Exit = 5,
}

impl RecordKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Syscall,
            2 => Self::ExecArgs,
            3 => Self::ExecImage,
            4 => Self::Fork,
            5 => Self::Exit,
            _ => return None,
        })
    }
}

/// Bits of an `ExecImage` record's `args[1]`.
pub mod exe_flags {
    /// The executable's path did not lead to the root of the process's mount namespace: a
    /// file no directory names (a memfd, a deleted file's pseudo dentry) or one on a mount
    /// outside the namespace. String 2 then holds the names walked, up to the dentry that is
    /// its own parent.
    pub const DETACHED: u64 = 1;
    /// The kernel has no offsets for the image (an unsupported layout): strings 1 and 2 are
    /// empty and the agent falls back to what the caller passed.
    pub const NO_IMAGE: u64 = 2;
    /// The executable is a file of an overlayfs's upper layer (written or copied up since
    /// the container started), not of an image layer: Falco's `proc.is_exe_upper_layer`.
    pub const UPPER_LAYER: u64 = 4;
}

/// What a successful open or dup adds to its `Syscall` record (`SpecKind::Open`, `Dup`):
/// string 1 is (for a socket, a dup's: its [`socket::SocketInfo`], for anything else) the
/// opened file's path as NUL-terminated names from the file up to the mount namespace's root
/// (as [`RecordKind::ExecImage`]'s string 2), string 2 an [`OpenedFile`]. Both are absent
/// when the open failed or the fd table did not hold the file.
pub mod open {
    /// The opened file, read from the caller's fd table right after the call.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct OpenedFile {
        /// `file->f_mode` (`FMODE_READ` 1, `FMODE_WRITE` 2, `FMODE_CREATED` 0x100000).
        pub f_mode: u32,
        /// `inode->i_mode`: the file type and permission bits.
        pub i_mode: u32,
        /// `inode->i_sb->s_dev`, the kernel's device number (major << 20 | minor).
        pub dev: u32,
        /// [`super::exe_flags`] of the path walk (`DETACHED`).
        pub path_flags: u32,
        pub ino: u64,
        /// For a socket (`i_mode` `S_IFSOCK`, whose path is not walked): its address family
        /// (`AF_INET`...) and type (`SOCK_STREAM`...); 0 otherwise.
        pub sock_family: u16,
        pub sock_type: u16,
        pub _pad: u32,
    }

    impl OpenedFile {
        pub const SIZE: usize = core::mem::size_of::<Self>();
    }

    pub const FMODE_READ: u32 = 0x1;
    pub const FMODE_WRITE: u32 = 0x2;
    pub const FMODE_EXEC: u32 = 0x20;
    /// The open created the file (Linux 4.19+).
    pub const FMODE_CREATED: u32 = 0x100000;
}

/// What a socket call adds to its `Syscall` record (`SpecKind::Socket`): string 1 is the
/// address the caller passed (raw `struct sockaddr` bytes, at most
/// [`socket::SOCKADDR_MAX`]), string 2 a [`socket::SocketInfo`] when the fd was a socket.
pub mod socket {
    /// `sizeof(struct sockaddr_storage)`.
    pub const SOCKADDR_MAX: usize = 128;

    /// A socket as the kernel holds it after the call (`struct sock`).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct SocketInfo {
        /// `skc_family`: `AF_INET` 2, `AF_INET6` 10, `AF_UNIX` 1.
        pub family: u16,
        /// `socket->type`: `SOCK_STREAM` 1, `SOCK_DGRAM` 2, `SOCK_RAW` 3.
        pub sock_type: u16,
        /// `sk_protocol` (`IPPROTO_TCP` 6, `IPPROTO_UDP` 17, `IPPROTO_ICMP` 1, ...).
        pub protocol: u16,
        /// Local port (`skc_num`, host order) and remote port (`skc_dport`, converted to
        /// host order by the kernel side).
        pub local_port: u16,
        pub remote_port: u16,
        pub _pad: [u16; 3],
        /// Local and remote address: an IPv4 one in the first 4 bytes, an IPv6 one whole.
        pub local: [u8; 16],
        pub remote: [u8; 16],
    }

    impl SocketInfo {
        pub const SIZE: usize = core::mem::size_of::<Self>();
    }
}

/// Values of [`RecordHeader::abi`].
pub mod abi {
    /// The kernel's own ABI (x86_64, arm64).
    pub const NATIVE: u8 = 0;
    /// The 32-bit compat ABI (i386 on x86_64, arm on arm64).
    pub const COMPAT: u8 = 1;
}

/// Bit `i` of [`RecordHeader::changed`] and [`RecordHeader::from_kernel`]: string slot `i`.
pub const fn string_bit(i: usize) -> u8 {
    1 << i
}

/// Bit `i` of [`RecordHeader::truncated`]: string `i` was cut at its bound.
pub const fn truncated_bit(i: usize) -> u16 {
    1 << i
}
/// [`RecordHeader::truncated`]: argv had more arguments than [`crate::ARGV_COUNT_MAX`].
pub const TRUNCATED_ARGV_COUNT: u16 = 1 << 8;
/// [`RecordHeader::truncated`]: the environment was longer than [`crate::ENV_MAX`].
pub const TRUNCATED_ENV: u16 = 1 << 9;

/// Credentials of a task, in the order of the kernel's `struct cred` (uid through fsgid are
/// adjacent there), so the kernel side copies them with one read.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub euid: u32,
    pub egid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
}

/// Who made the call: the task's identity when the record was written.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskInfo {
    /// Thread group id (what userspace calls the pid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Thread group id of the real parent.
    pub ppid: u32,
    /// Pid as seen inside the task's own pid namespace.
    pub vpid: u32,
    /// Audit login uid; `u32::MAX` when unset.
    pub loginuid: u32,
    /// Inode number of the mount namespace.
    pub mnt_ns: u32,
    /// Inode number of the pid namespace.
    pub pid_ns: u32,
    /// Session id (the session leader's pid, as seen from the initial pid namespace).
    pub sid: u32,
    pub cgroup_id: u64,
    pub creds: Creds,
    /// Capability sets: inheritable, permitted, effective (bit N = capability N).
    pub caps: [u64; 3],
    pub comm: [u8; COMM_LEN],
    /// Controlling terminal as /proc's `tty_nr` encodes it; 0 for none.
    pub tty: u32,
    pub _pad: u32,
    /// CLOCK_MONOTONIC time the process (its thread group leader) started, in ns.
    pub start_ns: u64,
}

/// Fixed part of every ring buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RecordHeader {
    /// A [`RecordKind`].
    pub kind: u8,
    /// The ABI the syscall was made through ([`abi`]): 32-bit compat calls carry their
    /// 64-bit twin's number in `syscall_nr` and their own in `abi_nr`.
    pub abi: u8,
    /// Bits from [`truncated_bit`] and [`TRUNCATED_ARGV_COUNT`].
    pub truncated: u16,
    /// The architecture's (64-bit) syscall number (for `Syscall` and `ExecArgs` records),
    /// whichever ABI the call was made through.
    pub syscall_nr: u32,
    /// Length in bytes of each packed string that follows the header.
    pub str_len: [u16; crate::MAX_STRINGS],
    /// The syscall's number in the ABI it was made through (`abi`).
    pub abi_nr: u16,
    /// [`string_bit`]s of strings the kernel side knows may not be what the kernel acted on:
    /// a new mount that cannot be told apart from another one made at the same moment.
    pub changed: u8,
    /// [`string_bit`]s of strings read from the kernel's own structures after the call, not
    /// from the caller's memory.
    pub from_kernel: u8,
    /// [`string_bit`]s of strings the exit could not read (a NULL or unmapped pointer).
    pub unreadable: u8,
    pub _pad: u8,
    /// For the `Checked` and `Mount` kinds: each string's [`crate::arg_hash`] at the call's
    /// enter; the agent compares it with the string in the record.
    pub enter_hash: [u32; crate::MAX_STRINGS],
    /// CLOCK_MONOTONIC time of the syscall's enter (or of the event), in ns.
    pub enter_ns: u64,
    /// CLOCK_MONOTONIC time the record was written, in ns.
    pub ts_ns: u64,
    /// The syscall's return value: `-errno` on failure.
    pub res: i64,
    /// The syscall's raw arguments as passed to it.
    pub args: [u64; 6],
    /// Credentials before the call; filled for the set*id and capset families.
    pub creds_before: Creds,
    pub task: TaskInfo,
}

impl RecordHeader {
    pub const SIZE: usize = core::mem::size_of::<Self>();
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain repr(C) data without padding invariants or pointers.
    unsafe impl aya::Pod for super::Creds {}
    unsafe impl aya::Pod for super::RecordHeader {}
}
