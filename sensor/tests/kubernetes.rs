//! The node's pod cache (`sensor::enrich::pods`) against a real kube-apiserver 1.20 and etcd
//! (`common::apiserver`; build it once with `cargo xtask apiserver`).
//!
//! The tests run one at a time (they share two cores, and the memory test counts allocations
//! process-wide).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::apiserver::{ApiServer, SENSOR_USER};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use sensor::enrich::pods::{PodCache, PodCacheOptions, PodInfo};
use serde_json::{json, Value};

/// Live heap bytes of the whole test process.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to System and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const NODE: &str = "node-a";
const OTHER_NODE: &str = "node-b";

/// A 64-hex container id, distinct per `n`.
fn cid(n: u32) -> String {
    format!("{n:08x}{}", "c0ffee".repeat(10))
        .chars()
        .take(64)
        .collect()
}

/// Admin access through kube-rs, for creating and changing pods.
struct Admin {
    rt: tokio::runtime::Runtime,
    pods: Api<Pod>,
}

impl Admin {
    fn new(server: &ApiServer, namespace: &str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let kubeconfig = Kubeconfig::read_from(server.kubeconfig()).unwrap();
        let pods = rt.block_on(async {
            let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .unwrap();
            Api::namespaced(Client::try_from(config).unwrap(), namespace)
        });
        Self { rt, pods }
    }

    /// Creates a pod bound to `node` and, as a kubelet would, sets its containers' statuses
    /// (`ids`: one per container; `None` leaves the status unset, as for a pod not started).
    fn create(&self, pod: Value, ids: Option<&[String]>) {
        let pod: Pod = serde_json::from_value(pod).unwrap();
        let name = pod.metadata.name.clone().unwrap();
        self.rt.block_on(async {
            self.pods
                .create(&PostParams::default(), &pod)
                .await
                .unwrap();
            if let Some(ids) = ids {
                self.set_statuses(&name, &pod, ids).await;
            }
        });
    }

    fn start_containers(&self, name: &str, ids: &[String]) {
        self.rt.block_on(async {
            let pod = self.pods.get(name).await.unwrap();
            self.set_statuses(name, &pod, ids).await;
        });
    }

    async fn set_statuses(&self, name: &str, pod: &Pod, ids: &[String]) {
        let spec = pod.spec.as_ref().unwrap();
        let statuses: Vec<Value> = spec
            .containers
            .iter()
            .zip(ids)
            .map(|(c, id)| {
                json!({
                    "name": c.name, "image": c.image, "imageID": "",
                    "containerID": format!("containerd://{id}"),
                    "ready": true, "restartCount": 0, "started": true,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
                })
            })
            .collect();
        let patch = json!({"status": {"phase": "Running", "containerStatuses": statuses}});
        self.pods
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    fn patch_labels(&self, name: &str, labels: Value) {
        let patch = json!({"metadata": {"labels": labels}});
        self.rt.block_on(async {
            self.pods
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
        });
    }

    /// Without a kubelet a bound pod never finishes terminating: grace period 0.
    fn delete(&self, name: &str) {
        self.rt.block_on(async {
            self.pods
                .delete(name, &DeleteParams::default().grace_period(0))
                .await
                .unwrap();
        });
    }
}

fn pod(name: &str, node: &str, containers: &[(&str, &str)], extra: Value) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .map(|(n, image)| json!({"name": n, "image": image}))
        .collect();
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"nodeName": node, "containers": containers}
    });
    merge(&mut pod, extra);
    pod
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// Lets the sensor's user read pods (all the cache needs) and creates the namespace.
fn grant_and_namespace(server: &ApiServer, namespace: &str) {
    server.kubectl(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: sensor-pods}}\n\
             rules: [{{apiGroups: [\"\"], resources: [pods], verbs: [get, list, watch]}}]\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: sensor-pods}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: sensor-pods}}\n\
             subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: \"{SENSOR_USER}\"}}]\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n"
        )),
    );
}

