//! The generic enter and exit programs for every traced syscall.
//!
//! Every `syscalls:sys_enter_*` tracepoint has `__syscall_nr` at offset 8 and the arguments in
//! 8-byte slots from offset 16; every `sys_exit_*` has `ret` at 16. One program of each kind
//! therefore serves all of them. The number and the result, which every one of them has, are
//! loaded from the context directly; the arguments with one probe read, because attaching
//! fails where a program loads past the end of a tracepoint's record, and the read of six
//! slots would pass the end of a call with fewer (the slots past a call's own arguments
//! read as whatever the trace buffer holds; nothing reads an argument a call does not have).
//!
//! Most syscalls (`SpecKind::Plain`) need only the exit program: it reads the arguments from
//! the registers saved at entry. The enter program runs only where something must be captured
//! before the call: the caller's credentials for exec, set*id and capset. An exec's arguments
//! come from the kernel at `sched_process_exec` (`exec.rs`), or, if it failed, from the
//! caller's memory at the exit. `Checked` and `Mount` calls have an enter program too, which
//! hashes their strings so the exit can tell whether a thread rewrote them during the call
//! (`arg_check.rs`); a new mount's source and type come from the kernel (`new_mount.rs`), and
//! an open's file from the caller's fd table (`open.rs`).
//! The work itself (`enter`, `exit`) is shared with the 32-bit
//! compat programs (`compat.rs`).

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext,
};
use sensor_common::{
    arg_hash, loss,
    record::{abi, string_bit},
    syscall::{exit_program, SpecKind, NO_ARG},
    Creds, RecordKind, SyscallSpec, MAX_STRINGS, SYSCALL_TABLE_LEN,
};

use crate::{
    arg_check, exec, filter,
    maps::{
        count_loss, offsets, self_tgid, Pending, COMPAT_EXIT_TAILS, EXIT_TAILS, PENDING, SYSCALLS,
    },
    new_mount::{self, NewMount},
    open,
    record::Builder,
    socket,
    task::{current_creds, saved_args},
};

const NR_OFFSET: usize = 8;
const ARGS_OFFSET: usize = 16;
const RET_OFFSET: usize = 16;

/// A traced call: its 64-bit number and spec, and the ABI and number it was made through.
#[derive(Clone, Copy)]
pub struct Call {
    pub nr: u32,
    pub abi: u8,
    pub abi_nr: u32,
    pub spec: SyscallSpec,
}

/// A direct load from the tracepoint's context, at an offset aligned to `T`'s size.
#[inline(always)]
unsafe fn load_ctx<T: Copy>(ctx: &TracePointContext, offset: usize) -> T {
    unsafe { core::ptr::read_volatile((ctx.as_ptr() as *const u8).add(offset) as *const T) }
}

#[inline(always)]
fn native_call(ctx: &TracePointContext) -> Option<Call> {
    let nr = unsafe { load_ctx::<i32>(ctx, NR_OFFSET) } as u32;
    if nr >= SYSCALL_TABLE_LEN {
        return None;
    }
    let spec = *SYSCALLS.get(nr)?;
    (spec.kind != SpecKind::Off as u8).then_some(Call {
        nr,
        abi: abi::NATIVE,
        abi_nr: nr,
        spec,
    })
}

#[tracepoint]
pub fn sys_enter(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return 0;
    }
    let Some(call) = native_call(&ctx) else {
        return 0;
    };
    // One read for all six slots: a helper call each would double the enter's cost.
    let args = unsafe { ctx.read_at::<[u64; 6]>(ARGS_OFFSET) }.unwrap_or([0; 6]);
    enter(pid_tgid, &call, args);
    0
}

/// The exit of a call whose kind's exit program (`SpecKind::exit_program`) is `PROGRAM`.
#[inline(always)]
fn native_exit<const PROGRAM: u8>(ctx: &TracePointContext) {
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid() {
        return;
    }
    let Some(call) = native_call(ctx) else {
        return;
    };
    let res: i64 = unsafe { load_ctx(ctx, RET_OFFSET) };
    exit::<PROGRAM, _>(ctx, pid_tgid, &call, res, || {
        saved_args(&offsets().pt_regs_args)
    });
}

#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    native_exit::<{ exit_program::BASIC }>(&ctx);
    0
}

#[tracepoint]
pub fn sys_exit_strings(ctx: TracePointContext) -> u32 {
    native_exit::<{ exit_program::STRINGS }>(&ctx);
    0
}

#[tracepoint]
pub fn sys_exit_opens(ctx: TracePointContext) -> u32 {
    native_exit::<{ exit_program::OPENS }>(&ctx);
    0
}

/// Hands the record to `sys_exit_opened_file` (`compat_sys_exit_opened_file` from the compat
/// exit) to add the file the call's fd names: the path walk in a program of its own, which
/// the verifier checks apart from the rest of the exit (5.10's verifier went past its budget
/// on the two together).
#[inline(always)]
fn continue_with_opened_file<const PROGRAM: u8, C: EbpfContext>(ctx: &C, record: Builder) {
    record.suspend();
    let tails = if PROGRAM == exit_program::ALL {
        &COMPAT_EXIT_TAILS
    } else {
        &EXIT_TAILS
    };
    unsafe { tails.tail_call(ctx, exit_program::OPENED_FILE_TAIL) };
    // Only if the tail call failed: the record goes without its file.
    if let Some(record) = Builder::resume() {
        record.submit();
    }
}

