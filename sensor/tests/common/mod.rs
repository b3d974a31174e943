//! A shared `sensor events --json` for a test binary, and helpers to wait for the events of
//! the processes a test starts. The sensor sees every process on the machine; this keeps only
//! the events of this test binary's descendants, found through their fork events.

#![allow(dead_code)]

pub mod apiserver;
pub mod daemon;
pub mod grpcio;
pub mod tls;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const SENSOR: &str = env!("CARGO_BIN_EXE_sensor");

/// Whether the eBPF tests can run here. With CI=true they must: a CI run without root fails
/// instead of skipping.
pub fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if !root {
        assert!(
            !ci,
            "CI=true: eBPF integration tests need root and must not be skipped"
        );
        eprintln!("skipping: eBPF integration tests need root");
    }
    root
}

#[derive(Default)]
struct Seen {
    events: Vec<Value>,
    ours: HashSet<u64>,
}

pub struct Sensor {
    seen: Arc<(Mutex<Seen>, Condvar)>,
    _child: Child,
    /// The sensor's stderr so far, line by line.
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    /// Started through a wrapper (`events_under`), which is stopped with SIGKILL and passes a
    /// SIGTERM on to the sensor (`unshare --kill-child=SIGTERM` ignores SIGTERM itself).
    wrapped: bool,
}

fn field_u64(event: &Value, key: &str) -> Option<u64> {
    event.get(key).and_then(Value::as_u64)
}