/// Polls `cond` (on every cache change, at least every 50 ms) until true or `max` elapses.
fn eventually(max: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + max;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {max:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn options(server: &ApiServer) -> PodCacheOptions {
    PodCacheOptions {
        max_backoff: Duration::from_secs(1),
        ..PodCacheOptions::kubeconfig(server.sensor_kubeconfig(), NODE)
    }
}

#[test]
fn pod_cache_follows_this_nodes_pods_through_an_outage() {
    let _serial = serial();
    let mut server = ApiServer::start();
    grant_and_namespace(&server, "shop");
    let admin = Admin::new(&server, "shop");

    // Before the cache starts (seen by its initial list): one pod here, one elsewhere.
    let rs_owner = json!({"metadata": {
        "labels": {"app": "web", "pod-template-hash": "7d9c5b8f6d"},
        "annotations": {"team": "payments"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "web-7d9c5b8f6d", "uid": "0c1d2e3f-0000-0000-0000-000000000001",
            "controller": true}]}});
    admin.create(
        pod(
            "web-7d9c5b8f6d-x2x4z",
            NODE,
            &[
                ("app", "registry.example.com:5000/team/web:v1"),
                ("proxy", "envoy"),
            ],
            rs_owner,
        ),
        Some(&[cid(1), cid(2)]),
    );
    admin.create(
        pod("elsewhere-1", OTHER_NODE, &[("app", "nginx")], json!({})),
        Some(&[cid(100)]),
    );

    let started = Instant::now();
    let cache = PodCache::start(options(&server)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "start must not wait for the API"
    );
    assert!(
        cache.wait_synced_blocking(Duration::from_secs(20)),
        "{:?}",
        cache.stats()
    );
    println!("synced {:?} after start", started.elapsed());

    let web = cache
        .lookup(&cid(1))
        .expect("initial list has this node's pod");
    assert_eq!(&*web.pod.name, "web-7d9c5b8f6d-x2x4z");
    assert_eq!(&*web.pod.namespace, "shop");
    assert!(!web.pod.uid.is_empty());
    assert_eq!(web.pod.label("app"), Some("web"));
    assert_eq!(web.pod.annotation("team"), Some("payments"));
    assert_eq!(
        (&*web.pod.workload.kind, &*web.pod.workload.name),
        ("Deployment", "web")
    );
    assert_eq!(&*web.container_name, "app");
    assert_eq!(&*web.image_repository, "registry.example.com:5000/team/web");
    assert_eq!(web.image_tag.as_deref(), Some("v1"));
    let proxy = cache.lookup(&format!("containerd://{}", cid(2))).unwrap();
    assert_eq!(&*proxy.container_name, "proxy");
    assert!(Arc::ptr_eq(&proxy.pod, &web.pod));
    // The 12-character short id (`container.id`) finds it too.
    assert!(cache.lookup(&cid(1)[..12]).is_some());
    assert!(cache.lookup(&cid(100)).is_none(), "another node's pod");

    // Added after the start (seen by the watch), here and elsewhere.
    admin.create(
        pod(
            "db-0",
            NODE,
            &[("db", "postgres:16")],
            json!({"metadata":
        {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
         "uid": "0c1d2e3f-0000-0000-0000-000000000002", "controller": true}]}}),
        ),
        Some(&[cid(3)]),
    );
    admin.create(
        pod("elsewhere-2", OTHER_NODE, &[("app", "nginx")], json!({})),
        Some(&[cid(101)]),
    );
    let db = cache
        .wait_for_blocking(&cid(3), Duration::from_secs(10))
        .expect("watched pod");
    assert_eq!(
        (&*db.pod.workload.kind, &*db.pod.workload.name),
        ("StatefulSet", "db")
    );
    assert_eq!(db.image_tag.as_deref(), Some("16"));

    // A pod whose container has no id yet: the pipeline can hold the event briefly.
    admin.create(pod("late", NODE, &[("app", "busybox")], json!({})), None);
    assert!(cache.lookup(&cid(4)).is_none());
    let t = Instant::now();
    assert!(cache
        .wait_for_blocking(&cid(4), Duration::from_millis(300))
        .is_none());
    assert!(t.elapsed() >= Duration::from_millis(300) && t.elapsed() < Duration::from_secs(2));
    let waiter = std::thread::scope(|s| {
        let h = s.spawn(|| cache.wait_for_blocking(&cid(4), Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(200));
        admin.start_containers("late", &[cid(4)]);
        h.join().unwrap()
    });
    assert_eq!(
        &*waiter
            .expect("wait_for_blocking sees the status update")
            .pod
            .name,
        "late"
    );
    // The async form.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt
        .block_on(cache.wait_for(&cid(1), Duration::from_millis(10)))
        .is_some());
    assert!(rt
        .block_on(cache.wait_for(&cid(99), Duration::from_millis(100)))
        .is_none());

    // Label updates are reflected; deletion evicts.
    admin.patch_labels("web-7d9c5b8f6d-x2x4z", json!({"tier": "frontend"}));
    eventually(Duration::from_secs(10), "the new label", || {
        cache
            .lookup(&cid(1))
            .is_some_and(|i| i.pod.label("tier") == Some("frontend"))
    });
    admin.delete("db-0");
    eventually(Duration::from_secs(10), "db-0 evicted", || {
        cache.lookup(&cid(3)).is_none()
    });
    assert!(cache.lookup(&cid(101)).is_none(), "another node's pod");
    assert_eq!(
        cache.len(),
        3,
        "web (2 containers) and late: {:?}",
        cache.stats()
    );
    assert_eq!(cache.pod_count(), 2);

    // The API server goes away: lookups keep working, errors are counted, synced drops.
    let errors = cache.watch_errors();
    server.stop_apiserver();
    eventually(Duration::from_secs(20), "watch errors", || {
        cache.watch_errors() > errors + 1
    });
    assert!(!cache.is_synced());
    let t = Instant::now();
    assert!(cache
        .lookup(&cid(1))
        .is_some_and(|i| i.pod.label("tier") == Some("frontend")));
    assert!(cache.lookup(&cid(4)).is_some());
    assert!(
        t.elapsed() < Duration::from_millis(10),
        "lookups never wait for the API"
    );
    println!("during the outage: {:?}", cache.stats());

    // Back (same etcd data): the cache relists, changes made meanwhile and new pods appear.
    server.restart_apiserver();
    let admin = Admin::new(&server, "shop");
    admin.create(
        pod("after", NODE, &[("app", "alpine:3")], json!({})),
        Some(&[cid(5)]),
    );
    admin.delete("late");
    assert!(
        cache.wait_synced_blocking(Duration::from_secs(30)),
        "{:?}",
        cache.stats()
    );
    let after = cache
        .wait_for_blocking(&cid(5), Duration::from_secs(20))
        .expect("new pod");
    assert_eq!(
        (&*after.pod.workload.kind, &*after.pod.workload.name),
        ("Pod", "after")
    );
    eventually(Duration::from_secs(10), "late evicted", || {
        cache.lookup(&cid(4)).is_none()
    });
    assert!(cache.lookup(&cid(1)).is_some());
    println!("after the restart: {:?}", cache.stats());
    // The API server's own record: every pod request of the sensor's user was a list or watch
    // with this node's field selector.
    let audit_log = server.audit_log();
    let sensor_requests = || -> Vec<Value> {
        std::fs::read_to_string(&audit_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["user"]["username"] == SENSOR_USER)
            .collect()
    };
    let verbs = |requests: &[Value]| -> std::collections::HashSet<String> {
        requests
            .iter()
            .filter_map(|e| e["verb"].as_str().map(String::from))
            .collect()
    };
    // A watch is audited when it ends: end the cache's (the API server sees the connection
    // close), wait for its record, then stop the API server so that it has written everything.
    drop(cache);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !verbs(&sensor_requests()).contains("watch") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop_apiserver();
    let sensor_requests = sensor_requests();
    let verbs = verbs(&sensor_requests);
    assert!(
        verbs.contains("list") && verbs.contains("watch"),
        "{verbs:?}"
    );
    for e in &sensor_requests {
        let uri = e["requestURI"].as_str().unwrap();
        assert!(
            uri.starts_with("/api/v1/pods?")
                && uri.contains(&format!("fieldSelector=spec.nodeName%3D{NODE}")),
            "a request without the node's field selector: {uri}"
        );
    }
    println!(
        "{} audited requests of {SENSOR_USER}, all node-scoped",
        sensor_requests.len()
    );
    server.stop();
}

