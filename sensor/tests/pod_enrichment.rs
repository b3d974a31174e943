//! Events of a container carry its pod's metadata from the real API server, through the
//! `sensor` binary; when the API server goes away the sensor keeps emitting (unknown pods as
//! `<NA>`), and enrichment resumes when it returns.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::apiserver::ApiServer;
use common::{privileged, run, Cgroup, Sensor};

const NODE: &str = "sensor-e2e-node";
const NS: &str = "shop";

fn container_id(n: u32) -> String {
    format!(
        "e2e{:05x}{:08x}{}",
        n,
        std::process::id(),
        "5eed".repeat(12)
    )
}

/// Creates a pod on `NODE` (or `node`) and marks its one container started with `id`.
fn create_pod(server: &ApiServer, name: &str, node: &str, id: &str) {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "cart", "tier": "web"}},
        "spec": {"nodeName": node, "containers": [{"name": "cart", "image": "registry.example.com:5000/shop/cart:1.4.2"}]}
    });
    server.start_pod(&pod, id);
}

/// Runs `/bin/true <marker>` inside the container cgroup of `id`; returns the exec event.
fn exec_in(sensor: &Sensor, id: &str, marker: &str) -> serde_json::Value {
    let cgroup = Cgroup::create(&format!(
        "sensor-test-{}-e2e.slice/cri-containerd-{id}.scope",
        std::process::id()
    ));
    let script = format!("{} && exec /bin/true {marker}", cgroup.enter_command());
    let (pid, status) = run(Command::new("sh").args(["-c", &script]));
    assert!(status.success());
    sensor.wait_for(marker, |e| {
        e["proc.pid"] == pid && e["evt.type"] == "execve" && e["proc.args"] == marker
    })
}

#[test]
fn container_events_carry_their_pod_through_an_api_outage() {
    if !privileged() {
        return;
    }
    let mut server = ApiServer::start();
    server.kubectl(&["create", "namespace", NS], None);
    let (known, late, elsewhere) = (container_id(1), container_id(2), container_id(3));
    create_pod(&server, "cart-1", NODE, &known);
    create_pod(&server, "cart-other-node", "another-node", &elsewhere);

    let kubeconfig = server.kubeconfig();
    let sensor = Sensor::events_with(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        NODE,
    ]);

    // The pod's metadata, without any API request per event.
    let deadline = Instant::now() + Duration::from_secs(20);
    let e = loop {
        let e = exec_in(
            &sensor,
            &known,
            &format!("known-{}", deadline.elapsed().as_nanos()),
        );
        if e["k8s.pod.name"] == "cart-1" || Instant::now() > deadline {
            break e;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(e["k8s.pod.name"], "cart-1", "{e}");
    assert_eq!(e["k8s.ns.name"], NS);
    assert_eq!(e["k8s.pod.labels"]["app"], "cart");
    assert_eq!(e["container.name"], "cart");
    assert_eq!(
        e["container.image"],
        "registry.example.com:5000/shop/cart:1.4.2"
    );
    assert_eq!(
        e["container.image.repository"],
        "registry.example.com:5000/shop/cart"
    );
    assert_eq!(e["container.image.tag"], "1.4.2");
    assert_eq!(e["k8s.workload.kind"], "Pod");
    assert_eq!(e["container.id"], &known[..12]);

    // Another node's pod is never cached: its container is unknown here.
    let e = exec_in(&sensor, &elsewhere, "elsewhere");
    assert_eq!(e["k8s.pod.name"], "<NA>", "{e}");

    // API server gone: events keep flowing; known pods still resolve from the cache, a
    // container whose pod the cache never saw is <NA>.
    server.stop_apiserver();
    let e = exec_in(&sensor, &known, "known-during-outage");
    assert_eq!(e["k8s.pod.name"], "cart-1", "{e}");
    let e = exec_in(&sensor, &late, "late-during-outage");
    assert_eq!(e["k8s.pod.name"], "<NA>", "{e}");

    // Back again: the cache relists and enrichment resumes for the new pod.
    server.restart_apiserver();
    create_pod(&server, "cart-2", NODE, &late);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0;
    let e = loop {
        n += 1;
        let e = exec_in(&sensor, &late, &format!("late-after-{n}"));
        if e["k8s.pod.name"] == "cart-2" || Instant::now() > deadline {
            break e;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(e["k8s.pod.name"], "cart-2", "{e}");
    drop(sensor);
    server.stop();
}
