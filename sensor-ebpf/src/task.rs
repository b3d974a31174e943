//! The calling task's identity, read through offsets the agent found in the kernel's BTF.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
    bpf_get_current_task, bpf_probe_read_kernel,
};
use sensor_common::{Creds, KernelOffsets, TaskInfo, COMM_LEN};

use crate::maps::offsets;

#[inline(always)]
unsafe fn read_at<T>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() || offset == KernelOffsets::MISSING {
        return None;
    }
    unsafe { bpf_probe_read_kernel(base.add(offset as usize) as *const T).ok() }
}

/// The current task's credentials.
#[inline(always)]
pub fn current_creds() -> Creds {
    let o = offsets();
    let task = unsafe { bpf_get_current_task() } as *const u8;
    unsafe {
        let cred: *const u8 = read_at(task, o.task_cred).unwrap_or(core::ptr::null());
        read_at(cred, o.cred_ids).unwrap_or_default()
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

    let task = unsafe { bpf_get_current_task() } as *const u8;
    unsafe {
        let parent: *const u8 = read_at(task, o.task_real_parent).unwrap_or(core::ptr::null());
        info.ppid = read_at(parent, o.task_tgid).unwrap_or(0);
        info.loginuid = read_at(task, o.task_loginuid).unwrap_or(u32::MAX);

        let cred: *const u8 = read_at(task, o.task_cred).unwrap_or(core::ptr::null());
        info.creds = read_at(cred, o.cred_ids).unwrap_or_default();

        let nsproxy: *const u8 = read_at(task, o.task_nsproxy).unwrap_or(core::ptr::null());
        let mnt_ns: *const u8 = read_at(nsproxy, o.nsproxy_mnt_ns).unwrap_or(core::ptr::null());
        info.mnt_ns = read_at(mnt_ns, o.mnt_ns_inum).unwrap_or(0);

        // The process's pid namespace and pid in it are the innermost level of its leader's
        // struct pid.
        let leader: *const u8 = read_at(task, o.task_group_leader).unwrap_or(core::ptr::null());
        let pid: *const u8 = read_at(leader, o.task_thread_pid).unwrap_or(core::ptr::null());
        let level: u32 = read_at(pid, o.pid_level).unwrap_or(0);
        if !pid.is_null() && o.pid_numbers != KernelOffsets::MISSING && level < 32 {
            let upid = pid.add(o.pid_numbers as usize + (level * o.upid_size) as usize);
            info.vpid = read_at(upid, o.upid_nr).unwrap_or(0);
            let ns: *const u8 = read_at(upid, o.upid_ns).unwrap_or(core::ptr::null());
            info.pid_ns = read_at(ns, o.pid_ns_inum).unwrap_or(0);
        }
    }
}
