//! The path behind a call's file descriptor, where the kernel side did not walk it.

use std::os::unix::ffi::OsStrExt;

use crate::model::Bytes;

/// `AT_FDCWD`: a `*at` call's "relative to the current directory".
const AT_FDCWD: i64 = -100;

/// The path behind `fd` in process `pid`, read from /proc. `None` once the process has exited
/// or closed the fd, which is why this runs as soon as the event is decoded.
pub fn resolve(pid: u32, fd: i64) -> Option<Bytes> {
    if fd < 0 {
        return None;
    }
    let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    Some(target.as_os_str().as_bytes().into())
}

/// The absolute path an open that opened nothing (it failed, or the kernel had no offsets for
/// its fd table) was asked for: `name` against `dirfd` (or the current directory, read now
/// from /proc, or `cwd` as the process table last knew it), with `.`, `..` and doubled
/// slashes folded as Falco does. Symlinks are not followed: nothing was opened to follow
/// them to.
pub fn requested_path(pid: u32, dirfd: i64, name: &[u8], cwd: Option<&[u8]>) -> Option<Bytes> {
    if name.first() == Some(&b'/') {
        return Some(normalize(name));
    }
    let base: Bytes = if dirfd == AT_FDCWD {
        match std::fs::read_link(format!("/proc/{pid}/cwd")) {
            Ok(dir) => dir.as_os_str().as_bytes().into(),
            Err(_) => cwd?.into(),
        }
    } else {
        resolve(pid, dirfd)?
    };
    let mut joined = Vec::with_capacity(base.len() + 1 + name.len());
    joined.extend_from_slice(&base);
    joined.push(b'/');
    joined.extend_from_slice(name);
    Some(normalize(&joined))
}

/// An absolute path with empty and `.` components dropped and `..` taking one back (never
/// above the root).
fn normalize(path: &[u8]) -> Bytes {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Bytes::from(&b"/"[..]);
    }
    let mut out = Vec::with_capacity(path.len());
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fold_as_falco_folds_them() {
        assert_eq!(&*normalize(b"/etc//./shadow"), b"/etc/shadow");
        assert_eq!(&*normalize(b"/var/www/../../etc/passwd"), b"/etc/passwd");
        assert_eq!(&*normalize(b"/../../x"), b"/x");
        assert_eq!(&*normalize(b"/"), b"/");
    }

    #[test]
    fn relative_names_join_the_base() {
        let me = std::process::id();
        let cwd = std::env::current_dir().unwrap();
        let got = requested_path(me, AT_FDCWD, b"a/../b", None).unwrap();
        assert_eq!(&*got, cwd.join("b").as_os_str().as_bytes());
        assert_eq!(
            &*requested_path(me, AT_FDCWD, b"/x/./y", None).unwrap(),
            b"/x/y"
        );
        // A process gone: the table's cwd stands in.
        assert_eq!(
            &*requested_path(u32::MAX, AT_FDCWD, b"y", Some(b"/srv")).unwrap(),
            b"/srv/y"
        );
    }
}
