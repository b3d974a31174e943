//! Container identity from a process's cgroup path, for the runtimes and cgroup drivers
//! Kubernetes nodes use: containerd, CRI-O, Docker and podman, systemd and cgroupfs drivers,
//! cgroup v1 and v2. Processes outside any container are `host`, as in Falco.

pub use crate::model::container::{Container, Runtime};

fn is_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container a cgroup path belongs to, if any.
pub fn from_cgroup_path(path: &str) -> Option<Container> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let in_kubepods = components.iter().any(|c| c.starts_with("kubepods"));
    for (i, component) in components.iter().enumerate().rev() {
        let name = component.strip_suffix(".scope").unwrap_or(component);
        // systemd driver: <prefix>-<id>.scope; conmon scopes are the runtime's monitor.
        for (prefix, runtime) in [
            ("cri-containerd-", Runtime::Containerd),
            ("crio-", Runtime::CriO),
            ("docker-", Runtime::Docker),
            ("libpod-", Runtime::Podman),
        ] {
            if let Some(id) = name.strip_prefix(prefix) {
                if is_hex_id(id) {
                    return Some(Container {
                        full_id: id.to_string(),
                        runtime,
                        privileged: None,
                    });
                }
            }
        }
        // containerd nested under systemd: `...slice:cri-containerd:<id>`.
        if let Some((_, id)) = name.rsplit_once(":cri-containerd:") {
            if is_hex_id(id) {
                return Some(Container {
                    full_id: id.to_string(),
                    runtime: Runtime::Containerd,
                    privileged: None,
                });
            }
        }
        // cgroupfs driver: the bare id under its runtime's or pod's directory.
        if is_hex_id(name) {
            let parent = if i > 0 { components[i - 1] } else { "" };
            let runtime = match parent {
                "docker" => Runtime::Docker,
                "libpod_parent" => Runtime::Podman,
                p if p.starts_with("crio") => Runtime::CriO,
                _ if in_kubepods => Runtime::Cri,
                _ => Runtime::Containerd,
            };
            return Some(Container {
                full_id: name.to_string(),
                runtime,
                privileged: None,
            });
        }
    }
    None
}

/// The cgroup path a process is in on the unified (v2) hierarchy, else the first v1 path that
/// names a container.
pub fn cgroup_path_of(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    cgroup_path_in(&text)
}

/// [`cgroup_path_of`] on the text of `/proc/PID/cgroup` (`ID:CONTROLLERS:PATH` lines).
pub fn cgroup_path_in(text: &str) -> Option<String> {
    let mut v1 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(_), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" {
            return Some(path.to_string());
        }
        if v1.is_none() && from_cgroup_path(path).is_some() {
            v1 = Some(path.to_string());
        }
    }
    v1
}

/// Where the unified (v2) cgroup hierarchy is mounted (read from the sensor's own
/// /proc/mounts, once, at start).
pub fn cgroup2_mount() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, dir, fstype) = (fields.next()?, fields.next()?, fields.next()?);
        (fstype == "cgroup2").then(|| dir.to_string())
    })
}

/// Cgroups visited at most when searching the hierarchy for one id.
const MAX_WALK: usize = 200_000;

/// `struct file_handle` of a kernfs node: its 64-bit id is the whole handle.
#[repr(C)]
struct KernfsHandle {
    handle_bytes: u32,
    handle_type: i32,
    id: u64,
}

/// `FILEID_KERNFS` (include/linux/exportfs.h).
const FILEID_KERNFS: i32 = 0xfe;

