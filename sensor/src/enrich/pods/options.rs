//! How the cache reaches the cluster (or does not: host mode), and for which node.

use std::path::PathBuf;
use std::time::Duration;

/// Where the API server and credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterAccess {
    /// No cluster: no cache, no thread, every lookup is `None` at once.
    Host,
    /// A kubeconfig file (its current context).
    Kubeconfig(PathBuf),
    /// The pod's service account (`KUBERNETES_SERVICE_HOST`/`_PORT` and
    /// `/var/run/secrets/kubernetes.io/serviceaccount/`).
    InCluster,
}

#[derive(Debug, Clone)]
pub struct PodCacheOptions {
    pub access: ClusterAccess,
    /// The node whose pods are cached (`spec.nodeName`). Required unless `access` is `Host`.
    pub node_name: Option<String>,
    /// The longest wait between two attempts when the API server fails (from 200 ms, doubling).
    pub max_backoff: Duration,
}

impl PodCacheOptions {
    pub fn host() -> Self {
        Self {
            access: ClusterAccess::Host,
            node_name: None,
            max_backoff: Duration::from_secs(30),
        }
    }

    pub fn kubeconfig(path: impl Into<PathBuf>, node_name: impl Into<String>) -> Self {
        Self {
            access: ClusterAccess::Kubeconfig(path.into()),
            node_name: Some(node_name.into()),
            ..Self::host()
        }
    }

    pub fn in_cluster(node_name: impl Into<String>) -> Self {
        Self {
            access: ClusterAccess::InCluster,
            node_name: Some(node_name.into()),
            ..Self::host()
        }
    }

    /// The agent's defaults: `kubeconfig` (a `--kubeconfig` option) if given, else `$KUBECONFIG`,
    /// else in-cluster when `KUBERNETES_SERVICE_HOST` is set, else host mode. The node is
    /// `$NODE_NAME` (set through the downward API: `fieldRef: spec.nodeName`), else this
    /// machine's hostname (the kubelet's default node name).
    pub fn from_env(kubeconfig: Option<PathBuf>) -> Self {
        let kubeconfig = kubeconfig.or_else(|| {
            std::env::var_os("KUBECONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let access = match kubeconfig {
            Some(path) => ClusterAccess::Kubeconfig(path),
            None if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => {
                ClusterAccess::InCluster
            }
            None => return Self::host(),
        };
        let node_name = std::env::var("NODE_NAME")
            .ok()
            .filter(|n| !n.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_lowercase())
            });
        Self {
            access,
            node_name,
            ..Self::host()
        }
    }
}