impl Sensor {
    /// The test binary's `sensor events --json`, started on first use and left running until
    /// the binary exits.
    pub fn shared() -> &'static Sensor {
        static SENSOR_PROCESS: OnceLock<Sensor> = OnceLock::new();
        SENSOR_PROCESS.get_or_init(|| Sensor::start(&["events", "--json"], false).stopped_at_exit())
    }

    /// The test binary's `sensor run --json` with the default rules: its lines are alerts, all
    /// kept (tests pick theirs by `output_fields["proc.pid"]`).
    pub fn shared_alerts() -> &'static Sensor {
        static SENSOR_PROCESS: OnceLock<Sensor> = OnceLock::new();
        SENSOR_PROCESS.get_or_init(|| {
            Sensor::start(&["run", "--json", "--no-grpc-socket", "--no-health"], true)
                .stopped_at_exit()
        })
    }

    /// For a sensor kept in a static (never dropped): stops it (SIGTERM) when the test binary
    /// exits. Left running, a `sensor run` that has nothing to print never learns that its
    /// reader is gone, and an orphaned sensor holding and continuing 32-bit processes races
    /// the next test binary's own (README, *32-bit processes*).
    pub fn stopped_at_exit(self) -> Self {
        static PIDS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
        static REGISTER: std::sync::Once = std::sync::Once::new();
        extern "C" fn stop_all() {
            let pids = PIDS.lock().map(|p| p.clone()).unwrap_or_default();
            for pid in pids {
                // SAFETY: signalling children this binary started, by pid; they are not reaped
                // before exit, so the pid is still theirs.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        if let Ok(mut pids) = PIDS.lock() {
            pids.push(self._child.id() as i32);
        }
        // SAFETY: registers a plain function with no preconditions.
        REGISTER.call_once(|| unsafe {
            libc::atexit(stop_all);
        });
        self
    }

    /// A `sensor run --json` of the caller's own (no gRPC socket, no health port) with
    /// extra arguments, e.g. `--rules falco-stable`: its lines are alerts, all kept. Stopped
    /// when dropped.
    pub fn alerts_with(extra: &[&str]) -> Sensor {
        let mut args = vec!["run", "--json", "--no-grpc-socket", "--no-health"];
        args.extend_from_slice(extra);
        Sensor::start(&args, true)
    }

    /// A `sensor events --json` of the caller's own, with extra arguments; it keeps the
    /// events of this test binary's descendants, and is stopped when dropped.
    pub fn events_with(extra: &[&str]) -> Sensor {
        let mut args = vec!["events", "--json"];
        args.extend_from_slice(extra);
        Sensor::start(&args, false)
    }

    /// A `sensor run --json` (no gRPC socket, no health port) with extra arguments, started
    /// through `wrapper` as [`Sensor::events_under`]; its lines are alerts, all kept.
    pub fn alerts_under(wrapper: &[&str], extra: &[&str]) -> Sensor {
        let mut args = vec!["run", "--json", "--no-grpc-socket", "--no-health"];
        args.extend_from_slice(extra);
        Sensor::spawn(wrapper, &args, true)
    }

    /// `sensor events --json` started through `wrapper` (e.g. `unshare --pid --fork
    /// --kill-child=SIGTERM --`), which must run the sensor with the arguments after it and
    /// send it SIGTERM when it is killed itself.
    pub fn events_under(wrapper: &[&str], extra: &[&str]) -> Sensor {
        let mut args = vec!["events", "--json"];
        args.extend_from_slice(extra);
        Sensor::spawn(wrapper, &args, false)
    }

    fn start(args: &[&str], keep_all: bool) -> Sensor {
        Sensor::spawn(&[], args, keep_all)
    }

    fn spawn(wrapper: &[&str], args: &[&str], keep_all: bool) -> Sensor {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(SENSOR);
                c
            }
            None => Command::new(SENSOR),
        };
        let mut child = command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sensor");
        let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
        seen.0
            .lock()
            .unwrap()
            .ours
            .insert(std::process::id() as u64);

        let stdout = child.stdout.take().unwrap();
        let seen_out = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("sensor printed invalid JSON ({e}): {line}"));
                let (lock, cvar) = &*seen_out;
                let mut seen = lock.lock().unwrap();
                if keep_all {
                    seen.events.push(event);
                    cvar.notify_all();
                    continue;
                }
                let pid = field_u64(&event, "proc.pid").unwrap_or(0);
                let ppid = field_u64(&event, "proc.ppid").unwrap_or(0);
                if seen.ours.contains(&ppid) {
                    seen.ours.insert(pid);
                }
                if !seen.ours.contains(&pid) {
                    continue;
                }
                if event["evt.type"] == "clone" {
                    if let Some(child) = field_u64(&event, "evt.arg.pid") {
                        seen.ours.insert(child);
                    }
                }
                seen.events.push(event);
                cvar.notify_all();
            }
        });

        // Wait for the attach message so no test acts before the programs are in place.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr_lines = lines.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[sensor] {line}");
                if line.contains("eBPF programs attached") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
                stderr_lines.lock().unwrap().push(line);
            }
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("sensor did not attach within 60 s");
        Sensor {
            seen,
            _child: child,
            stderr: lines,
            stderr_reader: Some(stderr_reader),
            wrapped: !wrapper.is_empty(),
        }
    }

    /// Stops a sensor the test owns (SIGTERM) and returns the summary line it printed on
    /// exit (`sensor summary: ... lost N (...)`).
    pub fn stop_for_summary(self) -> String {
        self.stop_for_stderr()
            .into_iter()
            .find(|l| l.contains("sensor summary:"))
            .expect("the sensor printed no summary line at exit")
    }

    /// Stops a sensor the test owns (SIGTERM) and returns everything it wrote to stderr.
    pub fn stop_for_stderr(mut self) -> Vec<String> {
        self.stop();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        self.stderr_lines()
    }

    /// What the sensor has written to stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The process `events_under` started (the wrapper, not the sensor inside it).
    pub fn child_pid(&self) -> u32 {
        self._child.id()
    }

    /// The sensor process's pid (for its memory figures).
    pub fn pid(&self) -> u32 {
        self._child.id()
    }

    /// Waits up to 10 s for an event matching `pred`.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (lock, cvar) = &*self.seen;
        let mut seen = lock.lock().unwrap();
        loop {
            if let Some(e) = seen.events.iter().find(|e| pred(e)) {
                return e.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let pids: Vec<String> = seen
                    .events
                    .iter()
                    .rev()
                    .take(20)
                    .map(|e| format!("{} {} {}", e["proc.pid"], e["evt.type"], e["proc.cmdline"]))
                    .collect();
                panic!(
                    "no event for {what} within 10 s; last events of our processes:\n{}",
                    pids.join("\n")
                );
            }
            seen = cvar.wait_timeout(seen, deadline - now).unwrap().0;
        }
    }

    /// Every event of process `pid` seen so far.
    pub fn events_of(&self, pid: u32) -> Vec<Value> {
        let seen = self.seen.0.lock().unwrap();
        seen.events
            .iter()
            .filter(|e| field_u64(e, "proc.pid") == Some(pid as u64))
            .cloned()
            .collect()
    }

    /// Waits for the event of `evt_type` from process `pid`.
    pub fn event_of(&self, pid: u32, evt_type: &str) -> Value {
        self.wait_for(&format!("{evt_type} from pid {pid}"), |e| {
            field_u64(e, "proc.pid") == Some(pid as u64) && e["evt.type"] == evt_type
        })
    }
}

/// Runs a command to completion and returns its pid; panics if it fails to start.
pub fn run(cmd: &mut Command) -> (u32, std::process::ExitStatus) {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    let status = child.wait().expect("wait");
    (pid, status)
}

