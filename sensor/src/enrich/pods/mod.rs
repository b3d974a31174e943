//! The node's pod cache: container id → pod, namespace, labels, workload, image, for the
//! containers of the pods scheduled on this node.
//!
//! One watch of Pods with the field selector `spec.nodeName=<node>` (so the API server only
//! ever sends this node's pods), kept current by `kube::runtime::watcher` on a thread and
//! current-thread tokio runtime the cache owns. Enrichment makes no API request:
//! [`PodCache::lookup`] is a hash-map read under an uncontended `RwLock` read lock.
//!
//! ```no_run
//! use std::time::Duration;
//! use sensor::enrich::pods::{PodCache, PodCacheOptions};
//! // --kubeconfig / $KUBECONFIG / in-cluster / host mode, node from $NODE_NAME:
//! let cache = PodCache::start(PodCacheOptions::from_env(None))?;
//! let id = "3f4b2c1d0e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c";
//! let info = cache.lookup(id)
//!     // A container started moments ago: its pod's status may not have arrived yet.
//!     .or_else(|| cache.wait_for_blocking(id, Duration::from_millis(200)));
//! if let Some(info) = info {
//!     println!("{}/{} {}", info.pod.namespace, info.pod.name, info.container_name);
//! }
//! # anyhow::Ok(())
//! ```
//!
//! Faults never block the caller: [`PodCache::start`] does not wait for the API server; when it
//! is unreachable (at start or later) the watch retries with a doubling backoff (200 ms up to
//! [`PodCacheOptions::max_backoff`]), [`PodCache::watch_errors`] counts the failures,
//! [`PodCache::is_synced`] turns false, a `tracing` warning says so, and lookups keep being
//! served from what the cache holds. Every restart relists (one node-scoped LIST) into a fresh
//! map that replaces the old one only once complete, so nothing is lost in between.

mod container_id;
mod image;
mod info;
mod options;
mod store;
mod watch;
mod workload;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub use container_id::{strip_runtime_prefix, SHORT_ID_LEN};
pub use image::{parse as parse_image, ImageRef};
pub use info::{PodInfo, PodMeta};
pub use options::{ClusterAccess, PodCacheOptions};
pub use watch::field_selector;
pub use workload::{derive as derive_workload, Workload};

use store::Shared;

/// A snapshot of the cache's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PodCacheStats {
    /// The last (re)list completed and no watch error came after it.
    pub synced: bool,
    /// Failed list/watch attempts (API server unreachable, watch broken, 410 Gone, ...).
    pub watch_errors: u64,
    /// Completed initial lists (the first one, then one per recovery).
    pub relists: u64,
    /// Changes applied to the map (pod added, updated, deleted, or a relist swapped in).
    pub updates: u64,
    pub pods: usize,
    pub containers: usize,
}

