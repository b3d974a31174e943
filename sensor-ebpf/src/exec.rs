//! The exec family: argv at enter, the new image at `sched_process_exec`.

use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated::bpf_probe_read_user_str},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext as _,
};
use sensor_common::{
    record::{truncated_bit, TRUNCATED_ARGV_COUNT},
    RecordKind, SyscallSpec, ARGV_COUNT_MAX, ARGV_MAX, PATH_MAX,
};

use crate::{
    maps::{offsets, self_tgid, Pending, PENDING},
    record::Builder,
    recorder::{compat_recorded, current_is_compat, current_recording},
};

/// Emits an `ExecArgs` record: string 0 is the filename, string 1 the NUL-separated argv.
#[inline(always)]
pub fn emit_exec_args(nr: u32, spec: &SyscallSpec, pending: &Pending) {
    let Some(mut record) = Builder::new(RecordKind::ExecArgs as u8, nr, pending.enter_ns) else {
        return;
    };
    record.header().args = pending.args;
    record.push_user_str(0, pending.arg(spec.str_args[0]));
    push_argv(&mut record, pending.arg(spec.argv_arg));
    record.submit();
}

#[inline(always)]
fn push_argv(record: &mut Builder, argv: u64) {
    if argv == 0 {
        return;
    }
    let mut written = 0usize;
    let mut truncated = 0u16;
    for i in 0..ARGV_COUNT_MAX {
        if written >= ARGV_MAX {
            truncated |= truncated_bit(1);
            break;
        }
        let Ok(arg) = (unsafe { bpf_probe_read_user((argv + 8 * i as u64) as *const u64) }) else {
            break;
        };
        if arg == 0 {
            break;
        }
        if i == ARGV_COUNT_MAX - 1 {
            truncated |= TRUNCATED_ARGV_COUNT;
        }
        // Each argument keeps its NUL as the separator.
        let ret = unsafe {
            bpf_probe_read_user_str(record.cursor() as *mut _, PATH_MAX as u32, arg as *const _)
        };
        if ret <= 0 {
            break;
        }
        let len = (ret as usize) & (2 * PATH_MAX - 1);
        record.advance(len);
        written += len;
    }
    if written > ARGV_MAX {
        // The last argument ran past the bound: keep what fits and say so.
        truncated |= truncated_bit(1);
        record.retreat(written - ARGV_MAX);
        written = ARGV_MAX;
    }
    let h = record.header();
    h.truncated |= truncated;
    h.str_len[1] = written as u16;
}

/// `sched_process_exec`: the exec succeeded. `filename` is a `__data_loc` string (offset and
/// length packed in a u32 at offset 8); `pid` and `old_pid` differ when a non-leader thread
/// exec'd and took over the leader's pid, so its pending exit moves to the new id.
#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    let Ok(pid) = (unsafe { ctx.read_at::<i32>(12) }) else {
        return 0;
    };
    let Ok(old_pid) = (unsafe { ctx.read_at::<i32>(16) }) else {
        return 0;
    };
    if pid != old_pid {
        let old = old_pid as u32;
        if let Some(pending) = unsafe { PENDING.get(&old) }.copied() {
            let _ = PENDING.insert(&(pid as u32), &pending, 0);
            let _ = PENDING.remove(&old);
        }
    }
    if pid as u32 == self_tgid() {
        return 0;
    }
    // A 32-bit image in a recorded cgroup whose 32-bit syscalls are not being recorded: the
    // agent warns that the profile would break it.
    let o = offsets();
    if current_is_compat(&o) && !compat_recorded() {
        if let Some(bitmap) = current_recording(&o) {
            bitmap.unrecorded_compat_execs += 1;
        }
    }
    let Ok(loc) = (unsafe { ctx.read_at::<u32>(8) }) else {
        return 0;
    };
    let Some(mut record) = Builder::new(RecordKind::ExecImage as u8, 0, 0) else {
        return 0;
    };
    record.header().args[0] = old_pid as u32 as u64;
    let offset = (loc & 0xffff) as usize;
    let filename = unsafe { (ctx.as_ptr() as *const u8).add(offset) };
    let ret = unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_kernel_str(
            record.cursor() as *mut _,
            PATH_MAX as u32,
            filename as *const _,
        )
    };
    if ret > 0 {
        let len = (ret as usize - 1) & (PATH_MAX - 1);
        record.header().str_len[0] = len as u16;
        record.advance(len);
    }
    record.submit();
    0
}
