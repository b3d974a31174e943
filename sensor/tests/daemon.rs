//! The sensor as a DaemonSet runs it: from a configuration file with every output enabled,
//! probed on /healthz and /readyz, scraped on /metrics, reloaded with SIGHUP and stopped with
//! SIGTERM. Also `sensor config check` on broken files.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{privileged, TempDir, SENSOR};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A plain HTTP/1.1 GET on loopback: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// A metric's value from Prometheus text (the first sample whose name and labels start so).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Bodies POSTed to a loopback HTTP server that answers 200.
fn http_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let mut out = &stream;
                    let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                }
            });
        }
    });
    (port, bodies)
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn setuid_bit(file: &Path) {
    std::fs::write(file, b"").expect("create");
    let status = Command::new("chmod")
        .arg("u+s")
        .arg(file)
        .status()
        .expect("chmod");
    assert!(status.success());
}

fn lines_with(path: &Path, needle: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn runs_from_a_config_file_with_every_output_probes_metrics_hup_and_term() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("daemon");
    let (http_port, posted) = http_sink();
    let health = free_port();
    let grpc_tcp = free_port();
    let socket = dir.path("run/sensor.sock");
    let alerts = dir.path("log/alerts.json");
    let rules = dir.path("rules.yaml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/sensor_rules.yaml"),
        &rules,
    )
    .expect("rules");
    let config = dir.path("sensor.yaml");
    std::fs::write(
        &config,
        format!(
            "log:\n  level: info\n  format: json\n\
             rules:\n  files: [{rules}]\n\
             outputs:\n  stdout:\n    enabled: true\n    format: json\n\
             \x20 file:\n    enabled: true\n    path: {alerts}\n\
             \x20 http:\n    enabled: true\n    url: http://127.0.0.1:{http_port}/\n    timeout: 2s\n\
             grpc:\n  socket:\n    path: {socket}\n\
             \x20 tcp:\n    enabled: true\n    address: 127.0.0.1:{grpc_tcp}\n    insecure: true\n\
             health:\n  address: 127.0.0.1:{health}\n",
            rules = rules.display(),
            alerts = alerts.display(),
            socket = socket.display(),
        ),
    )
    .expect("config");
    let check = Command::new(SENSOR)
        .args(["config", "check"])
        .arg(&config)
        .output()
        .expect("config check");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let mut child = Command::new(SENSOR)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sensor run");
    let stdout_lines = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let out = child.stdout.take().expect("stdout");
        let lines = stdout_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    let stderr_lines = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let err = child.stderr.take().expect("stderr");
        let lines = stderr_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }

    // Liveness first, then readiness once the programs are attached.
    wait_until("/healthz", Duration::from_secs(20), || {
        get(health, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    wait_until("/readyz", Duration::from_secs(30), || {
        get(health, "/readyz").is_some_and(|(s, _)| s == 200)
    });
    let socket_mode = std::fs::metadata(&socket).expect("socket").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&socket_mode) & 0o777,
        0o660
    );

    let (_, before) = get(health, "/metrics").expect("metrics");
    let fchmodat = "sensor_events_total{type=\"fchmodat\"}";
    let alert_metric =
        "sensor_alerts_total{rule=\"Setuid or Setgid Bit Set on a File\",priority=\"Notice\"}";
    let chmods_before = metric(&before, fchmodat).unwrap_or(0.0);
    let alerts_before = metric(&before, alert_metric).unwrap_or(0.0);
    for name in [
        "sensor_events_lost_total",
        "sensor_rule_evaluation_seconds_bucket",
        "sensor_grpc_subscribers",
        "sensor_rules_loaded",
        "sensor_rules_reload_failures_total",
        "sensor_output_alerts_total{output=\"http\"",
        "sensor_pipeline_seconds_since_progress",
        "process_resident_memory_bytes",
    ] {
        assert!(
            before.contains(name),
            "{name} missing from /metrics:\n{before}"
        );
    }

    // An alert reaches stdout, the file and the HTTP receiver; the metrics move.
    let first = dir.path("first-setuid");
    setuid_bit(&first);
    let marker = first.display().to_string();
    wait_until("the alert on every output", Duration::from_secs(10), || {
        !lines_with(&alerts, &marker).is_empty()
            && posted.lock().unwrap().iter().any(|b| b.contains(&marker))
            && stdout_lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(&marker))
    });
    let posted_alert: serde_json::Value = posted
        .lock()
        .unwrap()
        .iter()
        .find(|b| b.contains(&marker))
        .and_then(|b| serde_json::from_str(b).ok())
        .expect("Falco JSON posted");
    assert_eq!(posted_alert["rule"], "Setuid or Setgid Bit Set on a File");
    wait_until("metrics to move", Duration::from_secs(5), || {
        let (_, now) = get(health, "/metrics").expect("metrics");
        metric(&now, fchmodat).unwrap_or(0.0) > chmods_before
            && metric(&now, alert_metric).unwrap_or(0.0) > alerts_before
    });

    // SIGHUP: rules reloaded (counted), the alerts file reopened: after logrotate moves it,
    // the next alert lands in a new file at the configured path.
    let rotated = dir.path("log/alerts.json.1");
    std::fs::rename(&alerts, &rotated).expect("rotate");
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    wait_until("the reload to be counted", Duration::from_secs(10), || {
        let (_, now) = get(health, "/metrics").expect("metrics");
        metric(&now, "sensor_rules_reloads_total").unwrap_or(0.0) >= 1.0
    });
    let second = dir.path("second-setuid");
    setuid_bit(&second);
    let marker2 = second.display().to_string();
    wait_until(
        "the alert in the reopened file",
        Duration::from_secs(10),
        || !lines_with(&alerts, &marker2).is_empty(),
    );
    assert!(lines_with(&rotated, &marker2).is_empty());
    assert_eq!(lines_with(&rotated, &marker).len(), 1);

    // SIGTERM: a subscriber gets its Goodbye, the sensor exits 0 with its summary, the
    // socket is gone and the outputs were flushed.
    let subscriber = Command::new(SENSOR)
        .args(["alerts", "--socket"])
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sensor alerts");
    wait_until("the subscriber", Duration::from_secs(10), || {
        let (_, now) = get(health, "/metrics").expect("metrics");
        metric(&now, "sensor_grpc_subscribers").unwrap_or(0.0) >= 1.0
    });
    let third = dir.path("third-setuid");
    setuid_bit(&third);
    let marker3 = third.display().to_string();
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit status {status}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "shutdown took {:?}",
        started.elapsed()
    );
    let sub = subscriber.wait_with_output().expect("subscriber");
    let said = String::from_utf8_lossy(&sub.stderr);
    assert!(sub.status.success(), "{said}");
    assert!(
        said.contains("closed the stream: the sensor is stopping"),
        "{said}"
    );
    assert!(!socket.exists(), "the socket is removed at exit");
    // The alert raised just before SIGTERM was drained and flushed, not lost.
    assert_eq!(lines_with(&alerts, &marker3).len(), 1);
    assert!(posted.lock().unwrap().iter().any(|b| b.contains(&marker3)));
    std::thread::sleep(Duration::from_millis(200));
    let stderr = stderr_lines.lock().unwrap().join("\n");
    assert!(stderr.contains("sensor summary:"), "{stderr}");
    assert!(stderr.contains("rules reloads 1 (failed 0)"), "{stderr}");
    // log.format: json — the log lines are JSON objects.
    let log_line = stderr
        .lines()
        .find(|l| l.contains("eBPF programs attached"))
        .expect("attach log line");
    let log: serde_json::Value = serde_json::from_str(log_line).expect("a JSON log line");
    assert_eq!(log["level"], "INFO");
}