#[test]
fn pod_cache_for_250_pods_is_small_and_fast() {
    let _serial = serial();
    let server = ApiServer::start();
    grant_and_namespace(&server, "load");
    let admin = Admin::new(&server, "load");
    const PODS: u32 = 250;
    let big = "x".repeat(2000);
    admin.rt.block_on(async {
        futures::stream::iter(0..PODS)
            .map(|i| {
                let pods = admin.pods.clone();
                let name = format!("svc{:02}-5c6d7f8b9-{i:05}", i % 40);
                let body = pod(
                    &name,
                    NODE,
                    &[
                        ("app", "registry.example.com:5000/team/app:v1.2.3"),
                        ("istio-proxy", "docker.io/istio/proxyv2:1.20.0"),
                    ],
                    json!({"metadata": {
                    "labels": {"app": format!("svc{:02}", i % 40), "pod-template-hash": "5c6d7f8b9",
                        "version": "v1", "team": "platform", "tier": "backend"},
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                        "kubectl.kubernetes.io/last-applied-configuration": big.clone()},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": format!("svc{:02}-5c6d7f8b9", i % 40),
                        "uid": "0c1d2e3f-0000-0000-0000-000000000003", "controller": true}]}}),
                );
                let ids = [cid(2 * i), cid(2 * i + 1)];
                async move {
                    let pod: Pod = serde_json::from_value(body).unwrap();
                    pods.create(&PostParams::default(), &pod).await?;
                    let statuses: Vec<Value> = ["app", "istio-proxy"]
                        .iter()
                        .zip(&ids)
                        .map(|(n, id)| {
                            json!({"name": n, "image": "", "imageID": "", "ready": true,
                               "restartCount": 0, "containerID": format!("containerd://{id}")})
                        })
                        .collect();
                    let patch = json!({"status": {"containerStatuses": statuses}});
                    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
    });

    let before = LIVE.load(Ordering::Relaxed);
    let cache = PodCache::start(options(&server)).unwrap();
    assert!(
        cache.wait_synced_blocking(Duration::from_secs(30)),
        "{:?}",
        cache.stats()
    );
    assert_eq!(cache.len(), 2 * PODS as usize);
    assert_eq!(cache.pod_count(), PODS as usize);
    std::thread::sleep(Duration::from_millis(200));
    let live = LIVE.load(Ordering::Relaxed) - before;
    let estimate = cache.heap_size();
    println!(
        "250 pods / 500 containers: stored structures {estimate} bytes ({:.1} KiB); whole cache \
         incl. client, TLS, runtime and watch buffers: {live} bytes ({:.2} MiB) live heap",
        estimate as f64 / 1024.0,
        live as f64 / 1048576.0
    );
    assert!(estimate < 10 << 20, "{estimate} bytes");
    assert!(live < 10 << 20, "{live} bytes");
    let info: Arc<PodInfo> = cache.lookup(&cid(7)).unwrap();
    assert_eq!(&*info.container_name, "istio-proxy");
    assert_eq!(&*info.pod.workload.kind, "Deployment");
    assert_eq!(
        info.pod
            .annotation("kubectl.kubernetes.io/last-applied-configuration"),
        None
    );

    // Lookup time: full ids, short ids and misses.
    let ids: Vec<String> = (0..2 * PODS).map(cid).collect();
    let shorts: Vec<String> = ids.iter().map(|i| i[..12].to_owned()).collect();
    let misses: Vec<String> = (10_000..10_500).map(cid).collect();
    for (what, keys) in [("full id", &ids), ("short id", &shorts), ("miss", &misses)] {
        let rounds = 400;
        let t = Instant::now();
        let mut found = 0usize;
        for _ in 0..rounds {
            for k in keys.iter() {
                found += usize::from(std::hint::black_box(cache.lookup(k)).is_some());
            }
        }
        let ns = t.elapsed().as_nanos() as f64 / (rounds * keys.len()) as f64;
        println!("lookup ({what}): {ns:.0} ns");
        assert_eq!(
            found,
            if what == "miss" {
                0
            } else {
                rounds * keys.len()
            }
        );
        assert!(ns < 1000.0, "lookup ({what}) took {ns:.0} ns");
    }
}

