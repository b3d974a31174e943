//! Alert delivery end to end (issue 5): the real `sensor run` on the real kernel, serving its
//! Unix socket and its mutual-TLS TCP port, with `sensor alerts`/`sensor status`, a tonic
//! client from `sensor_api`, a Python grpcio client generated from the .proto, and the HTTP
//! and file outputs.
//!
//! The sensor sees every process on the machine, and other tests' sensors run at the same
//! time: each test loads rules of its own whose conditions name files in its own scratch
//! directory (or, with the default rules, keeps the alerts of the pids it started).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::daemon::{wait_timeout, RunningSensor as Sensor};
use common::grpcio::grpcio_python;
use common::tls::{free_port, make_ca, make_cert};
use common::{privileged, run, TempDir, SENSOR};
use sensor::sinks::grpc::client::{connect, Target};
use sensor_api::v1 as api;
use serde_json::Value;

const ALPHA: &str = "Grpc Test Alpha";
const BETA: &str = "Grpc Test Beta";
const PROTO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto");
const PYTHON_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/grpc_client.py");

/// Two rules that fire only for chmods of files in `dir`: ALPHA (WARNING, tag `alpha`) for
/// names starting `alpha`, BETA (CRITICAL, tag `beta`) for names starting `beta`.
fn rules_file(dir: &TempDir) -> String {
    let prefix = dir.0.display();
    let rule = |name: &str, file: &str, priority: &str, tag: &str| {
        format!(
            "- rule: {name}\n  desc: gRPC test rule\n  condition: evt.type in (chmod, fchmodat, fchmodat2) and evt.arg.filename startswith {prefix}/{file}\n  output: {name} fired (pid=%proc.pid file=%evt.arg.filename mode=%evt.arg.mode)\n  priority: {priority}\n  tags: [{tag}, grpc_test]\n"
        )
    };
    let path = dir.path("rules.yaml");
    std::fs::write(
        &path,
        format!(
            "{}{}",
            rule(ALPHA, "alpha", "WARNING", "alpha"),
            rule(BETA, "beta", "CRITICAL", "beta")
        ),
    )
    .unwrap();
    path.display().to_string()
}

/// A file in `dir` to chmod.
fn target(dir: &TempDir, name: &str) -> String {
    let path = dir.path(name);
    std::fs::write(&path, b"x").unwrap();
    path.display().to_string()
}

fn chmod(mode: &str, file: &str) -> u32 {
    let (pid, status) = run(Command::new("chmod").arg(mode).arg(file));
    assert!(status.success(), "chmod {mode} {file}");
    pid
}

/// `sensor alerts --json`: its stdout lines (with the time each arrived) on a channel, its
/// stderr kept.
struct Subscriber {
    child: Option<Child>,
    lines: Receiver<(SystemTime, String)>,
    stderr: Arc<Mutex<String>>,
}

impl Subscriber {
    fn start(connect: &[&str], extra: &[&str]) -> Subscriber {
        let mut child = Command::new(SENSOR)
            .arg("alerts")
            .args(connect)
            .arg("--json")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sensor alerts");
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send((SystemTime::now(), line));
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = stderr.clone();
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            kept.lock().unwrap().push_str(&text);
        });
        Subscriber {
            child: Some(child),
            lines,
            stderr,
        }
    }

    /// The alerts of process `pid` received: once `want` have come, whatever else arrives
    /// within `settle` (so that extra ones are seen); at most `within` in all.
    fn alerts_for(&self, pid: u32, want: usize, within: Duration, settle: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = Instant::now() + within;
        let mut settled: Option<Instant> = None;
        loop {
            if settled.is_none() && out.len() >= want {
                settled = Some(Instant::now() + settle);
            }
            let until = settled.map_or(deadline, |s| s.min(deadline));
            match self
                .lines
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok((_, line)) => {
                    let alert: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                        panic!("sensor alerts printed invalid JSON ({e}): {line}")
                    });
                    if alert["output_fields"]["proc.pid"] == pid {
                        out.push(alert);
                    }
                }
                Err(_) => return out,
            }
        }
    }

    /// Waits for it to exit: status and stderr.
    fn wait(mut self, within: Duration) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let status = wait_timeout(&mut child, within).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "sensor alerts did not exit within {within:?}; stderr: {}",
                self.stderr.lock().unwrap()
            )
        });
        // The stderr thread ends with the pipe.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stderr)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `sensor status` as JSON.
