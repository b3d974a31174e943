//! The path of a file as the kernel knows it: walked up its dentries and mounts, so that what
//! the caller wrote (`./x`, `//tmp/x`, `/proc/self/cwd/x`, `/dev/fd/3`) does not matter.
//!
//! `bpf_d_path` is not allowed in tracepoints, so the walk is done here: from the file's
//! dentry up through `d_parent`, crossing to the parent mount at each mount's root, until the
//! root of the mount namespace. Names are written leaf first, each NUL-terminated; the agent
//! reverses them. Every pointer is read with `bpf_probe_read_kernel` (a `struct mount` is
//! reached from its embedded `vfsmount` by subtracting an offset, which the verifier does not
//! allow on typed pointers), and faults end the walk.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel_str;
use sensor_common::{record::exe_flags, record::truncated_bit, KernelOffsets, PATH_MAX};

use crate::{kernel_helpers::probe_read, record::Builder};

/// Directory levels plus mount crossings walked at most; deeper paths are marked truncated.
const MAX_STEPS: u32 = 32;
/// The kernel's NAME_MAX plus the NUL: the longest name one step writes.
const NAME_BYTES: usize = 256;

/// The kernel pointer at `base + offset`; 0 for a NULL base or a fault. Without a branch on
/// the read's result: one per read, over the walk's steps, took 5.10's verifier past its
/// budget.
#[inline(always)]
pub fn read_ptr(base: u64, offset: u32) -> u64 {
    if base == 0 {
        return 0;
    }
    unsafe { probe_read((base + offset as u64) as *const u64) }
}

/// Appends the names from `dentry` on mount `vfsmount` up to the mount namespace's root as
/// string `slot`; returns [`exe_flags::DETACHED`] if the walk did not end at a root of the
/// namespace `mnt_ns` (the caller's `nsproxy->mnt_ns`). A walk cut short is marked
/// truncated, which the event lists in `evt.truncated`; it is not logged as a kernel
/// diagnostic: the log call's paths, verified once per state the walk can end in, took the
/// exec and syscall exit programs past the verifier's budget.
#[inline(always)]
pub fn push_path(
    record: &mut Builder,
    slot: usize,
    dentry: u64,
    vfsmount: u64,
    mnt_ns: u64,
    o: &KernelOffsets,
) -> u64 {
    if dentry == 0 || vfsmount == 0 {
        return exe_flags::DETACHED;
    }
    let mut dentry = dentry;
    let mut mount = vfsmount.wrapping_sub(o.mount_mnt as u64);
    let mut root = read_ptr(vfsmount, o.vfsmount_root);
    let mut written = 0usize;
    let mut flags = 0u64;
    let mut reached_root = false;
    for _ in 0..MAX_STEPS {
        if dentry == root {
            // The root of this mount: continue from the dentry it is mounted on, in its parent.
            let parent = read_ptr(mount, o.mount_parent);
            if parent == mount || parent == 0 {
                reached_root = true;
                break;
            }
            dentry = read_ptr(mount, o.mount_mountpoint);
            mount = parent;
            root = read_ptr(mount + o.mount_mnt as u64, o.vfsmount_root);
            continue;
        }
        if written + NAME_BYTES > PATH_MAX {
            record.header().truncated |= truncated_bit(slot);
            break;
        }
        let parent = read_ptr(dentry, o.dentry_parent);
        let name = read_ptr(dentry, o.dentry_name);
        let ret = unsafe {
            bpf_probe_read_kernel_str(
                record.cursor() as *mut _,
                NAME_BYTES as u32,
                name as *const _,
            )
        };
        if ret <= 0 {
            break;
        }
        let len = (ret as usize) & (NAME_BYTES * 2 - 1);
        record.advance(len);
        written += len;
        if parent == dentry || parent == 0 {
            // A dentry that is its own parent but not a mount's root: a file no directory
            // names, such as a memfd's.
            flags |= exe_flags::DETACHED;
            break;
        }
        dentry = parent;
    }
    if reached_root && read_ptr(mount, o.mount_ns) != mnt_ns {
        // Reached a root, but of a mount outside the caller's namespace (an internal or a
        // detached mount).
        flags |= exe_flags::DETACHED;
    } else if !reached_root && flags & exe_flags::DETACHED == 0 {
        record.header().truncated |= truncated_bit(slot);
    }
    record.header().str_len[slot] = written as u16;
    flags
}
