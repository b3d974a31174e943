//! What the syscall recorder costs: a getppid storm (the cheapest syscall, so the recorder's
//! per-call cost shows the most) and a fchmodat storm (a syscall the sensor also traces), each
//! run four ways, interleaved over rounds so that drift in the
//! machine's speed hits all alike. Run through `cargo xtask bench`.
//!
//! 1. untraced: no programs loaded;
//! 2. sensor loaded, nothing recorded: the recorder is not attached;
//! 3. unrecorded: another cgroup is being recorded, so the recorder runs on every syscall of
//!    the storm and finds its cgroup is not recorded;
//! 4. recorded: the storm's own cgroup is recorded.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use sensor::probe::{Probe, ProbeConfig};
use sensor::profile::cgroup::TempCgroup;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("storm") {
        let count: u64 = args[3].parse().expect("count");
        let file =
            std::ffi::CString::new(format!("/tmp/sensor-record-storm-{}", std::process::id()))
                .expect("path");
        std::fs::write(file.to_str().expect("path"), b"x").expect("storm file");
        let start = Instant::now();
        for i in 0..count {
            if args[2] == "getppid" {
                // SAFETY: no arguments, no memory.
                unsafe { libc::syscall(libc::SYS_getppid) };
            } else {
                let mode = if i % 2 == 0 { 0o644 } else { 0o600 };
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::fchmodat(libc::AT_FDCWD, file.as_ptr(), mode, 0) };
            }
        }
        println!("{}", start.elapsed().as_secs_f64());
        let _ = std::fs::remove_file(file.to_str().expect("path"));
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
    // fchmodat is traced by the sensor too (an event per call): a heavier, realistic syscall.
    run("fchmodat", arg("--chmod-calls", 500_000), rounds);
}

fn run(kind: &str, calls: u64, rounds: usize) {
    println!(
        "record benchmark: {kind} storm of {calls} calls, calls/s (median of {rounds} interleaved rounds)"
    );
    let recorded = TempCgroup::create("bench-recorded").expect("cgroup (run as root)");
    let other = TempCgroup::create("bench-other").expect("cgroup");
    let mut runs: [Vec<f64>; 4] = Default::default();
    // The program's own run time as the kernel measures it, when kernel.bpf_stats_enabled=1.
    let stats = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .is_ok_and(|s| s.trim() == "1");
    let mut ns_per_call: [Vec<f64>; 2] = Default::default();
    for _ in 0..rounds {
        runs[0].push(storm(kind, calls, None));
        let probe = Probe::load(&ProbeConfig::default()).expect("load probe (run as root)");
        let recordings = probe.recordings();
        runs[1].push(storm(kind, calls, None));
        recordings.start("other", &[other.id()]).expect("record");
        let before = recordings.program_stats().unwrap_or_default();
        runs[2].push(storm(kind, calls, None));
        let after = recordings.program_stats().unwrap_or_default();
        ns_per_call[0].push(per_call(before, after));
        recordings.start("storm", &[recorded.id()]).expect("record");
        runs[3].push(storm(kind, calls, Some(&recorded)));
        let last = recordings.program_stats().unwrap_or_default();
        ns_per_call[1].push(per_call(after, last));
        let recording = recordings.stop("storm").expect("stop");
        assert!(
            recording.syscalls.contains(kind),
            "the storm was not recorded"
        );
        recordings.stop("other").expect("stop");
        drop(probe);
    }
    let rate = |secs: &[f64]| {
        let mut v: Vec<f64> = secs.iter().map(|s| calls as f64 / s).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let untraced = rate(&runs[0]);
    let idle = rate(&runs[1]);
    for (way, secs) in [
        "untraced (no programs)",
        "sensor loaded, nothing recorded",
        "unrecorded (another cgroup recorded)",
        "recorded",
    ]
    .iter()
    .zip(&runs)
    {
        let r = rate(secs);
        println!(
            "  {way:<40} {r:>12.0} calls/s  ratio to untraced {:.3}  to sensor loaded {:.3}",
            r / untraced,
            r / idle
        );
    }
    if stats {
        let median = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let [unrecorded, recorded] = ns_per_call;
        println!(
            "  recorder program run time (kernel.bpf_stats_enabled): {:.0} ns per syscall unrecorded, {:.0} ns recorded",
            median(unrecorded),
            median(recorded)
        );
    }
}

fn per_call(before: (u64, u64), after: (u64, u64)) -> f64 {
    let runs = after.0.saturating_sub(before.0).max(1);
    after.1.saturating_sub(before.1) as f64 / runs as f64
}

/// Runs the storm in a child (in `cgroup` from its first instruction when given); returns the
/// seconds it reported.
fn storm(kind: &str, calls: u64, cgroup: Option<&TempCgroup>) -> f64 {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.args(["storm", kind, &calls.to_string()])
        .stdout(Stdio::piped());
    if let Some(cgroup) = cgroup {
        let procs =
            std::ffi::CString::new(cgroup.procs_file().into_os_string().into_encoded_bytes())
                .expect("path");
        // SAFETY: open/write/close only, on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
    }
    let out = cmd.output().expect("storm");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("storm seconds")
}
