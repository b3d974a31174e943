//! The exec family. A successful exec is described from the kernel's own memory at
//! `sched_process_exec` (the filename it opened, the argv it copied into the new image, the
//! file it mapped), so neither a racing thread nor a page the caller never touched changes
//! what is reported. A failed exec leaves the caller's memory in place: its filename and argv
//! are read at the syscall's exit.

use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated::bpf_probe_read_user_str},
    macros::tracepoint,
    programs::TracePointContext,
    EbpfContext as _,
};
use sensor_common::{
    record::{abi, exe_flags, truncated_bit, TRUNCATED_ARGV_COUNT},
    KernelOffsets, RecordKind, SyscallSpec, ARGV_COUNT_MAX, ARGV_MAX, ENV_MAX, PATH_MAX,
};

use crate::{
    compat, exe_path,
    maps::{offsets, self_tgid, Pending, PENDING},
    record::Builder,
    recorder::{compat_recorded, current_recording},
    task::current_is_compat,
};

/// A failed exec's filename (string 0) and argv (string 1, NUL-separated), read from the
/// caller's memory at the syscall's exit: the kernel has faulted the filename's page in by
/// then, which a read at enter could not count on.
#[inline(always)]
pub fn push_failed_exec_args(record: &mut Builder, spec: &SyscallSpec, pending: &Pending) {
    record.push_user_str(0, pending.arg(spec.str_args[0]));
    // A 32-bit caller's argv is an array of 4-byte pointers.
    let pointer_size = if pending.abi == abi::COMPAT { 4 } else { 8 };
    push_argv(record, pending.arg(spec.argv_arg), pointer_size);
}

