//! The one watch: Pods with `spec.nodeName=<node>`, through `kube::runtime::watcher`, on the
//! cache's own thread. Any error (API server unreachable, watch broken, 410 Gone) counts in
//! `watch_errors`, clears `synced`, is logged, and after a backoff starts a new watcher, whose
//! initial list rebuilds the index on the side while the old one keeps serving.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use super::store::{Index, Map, Shared};

/// The field selector of the watch: this node's pods only.
pub fn field_selector(node: &str) -> String {
    format!("spec.nodeName={node}")
}

pub(super) async fn run(client: Client, node: String, shared: Arc<Shared>, max_backoff: Duration) {
    let api: Api<Pod> = Api::all(client);
    let config = watcher::Config::default().fields(&field_selector(&node));
    let initial_backoff = Duration::from_millis(200);
    let mut backoff = initial_backoff;
    let mut index = Index::default();
    loop {
        let mut stream = watcher::watcher(api.clone(), config.clone()).boxed();
        // During a (re)list: the fresh map and index being built.
        let mut relist: Option<(Map, Index)> = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(Event::Init) => relist = Some((Map::new(), Index::default())),
                Ok(Event::InitApply(pod)) => match &mut relist {
                    Some((map, idx)) => idx.apply(map, &pod),
                    None => apply(&shared, &mut index, |m, i| i.apply(m, &pod)),
                },
                Ok(Event::InitDone) => {
                    if let Some((map, idx)) = relist.take() {
                        index = idx;
                        *shared.map.write().unwrap_or_else(|e| e.into_inner()) = map;
                        publish(&shared, &index);
                    }
                    shared.relists.fetch_add(1, Ordering::Relaxed);
                    if !shared.synced.swap(true, Ordering::Relaxed) {
                        tracing::info!(
                            node = %node,
                            pods = index.pod_count(),
                            "pod cache synced"
                        );
                    }
                    backoff = initial_backoff;
                }
                Ok(Event::Apply(pod)) => apply(&shared, &mut index, |m, i| i.apply(m, &pod)),
                Ok(Event::Delete(pod)) => apply(&shared, &mut index, |m, i| i.delete(m, &pod)),
                Err(error) => {
                    shared.watch_errors.fetch_add(1, Ordering::Relaxed);
                    shared.synced.store(false, Ordering::Relaxed);
                    tracing::warn!(
                        node = %node,
                        %error,
                        retry_in = ?backoff,
                        "pod cache: watch failed; lookups are served from the cache"
                    );
                    break;
                }
            }
        }
        drop(stream);
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(max_backoff);
    }
}

fn apply(shared: &Shared, index: &mut Index, f: impl FnOnce(&mut Map, &mut Index)) {
    {
        let mut map = shared.map.write().unwrap_or_else(|e| e.into_inner());
        f(&mut map, index);
    }
    publish(shared, index);
}

fn publish(shared: &Shared, index: &Index) {
    shared.pods.store(index.pod_count(), Ordering::Relaxed);
    shared
        .index_heap
        .store(index.heap_size(), Ordering::Relaxed);
    shared.bump();
}

/// 75% to 125% of `d`, so that the nodes of a cluster do not retry in step.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    d.mul_f64(0.75 + f64::from(nanos % 1000) / 2000.0)
}
