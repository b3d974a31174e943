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
    /// How many ids it names (users and groups): what it costs the cache.
    pub fn len(&self) -> usize {
        self.users.len() + self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

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

/// Mount namespaces whose names are kept; past it the least recently used goes, so a tenant
/// creating namespaces in a loop pushes out only namespaces nobody used since.
pub const MAX_MOUNT_NAMESPACES: usize = 4096;

/// Ids (users and groups, over every namespace) whose names are kept: about 60 bytes each,
/// some 16 MiB. A tenant can put a 1 MiB passwd of 100,000 accounts in each of thousands of
/// namespaces; counted in namespaces alone that would be gigabytes.
pub const MAX_HELD_IDS: usize = 262_144;

/// Names by mount namespace, in memory: what the resolver answered.
pub struct UserNames {
    by_mnt_ns: super::lru::LruMap<u32, (Instant, Arc<Names>)>,
    /// The ids held in `by_mnt_ns`, against [`MAX_HELD_IDS`].
    held_ids: usize,
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
        let mut by_mnt_ns = super::lru::LruMap::new(MAX_MOUNT_NAMESPACES);
        let host = Names::load("");
        let held_ids = host.len();
        by_mnt_ns.insert(host_mnt_ns, (Instant::now(), Arc::new(host)));
        Self {
            by_mnt_ns,
            held_ids,
            epochs: HashMap::new(),
            host_mnt_ns,
        }
    }

    /// The names for mount namespace `mnt_ns` if known, and whether they are due a re-read.
    pub fn cached(&mut self, mnt_ns: u32) -> Option<(Arc<Names>, bool)> {
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
    /// False for such a stale answer: the caller asks again, or the events waiting for this
    /// namespace would wait out their deadline for an answer nobody asked for.
    pub fn learn(&mut self, q: &NamesQuestion, names: Names) -> bool {
        if q.epoch != self.epoch(q.mnt_ns) {
            return false;
        }
        self.keep(q.mnt_ns, Instant::now(), names);
        true
    }

    /// Holds `names` for `mnt_ns`, making room by dropping the least recently used
    /// namespaces' names (by count and by ids held; the host's too, read again if asked).
    fn keep(&mut self, mnt_ns: u32, loaded: Instant, mut names: Names) {
        if names.len() > MAX_HELD_IDS / 4 {
            // One root may not take more than a quarter of the budget.
            tracing::debug!(
                mnt_ns,
                ids = names.len(),
                "user names: too many accounts, not kept"
            );
            names = Names::default();
        }
        if let Some((_, old)) = self.by_mnt_ns.remove(&mnt_ns) {
            self.held_ids -= old.len();
        }
        while self.held_ids + names.len() > MAX_HELD_IDS {
            let Some((_, (_, old))) = self.by_mnt_ns.pop_oldest() else {
                break;
            };
            self.held_ids -= old.len();
        }
        self.held_ids += names.len();
        if let Some((_, (_, evicted))) = self.by_mnt_ns.insert(mnt_ns, (loaded, Arc::new(names))) {
            self.held_ids -= evicted.len();
        }
    }

    /// The process behind `q` was gone: serve empty names for now, due a re-read at once
    /// (through the next event's process), so that nothing waits on this namespace again.
    pub fn learn_unknown(&mut self, q: &NamesQuestion) -> bool {
        if q.epoch != self.epoch(q.mnt_ns) {
            return false;
        }
        let stale = Instant::now()
            .checked_sub(REFRESH)
            .unwrap_or_else(Instant::now);
        self.keep(q.mnt_ns, stale, Names::default());
        true
    }

    /// Drops what is known of `mnt_ns`: it changed its mounts. The host's own namespace is
    /// kept: its root does not move, and nodes mount volumes all the time.
    pub fn forget(&mut self, mnt_ns: u32) {
        if mnt_ns != self.host_mnt_ns {
            if let Some((_, old)) = self.by_mnt_ns.remove(&mnt_ns) {
                self.held_ids -= old.len();
            }
            if self.epochs.len() >= MAX_MOUNT_NAMESPACES {
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
    fn held_names_stay_within_their_id_budget() {
        let mut names = UserNames::new();
        let per_root = MAX_HELD_IDS / 8;
        let text: String = (0..per_root)
            .map(|i| format!("u{i}:x:{i}:0::/:/bin/sh\n"))
            .collect();
        for mnt_ns in 1..=64u32 {
            let q = names.question(1, mnt_ns);
            names.learn(
                &q,
                Names {
                    users: parse_ids(&text),
                    groups: HashMap::new(),
                },
            );
            let held: usize = names.by_mnt_ns.values().map(|(_, n)| n.len()).sum();
            assert_eq!(held, names.held_ids);
            assert!(held <= MAX_HELD_IDS, "{held} ids held");
        }
        // The newest namespace is kept.
        assert!(names.cached(64).is_some());
    }

    #[test]
    fn an_answer_older_than_a_mount_is_refused_and_a_new_question_is_current() {
        let mut names = UserNames::new();
        let names_of = |user: &str| Names {
            users: parse_ids(&format!("{user}:x:4242:0::/:/bin/sh\n")),
            groups: HashMap::new(),
        };
        // Asked at the namespace's first event; it then bind-mounts its own /etc/passwd.
        let before = names.question(7, 99);
        names.forget(99);
        assert!(!names.learn(&before, names_of("host")));
        assert!(!names.learn_unknown(&before));
        assert!(names.cached(99).is_none(), "a stale answer is not kept");
        let again = names.question(before.pid, before.mnt_ns);
        assert!(names.learn(&again, names_of("appuser")));
        let (held, _) = names.cached(99).expect("kept");
        assert_eq!(held.user(4242).as_deref(), Some("appuser"));
    }

    #[test]
    fn host_names_resolve() {
        let names = Names::load("");
        assert_eq!(names.user(0).as_deref(), Some("root"));
    }
}
