//! Attaching a program to a raw tracepoint from any thread, by its fd.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use aya::programs::ProgramFd;

/// BPF_RAW_TRACEPOINT_OPEN: attaches `program` and returns the link; closing it detaches.
/// Done here rather than through aya's program object, which the probe's owner holds: the
/// recorder and the compat path attach and detach from their own threads with their own copy
/// of the program's fd.
pub fn raw_tracepoint_open(name: &str, program: &ProgramFd) -> std::io::Result<OwnedFd> {
    const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
    let name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    // union bpf_attr's raw_tracepoint member: { __u64 name; __u32 prog_fd; __u32 pad; __u64 cookie; }
    #[repr(C)]
    struct Attr {
        name: u64,
        prog_fd: u32,
        pad: u32,
        cookie: u64,
    }
    let attr = Attr {
        name: name.as_ptr() as u64,
        prog_fd: program.as_fd().as_raw_fd() as u32,
        pad: 0,
        cookie: 0,
    };
    // SAFETY: a valid attr of the size passed; the name outlives the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_RAW_TRACEPOINT_OPEN,
            &attr as *const Attr,
            std::mem::size_of::<Attr>() as u32,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