#[inline(always)]
fn push_argv(record: &mut Builder, argv: u64, pointer_size: u64) {
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
        let at = argv + pointer_size * i as u64;
        let arg = if pointer_size == 4 {
            unsafe { bpf_probe_read_user(at as *const u32) }.map(u64::from)
        } else {
            unsafe { bpf_probe_read_user(at as *const u64) }
        };
        let Ok(arg) = arg else {
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

/// `sched_process_exec`, first program: the `ExecImage` record, what the exec ran, from the
/// kernel's memory before the new image runs. A program of its own, attached before
/// [`sched_process_exec`] so its record comes first: the path walk's loops verified together
/// with the compat bookkeeping went past the verifier's budget. `filename` is a `__data_loc`
/// string (offset and length packed in a u32 at offset 8).
#[tracepoint]
pub fn exec_image(ctx: TracePointContext) -> u32 {
    let Ok(pid) = (unsafe { ctx.read_at::<i32>(12) }) else {
        return 0;
    };
    let Ok(old_pid) = (unsafe { ctx.read_at::<i32>(16) }) else {
        return 0;
    };
    if pid as u32 == self_tgid() {
        return 0;
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
    let flags = push_image(&mut record, offsets());
    record.header().args[1] = flags;
    record.submit();
    0
}

/// `sched_process_exec`, second program: the exec succeeded. `pid` and `old_pid` differ when a
/// non-leader thread exec'd and took over the leader's pid, so its pending exit moves to the
/// new id; a 32-bit image is tracked for the compat programs, and an exec that changed ABI
/// has its syscall record written here.
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
    let o = offsets();
    let compat_image = current_is_compat(o);
    // A 32-bit image in a recorded cgroup whose 32-bit syscalls are not being recorded: the
    // agent warns that the profile would break it.
    if compat_image && !compat_recorded() {
        if let Some(bitmap) = current_recording(o) {
            bitmap.unrecorded_compat_execs += 1;
        }
    }
    compat::track_exec(pid as u32, compat_image);
    write_if_abi_changed(pid as u32, compat_image);
    0
}

/// The new image's argv (string 1) and executable path (string 2); returns [`exe_flags`].
#[inline(always)]
fn push_image(record: &mut Builder, o: &KernelOffsets) -> u64 {
    if o.task_mm == KernelOffsets::MISSING || o.mount_ns == KernelOffsets::MISSING {
        return exe_flags::NO_IMAGE;
    }
    let task = crate::kernel_helpers::current_task() as u64;
    let read = crate::exe_path::read_ptr;
    let mm = read(task, o.task_mm);
    if mm == 0 {
        return exe_flags::NO_IMAGE;
    }
    // The argument area the kernel filled on the new stack: present, and written by nothing
    // but the kernel until the image runs.
    let arg_start = read(mm, o.mm_arg_start);
    let arg_end = read(mm, o.mm_arg_end);
    let mut len = arg_end.wrapping_sub(arg_start) as usize;
    if arg_end < arg_start {
        len = 0;
    }
    if len > ARGV_MAX {
        len = ARGV_MAX;
        record.header().truncated |= truncated_bit(1);
    }
    if len > 0
        && unsafe {
            aya_ebpf::helpers::generated::bpf_probe_read_user(
                record.cursor() as *mut _,
                len as u32,
                arg_start as *const _,
            )
        } == 0
    {
        record.header().str_len[1] = len as u16;
        record.advance(len);
    }
    // The environment the kernel copied after argv (`mm->env_start..env_end`), appended to
    // string 1; `args[2]` says where argv ends.
    record.header().args[2] = u64::from(record.header().str_len[1]);
    push_env(record, read(mm, o.mm_env_start), read(mm, o.mm_env_end));
    let exe_file = read(mm, o.mm_exe_file);
    let dentry = read(exe_file, o.file_path_dentry);
    let vfsmount = read(exe_file, o.file_path_mnt);
    let nsproxy = read(task, o.task_nsproxy);
    let mnt_ns = read(nsproxy, o.nsproxy_mnt_ns);
    exe_path::push_path(record, 2, dentry, vfsmount, mnt_ns, o) | upper_layer(exe_file, o)
}

/// Appends the environment area `start..end` (at most [`ENV_MAX`] bytes, marked truncated
/// beyond) to string 1.
#[inline(always)]
fn push_env(record: &mut Builder, start: u64, end: u64) {
    if start == 0 || end <= start {
        return;
    }
    let mut len = (end - start) as usize;
    if len > ENV_MAX {
        len = ENV_MAX;
        record.header().truncated |= sensor_common::record::TRUNCATED_ENV;
    }
    if len == 0 {
        return;
    }
    if unsafe {
        aya_ebpf::helpers::generated::bpf_probe_read_user(
            record.cursor() as *mut _,
            len as u32,
            start as *const _,
        )
    } == 0
    {
        let h = record.header();
        h.str_len[1] = h.str_len[1].wrapping_add(len as u16);
        record.advance(len);
    }
}

/// [`exe_flags::UPPER_LAYER`] if `file` is an overlayfs file present in the upper layer.
#[inline(always)]
fn upper_layer(file: u64, o: &KernelOffsets) -> u64 {
    /// `OVERLAYFS_SUPER_MAGIC`.
    const OVERLAYFS_MAGIC: u64 = 0x794c_7630;
    if o.ovl_inode_upperdentry == KernelOffsets::MISSING || o.file_f_inode == KernelOffsets::MISSING
    {
        return 0;
    }
    let inode = exe_path::read_ptr(file, o.file_f_inode);
    let sb = exe_path::read_ptr(inode, o.inode_i_sb);
    if inode == 0 || exe_path::read_ptr(sb, o.sb_magic) & 0xffff_ffff != OVERLAYFS_MAGIC {
        return 0;
    }
    // The inode is the `vfs_inode` inside its `struct ovl_inode`.
    let ovl = inode.wrapping_sub(o.ovl_inode_vfs_inode as u64);
    if exe_path::read_ptr(ovl, o.ovl_inode_upperdentry) != 0 {
        exe_flags::UPPER_LAYER
    } else {
        0
    }
}

/// An exec whose new image runs in the other ABI than the call was made in (a 64-bit shell
/// starting a 32-bit binary, or back) returns through the other ABI's exit: the 64-bit
/// `sys_exit_execve` tracepoint never fires for a 32-bit image, and the compat exit program
/// may not be attached yet. Its record is written here, joined with its enter: it succeeded.
#[inline(always)]
fn write_if_abi_changed(tid: u32, compat_image: bool) {
    let Some(pending) = PENDING.get_ptr_mut(&tid) else {
        return;
    };
    // SAFETY: this thread's own entry; only its own programs touch it, one at a time.
    let pending = unsafe { &mut *pending };
    if pending.written != 0 || (pending.abi == abi::COMPAT) == compat_image {
        return;
    }
    pending.written = 1;
    let copy = *pending;
    // A successful exec's record carries no strings (its image went in `ExecImage`): written
    // here without the generic writer, whose string paths would only lengthen this program's
    // verification.
    let Some(mut record) = Builder::new(RecordKind::Syscall as u8, copy.syscall_nr, copy.enter_ns)
    else {
        return;
    };
    let h = record.header();
    h.abi = copy.abi;
    h.abi_nr = copy.abi_nr;
    h.res = 0;
    h.args = copy.args;
    h.creds_before = copy.creds_before;
    record.submit();
}
