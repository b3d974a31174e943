//! Process lifecycle from the `sched` tracepoints, so the agent can keep its process table
//! current without rescanning /proc.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_get_current_task, bpf_probe_read_kernel},
    macros::{raw_tracepoint, tracepoint},
    programs::{RawTracePointContext, TracePointContext},
};
use sensor_common::{KernelOffsets, RecordKind};

use crate::{
    compat,
    maps::{offsets, self_tgid, PENDING},
    record::Builder,
};

/// Raw tracepoint, not the tracefs one: its arguments are the parent and child tasks, so a new
/// thread (same thread group as its creator) can be told from a new process here.
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return 0;
    }
    let o = offsets();
    if o.task_pid == KernelOffsets::MISSING || o.task_tgid == KernelOffsets::MISSING {
        return 0;
    }
    let child: *const u8 = ctx.arg(1);
    if child.is_null() {
        return 0;
    }
    let pid = unsafe { bpf_probe_read_kernel(child.add(o.task_pid as usize) as *const i32) };
    let tgid = unsafe { bpf_probe_read_kernel(child.add(o.task_tgid as usize) as *const i32) };
    let (Ok(pid), Ok(tgid)) = (pid, tgid) else {
        return 0;
    };
    if pid != tgid {
        return 0;
    }
    compat::track_fork((pid_tgid >> 32) as u32, pid as u32);
    let Some(mut record) = Builder::new(RecordKind::Fork as u8, 0, 0) else {
        return 0;
    };
    record.header().args[0] = pid as u32 as u64;
    record.submit();
    0
}

#[tracepoint]
pub fn sched_process_exit(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    // A thread that dies inside a traced syscall never reaches its exit: drop its entry.
    let _ = PENDING.remove(&(pid_tgid as u32));
    if tgid == self_tgid() {
        return 0;
    }
    let o = offsets();
    // The process ends with its last thread (`group_dead`); older kernels lack the field, and
    // there the leader's exit stands for it.
    let group_dead = if o.tp_exit_group_dead == KernelOffsets::MISSING {
        tgid == pid_tgid as u32
    } else {
        unsafe { ctx.read_at::<u8>(o.tp_exit_group_dead as usize) }.unwrap_or(0) != 0
    };
    if !group_dead {
        return 0;
    }
    compat::track_exit(tgid);
    let Some(mut record) = Builder::new(RecordKind::Exit as u8, 0, 0) else {
        return 0;
    };
    if o.task_exit_code != KernelOffsets::MISSING {
        let task = unsafe { bpf_get_current_task() } as *const u8;
        let code =
            unsafe { bpf_probe_read_kernel(task.add(o.task_exit_code as usize) as *const i32) }
                .unwrap_or(0);
        record.header().args[0] = code as u32 as u64;
    }
    record.submit();
    0
}
