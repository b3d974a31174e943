//! Kernel structure offsets the eBPF programs need, read by the agent from the running kernel's
//! BTF at start and handed to the programs as a global. Rust eBPF has no CO-RE relocations, so
//! this keeps one binary correct across kernels whose `task_struct` layouts differ.

/// Byte offsets into kernel structures. `u32::MAX` marks a field the kernel does not have
/// (for example `loginuid` without CONFIG_AUDITSYSCALL); the programs then report 0 or -1.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_real_parent: u32,
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_group_leader: u32,
    pub task_loginuid: u32,
    pub task_cred: u32,
    pub task_nsproxy: u32,
    pub task_thread_pid: u32,
    pub nsproxy_mnt_ns: u32,
    pub mnt_ns_inum: u32,
    pub pid_level: u32,
    pub pid_numbers: u32,
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    pub pid_ns_inum: u32,
    /// Offset of `cred.uid`; `gid` through `fsgid` follow it (the agent checks this).
    pub cred_ids: u32,
    /// Offset of `cred.cap_inheritable`; `cap_permitted` and `cap_effective` follow it, 8
    /// bytes each (the agent checks this). MISSING where the layout differs: no sets then.
    pub cred_caps: u32,
    pub task_exit_code: u32,
    pub task_signal: u32,
    /// `signal_struct.pids[PIDTYPE_SID]`.
    pub signal_sid_pid: u32,
    pub signal_tty: u32,
    pub tty_index: u32,
    pub tty_driver: u32,
    pub tty_driver_major: u32,
    pub tty_driver_minor_start: u32,
    /// Offsets in `struct pt_regs` of the six syscall argument registers, as the syscall left
    /// them: lets the exit program read the arguments without an enter program.
    pub pt_regs_args: [u32; 6],
    /// The same for a 32-bit compat syscall (x86: ebx, ecx, edx, esi, edi, ebp).
    pub pt_regs_compat_args: [u32; 6],
    /// Offset in `task_struct` of `stack`, the task's kernel stack: where its saved registers
    /// are found on kernels without `bpf_task_pt_regs` (`kernel_helpers::TASK_PT_REGS`).
    pub task_stack: u32,
    /// Where `struct pt_regs` starts from the base of the kernel stack: THREAD_SIZE less its
    /// size, as the kernel's `task_pt_regs()` computes it on x86_64 and arm64.
    pub pt_regs_in_stack: u32,
    /// Offset in `struct pt_regs` of the syscall number as the call was entered (x86
    /// `orig_ax`, arm64 `syscallno`): the compat exit program's only way to know the call.
    pub pt_regs_syscall_nr: u32,
    /// Tracepoint record layouts vary between kernels too: read from tracefs `format` files.
    pub tp_exit_group_dead: u32,
    /// Offset in `task_struct` of the word that tells a compat (32-bit) syscall: x86's
    /// `thread_info.status` (TS_COMPAT), arm64's `thread_info.flags` (TIF_32BIT).
    pub task_compat: u32,
    /// The bit of that word.
    pub compat_mask: u32,
    /// `task->cgroups->dfl_cgrp->kn->id`: the cgroup v2 id, read with four loads instead of
    /// the `bpf_get_current_cgroup_id` helper call (the recorder runs on every syscall).
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    /// The new image after an exec, from the kernel's own structures rather than the caller's
    /// memory: `task->mm`, the argument area `mm->arg_start..arg_end` the kernel copied argv
    /// into, and `mm->exe_file`, the file it mapped.
    pub task_mm: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    /// `mm->env_start..env_end`: the environment the kernel copied after argv.
    pub mm_env_start: u32,
    pub mm_env_end: u32,
    pub mm_exe_file: u32,
    /// `file.f_path.mnt` and `file.f_path.dentry`.
    pub file_path_mnt: u32,
    pub file_path_dentry: u32,
    /// `dentry.d_parent` and `dentry.d_name.name`.
    pub dentry_parent: u32,
    pub dentry_name: u32,
    /// `vfsmount.mnt_root`.
    pub vfsmount_root: u32,
    /// `struct mount`, which embeds the `vfsmount` at `mount_mnt`: its parent mount, the
    /// dentry it is mounted on, and its mount namespace.
    pub mount_mnt: u32,
    pub mount_parent: u32,
    pub mount_mountpoint: u32,
    pub mount_ns: u32,
    /// The newest mount of a namespace, for reading a new mount from the kernel after
    /// mount(2): `mnt_ns_newest` is where in `mnt_namespace` the link to it is found, in the
    /// form `mnt_ns_order` names ([`MountOrder`]), and `mount_link` where that link sits in
    /// `struct mount`.
    pub mnt_ns_newest: u32,
    pub mnt_ns_order: u32,
    pub mount_link: u32,
    /// `mount.mnt_devname` (the source as the kernel kept it), `vfsmount.mnt_sb`,
    /// `super_block.s_type` and `file_system_type.name`.
    pub mount_devname: u32,
    pub vfsmount_sb: u32,
    pub sb_type: u32,
    pub fs_type_name: u32,
    /// `super_block.s_subtype` (FUSE's `sshfs` in `fuse.sshfs`).
    pub sb_subtype: u32,
    /// An open's file from the caller's fd table: `task->files`, `files_struct.fdt`,
    /// `fdtable.max_fds` and `fdtable.fd`; then `file.f_mode`, `file.f_inode`, and the
    /// inode's `i_mode`, `i_ino`, `i_sb` and `super_block.s_dev`.
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdtable_max_fds: u32,
    pub fdtable_fd: u32,
    pub file_f_mode: u32,
    pub file_f_inode: u32,
    pub inode_i_mode: u32,
    pub inode_i_ino: u32,
    pub inode_i_sb: u32,
    pub sb_s_dev: u32,
    /// `task_struct.start_time` (CLOCK_MONOTONIC ns), read on the thread group leader.
    pub task_start_time: u32,
    /// A socket file's `struct socket` (`file.private_data`), its `type` and `sk`, and the
    /// `struct sock`'s family (`__sk_common.skc_family`). MISSING: sockets show no family.
    pub file_private_data: u32,
    pub socket_type: u32,
    pub socket_sk: u32,
    pub sock_family: u32,
    /// A `struct sock`'s protocol and both ends: `sk_protocol` (its first byte is read: a
    /// u16 since 5.6, an 8-bit bitfield on a byte boundary before), `__sk_common`'s `skc_daddr`, `skc_rcv_saddr`, `skc_dport`,
    /// `skc_num`, `skc_v6_daddr` and `skc_v6_rcv_saddr` (MISSING without IPv6).
    pub sock_protocol: u32,
    pub sock_daddr: u32,
    pub sock_rcv_saddr: u32,
    pub sock_dport: u32,
    pub sock_num: u32,
    pub sock_v6_daddr: u32,
    pub sock_v6_rcv_saddr: u32,
    /// An executable on overlayfs: `super_block.s_magic`, and in `struct ovl_inode` (which
    /// embeds the file's inode at `ovl_inode_vfs_inode`) the upper layer's dentry
    /// `__upperdentry`, set once the file exists in the upper layer. MISSING without
    /// overlayfs in the kernel's BTF.
    pub sb_magic: u32,
    pub ovl_inode_vfs_inode: u32,
    pub ovl_inode_upperdentry: u32,
}

