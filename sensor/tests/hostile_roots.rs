//! A process in a mount namespace of its own controls what the sensor finds in its root. A
//! FIFO, `/dev/zero`, a huge sparse file, a directory or an escaping symlink where its
//! `/etc/passwd` should be must neither stall the pipeline (a host `chmod` right after is
//! still reported within 2 s), nor fill the sensor's memory, nor make it read a host file.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{privileged, run, Sensor, TempDir};

/// The DaemonSet's memory limit (deploy/).
const MEMORY_LIMIT_KIB: u64 = 256 * 1024;

/// Starts `script` in a private mount namespace; it ends with an exec the sensor resolves
/// names for, and lingers so that its root can be read. (No setpriv: it would itself block
/// on the FIFO.)
fn in_own_namespace(script: &str) -> Child {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare")
}

/// After the hostile process has exec'd (so the sensor has looked at its root), a host chmod
/// must be reported within 2 s.
fn pipeline_still_flows(sensor: &Sensor, hostile: &mut Child, what: &str) {
    let pid = hostile.id();
    let exec = sensor.wait_for(&format!("the exec behind {what}"), |e| {
        e["proc.pid"] == pid && e["evt.type"] == "execve" && e["proc.name"] == "sleep"
    });
    // The sensor must not have taken a name from a file it should not have read.
    assert!(
        exec.get("user.name").is_none_or(|n| n != "hostonly"),
        "{what}: a host file was read: {exec}"
    );
    let dir = TempDir::new("hostile-chmod");
    let file = dir.path("f");
    std::fs::write(&file, b"x").unwrap();
    let asked = Instant::now();
    let (chmod, status) = run(Command::new("chmod").arg("600").arg(&file));
    assert!(status.success());
    sensor.event_of(chmod, "fchmodat");
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "{what}: the host chmod took {took:?}"
    );
    let peak = common::status_kib(sensor.pid(), "VmHWM");
    assert!(
        peak < MEMORY_LIMIT_KIB,
        "{what}: the sensor's peak RSS is {peak} KiB"
    );
    eprintln!("{what}: host chmod reported in {took:?}; sensor peak RSS {peak} KiB");
    let _ = hostile.kill();
    let _ = hostile.wait();
}

const LINGER: &str = "exec sleep 3";

#[test]
fn hostile_passwd_files_neither_stall_nor_fill_nor_escape() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("hostile-roots");

    let fifo = dir.path("fifo");
    assert!(run(Command::new("mkfifo").arg(&fifo)).1.success());
    let sparse = dir.path("sparse");
    assert!(
        run(Command::new("truncate").args(["-s", "4G"]).arg(&sparse))
            .1
            .success()
    );
    for (what, source) in [
        ("a FIFO", fifo.display().to_string()),
        ("/dev/zero", "/dev/zero".to_string()),
        ("a 4 GiB sparse file", sparse.display().to_string()),
    ] {
        let mut hostile = in_own_namespace(&format!(
            "mount --bind {source} /etc/passwd && mount --bind {source} /etc/group && {LINGER}"
        ));
        pipeline_still_flows(sensor, &mut hostile, what);
    }

    // A root of its own (chroot) whose /etc/passwd is a symlink to an absolute path that
    // exists only on the host, or a directory.
    let marker = std::path::PathBuf::from(format!("/sensor-test-hostonly-{}", std::process::id()));
    std::fs::write(&marker, "hostonly:x:0:0::/:/bin/sh\n").unwrap();
    for (what, make_passwd) in [
        ("a symlink out of the root", "symlink"),
        ("a directory", "directory"),
    ] {
        let root = TempDir::new(&format!("hostile-root-{make_passwd}"));
        for (from, to) in [
            ("/usr/bin/sleep", "sleep"),
            (
                "/lib/x86_64-linux-gnu/libc.so.6",
                "lib/x86_64-linux-gnu/libc.so.6",
            ),
            ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
        ] {
            let to = root.path(to);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {from}: {e}"));
        }
        std::fs::create_dir_all(root.path("etc")).unwrap();
        match make_passwd {
            "symlink" => {
                std::os::unix::fs::symlink(&marker, root.path("etc/passwd")).unwrap();
                std::os::unix::fs::symlink(&marker, root.path("etc/group")).unwrap();
            }
            _ => {
                std::fs::create_dir_all(root.path("etc/passwd")).unwrap();
                std::fs::create_dir_all(root.path("etc/group")).unwrap();
            }
        }
        let mut hostile = in_own_namespace(&format!("exec chroot {} /sleep 3", root.0.display()));
        pipeline_still_flows(sensor, &mut hostile, what);
    }
    let _ = std::fs::remove_file(&marker);
}