/// The second half of an open's or a dup's exit: the file its fd names, after the first half
/// wrote the rest of the record and left it in the scratch buffer.
#[inline(always)]
pub fn finish_opened_file() {
    let Some(mut record) = Builder::resume() else {
        return;
    };
    let h = record.header();
    let fd = h.res;
    let dup = SYSCALLS
        .get(h.syscall_nr)
        .is_some_and(|spec| spec.kind == SpecKind::Dup as u8);
    open::push_opened(&mut record, fd, dup);
    record.submit();
}

/// `EXIT_TAILS`' `OPENED_FILE_TAIL`.
#[tracepoint]
pub fn sys_exit_opened_file(_ctx: TracePointContext) -> u32 {
    finish_opened_file();
    0
}

#[tracepoint]
pub fn sys_exit_dups(ctx: TracePointContext) -> u32 {
    native_exit::<{ exit_program::DUPS }>(&ctx);
    0
}

#[tracepoint]
pub fn sys_exit_sockets(ctx: TracePointContext) -> u32 {
    native_exit::<{ exit_program::SOCKETS }>(&ctx);
    0
}

/// A traced call entered: keeps what must be read before the call, keyed by thread.
#[inline(always)]
pub fn enter(pid_tgid: u64, call: &Call, args: [u64; 6]) {
    let spec = &call.spec;
    let mut pending = Pending {
        syscall_nr: call.nr,
        abi: call.abi,
        written: 0,
        abi_nr: call.abi_nr as u16,
        enter_ns: unsafe { bpf_ktime_get_ns() },
        args,
        creds_before: Creds::default(),
        str_hash: [arg_hash::UNREADABLE; MAX_STRINGS],
        _pad: 0,
        newest_mount: 0,
    };
    if spec.kind == SpecKind::Checked as u8
        || spec.kind == SpecKind::Mount as u8
        || spec.kind == SpecKind::Open as u8
    {
        arg_check::hash_at_enter(&mut pending, &spec.str_args);
        if spec.kind == SpecKind::Mount as u8 {
            pending.newest_mount = new_mount::newest_now();
        } else if spec.kind == SpecKind::Open as u8 {
            open::read_open_how(&mut pending, spec);
        }
    } else {
        // Exec too: a setuid image changes the ids, and rules ask who the caller was before.
        pending.creds_before = current_creds();
    }
    let tid = pid_tgid as u32;
    match PENDING.get_ptr_mut(&tid) {
        // SAFETY: this thread's own entry; only its own programs touch it, one at a time.
        Some(entry) => unsafe { *entry = pending },
        // The thread's first traced call. If the insert fails, the exit is counted as
        // missing its enter.
        None => {
            let _ = PENDING.insert(&tid, &pending, 0);
        }
    }
}

/// A traced call returned `res`: writes its record. `plain_args` reads the arguments of a
/// call that had no enter program. `PROGRAM` is the call's kind's exit program: the code
/// of the other kinds is left out of it.
#[inline(always)]
pub fn exit<const PROGRAM: u8, C: EbpfContext>(
    ctx: &C,
    pid_tgid: u64,
    call: &Call,
    res: i64,
    plain_args: impl FnOnce() -> [u64; 6],
) {
    let mut spec = call.spec;
    let pending = if spec.kind == SpecKind::Plain as u8
        || spec.kind == SpecKind::Dup as u8
        || spec.kind == SpecKind::Socket as u8
    {
        Pending {
            syscall_nr: call.nr,
            abi: call.abi,
            written: 0,
            abi_nr: call.abi_nr as u16,
            enter_ns: 0,
            args: plain_args(),
            creds_before: Creds::default(),
            str_hash: [arg_hash::UNREADABLE; MAX_STRINGS],
            _pad: 0,
            newest_mount: 0,
        }
    } else {
        let tid = pid_tgid as u32;
        let Some(entry) = PENDING.get_ptr_mut(&tid) else {
            count_loss(loss::MISSING_ENTER);
            crate::diag::missing_enter(call.nr, call.abi, u32::MAX);
            return;
        };
        // SAFETY: this thread's own entry; only its own programs touch it, one at a time.
        let pending = unsafe { *entry };
        unsafe { (*entry).syscall_nr = Pending::CONSUMED };
        if pending.written != 0 {
            // An exec that changed ABI: `sched_process_exec` wrote it.
            return;
        }
        if pending.syscall_nr != call.nr || pending.abi != call.abi {
            match exec_under_another_number(call, &pending) {
                Some(entered) => spec = entered,
                None => {
                    // Not this call's enter: one thread makes one call at a time, so its
                    // own enter was lost (the map was full).
                    count_loss(loss::MISSING_ENTER);
                    crate::diag::missing_enter(call.nr, call.abi, pending.syscall_nr);
                    return;
                }
            }
        }
        pending
    };
    // 32-bit calls skip the filter: their arguments are in their own ABI's registers.
    if call.abi == abi::NATIVE && !filter::keeps(pending.syscall_nr, &pending, &spec, res) {
        return;
    }
    write_syscall_record::<PROGRAM, C>(ctx, &pending, &spec, res);
}

