//! `cargo xtask bench`: the benchmarks that need the real kernel, as root.
//! - `storm` (sensor/benches/storm.rs): what tracing costs a syscall-heavy process.
//! - `rules` (sensor/benches/rules.rs): rule evaluation on events recorded a moment before.
//! - `record` (sensor/benches/record.rs): what the syscall recorder costs recorded and
//!   unrecorded processes.
//! - `compat` (sensor/benches/compat.rs): what the 32-bit compat path costs 64-bit
//!   processes, with no 32-bit process running and with one.
//! - `alerts` (sensor/benches/alerts.rs): alert delivery over gRPC to 1 and 10 subscribers,
//!   throughput and syscall-to-subscriber latency at a steady 10,000 alerts/s.
//! - `memory` (sensor/benches/memory.rs): peak RSS of the agent's bounded structures under
//!   hostile load: 1 M processes' worth of process-table churn, a recording of 1 M distinct
//!   paths, 1,000 gRPC subscribers on the release `sensor run`.
//! - `resource` (here): CPU and memory of the release `sensor run`, idle and under a paced
//!   syscall load, the figures the DaemonSet's requests and limits are sized from.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub fn run(chmod_calls: u64, execs: u64, opens: u64, rounds: u64) -> Result<()> {
    if !crate::is_root() {
        bail!("the benchmarks load eBPF programs: run them as root");
    }
    crate::cargo(&[
        "bench",
        "-p",
        "sensor",
        "--bench",
        "storm",
        "--",
        "--chmod-calls",
        &chmod_calls.to_string(),
        "--execs",
        &execs.to_string(),
        "--opens",
        &opens.to_string(),
        "--rounds",
        &rounds.to_string(),
    ])?;
    crate::cargo(&["bench", "-p", "sensor", "--bench", "rules"])?;
    crate::cargo(&["bench", "-p", "sensor", "--bench", "record"])?;
    crate::cargo(&["bench", "-p", "sensor", "--bench", "compat"])?;
    alerts(rounds)?;
    memory()?;
    resource(10, 100_000)
}

/// The `memory` figure (sensor/benches/memory.rs), which with `resource` sizes the DaemonSet's
/// memory request and limit.
pub fn memory() -> Result<()> {
    crate::cargo(&["bench", "-p", "sensor", "--bench", "memory"])
}

/// The `alerts` figure (sensor/benches/alerts.rs): the release `sensor run` delivering alerts
/// over its Unix socket to 1 and to 10 subscribers, a storm for throughput and a steady
/// 10,000 alerts/s for latency and CPU.
pub fn alerts(rounds: u64) -> Result<()> {
    crate::cargo(&[
        "bench",
        "-p",
        "sensor",
        "--bench",
        "alerts",
        "--",
        "--rounds",
        &rounds.to_string(),
    ])
}

