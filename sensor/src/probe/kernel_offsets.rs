//! Reads the structure offsets the eBPF programs need from the running kernel's BTF.

use sensor_common::{kernel_helpers, KernelOffsets};

use super::btf::Btf;
use super::tracefs;

const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, thiserror::Error)]
pub enum OffsetsError {
    #[error("cannot read the kernel's BTF at {VMLINUX_BTF} ({0}); the sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    Btf(String),
    #[error("the kernel's BTF has no `{0}`; this kernel is not supported")]
    Missing(String),
    #[error("the kernel's `struct cred` does not keep uid..fsgid adjacent; this kernel is not supported")]
    CredLayout,
}

struct Structs {
    btf: Btf,
}

impl Structs {
    fn find(&self, name: &str) -> Result<u32, OffsetsError> {
        self.btf
            .struct_id(name)
            .ok_or_else(|| OffsetsError::Missing(format!("struct {name}")))
    }

    fn offset(&self, id: u32, sname: &str, field: &str) -> Result<u32, OffsetsError> {
        self.btf
            .member_offset(id, field)
            .ok_or_else(|| OffsetsError::Missing(format!("{sname}.{field}")))
    }
}

/// What the programs need to know of the running kernel: its structures' offsets, and which
/// of the newer eBPF helpers it has.
pub struct KernelLayout {
    pub offsets: KernelOffsets,
    /// `sensor_common::kernel_helpers` bits.
    pub helpers: u32,
}

/// Reads the layout of this kernel from its BTF.
pub fn read() -> Result<KernelLayout, OffsetsError> {
    let data = std::fs::read(VMLINUX_BTF).map_err(|e| OffsetsError::Btf(e.to_string()))?;
    let btf = Btf::parse(data).map_err(|e| OffsetsError::Btf(e.to_string()))?;
    let s = Structs { btf };
    let helpers = kernel_helpers(&s.btf);
    Ok(KernelLayout {
        offsets: offsets(&s)?,
        helpers,
    })
}

/// The helpers of `sensor_common::kernel_helpers::ALL` that this kernel has: its BTF lists
/// every helper it knows in `enum bpf_func_id`.
fn kernel_helpers(btf: &Btf) -> u32 {
    kernel_helpers::ALL
        .iter()
        .filter(|h| btf.enum_has("bpf_func_id", &format!("BPF_FUNC_{}", h.name)))
        .fold(0, |bits, h| bits | h.bit)
}

