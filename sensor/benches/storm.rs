//! Syscall storms, each run untraced and traced in one go, to measure what the sensor costs
//! the traced workload and whether it keeps up. Run through `cargo xtask bench`.
//!
//! - chmod storm: one process calling fchmodat as fast as it can for a fixed count.
//! - fork+exec storm: one process forking and exec'ing /bin/true, one at a time.
//! - open storm: one process opening (openat, O_RDONLY) and closing an unrelated file.
//!
//! Each storm runs three ways: untraced; traced with the library pipeline (decode + enrich)
//! consuming events; traced with the CLI as the consumer: `sensor events --json > /dev/null`
//! for chmod and exec, `sensor run --rules falco-stable` (every open evaluated against
//! Falco's stable rules, which want the open family) for open. The chmod storm runs a fourth
//! way, the pipeline without the argument check (`ProbeConfig::check_arguments`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sensor::pipeline::Pipeline;
use sensor::probe::{Probe, ProbeConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The storm itself runs in a child process of this binary.
    if args.get(1).map(String::as_str) == Some("storm") {
        storm(&args[2], args[3].parse().expect("count"));
        return;
    }
    let arg = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let chmod_calls = arg("--chmod-calls", 2_000_000);
    // Every call raises an alert: fewer, or the run is the outputs' speed.
    let suid_calls = arg("--suid-calls", 200_000);
    let execs = arg("--execs", 10_000);
    let opens = arg("--opens", 1_000_000);
    let rounds = arg("--rounds", 3).max(1) as usize;
    // `--only chmod` (or exec, open): one storm, for a quick comparison.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let wanted = |kind: &str| only.is_none_or(|o| o == kind);
    println!(
        "storm benchmark: calls/s of the storm process (median of {rounds} interleaved rounds), \
         ratio to untraced, events the consumer saw, events lost"
    );
    for (kind, evt_type, count) in [
        ("chmod", "fchmodat", chmod_calls),
        ("chmod-suid", "fchmodat", suid_calls),
        ("exec", "execve", execs),
        ("open", "openat", opens),
    ] {
        if wanted(kind) {
            run_storm(kind, evt_type, count, rounds);
        }
    }
}

/// The syscalls traced for a storm: the open family only when it is the storm's (as with
/// rules that want it); otherwise what `sensor events` traces by default.
fn traced_for(kind: &str) -> sensor::model::syscall_set::SyscallSet {
    use sensor::model::syscall_set::SyscallSet;
    if kind == "open" {
        SyscallSet::all()
    } else {
        SyscallSet::all_but_opens()
    }
}

/// One way of running a storm, measured.
#[derive(Clone, Copy, Default)]
struct Run {
    secs: f64,
    seen: u64,
    /// Lost because the ring buffer was full.
    ring_full: u64,
    /// Exits whose enter was not seen (calls in flight at attach).
    missing_enter: u64,
    /// Calls of the type the kernel filter dropped.
    filtered: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The workload: `count` calls, then prints the seconds it took.
fn storm(kind: &str, count: u64) {
    let start = Instant::now();
    match kind {
        "chmod" | "chmod-suid" => {
            let file = format!("/tmp/sensor-storm-{}", std::process::id());
            std::fs::write(&file, b"x").expect("storm file");
            let path = std::ffi::CString::new(file.clone()).expect("path");
            let modes = match kind {
                "chmod" => [0o644, 0o600],
                _ => [0o4755, 0o4744],
            };
            for i in 0..count {
                let mode = modes[(i % 2) as usize];
                // SAFETY: valid NUL-terminated path; fchmodat touches no memory of ours.
                unsafe { libc::fchmodat(libc::AT_FDCWD, path.as_ptr(), mode, 0) };
            }
            let _ = std::fs::remove_file(&file);
        }
        "open" => {
            let file = format!("/tmp/sensor-storm-open-{}", std::process::id());
            std::fs::write(&file, b"x").expect("storm file");
            let path = std::ffi::CString::new(file.clone()).expect("path");
            for _ in 0..count {
                // SAFETY: valid NUL-terminated path; the fd is ours and closed at once.
                unsafe {
                    let fd = libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY);
                    if fd >= 0 {
                        libc::close(fd);
                    }
                }
            }
            let _ = std::fs::remove_file(&file);
        }
        "exec" => {
            for _ in 0..count {
                let status = Command::new("/bin/true").status().expect("spawn /bin/true");
                assert!(status.success());
            }
        }
        other => panic!("unknown storm {other}"),
    }
    println!("{}", start.elapsed().as_secs_f64());
}

