//! Outputs against hostile and broken consumers, on the real kernel: a stdout pipe nobody
//! reads and an HTTP receiver that never answers cost the pipeline nothing (no ring-buffer
//! loss, the file still gets every alert); a NOTICE flood through a small queue never evicts
//! a CRITICAL alert; a ring-buffer overflow (the pipeline stalled on purpose by the debug
//! build's test hook) raises Falco's drop alert on stdout, the file, HTTP and gRPC; and
//! `/healthz` fails while the pipeline is stalled with records pending, and recovers.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{privileged, TempDir, SENSOR};

const DROP_RULE: &str = "Falco internal: syscall event drop";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

type Lines = Arc<Mutex<Vec<String>>>;

/// An HTTP receiver on loopback: with `answer`, it reads each POST and answers 200; without,
/// it accepts connections and never reads nor answers (a stalled receiver).
fn http_receiver(answer: bool) -> (u16, Lines) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let bodies: Lines = Arc::default();
    let seen = bodies.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            if !answer {
                held.push(stream);
                continue;
            }
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

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Collects a child's stream, line by line.
fn collect(stream: impl Read + Send + 'static, echo: bool) -> Lines {
    let lines: Lines = Arc::default();
    let into = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if echo {
                eprintln!("[sensor] {line}");
            }
            into.lock().unwrap().push(line);
        }
    });
    lines
}

fn count(lines: &Lines, needle: &str) -> usize {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle))
        .count()
}

fn file_count(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// A NOTICE rule on chmods of `flood` paths and a CRITICAL one on chmods of `critical` paths.
fn rules(dir: &TempDir, tag: &str) -> std::path::PathBuf {
    let path = dir.path("rules.yaml");
    std::fs::write(
        &path,
        format!(
            "- rule: Flood chmod\n  desc: a flood of low-priority alerts\n  \
             condition: evt.type in (chmod, fchmodat) and evt.arg.filename contains {tag}-flood\n  \
             output: flood chmod (file=%evt.arg.filename)\n  priority: NOTICE\n\
             - rule: Critical chmod\n  desc: the alert that must get through\n  \
             condition: evt.type in (chmod, fchmodat) and evt.arg.filename contains {tag}-critical\n  \
             output: critical chmod (file=%evt.arg.filename)\n  priority: CRITICAL\n"
        ),
    )
    .expect("rules");
    path
}

/// `n` chmods of `path` from a child process, `per_pause` of them between 10 ms pauses
/// (`None`: as fast as it goes).
fn chmod_storm(path: &Path, n: usize, per_pause: Option<usize>) {
    std::fs::write(path, b"").expect("create");
    let code = format!(
        "import os, time\np = {path:?}\nfor i in range({n}):\n    os.chmod(p, 0o600 | (i & 0o44))\n{pause}",
        path = path.display().to_string(),
        pause = match per_pause {
            Some(k) => format!("    if i % {k} == 0: time.sleep(0.01)\n"),
            None => String::new(),
        },
    );
    let status = Command::new("python3")
        .args(["-c", &code])
        .status()
        .expect("python3");
    assert!(status.success());
}

fn stop(mut child: Child) -> std::process::ExitStatus {
    // SAFETY: signalling the sensor this test started, by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "the sensor did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn summary(stderr: &Lines) -> String {
    stderr
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains("sensor summary"))
        .cloned()
        .expect("the summary line")
}

#[test]
fn a_blocked_stdout_and_a_stalled_http_receiver_cost_no_ring_loss() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("outputs-blocked");
    let rules = rules(&dir, "blocked");
    let (http_port, _) = http_receiver(false);
    let alerts = dir.path("alerts.json");
    let mut child = Command::new(SENSOR)
        .args([
            "run",
            "--no-health",
            "--no-grpc-socket",
            "--json",
            "--rules",
        ])
        .arg(&rules)
        .arg("--output-file")
        .arg(&alerts)
        .arg("--output-http")
        .arg(format!("http://127.0.0.1:{http_port}/"))
        // A pipe nobody reads: it fills within a few hundred alerts and stays full.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sensor run");
    let _unread_stdout = child.stdout.take();
    let stderr = collect(child.stderr.take().expect("stderr"), true);
    wait_until("attach", Duration::from_secs(60), || {
        count(&stderr, "eBPF programs attached") > 0
    });
    // A moderate rate: about 20,000 a second, in pauses.
    let n = 20_000;
    let started = Instant::now();
    chmod_storm(&dir.path("blocked-flood"), n, Some(200));
    let rate = n as f64 / started.elapsed().as_secs_f64();
    wait_until(
        "every chmod's alert in the file",
        Duration::from_secs(60),
        || file_count(&alerts, "blocked-flood") >= n,
    );
    let status = stop(child);
    assert!(status.success(), "exit status {status}");
    let line = summary(&stderr);
    eprintln!("figure: {n} chmods at {rate:.0}/s, stdout blocked and HTTP stalled: {line}");
    assert!(line.contains("; lost 0 ("), "{line}");
    // Stdout and HTTP lost alerts to their full queues instead of stalling the pipeline.
    assert!(!line.contains("stdout sent 0 dropped 0"), "{line}");
}

