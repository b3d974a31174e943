//! Daemon-mode profile recording through the gRPC API: `sensor run` records a running
//! container (a cgroup named as containerd names them) from `sensor profile start` to
//! `sensor profile stop`, and the profile it returns runs the same workload under seccomp.
//! The sensor runs Falco's stable rules, none of which reads a chmod: the chmod family is
//! traced only while the recording runs, and the recording still sees the workload's.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{privileged, Cgroup, TempDir, SENSOR};

fn sensor(args: &[&str], socket: &std::path::Path) -> std::process::Output {
    Command::new(SENSOR)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .output()
        .expect("running sensor")
}

#[test]
fn records_a_running_container_through_the_api() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("profile-daemon");
    let socket = dir.path("sensor.sock");
    let id = format!(
        "{:0>64x}",
        0xfeed_0000_0000u64 + u64::from(std::process::id())
    );
    let cgroup = Cgroup::create(&format!(
        "sensor-test-daemon-{}/cri-containerd-{id}.scope",
        std::process::id()
    ));
    let mut run = Command::new(SENSOR)
        .args([
            "run",
            "--rules",
            "falco-stable",
            "--no-stdout",
            "--no-health",
            "--grpc-socket",
        ])
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sensor run");

    // Ready once the probe is loaded: `list` answers instead of "still loading".
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = sensor(&["profile", "list"], &socket);
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sensor never became ready: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = sensor(
        &["profile", "start", "web", "--container", &id[..12]],
        &socket,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        started["cgroup_ids"].as_array().map(Vec::len),
        Some(1),
        "{started}"
    );
    let again = sensor(&["profile", "start", "web", "--container", &id], &socket);
    assert!(
        !again.status.success(),
        "a second recording of the same name is refused"
    );
    let unknown = sensor(
        &["profile", "start", "x", "--container", "0123456789ab"],
        &socket,
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("0123456789ab"));

    // The workload, in the container's cgroup.
    let workload = "ls / > /dev/null; cat /proc/self/status > /dev/null; echo done";
    let chmodded = dir.path("chmodded");
    std::fs::write(&chmodded, b"x").unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{}; chmod 600 {}; {workload}",
            cgroup.enter_command(),
            chmodded.display()
        ))
        .output()
        .expect("workload");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "done");

    let got = sensor(&["profile", "get", "web"], &socket);
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).expect("JSON");
    let syscalls: Vec<&str> = got["syscalls"]
        .as_array()
        .expect("syscalls")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for wanted in ["execve", "openat", "write", "exit_group"] {
        assert!(
            syscalls.contains(&wanted),
            "{wanted} missing from {syscalls:?}"
        );
    }
    assert!(!syscalls.contains(&"ptrace"));

    let out_dir = dir.path("profiles");
    let stop = Command::new(SENSOR)
        .args(["profile", "stop", "web", "--out"])
        .arg(&out_dir)
        .arg("--socket")
        .arg(&socket)
        .output()
        .expect("stop");
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let profile = out_dir.join("web.seccomp.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile).expect("profile")).expect("JSON");
    assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
    for file in [
        "web.seccompprofile.yaml",
        "web.apparmor",
        "web.apparmorprofile.yaml",
    ] {
        assert!(out_dir.join(file).is_file(), "{file} written");
    }
    // The chmod family was attached for the recording: its chmod is in the AppArmor profile.
    let apparmor = std::fs::read_to_string(out_dir.join("web.apparmor")).expect("apparmor");
    assert!(
        apparmor.contains(&format!("{} w,", chmodded.display())),
        "{apparmor}"
    );
    let listed = sensor(&["profile", "list"], &socket);
    assert!(String::from_utf8_lossy(&listed.stdout).trim().is_empty());

    // The recorded profile runs the same workload (a fresh shell: the recording saw one).
    let verify = Command::new(SENSOR)
        .args(["profile", "verify"])
        .arg(&profile)
        .args(["--", "sh", "-c", workload])
        .output()
        .expect("verify");
    assert!(
        verify.status.success(),
        "the workload fails under its own profile: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&verify.stdout).trim(), "done");

    // SAFETY: kill has no memory preconditions; the pid is our own child's.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let status = run.wait().expect("wait");
    assert!(status.success());
    drop(cgroup);
}
