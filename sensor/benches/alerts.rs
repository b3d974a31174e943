//! Alert delivery over gRPC, end to end: the release `sensor run` with one rule that fires on
//! every fchmodat of a scratch file, subscribers on its Unix socket (tonic clients, one
//! connection each, in this process), and a generator thread making the calls. Run through
//! `cargo xtask bench` (or `cargo xtask bench --alerts-only`), as root.
//!
//! - throughput: a storm of fchmodat as fast as one thread can, delivered to 1 and to 10
//!   subscribers: alerts/s each subscriber received, drops (DropNotice totals), and the
//!   sensor's CPU time per alert raised.
//! - latency: a steady, paced 10,000 fchmodat/s for a few seconds, delivered to 1 and to 10
//!   subscribers: p50/p99/max of (subscriber's receive time − `Alert.time`, the syscall's
//!   CLOCK_REALTIME), and the sensor's CPU as % of one core.
//!
//! The cases interleave over rounds (each figure is the median) so that drift in the
//! machine's speed hits all alike. The sensor's CPU is the sum over its threads of
//! /proc/PID/task/*/schedstat (ns on a CPU), read before and after each case.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sensor::sinks::grpc::client::{connect, Target};
use sensor_api::v1 as api;

const RULE: &str = "Bench Alert";
/// The rule fires on fchmodat of paths under this prefix only.
const PREFIX: &str = "/tmp/sensor-bench-alerts";
/// Each subscriber's queue (the server's maximum): a throughput storm is not about drops.
const QUEUE: u32 = 100_000;
const SUBSCRIBERS: [usize; 2] = [1, 10];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let storm_calls = arg("--storm-calls", 200_000);
    let rate = arg("--rate", 10_000);
    let seconds = arg("--seconds", 5);
    let rounds = arg("--rounds", 3).max(1) as usize;
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "the alerts benchmark loads eBPF programs: run it as root"
    );

    let dir = PathBuf::from(format!("{PREFIX}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let sensor = Sensor::start(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let target = Target::Socket(sensor.socket.clone());
    let file = dir.join("file");
    std::fs::write(&file, b"x").expect("scratch file");

    println!(
        "alerts benchmark: `sensor run` with one rule firing on every fchmodat of a scratch \
         file, subscribers on its Unix socket (median of {rounds} interleaved rounds)"
    );
    let mut storms: [Vec<Case>; 2] = Default::default();
    let mut paced: [Vec<Case>; 2] = Default::default();
    for _ in 0..rounds {
        for (i, &n) in SUBSCRIBERS.iter().enumerate() {
            storms[i].push(runtime.block_on(case(
                &target,
                sensor.pid,
                &file,
                n,
                Load::Storm(storm_calls),
            )));
        }
        for (i, &n) in SUBSCRIBERS.iter().enumerate() {
            paced[i].push(runtime.block_on(case(
                &target,
                sensor.pid,
                &file,
                n,
                Load::Paced { rate, seconds },
            )));
        }
    }
    drop(runtime);
    let summary = sensor.stop();
    let _ = std::fs::remove_dir_all(&dir);

    println!("throughput: a storm of {storm_calls} fchmodat, as fast as one thread can");
    println!(
        "| subscribers | storm calls/s | alerts raised | alerts/s per subscriber | alerts/s all subscribers | dropped (all subscribers) | sensor CPU µs per alert |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut storm_cost = Vec::new();
    for (&n, cases) in SUBSCRIBERS.iter().zip(&storms) {
        let per_sub = median(cases.iter().map(|c| c.delivered_per_sec_min()).collect());
        let total = median(cases.iter().map(|c| c.delivered_per_sec_total()).collect());
        let cpu = median(cases.iter().map(|c| c.cpu_us_per_alert()).collect());
        storm_cost.push(cpu);
        println!(
            "| {n} | {:.0} | {} | {per_sub:.0} | {total:.0} | {} | {cpu:.2} |",
            median(cases.iter().map(|c| c.calls as f64 / c.load_secs).collect()),
            cases.iter().map(|c| c.raised).min().unwrap_or(0),
            cases.iter().map(|c| c.dropped).max().unwrap_or(0),
        );
    }
    println!(
        "10 subscribers / 1 subscriber, sensor CPU per alert in the storm: {:.2}x",
        storm_cost[1] / storm_cost[0]
    );
    println!("latency: a steady {rate} fchmodat/s for {seconds} s; syscall to subscriber");
    println!(
        "| subscribers | alerts/s raised | received (all subscribers) | dropped (all subscribers) | p50 ms | p99 ms | max ms | sensor CPU, % of one core |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut paced_cost = Vec::new();
    for (&n, cases) in SUBSCRIBERS.iter().zip(&paced) {
        let q = |p: f64| median(cases.iter().map(|c| c.latency_ms(p)).collect());
        let cpu = median(cases.iter().map(|c| c.cpu_percent()).collect());
        paced_cost.push(cpu);
        println!(
            "| {n} | {:.0} | {} | {} | {:.2} | {:.2} | {:.2} | {cpu:.1} |",
            median(
                cases
                    .iter()
                    .map(|c| c.raised as f64 / c.load_secs)
                    .collect()
            ),
            cases.iter().map(|c| c.received()).min().unwrap_or(0),
            cases.iter().map(|c| c.dropped).max().unwrap_or(0),
            q(0.50),
            q(0.99),
            q(1.0),
        );
    }
    println!(
        "10 subscribers / 1 subscriber, sensor CPU at {rate} alerts/s: {:.2}x",
        paced_cost[1] / paced_cost[0]
    );
    println!("{summary}");
}

#[derive(Clone, Copy)]
enum Load {
    /// This many calls as fast as possible.
    Storm(u64),
    /// `rate` calls per second for `seconds`.
    Paced { rate: u64, seconds: u64 },
}

/// One case measured: a load delivered to some subscribers.
struct Case {
    calls: u64,
    /// How long the generator took.
    load_secs: f64,
    /// Alerts the sensor raised (Status' alerts_total, before and after).
    raised: u64,
    subscribers: Vec<Received>,
    dropped: u64,
    /// The sensor's CPU time over the case, and the case's wall time.
    cpu_ns: u64,
    wall_secs: f64,
}

#[derive(Default)]
struct Received {
    alerts: u64,
    dropped: u64,
    /// Seconds from the load's start to the last alert received.
    last: f64,
    /// Syscall to receipt, ns.
    latencies: Vec<i64>,
}

impl Case {
    fn received(&self) -> u64 {
        self.subscribers.iter().map(|s| s.alerts).sum()
    }
    /// The slowest subscriber's rate: alerts over the time from the storm's start to its last.
    fn delivered_per_sec_min(&self) -> f64 {
        self.subscribers
            .iter()
            .map(|s| s.alerts as f64 / s.last.max(1e-9))
            .fold(f64::INFINITY, f64::min)
    }
    fn delivered_per_sec_total(&self) -> f64 {
        let last = self.subscribers.iter().map(|s| s.last).fold(0.0, f64::max);
        self.received() as f64 / last.max(1e-9)
    }
    fn cpu_us_per_alert(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.raised.max(1) as f64
    }
    fn cpu_percent(&self) -> f64 {
        self.cpu_ns as f64 / 1e9 / self.wall_secs * 100.0
    }
    /// The `p` quantile of every subscriber's latencies together, in ms.
    fn latency_ms(&self, p: f64) -> f64 {
        let mut all: Vec<i64> = self
            .subscribers
            .iter()
            .flat_map(|s| s.latencies.iter().copied())
            .collect();
        if all.is_empty() {
            return f64::NAN;
        }
        all.sort_unstable();
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i] as f64 / 1e6
    }
}

async fn case(target: &Target, pid: u32, file: &Path, subscribers: usize, load: Load) -> Case {
    let mut status = connect(target).await.expect("connect for Status");
    let stop = Arc::new(AtomicBool::new(false));
    let start_flag = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..subscribers {
        let mut client = connect(target).await.expect("connect");
        let stream = client
            .subscribe(api::SubscribeRequest {
                rules: vec![RULE.to_string()],
                queue_size: QUEUE,
                client_name: format!("bench-{i}"),
                ..Default::default()
            })
            .await
            .expect("subscribe")
            .into_inner();
        // The call returns once the server has registered the subscriber.
        let (stop, start) = (stop.clone(), start_flag.clone());
        tasks.push(tokio::spawn(receive(client, stream, stop, start)));
    }
    let before = status
        .status(api::StatusRequest {})
        .await
        .expect("status")
        .into_inner()
        .alerts_total;
    let cpu_before = cpu_ns(pid);
    let wall = Instant::now();
    start_flag.store(wall_ns(), Ordering::Relaxed);
    let path = std::ffi::CString::new(file.as_os_str().to_string_lossy().as_bytes()).expect("path");
    let (calls, load_secs) = tokio::task::spawn_blocking(move || generate(&path, load))
        .await
        .expect("generator");
    // Wait for delivery to finish: every subscriber has its alerts (or drops), or nothing
    // moved for a second.
    let mut last_progress = Instant::now();
    let mut last_seen = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let raised = status
            .status(api::StatusRequest {})
            .await
            .expect("status")
            .into_inner();
        let seen: u64 = raised
            .subscribers
            .iter()
            .filter(|s| s.client_name.starts_with("bench-"))
            .map(|s| s.alerts_sent + s.alerts_dropped)
            .sum();
        let done = raised.alerts_total - before >= calls
            && seen >= calls * subscribers as u64
            && raised
                .subscribers
                .iter()
                .filter(|s| s.client_name.starts_with("bench-"))
                .all(|s| s.queued == 0);
        if done {
            break;
        }
        if seen != last_seen {
            last_seen = seen;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > Duration::from_secs(1) {
            break;
        }
    }
    // What the server handed to the transport may still be on its way.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cpu = cpu_ns(pid) - cpu_before;
    let wall_secs = wall.elapsed().as_secs_f64();
    let raised = status
        .status(api::StatusRequest {})
        .await
        .expect("status")
        .into_inner()
        .alerts_total
        - before;
    stop.store(true, Ordering::Relaxed);
    let mut received = Vec::new();
    for task in tasks {
        received.push(task.await.expect("subscriber"));
    }
    // Let the server see the streams go before the next case.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dropped = received.iter().map(|r| r.dropped).sum();
    Case {
        calls,
        load_secs,
        raised,
        subscribers: received,
        dropped,
        cpu_ns: cpu,
        wall_secs,
    }
}

/// Receives until `stop`, noting each alert's latency.
async fn receive(
    client: sensor_api::v1::sensor_client::SensorClient<tonic::transport::Channel>,
    mut stream: tonic::Streaming<api::SubscribeResponse>,
    stop: Arc<AtomicBool>,
    start: Arc<AtomicU64>,
) -> Received {
    let _client = client;
    let mut r = Received::default();
    loop {
        let next = tokio::time::timeout(Duration::from_millis(50), stream.message()).await;
        if stop.load(Ordering::Relaxed) {
            return r;
        }
        let Ok(next) = next else { continue };
        let Ok(Some(message)) = next else { return r };
        let now = wall_ns();
        match message.message {
            Some(api::subscribe_response::Message::Alert(alert)) => {
                let t = alert.time.unwrap_or_default();
                let at = t.seconds * 1_000_000_000 + i64::from(t.nanos);
                r.latencies.push(now as i64 - at);
                r.alerts += 1;
                r.last = now.saturating_sub(start.load(Ordering::Relaxed)) as f64 / 1e9;
            }
            Some(api::subscribe_response::Message::DropNotice(d)) => r.dropped += d.dropped,
            _ => return r,
        }
    }
}

/// fchmodat on `path` per `load`; returns the calls made and the seconds they took.
fn generate(path: &std::ffi::CStr, load: Load) -> (u64, f64) {
    let start = Instant::now();
    let chmod = |i: u64| {
        let mode = if i.is_multiple_of(2) { 0o644 } else { 0o600 };
        // SAFETY: a valid NUL-terminated path; fchmodat touches no memory of ours.
        unsafe { libc::fchmodat(libc::AT_FDCWD, path.as_ptr(), mode, 0) };
    };
    match load {
        Load::Storm(count) => {
            for i in 0..count {
                chmod(i);
            }
            (count, start.elapsed().as_secs_f64())
        }
        Load::Paced { rate, seconds } => {
            // The calls due so far, made every millisecond: a steady rate.
            let total = rate * seconds;
            let mut done = 0;
            while done < total {
                let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
                while done < due {
                    chmod(done);
                    done += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (total, start.elapsed().as_secs_f64())
        }
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// ns on a CPU of every thread of `pid`.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        panic!("the sensor exited");
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The release `sensor run` with the benchmark's rule, gRPC on a socket in the scratch dir.
struct Sensor {
    child: std::process::Child,
    pid: u32,
    socket: PathBuf,
    stderr: std::thread::JoinHandle<Vec<String>>,
}

impl Sensor {
    fn start(dir: &Path) -> Self {
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
        let socket = dir.join("sensor.sock");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .args(["run", "--no-stdout", "--no-health", "--grpc-socket"])
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
            stderr,
        }
    }

    /// Stops the sensor; returns its summary line.
    fn stop(mut self) -> String {
        // SAFETY: signalling the child we started, by pid.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let lines = self.stderr.join().unwrap_or_default();
        lines
            .into_iter()
            .find(|l| l.starts_with("sensor summary:"))
            .unwrap_or_else(|| "(no summary line)".to_string())
    }
}
