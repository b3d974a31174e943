//! The syscall recorder: one bit per syscall number entered by a task of a recorded cgroup.
//!
//! Attached to the `sys_enter` raw tracepoint only while a recording is active (the agent opens
//! and closes the link), so an idle sensor adds nothing to any syscall. While attached, a task
//! outside the recorded cgroups pays one cgroup id read and one hash lookup.

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, generated::bpf_get_current_task_btf},
    macros::{map, raw_tracepoint},
    maps::{Array, PerCpuHashMap},
    programs::RawTracePointContext,
};
use sensor_common::{
    recorder::{FILTER_BITS, FILTER_WORDS, MAX_RECORDED_CGROUPS, SYSCALL_BITS, X32_SYSCALL_BIT},
    KernelOffsets, SyscallBitmap,
};

use crate::maps::offsets;

/// Recorded cgroups (by id) and the syscalls seen in each, per CPU.
#[map]
pub static RECORDINGS: PerCpuHashMap<u64, SyscallBitmap> =
    PerCpuHashMap::with_max_entries(MAX_RECORDED_CGROUPS, 0);

/// One bit per `cgroup_id % FILTER_BITS` of the recorded cgroups: an array lookup the verifier
/// inlines, so an unrecorded task is usually turned away without a helper call.
#[map]
pub static RECORD_FILTER: Array<[u64; FILTER_WORDS]> = Array::with_max_entries(1, 0);

/// The current task's cgroup v2 id through BTF-typed loads (no helper call).
#[inline(always)]
fn current_cgroup_id(o: &KernelOffsets) -> u64 {
    if o.kernfs_node_id == KernelOffsets::MISSING {
        return unsafe { bpf_get_current_cgroup_id() };
    }
    unsafe {
        let task = bpf_get_current_task_btf() as *const u8;
        let load = |base: *const u8, off: u32| -> *const u8 {
            if base.is_null() {
                return core::ptr::null();
            }
            core::ptr::read_volatile(base.add(off as usize) as *const *const u8)
        };
        let css_set = load(task, o.task_cgroups);
        let cgroup = load(css_set, o.css_set_dfl_cgrp);
        let kn = load(cgroup, o.cgroup_kn);
        if kn.is_null() {
            return 0;
        }
        core::ptr::read_volatile(kn.add(o.kernfs_node_id as usize) as *const u64)
    }
}

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn record_syscall(ctx: RawTracePointContext) -> i32 {
    let o = offsets();
    let cgroup = current_cgroup_id(&o);
    let Some(filter) = RECORD_FILTER.get(0) else {
        return 0;
    };
    let bit = cgroup % FILTER_BITS;
    let word = filter.get((bit / 64) as usize).copied().unwrap_or(0);
    if word & (1u64 << (bit % 64)) == 0 {
        return 0;
    }
    let Some(bitmap) = RECORDINGS.get_ptr_mut(cgroup) else {
        return 0;
    };
    // sys_enter(struct pt_regs *regs, long id)
    let id: u64 = ctx.arg(1);
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
