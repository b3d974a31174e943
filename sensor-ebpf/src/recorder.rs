//! The syscall recorder: one bit per syscall number entered by a task of a recorded cgroup.
//!
//! Native syscalls: `record_syscall` is attached to one `syscalls:sys_enter_<name>` tracepoint
//! per syscall the running recordings have not all made yet, and the agent detaches each as
//! soon as they have. A syscall with no program attached costs no task anything, so once a
//! recorded workload has warmed up, the rest of the machine pays nothing for the syscalls it
//! makes. Those per-syscall tracepoints skip 32-bit syscalls; `record_raw_syscall` on the
//! `sys_enter` raw tracepoint records those, attached only for recordings that ask for them
//! (it runs on every syscall of every task while attached).

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, generated::bpf_get_attach_cookie},
    macros::{map, raw_tracepoint, tracepoint},
    maps::{Array, PerCpuHashMap},
    programs::{RawTracePointContext, TracePointContext},
    EbpfContext as _,
};
use sensor_common::{
    recorder::{
        RawRecorderMode, FILTER_BITS, FILTER_WORDS, MAX_RECORDED_CGROUPS, MAX_SYSCALL_TRACEPOINTS,
        SYSCALL_BITS, X32_SYSCALL_BIT,
    },
    KernelOffsets, SyscallBitmap,
};

use crate::{
    kernel_helpers::{current_task, load},
    maps::offsets,
    task::current_is_compat,
};

/// Recorded cgroups (by id) and the syscalls seen in each, per CPU.
#[map]
pub static RECORDINGS: PerCpuHashMap<u64, SyscallBitmap> =
    PerCpuHashMap::with_max_entries(MAX_RECORDED_CGROUPS, 0);

/// One bit per `cgroup_id % FILTER_BITS` of the recorded cgroups: an array lookup the verifier
/// inlines, so an unrecorded task is usually turned away without a helper call.
#[map]
pub static RECORD_FILTER: Array<[u64; FILTER_WORDS]> = Array::with_max_entries(1, 0);

/// Tracepoint (by cookie) -> its syscall number + 1, learnt the first time it fires: the
/// agent detaches a tracepoint by the number it stands for without a table of names.
#[map]
pub static TRACEPOINT_SYSCALLS: Array<u32> = Array::with_max_entries(MAX_SYSCALL_TRACEPOINTS, 0);

/// `RawRecorderMode` of `record_raw_syscall`, set by the agent before it attaches it.
#[map]
pub static RAW_RECORDER_MODE: Array<u32> = Array::with_max_entries(1, 0);

/// Whether the raw tracepoint is recording 32-bit syscalls now.
#[inline(always)]
pub fn compat_recorded() -> bool {
    RAW_RECORDER_MODE
        .get(0)
        .is_some_and(|&mode| mode != RawRecorderMode::Off as u32)
}

/// `__syscall_nr` of every `syscalls:sys_enter_*` record.
const SYSCALL_NR_OFFSET: usize = 8;

/// The current task's cgroup v2 id through BTF-typed loads where the kernel has them (no
/// helper call).
#[inline(always)]
fn current_cgroup_id(o: &KernelOffsets) -> u64 {
    if o.kernfs_node_id == KernelOffsets::MISSING {
        return unsafe { bpf_get_current_cgroup_id() };
    }
    unsafe {
        let ptr = |base: *const u8, off: u32| load::<u64>(base, off) as *const u8;
        let css_set = ptr(current_task(), o.task_cgroups);
        let cgroup = ptr(css_set, o.css_set_dfl_cgrp);
        let kn = ptr(cgroup, o.cgroup_kn);
        load::<u64>(kn, o.kernfs_node_id)
    }
}

/// Whether the current task's cgroup may be recorded (its filter bit is set): a recorded
/// workload's calls reach the agent whatever the kernel filter says, since recordings see
/// everything they ask for.
#[inline(always)]
pub fn maybe_recorded() -> bool {
    let Some(filter) = RECORD_FILTER.get(0) else {
        return false;
    };
    let bit = current_cgroup_id(offsets()) % FILTER_BITS;
    let word = filter.get((bit / 64) as usize).copied().unwrap_or(0);
    word & (1u64 << (bit % 64)) != 0
}

/// The current task's bitmap, if its cgroup is recorded.
#[inline(always)]
pub fn current_recording(o: &KernelOffsets) -> Option<&'static mut SyscallBitmap> {
    let cgroup = current_cgroup_id(o);
    let filter = RECORD_FILTER.get(0)?;
    let bit = cgroup % FILTER_BITS;
    let word = filter.get((bit / 64) as usize).copied().unwrap_or(0);
    if word & (1u64 << (bit % 64)) == 0 {
        return None;
    }
    let bitmap = RECORDINGS.get_ptr_mut(cgroup)?;
    // SAFETY: this CPU's copy; no other program touches it while this one runs.
    Some(unsafe { &mut *bitmap })
}

#[inline(always)]
fn set_bit(words: &mut [u64], nr: u64) {
    if let Some(w) = words.get_mut((nr / 64) as usize) {
        *w |= 1u64 << (nr % 64);
    }
}

#[tracepoint]
pub fn record_syscall(ctx: TracePointContext) -> u32 {
    let Ok(nr) = (unsafe { ctx.read_at::<i32>(SYSCALL_NR_OFFSET) }) else {
        return 0;
    };
    if nr < 0 {
        return 0;
    }
    let cookie = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) } as u32;
    if let Some(known) = TRACEPOINT_SYSCALLS.get_ptr_mut(cookie) {
        // SAFETY: an array slot; a racing writer on another CPU stores the same value.
        unsafe {
            if *known == 0 {
                *known = nr as u32 + 1;
            }
        }
    }
    let o = offsets();
    let Some(bitmap) = current_recording(o) else {
        return 0;
    };
    let nr = nr as u64;
    if nr >= SYSCALL_BITS as u64 {
        bitmap.out_of_range += 1;
        return 0;
    }
    set_bit(&mut bitmap.native, nr);
    0
}

// sys_enter(struct pt_regs *regs, long id)
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn record_raw_syscall(ctx: RawTracePointContext) -> i32 {
    let o = offsets();
    let id: u64 = ctx.arg(1);
    let compat = current_is_compat(o);
    let all = RAW_RECORDER_MODE.get(0).copied() == Some(RawRecorderMode::All as u32);
    // x32 shares x86_64's numbers past its flag bit; libseccomp names them per ABI. The
    // per-syscall tracepoints skip x32 as they skip compat.
    if !compat && !all && id & X32_SYSCALL_BIT == 0 {
        return 0;
    }
    let Some(bitmap) = current_recording(o) else {
        return 0;
    };
    let nr = if compat { id } else { id & !X32_SYSCALL_BIT };
    if nr >= SYSCALL_BITS as u64 {
        bitmap.out_of_range += 1;
        return 0;
    }
    if compat {
        set_bit(&mut bitmap.compat, nr);
    } else {
        set_bit(&mut bitmap.native, nr);
    }
    0
}
