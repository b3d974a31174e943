//! What a socket call acted on: the socket behind its fd as the kernel holds it after the
//! call (family, type, protocol, both ends), and the address the caller passed.
//!
//! The ends come from the kernel's `struct sock`, not from the caller's `sockaddr`: after a
//! connect its `skc_daddr`/`skc_dport` are where the kernel is connecting, whatever a thread
//! did to the caller's buffer; after an accept both ends are the accepted connection's. The
//! caller's address is copied as well, at the exit, for what the socket does not hold (the
//! destination of one sendto on an unconnected socket, a connect that failed).

use aya_ebpf::helpers::{
    bpf_probe_read_user, generated::bpf_probe_read_user as probe_read_user_raw,
};
use sensor_common::{
    record::abi,
    record::socket::{SocketInfo, SOCKADDR_MAX},
    syscall::{ADDR_IN_MSGHDR, NO_ARG},
    KernelOffsets, SyscallSpec,
};

use crate::{
    exe_path::read_ptr,
    kernel_helpers::probe_read,
    maps::{offsets, Pending},
    open::{file_of_fd, read_u32, S_IFMT, S_IFSOCK},
    record::Builder,
};

/// `sizeof(struct in6_addr)`.
const V6_BYTES: usize = 16;

#[inline(always)]
fn read_v6(base: u64, offset: u32) -> [u8; V6_BYTES] {
    if base == 0 || offset == KernelOffsets::MISSING {
        return [0; V6_BYTES];
    }
    unsafe { probe_read((base + offset as u64) as *const [u8; V6_BYTES]) }
}

#[inline(always)]
fn read_u16(base: u64, offset: u32) -> u16 {
    if base == 0 || offset == KernelOffsets::MISSING {
        return 0;
    }
    unsafe { probe_read((base + offset as u64) as *const u16) }
}

/// After a socket call that returned `res`: the caller's address as string 1 and the
/// socket as string 2 (`sensor_common::record::socket`).
#[inline(always)]
pub fn push_socket(record: &mut Builder, pending: &Pending, spec: &SyscallSpec, res: i64) {
    push_caller_addr(record, pending, spec.addr_arg);
    let fd = if spec.argv_arg == NO_ARG {
        res
    } else {
        pending.arg(spec.argv_arg) as u32 as i32 as i64
    };
    let o = offsets();
    if o.file_private_data == KernelOffsets::MISSING {
        return;
    }
    let task = crate::kernel_helpers::current_task() as u64;
    let file = file_of_fd(task, fd, o);
    if file == 0 {
        return;
    }
    let inode = read_ptr(file, o.file_f_inode);
    if read_u32(inode, o.inode_i_mode) & S_IFMT != S_IFSOCK {
        return;
    }
    push_socket_info(record, 2, file, o);
}

/// The socket of `file` (a socket's `struct file`) as a [`SocketInfo`] in string `slot`.
#[inline(always)]
pub fn push_socket_info(record: &mut Builder, slot: usize, file: u64, o: &KernelOffsets) {
    let socket = read_ptr(file, o.file_private_data);
    let sk = read_ptr(socket, o.socket_sk);
    let mut info = SocketInfo {
        family: read_u16(sk, o.sock_family),
        sock_type: read_u16(socket, o.socket_type),
        protocol: read_u16(sk, o.sock_protocol) & 0xff,
        local_port: read_u16(sk, o.sock_num),
        remote_port: u16::from_be(read_u16(sk, o.sock_dport)),
        _pad: [0; 3],
        local: [0; 16],
        remote: [0; 16],
    };
    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    if info.family == AF_INET {
        info.local[..4].copy_from_slice(&read_u32(sk, o.sock_rcv_saddr).to_ne_bytes());
        info.remote[..4].copy_from_slice(&read_u32(sk, o.sock_daddr).to_ne_bytes());
    } else if info.family == AF_INET6 {
        info.local = read_v6(sk, o.sock_v6_rcv_saddr);
        info.remote = read_v6(sk, o.sock_v6_daddr);
    }
    unsafe { core::ptr::write_unaligned(record.cursor() as *mut SocketInfo, info) };
    record.header().str_len[slot] = SocketInfo::SIZE as u16;
    record.advance(SocketInfo::SIZE);
}

/// The `struct sockaddr` the caller passed (its first [`SOCKADDR_MAX`] bytes) as string 1.
#[inline(always)]
fn push_caller_addr(record: &mut Builder, pending: &Pending, addr_arg: u8) {
    if addr_arg == NO_ARG {
        return;
    }
    let (ptr, len) = if addr_arg & ADDR_IN_MSGHDR != 0 {
        // struct msghdr { void *msg_name; int msg_namelen; ... }, with 4-byte pointers in
        // the compat ABI (`struct compat_msghdr`).
        let msg = pending.arg(addr_arg & !ADDR_IN_MSGHDR);
        if msg == 0 {
            return;
        }
        if pending.abi == abi::COMPAT {
            let Ok(head) = (unsafe { bpf_probe_read_user(msg as *const [u32; 2]) }) else {
                return;
            };
            (u64::from(head[0]), u64::from(head[1]))
        } else {
            let Ok(head) = (unsafe { bpf_probe_read_user(msg as *const [u64; 2]) }) else {
                return;
            };
            (head[0], head[1] & 0xffff_ffff)
        }
    } else {
        (
            pending.arg(addr_arg),
            pending.arg(addr_arg.wrapping_add(1)) & 0xffff_ffff,
        )
    };
    if ptr == 0 || len == 0 {
        return;
    }
    let len = if len > SOCKADDR_MAX as u64 {
        SOCKADDR_MAX
    } else {
        len as usize
    };
    let ok =
        unsafe { probe_read_user_raw(record.cursor() as *mut _, len as u32, ptr as *const _) } == 0;
    if ok {
        record.header().str_len[1] = len as u16;
        record.advance(len);
    }
}