fn status(connect: &[&str]) -> Value {
    let out = Command::new(SENSOR)
        .arg("status")
        .args(connect)
        .output()
        .expect("sensor status");
    assert!(
        out.status.success(),
        "sensor status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sensor status prints JSON")
}

/// Polls `sensor status` until subscribers named `names` are all connected: only then does an
/// alert reach them.
fn wait_subscribed(connect: &[&str], names: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = status(connect);
        let connected: BTreeSet<&str> = status["subscribers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["client_name"].as_str())
            .collect();
        if names.iter().all(|n| connected.contains(n)) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "subscribers {names:?} not connected within 30 s: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn subscriber<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["subscribers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["client_name"] == name)
        .unwrap_or_else(|| panic!("no subscriber `{name}` in {status:#}"))
}

fn rules_of(alerts: &[Value]) -> Vec<&str> {
    alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect()
}

/// Criterion 1: fan-out with server-side filters. Each subscriber receives exactly the alerts
/// its own filters select, every one of them, and none of the others'.
#[test]
fn subscribers_with_different_filters_each_receive_exactly_theirs() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("fanout");
    let rules = rules_file(&dir);
    let socket = dir.path("sensor.sock").display().to_string();
    let _sensor = Sensor::start(&["--rules", &rules, "--grpc-socket", &socket]);
    let at = ["--socket", socket.as_str()];
    let by_rule = Subscriber::start(&at, &["--rule", ALPHA, "--name", "by-rule"]);
    let by_priority = Subscriber::start(
        &at,
        &["--min-priority", "critical", "--name", "by-priority"],
    );
    // Filters AND: ALPHA carries `alpha` but is only WARNING, BETA is CRITICAL but has no
    // `alpha` tag, so this one gets neither.
    let none = Subscriber::start(
        &at,
        &[
            "--tag",
            "alpha",
            "--min-priority",
            "error",
            "--name",
            "none",
        ],
    );
    let by_tag = Subscriber::start(&at, &["--tag", "nope", "--tag", "beta", "--name", "by-tag"]);
    wait_subscribed(&at, &["by-rule", "by-priority", "none", "by-tag"]);

    let (alpha, beta) = (target(&dir, "alpha-1"), target(&dir, "beta-1"));
    let (pid, _) = common::python(&format!(
        "import os\nfor m in (0o600, 0o640, 0o644, 0o660, 0o664):\n    os.chmod('{alpha}', m)\nfor m in (0o600, 0o640, 0o644):\n    os.chmod('{beta}', m)\n"
    ));

    let wait = Duration::from_secs(15);
    let settle = Duration::from_secs(1);
    let got = by_rule.alerts_for(pid, 5, wait, settle);
    assert_eq!(rules_of(&got), [ALPHA; 5], "{got:#?}");
    assert!(got.iter().all(|a| a["priority"] == "Warning"), "{got:#?}");
    let got = by_priority.alerts_for(pid, 3, wait, settle);
    assert_eq!(rules_of(&got), [BETA; 3], "{got:#?}");
    assert!(got.iter().all(|a| a["priority"] == "Critical"), "{got:#?}");
    let got = by_tag.alerts_for(pid, 3, wait, settle);
    assert_eq!(rules_of(&got), [BETA; 3], "{got:#?}");
    assert!(
        got.iter()
            .all(|a| a["tags"].as_array().unwrap().contains(&"beta".into())),
        "{got:#?}"
    );
    let got = none.alerts_for(pid, 0, settle, settle);
    assert!(got.is_empty(), "{got:#?}");
}

