//! Maps and globals shared by the programs.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, ProgramArray, RingBuf},
};
use sensor_common::{
    compat::{control, MAX_COMPAT_PROCESSES, MAX_STOPPED, WAKE_RING_BYTES},
    loss, Creds, KernelOffsets, RecordHeader, SyscallSpec, DEFAULT_RING_BYTES, PATH_MAX,
    SYSCALL_TABLE_LEN,
};

/// Records for the agent. The agent may resize it before load.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(DEFAULT_RING_BYTES, 0);

/// Indexed by syscall number: how to trace it (zeroed = not traced).
#[map]
pub static SYSCALLS: Array<SyscallSpec> = Array::with_max_entries(SYSCALL_TABLE_LEN, 0);

/// Indexed by 32-bit compat syscall number: how to trace it, and its 64-bit twin's number.
#[map]
pub static COMPAT_SYSCALLS: Array<SyscallSpec> = Array::with_max_entries(SYSCALL_TABLE_LEN, 0);

/// Processes (tgid) running a 32-bit image: the compat programs stay attached while any does.
#[map]
pub static COMPAT_PROCESSES: HashMap<u32, u32> = HashMap::with_max_entries(MAX_COMPAT_PROCESSES, 0);

/// Processes (tgid) stopped at the exec of a 32-bit image until the compat programs are
/// attached: a `sensor_common::compat::stopped` state.
#[map]
pub static COMPAT_STOPPED: HashMap<u32, u32> = HashMap::with_max_entries(MAX_STOPPED, 0);

/// `sensor_common::compat::control`: the agent's switch (`Mode`).
#[map]
pub static COMPAT_CONTROL: Array<u32> = Array::with_max_entries(control::COUNT, 0);

/// Wakes the agent's compat thread when a process was stopped for it.
#[map]
pub static COMPAT_WAKE: RingBuf = RingBuf::with_byte_size(WAKE_RING_BYTES, 0);

/// A thread's syscall between its enter and exit, keyed by thread id. The entry stays with
/// the thread after the exit (marked `CONSUMED`) and the next enter overwrites it in place: a
/// lookup, where an insert and a delete per call cost the enter and the exit program a
/// third of their time. `sched_process_exit` removes it with the thread. An LRU, so that a
/// flood of threads that each made one call and went idle pushes out the idle ones, not an
/// entry of a thread inside a call (an entry pushed out mid-call is counted as an exit
/// without enter); the LRU's extra cost is paid only on a thread's first call.
#[map]
pub static PENDING: LruHashMap<u32, Pending> = LruHashMap::with_max_entries(65536, 0);

/// Programs an exit program continues in (`sensor_common::syscall::exit_program::TAIL_NAMES`),
/// filled by the agent.
#[map]
pub static EXIT_TAILS: ProgramArray = ProgramArray::with_max_entries(1, 0);

/// The same for the compat exit (`COMPAT_TAIL_NAMES`): a program array holds programs of one
/// type only.
#[map]
pub static COMPAT_EXIT_TAILS: ProgramArray = ProgramArray::with_max_entries(1, 0);

/// Loss counters (see `sensor_common::loss`), per CPU because this target has no atomics.
#[map]
pub static LOSS: PerCpuArray<u64> = PerCpuArray::with_max_entries(loss::COUNT, 0);

/// Where a record is assembled before it is copied into the ring buffer, so that its size can
/// follow the strings it carries instead of reserving the worst case.
#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// The agent's own process, by the id the kernel's helpers return (its pid in the initial pid
/// namespace): its activity is not reported. Written by `whoami` (`self_id.rs`), which the
/// agent runs once through `BPF_PROG_TEST_RUN` before anything is attached: the agent may run
/// in a pid namespace of its own (a pod without hostPID), where `getpid()` is another number,
/// and perhaps some other process's id on the host.
#[unsafe(no_mangle)]
pub static mut SELF_TGID: u32 = 0;

/// Structure offsets of the running kernel, read by the agent from BTF.
#[unsafe(no_mangle)]
pub static KERNEL_OFFSETS: KernelOffsets = KernelOffsets::UNSET;

/// String bytes a record holds at most: the write offset is masked to this span, so that the
/// verifier can prove a PATH_MAX write from any offset stays in the buffer. An exec image's
/// filename, argv and executable path (a PATH_MAX each) fit.
pub const STRINGS_SPAN: usize = 4 * PATH_MAX;
/// Room for the header, the strings and one more PATH_MAX write from the last offset.
pub const SCRATCH_BYTES: usize = RecordHeader::SIZE + STRINGS_SPAN + PATH_MAX;

#[repr(C)]
pub struct Scratch {
    pub buf: [u8; SCRATCH_BYTES],
    /// Records this CPU has written, to look at the ring's backlog only now and then.
    pub records: u64,
    /// String bytes of a record handed to a tail program (`Builder::suspend`).
    pub suspended_strings: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Pending {
    /// The 64-bit number (a compat call's twin); `CONSUMED` once the exit has taken it.
    pub syscall_nr: u32,
    /// `sensor_common::record::abi` of the enter.
    pub abi: u8,
    /// Set when `sched_process_exec` wrote this exec's record already: it changed ABI, so
    /// its exit runs through the other ABI's program, which only clears the entry.
    pub written: u8,
    /// The number in its own ABI.
    pub abi_nr: u16,
    pub enter_ns: u64,
    pub args: [u64; 6],
    pub creds_before: Creds,
    /// `arg_check`: the hash of each string argument at enter (`SpecKind::checks_strings`).
    pub str_hash: [u32; sensor_common::MAX_STRINGS],
    pub _pad: u32,
    /// `new_mount`: the namespace's newest mount at a mount(2)'s enter.
    pub newest_mount: u64,
}

#[inline(always)]
pub fn self_tgid() -> u32 {
    // SAFETY: a plain u32 global; volatile so the compiler does not fold the zero.
    unsafe { core::ptr::read_volatile(&raw const SELF_TGID) }
}

/// The kernel's offsets, by reference: a copy is ~200 bytes of the 512-byte BPF stack.
#[inline(always)]
pub fn offsets() -> &'static KernelOffsets {
    // SAFETY: a global the loader patches. The pointer is read volatile so that the compiler
    // cannot fold loads through it to the value the global had at build time.
    unsafe { &*core::ptr::read_volatile(&(&raw const KERNEL_OFFSETS)) }
}

#[inline(always)]
pub fn count_loss(index: u32) {
    if let Some(counter) = LOSS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU while the program runs.
        unsafe { *counter += 1 };
    }
}

impl Pending {
    /// `syscall_nr` of an entry whose call has returned.
    pub const CONSUMED: u32 = u32::MAX;

    /// Argument `i`, selected with branches: the verifier rejects a variable-offset read of
    /// the stack, which is what plain indexing compiles to.
    #[inline(always)]
    pub fn arg(&self, i: u8) -> u64 {
        match i {
            0 => self.args[0],
            1 => self.args[1],
            2 => self.args[2],
            3 => self.args[3],
            4 => self.args[4],
            5 => self.args[5],
            _ => 0,
        }
    }
}