/// Every offset the programs read.
fn offsets(s: &Structs) -> Result<KernelOffsets, OffsetsError> {
    let task = s.find("task_struct")?;
    let cred = s.find("cred")?;
    let nsproxy = s.find("nsproxy")?;
    let mnt_ns = s.find("mnt_namespace")?;
    let pid = s.find("pid")?;
    let upid = s.find("upid")?;
    let pid_ns = s.find("pid_namespace")?;
    let ns_common = s.find("ns_common")?;
    let inum = s.offset(ns_common, "ns_common", "inum")?;
    // Each lookup scans the type section once: find every struct a single time.
    let signal = s.find("signal_struct")?;
    let tty = s.find("tty_struct")?;
    let tty_driver = s.find("tty_driver")?;
    let (task_compat, compat_mask) = compat_word(s, task);

    let ids: Vec<u32> = [
        "uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid",
    ]
    .iter()
    .map(|f| s.offset(cred, "cred", f))
    .collect::<Result<_, _>>()?;
    if ids.windows(2).any(|w| w[1] != w[0] + 4) {
        return Err(OffsetsError::CredLayout);
    }

    Ok(KernelOffsets {
        task_real_parent: s.offset(task, "task_struct", "real_parent")?,
        task_pid: s.offset(task, "task_struct", "pid")?,
        task_tgid: s.offset(task, "task_struct", "tgid")?,
        task_group_leader: s.offset(task, "task_struct", "group_leader")?,
        // Without CONFIG_AUDIT there is no loginuid; the programs then report it unset.
        task_loginuid: s
            .btf
            .member_offset(task, "loginuid")
            .unwrap_or(KernelOffsets::MISSING),
        task_cred: s.offset(task, "task_struct", "cred")?,
        task_nsproxy: s.offset(task, "task_struct", "nsproxy")?,
        task_thread_pid: s.offset(task, "task_struct", "thread_pid")?,
        nsproxy_mnt_ns: s.offset(nsproxy, "nsproxy", "mnt_ns")?,
        mnt_ns_inum: s.offset(mnt_ns, "mnt_namespace", "ns")? + inum,
        pid_level: s.offset(pid, "pid", "level")?,
        pid_numbers: s.offset(pid, "pid", "numbers")?,
        upid_size: s
            .btf
            .size(upid)
            .ok_or_else(|| OffsetsError::Missing("struct upid size".into()))?,
        upid_nr: s.offset(upid, "upid", "nr")?,
        upid_ns: s.offset(upid, "upid", "ns")?,
        pid_ns_inum: s.offset(pid_ns, "pid_namespace", "ns")? + inum,
        cred_ids: ids[0],
        cred_caps: cap_sets(s, cred),
        task_exit_code: s.offset(task, "task_struct", "exit_code")?,
        pt_regs_args: pt_regs_args(s)?,
        pt_regs_compat_args: pt_regs_compat_args(s),
        pt_regs_syscall_nr: pt_regs_syscall_nr(s),
        task_stack: s
            .btf
            .member_offset(task, "stack")
            .unwrap_or(KernelOffsets::MISSING),
        pt_regs_in_stack: pt_regs_in_stack(s),
        task_signal: s.offset(task, "task_struct", "signal")?,
        // pids[PIDTYPE_SID]: PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID, PIDTYPE_SID.
        signal_sid_pid: s.offset(signal, "signal_struct", "pids")? + 3 * 8,
        signal_tty: s.offset(signal, "signal_struct", "tty")?,
        tty_index: s.offset(tty, "tty_struct", "index")?,
        tty_driver: s.offset(tty, "tty_struct", "driver")?,
        tty_driver_major: s.offset(tty_driver, "tty_driver", "major")?,
        tty_driver_minor_start: s.offset(tty_driver, "tty_driver", "minor_start")?,
        tp_exit_group_dead: tracefs::field_offset("sched", "sched_process_exit", "group_dead")
            .unwrap_or(KernelOffsets::MISSING),
        task_compat,
        compat_mask,
        task_start_time: s
            .btf
            .member_offset(task, "start_time")
            .unwrap_or(KernelOffsets::MISSING),
        ..overlay_upper(
            s,
            opened_file(
                s,
                task,
                new_mount(s, exec_image_path(s, task, cgroup_id_path(s, task))),
            ),
        )
    })
}

/// Where an open's file is found in the caller's fd table, and its mode, type, device and
/// inode. All MISSING if any is: opens then carry the caller's path only, and `fd.name` is
/// joined from it in the agent.
fn opened_file(s: &Structs, task: u32, mut o: KernelOffsets) -> KernelOffsets {
    let found = (|| {
        let files = s.find("files_struct").ok()?;
        let fdtable = s.find("fdtable").ok()?;
        let file = s.find("file").ok()?;
        let inode = s.find("inode").ok()?;
        let sb = s.find("super_block").ok()?;
        Some([
            s.btf.member_offset(task, "files")?,
            s.btf.member_offset(files, "fdt")?,
            s.btf.member_offset(fdtable, "max_fds")?,
            s.btf.member_offset(fdtable, "fd")?,
            s.btf.member_offset(file, "f_mode")?,
            s.btf.member_offset(file, "f_inode")?,
            s.btf.member_offset(inode, "i_mode")?,
            s.btf.member_offset(inode, "i_ino")?,
            s.btf.member_offset(inode, "i_sb")?,
            s.btf.member_offset(sb, "s_dev")?,
        ])
    })();
    if let Some([task_files, fdt, max_fds, fd, f_mode, f_inode, i_mode, i_ino, i_sb, s_dev]) = found
    {
        o.task_files = task_files;
        o.files_fdt = fdt;
        o.fdtable_max_fds = max_fds;
        o.fdtable_fd = fd;
        o.file_f_mode = f_mode;
        o.file_f_inode = f_inode;
        o.inode_i_mode = i_mode;
        o.inode_i_ino = i_ino;
        o.inode_i_sb = i_sb;
        o.sb_s_dev = s_dev;
    }
    let socket = (|| {
        let file = s.find("file").ok()?;
        let socket = s.find("socket").ok()?;
        let sock = s.find("sock").ok()?;
        let common = s.find("sock_common").ok()?;
        Some([
            s.btf.member_offset(file, "private_data")?,
            s.btf.member_offset(socket, "type")?,
            s.btf.member_offset(socket, "sk")?,
            s.btf.member_offset(sock, "__sk_common")?
                + s.btf.member_offset(common, "skc_family")?,
        ])
    })();
    if let Some([private_data, socket_type, sk, family]) = socket {
        o.file_private_data = private_data;
        o.socket_type = socket_type;
        o.socket_sk = sk;
        o.sock_family = family;
    }
    socket_ends(s, o)
}

