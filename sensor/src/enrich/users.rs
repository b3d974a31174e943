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

/// A question for the names resolver: the names in the root of mount namespace `mnt_ns`,
/// read through process `pid` (`root` is `/proc/PID/root`, or empty for the host's).
#[derive(Clone, Debug)]
pub struct NamesQuestion {
    pub mnt_ns: u32,
    pub pid: u32,
    /// [`UserNames::epoch`] when asked: an answer for an older epoch is stale.
    pub epoch: u64,
    pub root: String,
}

/// Reads the names for `q` (runs on a resolver thread). `None` if the process is gone:
/// nothing to learn about its namespace now.
pub fn resolve(q: &NamesQuestion) -> Option<Names> {
    if !q.root.is_empty() && std::fs::metadata(&q.root).is_err() {
        return None;
    }
    Some(Names::load(&q.root))
}

/// Namespaces whose names are kept at most.
const MAX_NAMESPACES: usize = 4096;

/// Names by mount namespace, in memory: what the resolver answered.
pub struct UserNames {
    by_mnt_ns: HashMap<u32, (Instant, Arc<Names>)>,
    /// Bumped per namespace by [`Self::forget`].
    epochs: HashMap<u32, u64>,
    host_mnt_ns: u32,
}

impl Default for UserNames {
    fn default() -> Self {
        Self::new()
    }
}

impl UserNames {
    /// Reads the host's names now (the sensor's own root, trusted) so that host events never
    /// wait for them.
    pub fn new() -> Self {
        let host_mnt_ns = own_mnt_ns();
        let mut by_mnt_ns = HashMap::new();
        by_mnt_ns.insert(host_mnt_ns, (Instant::now(), Arc::new(Names::load(""))));
        Self {
            by_mnt_ns,
            epochs: HashMap::new(),
            host_mnt_ns,
        }
    }

    /// The names for mount namespace `mnt_ns` if known, and whether they are due a re-read.
    pub fn cached(&self, mnt_ns: u32) -> Option<(Arc<Names>, bool)> {
        self.by_mnt_ns
            .get(&mnt_ns)
            .map(|(loaded, names)| (names.clone(), loaded.elapsed() >= REFRESH))
    }

    /// The question that reads `mnt_ns`'s names through process `pid`.
    pub fn question(&self, pid: u32, mnt_ns: u32) -> NamesQuestion {
        NamesQuestion {
            mnt_ns,
            pid,
            epoch: self.epoch(mnt_ns),
            root: if mnt_ns == self.host_mnt_ns {
                String::new()
            } else {
                format!("/proc/{pid}/root")
            },
        }
    }

    pub fn epoch(&self, mnt_ns: u32) -> u64 {
        self.epochs.get(&mnt_ns).copied().unwrap_or(0)
    }

    /// Keeps the answer to `q`, unless the namespace changed its mounts since it was asked.
    pub fn learn(&mut self, q: &NamesQuestion, names: Names) {
        if q.epoch != self.epoch(q.mnt_ns) {
            return;
        }
        if self.by_mnt_ns.len() >= MAX_NAMESPACES {
            let host = self.by_mnt_ns.remove(&self.host_mnt_ns);
            self.by_mnt_ns.clear();
            self.epochs.clear();
            if let Some(host) = host {
                self.by_mnt_ns.insert(self.host_mnt_ns, host);
            }
        }
        self.by_mnt_ns
            .insert(q.mnt_ns, (Instant::now(), Arc::new(names)));
    }

    /// The process behind `q` was gone: serve empty names for now, due a re-read at once
    /// (through the next event's process), so that nothing waits on this namespace again.
    pub fn learn_unknown(&mut self, q: &NamesQuestion) {
        if q.epoch != self.epoch(q.mnt_ns) {
            return;
        }
        let stale = Instant::now()
            .checked_sub(REFRESH)
            .unwrap_or_else(Instant::now);
        self.by_mnt_ns
            .insert(q.mnt_ns, (stale, Arc::new(Names::default())));
    }

    /// Drops what is known of `mnt_ns`: it changed its mounts. The host's own namespace is
    /// kept: its root does not move, and nodes mount volumes all the time.
    pub fn forget(&mut self, mnt_ns: u32) {
        if mnt_ns != self.host_mnt_ns {
            self.by_mnt_ns.remove(&mnt_ns);
            if self.epochs.len() >= MAX_NAMESPACES {
                self.epochs.clear();
            }
            *self.epochs.entry(mnt_ns).or_default() += 1;
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
