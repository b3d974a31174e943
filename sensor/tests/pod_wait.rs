//! A container's first events wait for its pod (kubelet publishes the container's id in the
//! pod's status seconds after it started) in the event cache, without holding up anyone
//! else: with the real API server, a pod published 3 s after its container's first event
//! still names it, in the process's own order, while a host chmod meanwhile is reported at
//! once; and a churn of containers that never get a pod loses no event and stops nothing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::apiserver::ApiServer;
use common::{privileged, run, Cgroup, Sensor, TempDir};

const NODE: &str = "sensor-pod-wait-node";
const NS: &str = "late";

fn container_id(n: u32) -> String {
    format!(
        "a7e{:05x}{:08x}{}",
        n,
        std::process::id(),
        "0dd1".repeat(12)
    )
}

fn cgroup_of(id: &str) -> Cgroup {
    Cgroup::create(&format!(
        "sensor-test-{}-podwait.slice/cri-containerd-{id}.scope",
        std::process::id()
    ))
}

/// Creates pod `name` on `NODE` with one started container `id` (as kubelet's status update).
fn create_pod(server: &ApiServer, name: &str, id: &str) {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "example.com/app:1"}]}
    });
    server.start_pod(&pod, id);
}

/// The API server with one pod, and a sensor whose pod cache has listed it.
fn cluster() -> (ApiServer, Sensor, Cgroup) {
    let server = ApiServer::start();
    server.kubectl(&["create", "namespace", NS], None);
    let ready = container_id(0);
    create_pod(&server, "ready", &ready);
    let kubeconfig = server.kubeconfig();
    let sensor = Sensor::events_with(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        NODE,
    ]);
    let cgroup = cgroup_of(&ready);
    let script = format!("{} && exec /bin/true listed", cgroup.enter_command());
    let (pid, status) = run(Command::new("sh").args(["-c", &script]));
    assert!(status.success());
    let e = sensor.wait_for("the listed pod's exec", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "execve" && e["proc.args"] == "listed"
    });
    assert_eq!(e["k8s.pod.name"], "ready", "{e}");
    (server, sensor, cgroup)
}

/// chmod(2) or fchmodat(2), whichever the libc made.
fn is_chmod(e: &serde_json::Value) -> bool {
    e["evt.type"] == "chmod" || e["evt.type"] == "fchmodat"
}

/// A host chmod is reported within 2 s.
fn host_chmod_is_prompt(sensor: &Sensor, dir: &TempDir, what: &str) -> Duration {
    let file = dir.path("host");
    std::fs::write(&file, b"x").unwrap();
    let asked = Instant::now();
    let (chmod, status) = run(Command::new("chmod").arg("600").arg(&file));
    assert!(status.success());
    sensor.event_of(chmod, "fchmodat");
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "{what}: host chmod took {took:?}"
    );
    took
}

