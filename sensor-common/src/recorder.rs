//! The syscall recorder's map layout: one bitmap per recorded cgroup, per CPU.
//!
//! The kernel side sets bit `nr` of `native` (or of `compat` for a 32-bit syscall of a 64-bit
//! kernel) for every syscall entered by a task in a recorded cgroup. Each CPU has its own copy
//! (a per-CPU hash), so setting a bit needs no atomic read-modify-write; the agent ORs the CPUs'
//! copies together when it reads a recording.
//!
//! Native syscalls are recorded by one program attached to each `syscalls:sys_enter_<name>`
//! tracepoint, with the tracepoint's index in the agent's list as its BPF cookie; the program
//! notes which syscall number each cookie stands for (`TRACEPOINT_SYSCALLS`), so the agent can
//! detach a tracepoint once every running recording has made its syscall.

/// Bits per ABI: covers every syscall number of x86_64, i386, x32 (with its flag bit removed),
/// arm64 and arm.
pub const SYSCALL_BITS: u32 = 1024;
/// `u64` words per ABI.
pub const SYSCALL_WORDS: usize = (SYSCALL_BITS / 64) as usize;
/// x32 syscalls carry this bit in their number (`__X32_SYSCALL_BIT`).
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// The value of the `RECORDINGS` map, keyed by cgroup id (`bpf_get_current_cgroup_id`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallBitmap {
    /// Syscalls of the kernel's own ABI (x86_64 and x32, or arm64).
    pub native: [u64; SYSCALL_WORDS],
    /// Compat syscalls (i386 on x86_64, arm on arm64).
    pub compat: [u64; SYSCALL_WORDS],
    /// Syscall numbers at or past [`SYSCALL_BITS`]: none exist today; counted so that a
    /// future one is reported instead of silently missing from a profile.
    pub out_of_range: u64,
    /// 32-bit processes that started (exec'd a compat image) in the cgroup while 32-bit
    /// syscalls were not recorded (`RAW_RECORDER_MODE` off).
    pub unrecorded_compat_execs: u64,
}

impl SyscallBitmap {
    pub const EMPTY: Self = Self {
        native: [0; SYSCALL_WORDS],
        compat: [0; SYSCALL_WORDS],
        out_of_range: 0,
        unrecorded_compat_execs: 0,
    };
}

/// Bits of the `RECORD_FILTER` map: bit `cgroup_id % FILTER_BITS` is set for every recorded
/// cgroup, so the recorder turns away most unrecorded tasks with one inlined array read
/// before it looks the cgroup up in the hash.
pub const FILTER_BITS: u64 = 4096;
pub const FILTER_WORDS: usize = (FILTER_BITS / 64) as usize;

/// Most cgroups recorded at once.
pub const MAX_RECORDED_CGROUPS: u32 = 1024;

/// Entries of `TRACEPOINT_SYSCALLS`: more than the `syscalls:sys_enter_*` tracepoints of any
/// kernel (about 360 on x86_64 6.18).
pub const MAX_SYSCALL_TRACEPOINTS: u32 = 1024;

/// What the `sys_enter` raw tracepoint program (`RAW_RECORDER_MODE`) records.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawRecorderMode {
    /// Not attached: 32-bit syscalls are not recorded (the exec program counts the 32-bit
    /// processes that start in recorded cgroups meanwhile).
    Off = 0,
    /// 32-bit compat and x32 syscalls only: the per-syscall tracepoints skip them.
    Compat = 1,
    /// Every syscall: the raw strategy, or kernels where the per-syscall programs cannot load
    /// (no BPF cookies before Linux 5.15).
    All = 2,
}

#[cfg(feature = "user")]
// SAFETY: plain repr(C) u64 fields.
unsafe impl aya::Pod for SyscallBitmap {}
