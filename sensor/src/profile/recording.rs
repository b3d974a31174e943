//! A finished recording: the syscalls a workload made and what its AppArmor profile needs.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::syscalls::Family;
use crate::model::{Event, EventKind};

/// What a workload did, over one or more cgroups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub name: String,
    /// Every syscall entered, by name (native and compat ABIs together: an OCI profile names
    /// syscalls once for all its architectures).
    pub syscalls: BTreeSet<String>,
    /// The subset entered through the 32-bit compat ABI.
    pub compat_syscalls: BTreeSet<String>,
    /// Numbers libseccomp has no name for (`native:NR` / `compat:NR`); a profile cannot allow
    /// them by name, so they are reported.
    pub unnamed: BTreeSet<String>,
    /// Syscalls whose number was past the recorder's bitmap (none on today's kernels).
    pub out_of_range: u64,
    /// 32-bit processes that started in the recorded cgroups while 32-bit syscalls were not
    /// recorded (`RecordOptions::compat` off): their syscalls are missing (see
    /// [`Recording::warnings`]).
    #[serde(default)]
    pub unrecorded_compat_processes: u64,
    /// Processes started in the recorded cgroups (the first one included).
    pub processes: u64,
    pub apparmor: AppArmorObservations,
    /// The cgroup ids recorded.
    pub cgroups: Vec<u64>,
    #[serde(with = "seconds")]
    pub duration: Duration,
}

/// The most paths (executables, mounts, unmounts, chmod targets together) one recording
/// keeps. A real workload's AppArmor profile names tens to hundreds; a recorded process that
/// touches millions of distinct paths would otherwise grow the sensor without end. What is
/// past the bound is counted ([`AppArmorObservations::dropped`]) and said in the recording's
/// warnings and the log.
pub const MAX_OBSERVED_PATHS: usize = 16_384;
/// The most bytes of path text one recording keeps (each path is up to two `PATH_MAX`s long,
/// so the count alone would allow 128 MiB).
pub const MAX_OBSERVED_BYTES: usize = 4 << 20;

