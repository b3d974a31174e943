//! What the sensor knows of a container's Kubernetes pod (Falco's `k8s.*` and
//! `container.name`/`container.image*` fields); filled by `enrich::pods`' cache.

use std::sync::Arc;

/// Kind and name of the owning workload; a pod without a controller is its own workload
/// (`kind` = `Pod`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: Box<str>,
    pub name: Box<str>,
}

/// The pod-level part, shared by every container of the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodMeta {
    pub name: Box<str>,
    pub namespace: Box<str>,
    pub uid: Box<str>,
    /// Sorted by key.
    pub labels: Box<[(Box<str>, Box<str>)]>,
    /// Sorted by key; without `kubectl.kubernetes.io/last-applied-configuration`.
    pub annotations: Box<[(Box<str>, Box<str>)]>,
    pub workload: Workload,
}

impl PodMeta {
    pub fn label(&self, key: &str) -> Option<&str> {
        find(&self.labels, key)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        find(&self.annotations, key)
    }
}

/// The value of `key` in pairs sorted by key.
pub fn find<'a>(pairs: &'a [(Box<str>, Box<str>)], key: &str) -> Option<&'a str> {
    pairs
        .binary_search_by(|(k, _)| k.as_ref().cmp(key))
        .ok()
        .map(|i| pairs[i].1.as_ref())
}

/// One container of a pod on this node: what `lookup` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub pod: Arc<PodMeta>,
    /// The bare 64-hex id (runtime prefix stripped).
    pub container_id: Box<str>,
    pub container_name: Box<str>,
    /// The image as the pod spec names it (the status's image when the spec has none).
    pub image: Box<str>,
    /// `image` split like Falco: `repository[:tag][@digest]`, the registry and its port kept.
    pub image_repository: Box<str>,
    pub image_tag: Option<Box<str>>,
    pub image_digest: Option<Box<str>>,
    /// The pod spec runs this container privileged (`securityContext.privileged`): Falco's
    /// `container.privileged`.
    pub privileged: bool,
}
