//! The default rules with the real sensor: each scenario raises exactly its rule, and its
//! benign twin raises none.
//!
//! "None" needs a point by which the benign events have surely been evaluated: after each
//! benign action a sentinel (setting a setuid bit from the host) runs, and once its alert is
//! in, everything before it has been through the rules, because events are handled in order.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{privileged, python, run, Cgroup, Sensor, TempDir};

const SHELL: &str = "Shell Spawned in a Container";
const SETUID_BIT: &str = "Setuid or Setgid Bit Set on a File";
const SETUID_ROOT: &str = "Non-Root Process Setuid to Root";
const MOUNT: &str = "Sensitive Mount from a Container";
const TMP_EXEC: &str = "Execution from a Temporary Directory or Memory";
const SUID_ESCALATION: &str = "Privilege Escalation via Setuid Binary";
const PACKAGE_MANAGER: &str = "Package Manager Run in a Container";
const DRIFT: &str = "Executable Bit Set in a Container";

/// Checks that `pid` raised exactly `rules` (in any order).
fn assert_exactly(sensor: &Sensor, pid: u32, rules: &[&str]) {
    for rule in rules {
        sensor.alert_of(pid, rule);
    }
    sentinel(sensor);
    let mut got: Vec<String> = sensor
        .alerts_of(pid)
        .iter()
        .map(|a| a["rule"].as_str().unwrap_or_default().to_string())
        .collect();
    got.sort();
    got.dedup();
    let mut want: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "alerts for pid {pid}");
}

/// Runs the sentinel and waits for its alert.
fn sentinel(sensor: &Sensor) {
    let dir = TempDir::new("sentinel");
    let file = dir.path("sentinel");
    std::fs::write(&file, b"x").unwrap();
    let (pid, status) = run(Command::new("chmod").arg("u+s").arg(&file));
    assert!(status.success());
    sensor.alert_of(pid, SETUID_BIT);
}

/// A cgroup named like a containerd container's, unique to this test.
fn container(tag: &str) -> Cgroup {
    common::containerd_cgroup(tag)
}

/// Runs `script` with sh inside `cgroup`; returns the shell's pid.
fn in_container(cgroup: &Cgroup, script: &str) -> u32 {
    let (pid, status) =
        run(Command::new("sh").args(["-c", &format!("{} && {script}", cgroup.enter_command())]));
    assert!(status.success(), "script failed: {script}");
    pid
}