/// The node's pod cache. Dropping it stops its thread.
pub struct PodCache {
    shared: Arc<Shared>,
    node: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PodCache {
    /// Host mode: no cluster, no thread; lookups return `None` and nothing waits.
    pub fn host() -> Self {
        Self {
            shared: Arc::new(Shared::new()),
            node: None,
            shutdown: None,
            thread: None,
        }
    }

    /// A cache holding `pods` and watching nothing: for benchmarks and for replaying recorded
    /// pods. Lookups work as in a live cache; nothing ever waits.
    pub fn fixed(node: &str, pods: &[k8s_openapi::api::core::v1::Pod]) -> Self {
        let shared = Arc::new(Shared::new());
        {
            let mut map = shared.map.write().unwrap_or_else(|e| e.into_inner());
            let mut index = store::Index::default();
            for pod in pods {
                index.apply(&mut map, pod);
            }
            shared.pods.store(index.pod_count(), Ordering::Relaxed);
        }
        shared.synced.store(true, Ordering::Relaxed);
        Self {
            shared,
            node: Some(node.to_string()),
            shutdown: None,
            thread: None,
        }
    }

    /// Starts the cache's thread and watch. Returns at once: it reads the kubeconfig or the
    /// service account's files (errors there are returned) but never waits for the API server.
    pub fn start(options: PodCacheOptions) -> Result<Self> {
        let kube_config = match &options.access {
            ClusterAccess::Host => return Ok(Self::host()),
            ClusterAccess::Kubeconfig(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("reading kubeconfig {}", path.display()))?;
                Some(kubeconfig)
            }
            ClusterAccess::InCluster => None,
        };
        let Some(node) = options.node_name.clone().filter(|n| !n.is_empty()) else {
            bail!("the pod cache needs the node name (NODE_NAME, from the downward API)");
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the pod cache's tokio runtime")?;
        let config = match kube_config {
            Some(kubeconfig) => runtime
                .block_on(Config::from_custom_kubeconfig(
                    kubeconfig,
                    &KubeConfigOptions::default(),
                ))
                .context("loading the kubeconfig")?,
            None => Config::incluster().context("loading the in-cluster configuration")?,
        };
        let client = {
            let _guard = runtime.enter();
            Client::try_from(config).context("creating the Kubernetes client")?
        };
        let shared = Arc::new(Shared::new());
        let (shutdown, mut stop) = tokio::sync::oneshot::channel();
        let thread = {
            let shared = shared.clone();
            let node = node.clone();
            std::thread::Builder::new()
                .name("pod-cache".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        tokio::select! {
                            _ = watch::run(client, node, shared, options.max_backoff) => {}
                            _ = &mut stop => {}
                        }
                    });
                })
                .context("spawning the pod cache thread")?
        };
        tracing::info!(node = %node, selector = %field_selector(&node), "pod cache watching");
        Ok(Self {
            shared,
            node: Some(node),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// A number that changes whenever the cache's contents change: a caller may keep what
    /// it looked up until this moves.
    pub fn generation(&self) -> u64 {
        self.shared.updates.load(Ordering::Acquire)
    }

    /// True in host mode (no cluster).
    pub fn is_host_mode(&self) -> bool {
        self.thread.is_none()
    }

    /// A handle on the cache's counters for other threads (health, metrics); `stats()` is
    /// `None` in host mode.
    pub fn view(&self) -> PodCacheView {
        PodCacheView {
            cache: (!self.is_host_mode()).then(|| (self.shared.clone(), self.node.clone())),
        }
    }

    pub fn node_name(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The pod and container of a container id: the full 64-hex id, its 12-character short
    /// form (`container.id`), or a `containerd://`/`cri-o://`/`docker://` id. A pure in-memory
    /// read, no API request.
    pub fn lookup(&self, container_id: &str) -> Option<Arc<PodInfo>> {
        let id = strip_runtime_prefix(container_id)?;
        let map = self.shared.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(container_id::short_key(id))
            .filter(|info| info.container_id.starts_with(id))
            .cloned()
    }

    /// Waits up to `max` for `container_id` to appear (its pod's status update not received
    /// yet), re-checking on every change of the cache. `None` at once in host mode.
    pub async fn wait_for(&self, container_id: &str, max: Duration) -> Option<Arc<PodInfo>> {
        if self.is_host_mode() {
            return None;
        }
        let mut changes = self.changes();
        let deadline = tokio::time::Instant::now() + max;
        loop {
            changes.borrow_and_update();
            if let Some(info) = self.lookup(container_id) {
                return Some(info);
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// [`Self::wait_for`] for a plain thread (the pipeline): blocks at most `max`.
    pub fn wait_for_blocking(&self, container_id: &str, max: Duration) -> Option<Arc<PodInfo>> {
        if self.is_host_mode() {
            return None;
        }
        let deadline = Instant::now() + max;
        let (lock, cvar) = &self.shared.changed;
        let mut generation = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let seen = *generation;
            // The writer bumps the generation after releasing the map's write lock.
            if let Some(info) = self.lookup(container_id) {
                return Some(info);
            }
            loop {
                let left = deadline.checked_duration_since(Instant::now())?;
                generation = cvar
                    .wait_timeout(generation, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                if *generation != seen {
                    break;
                }
            }
        }
    }

    /// Waits up to `max` for the first (or next) complete list; true if synced.
    pub fn wait_synced_blocking(&self, max: Duration) -> bool {
        if self.is_host_mode() {
            return false;
        }
        let deadline = Instant::now() + max;
        let (lock, cvar) = &self.shared.changed;
        let mut generation = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !self.is_synced() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            // Synced is set after the relist's bump: poll at least every 50 ms.
            generation = cvar
                .wait_timeout(generation, left.min(Duration::from_millis(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// A channel whose value (a generation number) changes on every change of the cache.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.generation.subscribe()
    }

    /// True once a first list has completed (then [`Self::is_synced`] may turn false again
    /// during an outage).
    pub fn has_listed(&self) -> bool {
        self.shared.relists.load(Ordering::Relaxed) > 0
    }

    /// The last (re)list completed and no watch error came after it. False in host mode.
    pub fn is_synced(&self) -> bool {
        self.shared.synced.load(Ordering::Relaxed)
    }

    /// Containers in the cache.
    pub fn len(&self) -> usize {
        self.shared
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pods (with at least one started container) in the cache.
    pub fn pod_count(&self) -> usize {
        self.shared.pods.load(Ordering::Relaxed)
    }

    /// Failed list/watch attempts since start.
    pub fn watch_errors(&self) -> u64 {
        self.shared.watch_errors.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> PodCacheStats {
        stats_of(&self.shared)
    }

    /// Estimated heap bytes of everything the cache stores (map, entries, pod index).
    pub fn heap_size(&self) -> usize {
        self.shared.heap_size()
    }
}

fn stats_of(shared: &Shared) -> PodCacheStats {
    PodCacheStats {
        synced: shared.synced.load(Ordering::Relaxed),
        watch_errors: shared.watch_errors.load(Ordering::Relaxed),
        relists: shared.relists.load(Ordering::Relaxed),
        updates: shared.updates.load(Ordering::Relaxed),
        pods: shared.pods.load(Ordering::Relaxed),
        containers: shared.map.read().unwrap_or_else(|e| e.into_inner()).len(),
    }
}

/// See [`PodCache::view`].
#[derive(Clone, Default)]
pub struct PodCacheView {
    cache: Option<(Arc<Shared>, Option<String>)>,
}

impl PodCacheView {
    pub fn stats(&self) -> Option<PodCacheStats> {
        self.cache.as_ref().map(|(shared, _)| stats_of(shared))
    }

    pub fn node_name(&self) -> Option<&str> {
        self.cache.as_ref().and_then(|(_, node)| node.as_deref())
    }
}

impl Drop for PodCache {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
