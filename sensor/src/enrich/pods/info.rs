//! What the cache keeps of a pod: only the fields enrichment needs, not the whole `Pod`
//! (a Pod object with its managed fields and status is tens of kilobytes).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, SecurityContext};

use super::container_id;
use super::image;
use super::workload;
use crate::model::pod::find;
pub use crate::model::pod::{PodInfo, PodMeta};

/// Annotations not kept: `last-applied-configuration` is a full copy of the object.
const DROPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// Every started container of `pod` (regular, init and ephemeral), with its bare id.
pub fn containers_of(pod: &Pod) -> Vec<PodInfo> {
    let meta = &pod.metadata;
    let name = meta.name.as_deref().unwrap_or_default();
    let labels = sorted_pairs(meta.labels.iter().flatten(), &[]);
    let template_hash = find(&labels, "pod-template-hash");
    let workload = workload::derive(
        name,
        meta.owner_references.as_deref().unwrap_or_default(),
        template_hash,
    );
    let pod_meta = Arc::new(PodMeta {
        name: name.into(),
        namespace: meta.namespace.as_deref().unwrap_or_default().into(),
        uid: meta.uid.as_deref().unwrap_or_default().into(),
        annotations: sorted_pairs(meta.annotations.iter().flatten(), DROPPED_ANNOTATIONS),
        labels,
        workload,
    });
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    // Each container of the spec by name: its image and whether it runs privileged.
    let spec_of = |container: &str| -> Option<(Option<&str>, bool)> {
        let spec = pod.spec.as_ref()?;
        let privileged =
            |c: &Option<SecurityContext>| c.as_ref().and_then(|c| c.privileged).unwrap_or(false);
        let regular = spec
            .containers
            .iter()
            .map(|c| (&c.name, &c.image, privileged(&c.security_context)));
        let init = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| (&c.name, &c.image, privileged(&c.security_context)));
        let ephemeral = spec
            .ephemeral_containers
            .iter()
            .flatten()
            .map(|c| (&c.name, &c.image, privileged(&c.security_context)));
        regular
            .chain(init)
            .chain(ephemeral)
            .find(|(n, _, _)| n.as_str() == container)
            .map(|(_, image, privileged)| (image.as_deref(), privileged))
    };
    let statuses: [&Option<Vec<ContainerStatus>>; 3] = [
        &status.container_statuses,
        &status.init_container_statuses,
        &status.ephemeral_container_statuses,
    ];
    statuses
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|s| {
            let id = container_id::strip_runtime_prefix(s.container_id.as_deref()?)?;
            let spec = spec_of(&s.name);
            let image = spec
                .and_then(|(image, _)| image)
                .filter(|i| !i.is_empty())
                .unwrap_or(&s.image);
            let parsed = image::parse(image);
            Some(PodInfo {
                pod: pod_meta.clone(),
                container_id: id.into(),
                container_name: s.name.as_str().into(),
                image: image.into(),
                image_repository: parsed.repository.into(),
                image_tag: parsed.tag.map(Into::into),
                image_digest: parsed.digest.map(Into::into),
                privileged: spec.is_some_and(|(_, privileged)| privileged),
            })
        })
        .collect()
}

