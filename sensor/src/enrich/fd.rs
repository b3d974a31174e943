//! Resolving a file descriptor argument to the path it refers to.

use std::os::unix::ffi::OsStrExt;

use crate::model::Bytes;

/// The path behind `fd` in process `pid`, read from /proc. `None` once the process has exited
/// or closed the fd, which is why this runs as soon as the event is decoded.
pub fn resolve(pid: u32, fd: i64) -> Option<Bytes> {
    if fd < 0 {
        return None;
    }
    let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    Some(target.as_os_str().as_bytes().into())
}
