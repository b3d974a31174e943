//! The syscall recorder: one bit per syscall number entered by a task of a recorded cgroup.
//!
//! Attached to the `sys_enter` raw tracepoint only while a recording is active (the agent opens
//! and closes the link), so an idle sensor adds nothing to any syscall. While attached, a task
//! outside the recorded cgroups pays one cgroup id read and one hash lookup.

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, generated::bpf_get_current_task_btf},
    macros::{map, raw_tracepoint},
    maps::PerCpuHashMap,
    programs::RawTracePointContext,
};
use sensor_common::{
    recorder::{MAX_RECORDED_CGROUPS, SYSCALL_BITS, X32_SYSCALL_BIT},
    KernelOffsets, SyscallBitmap,
};

use crate::maps::offsets;

/// Recorded cgroups (by id) and the syscalls seen in each, per CPU.
#[map]
pub static RECORDINGS: PerCpuHashMap<u64, SyscallBitmap> =
    PerCpuHashMap::with_max_entries(MAX_RECORDED_CGROUPS, 0);

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn record_syscall(ctx: RawTracePointContext) -> i32 {
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    let Some(bitmap) = RECORDINGS.get_ptr_mut(cgroup) else {
        return 0;
    };
    // sys_enter(struct pt_regs *regs, long id)
    let id: u64 = ctx.arg(1);
    let o = offsets();
    let compat = o.task_compat != KernelOffsets::MISSING && {
        let task = unsafe { bpf_get_current_task_btf() } as *const u8;
        let word =
            unsafe { core::ptr::read_volatile(task.add(o.task_compat as usize) as *const u32) };
        word & o.compat_mask != 0
    };
    // x32 shares x86_64's numbers past its flag bit; libseccomp names them per ABI.
    let nr = if compat { id } else { id & !X32_SYSCALL_BIT };
    // SAFETY: this CPU's copy; no other program touches it while this one runs.
    let bitmap = unsafe { &mut *bitmap };
    if nr >= SYSCALL_BITS as u64 {
        bitmap.out_of_range += 1;
        return 0;
    }
    let word = (nr / 64) as usize;
    let bit = 1u64 << (nr % 64);
    let words = if compat {
        &mut bitmap.compat
    } else {
        &mut bitmap.native
    };
    if let Some(w) = words.get_mut(word) {
        *w |= bit;
    }
    0
}