#[derive(Debug)]
enum Got {
    Alert {
        sequence: u64,
        rule: String,
        pid: u32,
        /// `evt.time` and the time of receipt, ns since the epoch.
        event_ns: u64,
        received_ns: u64,
    },
    Dropped {
        dropped: u64,
        dropped_total: u64,
    },
    Goodbye(api::Goodbye),
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Reads a subscription to its end, keeping what arrives.
async fn drain(mut stream: tonic::Streaming<api::SubscribeResponse>, out: Arc<Mutex<Vec<Got>>>) {
    use api::subscribe_response::Message;
    while let Ok(Some(response)) = stream.message().await {
        let received_ns = now_ns();
        let got = match response.message {
            Some(Message::Alert(alert)) => Got::Alert {
                sequence: alert.sequence,
                rule: alert.rule,
                pid: alert.process.map_or(0, |p| p.pid),
                event_ns: alert.output_fields["evt.time"].parse().unwrap(),
                received_ns,
            },
            Some(Message::DropNotice(n)) => Got::Dropped {
                dropped: n.dropped,
                dropped_total: n.dropped_total,
            },
            Some(Message::Goodbye(g)) => Got::Goodbye(g),
            None => continue,
        };
        out.lock().unwrap().push(got);
    }
}

/// The sequences and latencies (ms) of `pid`'s alerts of `rule` in `got`.
fn alerts_in(got: &[Got], rule: &str, pid: u32) -> (Vec<u64>, Vec<f64>) {
    let mut sequences = Vec::new();
    let mut latencies = Vec::new();
    for g in got {
        if let Got::Alert {
            sequence,
            rule: r,
            pid: p,
            event_ns,
            received_ns,
        } = g
        {
            if r == rule && *p == pid {
                sequences.push(*sequence);
                latencies.push((*received_ns as f64 - *event_ns as f64) / 1e6);
            }
        }
    }
    (sequences, latencies)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Criterion 2: a subscriber that stops reading costs only itself. Its queue (50) overflows
/// while thousands of alerts go to two others, which get all of theirs promptly; when it
/// reads again it is told exactly how many it lost, consistently with Status, and what it
/// received plus what it lost is every alert published to it.
#[test]
fn a_stalled_subscriber_loses_only_its_own_alerts_and_is_told_how_many() {
    if !privileged() {
        return;
    }
    const ALPHAS: usize = 4000;
    const BETAS: usize = 40;
    const STALLED_QUEUE: u32 = 50;
    let dir = TempDir::new("stall");
    let rules = rules_file(&dir);
    let socket = dir.path("sensor.sock");
    let socket_arg = socket.display().to_string();
    let sensor = Sensor::start(&["--rules", &rules, "--grpc-socket", &socket_arg]);
    let at = ["--socket", socket_arg.as_str()];

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let endpoint = Target::Socket(socket.clone());
    // Each subscriber on a connection of its own, as separate clients would be.
    let subscribe = |request: api::SubscribeRequest| {
        runtime.block_on(async {
            let mut client = connect(&endpoint).await.expect("connect");
            client
                .subscribe(request)
                .await
                .expect("subscribe")
                .into_inner()
        })
    };
    let stalled = subscribe(api::SubscribeRequest {
        rules: vec![ALPHA.into()],
        queue_size: STALLED_QUEUE,
        client_name: "stalled".into(),
        ..Default::default()
    });
    let fast_alpha = Arc::new(Mutex::new(Vec::new()));
    let fast_beta = Arc::new(Mutex::new(Vec::new()));
    runtime.spawn(drain(
        subscribe(api::SubscribeRequest {
            rules: vec![ALPHA.into()],
            client_name: "fast-alpha".into(),
            ..Default::default()
        }),
        fast_alpha.clone(),
    ));
    runtime.spawn(drain(
        subscribe(api::SubscribeRequest {
            tags: vec!["beta".into()],
            client_name: "fast-beta".into(),
            ..Default::default()
        }),
        fast_beta.clone(),
    ));
    wait_subscribed(&at, &["stalled", "fast-alpha", "fast-beta"]);

    // Paced bursts: 50 chmods, then 10 ms; one BETA per 100 ALPHAs.
    let (alpha, beta) = (target(&dir, "alpha-flood"), target(&dir, "beta-flood"));
    let started = Instant::now();
    let (pid, _) = common::python(&format!(
        "import os, time\nfor i in range({ALPHAS}):\n    if i % 50 == 0:\n        time.sleep(0.01)\n    os.chmod('{alpha}', 0o600)\n    if i % 100 == 50:\n        os.chmod('{beta}', 0o600)\n"
    ));
    eprintln!("{ALPHAS} + {BETAS} chmods in {:?}", started.elapsed());

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = alerts_in(&fast_alpha.lock().unwrap(), ALPHA, pid).0.len();
        let b = alerts_in(&fast_beta.lock().unwrap(), BETA, pid).0.len();
        if a >= ALPHAS && b >= BETAS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the readers got {a}/{ALPHAS} and {b}/{BETAS} alerts within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut alpha_sequences = Vec::new();
    for (got, rule, other, want) in [
        (&fast_alpha, ALPHA, BETA, ALPHAS),
        (&fast_beta, BETA, ALPHA, BETAS),
    ] {
        let got = got.lock().unwrap();
        let (sequences, mut latencies) = alerts_in(&got, rule, pid);
        assert_eq!(sequences.len(), want, "{rule}: every alert, once");
        assert!(
            sequences.windows(2).all(|w| w[0] < w[1]),
            "{rule}: in order"
        );
        assert!(
            alerts_in(&got, other, pid).0.is_empty(),
            "{rule}: none of {other}"
        );
        assert!(
            !got.iter().any(|g| matches!(g, Got::Dropped { .. })),
            "{rule}: the reader lost nothing"
        );
        latencies.sort_by(f64::total_cmp);
        let (p50, p99, max) = (
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1],
        );
        eprintln!("{rule}: latency ms p50 {p50:.1} p99 {p99:.1} max {max:.1}");
        assert!(p99 < 1000.0, "{rule}: p99 latency {p99:.1} ms");
        assert!(max < 3000.0, "{rule}: max latency {max:.1} ms");
        if rule == ALPHA {
            alpha_sequences = sequences;
        }
    }

    // The stalled one lost alerts, and Status says how many (`sensor status` and the RPC).
    let status_cli = status(&at);
    let stalled_status = subscriber(&status_cli, "stalled");
    eprintln!("stalled subscriber while stalled: {stalled_status}");
    let dropped = stalled_status["alerts_dropped"].as_u64().unwrap();
    let sent_while_stalled = stalled_status["alerts_sent"].as_u64().unwrap();
    assert!(dropped > 0, "{stalled_status}");
    assert_eq!(stalled_status["queue_size"], STALLED_QUEUE);
    assert_eq!(stalled_status["queued"], STALLED_QUEUE, "its queue is full");
    assert!(
        sent_while_stalled + dropped + STALLED_QUEUE as u64 <= ALPHAS as u64,
        "{stalled_status}"
    );
    assert_eq!(
        subscriber(&status_cli, "fast-alpha")["alerts_dropped"],
        0,
        "{status_cli:#}"
    );
    let status_rpc = runtime.block_on(async {
        let mut client = connect(&endpoint).await.unwrap();
        client
            .status(api::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
    });
    let rpc = status_rpc
        .subscribers
        .iter()
        .find(|s| s.client_name == "stalled")
        .expect("stalled in Status");
    assert_eq!(rpc.alerts_dropped, dropped);
    assert_eq!(rpc.queue_size, STALLED_QUEUE);
    let filter = rpc.filter.as_ref().expect("its filter");
    assert_eq!(filter.rules, [ALPHA]);
    assert!(rpc.peer.starts_with("unix"), "{}", rpc.peer);

    // It reads again: first what sat in the transport, then the drop notice, then its queue.
    let stalled_got = Arc::new(Mutex::new(Vec::new()));
    runtime.spawn(drain(stalled, stalled_got.clone()));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        {
            let got = stalled_got.lock().unwrap();
            let received = alerts_in(&got, ALPHA, pid).0.len() as u64;
            if received + dropped >= ALPHAS as u64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the stalled subscriber received {received} + dropped {dropped} < {ALPHAS} alerts"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let got = std::mem::take(&mut *stalled_got.lock().unwrap());
    let (received, _) = alerts_in(&got, ALPHA, pid);
    let notices: Vec<(u64, u64)> = got
        .iter()
        .filter_map(|g| match g {
            Got::Dropped {
                dropped,
                dropped_total,
            } => Some((*dropped, *dropped_total)),
            _ => None,
        })
        .collect();
    eprintln!(
        "stalled subscriber: sent {sent_while_stalled} before reading again, then received {} alerts in all, dropped {dropped}, notices {notices:?}",
        received.len()
    );
    assert!(!notices.is_empty(), "a drop notice");
    assert_eq!(notices.iter().map(|n| n.0).sum::<u64>(), dropped);
    assert_eq!(
        notices.last().unwrap().1,
        dropped,
        "dropped_total == Status"
    );
    assert!(notices.iter().all(|n| n.0 > 0));
    assert_eq!(
        received.len() as u64 + dropped,
        ALPHAS as u64,
        "received + dropped == published"
    );
    // What it received is a subsequence of what was published; what is missing is what it
    // was told it lost.
    assert!(received.windows(2).all(|w| w[0] < w[1]));
    let published: BTreeSet<u64> = alpha_sequences.iter().copied().collect();
    assert!(received.iter().all(|s| published.contains(s)));
    // After the last notice, exactly the queue: the newest alerts, kept.
    let last_notice = got
        .iter()
        .rposition(|g| matches!(g, Got::Dropped { .. }))
        .unwrap();
    let after: Vec<u64> = alerts_in(&got[last_notice..], ALPHA, pid).0;
    assert_eq!(after.len(), STALLED_QUEUE as usize);
    assert_eq!(
        after,
        alpha_sequences[ALPHAS - STALLED_QUEUE as usize..],
        "the newest alerts are the ones kept"
    );
    let status_after = status(&at);
    let stalled_after = subscriber(&status_after, "stalled");
    assert_eq!(stalled_after["alerts_sent"], received.len() as u64);
    assert_eq!(stalled_after["alerts_dropped"], dropped);
    assert_eq!(stalled_after["queued"], 0);

    // SIGTERM: every stream ends with a Goodbye carrying its counts.
    assert!(sensor.stop().success());
    std::thread::sleep(Duration::from_millis(500));
    let goodbye = |got: &[Got]| {
        got.iter()
            .find_map(|g| match g {
                Got::Goodbye(g) => Some(g.clone()),
                _ => None,
            })
            .expect("a Goodbye")
    };
    let bye = goodbye(&stalled_got.lock().unwrap());
    assert_eq!(
        (bye.alerts_sent, bye.alerts_dropped),
        (received.len() as u64, dropped)
    );
    let bye = goodbye(&fast_alpha.lock().unwrap());
    assert_eq!((bye.alerts_sent, bye.alerts_dropped), (ALPHAS as u64, 0));
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// Runs a command that must fail by itself: its status and stderr.
fn run_failing(cmd: &mut Command, within: Duration) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child, within);
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let status =
        status.unwrap_or_else(|| panic!("{cmd:?} still running after {within:?}: {stderr}"));
    (status, stdout, stderr)
}

/// Criterion 3: TCP with mutual TLS. Clients without a certificate, or with one from another
/// CA, are refused; one with a certificate from the sensor's CA receives alerts. Without
/// certificate files (and without --insecure) the sensor does not start, naming the file.
#[test]
fn tcp_requires_a_client_certificate_from_the_sensors_ca() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("mtls");
    make_ca(&dir, "ca");
    make_ca(&dir, "other-ca");
    let leaf = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n";
    make_cert(
        &dir,
        "ca",
        "server",
        &format!("{leaf}extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"),
    );
    make_cert(
        &dir,
        "ca",
        "client",
        &format!("{leaf}extendedKeyUsage=clientAuth\n"),
    );
    make_cert(
        &dir,
        "other-ca",
        "intruder",
        &format!("{leaf}extendedKeyUsage=clientAuth\n"),
    );
    let file = |name: &str| dir.path(name).display().to_string();
    let (ca, server, server_key) = (file("ca.pem"), file("server.pem"), file("server.key"));

    // No certificate files: the start fails, naming the file it could not read.
    let address = format!("127.0.0.1:{}", free_port());
    let (status, _, stderr) = run_failing(
        Command::new(SENSOR).args([
            "run",
            "--no-health",
            "--no-grpc-socket",
            "--grpc-addr",
            &address,
        ]),
        Duration::from_secs(30),
    );
    assert!(!status.success());
    for default in [
        "/etc/sensor/tls/ca.crt",
        "/etc/sensor/tls/tls.crt",
        "/etc/sensor/tls/tls.key",
    ] {
        assert!(stderr.contains(default), "{stderr}");
    }
    assert!(stderr.contains("insecure"), "{stderr}");
    let missing = file("missing.key");
    let (status, _, stderr) = run_failing(
        Command::new(SENSOR).args([
            "run",
            "--no-health",
            "--no-grpc-socket",
            "--grpc-addr",
            &address,
            "--tls-ca",
            &ca,
            "--tls-cert",
            &server,
            "--tls-key",
            &missing,
        ]),
        Duration::from_secs(30),
    );
    assert!(!status.success());
    assert!(stderr.contains(&missing), "{stderr}");

    let rules = rules_file(&dir);
    let _sensor = Sensor::start(&[
        "--rules",
        &rules,
        "--no-grpc-socket",
        "--grpc-addr",
        &address,
        "--tls-ca",
        &ca,
        "--tls-cert",
        &server,
        "--tls-key",
        &server_key,
    ]);
    let tls = |cert: Option<&str>| {
        let mut args = vec![
            "--addr".to_string(),
            address.clone(),
            "--ca".into(),
            ca.clone(),
        ];
        if let Some(name) = cert {
            args.extend(["--cert".into(), file(&format!("{name}.pem"))]);
            args.extend(["--key".into(), file(&format!("{name}.key"))]);
        }
        args
    };

    for (cert, what) in [
        (None, "no certificate"),
        (Some("intruder"), "another CA's certificate"),
    ] {
        let args = tls(cert);
        let (status, stdout, stderr) = run_failing(
            Command::new(SENSOR)
                .arg("alerts")
                .args(&args)
                .args(["--json", "--count", "1"]),
            Duration::from_secs(20),
        );
        eprintln!("alerts with {what}: {status}: {stderr}");
        assert!(!status.success(), "{what}: {stderr}");
        assert!(stdout.is_empty(), "{what}: {stdout}");
        // Refused by the TLS handshake (rustls's alert names why: CertificateRequired,
        // UnknownCA), not by anything else; which side notices first may vary.
        let refused = |e: &str| {
            ["CertificateRequired", "UnknownCA", "connection"]
                .iter()
                .any(|w| e.contains(w))
        };
        assert!(refused(&stderr), "{what}: {stderr}");
        let (status, stdout, stderr) = run_failing(
            Command::new(SENSOR).arg("status").args(&args),
            Duration::from_secs(20),
        );
        assert!(!status.success(), "status with {what}: {stdout}");
        eprintln!("status with {what}: {stderr}");
        assert!(refused(&stderr), "status with {what}: {stderr}");
        assert!(stdout.is_empty(), "status with {what}: {stdout}");
    }

    let args = tls(Some("client"));
    let connect: Vec<&str> = args.iter().map(String::as_str).collect();
    let client = Subscriber::start(&connect, &["--name", "mtls"]);
    let status = wait_subscribed(&connect, &["mtls"]);
    let peer = subscriber(&status, "mtls")["peer"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(peer.starts_with("127.0.0.1:"), "{peer}");
    let pid = chmod("600", &target(&dir, "alpha-mtls"));
    let got = client.alerts_for(pid, 1, Duration::from_secs(15), Duration::from_millis(300));
    assert_eq!(rules_of(&got), [ALPHA], "{got:#?}");
}

/// Criterion 4 and 8: the socket is created 0660 in a directory created for it; SIGTERM ends
/// a subscriber's stream with a Goodbye (`sensor alerts` prints it and exits 0), and the
/// socket is removed.
#[test]
fn the_socket_is_0660_and_sigterm_ends_streams_with_a_goodbye() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("socket");
    let rules = rules_file(&dir);
    let socket = dir.path("run/sensor/sensor.sock");
    let socket_arg = socket.display().to_string();
    let sensor = Sensor::start(&["--rules", &rules, "--grpc-socket", &socket_arg]);
    let meta = std::fs::metadata(&socket).expect("the socket exists");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660, "socket mode");
    assert!(socket.parent().unwrap().is_dir());
    let stat = Command::new("stat")
        .args(["-c", "%a %F"])
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&stat.stdout).trim(), "660 socket");

    let at = ["--socket", socket_arg.as_str()];
    let client = Subscriber::start(&at, &["--rule", ALPHA, "--name", "bye"]);
    wait_subscribed(&at, &["bye"]);
    let pid = chmod("600", &target(&dir, "alpha-bye"));
    let got = client.alerts_for(pid, 1, Duration::from_secs(15), Duration::from_millis(300));
    assert_eq!(rules_of(&got), [ALPHA]);

    assert!(sensor.stop().success());
    let (status, stderr) = client.wait(Duration::from_secs(15));
    assert!(status.success(), "sensor alerts: {status}: {stderr}");
    assert!(
        stderr.contains("the sensor closed the stream: the sensor is stopping (sent 1, dropped 0)"),
        "{stderr}"
    );
    assert!(!socket.exists(), "the socket is removed at exit");
}

