//! The generic enter and exit programs for every traced syscall.
//!
//! Every `syscalls:sys_enter_*` tracepoint has `__syscall_nr` at offset 8 and the arguments in
//! 8-byte slots from offset 16; every `sys_exit_*` has `ret` at 16. One program of each kind
//! therefore serves all of them. Arguments are read with probe reads rather than direct context
//! access so that one program may attach to tracepoints with different argument counts.
//!
//! Most syscalls (`SpecKind::Plain`) need only the exit program: it reads the arguments from
//! the registers saved at entry. The enter program runs only where something must be captured
//! before the call: the caller's credentials for exec, set*id and capset. An exec's arguments
//! come from the kernel at `sched_process_exec` (`exec.rs`), or, if it failed, from the
//! caller's memory at the exit.

use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user,
        generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
    },
    macros::tracepoint,
    programs::TracePointContext,
};
use sensor_common::{
    loss,
    syscall::{SpecKind, NO_ARG},
    Creds, KernelOffsets, RecordKind, SyscallSpec, SYSCALL_TABLE_LEN,
};

use crate::{
    exec,
    maps::{count_loss, offsets, self_tgid, Pending, PENDING, SYSCALLS},
    record::Builder,
    task::current_creds,
};

const NR_OFFSET: usize = 8;
const ARGS_OFFSET: usize = 16;
const RET_OFFSET: usize = 16;

#[inline(always)]
fn spec_for(ctx: &TracePointContext) -> Option<(u32, SyscallSpec)> {
    let nr: i32 = unsafe { ctx.read_at(NR_OFFSET) }.ok()?;
    let nr = nr as u32;
    if nr >= SYSCALL_TABLE_LEN {
        return None;
    }
    let spec = *SYSCALLS.get(nr)?;
    (spec.kind != SpecKind::Off as u8).then_some((nr, spec))
}

#[tracepoint]
pub fn sys_enter(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return 0;
    }
    let Some((nr, spec)) = spec_for(&ctx) else {
        return 0;
    };
    let mut pending = Pending {
        syscall_nr: nr,
        _pad: 0,
        enter_ns: unsafe { bpf_ktime_get_ns() },
        args: [0; 6],
        creds_before: Creds::default(),
    };
    // One read for all six slots: a helper call each would double the enter's cost.
    pending.args = unsafe { ctx.read_at::<[u64; 6]>(ARGS_OFFSET) }.unwrap_or([0; 6]);
    // Exec too: a setuid image changes the ids, and rules ask who the caller was before.
    if spec.kind != SpecKind::Plain as u8 {
        pending.creds_before = current_creds();
    }
    let tid = pid_tgid as u32;
    // If the map is full the insert fails and the exit is counted as missing its enter.
    let _ = PENDING.insert(&tid, &pending, 0);
    0
}

#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return 0;
    }
    let Some((nr, spec)) = spec_for(&ctx) else {
        return 0;
    };
    let pending = if spec.kind == SpecKind::Plain as u8 {
        Pending {
            syscall_nr: nr,
            _pad: 0,
            enter_ns: 0,
            args: saved_args(),
            creds_before: Creds::default(),
        }
    } else {
        let tid = pid_tgid as u32;
        let Some(pending) = (unsafe { PENDING.get(&tid) }).copied() else {
            count_loss(loss::MISSING_ENTER);
            return 0;
        };
        let _ = PENDING.remove(&tid);
        if pending.syscall_nr != nr {
            // Not this call's enter: one thread makes one call at a time, so its own enter
            // was lost (the map was full).
            count_loss(loss::MISSING_ENTER);
            return 0;
        }
        pending
    };
    let res: i64 = unsafe { ctx.read_at(RET_OFFSET) }.unwrap_or(0);

    let Some(mut record) = Builder::new(RecordKind::Syscall as u8, nr, pending.enter_ns) else {
        return 0;
    };
    {
        let h = record.header();
        h.res = res;
        h.args = pending.args;
        h.creds_before = pending.creds_before;
    }
    if spec.kind == SpecKind::Capset as u8 {
        push_cap_data(&mut record, pending.args[1]);
    } else if spec.kind == SpecKind::Exec as u8 {
        if res < 0 {
            exec::push_failed_exec_args(&mut record, &spec, &pending);
        }
    } else {
        for slot in 0..sensor_common::MAX_STRINGS {
            let arg = spec.str_args[slot];
            if arg != NO_ARG {
                record.push_user_str(slot, pending.arg(arg));
            }
        }
    }
    record.submit();
    0
}

/// The syscall's arguments from the registers saved at its entry, which the kernel restores
/// on return and so leaves intact for the plain syscalls traced here.
#[inline(always)]
fn saved_args() -> [u64; 6] {
    let o = offsets();
    let task = unsafe { bpf_get_current_task_btf() };
    let regs = unsafe { bpf_task_pt_regs(task) } as *const u8;
    let mut args = [0u64; 6];
    if regs.is_null() {
        return args;
    }
    for (i, arg) in args.iter_mut().enumerate() {
        let off = o.pt_regs_args[i];
        if off != KernelOffsets::MISSING {
            *arg = unsafe { core::ptr::read_volatile(regs.add(off as usize) as *const u64) };
        }
    }
    args
}

/// capset's `data` argument points at two `__user_cap_data_struct` (effective, permitted,
/// inheritable; low and high 32 bits): carried raw as string 0 for the agent to decode.
#[inline(always)]
fn push_cap_data(record: &mut Builder, data: u64) {
    if data == 0 {
        return;
    }
    let Ok(caps) = (unsafe { bpf_probe_read_user(data as *const [u32; 6]) }) else {
        return;
    };
    unsafe { core::ptr::write_unaligned(record.cursor() as *mut [u32; 6], caps) };
    record.header().str_len[0] = 24;
    record.advance(24);
}
