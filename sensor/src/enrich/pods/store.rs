//! The in-memory index: container short id → [`PodInfo`], read by the pipeline under an
//! uncontended `RwLock` read, written only by the watch task. A relist builds a fresh index
//! on the side and swaps it in at its end, so lookups keep being served during the relist.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use k8s_openapi::api::core::v1::Pod;

use super::container_id::short_key;
use super::info::{containers_of, HeapSize, PodInfo};

pub(super) type Map = HashMap<Box<str>, Arc<PodInfo>>;

/// State shared between the pipeline (readers) and the watch task (the one writer).
pub(super) struct Shared {
    pub map: RwLock<Map>,
    pub pods: AtomicUsize,
    pub synced: AtomicBool,
    pub watch_errors: AtomicU64,
    pub relists: AtomicU64,
    pub updates: AtomicU64,
    /// Heap bytes of the writer's pod index (kept in the watch task).
    pub index_heap: AtomicUsize,
    /// Bumped on every change of the map, for [`super::PodCache::changes`] (async) and ...
    pub generation: tokio::sync::watch::Sender<u64>,
    /// ... for blocking waiters.
    pub changed: (Mutex<u64>, Condvar),
}

impl Shared {
    pub fn new() -> Self {
        Self {
            map: RwLock::new(Map::new()),
            pods: AtomicUsize::new(0),
            synced: AtomicBool::new(false),
            watch_errors: AtomicU64::new(0),
            relists: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            index_heap: AtomicUsize::new(0),
            generation: tokio::sync::watch::Sender::new(0),
            changed: (Mutex::new(0), Condvar::new()),
        }
    }

    pub fn bump(&self) {
        self.updates.fetch_add(1, Ordering::Relaxed);
        self.generation.send_modify(|g| *g += 1);
        let (lock, cvar) = &self.changed;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        cvar.notify_all();
    }

    /// Estimated heap bytes of the map and what it points to, plus the writer's index.
    pub fn heap_size(&self) -> usize {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        // hashbrown: one (key, value) slot and one control byte per bucket.
        let slot = std::mem::size_of::<(Box<str>, Arc<PodInfo>)>() + 1;
        let mut bytes = map.capacity() * slot;
        let mut metas = HashSet::new();
        for (key, info) in map.iter() {
            // The Arc allocation: two counters and the PodInfo.
            bytes += key.len() + 2 * std::mem::size_of::<usize>() + std::mem::size_of::<PodInfo>();
            bytes += info.heap_size();
            if metas.insert(Arc::as_ptr(&info.pod)) {
                bytes += 2 * std::mem::size_of::<usize>()
                    + std::mem::size_of_val(&*info.pod)
                    + info.pod.heap_size();
            }
        }
        bytes + self.index_heap.load(Ordering::Relaxed)
    }
}

/// The writer's side: which short keys each pod (by uid) put in the map.
#[derive(Default)]
pub(super) struct Index {
    pods: HashMap<Box<str>, Vec<Box<str>>>,
}

fn pod_key(pod: &Pod) -> Box<str> {
    match &pod.metadata.uid {
        Some(uid) => uid.as_str().into(),
        None => format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        )
        .into(),
    }
}

impl Index {
    /// Adds or replaces `pod` in `map` (the live map, or a relist's fresh one).
    pub fn apply(&mut self, map: &mut Map, pod: &Pod) {
        let key = pod_key(pod);
        self.remove_keys(map, &key);
        let containers = containers_of(pod);
        let mut keys = Vec::with_capacity(containers.len());
        for info in containers {
            let short: Box<str> = short_key(&info.container_id).into();
            map.insert(short.clone(), Arc::new(info));
            keys.push(short);
        }
        if !keys.is_empty() {
            self.pods.insert(key, keys);
        }
    }

    pub fn delete(&mut self, map: &mut Map, pod: &Pod) {
        self.remove_keys(map, &pod_key(pod));
    }

    fn remove_keys(&mut self, map: &mut Map, pod: &str) {
        if let Some(keys) = self.pods.remove(pod) {
            for k in keys {
                // Only if the entry is still this pod's (a container id is never reused, but
                // be safe against a short-id collision).
                if map
                    .get(&k)
                    .is_some_and(|i| &*i.pod.uid == pod || i.pod.uid.is_empty())
                {
                    map.remove(&k);
                }
            }
        }
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn heap_size(&self) -> usize {
        let slot = std::mem::size_of::<(Box<str>, Vec<Box<str>>)>() + 1;
        self.pods.capacity() * slot
            + self
                .pods
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + v.capacity() * std::mem::size_of::<Box<str>>()
                        + v.iter().map(|s| s.len()).sum::<usize>()
                })
                .sum::<usize>()
    }
}
