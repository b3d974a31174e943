//! What the generic syscall programs need to know about each traced syscall.
//!
//! The agent fills the `SYSCALLS` array map, indexed by the architecture's syscall number, from
//! its syscall table; the kernel side then needs no per-architecture knowledge.

/// No argument in this string slot.
pub const NO_ARG: u8 = 0xff;

/// How the enter and exit programs treat a syscall.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecKind {
    /// Not traced (the array's zeroed default).
    Off = 0,
    /// Only an exit program: arguments come from the syscall's saved registers and strings
    /// from the caller's memory, both still intact when the call returns.
    Plain = 1,
    /// Exec family: the caller's credentials at enter; what a successful exec ran comes from
    /// the kernel at `sched_process_exec`, a failed one's filename and argv from the caller's
    /// memory at the exit.
    Exec = 2,
    /// set*id family: the caller's credentials are captured at enter, before the call.
    Creds = 3,
    /// capset: credentials before, and the capability sets read from the `data` argument.
    Capset = 4,
    /// String arguments the kernel reads from the caller's memory (chmod-family paths, mount
    /// strings): hashed at enter and read again at exit, so that a thread rewriting them
    /// between the two marks the event ([`crate::record::RecordHeader::changed`]).
    Checked = 5,
    /// mount(2): as `Checked`, and after a successful mount of a new filesystem its source
    /// and type are read from the new `struct mount` itself, what the kernel acted on.
    Mount = 6,
    /// The open family: as `Checked` for the path the caller passed; after a successful
    /// open the file the kernel put in the fd table is read back ([`crate::record::open`]):
    /// its path as the kernel walks it, its type, device and inode, and the access it was
    /// opened with. openat2's `struct open_how` (pointer at [`SyscallSpec::argv_arg`]) is
    /// read at enter into the record's `args[3..6]` (flags, mode, resolve).
    Open = 7,
    /// The dup family: as `Plain`, and after a successful call the file behind the new fd is
    /// read as an open's is (its type, and for a socket its family), so a rule can tell a
    /// network connection dup'd over stdin or stdout.
    Dup = 8,
}

impl SpecKind {
    /// Whether the kind has an enter program.
    pub const fn has_enter(self) -> bool {
        !matches!(self, Self::Off | Self::Plain | Self::Dup)
    }

    /// Whether the enter captures the caller's credentials.
    pub const fn captures_creds(self) -> bool {
        matches!(self, Self::Exec | Self::Creds | Self::Capset)
    }

    /// Whether its string arguments are read at enter as well as at exit.
    pub const fn checks_strings(self) -> bool {
        matches!(self, Self::Checked | Self::Mount | Self::Open)
    }
}

/// One entry of the `SYSCALLS` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallSpec {
    /// A [`SpecKind`].
    pub kind: u8,
    /// For `Exec`: index of the argv argument. For `Open`: index of openat2's `open_how`
    /// pointer ([`NO_ARG`] for the other opens).
    pub argv_arg: u8,
    /// Indexes of arguments read as NUL-terminated user strings ([`NO_ARG`] for none).
    pub str_args: [u8; crate::MAX_STRINGS],
    pub _pad: u8,
    /// In the `COMPAT_SYSCALLS` map: the 64-bit number of the syscall this compat one is
    /// recorded as (so every record names a 64-bit definition). Unused in `SYSCALLS`.
    pub native_nr: u16,
}

impl SyscallSpec {
    pub const OFF: Self = Self {
        kind: SpecKind::Off as u8,
        argv_arg: NO_ARG,
        str_args: [NO_ARG; crate::MAX_STRINGS],
        _pad: 0,
        native_nr: 0,
    };
}

/// Marker kept for readers looking for the table type; the table itself lives in the agent.
pub type SyscallTable = [SyscallSpec; crate::SYSCALL_TABLE_LEN as usize];

#[cfg(feature = "user")]
// SAFETY: plain repr(C) bytes.
unsafe impl aya::Pod for SyscallSpec {}