#[test]
fn a_late_pod_names_its_containers_first_events_in_order() {
    if !privileged() {
        return;
    }
    let (mut server, sensor, _ready) = cluster();
    let dir = TempDir::new("pod-wait");
    let files: Vec<String> = (1..=3)
        .map(|i| {
            let f = dir.path(&format!("c{i}"));
            std::fs::write(&f, b"x").unwrap();
            f.display().to_string()
        })
        .collect();
    let late = container_id(1);
    let cgroup = cgroup_of(&late);
    // One process in the container: an exec and three chmods, in this order.
    let script = format!(
        "{} && exec /usr/bin/env python3 -c 'import os, sys\nfor f in sys.argv[1:]: os.chmod(f, 0o600)' {}",
        cgroup.enter_command(),
        files.join(" ")
    );
    let started = Instant::now();
    let (pid, status) = run(Command::new("sh").args(["-c", &script]));
    assert!(status.success());

    // While its events wait for the pod, the host's flow.
    std::thread::sleep(Duration::from_millis(300));
    let took = host_chmod_is_prompt(&sensor, &dir, "during the pod wait");
    assert!(
        sensor.events_of(pid).iter().all(|e| !is_chmod(e)),
        "the container's events went on without their pod"
    );

    // kubelet's status update, 3 s after the container's first event.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()));
    create_pod(&server, "late-1", &late);
    let last = files[2].clone();
    sensor.wait_for("the container's last chmod", |e| {
        e["proc.pid"] == pid && is_chmod(e) && e["evt.arg.filename"] == last.as_str()
    });
    let events = sensor.events_of(pid);
    let in_container: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["container.id"] == late[..12])
        .collect();
    assert!(!in_container.is_empty(), "{events:?}");
    for e in &in_container {
        assert_eq!(e["k8s.pod.name"], "late-1", "{e}");
        assert_eq!(e["k8s.ns.name"], NS, "{e}");
    }
    // The process's order: the exec into python, then its chmods as it made them.
    let order: Vec<String> = in_container
        .iter()
        .filter(|e| is_chmod(e) || e["evt.type"] == "execve")
        .map(|e| match is_chmod(e) {
            true => e["evt.arg.filename"].as_str().unwrap_or("").to_string(),
            false => "execve".to_string(),
        })
        .collect();
    let first_chmod = order.iter().position(|o| o != "execve").expect("chmods");
    assert!(first_chmod > 0, "an exec before the chmods: {order:?}");
    assert_eq!(&order[first_chmod..], &files[..], "{order:?}");
    let mono: Vec<u64> = events
        .iter()
        .filter_map(|e| e["evt.rawtime"].as_u64())
        .collect();
    assert!(
        mono.windows(2).all(|w| w[0] <= w[1]),
        "the process's events out of order: {mono:?}"
    );
    eprintln!("host chmod during the wait reported in {took:?}");
    drop(sensor);
    server.stop();
}

#[test]
fn pod_churn_of_unknown_containers_loses_nothing_and_stalls_no_one() {
    if !privileged() {
        return;
    }
    let (mut server, sensor, _ready) = cluster();
    let dir = TempDir::new("pod-churn");
    const CONTAINERS: u32 = 400;
    let churn = std::thread::spawn(|| {
        let mut cgroups = Vec::new();
        let mut pids = Vec::new();
        for n in 0..CONTAINERS {
            let cgroup = cgroup_of(&container_id(1000 + n));
            let script = format!("{} && exec /bin/true churn-{n}", cgroup.enter_command());
            let (pid, status) = run(Command::new("sh").args(["-c", &script]));
            assert!(status.success());
            pids.push(pid);
            cgroups.push(cgroup);
        }
        (cgroups, pids)
    });
    let mut worst = Duration::ZERO;
    while !churn.is_finished() {
        worst = worst.max(host_chmod_is_prompt(&sensor, &dir, "during pod churn"));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_cgroups, pids) = churn.join().expect("churn");
    // Every churned container's exec comes out, at its pod wait's end, without a pod.
    for (n, pid) in pids.iter().enumerate().rev().take(5) {
        let marker = format!("churn-{n}");
        let e = sensor.wait_for(&format!("churned exec {n}"), |e| {
            e["proc.pid"] == *pid && e["evt.type"] == "execve" && e["proc.args"] == marker.as_str()
        });
        assert_eq!(e["k8s.pod.name"], "<NA>", "{e}");
        assert_eq!(
            e["container.id"],
            &container_id(1000 + n as u32)[..12],
            "{e}"
        );
    }
    let summary = sensor.stop_for_summary();
    let ring_full: u64 = summary
        .split("ring buffer full ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ring buffer figure in {summary}"));
    assert_eq!(ring_full, 0, "{summary}");
    assert!(summary.contains("event cache: held"), "{summary}");
    eprintln!("{CONTAINERS} unknown containers: worst host chmod {worst:?}; {summary}");
    server.stop();
}