/// Criterion 5: a client of another gRPC implementation, generated from the .proto at test
/// time (Python grpcio, grpc_tools.protoc), talks to the sensor over its Unix socket: Status,
/// ListRules, server reflection, and a filtered Subscribe whose alert carries the rule, the
/// priority enum, output_fields and the typed process of the process the test started.
#[test]
fn a_python_grpcio_client_generated_from_the_proto_receives_alerts() {
    if !privileged() {
        return;
    }
    let python = grpcio_python();
    let dir = TempDir::new("python");
    let stubs = dir.path("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    let out = Command::new(&python)
        .args(["-m", "grpc_tools.protoc", "-I", PROTO_DIR])
        .arg(format!("--python_out={}", stubs.display()))
        .arg(format!("--grpc_python_out={}", stubs.display()))
        .arg("sensor/v1/sensor.proto")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "grpc_tools.protoc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stubs.join("sensor/v1/sensor_pb2_grpc.py").is_file());

    let rules = rules_file(&dir);
    let socket = dir.path("sensor.sock");
    let socket_arg = socket.display().to_string();
    let _sensor = Sensor::start(&["--rules", &rules, "--grpc-socket", &socket_arg]);

    let mut client = Command::new(&python)
        .arg(PYTHON_CLIENT)
        .args([&socket_arg, ALPHA, "PRIORITY_WARNING"])
        .env("PYTHONPATH", &stubs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child_lines(&mut client);
    let mut lines: HashMap<String, Value> = HashMap::new();
    let mut next = |kind: &str| -> Value {
        while !lines.contains_key(kind) {
            let line = stdout
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the Python client printed no `{kind}`"));
            let value: Value = serde_json::from_str(&line).unwrap();
            lines.insert(value["kind"].as_str().unwrap().to_string(), value);
        }
        lines[kind].clone()
    };

    let status = next("status");
    assert_eq!(status["rules_loaded"], 2, "{status}");
    assert!(!status["version"].as_str().unwrap().is_empty(), "{status}");
    assert!(status["uptime_seconds"].as_f64().unwrap() > 0.0, "{status}");
    let listed = next("rules");
    let listed = listed["rules"].as_array().unwrap();
    let alpha_rule = listed
        .iter()
        .find(|r| r["name"] == ALPHA)
        .expect("ALPHA listed");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(alpha_rule["priority"], "PRIORITY_WARNING");
    assert_eq!(
        alpha_rule["tags"],
        serde_json::json!(["alpha", "grpc_test"])
    );
    assert_eq!(alpha_rule["enabled"], true);
    assert!(alpha_rule["event_types"]
        .as_array()
        .unwrap()
        .contains(&"fchmodat".into()));
    let reflection = next("reflection");
    let services = reflection["services"].as_array().unwrap();
    for service in ["sensor.v1.Sensor", "grpc.health.v1.Health"] {
        assert!(services.contains(&service.into()), "{reflection}");
    }

    next("subscribing");
    wait_subscribed(&["--socket", &socket_arg], &["python-grpcio"]);
    let beta_pid = chmod("600", &target(&dir, "beta-py"));
    let pid = chmod("4644", &target(&dir, "alpha-py"));
    let alert = next("alert");
    assert!(wait_timeout(&mut client, Duration::from_secs(10)).is_some_and(|s| s.success()));
    eprintln!("the Python client's alert: {alert:#}");
    assert_eq!(
        alert["rule"], ALPHA,
        "BETA (pid {beta_pid}) is filtered out"
    );
    assert_eq!(alert["priority"], api::Priority::Warning as i32);
    assert_eq!(alert["priority_name"], "PRIORITY_WARNING");
    assert_eq!(alert["source"], "syscall");
    assert!(alert["event_type"]
        .as_str()
        .is_some_and(|t| t.starts_with("chmod") || t.starts_with("fchmodat")));
    assert!(alert["tags"].as_array().unwrap().contains(&"alpha".into()));
    assert!(alert["sequence"].as_u64().unwrap() >= 1);
    let fields = &alert["output_fields"];
    assert_eq!(fields["proc.pid"], pid.to_string());
    let event_ns: u64 = fields["evt.time"].as_str().unwrap().parse().unwrap();
    assert!(
        now_ns().abs_diff(event_ns) < 60_000_000_000,
        "evt.time {event_ns}"
    );
    assert!(fields["evt.arg.filename"]
        .as_str()
        .unwrap()
        .ends_with("/alpha-py"));
    let process = &alert["process"];
    assert_eq!(process["pid"], pid);
    assert_eq!(process["ppid"], std::process::id());
    assert_eq!(process["name"], "chmod");
    assert!(
        process["cmdline"].as_str().unwrap().contains("chmod 4644"),
        "{process}"
    );
    assert_eq!(process["uid"], 0);
    let time = alert["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    let falco: Value = serde_json::from_str(alert["falco_json"].as_str().unwrap()).unwrap();
    assert_eq!(falco["rule"], ALPHA);
    assert_eq!(falco["output_fields"]["proc.pid"], pid);
}

fn child_lines(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// A request the test HTTP server received.
struct Posted {
    request_line: String,
    headers: HashMap<String, String>,
    body: String,
}

/// An HTTP/1.1 server on 127.0.0.1 answering every request 200; the requests on a channel.
fn http_server() -> (u16, Receiver<Posted>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = HashMap::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            headers
                                .insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
                        }
                    }
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                    let _ = tx.send(Posted {
                        request_line: request_line.trim_end().to_string(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
            });
        }
    });
    (port, rx)
}

