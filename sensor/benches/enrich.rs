//! The enrich stage's cost per event once its caches are warm: process table, container
//! identity and user names for events recorded from a real workload. Run as root through
//! `cargo xtask bench`.

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sensor::enrich::Enricher;
use sensor::model::Event;

/// A node's pods: 250 pods of two containers each, plus the pod of the recorded container.
fn node_pods() -> Vec<k8s_openapi::api::core::v1::Pod> {
    let pod = |name: String, ids: [String; 2]| -> k8s_openapi::api::core::v1::Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                         "labels": {"app": "web", "pod-template-hash": "5d9c7b8f6"}},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "app", "image": "registry.example.com/shop/web:1.2.3"},
                {"name": "sidecar", "image": "envoyproxy/envoy:v1.30"}]},
            "status": {"containerStatuses": [
                {"name": "app", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                 "containerID": format!("containerd://{}", ids[0])},
                {"name": "sidecar", "image": "", "imageID": "", "ready": true, "restartCount": 0,
                 "containerID": format!("containerd://{}", ids[1])}]}
        }))
        .expect("pod json")
    };
    let mut pods: Vec<_> = (0..250)
        .map(|i| {
            pod(
                format!("web-{i}"),
                [container_id(2 * i + 1), container_id(2 * i + 2)],
            )
        })
        .collect();
    pods.push(pod(
        "recorded".into(),
        [support::CONTAINER_ID.into(), container_id(9999)],
    ));
    pods
}

fn container_id(n: usize) -> String {
    format!("{n:012x}{}", "ab".repeat(26))
}

fn bench(c: &mut Criterion) {
    let recorded = support::record();
    let cache = sensor::enrich::pods::PodCache::fixed("node-1", &node_pods());
    let mut enricher = Enricher::with_pods(cache);
    // Warm up the way a running sensor is: the forks and execs it saw are in the table. Exits
    // are left out, since the recorded processes must still be known when their events repeat.
    for e in recorded.clone() {
        if !matches!(e.kind, sensor::model::EventKind::Exit { .. }) {
            enricher.enrich_blocking(e);
        }
    }
    // Lifecycle and exec events change the table, and fd arguments read /proc: what is
    // measured is the lookup path every other event takes.
    let events: Vec<Event> = recorded
        .into_iter()
        .filter(|e| {
            e.syscall().is_some_and(|s| {
                s.family != sensor::model::syscalls::Family::Exec
                    && !s
                        .args
                        .iter()
                        .any(|a| a.ty == sensor::model::syscalls::ArgType::Fd)
            })
        })
        .collect();
    let with_pod = events
        .iter()
        .filter(|e| enricher.enrich_blocking((*e).clone()).pod.is_some())
        .count();
    println!(
        "{} recorded events on the lookup path, {with_pod} of them in a container with a pod",
        events.len()
    );
    assert!(
        with_pod > 0,
        "the workload's container events were not recorded"
    );
    support::remove_cgroup();

    let mut group = c.benchmark_group("enrich");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("process, container, names and pod from cache", |b| {
        b.iter_batched(
            || events.clone(),
            |batch| run(&mut enricher, batch),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    // Pod churn of unknown containers: one event in ten comes from a container cgroup of its
    // own whose pod never arrives, so it waits in the event cache (kubernetes.pod_wait) and
    // the capture thread's cost is the hold, the scans and the evictions when full.
    let churn = ChurnCgroups::create(CHURN_CONTAINERS);
    let host: Vec<Event> = events
        .iter()
        .filter(|e| e.container.is_none())
        .cloned()
        .collect();
    let host: Vec<Event> = if host.is_empty() {
        events.clone()
    } else {
        host
    };
    let mut next = 0usize;
    let mut churned = |n: usize| -> Vec<Event> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut e = host[i % host.len()].clone();
            if i % 10 == 9 {
                let (cgroup_id, pid) = churn.nth(next);
                next += 1;
                e.task.cgroup_id = cgroup_id;
                e.task.pid = pid;
                e.task.tid = pid;
            }
            out.push(e);
        }
        out
    };
    let batch_len = 10_000;
    let mut group = c.benchmark_group("enrich churn");
    group.throughput(Throughput::Elements(batch_len as u64));
    let mut host_only = Enricher::with_pods(sensor::enrich::pods::PodCache::fixed(
        "node-1",
        &node_pods(),
    ));
    group.bench_function("host events only", |b| {
        b.iter_batched(
            || {
                (0..batch_len)
                    .map(|i| host[i % host.len()].clone())
                    .collect()
            },
            |batch| run(&mut host_only, batch),
            BatchSize::LargeInput,
        )
    });
    let mut with_churn = Enricher::with_pods(sensor::enrich::pods::PodCache::fixed(
        "node-1",
        &node_pods(),
    ));
    group.bench_function("one in ten from an unknown container", |b| {
        b.iter_batched(
            || churned(batch_len),
            |batch| run(&mut with_churn, batch),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    let s = with_churn.stats();
    println!(
        "churn: held now {}, ever {}, expired {}, evicted {}, resolver refused {}",
        s.held.held, s.held.holds, s.held.expired, s.held.evicted, s.resolver_refused
    );
    drop(churn);

    let cache = sensor::enrich::pods::PodCache::fixed("node-1", &node_pods());
    let ids: Vec<String> = (1..=500).map(container_id).collect();
    assert!(ids.iter().all(|id| cache.lookup(id).is_some()));
    let mut group = c.benchmark_group("pods");
    group.throughput(Throughput::Elements(ids.len() as u64));
    group.bench_function("lookup by container id, 251 pods", |b| {
        b.iter(|| ids.iter().filter(|id| cache.lookup(id).is_some()).count())
    });
    group.finish();
}

/// Distinct container cgroups the churn cycles through.
const CHURN_CONTAINERS: usize = 2_000;

/// What the pipeline's step does with a batch: admit each event, then release what may go.
fn run(enricher: &mut Enricher, batch: Vec<Event>) -> usize {
    let mut out = 0usize;
    let mut sink = |e: Event| {
        std::hint::black_box(&e);
        out += 1;
    };
    for e in batch {
        enricher.admit(e, &mut sink);
    }
    enricher.release(&mut sink);
    out
}

/// Real container cgroups (`cri-containerd-<id>.scope`) that no pod names, for pod churn.
pub struct ChurnCgroups {
    dirs: Vec<(std::path::PathBuf, u64)>,
}

impl ChurnCgroups {
    pub fn create(n: usize) -> Self {
        use std::os::unix::fs::MetadataExt;
        let slice = support::cgroup2_mount().join("sensor-bench-churn.slice");
        let dirs = (0..n)
            .map(|i| {
                let dir = slice.join(format!("cri-containerd-{i:08x}{}.scope", "c4".repeat(28)));
                std::fs::create_dir_all(&dir).expect("churn cgroup");
                let id = std::fs::metadata(&dir).expect("churn cgroup").ino();
                (dir, id)
            })
            .collect();
        Self { dirs }
    }

    /// The cgroup id of the `n`th churned container, and a pid of its own (one of 4,000 that do
    /// not exist: the process table learns once that they are gone, as it would know a new
    /// container's process from its fork).
    pub fn nth(&self, n: usize) -> (u64, u32) {
        (
            self.dirs[n % self.dirs.len()].1,
            4_000_000 + (n % 100_000) as u32,
        )
    }
}

impl Drop for ChurnCgroups {
    fn drop(&mut self) {
        for (dir, _) in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
        let _ = std::fs::remove_dir(support::cgroup2_mount().join("sensor-bench-churn.slice"));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
