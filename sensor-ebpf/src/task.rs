//! The calling task's identity, read through offsets the agent found in the kernel's BTF.
//!
//! Where the kernel has `bpf_get_current_task_btf` the verifier knows the task is a
//! `task_struct` and the offsets (constants from the read-only `KERNEL_OFFSETS`) name its
//! fields: plain loads then replace a probe-read helper call each, which made this the most
//! expensive part of every record. On older kernels (5.10) `kernel_helpers::load` falls back
//! to the probe reads.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
    bpf_probe_read_kernel,
};
use sensor_common::{Creds, KernelOffsets, TaskInfo, COMM_LEN};

use crate::{
    kernel_helpers::{current_task, load, SavedRegs},
    maps::offsets,
};

#[inline(always)]
unsafe fn load_ptr(base: *const u8, offset: u32) -> *const u8 {
    unsafe { load::<u64>(base, offset) as *const u8 }
}

#[inline(always)]
unsafe fn read_creds(cred: *const u8, o: &KernelOffsets) -> Creds {
    let at = |i: u32| unsafe { load::<u32>(cred, o.cred_ids.wrapping_add(4 * i)) };
    if o.cred_ids == KernelOffsets::MISSING {
        return Creds::default();
    }
    Creds {
        uid: at(0),
        gid: at(1),
        suid: at(2),
        sgid: at(3),
        euid: at(4),
        egid: at(5),
        fsuid: at(6),
        fsgid: at(7),
    }
}

/// The inheritable, permitted and effective capability sets.
#[inline(always)]
unsafe fn read_caps(cred: *const u8, o: &KernelOffsets) -> [u64; 3] {
    if o.cred_caps == KernelOffsets::MISSING {
        return [0; 3];
    }
    let at = |i: u32| unsafe { load::<u64>(cred, o.cred_caps.wrapping_add(8 * i)) };
    [at(0), at(1), at(2)]
}

/// Whether the current task is in a 32-bit compat syscall, or (after exec) runs a 32-bit
/// image. x86's TS_COMPAT is set on entry through `int $0x80`/sysenter/32-bit syscall (also
/// from a 64-bit process) and by the exec of a 32-bit image, and cleared on the way back to
/// user space; arm64's TIF_32BIT marks a 32-bit task.
#[inline(always)]
pub fn current_is_compat(o: &KernelOffsets) -> bool {
    if o.task_compat == KernelOffsets::MISSING {
        return false;
    }
    let word: u32 = unsafe { load(current_task(), o.task_compat) };
    word & o.compat_mask != 0
}

/// The current syscall's arguments from the registers saved at its entry (`regs` holds
/// their offsets in `struct pt_regs`), which the kernel restores on return and so leaves
/// intact for the syscalls traced here.
#[inline(always)]
pub fn saved_args(regs: &[u32; 6]) -> [u64; 6] {
    let saved = SavedRegs::current(offsets());
    let mut args = [0u64; 6];
    for (i, arg) in args.iter_mut().enumerate() {
        *arg = saved.reg(regs[i]);
    }
    args
}

/// The syscall number saved at entry (`offset` in `struct pt_regs`: x86's `orig_ax`, arm64's
/// 32-bit `syscallno`); 0 if unknown.
#[inline(always)]
pub fn saved_syscall_nr(offset: u32) -> u32 {
    SavedRegs::current(offsets()).reg32(offset)
}

/// The current task's mount namespace (`nsproxy->mnt_ns`), 0 if unknown.
#[inline(always)]
pub fn current_mnt_ns(o: &KernelOffsets) -> u64 {
    unsafe {
        let nsproxy = load_ptr(current_task(), o.task_nsproxy);
        load_ptr(nsproxy, o.nsproxy_mnt_ns) as u64
    }
}

/// The current task's credentials.
#[inline(always)]
pub fn current_creds() -> Creds {
    let o = offsets();
    unsafe {
        let cred = load_ptr(current_task(), o.task_cred);
        read_creds(cred, o)
    }
}

/// Fills `info` for the current task.
#[inline(always)]
pub fn fill_task_info(info: &mut TaskInfo) {
    let o = offsets();
    let pid_tgid = bpf_get_current_pid_tgid();
    info.pid = (pid_tgid >> 32) as u32;
    info.tid = pid_tgid as u32;
    info.cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    info.comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);

    let task = current_task();
    unsafe {
        let parent = load_ptr(task, o.task_real_parent);
        info.ppid = load::<u32>(parent, o.task_tgid);
        info.loginuid = if o.task_loginuid == KernelOffsets::MISSING {
            u32::MAX
        } else {
            load::<u32>(task, o.task_loginuid)
        };
        let cred = load_ptr(task, o.task_cred);
        info.creds = read_creds(cred, o);
        info.caps = read_caps(cred, o);

        let signal = load_ptr(task, o.task_signal);
        // The session leader's struct pid; its global number is numbers[0].nr.
        let session = load_ptr(signal, o.signal_sid_pid);
        if o.pid_numbers != KernelOffsets::MISSING && o.upid_nr != KernelOffsets::MISSING {
            info.sid = load::<u32>(session, o.pid_numbers + o.upid_nr);
        }
        let tty = load_ptr(signal, o.signal_tty);
        if !tty.is_null() {
            let index = load::<u32>(tty, o.tty_index);
            let driver = load_ptr(tty, o.tty_driver);
            let major = load::<u32>(driver, o.tty_driver_major);
            let minor = load::<u32>(driver, o.tty_driver_minor_start).wrapping_add(index);
            // new_encode_dev(), as /proc/PID/stat's tty_nr.
            info.tty = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
        }

        let nsproxy = load_ptr(task, o.task_nsproxy);
        let mnt_ns = load_ptr(nsproxy, o.nsproxy_mnt_ns);
        info.mnt_ns = load::<u32>(mnt_ns, o.mnt_ns_inum);

        // The process's pid namespace and pid in it are the innermost level of its leader's
        // struct pid. `numbers[level]` is a variable offset, which the verifier allows only
        // through a probe read.
        let leader = load_ptr(task, o.task_group_leader);
        info.start_ns = load::<u64>(leader, o.task_start_time);
        let pid = load_ptr(leader, o.task_thread_pid);
        let level: u32 = load(pid, o.pid_level);
        if !pid.is_null() && o.pid_numbers != KernelOffsets::MISSING && level < 32 {
            let upid = (pid as usize + o.pid_numbers as usize + (level * o.upid_size) as usize)
                as *const u8;
            info.vpid =
                bpf_probe_read_kernel(upid.add(o.upid_nr as usize) as *const u32).unwrap_or(0);
            let ns = bpf_probe_read_kernel(upid.add(o.upid_ns as usize) as *const *const u8)
                .unwrap_or(core::ptr::null());
            if !ns.is_null() {
                info.pid_ns = bpf_probe_read_kernel(ns.add(o.pid_ns_inum as usize) as *const u32)
                    .unwrap_or(0);
            }
        }
    }
}
