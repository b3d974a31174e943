//! What the container runtime decided for a container, from the OCI runtime spec it handed
//! to runc (`config.json` in the container's bundle): for now, whether it runs privileged,
//! for containers the sensor knows no pod of (plain containerd, nerdctl, podman, CRI-O
//! outside Kubernetes).
//!
//! The OCI spec has no "privileged" flag; runtimes implement it as the CRI does: every
//! capability, and no masked or read-only paths under /proc and /sys. That is what this
//! recognises, so a container started with all capabilities but the default masks is not
//! privileged, as in Kubernetes.

use serde::Deserialize;

use crate::model::container::{Container, Runtime};

/// Where runtimes keep a container's bundle, its id the directory's name.
/// containerd: `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`.
const CONTAINERD_TASKS: &str = "run/containerd/io.containerd.runtime.v2.task";
/// CRI-O and podman (containers/storage): `<root>/<id>/userdata/config.json`.
const STORAGE_CONTAINERS: &[&str] = &[
    "run/containers/storage/overlay-containers",
    "var/lib/containers/storage/overlay-containers",
];
/// The most bytes of a config read (they are tens of KiB).
const CONFIG_CAP: u64 = 4 << 20;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Spec {
    process: Option<Process>,
    linux: Option<Linux>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Process {
    capabilities: Option<Capabilities>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Capabilities {
    bounding: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Linux {
    masked_paths: Vec<String>,
    readonly_paths: Vec<String>,
}

/// Whether `container` runs privileged, from its runtime's spec; `None` where the spec is not
/// found (another runtime, a state directory the sensor cannot see) or not readable.
pub fn privileged(container: &Container) -> Option<bool> {
    let config = config_json(container)?;
    let spec: Spec = match serde_json::from_str(&config) {
        Ok(spec) => spec,
        Err(e) => {
            tracing::debug!(id = %container.id(), "container spec unreadable: {e}");
            return None;
        }
    };
    Some(is_privileged(&spec))
}

fn is_privileged(spec: &Spec) -> bool {
    let all_capabilities = spec
        .process
        .as_ref()
        .and_then(|p| p.capabilities.as_ref())
        .is_some_and(|c| c.bounding.iter().any(|cap| cap == "CAP_SYS_ADMIN"));
    let unmasked = spec
        .linux
        .as_ref()
        .is_none_or(|l| l.masked_paths.is_empty() && l.readonly_paths.is_empty());
    all_capabilities && unmasked
}

/// The container's `config.json`, read without following a link out of `/` and refusing
/// anything but a regular file of bounded size (`root_files`).
fn config_json(container: &Container) -> Option<String> {
    let read = |relative: &str| super::root_files::read_in_root("/", relative, CONFIG_CAP).ok();
    match container.runtime {
        Runtime::Containerd | Runtime::Cri => {
            // The namespace (k8s.io, default, moby...) is not in the cgroup path: each is
            // looked in.
            let namespaces = std::fs::read_dir(format!("/{CONTAINERD_TASKS}")).ok()?;
            namespaces.flatten().find_map(|ns| {
                let ns = ns.file_name();
                let ns = ns.to_str()?;
                if ns.contains('/') || ns.starts_with('.') {
                    return None;
                }
                read(&format!(
                    "{CONTAINERD_TASKS}/{ns}/{}/config.json",
                    container.full_id
                ))
            })
        }
        Runtime::CriO | Runtime::Podman => STORAGE_CONTAINERS.iter().find_map(|root| {
            read(&format!(
                "{root}/{}/userdata/config.json",
                container.full_id
            ))
        }),
        Runtime::Docker => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn privileged_is_every_capability_and_no_masks() {
        let privileged = spec(
            r#"{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN"]}},"linux":{}}"#,
        );
        assert!(is_privileged(&privileged));
        // The runtime's default masks: not privileged, whatever the capabilities.
        let masked = spec(
            r#"{"process":{"capabilities":{"bounding":["CAP_SYS_ADMIN"]}},"linux":{"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}"#,
        );
        assert!(!is_privileged(&masked));
        let plain = spec(r#"{"process":{"capabilities":{"bounding":["CAP_CHOWN"]}}}"#);
        assert!(!is_privileged(&plain));
        assert!(!is_privileged(&spec("{}")));
    }
}
