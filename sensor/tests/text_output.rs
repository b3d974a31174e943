//! The text outputs carry strings the observed process chose: an argument with a newline must
//! not forge a second alert line, and an escape sequence must not reach the operator's
//! terminal. Tested on the real sensor's stdout text line and on `sensor alerts` (gRPC)
//! without `--json`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{privileged, run, TempDir, SENSOR};

/// What the attacker puts in the file name: a forged line and "clear the screen".
const HOSTILE: &str = "x\nFORGED: Critical all clear\u{1b}[2J";

/// Kills the child when dropped, so a failing assertion leaves no sensor behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Forwards every stdout line of `child` to a channel.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if tx
                .send(String::from_utf8_lossy(&line).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    rx
}

/// Waits until `child`'s stderr shows `marker`, passing stderr through for the log.
fn wait_stderr(child: &mut Child, marker: &'static str) {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[sensor] {line}");
            if line.contains(marker) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no `{marker}` from the sensor within 60 s"));
}

/// Every line received within `timeout` after the first that mentions `pid=<pid>`.
fn lines_about(rx: &mpsc::Receiver<String>, pid: u32, timeout: Duration) -> Vec<String> {
    let needle = format!("pid={pid} ");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let ours = line.contains(&needle);
                if ours || !got.is_empty() {
                    got.push(line);
                }
                if ours {
                    // Whatever a forged line would be arrives right behind.
                    std::thread::sleep(Duration::from_millis(300));
                    got.extend(rx.try_iter());
                    break;
                }
            }
            Err(_) => break,
        }
    }
    got
}

fn assert_one_escaped_line(lines: &[String], pid: u32) {
    let ours: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(&format!("pid={pid} ")))
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "expected one alert line for pid {pid}: {lines:#?}"
    );
    let line = ours[0];
    assert!(line.contains("x\\nFORGED"), "newline not escaped: {line}");
    assert!(line.contains("\\x1b[2J"), "ESC not escaped: {line}");
    for l in lines {
        assert!(
            !l.starts_with("FORGED"),
            "a forged line got through: {lines:#?}"
        );
        assert!(!l.contains('\u{1b}'), "a raw ESC got through: {l:?}");
    }
}

#[test]
fn hostile_argv_prints_one_escaped_line() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("text-output");
    let socket = dir.path("sensor.sock");
    let mut sensor = Killed(
        Command::new(SENSOR)
            .args(["run", "--no-health", "--grpc-socket"])
            .arg(&socket)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sensor"),
    );
    let stdout = lines(&mut sensor.0);
    wait_stderr(&mut sensor.0, "eBPF programs attached");

    let mut alerts = Killed(
        Command::new(SENSOR)
            .args(["alerts", "--socket"])
            .arg(&socket)
            .args(["--rule", "Setuid or Setgid Bit Set on a File"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sensor alerts"),
    );
    let client = lines(&mut alerts.0);
    // The subscription is in place once the sensor's Status lists a subscriber.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = Command::new(SENSOR)
            .args(["status", "--socket"])
            .arg(&socket)
            .output()
            .expect("sensor status");
        if String::from_utf8_lossy(&status.stdout).contains("sensor-alerts") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "subscriber never showed in status"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let file = dir.path(HOSTILE);
    std::fs::write(&file, b"x").expect("create the hostile file");
    let (pid, status) = run(Command::new("chmod").arg("u+s").arg(&file));
    assert!(status.success());

    let printed = lines_about(&stdout, pid, Duration::from_secs(10));
    assert_one_escaped_line(&printed, pid);
    let received = lines_about(&client, pid, Duration::from_secs(10));
    assert_one_escaped_line(&received, pid);
}
