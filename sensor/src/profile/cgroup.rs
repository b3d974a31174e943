//! cgroup v2 for recordings: a fresh cgroup for `sensor record`, and the cgroups of a running
//! container or pod for daemon-mode recordings. A cgroup's id, as `bpf_get_current_cgroup_id`
//! reports it, is the inode number of its directory on the cgroup2 filesystem.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup2 filesystem is mounted (looked in /proc/mounts); mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified`")]
    NoCgroup2,
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no cgroup of container `{0}` under the cgroup2 mount; is the container running on this node? (give at least 12 hex digits of its id)")]
    NoContainer(String),
    #[error("no cgroup of pod `{0}` under the cgroup2 mount; is the pod running on this node? (give its uid)")]
    NoPod(String),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// Where cgroup2 is mounted (`/sys/fs/cgroup` on unified hosts, `/sys/fs/cgroup/unified` on
/// hybrid ones).
pub fn cgroup2_root() -> Result<PathBuf, CgroupError> {
    let mounts = std::fs::read_to_string("/proc/mounts")
        .map_err(io("reading", Path::new("/proc/mounts")))?;
    mounts
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (_, dir, fstype) = (f.next()?, f.next()?, f.next()?);
            (fstype == "cgroup2").then(|| PathBuf::from(dir))
        })
        .ok_or(CgroupError::NoCgroup2)
}

/// The id of the cgroup at `path` (a directory on the cgroup2 filesystem).
pub fn cgroup_id(path: &Path) -> Result<u64, CgroupError> {
    Ok(std::fs::metadata(path).map_err(io("reading", path))?.ino())
}

/// A cgroup made for one recording and removed when dropped.
#[derive(Debug)]
pub struct TempCgroup {
    path: PathBuf,
    id: u64,
}

impl TempCgroup {
    /// Creates `<cgroup2>/sensor-record/<name>-<pid>`.
    pub fn create(name: &str) -> Result<Self, CgroupError> {
        let parent = cgroup2_root()?.join("sensor-record");
        std::fs::create_dir_all(&parent).map_err(io("creating", &parent))?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = parent.join(format!("{safe}-{}", std::process::id()));
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("creating", &path)(e)),
        }
        let id = cgroup_id(&path)?;
        Ok(Self { path, id })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `cgroup.procs`, which a process writes its own pid into to join.
    pub fn procs_file(&self) -> PathBuf {
        self.path.join("cgroup.procs")
    }

    /// Makes `command`'s child join this cgroup between fork and exec, so that everything
    /// from its exec on happens inside it.
    pub fn join_before_exec(&self, command: &mut std::process::Command) -> std::io::Result<()> {
        use std::os::unix::process::CommandExt;
        let procs = std::ffi::CString::new(self.procs_file().into_os_string().into_encoded_bytes())
            .map_err(std::io::Error::other)?;
        // SAFETY: only open/write/close on memory prepared before the fork.
        unsafe {
            command.pre_exec(move || join_cgroup(&procs));
        }
        Ok(())
    }
}

/// In the child, before exec: joins the cgroup (writing 0 moves the writer).
fn join_cgroup(procs: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: async-signal-safe calls on a valid C string.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let written = libc::write(fd, b"0".as_ptr().cast(), 1);
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        if written != 1 {
            return Err(error);
        }
    }
    Ok(())
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        // A process that just exited may take a moment to leave the cgroup.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match std::fs::remove_dir(&self.path) {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => {
                    tracing::warn!(path = %self.path.display(), "removing the recording cgroup: {e}");
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        if let Some(parent) = self.path.parent() {
            // Only when empty: another recording may be using it.
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Every cgroup directory under the cgroup2 mount, with its path relative to it.
fn walk(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = entry.path();
                let relative = path
                    .strip_prefix(root)
                    .map(|p| format!("/{}", p.display()))
                    .unwrap_or_default();
                stack.push(path.clone());
                out.push((path, relative));
            }
        }
    }
    out
}

/// The cgroup ids of a container, by its id (the full 64 hex digits or a prefix of at least
/// 12): its own cgroup and any below it, for every runtime and cgroup driver the enrichment
/// stage recognises.
pub fn container_cgroups(container_id: &str) -> Result<Vec<u64>, CgroupError> {
    let root = cgroup2_root()?;
    container_cgroups_under(&root, container_id)
}

pub fn container_cgroups_under(root: &Path, container_id: &str) -> Result<Vec<u64>, CgroupError> {
    let wanted = container_id.to_ascii_lowercase();
    if wanted.len() < 12 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CgroupError::NoContainer(container_id.to_string()));
    }
    let mut ids = Vec::new();
    for (path, relative) in walk(root) {
        let matches = crate::enrich::container::from_cgroup_path(&relative)
            .is_some_and(|c| c.full_id.starts_with(&wanted));
        if matches {
            ids.push(cgroup_id(&path)?);
        }
    }
    if ids.is_empty() {
        return Err(CgroupError::NoContainer(container_id.to_string()));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// The cgroup ids of every container of a pod, by the pod's uid: the kubelet names the pod's
/// cgroup `pod<uid>` (cgroupfs driver) or `...-pod<uid with _>.slice` (systemd driver).
pub fn pod_cgroups(pod_uid: &str) -> Result<Vec<u64>, CgroupError> {
    let root = cgroup2_root()?;
    pod_cgroups_under(&root, pod_uid)
}

pub fn pod_cgroups_under(root: &Path, pod_uid: &str) -> Result<Vec<u64>, CgroupError> {
    let dashed = format!("pod{}", pod_uid.to_ascii_lowercase());
    let underscored = dashed.replace('-', "_");
    let mut ids = Vec::new();
    for (path, relative) in walk(root) {
        let in_pod = relative.split('/').any(|c| {
            let c = c.strip_suffix(".slice").unwrap_or(c);
            c == dashed || c.ends_with(&format!("-{underscored}")) || c == underscored
        });
        if in_pod && crate::enrich::container::from_cgroup_path(&relative).is_some() {
            ids.push(cgroup_id(&path)?);
        }
    }
    if ids.is_empty() {
        return Err(CgroupError::NoPod(pod_uid.to_string()));
    }
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_containers_and_pods_in_a_tree() {
        let root = std::env::temp_dir().join(format!("sensor-cgroup-walk-{}", std::process::id()));
        let id_a = "a".repeat(64);
        let id_b = format!("{}{}", "b".repeat(12), "0".repeat(52));
        let pod = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc";
        let a = root.join(format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{id_a}.scope",
            pod.replace('-', "_")
        ));
        let b = root.join(format!("kubepods/burstable/pod{pod}/{id_b}"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();

        assert_eq!(
            container_cgroups_under(&root, &id_a[..12]).unwrap(),
            [ino(&a)]
        );
        assert_eq!(container_cgroups_under(&root, &id_b).unwrap(), [ino(&b)]);
        assert!(container_cgroups_under(&root, "cccccccccccc").is_err());
        assert!(container_cgroups_under(&root, "abc").is_err());
        let mut both = vec![ino(&a), ino(&b)];
        both.sort_unstable();
        assert_eq!(pod_cgroups_under(&root, pod).unwrap(), both);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
