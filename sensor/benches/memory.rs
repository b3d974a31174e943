//! Peak memory of the agent's bounded structures under hostile load, the figures the
//! DaemonSet's memory request and limit are set from. Run through `cargo xtask bench` (or
//! `cargo bench -p sensor --bench memory`), as root for the subscribers case.
//!
//! - table: 1,000,000 processes' worth of fork events (none exits) decoded and applied to
//!   the process table, at its bound (`MAX_PROCESSES`) and, for comparison, with room for
//!   every one of them.
//! - recording: a recorded workload chmod'ing 1,000,000 distinct paths, observed by a
//!   recording at its bound (`MAX_OBSERVED_PATHS`) and, for comparison, the same paths in a
//!   plain set.
//! - subscribers: the release `sensor run` with 1,000 gRPC subscribers on its Unix socket
//!   while alerts flow at a paced rate: the sensor's peak RSS before and after they connect.
//!
//! The in-process cases each run in a child process of this benchmark, so that each peak
//! (VmHWM, from /proc/self/status) is that case's alone; a case's figure is its peak less the
//! child's RSS before it built anything.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sensor::enrich::process_table::MAX_PROCESSES;
use sensor::enrich::ProcessTable;
use sensor::probe::decode::{encode, header, Decoder};
use sensor::profile::recording::{MAX_OBSERVED_BYTES, MAX_OBSERVED_PATHS};
use sensor::profile::AppArmorObservations;
use sensor::sinks::grpc::client::{connect, Target};
use sensor_api::v1 as api;
use sensor_common::RecordKind;

const PROCESSES: u32 = 1_000_000;
const PATHS: u32 = 1_000_000;
/// The figure, and `grpc.limits.max_subscribers`' default.
const SUBSCRIBERS: [usize; 2] = [1_000, 128];
/// Pids above the kernel's largest `pid_max`, so that no /proc entry answers for them.
const FIRST_PID: u32 = 5_000_000;
const RULE: &str = "Bench Memory Alert";
const PREFIX: &str = "/tmp/sensor-bench-memory";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        let case = args.get(i + 1).map(String::as_str).unwrap_or_default();
        run_case(case);
        return;
    }
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rate = arg("--rate", 1_000);
    let seconds = arg("--seconds", 5);

    println!("memory: peak RSS of the agent's bounded structures (MiB above the process's start)");
    println!("| case | bound | held | peak RSS MiB | ns per event |");
    println!("|---|---|---|---|---|");
    for case in [
        "table",
        "table-unbounded",
        "recording",
        "recording-unbounded",
    ] {
        let out = Command::new(std::env::current_exe().expect("own path"))
            .args(["--case", case])
            .stderr(Stdio::inherit())
            .output()
            .expect("run a case");
        assert!(out.status.success(), "case {case}: {}", out.status);
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("subscribers: skipped (loads eBPF programs: run as root)");
        return;
    }
    for n in SUBSCRIBERS {
        subscribers(n, rate, seconds);
    }
}

fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn run_case(case: &str) {
    let start = status_kib("self", "VmRSS");
    let row = |bound: String, held: usize, ns: f64| {
        let peak = status_kib("self", "VmHWM").saturating_sub(start);
        println!("| {case} | {bound} | {held} | {:.1} | {ns:.0} |", mib(peak));
    };
    match case {
        "table" | "table-unbounded" => {
            let capacity = if case == "table" {
                MAX_PROCESSES
            } else {
                PROCESSES as usize + 1
            };
            let mut table = ProcessTable::with_capacity(capacity);
            let mut decoder = Decoder::new();
            // Every child is a copy of this process (its argv, executable and working
            // directory: a few hundred bytes of strings), as a fork's child is.
            let parent = std::process::id();
            let began = Instant::now();
            for i in 0..PROCESSES {
                let mut h = header(RecordKind::Fork, parent, u64::from(i));
                h.args[0] = u64::from(FIRST_PID + i);
                let mut event = decoder.decode(&encode(h, &[])).expect("a fork event");
                table.enrich(&mut event);
            }
            let ns = began.elapsed().as_nanos() as f64 / f64::from(PROCESSES);
            row(format!("{capacity} processes"), table.len(), ns);
            std::hint::black_box(&table);
        }
        "recording" => {
            let mut observations = AppArmorObservations::default();
            let mut decoder = Decoder::new();
            let nr = sensor::probe::syscalls::by_name("fchmodat")
                .and_then(|s| s.nr())
                .expect("fchmodat");
            let began = Instant::now();
            for i in 0..PATHS {
                let mut h = header(RecordKind::Syscall, FIRST_PID, u64::from(i));
                h.syscall_nr = nr;
                let path = path_of(i);
                let event = decoder
                    .decode(&encode(h, &[path.as_bytes()]))
                    .expect("a chmod event");
                observations.observe(&event);
            }
            let ns = began.elapsed().as_nanos() as f64 / f64::from(PATHS);
            assert_eq!(observations.paths(), MAX_OBSERVED_PATHS);
            assert!(observations.dropped > 0);
            row(
                format!(
                    "{MAX_OBSERVED_PATHS} paths / {} MiB",
                    MAX_OBSERVED_BYTES >> 20
                ),
                observations.paths(),
                ns,
            );
            std::hint::black_box(&observations);
        }
        "recording-unbounded" => {
            let began = Instant::now();
            let set: BTreeSet<String> = (0..PATHS).map(path_of).collect();
            let ns = began.elapsed().as_nanos() as f64 / f64::from(PATHS);
            row("none (a plain set)".into(), set.len(), ns);
            std::hint::black_box(&set);
        }
        other => panic!("unknown case {other}"),
    }
}

/// A distinct path of the shape a workload writes (`/var/lib/app/cache/3f/...`).
fn path_of(i: u32) -> String {
    format!("/var/lib/app/cache/{:02x}/object-{i:08}.tmp", i % 256)
}