/// A scratch directory outside /tmp (so that running binaries from it is not itself alerted).
fn var_dir(tag: &str) -> TempDir {
    let dir =
        std::path::PathBuf::from(format!("/var/lib/sensor-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[test]
fn shell_in_a_container() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let cgroup = container("0001");
    let pid = in_container(&cgroup, "exec sh -c 'exit 0'");
    assert_exactly(sensor, pid, &[SHELL]);
    // Benign: a non-shell program in the container, and a shell on the host.
    let pid = in_container(&cgroup, "exec /bin/true");
    assert_exactly(sensor, pid, &[]);
    let (pid, _) = run(Command::new("sh").args(["-c", "exec sh -c 'exit 0'"]));
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn setuid_bit_on_a_file() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = TempDir::new("suidbit");
    let file = dir.path("f");
    std::fs::write(&file, b"x").unwrap();
    let (pid, _) = run(Command::new("chmod").arg("g+s").arg(&file));
    assert_exactly(sensor, pid, &[SETUID_BIT]);
    let (pid, _) = run(Command::new("chmod").arg("644").arg(&file));
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn non_root_setuid_to_root() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    // Keeps a saved uid of 0 while running as nobody, then takes root back.
    let (pid, _) = python("import os\nos.setresuid(65534, 65534, 0)\nos.setresuid(0, 0, 0)\n");
    assert_exactly(sensor, pid, &[SETUID_ROOT]);
    // Benign: root setting its own uid.
    let (pid, _) = python("import os\nos.setuid(0)\n");
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn sensitive_mount_from_a_container() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let cgroup = container("0002");
    let dir = TempDir::new("mnt");
    let target = dir.path("m");
    std::fs::create_dir(&target).unwrap();
    let target = target.to_str().unwrap().to_string();
    let pid = in_container(
        &cgroup,
        &format!("mount -t proc proc {target}; umount {target}"),
    );
    // The shell runs mount(8) as a child: the alert is the child's.
    let alert = sensor.wait_for("proc mount alert", |a| {
        a["rule"] == MOUNT && a["output_fields"]["proc.ppid"] == pid
    });
    let mount_pid = alert["output_fields"]["proc.pid"].as_u64().unwrap() as u32;
    assert_exactly(sensor, mount_pid, &[MOUNT]);
    assert_eq!(alert["priority"], "Critical");
    assert!(
        alert["output"].as_str().unwrap().contains("fstype=proc"),
        "{alert}"
    );

    // Benign: tmpfs in a container, proc on the host.
    let pid = in_container(&cgroup, &format!("exec mount -t tmpfs tmpfs {target}"));
    let _ = Command::new("umount").arg(&target).status();
    assert_exactly(sensor, pid, &[]);
    let (pid, status) = run(Command::new("mount").args(["-t", "proc", "proc", &target]));
    assert!(status.success());
    let _ = Command::new("umount").arg(&target).status();
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn execution_from_tmp_and_memory() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = TempDir::new("tmpexec");
    let payload = dir.path("payload");
    std::fs::copy("/bin/true", &payload).unwrap();
    let (pid, status) = run(&mut Command::new(&payload));
    assert!(status.success());
    assert_exactly(sensor, pid, &[TMP_EXEC]);

    let (pid, _) = python(
        "import os\nfd = os.memfd_create('payload', 0)\nwith open('/bin/sleep', 'rb') as src:\n    os.write(fd, src.read())\nos.execv(f'/proc/self/fd/{fd}', ['payload', '0.5'])\n",
    );
    assert_exactly(sensor, pid, &[TMP_EXEC]);

    let (pid, _) = run(&mut Command::new("/bin/true"));
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn escalation_through_a_setuid_binary() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = var_dir("suid");
    let escalate = dir.path("escalate");
    std::fs::copy("/usr/bin/id", &escalate).unwrap();
    std::fs::set_permissions(&escalate, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    let (pid, status) = run(Command::new("setpriv").args(nobody).arg(&escalate));
    assert!(status.success());
    assert_exactly(sensor, pid, &[SUID_ESCALATION]);
    // Benign: the same user running a program that is not setuid.
    let (pid, status) = run(Command::new("setpriv").args(nobody).arg("/usr/bin/id"));
    assert!(status.success());
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn package_manager_in_a_container() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = var_dir("pkg");
    let apt = dir.path("apt-get");
    std::fs::copy("/bin/true", &apt).unwrap();
    let cgroup = container("0003");
    let pid = in_container(&cgroup, &format!("exec {} install curl", apt.display()));
    assert_exactly(sensor, pid, &[PACKAGE_MANAGER]);
    // Benign: the same program on the host.
    let (pid, _) = run(Command::new(&apt).args(["install", "curl"]));
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn executable_bit_in_a_container() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = TempDir::new("drift");
    let file = dir.path("dropped");
    std::fs::write(&file, b"#!/bin/sh\n").unwrap();
    let cgroup = container("0004");
    let pid = in_container(&cgroup, &format!("exec chmod 755 {}", file.display()));
    assert_exactly(sensor, pid, &[DRIFT]);
    // Benign: a mode without execute bits in the container, and 755 on the host.
    let pid = in_container(&cgroup, &format!("exec chmod 644 {}", file.display()));
    assert_exactly(sensor, pid, &[]);
    let (pid, _) = run(Command::new("chmod").arg("755").arg(&file));
    assert_exactly(sensor, pid, &[]);
}

#[test]
fn alerts_carry_falcos_keys() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = TempDir::new("keys");
    let file = dir.path("f");
    std::fs::write(&file, b"x").unwrap();
    let (pid, _) = run(Command::new("chmod").arg("4755").arg(&file));
    let alert = sensor.alert_of(pid, SETUID_BIT);
    for key in [
        "time",
        "rule",
        "priority",
        "source",
        "hostname",
        "output",
        "output_fields",
        "tags",
    ] {
        assert!(alert.get(key).is_some(), "missing {key}: {alert}");
    }
    assert_eq!(alert["source"], "syscall");
    assert_eq!(alert["priority"], "Notice");
    assert_eq!(
        alert["output_fields"]["evt.arg.filename"],
        file.to_str().unwrap()
    );
    assert_eq!(alert["output_fields"]["user.name"], "root");
    let tags: Vec<&str> = alert["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tags.contains(&"T1548.001"), "{tags:?}");
}
