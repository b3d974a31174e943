//! The 32-bit compat path's maps: which processes run a 32-bit image, which were stopped at
//! their exec until the compat programs were attached, and the switch the agent sets.
//!
//! The `syscalls:sys_{enter,exit}_*` tracepoints skip 32-bit syscalls, so the compat programs
//! sit on the `raw_syscalls` `sys_enter`/`sys_exit` raw tracepoints, which every syscall of
//! every task pays for while they are attached. They are attached only while a 32-bit process
//! exists. A process that execs a 32-bit image while they are not attached is stopped
//! (SIGSTOP) before it returns to user space, so none of its calls can slip past; the agent
//! attaches them and continues it (SIGCONT).

/// Indexes into the `COMPAT_CONTROL` array.
pub mod control {
    /// One of [`super::Mode`].
    pub const MODE: u32 = 0;
    /// Entries of the array.
    pub const COUNT: u32 = 1;
}

/// What `sched_process_exec` does with a process that execs a 32-bit image.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The agent does not handle the compat path (turned off, or shutting down): the process
    /// runs on, and its 32-bit calls are not seen unless the programs happen to be attached.
    Off = 0,
    /// The compat programs are not attached: stop the process until they are.
    Armed = 1,
    /// The compat programs are attached.
    Attached = 2,
}

/// Values of the `COMPAT_STOPPED` map (tgid -> state).
pub mod stopped {
    /// The exec program is about to send SIGSTOP: not to be continued yet (a SIGCONT sent
    /// before the SIGSTOP would leave the process stopped for good).
    pub const PENDING: u32 = 1;
    /// SIGSTOP was sent: continue it once the programs are attached.
    pub const SENT: u32 = 2;
}

/// Most processes tracked as running a 32-bit image.
pub const MAX_COMPAT_PROCESSES: u32 = 8192;
/// Most processes stopped at once while the agent attaches.
pub const MAX_STOPPED: u32 = 1024;
/// Bytes of the ring the exec program wakes the agent's compat thread through.
pub const WAKE_RING_BYTES: u32 = 4096;
