//! The syscall recorder's hold on the kernel, on the real kernel: a program on every syscall
//! tracepoint at a recording's start, each detached once every running recording has made
//! that syscall (what keeps the rest of the machine from paying), syscalls not made yet still
//! recorded after others were detached, the perf events under them closed in the background
//! after the last recording, and 32-bit syscalls: recorded by `sensor record` (its profile
//! proven on a real i386 binary) and in daemon mode when asked, reported when not.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{allowed_syscalls, output as run, privileged, Cgroup, TempDir, SENSOR};
use sensor::profile::{RecordOptions, Recordings};

fn syscall_tracepoints() -> usize {
    std::fs::read_dir("/sys/kernel/tracing/events/syscalls")
        .expect("tracefs (the probe mounts it)")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("sys_enter_"))
        .count()
}

/// Runs `command` (a shell command line) inside `cgroup`.
fn run_in(cgroup: &Cgroup, command: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{}; {command}", cgroup.enter_command()))
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "`{command}` failed in {}",
        cgroup.0.display()
    );
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn tracepoints_are_detached_once_every_recording_has_made_their_syscall() {
    if !privileged() {
        return;
    }
    let mut probe =
        sensor::probe::Probe::load(&sensor::probe::ProbeConfig::default()).expect("load probe");
    let recordings: Recordings =
        sensor::profile::Recordings::new(probe.take_recorder().expect("the recorder"));
    let all = syscall_tracepoints();
    assert!(all > 300, "only {all} syscall tracepoints");
    assert!(!recordings.is_attached(), "attached with nothing recorded");

    let base = format!("sensor-test-recorder-{}", std::process::id());
    let a = Cgroup::create(&format!("{base}/a"));
    let b = Cgroup::create(&format!("{base}/b"));
    let dir = TempDir::new("recorder");
    let file = dir.path("target");
    std::fs::write(&file, "x").unwrap();

    recordings
        .start("a", &[a.id()], RecordOptions::default())
        .unwrap();
    assert_eq!(recordings.attached_tracepoints(), all);
    assert!(
        !recordings.raw_attached(),
        "the raw sys_enter tracepoint (every syscall pays) attached without compat"
    );

    // The pruning thread lets go of what the workload made, on its own.
    run_in(&a, "exec /bin/true");
    wait_until("the pruner to detach /bin/true's syscalls", || {
        recordings.attached_tracepoints() + 10 < all
    });
    let after_true = recordings.attached_tracepoints();
    let so_far = recordings.get("a").unwrap().recording;
    for made in ["execve", "mmap", "exit_group"] {
        assert!(so_far.syscalls.contains(made), "{made} missing: {so_far:?}");
    }
    assert!(!so_far.syscalls.contains("fchmodat"));

    // A syscall first made after others were detached is still recorded.
    run_in(&a, &format!("exec chmod 600 '{}'", file.display()));
    recordings.prune();
    let so_far = recordings.get("a").unwrap().recording;
    assert!(
        so_far.syscalls.contains("fchmodat"),
        "a syscall made after pruning was missed: {:?}",
        so_far.syscalls
    );
    assert!(recordings.attached_tracepoints() < after_true);

    // A second recording has made nothing: every tracepoint is back, and stays until it
    // too has made the syscalls.
    recordings
        .start("b", &[b.id()], RecordOptions { compat: true })
        .unwrap();
    assert_eq!(recordings.attached_tracepoints(), all);
    assert!(
        recordings.raw_attached(),
        "compat asked for, raw not attached"
    );
    recordings.prune();
    assert_eq!(
        recordings.attached_tracepoints(),
        all,
        "detached a syscall recording `b` has not made"
    );
    run_in(&b, "exec /bin/true");
    recordings.prune();
    let both = recordings.attached_tracepoints();
    assert!(both < all);
    let b_recording = recordings.stop("b").unwrap();
    assert!(b_recording.syscalls.contains("execve"));
    assert!(!b_recording.syscalls.contains("fchmodat"));
    assert!(
        !recordings.raw_attached(),
        "raw stayed after the compat recording ended"
    );
    // What only `b` lacked can go now.
    recordings.prune();
    assert!(recordings.attached_tracepoints() <= both);

    recordings.stop("a").unwrap();
    assert!(
        !recordings.is_attached(),
        "attached after the last recording stopped"
    );
    assert_eq!(recordings.attached_tracepoints(), 0);

    // The perf events under the links close in the background; a recording started
    // meanwhile takes back those still open, and after it they all close.
    recordings
        .start("c", &[a.id()], RecordOptions::default())
        .unwrap();
    assert_eq!(recordings.attached_tracepoints(), all);
    assert!(recordings.kernel_handles() >= all);
    recordings.stop("c").unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while recordings.kernel_handles() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} perf events still open",
            recordings.kernel_handles()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A static i386 binary that calls getpgrp through `int 0x80` and exits 0 if it succeeded,
