//! What an open opened: the file the kernel put in the caller's fd table, read right after
//! the call returned its number, so `fd.name` is the file the kernel resolved (symlinks
//! followed, `..` and the caller's cwd applied) rather than the string the caller passed.
//!
//! The file is reached as `task->files->fdt->fd[fd]` and its path walked as an exec image's
//! is (`exe_path.rs`). Another thread of the caller could close that fd and open another
//! file under the same number between the kernel's install and this read, a window of a few
//! instructions on another CPU (README, *What a watched process can still bend*).

use sensor_common::{record::open::OpenedFile, syscall::NO_ARG, KernelOffsets, SyscallSpec};

use crate::{
    exe_path::push_path, exe_path::read_ptr, maps::offsets, maps::Pending, record::Builder,
};

pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;

#[inline(always)]
pub fn read_u32(base: u64, offset: u32) -> u32 {
    if base == 0 {
        return 0;
    }
    unsafe { crate::kernel_helpers::probe_read((base + offset as u64) as *const u32) }
}

/// At enter: openat2's `struct open_how` (flags, mode, resolve), read before the kernel
/// copies it, into the call's `args[3..6]` (its `size` argument is not kept).
#[inline(always)]
pub fn read_open_how(pending: &mut Pending, spec: &SyscallSpec) {
    if spec.argv_arg == NO_ARG {
        return;
    }
    let how = pending.arg(spec.argv_arg);
    if how == 0 {
        return;
    }
    if let Ok(values) = unsafe { aya_ebpf::helpers::bpf_probe_read_user(how as *const [u64; 3]) } {
        pending.args[3] = values[0];
        pending.args[4] = values[1];
        pending.args[5] = values[2];
    }
}

/// The `struct file` behind `fd` in `task`'s fd table; 0 if there is none.
#[inline(always)]
pub fn file_of_fd(task: u64, fd: i64, o: &KernelOffsets) -> u64 {
    if o.task_files == KernelOffsets::MISSING {
        return 0;
    }
    let fdt = read_ptr(read_ptr(task, o.task_files), o.files_fdt);
    let max_fds = read_u32(fdt, o.fdtable_max_fds);
    if fd < 0 || fd >= max_fds as i64 {
        return 0;
    }
    read_ptr(read_ptr(fdt, o.fdtable_fd), (fd as u32) * 8)
}

/// After an open or a dup (`dup`) that returned `fd`: the file's path as string 1 (for a socket,
/// its [`sensor_common::record::socket::SocketInfo`]) and an [`OpenedFile`] as string 2
/// (`sensor_common::record::open`). Nothing is added if the kernel has no offsets
/// for the fd table or the file is gone already.
#[inline(always)]
pub fn push_opened(record: &mut Builder, fd: i64, dup: bool) {
    let o = offsets();
    if o.task_files == KernelOffsets::MISSING || o.mount_ns == KernelOffsets::MISSING {
        return;
    }
    let task = crate::kernel_helpers::current_task() as u64;
    let file = file_of_fd(task, fd, o);
    if file == 0 {
        return;
    }
    let inode = read_ptr(file, o.file_f_inode);
    let i_mode = read_u32(inode, o.inode_i_mode) & 0xffff;
    let mut opened = OpenedFile {
        f_mode: read_u32(file, o.file_f_mode),
        i_mode,
        dev: read_u32(read_ptr(inode, o.inode_i_sb), o.sb_s_dev),
        path_flags: 0,
        ino: read_ptr(inode, o.inode_i_ino),
        sock_family: 0,
        sock_type: 0,
        _pad: 0,
    };
    if dup && i_mode & S_IFMT == S_IFSOCK {
        // A socket has no path to walk (sockfs names it `socket:[ino]`): its family, type
        // and ends (a dup'd connection's peer) go in string 1 instead. (An open never
        // returns a socket: opening one is ENXIO.)
        if o.file_private_data != KernelOffsets::MISSING {
            let socket = read_ptr(file, o.file_private_data);
            opened.sock_type = read_u32(socket, o.socket_type) as u16;
            opened.sock_family = read_u32(read_ptr(socket, o.socket_sk), o.sock_family) as u16;
            crate::socket::push_socket_info(record, 1, file, o);
        }
    } else {
        let dentry = read_ptr(file, o.file_path_dentry);
        let vfsmount = read_ptr(file, o.file_path_mnt);
        let mnt_ns = read_ptr(read_ptr(task, o.task_nsproxy), o.nsproxy_mnt_ns);
        opened.path_flags = push_path(record, 1, dentry, vfsmount, mnt_ns, o) as u32;
    }
    unsafe { core::ptr::write_unaligned(record.cursor() as *mut OpenedFile, opened) };
    record.header().str_len[2] = OpenedFile::SIZE as u16;
    record.advance(OpenedFile::SIZE);
}