#[test]
fn a_notice_flood_through_a_small_queue_never_evicts_a_critical_alert() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("outputs-priority");
    let rules = rules(&dir, "prio");
    let config = dir.path("sensor.yaml");
    std::fs::write(
        &config,
        format!(
            "rules:\n  files: [{}]\n\
             outputs:\n  stdout:\n    format: json\n    queue: 8\n\
             health:\n  enabled: false\n\
             grpc:\n  socket:\n    enabled: false\n",
            rules.display()
        ),
    )
    .expect("config");
    let mut child = Command::new(SENSOR)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sensor run");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = collect(child.stderr.take().expect("stderr"), true);
    wait_until("attach", Duration::from_secs(60), || {
        count(&stderr, "eBPF programs attached") > 0
    });
    // Stdout is not read yet: the flood fills the pipe, then the 8-alert queue.
    chmod_storm(&dir.path("prio-flood"), 5_000, None);
    chmod_storm(&dir.path("prio-critical"), 1, None);
    chmod_storm(&dir.path("prio-flood"), 5_000, None);
    // Now read slowly, as a slow consumer does.
    let lines: Lines = Arc::default();
    {
        let into = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                into.lock().unwrap().push(line);
                std::thread::sleep(Duration::from_micros(200));
            }
        });
    }
    wait_until("the critical alert", Duration::from_secs(30), || {
        count(&lines, "\"Critical chmod\"") > 0
    });
    let status = stop(child);
    assert!(status.success(), "exit status {status}");
    let line = summary(&stderr);
    let floods = count(&lines, "\"Flood chmod\"");
    assert!(
        floods < 10_000,
        "the flood was not dropped at all ({floods})"
    );
    assert!(line.contains("stdout sent"), "{line}");
    assert!(!line.contains("stdout sent 0 dropped 0"), "{line}");
    assert_eq!(count(&lines, "\"Critical chmod\""), 1);
}

#[test]
fn a_stalled_pipeline_fails_healthz_and_its_ring_overflow_raises_the_drop_alert_everywhere() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("outputs-loss");
    let rules = rules(&dir, "loss");
    let (http_port, posted) = http_receiver(true);
    let health = free_port();
    let socket = dir.path("sensor.sock");
    let alerts = dir.path("alerts.json");
    let stall = dir.path("stall");
    let config = dir.path("sensor.yaml");
    std::fs::write(
        &config,
        format!(
            "rules:\n  files: [{rules}]\n\
             probe:\n  ring_buffer_bytes: 8388608\n\
             outputs:\n  stdout:\n    format: json\n\
             \x20 file:\n    enabled: true\n    path: {alerts}\n\
             \x20 http:\n    enabled: true\n    url: http://127.0.0.1:{http_port}/\n\
             \x20 drop_alert:\n    interval: 1s\n\
             grpc:\n  socket:\n    path: {socket}\n\
             health:\n  address: 127.0.0.1:{health}\n  stall_after: 1s\n",
            rules = rules.display(),
            alerts = alerts.display(),
            socket = socket.display(),
        ),
    )
    .expect("config");
    let mut child = Command::new(SENSOR)
        .args(["run", "--config"])
        .arg(&config)
        .env("SENSOR_TEST_STALL_WHILE", &stall)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sensor run");
    let stdout = collect(child.stdout.take().expect("stdout"), false);
    let stderr = collect(child.stderr.take().expect("stderr"), true);
    wait_until("/readyz", Duration::from_secs(60), || {
        get(health, "/readyz").is_some_and(|(s, _)| s == 200)
    });
    let mut subscriber = Command::new(SENSOR)
        .args(["alerts", "--socket"])
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sensor alerts");
    let grpc = collect(subscriber.stdout.take().expect("subscriber stdout"), false);
    wait_until("the subscriber", Duration::from_secs(10), || {
        get(health, "/metrics").is_some_and(|(_, m)| m.contains("sensor_grpc_subscribers 1"))
    });
    assert_eq!(get(health, "/healthz").map(|(s, _)| s), Some(200));

    // Stall the pipeline and overflow the ring buffer under it.
    std::fs::write(&stall, b"").expect("stall");
    wait_until("the stall hook", Duration::from_secs(10), || {
        count(&stderr, "test hook: the pipeline is stalled") > 0
    });
    chmod_storm(&dir.path("loss-flood"), 200_000, None);
    wait_until("/healthz failing", Duration::from_secs(10), || {
        get(health, "/healthz").is_some_and(|(s, body)| s == 503 && body.contains("no progress"))
    });
    let (_, metrics) = get(health, "/metrics").expect("metrics");
    assert!(
        metrics.contains("sensor_ring_buffer_pending 1"),
        "{metrics}"
    );
    assert!(metrics.contains("sensor_healthy 0"), "{metrics}");
    std::fs::remove_file(&stall).expect("unstall");

    wait_until("/healthz recovering", Duration::from_secs(20), || {
        get(health, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    let limit = Duration::from_secs(30);
    wait_until("the drop alert on stdout", limit, || {
        count(&stdout, DROP_RULE) > 0
    });
    wait_until("the drop alert in the file", limit, || {
        file_count(&alerts, DROP_RULE) > 0
    });
    wait_until("the drop alert over HTTP", limit, || {
        count(&posted, DROP_RULE) > 0
    });
    wait_until("the drop alert over gRPC", limit, || {
        count(&grpc, DROP_RULE) > 0
    });
    let alert: serde_json::Value = serde_json::from_str(
        stdout
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(DROP_RULE))
            .unwrap(),
    )
    .expect("Falco JSON");
    assert_eq!(alert["rule"], DROP_RULE);
    assert_eq!(alert["priority"], "Critical");
    let fields = &alert["output_fields"];
    let n = |key: &str| -> u64 {
        fields[key]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {fields}"))
    };
    assert!(n("n_drops_buffer_total") > 0, "{fields}");
    assert!(n("n_drops") >= n("n_drops_buffer_total"), "{fields}");
    assert!(n("n_evts") > n("n_drops"), "{fields}");

    let _ = subscriber.kill();
    let _ = subscriber.wait();
    let status = stop(child);
    assert!(status.success(), "exit status {status}");
    let line = summary(&stderr);
    assert!(line.contains("drop alerts"), "{line}");
}