/// The path of v2 cgroup `id` in one step: on cgroup2 the id is the kernfs node's, and a
/// file handle of that id opens the cgroup's directory (`open_by_handle_at`, as systemd
/// does), whose path /proc/self/fd then names. Needs CAP_DAC_READ_SEARCH.
fn cgroup_path_by_handle(mount: &str, id: u64) -> Option<String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;
    let root = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(mount)
        .ok()?;
    let mut handle = KernfsHandle {
        handle_bytes: 8,
        handle_type: FILEID_KERNFS,
        id,
    };
    // SAFETY: a valid directory fd and a file_handle whose handle_bytes match its payload;
    // the returned fd is checked and then owned here.
    let fd = unsafe {
        libc::open_by_handle_at(
            root.as_raw_fd(),
            (&mut handle as *mut KernfsHandle).cast(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let dir = unsafe { OwnedFd::from_raw_fd(fd) };
    let target = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).ok()?;
    let relative = target.strip_prefix(mount).ok()?;
    Some(format!("/{}", relative.display()))
}

/// The path (relative to the hierarchy's root) of the v2 cgroup whose id is `id`, by
/// searching the hierarchy: the last resort, where file handles are not allowed.
fn cgroup_path_by_walk(mount: &str, id: u64) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut queue = std::collections::VecDeque::from([std::path::PathBuf::from(mount)]);
    let mut visited = 0;
    while let Some(dir) = queue.pop_front() {
        visited += 1;
        if visited > MAX_WALK {
            return None;
        }
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.ino() == id) {
            let relative = dir.strip_prefix(mount).ok()?;
            return Some(format!("/{}", relative.display()));
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    queue.push_back(entry.path());
                }
            }
        }
    }
    None
}

/// The root of the unified hierarchy: host processes where it is in use, and every process
/// on a cgroup-v1-only node, where the id says nothing and the process's own paths decide.
pub const ROOT_CGROUP_ID: u64 = 1;

/// A question for the cgroup resolver: which container is cgroup `cgroup_id` (process `pid`
/// is in it; on a v1-only node only the process's own paths can tell).
#[derive(Clone, Copy, Debug)]
pub struct CgroupQuestion {
    pub cgroup_id: u64,
    pub pid: u32,
}

impl CgroupQuestion {
    /// The resolver's key: the cgroup on v2, the process on v1 (high bit set).
    pub fn key(&self) -> u64 {
        if self.cgroup_id == ROOT_CGROUP_ID {
            (1 << 63) | self.pid as u64
        } else {
            self.cgroup_id
        }
    }
}

/// Works out the container of a cgroup (runs on a resolver thread: it reads cgroupfs and
/// /proc). `None`: cannot tell now (the process is gone and the cgroup with it);
/// `Some(None)`: the host.
pub fn resolve(q: CgroupQuestion, mount: Option<&str>) -> Option<Option<Container>> {
    if q.cgroup_id == ROOT_CGROUP_ID {
        if mount.is_some() {
            return Some(None);
        }
        return Some(cgroup_path_of(q.pid).and_then(|path| from_cgroup_path(&path)));
    }
    let path = match mount {
        Some(mount) => cgroup_path_by_handle(mount, q.cgroup_id)
            .or_else(|| {
                // The process's /proc entry, if it still names this cgroup; then the search.
                use std::os::unix::fs::MetadataExt;
                cgroup_path_of(q.pid).filter(|path| {
                    std::fs::symlink_metadata(format!("{mount}{path}"))
                        .is_ok_and(|m| m.ino() == q.cgroup_id)
                })
            })
            .or_else(|| cgroup_path_by_walk(mount, q.cgroup_id)),
        None => cgroup_path_of(q.pid),
    };
    // The runtime's spec says whether it runs privileged (read here, on the resolver's
    // thread, once per cgroup).
    Some(from_cgroup_path(&path?).map(|mut container| {
        container.privileged = super::runtime_state::privileged(&container);
        container
    }))
}

/// Cgroups (and, on a v1-only node, processes) whose container identity is kept; past it the
/// least recently used goes (and is asked of the resolver again at its next event), so a
/// tenant creating cgroups in a loop pushes out only cgroups nobody used since rather than
/// everyone's.
pub const MAX_CGROUPS: usize = 65536;

