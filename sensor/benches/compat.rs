//! What the 32-bit compat path costs 64-bit processes: a getppid storm (the cheapest syscall,
//! so any per-call cost shows the most) and a fchmodat storm (a syscall the sensor traces),
//! each run four ways, interleaved over rounds so that drift in the machine's speed hits all
//! alike. Run through `cargo xtask bench`.
//!
//! 1. untraced: no programs loaded;
//! 2. sensor loaded without the compat path (`ProbeConfig::compat` off);
//! 3. sensor loaded with the compat path, no 32-bit process running: the compat programs are
//!    loaded but detached; this must stay at >= 0.98 of way 2;
//! 4. the same while an idle 32-bit process runs: the compat programs sit on the
//!    `raw_syscalls` raw tracepoints, which every syscall of every task pays for.
//!
//! Rates are calls per second of the storm's own CPU time (user + system, from getrusage):
//! the BPF programs run in the storm's context and count there, while the other processes of
//! a shared machine, which swing wall-clock rates by 10% and more here, do not.
//! In the traced ways a thread drains the ring buffer (without decoding), as the agent would.
//! The ways run in a rotated order each round, and each storm starts after a pause: a probe's
//! unload leaves the kernel freeing its programs and perf events for a while, which slowed
//! whichever way came next when the order was fixed.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sensor::probe::{Loss, Probe, ProbeConfig};

/// Quiet time before each storm, for the kernel to finish freeing a dropped probe.
const SETTLE: Duration = Duration::from_secs(1);

const WAYS: [&str; 4] = [
    "untraced (no programs)",
    "sensor loaded, compat path off",
    "compat path on, no 32-bit process",
    "compat path on, a 32-bit process running",
];

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
    let rounds = arg("--rounds", 15).max(1) as usize;
    let idle32 = Idle32::build();
    run(
        &idle32,
        "getppid",
        arg("--getppid-calls", 2_000_000),
        rounds,
    );
    run(&idle32, "fchmodat", arg("--chmod-calls", 200_000), rounds);
}

/// The CPU time (user + system) this process has used, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The storm itself, in a child process: prints the CPU seconds it took.
fn storm_child(kind: &str, count: u64) {
    let path = format!("/tmp/sensor-compat-storm-{}", std::process::id());
    let file = std::ffi::CString::new(path.clone()).expect("path");
    std::fs::write(&path, b"x").expect("storm file");
    let start = cpu_seconds();
    for i in 0..count {
        // SAFETY: a valid NUL-terminated path.
        unsafe {
            if kind == "getppid" {
                libc::syscall(libc::SYS_getppid);
            } else {
                let mode = if i % 2 == 0 { 0o644 } else { 0o600 };
                libc::fchmodat(libc::AT_FDCWD, file.as_ptr(), mode, 0);
            }
        }
    }
    println!("{}", cpu_seconds() - start);
    let _ = std::fs::remove_file(&path);
}

fn storm(kind: &str, calls: u64) -> f64 {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["storm", kind, &calls.to_string()])
        .stdout(Stdio::piped())
        .output()
        .expect("storm");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("storm seconds")
}

/// The probe, its ring buffer drained by a thread until finished.
struct Loaded {
    stop: Arc<AtomicBool>,
    drain: Option<JoinHandle<Loss>>,
}

impl Loaded {
    fn new(compat: bool, expect_attached: bool) -> Self {
        let probe = Probe::load(&ProbeConfig {
            compat,
            ..ProbeConfig::default()
        })
        .expect("load probe (run as root)");
        assert_eq!(
            probe.compat_status().attached,
            expect_attached,
            "compat programs attached"
        );
        let stop = Arc::new(AtomicBool::new(false));
        let drain = {
            let stop = stop.clone();
            let mut probe = probe;
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    probe.read(Duration::from_millis(10), 4096, |_| {});
                }
                probe.loss()
            })
        };
        Self {
            stop,
            drain: Some(drain),
        }
    }
}

impl Loaded {
    /// Stops the drain, unloads the probe and returns what it lost.
    fn finish(mut self) -> Loss {
        self.stop.store(true, Ordering::Relaxed);
        self.drain
            .take()
            .and_then(|drain| drain.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Loaded {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// Runs way `way` once: returns the storm's seconds and what the probe lost.
fn run_way(idle32: &Idle32, way: usize, kind: &str, calls: u64) -> (f64, Loss) {
    let settled_storm = |kind: &str| {
        std::thread::sleep(SETTLE);
        storm(kind, calls)
    };
    match way {
        0 => (settled_storm(kind), Loss::default()),
        1 | 2 => {
            let loaded = Loaded::new(way == 2, false);
            let secs = settled_storm(kind);
            (secs, loaded.finish())
        }
        _ => {
            // Running before the load: the probe finds it in /proc and attaches at start.
            let _process = idle32.start();
            let loaded = Loaded::new(true, true);
            let secs = settled_storm(kind);
            (secs, loaded.finish())
        }
    }
}

fn run(idle32: &Idle32, kind: &str, calls: u64, rounds: usize) {
    println!(
        "compat benchmark: {kind} storm of {calls} calls, calls per CPU second of the storm (median of {rounds} interleaved rounds)"
    );
    let mut runs: [Vec<f64>; 4] = Default::default();
    let mut lost = [0u64; 4];
    for round in 0..rounds {
        for i in 0..WAYS.len() {
            let way = (i + round) % WAYS.len();
            let (secs, loss) = run_way(idle32, way, kind, calls);
            runs[way].push(secs);
            lost[way] += loss.total();
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let rate = |secs: &[f64]| median(secs.iter().map(|s| calls as f64 / s).collect());
    let untraced = rate(&runs[0]);
    let without = rate(&runs[1]);
    for ((way, secs), lost) in WAYS.iter().zip(&runs).zip(lost) {
        let r = rate(secs);
        println!(
            "  {way:<42} {r:>12.0} calls/cpu-s  ratio to untraced {:.3}  to compat path off {:.3}  events lost {lost}",
            r / untraced,
            r / without
        );
    }
}

/// A static i386 binary that sleeps in `pause` until killed, assembled with binutils.
struct Idle32 {
    dir: std::path::PathBuf,
    binary: std::path::PathBuf,
}

impl Idle32 {
    fn build() -> Self {
        let dir = std::env::temp_dir().join(format!("sensor-compat-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("bench dir");
        let source = dir.join("idle32.s");
        std::fs::write(
            &source,
            ".globl _start\n_start:\n    mov $29, %eax   # pause\n    int $0x80\n    jmp _start\n",
        )
        .expect("write idle32.s");
        let object = dir.join("idle32.o");
        let binary = dir.join("idle32");
        let assembled = Command::new("as")
            .arg("--32")
            .arg(&source)
            .arg("-o")
            .arg(&object)
            .status()
            .expect("as (binutils, from `cargo xtask setup`)");
        let linked = Command::new("ld")
            .args(["-m", "elf_i386"])
            .arg(&object)
            .arg("-o")
            .arg(&binary)
            .status()
            .expect("ld");
        assert!(assembled.success() && linked.success(), "assembling idle32");
        Self { dir, binary }
    }

    fn start(&self) -> KillOnDrop {
        KillOnDrop(Command::new(&self.binary).spawn().expect("start idle32"))
    }
}

impl Drop for Idle32 {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
