//! The mount a successful mount(2) made, read from the kernel's own `struct mount`: its source
//! (`mnt_devname`, the kernel's copy of the string it was given) and its filesystem type
//! (`mnt_sb->s_type->name`, with `s_subtype` for `fuse.sshfs` and the like), which no thread of
//! the caller can rewrite.
//!
//! The new mount is the newest of the caller's mount namespace. The enter program notes which
//! mount was the newest then; at exit the newest must be a different one whose predecessor is
//! the one noted, so exactly one mount came into the namespace during the call. Anything else
//! (another thread mounting at the same time, a recursive bind, propagation) is ambiguous, and
//! the record says so instead of guessing.

use aya_ebpf::helpers::generated::bpf_probe_read_kernel_str;
use sensor_common::{offsets::mount_order, KernelOffsets, PATH_MAX};

use crate::{exe_path::read_ptr, maps::offsets, record::Builder, task::current_mnt_ns};

/// mount(2) flags that change an existing mount or bind one instead of making a new
/// filesystem's mount: MS_REMOUNT, MS_BIND, MS_MOVE and the propagation changes.
const NOT_NEW: u64 = 32 | 4096 | 8192 | (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20);
/// The magic number old callers put in the upper half of the flags, which the kernel drops.
const MGC_MASK: u64 = 0xffff_0000;
const MGC_VAL: u64 = 0xc0ed_0000;

/// `struct rb_node`: `__rb_parent_color`, `rb_right`, `rb_left`, a layout that has not changed
/// since the rb-tree was written.
const RB_LEFT: u32 = 16;

/// Whether mount(2) with `flags` makes the mount of a new filesystem.
#[inline(always)]
pub fn makes_new_mount(flags: u64) -> bool {
    let flags = if flags & MGC_MASK == MGC_VAL {
        flags & !MGC_MASK
    } else {
        flags
    };
    flags & NOT_NEW == 0
}

/// The link (`mnt_list` or `mnt_node`) of the newest mount of the namespace `ns`; 0 when the
/// kernel's layout is not known.
#[inline(always)]
fn newest_link(ns: u64, o: &KernelOffsets) -> u64 {
    if ns == 0 || o.mnt_ns_newest == KernelOffsets::MISSING {
        return 0;
    }
    match o.mnt_ns_order {
        // list_head { next, prev }: the head's prev is the last mount appended.
        mount_order::LIST => read_ptr(ns, o.mnt_ns_newest + 8),
        mount_order::TREE => read_ptr(ns, o.mnt_ns_newest),
        _ => 0,
    }
}

/// The link of the mount before `link` in the namespace's order; 0 for none.
#[inline(always)]
fn previous_link(ns: u64, link: u64, o: &KernelOffsets) -> u64 {
    match o.mnt_ns_order {
        mount_order::LIST => {
            let prev = read_ptr(link, 8);
            if prev == ns + o.mnt_ns_newest as u64 {
                0
            } else {
                prev
            }
        }
        mount_order::TREE => {
            // The last node has no right child, and its left child, if any, is a leaf (a
            // red-black tree's rightmost node has at most one child): that child precedes it,
            // and otherwise its parent does.
            let left = read_ptr(link, RB_LEFT);
            if left != 0 {
                left
            } else {
                read_ptr(link, 0) & !3
            }
        }
        _ => 0,
    }
}

/// At enter: the caller's namespace's newest mount (its link), 0 if not known.
#[inline(always)]
pub fn newest_now() -> u64 {
    let o = offsets();
    newest_link(current_mnt_ns(o), o)
}

/// What the exit found.
#[derive(Clone, Copy)]
pub enum NewMount {
    /// The kernel's layout is not known, or no new mount is visible: the caller's strings
    /// are reported (and checked for a change).
    Unknown,
    /// More than one mount came into the namespace during the call: which is this call's
    /// cannot be told.
    Ambiguous,
    /// The new `struct mount`.
    Found(u64),
}

/// At exit of a successful mount(2): the mount it made, given the newest at enter.
#[inline(always)]
pub fn find(newest_at_enter: u64) -> NewMount {
    let o = offsets();
    if o.mount_link == KernelOffsets::MISSING || newest_at_enter == 0 {
        return NewMount::Unknown;
    }
    let ns = current_mnt_ns(o);
    let link = newest_link(ns, o);
    if link == 0 || link == newest_at_enter {
        return NewMount::Unknown;
    }
    if previous_link(ns, link, o) != newest_at_enter {
        return NewMount::Ambiguous;
    }
    let mount = link.wrapping_sub(o.mount_link as u64);
    if o.mount_ns != KernelOffsets::MISSING && read_ptr(mount, o.mount_ns) != ns {
        return NewMount::Ambiguous;
    }
    NewMount::Found(mount)
}

/// Appends the kernel string at `src` to string `slot`; returns the bytes written.
#[inline(always)]
fn append_kernel_str(record: &mut Builder, slot: usize, src: u64, max: u32) -> usize {
    if src == 0 {
        return 0;
    }
    let ret = unsafe { bpf_probe_read_kernel_str(record.cursor() as *mut _, max, src as *const _) };
    if ret <= 0 {
        return 0;
    }
    let len = (ret as usize - 1) & (PATH_MAX - 1);
    record.advance(len);
    let h = record.header();
    h.str_len[slot] = h.str_len[slot].wrapping_add(len as u16);
    len
}

/// The mount's source as string `slot`.
#[inline(always)]
pub fn push_source(record: &mut Builder, slot: usize, mount: u64) {
    let o = offsets();
    if o.mount_devname == KernelOffsets::MISSING {
        return;
    }
    let name = read_ptr(mount, o.mount_devname);
    append_kernel_str(record, slot, name, PATH_MAX as u32);
}

/// The mount's filesystem type as string `slot`: `s_type->name`, and `.s_subtype` where the
/// filesystem has one (FUSE), as the caller names it.
#[inline(always)]
pub fn push_fstype(record: &mut Builder, slot: usize, mount: u64) {
    let o = offsets();
    if o.vfsmount_sb == KernelOffsets::MISSING
        || o.sb_type == KernelOffsets::MISSING
        || o.fs_type_name == KernelOffsets::MISSING
    {
        return;
    }
    let sb = read_ptr(mount + o.mount_mnt as u64, o.vfsmount_sb);
    let fs_type = read_ptr(sb, o.sb_type);
    let name = read_ptr(fs_type, o.fs_type_name);
    let len = append_kernel_str(record, slot, name, 256);
    if len != 0 && o.sb_subtype != KernelOffsets::MISSING {
        let subtype = read_ptr(sb, o.sb_subtype);
        if subtype != 0 {
            unsafe { *record.cursor() = b'.' };
            record.advance(1);
            let h = record.header();
            h.str_len[slot] = h.str_len[slot].wrapping_add(1);
            append_kernel_str(record, slot, subtype, 256);
        }
    }
}