/// The spec of the exec call `pending` entered, when the exit `call` is that exec's under
/// another exec's number. A successful execveat returns through the execve exit (this
/// kernel's syscall tracepoints report the exec'd task's number as execve's once the new
/// image is in place): without this, every successful execveat (fexecve, a memfd's exec)
/// would be lost as an exit without its enter, and no exec rule would see it.
#[inline(always)]
fn exec_under_another_number(call: &Call, pending: &Pending) -> Option<SyscallSpec> {
    if call.spec.kind != SpecKind::Exec as u8 || pending.abi != call.abi {
        return None;
    }
    let entered = *SYSCALLS.get(pending.syscall_nr)?;
    (entered.kind == SpecKind::Exec as u8).then_some(entered)
}

/// Writes the `Syscall` record of a call that returned `res`.
#[inline(always)]
fn write_syscall_record<const PROGRAM: u8, C: EbpfContext>(
    ctx: &C,
    pending: &Pending,
    spec: &SyscallSpec,
    res: i64,
) {
    let Some(mut record) = Builder::new(
        RecordKind::Syscall as u8,
        pending.syscall_nr,
        pending.enter_ns,
    ) else {
        return;
    };
    {
        let h = record.header();
        h.abi = pending.abi;
        h.abi_nr = pending.abi_nr;
        h.res = res;
        h.args = pending.args;
        h.creds_before = pending.creds_before;
    }
    // A kind's own program folds this to its own branch; `ALL` (compat) keeps them all.
    let program = exit_program::of(spec.kind);
    let runs = |p: u8| (PROGRAM == p || PROGRAM == exit_program::ALL) && program == p;
    if runs(exit_program::BASIC) {
        if spec.kind == SpecKind::Capset as u8 {
            push_cap_data(&mut record, pending.args[1]);
        } else if spec.kind == SpecKind::Exec as u8 && res < 0 {
            exec::push_failed_exec_args(&mut record, spec, pending);
        }
    } else if runs(exit_program::SOCKETS) {
        socket::push_socket(&mut record, pending, spec, res);
    } else if runs(exit_program::DUPS) {
        if res >= 0 {
            continue_with_opened_file::<PROGRAM, C>(ctx, record);
            return;
        }
    } else if runs(exit_program::OPENS) {
        push_checked_strings(&mut record, pending, spec, res);
        if res >= 0 {
            continue_with_opened_file::<PROGRAM, C>(ctx, record);
            return;
        }
    } else if runs(exit_program::STRINGS) {
        push_checked_strings(&mut record, pending, spec, res);
    }
    record.submit();
}

/// The strings of a `Checked` or `Mount` call, with their hashes at enter for the agent to
/// compare: each read again from the caller's memory, or, for a new mount's source and type,
/// from the kernel's mount.
#[inline(always)]
fn push_checked_strings(record: &mut Builder, pending: &Pending, spec: &SyscallSpec, res: i64) {
    let mount = if spec.kind == SpecKind::Mount as u8
        && res == 0
        && new_mount::makes_new_mount(pending.args[3])
    {
        new_mount::find(pending.newest_mount)
    } else {
        NewMount::Unknown
    };
    let mut read = (0u8, 0u8);
    // Unrolled: 5.10's verifier rejects a loop that closes by falling through into its head,
    // which is how this one compiled.
    push_checked_string(record, pending, spec, mount, 0, &mut read);
    push_checked_string(record, pending, spec, mount, 1, &mut read);
    push_checked_string(record, pending, spec, mount, 2, &mut read);
    let (from_kernel, unreadable) = read;
    let h = record.header();
    h.enter_hash = pending.str_hash;
    h.from_kernel = from_kernel;
    h.unreadable = unreadable;
    if let NewMount::Ambiguous = mount {
        h.changed = string_bit(0) | string_bit(2);
    }
}

/// String `slot` of a `Checked` or `Mount` call; sets its bit in `read`'s (from the kernel,
/// unreadable).
#[inline(always)]
fn push_checked_string(
    record: &mut Builder,
    pending: &Pending,
    spec: &SyscallSpec,
    mount: NewMount,
    slot: usize,
    read: &mut (u8, u8),
) {
    let arg = spec.str_args[slot];
    if arg == NO_ARG {
        return;
    }
    // mount(2)'s source is string 0 and its type string 2 (`probe::syscalls`).
    let from_mount = match mount {
        NewMount::Found(m) if slot == 0 => {
            new_mount::push_source(record, slot, m);
            true
        }
        NewMount::Found(m) if slot == 2 => {
            new_mount::push_fstype(record, slot, m);
            true
        }
        _ => false,
    };
    if from_mount {
        read.0 |= string_bit(slot);
    } else if record.push_user_str(slot, pending.arg(arg)).is_none() {
        read.1 |= string_bit(slot);
    }
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