/// Where an overlayfs inode keeps its upper layer's dentry (`struct ovl_inode`, built into
/// the kernel here, so in vmlinux's BTF). MISSING otherwise: `proc.is_exe_upper_layer` is
/// then false.
fn overlay_upper(s: &Structs, mut o: KernelOffsets) -> KernelOffsets {
    let found = (|| {
        let sb = s.find("super_block").ok()?;
        let ovl = s.find("ovl_inode").ok()?;
        Some([
            s.btf.member_offset(sb, "s_magic")?,
            s.btf.member_offset(ovl, "vfs_inode")?,
            s.btf.member_offset(ovl, "__upperdentry")?,
        ])
    })();
    if let Some([magic, vfs_inode, upper]) = found {
        o.sb_magic = magic;
        o.ovl_inode_vfs_inode = vfs_inode;
        o.ovl_inode_upperdentry = upper;
    }
    o
}

/// Where a `struct sock` keeps its protocol and both ends (`sensor-ebpf/src/socket.rs`).
/// All but the IPv6 pair and the protocol MISSING if any is: socket calls then carry the
/// family and type only, and the address the caller passed.
fn socket_ends(s: &Structs, mut o: KernelOffsets) -> KernelOffsets {
    let found = (|| {
        let sock = s.find("sock").ok()?;
        let common = s.find("sock_common").ok()?;
        let base = s.btf.member_offset(sock, "__sk_common")?;
        let at = |field| s.btf.member_offset(common, field).map(|o| base + o);
        Some((
            [
                at("skc_daddr")?,
                at("skc_rcv_saddr")?,
                at("skc_dport")?,
                at("skc_num")?,
            ],
            [at("skc_v6_daddr"), at("skc_v6_rcv_saddr")],
            // A u16 since Linux 5.6, an 8-bit bitfield starting on a byte before: the kernel
            // side reads its first byte, right in both (IPPROTO_* values fit).
            s.btf.member_offset(sock, "sk_protocol"),
        ))
    })();
    if let Some(([daddr, saddr, dport, num], [v6_daddr, v6_saddr], protocol)) = found {
        o.sock_daddr = daddr;
        o.sock_rcv_saddr = saddr;
        o.sock_dport = dport;
        o.sock_num = num;
        o.sock_v6_daddr = v6_daddr.unwrap_or(KernelOffsets::MISSING);
        o.sock_v6_rcv_saddr = v6_saddr.unwrap_or(KernelOffsets::MISSING);
        o.sock_protocol = protocol.unwrap_or(KernelOffsets::MISSING);
    }
    o
}

/// Where a namespace's newest mount is found and what a mount's source and type are (see
/// `sensor-ebpf/src/new_mount.rs`). A kernel whose layout is neither form reads mount strings
/// from the caller's memory only, checked for a change during the call.
fn new_mount(s: &Structs, mut o: KernelOffsets) -> KernelOffsets {
    use sensor_common::offsets::mount_order;
    let found = (|| {
        let ns = s.find("mnt_namespace").ok()?;
        let mount = s.find("mount").ok()?;
        let vfsmount = s.find("vfsmount").ok()?;
        let sb = s.find("super_block").ok()?;
        let fs_type = s.find("file_system_type").ok()?;
        let (order, newest, link) = if let Some(last) = s.btf.member_offset(ns, "mnt_last_node") {
            (
                mount_order::TREE,
                last,
                s.btf.member_offset(mount, "mnt_node")?,
            )
        } else if s.btf.member_offset(ns, "mounts").is_some() {
            // The rb-tree without its last node cached: no cheap way to the newest mount.
            return None;
        } else {
            (
                mount_order::LIST,
                s.btf.member_offset(ns, "list")?,
                s.btf.member_offset(mount, "mnt_list")?,
            )
        };
        Some((
            order,
            newest,
            link,
            s.btf.member_offset(mount, "mnt_devname")?,
            s.btf.member_offset(vfsmount, "mnt_sb")?,
            s.btf.member_offset(sb, "s_type")?,
            s.btf.member_offset(fs_type, "name")?,
            s.btf.member_offset(sb, "s_subtype"),
        ))
    })();
    if let Some((order, newest, link, devname, mnt_sb, s_type, name, subtype)) = found {
        o.mnt_ns_order = order;
        o.mnt_ns_newest = newest;
        o.mount_link = link;
        o.mount_devname = devname;
        o.vfsmount_sb = mnt_sb;
        o.sb_type = s_type;
        o.fs_type_name = name;
        o.sb_subtype = subtype.unwrap_or(KernelOffsets::MISSING);
    }
    o
}