fn spawn_storm(kind: &str, count: u64) -> (Child, u32) {
    let child = Command::new(std::env::current_exe().expect("own path"))
        .args(["storm", kind, &count.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn storm");
    let pid = child.id();
    (child, pid)
}

/// Waits for the storm and returns the seconds it reported.
fn finish_storm(child: Child) -> f64 {
    let out = child.wait_with_output().expect("storm");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("storm seconds")
}

/// A way of running a storm.
#[derive(Clone, Copy)]
enum Way {
    Untraced,
    /// The library pipeline consumes; `check_arguments` as `ProbeConfig`'s.
    Pipeline {
        check_arguments: bool,
    },
    /// The sensor binary with these arguments consumes, its output to /dev/null.
    Cli {
        args: &'static [&'static str],
        label: &'static str,
    },
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Untraced => "untraced",
            Way::Pipeline {
                check_arguments: true,
            } => "traced, pipeline consumer",
            Way::Pipeline {
                check_arguments: false,
            } => "traced, pipeline, no argument check",
            Way::Cli { label, .. } => label,
        }
    }
}

const RUN: &[&str] = &["run", "--no-grpc-socket", "--no-health"];
const RUN_UNFILTERED: &[&str] = &[
    "run",
    "--no-grpc-socket",
    "--no-health",
    "--no-kernel-filter",
];
const RUN_STABLE: &[&str] = &[
    "run",
    "--rules",
    "falco-stable",
    "--no-grpc-socket",
    "--no-health",
];
const RUN_STABLE_UNFILTERED: &[&str] = &[
    "run",
    "--rules",
    "falco-stable",
    "--no-grpc-socket",
    "--no-health",
    "--no-kernel-filter",
];

/// The ways a storm runs. The chmod storm also runs without the argument check (its enter
/// program hashing the path), to show in one run what the check costs a traced chmod, and
/// under `sensor run` with the default rules with and without the kernel filter (no rule
/// reads a chmod 644, so the filter drops every call in the kernel) and with Falco's stable
/// rules (none reads a chmod: not traced at all unless a recording runs); the setuid chmod storm,
/// whose every call a default rule matches, under `sensor run` both ways; the open storm
/// under `sensor run --rules falco-stable` both ways.
fn ways(kind: &str) -> Vec<Way> {
    let pipeline = Way::Pipeline {
        check_arguments: true,
    };
    match kind {
        "chmod" => vec![
            Way::Untraced,
            pipeline,
            Way::Pipeline {
                check_arguments: false,
            },
            Way::Cli {
                args: &["events", "--json"],
                label: "traced, `sensor events --json` consumer",
            },
            Way::Cli {
                args: RUN,
                label: "`sensor run`, default rules",
            },
            Way::Cli {
                args: RUN_UNFILTERED,
                label: "`sensor run`, default rules, no kernel filter",
            },
            Way::Cli {
                args: RUN_STABLE,
                label: "`sensor run --rules falco-stable`",
            },
        ],
        "chmod-suid" => vec![
            Way::Untraced,
            Way::Cli {
                args: RUN,
                label: "`sensor run`, default rules",
            },
            Way::Cli {
                args: RUN_UNFILTERED,
                label: "`sensor run`, default rules, no kernel filter",
            },
        ],
        "open" => vec![
            Way::Untraced,
            pipeline,
            Way::Cli {
                args: RUN_STABLE,
                label: "`sensor run --rules falco-stable`",
            },
            Way::Cli {
                args: RUN_STABLE_UNFILTERED,
                label: "... no kernel filter",
            },
        ],
        _ => vec![
            Way::Untraced,
            pipeline,
            Way::Cli {
                args: &["events", "--json"],
                label: "traced, `sensor events --json` consumer",
            },
        ],
    }
}