/// How a kernel keeps a namespace's mounts, in [`KernelOffsets::mnt_ns_order`].
pub mod mount_order {
    /// Not known: new mounts are not read from the kernel.
    pub const NONE: u32 = 0;
    /// `mnt_namespace.list`, a `list_head` new mounts are appended to (before Linux 6.8):
    /// `mnt_ns_newest` is the offset of the head, whose `prev` is the newest mount's
    /// `mnt_list`.
    pub const LIST: u32 = 1;
    /// An rb-tree ordered by the mounts' unique ids with the last node cached
    /// (`mnt_last_node`, as in 6.18; the kernels that had the tree without that cache are
    /// `NONE`): `mnt_ns_newest` is the offset of `mnt_last_node`, pointing at the newest
    /// mount's `mnt_node`.
    pub const TREE: u32 = 2;
}

impl KernelOffsets {
    pub const MISSING: u32 = u32::MAX;

    /// Offsets that make every read fail cleanly: what the programs see if the agent never set
    /// the global (it always does).
    pub const UNSET: Self = Self {
        task_real_parent: Self::MISSING,
        task_pid: Self::MISSING,
        task_tgid: Self::MISSING,
        task_group_leader: Self::MISSING,
        task_loginuid: Self::MISSING,
        task_cred: Self::MISSING,
        task_nsproxy: Self::MISSING,
        task_thread_pid: Self::MISSING,
        nsproxy_mnt_ns: Self::MISSING,
        mnt_ns_inum: Self::MISSING,
        pid_level: Self::MISSING,
        pid_numbers: Self::MISSING,
        upid_size: Self::MISSING,
        upid_nr: Self::MISSING,
        upid_ns: Self::MISSING,
        pid_ns_inum: Self::MISSING,
        cred_ids: Self::MISSING,
        cred_caps: Self::MISSING,
        task_exit_code: Self::MISSING,
        task_signal: Self::MISSING,
        signal_sid_pid: Self::MISSING,
        signal_tty: Self::MISSING,
        tty_index: Self::MISSING,
        tty_driver: Self::MISSING,
        tty_driver_major: Self::MISSING,
        tty_driver_minor_start: Self::MISSING,
        pt_regs_args: [Self::MISSING; 6],
        pt_regs_compat_args: [Self::MISSING; 6],
        task_stack: Self::MISSING,
        pt_regs_in_stack: Self::MISSING,
        pt_regs_syscall_nr: Self::MISSING,
        tp_exit_group_dead: Self::MISSING,
        task_compat: Self::MISSING,
        compat_mask: 0,
        task_cgroups: Self::MISSING,
        css_set_dfl_cgrp: Self::MISSING,
        cgroup_kn: Self::MISSING,
        kernfs_node_id: Self::MISSING,
        task_mm: Self::MISSING,
        mm_arg_start: Self::MISSING,
        mm_arg_end: Self::MISSING,
        mm_env_start: Self::MISSING,
        mm_env_end: Self::MISSING,
        mm_exe_file: Self::MISSING,
        file_path_mnt: Self::MISSING,
        file_path_dentry: Self::MISSING,
        dentry_parent: Self::MISSING,
        dentry_name: Self::MISSING,
        vfsmount_root: Self::MISSING,
        mount_mnt: Self::MISSING,
        mount_parent: Self::MISSING,
        mount_mountpoint: Self::MISSING,
        mount_ns: Self::MISSING,
        mnt_ns_newest: Self::MISSING,
        mnt_ns_order: mount_order::NONE,
        mount_link: Self::MISSING,
        mount_devname: Self::MISSING,
        vfsmount_sb: Self::MISSING,
        sb_type: Self::MISSING,
        fs_type_name: Self::MISSING,
        sb_subtype: Self::MISSING,
        task_files: Self::MISSING,
        files_fdt: Self::MISSING,
        fdtable_max_fds: Self::MISSING,
        fdtable_fd: Self::MISSING,
        file_f_mode: Self::MISSING,
        file_f_inode: Self::MISSING,
        inode_i_mode: Self::MISSING,
        inode_i_ino: Self::MISSING,
        inode_i_sb: Self::MISSING,
        sb_s_dev: Self::MISSING,
        task_start_time: Self::MISSING,
        file_private_data: Self::MISSING,
        socket_type: Self::MISSING,
        socket_sk: Self::MISSING,
        sock_family: Self::MISSING,
        sock_protocol: Self::MISSING,
        sock_daddr: Self::MISSING,
        sock_rcv_saddr: Self::MISSING,
        sock_dport: Self::MISSING,
        sock_num: Self::MISSING,
        sock_v6_daddr: Self::MISSING,
        sock_v6_rcv_saddr: Self::MISSING,
        sb_magic: Self::MISSING,
        ovl_inode_vfs_inode: Self::MISSING,
        ovl_inode_upperdentry: Self::MISSING,
    };
}

#[cfg(feature = "user")]
// SAFETY: plain repr(C) u32 fields.
unsafe impl aya::Pod for KernelOffsets {}
