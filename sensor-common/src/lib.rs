//! Wire format shared by the sensor's eBPF programs and its agent.
//!
//! Everything here is `#[repr(C)]` plain data: the kernel side writes it into maps and the ring
//! buffer, the agent reads the same bytes back. Change a layout only on both sides at once.
#![no_std]

pub mod arg_hash;
pub mod compat;
pub mod filter;
pub mod kernel_helpers;
pub mod offsets;
pub mod record;
pub mod recorder;
pub mod syscall;

pub use offsets::KernelOffsets;
pub use record::{Creds, RecordHeader, RecordKind, TaskInfo};
pub use recorder::SyscallBitmap;
pub use syscall::{SyscallSpec, SyscallTable};

/// PATH_MAX: the longest path the kernel accepts, NUL included.
pub const PATH_MAX: usize = 4096;
/// Bytes of `argv` captured per exec (NUL-separated), past which the field is marked truncated.
pub const ARGV_MAX: usize = 4096;
/// The most bytes of an exec's environment recorded (`proc.env`).
pub const ENV_MAX: usize = 4096;
/// Arguments read per exec, past which the field is marked truncated.
pub const ARGV_COUNT_MAX: u32 = 64;
/// Strings a record carries at most (mount's source, target and fstype).
pub const MAX_STRINGS: usize = 3;
/// The kernel's TASK_COMM_LEN.
pub const COMM_LEN: usize = 16;
/// Size of the syscall spec array: covers every syscall number on the supported architectures.
pub const SYSCALL_TABLE_LEN: u32 = 512;
/// Default size of the event ring buffer (DESIGN.md: at least 8 MiB).
pub const DEFAULT_RING_BYTES: u32 = 16 * 1024 * 1024;
/// Fill level past which a producer forces a reader wakeup instead of leaving it to the timer.
pub const WAKEUP_THRESHOLD_BYTES: u64 = 256 * 1024;
/// A CPU checks the fill level on every this many records it writes.
pub const WAKEUP_CHECK_EVERY: u64 = 32;

/// Per-CPU loss counters, indexes into the `LOSS` per-CPU array.
pub mod loss {
    /// A record could not be written to the ring buffer (full).
    pub const RING_FULL: u32 = 0;
    /// A syscall exit arrived without its enter (the pending map was full or evicted it).
    pub const MISSING_ENTER: u32 = 1;
    /// A process exec'd a 32-bit image while the compat programs were not attached and
    /// could not be stopped until they were (`bpf_send_signal` failed): its first 32-bit
    /// calls may have gone unseen.
    pub const COMPAT_UNSTOPPED: u32 = 2;
    /// Number of counters.
    pub const COUNT: u32 = 3;
}
