//! The executable's path from the names the kernel side walked (`sensor-ebpf/src/exe_path.rs`):
//! NUL-terminated, leaf first, up to the mount namespace's root.

use sensor_common::record::exe_flags;

pub use crate::model::event::ExePath;

/// Joins `names` (leaf first) into an absolute path. A file no directory names renders as the
/// kernel's `d_path` does for a memory file: `/memfd:NAME (deleted)`.
pub fn assemble(names: &[u8], flags: u64) -> ExePath {
    let names = names.strip_suffix(&[0]).unwrap_or(names);
    let parts: Vec<&[u8]> = if names.is_empty() {
        Vec::new()
    } else {
        names.split(|&b| b == 0).collect()
    };
    let detached = flags & exe_flags::DETACHED != 0;
    let memfd = detached && parts.len() == 1 && parts[0].starts_with(b"memfd:");
    let mut path = Vec::with_capacity(names.len() + 12);
    for part in parts.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(part);
    }
    if path.is_empty() {
        path.push(b'/');
    }
    if memfd {
        path.extend_from_slice(b" (deleted)");
    }
    ExePath {
        path: path.into(),
        memfd,
        upper_layer: flags & exe_flags::UPPER_LAYER != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_joined_root_first() {
        let exe = assemble(b"true\0bin\0usr\0", 0);
        assert_eq!(&*exe.path, b"/usr/bin/true");
        assert!(!exe.memfd);
    }

    #[test]
    fn a_memory_file_is_named_as_proc_shows_it() {
        let exe = assemble(b"memfd:payload\0", exe_flags::DETACHED);
        assert_eq!(&*exe.path, b"/memfd:payload (deleted)");
        assert!(exe.memfd);
    }

    #[test]
    fn a_file_named_like_a_memfd_in_a_directory_is_not_one() {
        // `/tmp/memfd:x` is an ordinary file: it has a directory, so the walk was not detached.
        let exe = assemble(b"memfd:x\0tmp\0", 0);
        assert_eq!(&*exe.path, b"/tmp/memfd:x");
        assert!(!exe.memfd);
        // Nor is a detached path of more than one name.
        assert!(!assemble(b"memfd:x\0tmp\0", exe_flags::DETACHED).memfd);
    }

    #[test]
    fn the_root_itself_and_empty_input() {
        assert_eq!(&*assemble(b"", 0).path, b"/");
    }
}
