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
    for e in &mut recorded.clone() {
        if !matches!(e.kind, sensor::model::EventKind::Exit { .. }) {
            enricher.enrich(e);
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
        .filter(|e| {
            let mut e = (*e).clone();
            enricher.enrich(&mut e);
            e.pod.is_some()
        })
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
        b.iter_batched_ref(
            || events.clone(),
            |batch| {
                for e in batch.iter_mut() {
                    enricher.enrich(e);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

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

criterion_group!(benches, bench);
criterion_main!(benches);
