//! A container's identity as the sensor names it (Falco's `container.id`, `container.full_id`,
//! `container.runtime`); found from the cgroup path by `enrich::container`.

/// The container runtime a cgroup path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Containerd,
    CriO,
    Docker,
    Podman,
    /// A Kubernetes pod cgroup whose runtime the path does not name (cgroupfs driver).
    Cri,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Cri => "cri",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The full 64-hex-digit id (Falco's `container.full_id`).
    pub full_id: String,
    pub runtime: Runtime,
    /// Whether it runs privileged, as its runtime's spec says (`enrich::runtime_state`);
    /// `None` where the spec was not found.
    pub privileged: Option<bool>,
}

impl Container {
    /// Falco's `container.id`: the first 12 hex digits.
    pub fn id(&self) -> &str {
        &self.full_id[..12]
    }
}