#[test]
fn config_check_names_the_location_of_each_problem() {
    let dir = TempDir::new("config-check");
    let check = |name: &str, text: &str| -> String {
        let path = dir.path(name);
        std::fs::write(&path, text).expect("write");
        let out = Command::new(SENSOR)
            .args(["config", "check"])
            .arg(&path)
            .output()
            .expect("config check");
        assert!(!out.status.success(), "{name} accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let unknown = check(
        "unknown.yaml",
        "outputs:\n  stdout:\n    enabled: true\n    colour: red\n",
    );
    assert!(unknown.contains("unknown.yaml:4:5: error: "), "{unknown}");
    assert!(unknown.contains("unknown field `colour`"), "{unknown}");

    let wrong = check("wrong.yaml", "grpc:\n  subscriber_queue: many\n");
    assert!(wrong.contains("wrong.yaml:2:"), "{wrong}");
    assert!(wrong.contains("invalid type"), "{wrong}");

    let tls = check(
        "tls.yaml",
        "grpc:\n  tcp:\n    enabled: true\n    tls:\n      ca: /nonexistent/ca.crt\n      cert: /nonexistent/tls.crt\n      key: /nonexistent/tls.key\n",
    );
    assert!(
        tls.contains("tls.yaml:5:11: error: grpc.tcp.tls.ca: cannot read /nonexistent/ca.crt"),
        "{tls}"
    );
    assert!(
        tls.contains("tls.yaml:6:13: error: grpc.tcp.tls.cert"),
        "{tls}"
    );
    assert!(
        tls.contains("tls.yaml:7:12: error: grpc.tcp.tls.key"),
        "{tls}"
    );

    // The documented defaults pass.
    let ok = Command::new(SENSOR)
        .args(["config", "check"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/sensor.yaml"))
        .output()
        .expect("config check");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// The health port faces the pod network: a flood of idle, half-sent and oversized requests
/// (bounded, loopback only) must neither grow the sensor's memory past its bound nor keep
/// the kubelet's probe out.
#[test]
fn health_port_answers_through_a_connection_flood() {
    if !privileged() {
        return;
    }
    // Enough descriptors for the flood in this test process.
    let limit = libc::rlimit {
        rlim_cur: 8192,
        rlim_max: 8192,
    };
    // SAFETY: a valid rlimit struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };

    let health = free_port();
    let mut child = Command::new(SENSOR)
        .args(["run", "--no-grpc-socket", "--health-addr"])
        .arg(format!("127.0.0.1:{health}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sensor run");
    wait_until("/readyz", Duration::from_secs(60), || {
        get(health, "/readyz").is_some_and(|(s, _)| s == 200)
    });
    let before = common::status_kib(child.id(), "VmRSS");

    const ROUNDS: usize = 3;
    const PER_ROUND: usize = 1500;
    let mut worst = Duration::ZERO;
    for round in 0..ROUNDS {
        let mut held = Vec::with_capacity(PER_ROUND);
        for i in 0..PER_ROUND {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", health)) else {
                continue;
            };
            match i % 3 {
                // Idle: connects and says nothing.
                0 => {}
                // Slowloris: a request whose headers never end.
                1 => {
                    let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                }
                // Oversized: headers past any sane size.
                _ => {
                    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nX-Big: ");
                    let _ = stream.write_all(&vec![b'a'; 64 * 1024]);
                }
            }
            held.push(stream);
        }
        // The probe, with the flood still connected.
        let asked = Instant::now();
        let answer = get(health, "/healthz");
        let took = asked.elapsed();
        worst = worst.max(took);
        assert_eq!(
            answer.map(|(s, _)| s),
            Some(200),
            "round {round}: /healthz did not answer through the flood"
        );
        assert!(
            took < Duration::from_secs(2),
            "round {round}: /healthz took {took:?}"
        );
        drop(held);
    }
    let after = common::status_kib(child.id(), "VmRSS");
    eprintln!(
        "health flood: {} connections in {ROUNDS} rounds; RSS {before} KiB -> {after} KiB; slowest /healthz {worst:?}",
        ROUNDS * PER_ROUND
    );
    // 64 connections with 8 KiB buffers and their tasks: a few MiB at most, whatever the flood.
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB under the flood"
    );
    assert_eq!(get(health, "/healthz").map(|(s, _)| s), Some(200));
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}