/// Falco's time format: RFC 3339 in UTC with nanoseconds, `2024-05-01T12:34:56.123456789Z`.
fn is_falco_time(time: &str) -> bool {
    let b = time.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 30
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..29)
        && b[29] == b'Z'
}

/// Criterion 6: the HTTP output POSTs Falco's JSON (the default rules' alert of a setuid
/// chmod), with Falco's keys and types, as application/json.
#[test]
fn the_http_output_posts_falco_json() {
    if !privileged() {
        return;
    }
    let (port, posted) = http_server();
    let url = format!("http://127.0.0.1:{port}/");
    let dir = TempDir::new("http");
    let _sensor = Sensor::start(&["--no-grpc-socket", "--output-http", &url]);
    let file = target(&dir, "suid-target");
    let pid = chmod("u+s", &file);
    let deadline = Instant::now() + Duration::from_secs(15);
    let (request, alert) = loop {
        let request = posted
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a POST of the alert within 15 s");
        let alert: Value = serde_json::from_str(&request.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", request.body));
        if alert["output_fields"]["proc.pid"] == pid {
            break (request, alert);
        }
    };
    eprintln!("POSTed: {} {alert:#}", request.request_line);
    assert!(
        request.request_line.starts_with("POST / HTTP/1.1"),
        "{}",
        request.request_line
    );
    assert_eq!(request.headers["content-type"], "application/json");
    let object = alert.as_object().unwrap();
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    for key in [
        "time",
        "rule",
        "priority",
        "source",
        "hostname",
        "output",
        "output_fields",
        "tags",
    ] {
        assert!(keys.contains(key), "`{key}` missing: {alert}");
    }
    assert!(
        is_falco_time(alert["time"].as_str().unwrap()),
        "{}",
        alert["time"]
    );
    assert_eq!(alert["rule"], "Setuid or Setgid Bit Set on a File");
    assert_eq!(alert["priority"], "Notice");
    assert_eq!(alert["source"], "syscall");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(alert["hostname"], hostname.trim());
    let output = alert["output"].as_str().unwrap();
    assert!(output.contains("Setuid or setgid bit set"), "{output}");
    assert!(output.contains(&format!("pid={pid}")), "{output}");
    let fields = alert["output_fields"].as_object().unwrap();
    let event_ns = fields["evt.time"].as_u64().expect("evt.time is an integer");
    assert!(
        now_ns().abs_diff(event_ns) < 60_000_000_000,
        "evt.time {event_ns}"
    );
    assert_eq!(fields["proc.name"], "chmod");
    assert_eq!(fields["evt.arg.filename"], file.as_str());
    let tags = alert["tags"].as_array().unwrap();
    assert!(tags.iter().all(Value::is_string));
    assert!(tags.contains(&"filesystem".into()), "{tags:?}");
}

/// Criterion 7: the file output with de-duplication. Five identical alerts within the window
/// make one line at once and, when the window closes, one standing for the four folded.
#[test]
fn the_file_output_folds_identical_alerts() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("dedup");
    let rules = rules_file(&dir);
    let output = dir.path("alerts.json");
    let output_arg = output.display().to_string();
    let _sensor = Sensor::start(&[
        "--rules",
        &rules,
        "--no-grpc-socket",
        "--output-file",
        &output_arg,
        "--dedup-window",
        "1s",
    ]);
    let alpha = target(&dir, "alpha-dedup");
    let (pid, _) = common::python(&format!(
        "import os\nfor _ in range(5):\n    os.chmod('{alpha}', 0o600)\n"
    ));
    let lines_of = |path: &Path| -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|a| a["output_fields"]["proc.pid"] == pid)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let first_seen = loop {
        if !lines_of(&output).is_empty() {
            break Instant::now();
        }
        assert!(Instant::now() < deadline, "no alert in {output_arg}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines = loop {
        let lines = lines_of(&output);
        if lines.len() >= 2 || Instant::now() >= deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("folded line after {:?}", first_seen.elapsed());
    std::thread::sleep(Duration::from_millis(1500));
    let lines_later = lines_of(&output);
    assert_eq!(lines_later.len(), 2, "{lines_later:#?}");
    assert_eq!(rules_of(&lines), [ALPHA, ALPHA]);
    assert!(
        lines[0]["output_fields"].get("sensor.folded").is_none(),
        "{lines:#?}"
    );
    assert_eq!(lines[1]["output_fields"]["sensor.folded"], 4, "{lines:#?}");
}
