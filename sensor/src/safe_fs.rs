//! Files the sensor writes where someone else may have been first.
//!
//! The sensor runs as root. A path it writes to in a directory that another user can write
//! to (`sensor record --out /tmp/profiles`, an alerts file under a shared log directory) may
//! already hold a symlink that user planted — to `/etc/shadow`, say — and a plain `open` or
//! `std::fs::write` would follow it and overwrite the target as root. So:
//! - files that are written whole ([`OutputDir::replace`]) go to a fresh temporary name
//!   (`O_CREAT | O_EXCL | O_NOFOLLOW`) and are renamed into place: a rename replaces a
//!   symlink, it never writes through one;
//! - files that are appended to ([`open_append`]) are opened with `O_NOFOLLOW` and must be
//!   regular files (a FIFO would block the writer; `O_NONBLOCK` makes that an error instead);
//! - a directory given by the user may be a symlink only if it belongs to the sensor's own
//!   user, as the kernel's `fs.protected_symlinks` rule has it for sticky directories.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
}

/// Refuses a symlink at `path` unless the sensor's own user owns it.
fn check_not_foreign_symlink(path: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.file_type().is_symlink() && meta.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is a symlink owned by uid {}, not by this sensor's user: give the real path",
                path.display(),
                meta.uid()
            ),
        ));
    }
    Ok(())
}

/// A directory the sensor writes whole files into.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    fd: OwnedFd,
}

impl OutputDir {
    /// Creates `path` (and its parents) if missing and opens it.
    pub fn create(path: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(path)?;
        check_not_foreign_symlink(path)?;
        let dir = File::open(path)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", path.display()),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            fd: dir.into(),
        })
    }

    /// Writes `contents` as `name` in the directory, replacing what is there (a symlink
    /// included, never its target). `name` must be a plain file name.
    pub fn replace(&self, name: &str, contents: &[u8]) -> io::Result<PathBuf> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not a plain file name"),
            ));
        }
        let temporary = format!(".{name}.{}.tmp", std::process::id());
        let temporary_c = c_string(temporary.as_bytes())?;
        let name_c = c_string(name.as_bytes())?;
        let dir = self.fd.as_raw_fd();
        // SAFETY: a valid directory fd and NUL-terminated name; the result is checked.
        let fd = unsafe {
            libc::openat(
                dir,
                temporary_c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o644 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        let mut file = unsafe { File::from_raw_fd(fd) };
        let written = file
            .write_all(contents)
            .and_then(|()| file.sync_data())
            // SAFETY: valid directory fd and NUL-terminated names.
            .and_then(|()| {
                if unsafe { libc::renameat(dir, temporary_c.as_ptr(), dir, name_c.as_ptr()) } == 0 {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        if let Err(e) = written {
            // SAFETY: valid directory fd and NUL-terminated name.
            unsafe { libc::unlinkat(dir, temporary_c.as_ptr(), 0) };
            return Err(e);
        }
        Ok(self.path.join(name))
    }
}

/// Opens `path` for appending, creating it with `mode`; refuses a symlink (`ELOOP`) and
/// anything but a regular file.
pub fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{} is a symlink; give the real path", path.display()),
                )
            } else {
                e
            }
        })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn path_bytes(path: &Path) -> &[u8] {
        path.as_os_str().as_bytes()
    }

    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sensor-safe-fs-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replace_writes_over_a_planted_symlink_not_through_it() {
        let dir = scratch("replace");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("out.json")).unwrap();
        let out = OutputDir::create(&dir).unwrap();
        let written = out.replace("out.json", b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "{}");
        assert!(!std::fs::symlink_metadata(&written)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(out.replace("../x", b"").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn append_refuses_symlinks_and_fifos() {
        let dir = scratch("append");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.join("alerts.log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = open_append(&link, 0o640).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        let fifo = dir.join("fifo");
        let c = c_string(path_bytes(&fifo)).unwrap();
        // SAFETY: NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(open_append(&fifo, 0o640).is_err());
        let mut file = open_append(&dir.join("real.log"), 0o640).unwrap();
        file.write_all(b"line\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