/// Offsets of the exec'd image in the kernel's structures (`task->mm`, its argument area and
/// `exe_file`, and the dentry and mount links a path is walked up by). All MISSING if any
/// is: the exec event then carries the caller's filename and argv as read at the call's exit.
fn exec_image_path(s: &Structs, task: u32, mut o: KernelOffsets) -> KernelOffsets {
    let found = (|| {
        let mm = s.find("mm_struct").ok()?;
        let file = s.find("file").ok()?;
        let path = s.find("path").ok()?;
        let dentry = s.find("dentry").ok()?;
        let qstr = s.find("qstr").ok()?;
        let vfsmount = s.find("vfsmount").ok()?;
        let mount = s.find("mount").ok()?;
        let f_path = s.btf.member_offset(file, "f_path")?;
        let d_name = s.btf.member_offset(dentry, "d_name")?;
        Some([
            s.btf.member_offset(task, "mm")?,
            s.btf.member_offset(mm, "arg_start")?,
            s.btf.member_offset(mm, "arg_end")?,
            s.btf.member_offset(mm, "env_start")?,
            s.btf.member_offset(mm, "env_end")?,
            s.btf.member_offset(mm, "exe_file")?,
            f_path + s.btf.member_offset(path, "mnt")?,
            f_path + s.btf.member_offset(path, "dentry")?,
            s.btf.member_offset(dentry, "d_parent")?,
            d_name + s.btf.member_offset(qstr, "name")?,
            s.btf.member_offset(vfsmount, "mnt_root")?,
            s.btf.member_offset(mount, "mnt")?,
            s.btf.member_offset(mount, "mnt_parent")?,
            s.btf.member_offset(mount, "mnt_mountpoint")?,
            s.btf.member_offset(mount, "mnt_ns")?,
        ])
    })();
    if let Some(
        [task_mm, arg_start, arg_end, env_start, env_end, exe_file, path_mnt, path_dentry, parent, name, root, mnt, mnt_parent, mountpoint, mnt_ns],
    ) = found
    {
        o.task_mm = task_mm;
        o.mm_arg_start = arg_start;
        o.mm_arg_end = arg_end;
        o.mm_env_start = env_start;
        o.mm_env_end = env_end;
        o.mm_exe_file = exe_file;
        o.file_path_mnt = path_mnt;
        o.file_path_dentry = path_dentry;
        o.dentry_parent = parent;
        o.dentry_name = name;
        o.vfsmount_root = root;
        o.mount_mnt = mnt;
        o.mount_parent = mnt_parent;
        o.mount_mountpoint = mountpoint;
        o.mount_ns = mnt_ns;
    }
    o
}

/// Offsets of `task->cgroups->dfl_cgrp->kn->id`; all MISSING if any is (the recorder then
/// calls the helper).
fn cgroup_id_path(s: &Structs, task: u32) -> KernelOffsets {
    let found = (|| {
        let css_set = s.find("css_set").ok()?;
        let cgroup = s.find("cgroup").ok()?;
        let kernfs_node = s.find("kernfs_node").ok()?;
        Some((
            s.btf.member_offset(task, "cgroups")?,
            s.btf.member_offset(css_set, "dfl_cgrp")?,
            s.btf.member_offset(cgroup, "kn")?,
            s.btf.member_offset(kernfs_node, "id")?,
        ))
    })();
    let mut o = KernelOffsets::UNSET;
    if let Some((a, b, c, d)) = found {
        o.task_cgroups = a;
        o.css_set_dfl_cgrp = b;
        o.cgroup_kn = c;
        o.kernfs_node_id = d;
    }
    o
}

/// `cred.cap_inheritable`, when `cap_permitted` and `cap_effective` follow it 8 bytes apart
/// (`kernel_cap_t` is a u64 since 6.3 and two u32 before, 8 bytes either way, low word
/// first); MISSING otherwise, and the sets then read as empty.
fn cap_sets(s: &Structs, cred: u32) -> u32 {
    let at = |field| s.btf.member_offset(cred, field);
    match (
        at("cap_inheritable"),
        at("cap_permitted"),
        at("cap_effective"),
    ) {
        (Some(i), Some(p), Some(e)) if p == i + 8 && e == p + 8 => i,
        _ => KernelOffsets::MISSING,
    }
}

