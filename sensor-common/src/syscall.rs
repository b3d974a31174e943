//! What the generic syscall programs need to know about each traced syscall.
//!
//! The agent fills the `SYSCALLS` array map, indexed by the architecture's syscall number, from
//! its syscall table; the kernel side then needs no per-architecture knowledge.

/// No argument in this string slot.
pub const NO_ARG: u8 = 0xff;

/// In [`SyscallSpec::addr_arg`]: the argument is a `struct msghdr *`.
pub const ADDR_IN_MSGHDR: u8 = 0x80;

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
    /// Socket calls (connect, accept, bind, listen, sendto, sendmsg): as `Plain`, and after
    /// the call the socket behind the fd ([`SyscallSpec::argv_arg`], or the result for
    /// accept) is read from the kernel ([`crate::record::socket`]): family, type, protocol and
    /// both ends as the kernel holds them. The address the caller passed
    /// ([`SyscallSpec::addr_arg`]) is copied from its memory too, for calls whose destination
    /// is per call (sendto on an unconnected socket) or that failed.
    Socket = 9,
}

impl SpecKind {
    /// Whether the kind has an enter program.
    pub const fn has_enter(self) -> bool {
        !matches!(self, Self::Off | Self::Plain | Self::Dup | Self::Socket)
    }

    /// Whether the enter captures the caller's credentials.
    pub const fn captures_creds(self) -> bool {
        matches!(self, Self::Exec | Self::Creds | Self::Capset)
    }

    /// Whether its string arguments are read at enter as well as at exit.
    pub const fn checks_strings(self) -> bool {
        matches!(self, Self::Checked | Self::Mount | Self::Open)
    }

    /// Which of the exit programs its `sys_exit_*` tracepoints get ([`exit_program`]).
    pub const fn exit_program(self) -> u8 {
        exit_program::of(self as u8)
    }
}

/// The exit programs, one for each group of kinds: each carries only its own kinds' reads,
/// so the verifier walks a fraction of what one program for every kind cost it (which went
/// past its budget on 5.10's verifier).
pub mod exit_program {
    /// Registers and credentials only (`Plain`, `Exec`, `Creds`, `Capset`).
    pub const BASIC: u8 = 0;
    /// Strings from the caller's memory or a new mount (`Checked`, `Mount`).
    pub const STRINGS: u8 = 1;
    /// An open's path and the file behind the resulting fd (`Open`).
    pub const OPENS: u8 = 2;
    /// The file behind a duplicated fd (`Dup`).
    pub const DUPS: u8 = 3;
    /// The socket behind the fd (`Socket`).
    pub const SOCKETS: u8 = 4;
    /// Every kind's code, chosen at run time: the 32-bit compat exit, one program on the
    /// `raw_syscalls` tracepoint for every call.
    pub const ALL: u8 = 255;

    use super::SpecKind;

    /// The exit program of `SpecKind` `kind`.
    pub const fn of(kind: u8) -> u8 {
        if kind == SpecKind::Checked as u8 || kind == SpecKind::Mount as u8 {
            STRINGS
        } else if kind == SpecKind::Open as u8 {
            OPENS
        } else if kind == SpecKind::Dup as u8 {
            DUPS
        } else if kind == SpecKind::Socket as u8 {
            SOCKETS
        } else {
            BASIC
        }
    }

    /// `EXIT_TAILS` index of the program the `OPENS` and `DUPS` exits continue in to read
    /// the file behind the fd (`bpf_tail_call`): the verifier checks the two halves apart,
    /// which on 5.10's verifier kept them under its budget.
    pub const OPENED_FILE_TAIL: u32 = 0;
    /// The tail programs' names, by their index.
    pub const TAIL_NAMES: [&str; 1] = ["sys_exit_opened_file"];
    /// The same for the compat exit (a raw tracepoint program, whose tail programs must be
    /// raw tracepoint programs too: `COMPAT_EXIT_TAILS`).
    pub const COMPAT_TAIL_NAMES: [&str; 1] = ["compat_sys_exit_opened_file"];

    /// Each program's name in the object, by the numbers above.
    pub const NAMES: [&str; 5] = [
        "sys_exit",
        "sys_exit_strings",
        "sys_exit_opens",
        "sys_exit_dups",
        "sys_exit_sockets",
    ];
}

/// One entry of the `SYSCALLS` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallSpec {
    /// A [`SpecKind`].
    pub kind: u8,
    /// For `Exec`: index of the argv argument. For `Open`: index of openat2's `open_how`
    /// pointer ([`NO_ARG`] for the other opens). For `Socket`: index of the fd argument
    /// ([`NO_ARG`]: the result is the socket, as for accept).
    pub argv_arg: u8,
    /// Indexes of arguments read as NUL-terminated user strings ([`NO_ARG`] for none).
    pub str_args: [u8; crate::MAX_STRINGS],
    /// For `Socket`: index of the `struct sockaddr *` argument, its length the next one; with
    /// [`ADDR_IN_MSGHDR`] set, of a `struct msghdr *` whose `msg_name` it is (sendmsg).
    /// [`NO_ARG`] for none.
    pub addr_arg: u8,
    /// In the `COMPAT_SYSCALLS` map: the 64-bit number of the syscall this compat one is
    /// recorded as (so every record names a 64-bit definition). Unused in `SYSCALLS`.
    pub native_nr: u16,
}

impl SyscallSpec {
    pub const OFF: Self = Self {
        kind: SpecKind::Off as u8,
        argv_arg: NO_ARG,
        str_args: [NO_ARG; crate::MAX_STRINGS],
        addr_arg: NO_ARG,
        native_nr: 0,
    };
}

/// Marker kept for readers looking for the table type; the table itself lives in the agent.
pub type SyscallTable = [SyscallSpec; crate::SYSCALL_TABLE_LEN as usize];

#[cfg(feature = "user")]
// SAFETY: plain repr(C) bytes.
unsafe impl aya::Pod for SyscallSpec {}