/// 1 if it failed (as under a profile that does not allow it).
fn build_i386_binary(dir: &TempDir) -> std::path::PathBuf {
    let source = dir.path("compat.s");
    std::fs::write(
        &source,
        "\
.globl _start
_start:
    mov $65, %eax       # getpgrp
    int $0x80
    test %eax, %eax
    js fail
    mov $1, %eax        # exit(0)
    xor %ebx, %ebx
    int $0x80
fail:
    mov $1, %eax        # exit(1)
    mov $1, %ebx
    int $0x80
    hlt
",
    )
    .unwrap();
    let object = dir.path("compat.o");
    let binary = dir.path("compat");
    for cmd in [
        Command::new("as")
            .arg("--32")
            .arg(&source)
            .arg("-o")
            .arg(&object),
        Command::new("ld")
            .args(["-m", "elf_i386"])
            .arg(&object)
            .arg("-o")
            .arg(&binary),
    ] {
        let out = run(cmd);
        assert!(
            out.status.success(),
            "{cmd:?} (binutils, from `cargo xtask setup`)"
        );
    }
    binary
}

fn record(dir: &TempDir, name: &str, binary: &Path) -> (String, Vec<String>) {
    let out = run(Command::new(SENSOR)
        .args(["record", "--no-base", "--out"])
        .arg(&dir.0)
        .args(["--name", name, "--"])
        .arg(binary));
    assert!(out.status.success(), "sensor record failed: {out:?}");
    let names = allowed_syscalls(&dir.path(&format!("{name}.seccomp.json")));
    (String::from_utf8_lossy(&out.stderr).into_owned(), names)
}

/// `sensor record` (raw tracepoint) records a 32-bit binary's syscalls under i386's numbers
/// and its profile lets it run; daemon-mode recordings (per-syscall tracepoints) record them
/// when asked and otherwise say a 32-bit process went unrecorded.
#[cfg(target_arch = "x86_64")]
#[test]
fn compat_syscalls_are_recorded_when_asked_and_reported_when_not() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("compat");
    let binary = build_i386_binary(&dir);
    let ran = Command::new(&binary).status().unwrap();
    assert!(
        ran.success(),
        "the i386 test binary does not run here (ia32 emulation?)"
    );

    let (stderr, names) = record(&dir, "compat", &binary);
    assert!(!stderr.contains("32-bit process(es) ran"), "{stderr}");
    assert!(stderr.contains("(2 compat)"), "getpgrp and exit: {stderr}");
    for made in ["getpgrp", "exit", "execve"] {
        assert!(
            names.contains(&made.to_string()),
            "{made} missing: {names:?}"
        );
    }
    let verify = |profile: &Path| {
        run(Command::new(SENSOR)
            .args(["profile", "verify"])
            .arg(profile)
            .arg("--")
            .arg(&binary))
    };
    let profile = dir.path("compat.seccomp.json");
    assert!(
        verify(&profile).status.success(),
        "the 32-bit binary failed under its profile"
    );
    // The same profile without getpgrp breaks it: the profile is what lets it run.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    json["syscalls"][0]["names"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n != "getpgrp");
    let broken = dir.path("broken.seccomp.json");
    std::fs::write(&broken, json.to_string()).unwrap();
    assert!(
        !verify(&broken).status.success(),
        "ran without getpgrp allowed"
    );

    // Daemon mode: per-syscall tracepoints, which 32-bit syscalls do not reach.
    let mut probe =
        sensor::probe::Probe::load(&sensor::probe::ProbeConfig::default()).expect("load probe");
    let recordings = sensor::profile::Recordings::new(probe.take_recorder().expect("the recorder"));
    let base = format!("sensor-test-compat-{}", std::process::id());
    let plain = Cgroup::create(&format!("{base}/plain"));
    let compat = Cgroup::create(&format!("{base}/compat"));
    recordings
        .start("plain", &[plain.id()], RecordOptions::default())
        .unwrap();
    assert!(!recordings.raw_attached());
    run_in(&plain, &format!("exec '{}'", binary.display()));
    let plain = recordings.stop("plain").unwrap();
    assert_eq!(plain.unrecorded_compat_processes, 1, "{plain:?}");
    assert!(plain.compat_syscalls.is_empty(), "{plain:?}");
    let warnings = plain.warnings().join("\n");
    assert!(warnings.contains("1 32-bit process(es) ran"), "{warnings}");
    recordings
        .start("compat", &[compat.id()], RecordOptions { compat: true })
        .unwrap();
    assert!(recordings.raw_attached());
    run_in(&compat, &format!("exec '{}'", binary.display()));
    let compat = recordings.stop("compat").unwrap();
    assert_eq!(compat.unrecorded_compat_processes, 0, "{compat:?}");
    for made in ["getpgrp", "exit"] {
        assert!(compat.compat_syscalls.contains(made), "{made}: {compat:?}");
    }
    assert!(compat.warnings().is_empty(), "{:?}", compat.warnings());
}