fn sorted_pairs<'a>(
    pairs: impl Iterator<Item = (&'a String, &'a String)>,
    dropped: &[&str],
) -> Box<[(Box<str>, Box<str>)]> {
    let mut v: Vec<(Box<str>, Box<str>)> = pairs
        .filter(|(k, _)| !dropped.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
        .collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    v.into_boxed_slice()
}

/// Heap bytes held by the cache's structures (an estimate: exact for the strings and slices,
/// not counting allocator overhead).
pub trait HeapSize {
    fn heap_size(&self) -> usize;
}

impl HeapSize for PodMeta {
    fn heap_size(&self) -> usize {
        let pairs = |p: &[(Box<str>, Box<str>)]| {
            std::mem::size_of_val(p) + p.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        };
        self.name.len()
            + self.namespace.len()
            + self.uid.len()
            + pairs(&self.labels)
            + pairs(&self.annotations)
            + self.workload.kind.len()
            + self.workload.name.len()
    }
}

impl HeapSize for PodInfo {
    /// The container's own strings, not the shared `PodMeta`.
    fn heap_size(&self) -> usize {
        self.container_id.len()
            + self.container_name.len()
            + self.image.len()
            + self.image_repository.len()
            + self.image_tag.as_ref().map_or(0, |t| t.len())
            + self.image_digest.as_ref().map_or(0, |d| d.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn extracts_every_started_container() {
        let id = |c: char| std::iter::repeat_n(c, 64).collect::<String>();
        let p = pod(serde_json::json!({
            "metadata": {
                "name": "web-7d9c5b8f6d-x2x4z", "namespace": "shop", "uid": "uid-1",
                "labels": {"app": "web", "pod-template-hash": "7d9c5b8f6d"},
                "annotations": {"a": "b", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-7d9c5b8f6d", "uid": "rs", "controller": true}]
            },
            "spec": {
                "nodeName": "n1",
                "containers": [{"name": "app", "image": "nginx:1.25"},
                               {"name": "pending", "image": "busybox"}],
                "initContainers": [{"name": "init", "image": "gcr.io/x/init@sha256:ab",
                                    "securityContext": {"privileged": true}}]
            },
            "status": {
                "containerStatuses": [
                    {"name": "app", "containerID": format!("containerd://{}", id('a')),
                     "image": "docker.io/library/nginx:1.25", "imageID": "", "ready": true,
                     "restartCount": 0},
                    {"name": "pending", "image": "busybox", "imageID": "", "ready": false,
                     "restartCount": 0}
                ],
                "initContainerStatuses": [
                    {"name": "init", "containerID": format!("cri-o://{}", id('b')),
                     "image": "", "imageID": "", "ready": false, "restartCount": 0}
                ],
                "ephemeralContainerStatuses": [
                    {"name": "debug", "containerID": format!("docker://{}", id('c')),
                     "image": "busybox:1.36", "imageID": "", "ready": false, "restartCount": 0}
                ]
            }
        }));
        let c = containers_of(&p);
        assert_eq!(c.len(), 3, "{c:#?}");
        assert_eq!(&*c[0].container_id, id('a'));
        assert_eq!(&*c[0].container_name, "app");
        assert_eq!(&*c[0].image, "nginx:1.25");
        assert_eq!(&*c[0].image_repository, "nginx");
        assert_eq!(c[0].image_tag.as_deref(), Some("1.25"));
        assert_eq!(&*c[1].container_id, id('b'));
        assert_eq!(&*c[1].image_repository, "gcr.io/x/init");
        assert_eq!(c[1].image_digest.as_deref(), Some("sha256:ab"));
        // Privileged as its spec says; a container missing from the spec is not.
        assert!(!c[0].privileged);
        assert!(c[1].privileged);
        assert!(!c[2].privileged);
        // An ephemeral container missing from the spec takes the status's image.
        assert_eq!(&*c[2].container_id, id('c'));
        assert_eq!(&*c[2].image, "busybox:1.36");
        let meta = &c[0].pod;
        assert!(Arc::ptr_eq(meta, &c[2].pod));
        assert_eq!(&*meta.name, "web-7d9c5b8f6d-x2x4z");
        assert_eq!(&*meta.namespace, "shop");
        assert_eq!(&*meta.uid, "uid-1");
        assert_eq!(meta.label("app"), Some("web"));
        assert_eq!(meta.annotation("a"), Some("b"));
        assert_eq!(
            meta.annotation("kubectl.kubernetes.io/last-applied-configuration"),
            None
        );
        assert_eq!(&*meta.workload.kind, "Deployment");
        assert_eq!(&*meta.workload.name, "web");
    }

    #[test]
    fn pod_without_status_has_no_containers() {
        let p = pod(serde_json::json!({"metadata": {"name": "x"}}));
        assert!(containers_of(&p).is_empty());
    }
}