/// What an AppArmor profile needs, from the events the sensor sees.
#[derive(Clone, Debug, Default, Eq, Serialize, Deserialize)]
pub struct AppArmorObservations {
    /// Paths of the binaries executed (the image the kernel loaded).
    pub executables: BTreeSet<String>,
    pub mounts: BTreeSet<MountRule>,
    /// Mount points unmounted.
    pub umounts: BTreeSet<String>,
    /// Capabilities used, as AppArmor names them (`setuid`, `sys_admin`).
    pub capabilities: BTreeSet<String>,
    /// Files whose mode the workload changed.
    pub chmod_targets: BTreeSet<String>,
    /// Observations not kept because the recording had reached [`MAX_OBSERVED_PATHS`] or
    /// [`MAX_OBSERVED_BYTES`]: a profile from it lacks them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    /// Bytes of path text held, against [`MAX_OBSERVED_BYTES`].
    #[serde(skip)]
    bytes: usize,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Equal when they hold the same observations; the byte count is bookkeeping (not written
/// out, so a recording read back has none).
impl PartialEq for AppArmorObservations {
    fn eq(&self, other: &Self) -> bool {
        self.executables == other.executables
            && self.mounts == other.mounts
            && self.umounts == other.umounts
            && self.capabilities == other.capabilities
            && self.chmod_targets == other.chmod_targets
            && self.dropped == other.dropped
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MountRule {
    pub source: String,
    pub target: String,
    pub fstype: String,
}

impl Recording {
    /// Adds another recording's findings: a workload of several containers, or several runs.
    pub fn merge(&mut self, other: &Recording) {
        self.syscalls.extend(other.syscalls.iter().cloned());
        self.compat_syscalls
            .extend(other.compat_syscalls.iter().cloned());
        self.unnamed.extend(other.unnamed.iter().cloned());
        self.out_of_range += other.out_of_range;
        self.unrecorded_compat_processes += other.unrecorded_compat_processes;
        self.processes += other.processes;
        self.apparmor.merge(&other.apparmor);
        for c in &other.cgroups {
            if !self.cgroups.contains(c) {
                self.cgroups.push(*c);
            }
        }
        self.duration = self.duration.max(other.duration);
    }
}

impl Recording {
    /// What makes a profile from this recording incomplete, each in words a user can act on.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.unrecorded_compat_processes > 0 {
            warnings.push(format!(
                "{} 32-bit process(es) ran but 32-bit syscalls were not recorded: the profile \
                 would break them; record again with compat (`sensor profile start --compat`, \
                 `compat: true` over gRPC)",
                self.unrecorded_compat_processes
            ));
        }
        if !self.unnamed.is_empty() {
            let unnamed: Vec<&str> = self.unnamed.iter().map(String::as_str).collect();
            warnings.push(format!(
                "syscall numbers libseccomp has no name for cannot be allowed by a profile: {}",
                unnamed.join(", ")
            ));
        }
        if self.apparmor.dropped > 0 {
            warnings.push(format!(
                "the recording reached its bound of {MAX_OBSERVED_PATHS} paths or {} MiB of \
                 path text: {} more executables, mounts or chmod targets were not kept, so an \
                 AppArmor profile from it lacks them; record a narrower workload",
                MAX_OBSERVED_BYTES >> 20,
                self.apparmor.dropped
            ));
        }
        if self.out_of_range > 0 {
            warnings.push(format!(
                "{} syscalls past the recorder's 1024 numbers were made and are not in the profile",
                self.out_of_range
            ));
        }
        warnings
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path argument made absolute with the process's working directory where it is known.
fn absolute(path: &[u8], event: &Event) -> String {
    if path.starts_with(b"/") {
        return text(path);
    }
    match event.process.as_ref().and_then(|p| p.cwd.as_ref()) {
        Some(cwd) => {
            let cwd = text(cwd);
            format!("{}/{}", cwd.trim_end_matches('/'), text(path))
        }
        None => text(path),
    }
}

/// Which of the bounded sets an observation goes to.
#[derive(Clone, Copy)]
enum PathSet {
    Executables,
    Umounts,
    ChmodTargets,
}

impl AppArmorObservations {
    pub fn merge(&mut self, other: &AppArmorObservations) {
        // A recording read back carries no byte count: count again before adding.
        self.bytes = self.path_bytes();
        for path in &other.executables {
            self.insert_path(PathSet::Executables, path.clone());
        }
        for mount in &other.mounts {
            self.insert_mount(mount.clone());
        }
        for path in &other.umounts {
            self.insert_path(PathSet::Umounts, path.clone());
        }
        for path in &other.chmod_targets {
            self.insert_path(PathSet::ChmodTargets, path.clone());
        }
        self.capabilities.extend(other.capabilities.iter().cloned());
        self.dropped += other.dropped;
    }

    /// Paths held in the bounded sets.
    pub fn paths(&self) -> usize {
        self.executables.len() + self.mounts.len() + self.umounts.len() + self.chmod_targets.len()
    }

    fn path_bytes(&self) -> usize {
        let strings = self
            .executables
            .iter()
            .chain(&self.umounts)
            .chain(&self.chmod_targets);
        strings.map(String::len).sum::<usize>()
            + self
                .mounts
                .iter()
                .map(|m| m.source.len() + m.target.len() + m.fstype.len())
                .sum::<usize>()
    }

    /// Whether `bytes` more fit; counts the observation as dropped if not.
    fn admit(&mut self, bytes: usize) -> bool {
        if self.paths() >= MAX_OBSERVED_PATHS || self.bytes + bytes > MAX_OBSERVED_BYTES {
            self.dropped += 1;
            return false;
        }
        true
    }

    fn insert_path(&mut self, set: PathSet, path: String) {
        let set_ref = match set {
            PathSet::Executables => &self.executables,
            PathSet::Umounts => &self.umounts,
            PathSet::ChmodTargets => &self.chmod_targets,
        };
        if set_ref.contains(&path) || !self.admit(path.len()) {
            return;
        }
        self.bytes += path.len();
        match set {
            PathSet::Executables => self.executables.insert(path),
            PathSet::Umounts => self.umounts.insert(path),
            PathSet::ChmodTargets => self.chmod_targets.insert(path),
        };
    }

    fn insert_mount(&mut self, mount: MountRule) {
        let len = mount.source.len() + mount.target.len() + mount.fstype.len();
        if self.mounts.contains(&mount) || !self.admit(len) {
            return;
        }
        self.bytes += len;
        self.mounts.insert(mount);
    }

    /// Takes what a profile needs from one event of a recorded process. Failed calls count
    /// too: the workload tried them, and a profile that denies them changes nothing only if
    /// they were failing for another reason anyway — the safe side is to allow.
    pub fn observe(&mut self, event: &Event) {
        let EventKind::Syscall(def) = event.kind else {
            return;
        };
        match def.family {
            Family::Exec => {
                if event.res != 0 {
                    return;
                }
                let Some(exec) = &event.exec else { return };
                // The file the kernel mapped, canonical in the process's mount namespace, is
                // what AppArmor matches (a memory file as `/memfd:NAME (deleted)`, as the
                // kernel names it).
                if let Some(exe) = &exec.exe {
                    self.insert_path(PathSet::Executables, text(&exe.path));
                    return;
                }
                let path = match &exec.image {
                    Some(image) => text(image),
                    None => absolute(&exec.filename, event),
                };
                // AppArmor matches the resolved path (`/bin/true` runs as `/usr/bin/true` on
                // merged-/usr systems); for a host process, resolve it while it still exists.
                if event.container.is_none() {
                    if let Ok(resolved) = std::fs::canonicalize(&path) {
                        let resolved = resolved.to_string_lossy().into_owned();
                        if resolved != path {
                            self.insert_path(PathSet::Executables, resolved);
                        }
                    }
                }
                self.insert_path(PathSet::Executables, path);
            }
            Family::Chmod => {
                let target = match def.name {
                    "fchmod" => event.fd_path.as_deref().map(text),
                    _ => Some(absolute(&event.strings[0], event)),
                };
                if let Some(target) = target.filter(|t| !t.is_empty()) {
                    self.insert_path(PathSet::ChmodTargets, target);
                }
            }
            Family::Mount => {
                self.capabilities.insert("sys_admin".into());
                match def.name {
                    "mount" => {
                        self.insert_mount(MountRule {
                            source: text(&event.strings[0]),
                            target: absolute(&event.strings[1], event),
                            fstype: text(&event.strings[2]),
                        });
                    }
                    "umount2" => {
                        self.insert_path(PathSet::Umounts, absolute(&event.strings[0], event));
                    }
                    _ => {}
                }
            }
            Family::SetId => match def.name {
                "setuid" | "setreuid" | "setresuid" | "setfsuid" => {
                    self.capabilities.insert("setuid".into());
                }
                "setgid" | "setregid" | "setresgid" | "setfsgid" => {
                    self.capabilities.insert("setgid".into());
                }
                "capset" => {
                    // The capabilities the process keeps effective are the ones it uses.
                    let effective = capset_effective(event);
                    for bit in 0..64 {
                        if effective & (1u64 << bit) != 0 {
                            if let Some(name) = capability_name(bit) {
                                self.capabilities.insert(name);
                            }
                        }
                    }
                }
                _ => {}
            },
            // Loading a module needs CAP_SYS_MODULE whoever asks, so a workload that did it
            // keeps it.
            Family::Module => {
                self.capabilities.insert("sys_module".into());
            }
            // Links, renames, namespaces, sockets and descriptors: the profile's file rules
            // come from its path sets and its syscalls from the recorder's bitmap; these
            // families add no AppArmor rule of their own yet. Opens are not traced while
            // recording (BASE_FAMILIES).
            Family::File | Family::Process | Family::Net | Family::Fd | Family::Open => {}
        }
    }
}

fn capset_effective(event: &Event) -> u64 {
    let data = &event.strings[0];
    let word = |i: usize| -> u64 {
        data.get(i * 4..i * 4 + 4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64)
    };
    word(0) | (word(3) << 32)
}

/// AppArmor's name of capability `bit` (`CAP_SYS_ADMIN` -> `sys_admin`).
fn capability_name(bit: u32) -> Option<String> {
    let set = crate::model::flags::capabilities(1u64 << bit);
    set.strip_prefix("CAP_")
        .filter(|n| !n.chars().all(|c| c.is_ascii_digit()))
        .map(|n| n.to_ascii_lowercase())
}

/// `Duration` as seconds with a fraction in JSON, readable by people and tools alike.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(secs.max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workload touching far more distinct paths than the bound: the sets stop growing,
    /// the rest is counted, and the recording says so.
    #[test]
    fn a_recording_caps_its_paths_and_says_so() {
        let mut observations = AppArmorObservations::default();
        let total = MAX_OBSERVED_PATHS + 1000;
        for i in 0..total {
            observations.insert_path(PathSet::ChmodTargets, format!("/tmp/f{i}"));
        }
        // Seen again: neither kept twice nor counted as dropped.
        observations.insert_path(PathSet::ChmodTargets, "/tmp/f0".into());
        assert_eq!(observations.paths(), MAX_OBSERVED_PATHS);
        assert_eq!(observations.dropped, 1000);
        let recording = Recording {
            apparmor: observations.clone(),
            ..Recording::default()
        };
        let warnings = recording.warnings();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("1000 more") && w.contains("bound")),
            "{warnings:?}"
        );
        // The byte bound holds for long paths too.
        let mut long = AppArmorObservations::default();
        let path = "/".repeat(4000);
        for i in 0..2000 {
            long.insert_path(PathSet::Executables, format!("{path}{i}"));
        }
        assert!(long.path_bytes() <= MAX_OBSERVED_BYTES);
        assert!(long.dropped > 0);
        // Merging keeps the bound and the count.
        let mut merged = AppArmorObservations::default();
        merged.merge(&observations);
        merged.merge(&long);
        assert_eq!(merged.paths(), MAX_OBSERVED_PATHS);
        assert!(merged.dropped >= 1000 + long.dropped);
        // Written and read back, the count stays.
        let json = serde_json::to_string(&recording).expect("json");
        let back: Recording = serde_json::from_str(&json).expect("read back");
        assert_eq!(back.apparmor.dropped, 1000);
    }

    #[test]
    fn capability_names_are_apparmors() {
        assert_eq!(capability_name(21).as_deref(), Some("sys_admin"));
        assert_eq!(capability_name(7).as_deref(), Some("setuid"));
        assert_eq!(capability_name(63), None);
    }
}
