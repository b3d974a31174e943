//! Container identity from a process's cgroup path, for the runtimes and cgroup drivers
//! Kubernetes nodes use: containerd, CRI-O, Docker and podman, systemd and cgroupfs drivers,
//! cgroup v1 and v2. Processes outside any container are `host`, as in Falco.

use std::collections::HashMap;

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

/// Where the unified (v2) cgroup hierarchy is mounted.
fn cgroup2_mount() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_, dir, fstype) = (fields.next()?, fields.next()?, fields.next()?);
        (fstype == "cgroup2").then(|| dir.to_string())
    })
}

/// Cgroups visited at most when searching the hierarchy for one id.
const MAX_WALK: usize = 200_000;

/// The path (relative to the hierarchy's root) of the v2 cgroup whose id is `id`: on cgroup2
/// the id is the directory's inode number. Used when the process is already gone, so its
/// /proc entry cannot say.
fn cgroup_path_by_id(mount: &str, id: u64) -> Option<String> {
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

/// Container identity cached by cgroup id, so it is worked out once per cgroup.
#[derive(Default)]
pub struct ContainerCache {
    by_cgroup: HashMap<u64, Option<std::sync::Arc<Container>>>,
    mount: Option<Option<String>>,
}

/// The root of the unified hierarchy: host processes where it is in use, and every process
/// on a cgroup-v1-only node, where the id says nothing and the process's own paths decide.
const ROOT_CGROUP_ID: u64 = 1;

impl ContainerCache {
    /// The container of process `pid` in cgroup `cgroup_id` (`None` for the host).
    pub fn lookup(&mut self, cgroup_id: u64, pid: u32) -> Option<std::sync::Arc<Container>> {
        if let Some(known) = self.by_cgroup.get(&cgroup_id) {
            return known.clone();
        }
        let mount = self.mount.get_or_insert_with(cgroup2_mount).clone();
        if cgroup_id == ROOT_CGROUP_ID {
            if mount.is_some() {
                // Runtimes put containers in their own v2 cgroups: the root is the host.
                self.by_cgroup.insert(cgroup_id, None);
                return None;
            }
            return cgroup_path_of(pid)
                .and_then(|path| from_cgroup_path(&path))
                .map(std::sync::Arc::new);
        }
        // The process's /proc entry is quickest; a short-lived process may be gone already, and
        // then the hierarchy itself is searched for the cgroup.
        let path = cgroup_path_of(pid)
            .filter(|path| {
                use std::os::unix::fs::MetadataExt;
                let Some(mount) = &mount else { return true };
                std::fs::symlink_metadata(format!("{mount}{path}"))
                    .is_ok_and(|m| m.ino() == cgroup_id)
            })
            .or_else(|| cgroup_path_by_id(mount.as_deref()?, cgroup_id));
        let path = path?;
        let container = from_cgroup_path(&path).map(std::sync::Arc::new);
        if self.by_cgroup.len() > 65536 {
            self.by_cgroup.clear();
        }
        self.by_cgroup.insert(cgroup_id, container.clone());
        container
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
