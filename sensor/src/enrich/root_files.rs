//! Reading a small file inside another process's root (a container's `/etc/passwd`) without
//! trusting what that root holds.
//!
//! Whoever runs the container controls its files, and an unprivileged user can make a mount
//! namespace of their own (`unshare -Urm`). Read naively through `/proc/PID/root/etc/passwd`,
//! a FIFO there blocks the reader for ever, `/dev/zero` or a huge sparse file fill its
//! memory, and a symlink to `/etc/shadow` resolves against the *sensor's* root and reads a
//! host file. So the path is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! from the process's root (symlinks cannot leave it), opened `O_NONBLOCK` (a FIFO's open
//! returns at once), must be a regular file, and is read only up to a size cap.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;

/// The most of one file read: a passwd file of some ten thousand accounts.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// `struct open_how` of openat2(2) (libc's is non-exhaustive, so it cannot be built here).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn error(kind: io::ErrorKind, message: String) -> io::Error {
    io::Error::new(kind, message)
}

/// Reads `relative` (e.g. `etc/passwd`) inside `root` (a directory, or `/proc/PID/root`),
/// at most `cap` bytes; a longer file is an error rather than a partial read.
pub fn read_in_root(root: &str, relative: &str, cap: u64) -> io::Result<String> {
    let root_dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)?;
    let path = CString::new(relative.trim_start_matches('/'))
        .map_err(|_| error(io::ErrorKind::InvalidInput, "NUL in a path".into()))?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: a valid directory fd, a NUL-terminated path and an open_how of the size given;
    // the result is checked before use.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root_dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd as i32) };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(error(
            io::ErrorKind::InvalidData,
            format!("{root}/{relative} is not a regular file"),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(error(
            io::ErrorKind::InvalidData,
            format!("{root}/{relative} is larger than {cap} bytes"),
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(test: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sensor-root-files-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        dir
    }

    #[test]
    fn reads_a_regular_file() {
        let root = scratch("regular");
        std::fs::write(root.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        let text = read_in_root(root.to_str().unwrap(), "/etc/passwd", 1024).unwrap();
        assert!(text.starts_with("root:x:0"));
        assert!(read_in_root(root.to_str().unwrap(), "/etc/passwd", 4).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn refuses_fifos_devices_directories_and_escaping_symlinks() {
        let root = scratch("hostile");
        let r = root.to_str().unwrap();
        let fifo = CString::new(format!("{r}/etc/fifo")).unwrap();
        // SAFETY: NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(read_in_root(r, "etc/fifo", 1024).is_err(), "fifo");
        std::os::unix::fs::symlink("/dev/zero", root.join("etc/zero")).unwrap();
        // Resolved inside the root, /dev/zero does not exist there.
        assert!(read_in_root(r, "etc/zero", 1024).is_err(), "zero");
        assert!(read_in_root("/", "dev/zero", 1024).is_err(), "a device");
        assert!(read_in_root(r, "etc", 1024).is_err(), "a directory");
        // An absolute symlink to a host file resolves inside the root: no host file read.
        std::os::unix::fs::symlink("/etc/hostname", root.join("etc/passwd")).unwrap();
        assert!(
            read_in_root(r, "etc/passwd", 1 << 20).is_err(),
            "escaping symlink"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