#[test]
fn host_mode_and_unreachable_api_server_never_block() {
    let _serial = serial();
    let host = PodCache::start(PodCacheOptions::host()).unwrap();
    assert!(host.is_host_mode() && !host.is_synced() && host.is_empty());
    let t = Instant::now();
    assert!(host.lookup(&cid(1)).is_none());
    assert!(host
        .wait_for_blocking(&cid(1), Duration::from_secs(5))
        .is_none());
    assert!(!host.wait_synced_blocking(Duration::from_secs(5)));
    assert!(
        t.elapsed() < Duration::from_millis(50),
        "host mode never waits"
    );

    // A kubeconfig whose API server is not there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("sensor-kube-unreachable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: \
             https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  \
             user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n\
             current-context: c\n"
        ),
    )
    .unwrap();
    let t = Instant::now();
    let cache = PodCache::start(PodCacheOptions {
        max_backoff: Duration::from_millis(500),
        ..PodCacheOptions::kubeconfig(&kubeconfig, NODE)
    })
    .unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(!cache.is_host_mode());
    assert!(cache.lookup(&cid(1)).is_none());
    eventually(Duration::from_secs(10), "watch errors", || {
        cache.watch_errors() >= 3
    });
    assert!(!cache.is_synced());
    let t = Instant::now();
    assert!(cache
        .wait_for_blocking(&cid(1), Duration::from_millis(200))
        .is_none());
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(cache);
    assert!(PodCache::start(PodCacheOptions::kubeconfig(dir.join("missing"), NODE)).is_err());
    let mut no_node = PodCacheOptions::kubeconfig(&kubeconfig, NODE);
    no_node.node_name = None;
    assert!(PodCache::start(no_node).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
