//! A real Kubernetes API server for the tests: etcd and kube-apiserver 1.20 on 127.0.0.1 only,
//! on free ports, with a temporary data directory, self-signed serving certificates, static
//! token authentication and RBAC authorization, and an audit log of every pod request.
//!
//! kube-apiserver is built once by `cargo xtask apiserver` (cached outside the repository, see
//! `xtask/src/apiserver.rs`); etcd is Debian's `etcd-server`. Without a kubelet, pods bound to
//! a node never finish terminating: delete them with grace period 0.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "admin-token-0123456789";
pub const SENSOR_TOKEN: &str = "sensor-token-0123456789";
/// The user the sensor's kubeconfig authenticates as (a service account's user name).
pub const SENSOR_USER: &str = "system:serviceaccount:sensor:sensor";
const ETCD: &str = "/usr/bin/etcd";

/// The cached kube-apiserver binary: the same rule as `xtask/src/apiserver.rs`.
pub fn binary() -> PathBuf {
    let dir = match std::env::var_os("SENSOR_APISERVER_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
            .join(".cache/sensor/kube-apiserver-1.20.2"),
    };
    let bin = dir.join("kube-apiserver");
    assert!(
        bin.is_file() && Path::new(ETCD).is_file(),
        "{} or {ETCD} is missing: run `cargo xtask apiserver` (builds kube-apiserver once, \
         about 5 minutes, and installs etcd)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

pub struct ApiServer {
    dir: PathBuf,
    port: u16,
    etcd_port: u16,
    etcd: Option<Child>,
    apiserver: Option<Child>,
}

impl ApiServer {
    /// Starts etcd, then kube-apiserver; returns once `/readyz` answers ok.
    pub fn start() -> Self {
        let bin = binary();
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sensor-apiserver-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        let run = |cmd: &mut Command| {
            let out = cmd
                .output()
                .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(dir.join("sa.key"))
            .arg("2048"));
        std::fs::write(
            dir.join("tokens.csv"),
            format!(
                "{ADMIN_TOKEN},admin,admin-uid,\"system:masters\"\n\
                 {SENSOR_TOKEN},{SENSOR_USER},sensor-uid,\"system:serviceaccounts,system:serviceaccounts:sensor\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("audit-policy.yaml"),
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n\
             - level: Metadata\n  resources: [{group: \"\", resources: [pods]}]\n- level: None\n",
        )
        .unwrap();
        let mut server = Self {
            port: free_port(),
            etcd_port: free_port(),
            dir,
            etcd: None,
            apiserver: None,
        };
        server.start_etcd();
        server.start_apiserver_with(&bin);
        server.write_kubeconfig("admin", ADMIN_TOKEN, &server.kubeconfig());
        server.write_kubeconfig("sensor", SENSOR_TOKEN, &server.sensor_kubeconfig());
        server
    }

    fn log(&self, name: &str) -> File {
        File::options()
            .create(true)
            .append(true)
            .open(self.dir.join(name))
            .unwrap()
    }

    fn start_etcd(&mut self) {
        let peer = free_port();
        let client = format!("http://127.0.0.1:{}", self.etcd_port);
        let peer = format!("http://127.0.0.1:{peer}");
        let child = Command::new(ETCD)
            .arg("--name=test")
            .arg(format!("--data-dir={}", self.dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg("--listen-metrics-urls=")
            .stdin(Stdio::null())
            .stdout(self.log("etcd.log"))
            .stderr(self.log("etcd.log"))
            .spawn()
            .expect("starting etcd");
        self.etcd = Some(child);
    }

    fn start_apiserver_with(&mut self, bin: &Path) {
        let d = |name: &str| self.dir.join(name).display().to_string();
        let child = Command::new(bin)
            .arg(format!(
                "--etcd-servers=http://127.0.0.1:{}",
                self.etcd_port
            ))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={}", self.port))
            .arg("--insecure-port=0")
            .arg(format!("--cert-dir={}", d("certs")))
            .arg(format!("--token-auth-file={}", d("tokens.csv")))
            .arg("--anonymous-auth=false")
            .arg("--authorization-mode=RBAC")
            .arg(format!("--service-account-key-file={}", d("sa.key")))
            .arg(format!(
                "--service-account-signing-key-file={}",
                d("sa.key")
            ))
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg("--service-cluster-ip-range=10.96.0.0/16")
            // No controller manager creates the `default` service accounts pods refer to.
            .arg("--disable-admission-plugins=ServiceAccount")
            // As every real cluster's API server (kubeadm, kind, managed ones): without it
            // privileged containers are refused (deploy/overlays/privileged).
            .arg("--allow-privileged=true")
            .arg(format!("--audit-log-path={}", d("audit.log")))
            .arg(format!("--audit-policy-file={}", d("audit-policy.yaml")))
            .arg("--profiling=false")
            .arg("--logtostderr=true")
            .arg("--v=0")
            .stdin(Stdio::null())
            .stdout(self.log("apiserver.log"))
            .stderr(self.log("apiserver.log"))
            .spawn()
            .expect("starting kube-apiserver");
        self.apiserver = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("kubectl")
                .arg(format!("--server={}", self.url()))
                .arg(format!("--token={ADMIN_TOKEN}"))
                .args(["--insecure-skip-tls-verify", "--request-timeout=2s"])
                .args(["get", "--raw", "/readyz"])
                .output()
                .expect("running kubectl");
            if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok" {
                return;
            }
            let exited = self
                .apiserver
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.join("apiserver.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!(
                    "kube-apiserver not ready ({exited:?}); last log lines:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn write_kubeconfig(&self, user: &str, token: &str, path: &Path) {
        std::fs::write(
            path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    \
                 server: {}\n    certificate-authority: {}\nusers:\n- name: {user}\n  user:\n    \
                 token: {token}\ncontexts:\n- name: {user}\n  context:\n    cluster: test\n    \
                 user: {user}\ncurrent-context: {user}\n",
                self.url(),
                self.dir.join("certs/apiserver.crt").display()
            ),
        )
        .unwrap();
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// An admin kubeconfig (user `admin`, group `system:masters`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// A kubeconfig for [`SENSOR_USER`], which has only the rights the test grants it.
    pub fn sensor_kubeconfig(&self) -> PathBuf {
        self.dir.join("sensor.kubeconfig")
    }

    pub fn admin_token(&self) -> &'static str {
        ADMIN_TOKEN
    }

    /// The audit log: one JSON object per request to pods.
    pub fn audit_log(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    /// Runs kubectl with the admin kubeconfig; panics on failure; returns stdout.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", self.kubeconfig().display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl");
        let input = stdin.unwrap_or_default().to_owned();
        let mut pipe = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        let _ = writer.join();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates `pod` (a Pod's JSON, with its one container in `spec.containers[0]`) and marks
    /// that container started with the containerd id `id`, as kubelet's status update does.
    pub fn start_pod(&self, pod: &serde_json::Value, id: &str) {
        self.kubectl(&["apply", "-f", "-"], Some(&pod.to_string()));
        let container = &pod["spec"]["containers"][0];
        let status = serde_json::json!({"status": {"phase": "Running", "containerStatuses": [{
            "name": container["name"], "image": container["image"], "imageID": "",
            "containerID": format!("containerd://{id}"), "ready": true, "restartCount": 0,
            "started": true, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}});
        let (name, namespace) = (&pod["metadata"]["name"], &pod["metadata"]["namespace"]);
        self.kubectl(
            &[
                "patch",
                "pod",
                name.as_str().expect("metadata.name"),
                "-n",
                namespace.as_str().expect("metadata.namespace"),
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ],
            None,
        );
    }

    /// Stops kube-apiserver only (etcd and its data stay), e.g. to test an outage.
    pub fn stop_apiserver(&mut self) {
        if let Some(child) = self.apiserver.take() {
            terminate(child);
        }
    }

    /// Starts kube-apiserver again on the same port and etcd data.
    pub fn restart_apiserver(&mut self) {
        assert!(self.apiserver.is_none(), "the API server is running");
        self.start_apiserver_with(&binary());
    }

    /// Stops kube-apiserver, then etcd, and removes the data directory.
    pub fn stop(&mut self) {
        self.stop_apiserver();
        if let Some(child) = self.etcd.take() {
            terminate(child);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// SIGTERM to the child we started (by its pid), SIGKILL after 10 s; reaps it.
fn terminate(mut child: Child) {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}