/// `count` subscribers on the release sensor's socket, alerts at `rate` a second for
/// `seconds`.
fn subscribers(count: usize, rate: u64, seconds: u64) {
    let dir = PathBuf::from(format!("{PREFIX}-{}-{count}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let mut sensor = Sensor::start(&dir, count);
    let pid = sensor.pid.to_string();
    let idle_hwm = status_kib(&pid, "VmHWM");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let target = Target::Socket(sensor.socket.clone());
    let file = dir.join("target");
    std::fs::write(&file, b"x").expect("scratch file");
    let (received, dropped, calls, connected_hwm) = runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for i in 0..count {
            let mut client = connect(&target).await.expect("connect");
            let mut stream = client
                .subscribe(api::SubscribeRequest {
                    rules: vec![RULE.to_string()],
                    client_name: format!("memory-{i}"),
                    ..Default::default()
                })
                .await
                .expect("subscribe (grpc.limits.max_subscribers raised for the benchmark)")
                .into_inner();
            let (stop, received, dropped) = (stop.clone(), received.clone(), dropped.clone());
            tasks.push(tokio::spawn(async move {
                let _client = client;
                while !stop.load(Ordering::Relaxed) {
                    let next =
                        tokio::time::timeout(Duration::from_millis(100), stream.message()).await;
                    let Ok(next) = next else { continue };
                    match next {
                        Ok(Some(m)) => match m.message {
                            Some(api::subscribe_response::Message::Alert(_)) => {
                                received.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(api::subscribe_response::Message::DropNotice(d)) => {
                                dropped.fetch_add(d.dropped, Ordering::Relaxed);
                            }
                            _ => {}
                        },
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let connected_hwm = status_kib(&pid, "VmHWM");
        let path =
            std::ffi::CString::new(file.as_os_str().to_string_lossy().as_bytes()).expect("path");
        let calls = tokio::task::spawn_blocking(move || paced_chmod(&path, rate, seconds))
            .await
            .expect("generator");
        // Let delivery finish: every subscriber has every alert, or nothing moved for 2 s
        // (at most 60 s).
        let expected = calls * count as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut last, mut moved) = (0, Instant::now());
        while Instant::now() < deadline && moved.elapsed() < Duration::from_secs(2) {
            let now = received.load(Ordering::Relaxed) + dropped.load(Ordering::Relaxed);
            if now >= expected {
                break;
            }
            if now != last {
                (last, moved) = (now, Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            let _ = task.await;
        }
        (
            received.load(Ordering::Relaxed),
            dropped.load(Ordering::Relaxed),
            calls,
            connected_hwm,
        )
    });
    let hwm = status_kib(&pid, "VmHWM");
    let rss = status_kib(&pid, "VmRSS");
    let summary = sensor.stop();
    println!(
        "subscribers: release `sensor run`, {count} gRPC subscribers on its Unix socket, \
         {calls} alerts at {rate}/s over {seconds} s"
    );
    println!("| sensor | peak RSS (VmHWM) MiB | RSS at the end MiB |");
    println!("|---|---|---|");
    println!("| started, no subscriber | {:.1} | |", mib(idle_hwm));
    println!(
        "| {count} subscribers connected, no alert yet | {:.1} | |",
        mib(connected_hwm)
    );
    println!(
        "| {count} subscribers, {} alerts received, {dropped} dropped | {:.1} | {:.1} |",
        received,
        mib(hwm),
        mib(rss)
    );
    println!("{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// fchmodat on `path`, `rate` a second for `seconds`; returns the calls made.
fn paced_chmod(path: &std::ffi::CStr, rate: u64, seconds: u64) -> u64 {
    let start = Instant::now();
    let total = rate * seconds;
    let mut done = 0;
    while done < total {
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while done < due {
            let mode = if done.is_multiple_of(2) { 0o644 } else { 0o600 };
            // SAFETY: a valid NUL-terminated path; fchmodat touches no memory of ours.
            unsafe { libc::fchmodat(libc::AT_FDCWD, path.as_ptr(), mode, 0) };
            done += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    done
}

/// The release `sensor run` with one rule on the scratch directory's chmods, room for the
/// benchmark's subscribers, gRPC on a socket in the scratch directory.
struct Sensor {
    child: std::process::Child,
    pid: u32,
    socket: PathBuf,
    stderr: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Sensor {
    fn start(dir: &Path, subscribers: usize) -> Self {
        let rules = dir.join("rules.yaml");
        std::fs::write(
            &rules,
            format!(
                "- rule: {RULE}\n  desc: every fchmodat under the benchmark's scratch directory\n  \
                 condition: evt.type = fchmodat and evt.arg.filename startswith {PREFIX}\n  \
                 output: bench chmod (file=%evt.arg.filename mode=%evt.arg.mode proc=%proc.name pid=%proc.pid)\n  \
                 priority: WARNING\n  tags: [bench]\n"
            ),
        )
        .expect("rules file");
        let config = dir.join("sensor.yaml");
        std::fs::write(
            &config,
            format!(
                "grpc:\n  limits:\n    max_subscribers: {subscribers}\n    \
                 max_subscribers_per_identity: {subscribers}\n"
            ),
        )
        .expect("config file");
        let socket = dir.join("sensor.sock");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .args(["run", "--no-stdout", "--no-health", "--config"])
            .arg(&config)
            .arg("--grpc-socket")
            .arg(&socket)
            .arg("--rules")
            .arg(&rules)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the sensor");
        let pid = child.id();
        let (attached_tx, attached_rx) = std::sync::mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let stderr = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains("eBPF programs attached") {
                    let _ = attached_tx.send(());
                }
                lines.push(line);
            }
            lines
        });
        if attached_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            // SAFETY: signalling the child we started, by pid.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            let _ = child.wait();
            panic!(
                "the sensor did not attach within 60 s:\n{}",
                stderr.join().unwrap_or_default().join("\n")
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the start-up (process table seeding) settle first.
        std::thread::sleep(Duration::from_secs(1));
        Self {
            child,
            pid,
            socket,
            stderr: Some(stderr),
        }
    }

    /// Stops the sensor; returns its summary line.
    fn stop(&mut self) -> String {
        // SAFETY: signalling the child we started, by pid, not reaped yet.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let lines = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        lines
            .into_iter()
            .find(|l| l.starts_with("sensor summary:"))
            .unwrap_or_else(|| "(no summary line)".to_string())
    }
}
