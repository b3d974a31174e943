//! The 32-bit compat ABI (i386 on x86_64, arm on arm64).
//!
//! The kernel's `syscalls:sys_{enter,exit}_*` tracepoints skip 32-bit syscalls
//! (`trace_get_syscall_nr` returns -1 in a compat call), so a 32-bit process would be
//! invisible to `syscall.rs`. `compat_sys_enter` and `compat_sys_exit` sit on the
//! `raw_syscalls` raw tracepoints instead, turn every call but compat ones away, translate the
//! compat number to its 64-bit twin (`COMPAT_SYSCALLS`, filled by the agent from its per-arch
//! table) and share the 64-bit programs' work. A raw tracepoint program runs on every syscall
//! of every task, so the agent attaches them only while a 32-bit process exists
//! (`COMPAT_PROCESSES`, kept here from exec, fork and exit). A process that execs a 32-bit
//! image while they are detached is stopped before it returns to user space and continued by
//! the agent once they are attached, so none of its calls slips past.

use aya_ebpf::{
    bindings::BPF_RB_FORCE_WAKEUP,
    helpers::{bpf_get_current_pid_tgid, generated::bpf_send_signal},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};
use sensor_common::{
    compat::{control, stopped, Mode},
    loss,
    record::abi,
    syscall::{exit_program, SpecKind},
    KernelOffsets, SYSCALL_TABLE_LEN,
};

use crate::{
    maps::{
        count_loss, offsets, self_tgid, COMPAT_CONTROL, COMPAT_PROCESSES, COMPAT_STOPPED,
        COMPAT_SYSCALLS, COMPAT_WAKE,
    },
    syscall::{enter, exit, Call},
    task::{current_is_compat, saved_args, saved_syscall_nr},
};

const SIGSTOP: u32 = 19;

/// The traced compat call numbered `id` in the compat ABI, as its 64-bit twin.
#[inline(always)]
fn compat_call(id: u64) -> Option<Call> {
    let abi_nr = id as u32;
    if id >= SYSCALL_TABLE_LEN as u64 {
        return None;
    }
    let spec = *COMPAT_SYSCALLS.get(abi_nr)?;
    (spec.kind != SpecKind::Off as u8).then_some(Call {
        nr: spec.native_nr as u32,
        abi: abi::COMPAT,
        abi_nr,
        spec,
    })
}

/// A compat call's arguments: 32-bit registers, zero-extended as the kernel's compat entry
/// does (the upper halves are whatever a 64-bit caller of `int $0x80` left there).
#[inline(always)]
fn compat_args(o: &KernelOffsets) -> [u64; 6] {
    saved_args(&o.pt_regs_compat_args).map(|arg| arg & 0xffff_ffff)
}

// sys_enter(struct pt_regs *regs, long id)
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn compat_sys_enter(ctx: RawTracePointContext) -> i32 {
    let o = offsets();
    if !current_is_compat(&o) {
        return 0;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return 0;
    }
    let id: u64 = ctx.arg(1);
    let Some(call) = compat_call(id) else {
        return 0;
    };
    enter(pid_tgid, &call, compat_args(&o));
    0
}

// sys_exit(struct pt_regs *regs, long ret)
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn compat_sys_exit(ctx: RawTracePointContext) -> i32 {
    let o = offsets();
    if !current_is_compat(&o) {
        return 0;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return 0;
    }
    // The number the call was entered with (`orig_ax`, `syscallno`); compat numbers are
    // 32-bit ints.
    let id = saved_syscall_nr(o.pt_regs_syscall_nr) as u64;
    let Some(call) = compat_call(id) else {
        return 0;
    };
    // A compat call returns a 32-bit value in a 64-bit register.
    let ret: u64 = ctx.arg(1);
    let res = ret as i32 as i64;
    exit::<{ exit_program::ALL }, _>(&ctx, pid_tgid, &call, res, || compat_args(&o));
    0
}

/// `COMPAT_EXIT_TAILS`' `OPENED_FILE_TAIL` (`syscall::finish_opened_file`).
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn compat_sys_exit_opened_file(_ctx: RawTracePointContext) -> i32 {
    crate::syscall::finish_opened_file();
    0
}

#[inline(always)]
fn mode() -> u32 {
    COMPAT_CONTROL
        .get(control::MODE)
        .copied()
        .unwrap_or(Mode::Off as u32)
}

/// `sched_process_exec` of process `tgid`: keeps `COMPAT_PROCESSES` current and stops a
/// process that starts a 32-bit image while the compat programs are detached.
#[inline(always)]
pub fn track_exec(tgid: u32, compat_image: bool) {
    if !compat_image {
        let _ = COMPAT_PROCESSES.remove(&tgid);
        return;
    }
    let _ = COMPAT_PROCESSES.insert(&tgid, &1, 0);
    if mode() == Mode::Armed as u32 {
        stop_until_attached(tgid);
    }
}

/// Stops the current process before it runs a single instruction of its 32-bit image: the
/// signal is acted on at the return to user space, where the exec returns. The agent
/// continues it once the compat programs are attached. The entry goes in before the mode is
/// read again, and is marked SENT only after the signal: the agent continues only SENT
/// entries, so a SIGCONT can never come before the SIGSTOP it must undo.
#[inline(always)]
fn stop_until_attached(tgid: u32) {
    let _ = COMPAT_STOPPED.insert(&tgid, &stopped::PENDING, 0);
    if mode() != Mode::Armed as u32 {
        // Attached meanwhile, or the agent stopped handling it.
        let _ = COMPAT_STOPPED.remove(&tgid);
        return;
    }
    let ret = unsafe { bpf_send_signal(SIGSTOP) };
    if ret != 0 {
        let _ = COMPAT_STOPPED.remove(&tgid);
        count_loss(loss::COMPAT_UNSTOPPED);
        crate::diag::compat_unstopped(tgid, ret);
        return;
    }
    let _ = COMPAT_STOPPED.insert(&tgid, &stopped::SENT, 0);
    // The agent sleeps on this ring: wake it now rather than at its next poll.
    let _ = COMPAT_WAKE.output::<u32>(&tgid, BPF_RB_FORCE_WAKEUP as u64);
}

/// `sched_process_fork` of a new process: a 32-bit parent's child runs the same image.
#[inline(always)]
pub fn track_fork(parent_tgid: u32, child_tgid: u32) {
    if unsafe { COMPAT_PROCESSES.get(&parent_tgid) }.is_some() {
        let _ = COMPAT_PROCESSES.insert(&child_tgid, &1, 0);
    }
}

/// `sched_process_exit` of a whole process.
#[inline(always)]
pub fn track_exit(tgid: u32) {
    let _ = COMPAT_PROCESSES.remove(&tgid);
    // Killed while stopped: nothing to continue.
    let _ = COMPAT_STOPPED.remove(&tgid);
}