fn run_storm(kind: &str, evt_type: &'static str, count: u64, rounds: usize) {
    println!("{kind} storm, {count} calls:");
    let ways = ways(kind);
    // Rounds interleave the ways so that drift in the machine's speed hits all alike.
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); ways.len()];
    for _ in 0..rounds {
        for (way, runs) in ways.iter().zip(runs.iter_mut()) {
            runs.push(match *way {
                Way::Untraced => {
                    let (child, _) = spawn_storm(kind, count);
                    Run {
                        secs: finish_storm(child),
                        ..Run::default()
                    }
                }
                Way::Pipeline { check_arguments } => {
                    traced_with_pipeline(kind, evt_type, count, check_arguments)
                }
                Way::Cli { args, .. } => traced_with_cli(args, evt_type, count, kind),
            });
        }
    }
    let rate = |runs: &[Run]| median(runs.iter().map(|r| count as f64 / r.secs).collect());
    let untraced = rate(&runs[0]);
    for (way, runs) in ways.iter().zip(&runs) {
        let r = rate(runs);
        let seen = runs.iter().map(|r| r.seen).min().unwrap_or(0);
        let ring_full = runs.iter().map(|r| r.ring_full).max().unwrap_or(0);
        let missing = runs.iter().map(|r| r.missing_enter).max().unwrap_or(0);
        let filtered = runs.iter().map(|r| r.filtered).min().unwrap_or(0);
        println!(
            "  {:<48} {r:>10.0} calls/s  ratio {:.2}  events {seen:>8}  filtered in kernel {filtered:>8}  lost {ring_full} (ring full; exits without enter: {missing})",
            way.label(),
            r / untraced
        );
    }
}

fn traced_with_pipeline(
    kind: &str,
    evt_type: &'static str,
    count: u64,
    check_arguments: bool,
) -> Run {
    let probe = Probe::load(&ProbeConfig {
        syscalls: traced_for(kind),
        check_arguments,
        ..ProbeConfig::default()
    })
    .expect("load probe (run as root)");
    let mut pipeline = Pipeline::new(probe);
    let stop = Arc::new(AtomicBool::new(false));
    let target = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    let consumer = {
        let (stop, target, seen) = (stop.clone(), target.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut sink = |event: &sensor::model::Event| -> Result<(), ()> {
                let t = target.load(Ordering::Relaxed);
                // The exec storm's events come from its children.
                let ours = event.task.pid as u64 == t || event.task.ppid as u64 == t;
                if ours && event.evt_type() == evt_type {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            };
            let _ = pipeline.run(&stop, &mut sink);
            pipeline.stats().loss
        })
    };
    let (child, pid) = spawn_storm(kind, count);
    target.store(pid as u64, Ordering::Relaxed);
    let secs = finish_storm(child);
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let loss = consumer.join().expect("consumer");
    Run {
        secs,
        seen: seen.load(Ordering::Relaxed),
        ring_full: loss.ring_full,
        missing_enter: loss.missing_enter,
        filtered: 0,
    }
}

fn traced_with_cli(args: &[&str], evt_type: &str, count: u64, kind: &str) -> Run {
    let mut sensor = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sensor");
    let mut stderr = BufReader::new(sensor.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.contains("eBPF programs attached") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap_or(0) > 0,
            "sensor exited before attaching"
        );
    }
    let (child, _) = spawn_storm(kind, count);
    let secs = finish_storm(child);
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling the sensor we started, by pid.
    unsafe { libc::kill(sensor.id() as i32, libc::SIGTERM) };
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("sensor stderr");
    let _ = sensor.wait();
    let summary = rest
        .lines()
        .find(|l| l.starts_with("sensor summary:"))
        .unwrap_or("");
    // Every event of the type, not just the storm's: the node's own activity is small beside
    // it, so this can exceed the storm's count by a few.
    let seen = summary
        .split([' ', '(', ')', ';'])
        .find_map(|w| w.strip_prefix(&format!("{evt_type}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let count_after = |label: &str| -> u64 {
        summary
            .split(label)
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    let filtered = summary
        .split("filtered in the kernel")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|counts| {
            counts
                .split([' ', '(', ')'])
                .find_map(|w| w.strip_prefix(&format!("{evt_type}=")))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Run {
        secs,
        seen,
        ring_full: count_after("ring buffer full "),
        missing_enter: count_after("exit without enter "),
        filtered,
    }
}