/// The `resource` figure, for sizing the DaemonSet: CPU (utime+stime from /proc/PID/stat, as %
/// of one core) and memory (VmRSS, VmHWM from /proc/PID/status) of the release `sensor run
/// --json` (alerts to /dev/null, as a pod whose stdout nobody reads fast) while the node is
/// idle, then while one process makes `rate` fchmodat calls per second, paced.
pub fn resource(seconds: u64, rate: u64) -> Result<()> {
    crate::cargo(&["build", "--release", "-p", "sensor"])?;
    let mut sensor = Command::new(crate::workspace_root().join("target/release/sensor"))
        .args(["run", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting target/release/sensor")?;
    let pid = sensor.id();
    // Drain stderr on a thread (a full pipe would stall the sensor); report attachment.
    let stderr = sensor.stderr.take().context("sensor stderr")?;
    let (attached_tx, attached_rx) = std::sync::mpsc::channel();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("eBPF programs attached") {
                let _ = attached_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    let result = (|| -> Result<[Sample; 2]> {
        attached_rx
            .recv_timeout(Duration::from_secs(30))
            .context("the sensor did not attach within 30 s")?;
        // Let the start-up (process table seeding, rules compilation) settle first.
        std::thread::sleep(Duration::from_secs(2));
        let idle = measure(pid, Duration::from_secs(seconds))?;
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let load = {
            let (stop, calls) = (stop.clone(), calls.clone());
            std::thread::spawn(move || paced_chmod(rate, &stop, &calls))
        };
        let loaded = measure(pid, Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        let _ = load.join();
        let mut loaded = loaded?;
        loaded.calls_per_sec = calls.load(Ordering::Relaxed) as f64 / loaded.secs;
        Ok([idle, loaded])
    })();
    // SAFETY: kill(2) on the pid of the child we started and have not reaped.
    unsafe { kill(pid as i32, 15) };
    let _ = sensor.wait();
    let lines = log.join().unwrap_or_default();
    let [idle, loaded] = result?;
    let summary = lines
        .iter()
        .find(|l| l.starts_with("sensor summary:"))
        .map_or("(no summary line)", String::as_str);
    println!(
        "resource: `sensor run --json` (default rules, alerts to /dev/null), {seconds} s each"
    );
    println!("| load | CPU, % of one core | VmRSS MiB | VmHWM (peak) MiB |");
    println!("|---|---|---|---|");
    println!(
        "| idle node | {:.1} | {:.1} | {:.1} |",
        idle.cpu_percent, idle.rss_mib, idle.hwm_mib
    );
    println!(
        "| {:.0} fchmodat/s | {:.1} | {:.1} | {:.1} |",
        loaded.calls_per_sec, loaded.cpu_percent, loaded.rss_mib, loaded.hwm_mib
    );
    println!("{summary}");
    Ok(())
}

#[derive(Default)]
struct Sample {
    secs: f64,
    cpu_percent: f64,
    rss_mib: f64,
    hwm_mib: f64,
    calls_per_sec: f64,
}

/// CPU over `span`, memory at its end.
fn measure(pid: u32, span: Duration) -> Result<Sample> {
    let ticks_before = cpu_ticks(pid)?;
    let start = Instant::now();
    std::thread::sleep(span);
    let ticks = cpu_ticks(pid)? - ticks_before;
    let secs = start.elapsed().as_secs_f64();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { sysconf(SC_CLK_TCK) }.max(1) as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("the sensor exited during the measurement")?;
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok(Sample {
        secs,
        cpu_percent: ticks as f64 / hz / secs * 100.0,
        rss_mib: kib("VmRSS:") / 1024.0,
        hwm_mib: kib("VmHWM:") / 1024.0,
        calls_per_sec: 0.0,
    })
}

/// utime + stime of the whole process (every thread), in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .context("the sensor is not running")?;
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    let rest = stat.rsplit_once(')').context("/proc/PID/stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .context("/proc/PID/stat field")
    };
    Ok(field(14)? + field(15)?)
}

/// fchmodat on a scratch file, `rate` calls per second in batches every millisecond, until
/// `stop`; counts the calls made.
fn paced_chmod(rate: u64, stop: &AtomicBool, calls: &AtomicU64) {
    let file = std::env::temp_dir().join(format!("sensor-resource-{}", std::process::id()));
    if std::fs::write(&file, b"x").is_err() {
        return;
    }
    let path = std::ffi::CString::new(file.to_string_lossy().as_bytes()).expect("path");
    let start = Instant::now();
    let mut done: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if done >= due {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let batch_end = due.min(done + 10_000);
        while done < batch_end {
            let mode = if done.is_multiple_of(2) { 0o644 } else { 0o600 };
            // SAFETY: a valid NUL-terminated path; fchmodat reads nothing else of ours.
            unsafe { fchmodat(AT_FDCWD, path.as_ptr(), mode, 0) };
            done += 1;
        }
        calls.store(done, Ordering::Relaxed);
    }
    let _ = std::fs::remove_file(&file);
}

const AT_FDCWD: i32 = -100;
const SC_CLK_TCK: i32 = 2;

extern "C" {
    fn fchmodat(dirfd: i32, path: *const std::ffi::c_char, mode: u32, flags: i32) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn sysconf(name: i32) -> i64;
}
