//! User and group names, resolved in the process's own root: a container's /etc/passwd for
//! processes in a mount namespace of their own (through /proc/PID/root), the host's otherwise.
//! Cached per mount namespace, re-read after a minute so new accounts appear, and forgotten
//! when the namespace mounts something (a runtime sets up a container's root with mounts, and
//! what was read before them is the wrong root's).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REFRESH: Duration = Duration::from_secs(60);

/// The names in one root's /etc/passwd and /etc/group.
#[derive(Default, Debug)]
pub struct Names {
    users: HashMap<u32, Arc<str>>,
    groups: HashMap<u32, Arc<str>>,
}

impl Names {
    pub fn user(&self, uid: u32) -> Option<Arc<str>> {
        self.users.get(&uid).cloned()
    }

    pub fn group(&self, gid: u32) -> Option<Arc<str>> {
        self.groups.get(&gid).cloned()
    }

    /// Reads the passwd and group files under `root` (`` for the host's, or
    /// `/proc/PID/root`), resolved inside that root and bounded (see
    /// [`super::root_files`]): whatever a container put there, this neither blocks nor
    /// reads past the cap nor leaves the root.
    pub fn load(root: &str) -> Self {
        let root_dir = if root.is_empty() { "/" } else { root };
        let read = |file: &str| {
            super::root_files::read_in_root(root_dir, file, super::root_files::MAX_FILE_BYTES)
                .unwrap_or_else(|e| {
                    tracing::debug!("user names: {e}");
                    String::new()
                })
        };
        Self {
            users: parse_ids(&read("/etc/passwd")),
            groups: parse_ids(&read("/etc/group")),
        }
    }
}

/// `name:x:id:...` lines to an id -> name map (the first name of an id wins, as in libc).
pub fn parse_ids(text: &str) -> HashMap<u32, Arc<str>> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(id) = id.parse::<u32>() {
            out.entry(id).or_insert_with(|| Arc::from(name));
        }
    }
    out
}

/// Mount namespaces whose names are kept; past it the least recently used goes, so a tenant
/// creating namespaces in a loop pushes out only namespaces nobody used since.
pub const MAX_MOUNT_NAMESPACES: usize = 4096;

/// Names by mount namespace.
pub struct UserNames {
    by_mnt_ns: super::lru::LruMap<u32, (Instant, Arc<Names>)>,
    host_mnt_ns: Option<u32>,
}

impl Default for UserNames {
    fn default() -> Self {
        Self {
            by_mnt_ns: super::lru::LruMap::new(MAX_MOUNT_NAMESPACES),
            host_mnt_ns: None,
        }
    }
}

impl UserNames {
    /// The names for a process in mount namespace `mnt_ns`.
    pub fn names(&mut self, pid: u32, mnt_ns: u32) -> Arc<Names> {
        if let Some((loaded, names)) = self.by_mnt_ns.get(&mnt_ns) {
            if loaded.elapsed() < REFRESH {
                return names.clone();
            }
        }
        let host = *self.host_mnt_ns.get_or_insert_with(own_mnt_ns);
        let root = if mnt_ns != host {
            format!("/proc/{pid}/root")
        } else {
            String::new()
        };
        if !root.is_empty() && std::fs::metadata(&root).is_err() {
            // The process is gone: nothing to learn about its namespace now.
            return Arc::new(Names::default());
        }
        let names = Arc::new(Names::load(&root));
        self.by_mnt_ns
            .insert(mnt_ns, (Instant::now(), names.clone()));
        names
    }
}

impl UserNames {
    /// Drops what is known of `mnt_ns`: it changed its mounts. The host's own namespace is
    /// kept: its root does not move, and nodes mount volumes all the time.
    pub fn forget(&mut self, mnt_ns: u32) {
        if Some(mnt_ns) != self.host_mnt_ns {
            self.by_mnt_ns.remove(&mnt_ns);
        }
    }
}

fn own_mnt_ns() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/mnt").map_or(0, |m| m.ino() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_lines() {
        let ids = parse_ids("# comment\nroot:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\nbroken\ntoor:x:0:0::/:/bin/sh\n");
        assert_eq!(ids.get(&0).map(|s| &**s), Some("root"));
        assert_eq!(ids.get(&65534).map(|s| &**s), Some("nobody"));
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn host_names_resolve() {
        let names = Names::load("");
        assert_eq!(names.user(0).as_deref(), Some("root"));
    }
}