/// Where a task's "this syscall is 32-bit" bit lives, for the recorder to tell compat syscalls
/// (whose numbers name different calls) from native ones. Missing on kernels without compat
/// support or with another layout: every syscall then counts as native.
fn compat_word(s: &Structs, task: u32) -> (u32, u32) {
    let (field, mask) = if cfg!(target_arch = "x86_64") {
        // TS_COMPAT in thread_info.status, set on entry through int 0x80 or sysenter.
        ("status", 0x0002)
    } else if cfg!(target_arch = "aarch64") {
        // TIF_32BIT (bit 22) in thread_info.flags.
        ("flags", 1 << 22)
    } else {
        return (KernelOffsets::MISSING, 0);
    };
    let found = (|| {
        let thread_info = s.find("thread_info").ok()?;
        let base = s.btf.member_offset(task, "thread_info")?;
        Some(base + s.btf.member_offset(thread_info, field)?)
    })();
    match found {
        Some(offset) => (offset, mask),
        None => (KernelOffsets::MISSING, 0),
    }
}

/// The registers holding a 32-bit compat syscall's six arguments. All MISSING where this
/// kernel has no compat ABI or another layout: the compat programs then read zeros.
fn pt_regs_compat_args(s: &Structs) -> [u32; 6] {
    let found = (|| {
        let regs = s.find("pt_regs").ok()?;
        if cfg!(target_arch = "x86_64") {
            // i386: ebx, ecx, edx, esi, edi, ebp.
            let mut out = [0; 6];
            for (i, name) in ["bx", "cx", "dx", "si", "di", "bp"].iter().enumerate() {
                out[i] = s.btf.member_offset(regs, name)?;
            }
            Some(out)
        } else if cfg!(target_arch = "aarch64") {
            // arm (EABI): r0-r5, kept in regs[0..5] as for arm64, r0's original in orig_x0.
            let x = s.btf.member_offset(regs, "regs")?;
            let orig_x0 = s.btf.member_offset(regs, "orig_x0")?;
            Some([orig_x0, x + 8, x + 16, x + 24, x + 32, x + 40])
        } else {
            None
        }
    })();
    found.unwrap_or([KernelOffsets::MISSING; 6])
}

/// The register keeping the number a syscall was entered with (`syscall_get_nr`).
fn pt_regs_syscall_nr(s: &Structs) -> u32 {
    let field = if cfg!(target_arch = "x86_64") {
        "orig_ax"
    } else if cfg!(target_arch = "aarch64") {
        "syscallno"
    } else {
        return KernelOffsets::MISSING;
    };
    s.find("pt_regs")
        .ok()
        .and_then(|regs| s.btf.member_offset(regs, field))
        .unwrap_or(KernelOffsets::MISSING)
}

/// The kernel stack's size on x86_64 and arm64 (16 KiB; KASAN builds, which double it, are
/// not production kernels).
const THREAD_SIZE: u32 = 16 * 1024;

/// Where the saved registers start in the kernel stack: at its top, as `task_pt_regs()` has
/// it on x86_64 (no padding above them on 64-bit) and arm64.
fn pt_regs_in_stack(s: &Structs) -> u32 {
    s.find("pt_regs")
        .ok()
        .and_then(|regs| s.btf.size(regs))
        .filter(|&size| size < THREAD_SIZE)
        .map_or(KernelOffsets::MISSING, |size| THREAD_SIZE - size)
}

/// The registers holding the six syscall arguments, saved at syscall entry. On arm64 the
/// first argument's register also carries the return value, so its original is `orig_x0`.
fn pt_regs_args(s: &Structs) -> Result<[u32; 6], OffsetsError> {
    let regs = s.find("pt_regs")?;
    if cfg!(target_arch = "x86_64") {
        let mut out = [0; 6];
        for (i, name) in ["di", "si", "dx", "r10", "r8", "r9"].iter().enumerate() {
            out[i] = s.offset(regs, "pt_regs", name)?;
        }
        Ok(out)
    } else if cfg!(target_arch = "aarch64") {
        let x = s.offset(regs, "pt_regs", "regs")?;
        let orig_x0 = s.offset(regs, "pt_regs", "orig_x0")?;
        Ok([orig_x0, x + 8, x + 16, x + 24, x + 32, x + 40])
    } else {
        Err(OffsetsError::Missing(
            "syscall argument registers for this architecture".into(),
        ))
    }
}
