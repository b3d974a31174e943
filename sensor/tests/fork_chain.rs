//! A 300,000-deep fork-then-parent-exits chain (`data/fork_chain.c`), which any unprivileged
//! user can run: every process has an ancestry as deep as the chain so far. The sensor kept
//! it whole once (138 MB, then a stack overflow dropping it); now it must survive the chain,
//! keep its peak RSS under the DaemonSet's memory limit, and report a fresh process's event
//! right after.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{privileged, TempDir, SENSOR};
use serde_json::Value;

/// The bar for the sensor's peak: 256 MiB, the DaemonSet's memory limit before the
/// memory benchmark sized it (320 Mi, deploy/base/daemonset.yaml), stricter than that.
const MEMORY_LIMIT_KIB: u64 = 256 * 1024;
/// The chain's depth, as measured in issue 13.
const LINKS: u64 = 300_000;

fn build_chain(dir: &TempDir) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fork_chain.c");
    let binary = dir.path("fork_chain");
    let out = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("cc (Debian's gcc, installed by cargo xtask setup)");
    assert!(
        out.status.success(),
        "cc {}: {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

/// What the sensor printed: only lines naming `marker` are kept (the chain alone makes
/// 600,000 events; keeping them would measure this test, not the sensor).
#[derive(Default)]
struct Output {
    lines: u64,
    marked: Vec<Value>,
    closed: bool,
}

/// `sensor events --json`, its stdout scanned for `marker` and its stderr echoed.
struct Events {
    child: Child,
    out: Arc<(Mutex<Output>, Condvar)>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Events {
    fn start(marker: String) -> Events {
        let mut child = Command::new(SENSOR)
            .args(["events", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sensor");
        let out = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        let stdout = child.stdout.take().expect("stdout");
        let seen = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (lock, cvar) = &*seen;
                let mut o = lock.lock().unwrap();
                o.lines += 1;
                if line.contains(&marker) {
                    o.marked
                        .push(serde_json::from_str(&line).expect("JSON line"));
                    cvar.notify_all();
                }
            }
            let (lock, cvar) = &*seen;
            lock.lock().unwrap().closed = true;
            cvar.notify_all();
        });
        let stderr_pipe = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let (attached_tx, attached_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut attached = Some(attached_tx);
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                eprintln!("[sensor] {line}");
                if line.contains("eBPF programs attached") {
                    if let Some(tx) = attached.take() {
                        let _ = tx.send(());
                    }
                }
                lines.lock().unwrap().push(line);
            }
        });
        attached_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("sensor did not attach within 60 s");
        Events { child, out, stderr }
    }

    /// Waits up to `within` for a line naming the marker that `pred` accepts.
    fn wait_marked(&self, within: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + within;
        let (lock, cvar) = &*self.out;
        let mut o = lock.lock().unwrap();
        loop {
            if let Some(v) = o.marked.iter().find(|v| pred(v)) {
                return Some(v.clone());
            }
            let now = Instant::now();
            if now >= deadline || o.closed {
                return None;
            }
            o = cvar.wait_timeout(o, deadline - now).unwrap().0;
        }
    }

    fn lines(&self) -> u64 {
        self.out.0.lock().unwrap().lines
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        // Signalled only while not reaped (a reaped pid may be someone else's by now).
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        common::daemon::sigterm(&self.child);
        if common::daemon::wait_timeout(&mut self.child, Duration::from_secs(20)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn a_300000_deep_fork_chain_neither_kills_nor_fills_the_sensor() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("fork-chain");
    let chain = build_chain(&dir);
    let marker = format!("sensor-fork-chain-{}", std::process::id());
    let sensor = Events::start(marker.clone());
    let sensor_pid = sensor.child.id();
    let before = common::status_kib(sensor_pid, "VmHWM");

    let started = Instant::now();
    let out = Command::new(&chain)
        .arg(LINKS.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run fork_chain");
    let took = started.elapsed();
    assert!(out.status.success(), "fork_chain: {}", out.status);
    let last: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("fork_chain prints its last link's pid");
    eprintln!("{LINKS} links in {took:?} (last link pid {last})");

    // The sensor lived through it, and a process started now is reported.
    let mut sensor_child = sensor;
    assert!(
        sensor_child.child.try_wait().expect("try_wait").is_none(),
        "the sensor died during the chain; stderr:\n{}",
        sensor_child.stderr.lock().unwrap().join("\n")
    );
    let file = dir.path(&marker);
    std::fs::write(&file, b"x").unwrap();
    let asked = Instant::now();
    let (chmod, status) = common::run(Command::new("chmod").arg("600").arg(&file));
    assert!(status.success());
    // The pipeline may still be working through the chain's backlog in the ring buffer.
    let seen = sensor_child.wait_marked(Duration::from_secs(60), |e| {
        e["proc.pid"] == chmod && e["evt.type"] == "fchmodat"
    });
    let reported_after = asked.elapsed();
    let peak = common::status_kib(sensor_child.child.id(), "VmHWM");
    let lines = sensor_child.lines();
    let seen = seen.unwrap_or_else(|| {
        panic!(
            "no fchmodat of pid {chmod} within 60 s after the chain ({lines} lines printed); \
             stderr:\n{}",
            sensor_child.stderr.lock().unwrap().join("\n")
        )
    });
    assert_eq!(seen["proc.name"], "chmod", "{seen}");
    eprintln!(
        "fresh chmod reported {reported_after:?} after it ran; sensor peak RSS {peak} KiB \
         (before the chain {before} KiB); {lines} events printed"
    );
    assert!(
        peak < MEMORY_LIMIT_KIB,
        "the sensor's peak RSS is {peak} KiB, over the DaemonSet's limit of {MEMORY_LIMIT_KIB} KiB"
    );
    common::daemon::sigterm(&sensor_child.child);
    let status = common::daemon::wait_timeout(&mut sensor_child.child, Duration::from_secs(20));
    assert!(
        status.is_some(),
        "the sensor did not stop on SIGTERM within 20 s"
    );
    std::thread::sleep(Duration::from_millis(200));
    let stderr = sensor_child.stderr.lock().unwrap().clone();
    if let Some(summary) = stderr.iter().find(|l| l.contains("sensor summary:")) {
        eprintln!("{summary}");
    }
}
