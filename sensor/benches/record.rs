//! What the syscall recorder costs: a getppid storm (the cheapest syscall, so the recorder's
//! per-call cost shows the most), a fchmodat storm (a syscall the sensor also traces) and a
//! file storm (open, fstat, read, close of a small file: a realistic syscall-heavy loop), each
//! run five ways, interleaved over rounds so that drift in the machine's speed hits all alike.
//! Run through `cargo xtask bench`.
//!
//! 1. untraced: no programs loaded;
//! 2. sensor loaded, nothing recorded: no recorder program is attached;
//! 3. unrecorded, recording has not made these syscalls: another (idle) cgroup is recorded, so
//!    every syscall tracepoint carries the recorder: the worst case for the rest of the machine;
//! 4. unrecorded, recording has made them: the recorded cgroup ran the same loop once and the
//!    recorder detached those syscalls' tracepoints: the steady state of a warmed-up workload;
//! 5. recorded: the storm's own cgroup is recorded from its first syscall;
//! 6. unrecorded under the raw strategy `sensor record` uses: the `sys_enter` raw tracepoint.
//!
//! Ways 3-5 use the per-syscall strategy of daemon-mode recordings.

use std::process::{Command, Stdio};
use std::time::Instant;

use sensor::probe::{Probe, ProbeConfig};
use sensor::profile::cgroup::TempCgroup;
use sensor::profile::RecorderStrategy;

const KINDS: [&str; 3] = ["getppid", "fchmodat", "files"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("storm") {
        storm_child(&args[2], args[3].parse().expect("count"));
        return;
    }
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = arg("--rounds", 3).max(1) as usize;
    run("getppid", arg("--getppid-calls", 5_000_000), rounds);
    run("fchmodat", arg("--chmod-calls", 500_000), rounds);
    run("files", arg("--file-loops", 500_000), rounds);
}

/// The storm itself, in a child process: prints its own duration in seconds.
fn storm_child(kind: &str, count: u64) {
    assert!(KINDS.contains(&kind), "storm kind {kind}");
    let path = format!("/tmp/sensor-record-storm-{}", std::process::id());
    let file = std::ffi::CString::new(path.clone()).expect("path");
    std::fs::write(&path, b"a small file").expect("storm file");
    let mut buf = [0u8; 64];
    let start = Instant::now();
    for i in 0..count {
        // SAFETY: a valid NUL-terminated path and buffers that outlive the calls.
        unsafe {
            match kind {
                "getppid" => {
                    libc::syscall(libc::SYS_getppid);
                }
                "fchmodat" => {
                    let mode = if i % 2 == 0 { 0o644 } else { 0o600 };
                    libc::fchmodat(libc::AT_FDCWD, file.as_ptr(), mode, 0);
                }
                _ => {
                    let fd = libc::open(file.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                    let mut st: libc::stat = std::mem::zeroed();
                    libc::fstat(fd, &mut st);
                    libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    libc::close(fd);
                }
            }
        }
    }
    println!("{}", start.elapsed().as_secs_f64());
    let _ = std::fs::remove_file(&path);
}

const WAYS: [&str; 6] = [
    "untraced (no programs)",
    "sensor loaded, nothing recorded",
    "unrecorded, recording has not made them",
    "unrecorded, recording has made them",
    "recorded",
    "unrecorded, raw tracepoint (sensor record)",
];

fn run(kind: &str, calls: u64, rounds: usize) {
    println!(
        "record benchmark: {kind} storm of {calls} loops, loops/s (median of {rounds} interleaved rounds)"
    );
    let recorded = TempCgroup::create("bench-recorded").expect("cgroup (run as root)");
    let other = TempCgroup::create("bench-other").expect("cgroup");
    let mut runs: [Vec<f64>; 6] = Default::default();
    let mut attached = (0, 0);
    let mut start_ms = Vec::new();
    let mut stop_ms = Vec::new();
    let mut close_s = Vec::new();
    for _ in 0..rounds {
        runs[0].push(storm(kind, calls, None));
        let mut probe = Probe::load(&ProbeConfig::default()).expect("load probe (run as root)");
        let recordings =
            sensor::profile::Recordings::new(probe.take_recorder().expect("the recorder"));
        runs[1].push(storm(kind, calls, None));
        let started = Instant::now();
        recordings
            .start("other", &[other.id()], Default::default())
            .expect("record");
        start_ms.push(started.elapsed().as_secs_f64() * 1e3);
        attached.0 = recordings.attached_tracepoints();
        runs[2].push(storm(kind, calls, None));
        // The recorded workload makes these syscalls once; the recorder lets them go.
        storm(kind, 1, Some(&other));
        recordings.prune();
        attached.1 = recordings.attached_tracepoints();
        runs[3].push(storm(kind, calls, None));
        recordings
            .start("storm", &[recorded.id()], Default::default())
            .expect("record");
        runs[4].push(storm(kind, calls, Some(&recorded)));
        let recording = recordings.stop("storm").expect("stop");
        let made = if kind == "files" { "read" } else { kind };
        assert!(
            recording.syscalls.contains(made),
            "the storm was not recorded"
        );
        let stopped = Instant::now();
        recordings.stop("other").expect("stop");
        stop_ms.push(stopped.elapsed().as_secs_f64() * 1e3);
        assert!(
            !recordings.is_attached(),
            "recorder still attached after the last stop"
        );
        // The perf events under the recorder close in the background; the next round starts
        // on a quiet kernel.
        while recordings.kernel_handles() > 0 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        close_s.push(stopped.elapsed().as_secs_f64());
        // What `sensor record` does instead: the raw tracepoint, on every syscall.
        recordings
            .set_strategy(RecorderStrategy::RawTracepoint)
            .expect("strategy");
        recordings
            .start("other", &[other.id()], Default::default())
            .expect("record");
        runs[5].push(storm(kind, calls, None));
        recordings.stop("other").expect("stop");
        drop(probe);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let rate = |secs: &[f64]| median(secs.iter().map(|s| calls as f64 / s).collect());
    let untraced = rate(&runs[0]);
    let idle = rate(&runs[1]);
    for (way, secs) in WAYS.iter().zip(&runs) {
        let r = rate(secs);
        println!(
            "  {way:<42} {r:>12.0} loops/s  ratio to untraced {:.3}  to sensor loaded {:.3}",
            r / untraced,
            r / idle
        );
    }
    println!(
        "  recorder tracepoints attached: {} at a recording's start ({:.1} ms to attach), {} once it made the storm's syscalls",
        attached.0,
        median(start_ms),
        attached.1
    );
    println!(
        "  last stop: {:.1} ms; its perf events closed in the background in {:.1} s",
        median(stop_ms),
        median(close_s)
    );
}

/// Runs the storm in a child (in `cgroup` from its first instruction when given); returns the
/// seconds it reported.
fn storm(kind: &str, calls: u64, cgroup: Option<&TempCgroup>) -> f64 {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.args(["storm", kind, &calls.to_string()])
        .stdout(Stdio::piped());
    if let Some(cgroup) = cgroup {
        cgroup.join_before_exec(&mut cmd).expect("cgroup path");
    }
    let out = cmd.output().expect("storm");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("storm seconds")
}