/// Container identity by cgroup id, in memory: what the resolver answered. On a v1-only
/// node every process is in the root v2 cgroup, so there the answer is kept per process.
pub struct ContainerCache {
    by_cgroup: super::lru::LruMap<u64, Option<std::sync::Arc<Container>>>,
    by_pid_v1: super::lru::LruMap<u32, Option<std::sync::Arc<Container>>>,
    v2: bool,
}

impl ContainerCache {
    pub fn new(v2: bool) -> Self {
        Self {
            by_cgroup: super::lru::LruMap::new(MAX_CGROUPS),
            by_pid_v1: super::lru::LruMap::new(MAX_CGROUPS),
            v2,
        }
    }

    /// What is known of the container of process `pid` in cgroup `cgroup_id`: `None` if it
    /// has to be asked, `Some(None)` for the host.
    pub fn known(&mut self, cgroup_id: u64, pid: u32) -> Option<Option<std::sync::Arc<Container>>> {
        if cgroup_id == ROOT_CGROUP_ID {
            if self.v2 {
                // Runtimes put containers in their own v2 cgroups: the root is the host.
                return Some(None);
            }
            return self.by_pid_v1.get(&pid).cloned();
        }
        self.by_cgroup.get(&cgroup_id).cloned()
    }

    /// Keeps the resolver's answer to `q`.
    pub fn learn(&mut self, q: CgroupQuestion, container: Option<Container>) {
        let container = container.map(std::sync::Arc::new);
        if q.cgroup_id == ROOT_CGROUP_ID {
            self.by_pid_v1.insert(q.pid, container);
        } else {
            self.by_cgroup.insert(q.cgroup_id, container);
        }
    }

    /// The process ended: its v1 answer goes (the pid will name another process).
    pub fn forget_process(&mut self, pid: u32) {
        self.by_pid_v1.remove(&pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f6a5b1c9d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a";

    fn runtime(path: &str) -> Option<(String, Runtime)> {
        from_cgroup_path(path).map(|c| (c.id().to_string(), c.runtime))
    }

    #[test]
    fn systemd_driver_paths() {
        let want = Some((ID[..12].to_string(), Runtime::Containerd));
        assert_eq!(runtime(&format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-{ID}.scope")), want);
        assert_eq!(
            runtime(&format!(
                "/kubepods.slice/kubepods-pod1.slice/crio-{ID}.scope"
            ))
            .map(|r| r.1),
            Some(Runtime::CriO)
        );
        assert_eq!(
            runtime(&format!("/system.slice/docker-{ID}.scope")).map(|r| r.1),
            Some(Runtime::Docker)
        );
        assert_eq!(
            runtime(&format!("/machine.slice/libpod-{ID}.scope/container")).map(|r| r.1),
            Some(Runtime::Podman)
        );
        assert_eq!(runtime(&format!("/system.slice/containerd.service/kubepods-besteffort-pod9.slice:cri-containerd:{ID}")).map(|r| r.1), Some(Runtime::Containerd));
    }

    #[test]
    fn cgroupfs_driver_paths() {
        assert_eq!(
            runtime(&format!("/docker/{ID}")).map(|r| r.1),
            Some(Runtime::Docker)
        );
        assert_eq!(
            runtime(&format!("/kubepods/besteffort/pod5f2a/{ID}")).map(|r| r.1),
            Some(Runtime::Cri)
        );
        assert_eq!(
            runtime(&format!("/libpod_parent/libpod-{ID}")).map(|r| r.1),
            Some(Runtime::Podman)
        );
    }

    #[test]
    fn host_and_runtime_helpers_are_not_containers() {
        assert_eq!(from_cgroup_path("/"), None);
        assert_eq!(
            from_cgroup_path("/user.slice/user-0.slice/session-1.scope"),
            None
        );
        assert_eq!(
            from_cgroup_path(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
        assert_eq!(
            from_cgroup_path(&format!("/system.slice/crio-conmon-{ID}.scope")),
            None
        );
        assert_eq!(from_cgroup_path("/docker/abc"), None);
    }
}