/// Runs a Python snippet; returns its pid and stdout.
pub fn python(code: &str) -> (u32, String) {
    let child = Command::new("python3")
        .args(["-c", code])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let pid = child.id();
    let out = child.wait_with_output().expect("python3 output");
    assert!(out.status.success(), "python failed: {code}");
    (pid, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A fresh scratch directory under /tmp, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("sensor-test-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A cgroup on the unified (v2) hierarchy, named like a container runtime's, removed on drop
/// (after the processes in it have exited).
pub struct Cgroup(pub std::path::PathBuf);

impl Cgroup {
    /// Creates `<cgroup2 mount>/<relative>`.
    pub fn create(relative: &str) -> Self {
        let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
        let root = mounts
            .lines()
            .find_map(|l| {
                let mut f = l.split_whitespace();
                let (_, dir, fstype) = (f.next()?, f.next()?, f.next()?);
                (fstype == "cgroup2").then(|| dir.to_string())
            })
            .expect("a cgroup2 mount");
        let path = std::path::Path::new(&root).join(relative);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Self(path)
    }

    /// Its cgroup v2 id (the directory's inode number), as the recorder keys it.
    pub fn id(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&self.0).unwrap().ino()
    }

    /// A shell command prefix that moves the shell into this cgroup.
    pub fn enter_command(&self) -> String {
        format!("echo $$ > {}/cgroup.procs", self.0.display())
    }
}

/// A cgroup named like a containerd container's (`cri-containerd-<64 hex>.scope`), unique to
/// this test process and `tag` (at most 4 hex digits: the id must stay hex), so the sensor
/// takes its processes for a container's.
pub fn containerd_cgroup(tag: &str) -> Cgroup {
    let id = format!(
        "c0de{:08x}{:0>4}{}",
        std::process::id(),
        tag,
        "ab12cd34".repeat(6)
    );
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    Cgroup::create(&format!(
        "sensor-test-{}-{tag}.slice/cri-containerd-{id}.scope",
        std::process::id()
    ))
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Remove leaf first, then the parents this test created (empty ones only).
        let mut dir = Some(self.0.as_path());
        while let Some(d) = dir {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent().filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("sensor-test"))
            });
        }
    }
}

impl Sensor {
    /// Every line kept so far (for a sensor that keeps all: its alerts).
    pub fn alerts(&self) -> Vec<Value> {
        self.seen.0.lock().unwrap().events.clone()
    }

    /// Alerts raised for process `pid` so far (for `shared_alerts`).
    pub fn alerts_of(&self, pid: u32) -> Vec<Value> {
        let seen = self.seen.0.lock().unwrap();
        seen.events
            .iter()
            .filter(|a| a["output_fields"]["proc.pid"] == pid)
            .cloned()
            .collect()
    }

    /// Waits for an alert of `rule` raised for process `pid`.
    pub fn alert_of(&self, pid: u32, rule: &str) -> Value {
        self.wait_for(&format!("alert `{rule}` for pid {pid}"), |a| {
            a["rule"] == rule && a["output_fields"]["proc.pid"] == pid
        })
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        // Only sensors a test owns are dropped (the shared ones live in statics). One already
        // stopped and reaped is not signalled again: its pid may be someone else's by now.
        if matches!(self._child.try_wait(), Ok(Some(_))) {
            return;
        }
        self.stop();
    }
}

impl Sensor {
    fn stop(&mut self) {
        let signal = if self.wrapped {
            libc::SIGKILL
        } else {
            libc::SIGTERM
        };
        // SAFETY: signalling the child we started, by pid.
        unsafe { libc::kill(self._child.id() as i32, signal) };
        let _ = self._child.wait();
    }
}

/// Runs `cmd` to completion with no stdin, shows its stderr in the test log, returns it all.
pub fn output(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    eprintln!("{cmd:?} stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The syscall names an OCI seccomp profile (as `sensor record` writes it) allows.
pub fn allowed_syscalls(profile: &std::path::Path) -> Vec<String> {
    let json: Value = serde_json::from_str(&std::fs::read_to_string(profile).unwrap()).unwrap();
    json["syscalls"][0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

/// A `kB` figure of /proc/PID/status (`VmRSS`, `VmHWM`, ...); 0 if the process is gone.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// From a summary line's `filtered in the kernel N (type=n ...)`, the count for `evt_type`
/// (0 when the kernel filter dropped none).
pub fn filtered_in_kernel(summary: &str, evt_type: &str) -> u64 {
    let Some(rest) = summary.split("filtered in the kernel").nth(1) else {
        return 0;
    };
    let counts = rest.split(';').next().unwrap_or("");
    counts
        .split([' ', '(', ')'])
        .find_map(|word| word.strip_prefix(&format!("{evt_type}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
