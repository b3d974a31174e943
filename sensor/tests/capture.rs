//! The kernel sensor against the real kernel: each syscall family triggered by real programs
//! produces exactly the expected event, with Falco's field names and the syscall's result.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use common::{privileged, python, run, Sensor, TempDir};
use serde_json::Value;

fn assert_success(e: &Value) {
    assert_eq!(e["evt.res"], "SUCCESS", "{e}");
    assert_eq!(e["evt.rawres"], 0, "{e}");
    assert_eq!(e["evt.failed"], false, "{e}");
}

#[test]
fn coreutils_chmod_setuid_bit() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("chmod");
    let file = dir.path("target");
    std::fs::write(&file, b"x").unwrap();
    let (pid, status) = run(Command::new("chmod").arg("u+s").arg(&file));
    assert!(status.success());
    // coreutils chmod calls fchmodat(AT_FDCWD, path, mode).
    let e = sensor.event_of(pid, "fchmodat");
    assert_success(&e);
    assert_eq!(e["evt.arg.dirfd"], -100);
    assert_eq!(e["evt.arg.filename"], file.to_str().unwrap());
    let mode = e["evt.rawarg.mode"].as_u64().unwrap();
    assert_eq!(mode & 0o4000, 0o4000, "{e}");
    assert!(
        e["evt.arg.mode"].as_str().unwrap().ends_with("|S_ISUID"),
        "{e}"
    );
    assert_eq!(e["proc.name"], "chmod");
    assert_eq!(e["proc.ppid"], std::process::id());
    // chmod's path is read at enter too (checked for a rewrite at exit): the call has a
    // latency, and an untouched path is not marked.
    assert!(e["evt.latency"].as_u64().is_some(), "{e}");
    assert!(e.get("evt.tampered").is_none(), "{e}");
    assert_eq!(e["user.uid"], 0);
    assert!(
        e["proc.cmdline"]
            .as_str()
            .unwrap()
            .starts_with("chmod u+s "),
        "{e}"
    );
    assert!(e["evt.rawtime"].as_u64().unwrap() > 1_600_000_000_000_000_000);
    assert!(e["evt.monotime"].as_u64().unwrap() > 0);
    assert!(e["proc.mnt_ns"].as_u64().unwrap() > 0);
    assert!(e["proc.pid_ns"].as_u64().unwrap() > 0);
}

#[test]
fn python_chmod_and_fchmod() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("pychmod");
    let file = dir.path("f");
    std::fs::write(&file, b"x").unwrap();
    let path = file.to_str().unwrap();
    // The fd stays open while python sleeps, so the agent can resolve it to the path.
    let (pid, _) = python(&format!(
        "import os, time\nos.chmod({path:?}, 0o4755)\nfd = os.open({path:?}, os.O_RDONLY)\nos.fchmod(fd, 0o640)\ntime.sleep(0.3)\n"
    ));
    let chmod = sensor.wait_for("python os.chmod", |e| {
        e["proc.pid"] == pid && (e["evt.type"] == "chmod" || e["evt.type"] == "fchmodat")
    });
    assert_success(&chmod);
    assert_eq!(chmod["evt.arg.filename"], path);
    assert_eq!(chmod["evt.rawarg.mode"], 0o4755);
    assert_eq!(
        chmod["evt.arg.mode"],
        "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
    );

    let fchmod = sensor.event_of(pid, "fchmod");
    assert_success(&fchmod);
    assert!(fchmod["evt.arg.fd"].as_i64().unwrap() >= 3, "{fchmod}");
    assert_eq!(fchmod["evt.rawarg.mode"], 0o640);
    assert_eq!(fchmod["evt.arg.mode"], "S_IRGRP|S_IWUSR|S_IRUSR");
    assert_eq!(fchmod["fd.name"], path);
}

#[test]
fn execve_with_arguments() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let (pid, status) = run(Command::new("/bin/true").args(["a", "b"]));
    assert!(status.success());
    let e = sensor.event_of(pid, "execve");
    assert_success(&e);
    assert_eq!(e["evt.arg.filename"], "/bin/true");
    assert_eq!(e["proc.name"], "true");
    assert_eq!(e["proc.exe"], "/bin/true");
    // The file the kernel mapped, canonical: /bin may be a symlink to /usr/bin.
    let canonical = std::fs::canonicalize("/bin/true").unwrap();
    assert_eq!(e["proc.exepath"], canonical.to_str().unwrap());
    assert_eq!(e["proc.args"], "a b");
    assert_eq!(
        e["proc.cwd"],
        std::env::current_dir().unwrap().to_str().unwrap()
    );
    // Same session as this test process (from /proc/self/stat: field 6 is the session id).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = stat.rsplit_once(") ").unwrap().1;
    let fields: Vec<&str> = after_comm.split(' ').collect();
    assert_eq!(e["proc.sid"].to_string(), fields[3], "{e}");
    assert_eq!(e["proc.tty"].to_string(), fields[4], "{e}");
    assert_eq!(e["proc.cmdline"], "true a b");
    assert_eq!(e["proc.ppid"], std::process::id());
    assert!(e.get("evt.truncated").is_none(), "{e}");
    // The caller's ids before the exec (no setuid image here, so they do not change).
    assert_eq!(e["caller.euid"], e["user.uid"]);
}

#[test]
fn execve_of_a_missing_path_fails_with_enoent() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let (pid, _) = python(
        "import os\ntry:\n    os.execv('/nonexistent/sensor-test-binary', ['nope', 'x'])\nexcept FileNotFoundError:\n    pass\n",
    );
    let e = sensor.wait_for("failed execve", |e| {
        // (Command's PATH search makes failed execs of its own before python starts.)
        e["proc.pid"] == pid
            && e["evt.type"] == "execve"
            && e["evt.arg.filename"] == "/nonexistent/sensor-test-binary"
    });
    assert_eq!(e["evt.res"], "ENOENT");
    assert_eq!(e["evt.rawres"], -2);
    assert_eq!(e["evt.failed"], true);
    assert_eq!(e["evt.arg.filename"], "/nonexistent/sensor-test-binary");
    // The process did not change: still python.
    assert!(
        e["proc.name"].as_str().unwrap().starts_with("python"),
        "{e}"
    );
}

#[test]
fn long_argv_is_marked_truncated() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let args: Vec<String> = (0..100)
        .map(|i| format!("argument-{i:03}-{}", "x".repeat(40)))
        .collect();
    let (pid, status) = run(Command::new("/bin/true").args(&args));
    assert!(status.success());
    let e = sensor.event_of(pid, "execve");
    let truncated: Vec<&str> = e["evt.truncated"]
        .as_array()
        .expect("evt.truncated present")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(truncated.contains(&"proc.cmdline"), "{e}");
    assert!(e["proc.args"]
        .as_str()
        .unwrap()
        .starts_with("argument-000-"));
}

#[test]
fn non_utf8_paths_survive_escaped() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("bytes");
    let mut name = dir.0.as_os_str().as_bytes().to_vec();
    name.extend_from_slice(b"/caf\xe9\\x");
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&name));
    std::fs::write(&path, b"x").unwrap();
    let (pid, status) = run(Command::new("chmod").arg("600").arg(&path));
    assert!(status.success());
    let e = sensor.event_of(pid, "fchmodat");
    let shown = e["evt.arg.filename"].as_str().unwrap();
    assert!(shown.ends_with("/caf\\xe9\\\\x"), "{shown}");
    let escaped: Vec<&str> = e["evt.escaped"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(escaped.contains(&"evt.arg.filename"), "{e}");
}

#[test]
fn mount_and_umount_tmpfs() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("mnt");
    let target = dir.path("m");
    std::fs::create_dir(&target).unwrap();
    let target_str = target.to_str().unwrap();
    let (mount_pid, status) = run(Command::new("mount").args([
        "-t",
        "tmpfs",
        "-o",
        "size=1m,nosuid",
        "sensortest",
        target_str,
    ]));
    assert!(status.success(), "mount failed");
    let (umount_pid, status) = run(Command::new("umount").arg(target_str));
    assert!(status.success(), "umount failed");

    // util-linux uses mount(2), or the new mount API from libmount 2.39 on.
    let mounted = sensor.wait_for("tmpfs mount", |e| {
        e["proc.pid"] == mount_pid
            && ((e["evt.type"] == "mount" && e["evt.arg.dir"] == target_str)
                || (e["evt.type"] == "move_mount" && e["evt.arg.to_path"] == target_str))
    });
    assert_success(&mounted);
    if mounted["evt.type"] == "mount" {
        assert_eq!(mounted["evt.arg.dev"], "sensortest");
        assert_eq!(mounted["evt.arg.type"], "tmpfs");
        assert!(
            mounted["evt.arg.flags"]
                .as_str()
                .unwrap()
                .contains("MS_NOSUID"),
            "{mounted}"
        );
    } else {
        let fsopen = sensor.event_of(mount_pid, "fsopen");
        assert_eq!(fsopen["evt.arg.fsname"], "tmpfs");
    }
    let umounted = sensor.event_of(umount_pid, "umount2");
    assert_success(&umounted);
    assert_eq!(umounted["evt.arg.name"], target_str);
}

#[test]
fn setresuid_and_failed_setuid_from_a_child() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let (pid, _) = python("import os\nos.setresgid(65534, 65534, 65534)\nos.setresuid(65534, 65534, 65534)\ntry:\n    os.setuid(0)\nexcept PermissionError:\n    pass\n");
    let setresgid = sensor.event_of(pid, "setresgid");
    assert_success(&setresgid);
    assert_eq!(setresgid["evt.arg.rgid"], 65534);
    assert_eq!(setresgid["caller.egid"], 0);

    let setresuid = sensor.event_of(pid, "setresuid");
    assert_success(&setresuid);
    assert_eq!(setresuid["evt.arg.ruid"], 65534);
    assert_eq!(setresuid["evt.arg.euid"], 65534);
    assert_eq!(setresuid["evt.arg.suid"], 65534);
    // The caller's ids before the call, and after it (the record is written at exit).
    assert_eq!(setresuid["caller.ruid"], 0);
    assert_eq!(setresuid["caller.euid"], 0);
    assert_eq!(setresuid["user.uid"], 65534);
    assert_eq!(setresuid["user.ruid"], 65534);
    assert_eq!(setresuid["group.gid"], 65534);
    assert_eq!(setresuid["group.rgid"], 65534);
    // An enter program ran for set*id calls, so the call's duration is known.
    assert!(setresuid["evt.latency"].as_u64().is_some(), "{setresuid}");

    let setuid = sensor.event_of(pid, "setuid");
    assert_eq!(setuid["evt.res"], "EPERM");
    assert_eq!(setuid["evt.rawres"], -1);
    assert_eq!(setuid["evt.arg.uid"], 0);
    assert_eq!(setuid["caller.euid"], 65534);
    assert_eq!(setuid["caller.suid"], 65534);
}

#[test]
fn setuid_to_unchanged_minus_one_is_shown_as_minus_one() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let (pid, _) = python("import os\nos.setreuid(-1, 0)\n");
    let e = sensor.event_of(pid, "setreuid");
    assert_success(&e);
    assert_eq!(e["evt.arg.ruid"], -1);
    assert_eq!(e["evt.arg.euid"], 0);
}

#[test]
fn fork_and_exit_of_our_processes() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let (pid, status) = run(Command::new("sh").args(["-c", "exit 3"]));
    assert_eq!(status.code(), Some(3));
    let exit = sensor.event_of(pid, "procexit");
    assert_eq!(exit["evt.arg.status"].as_u64().unwrap() >> 8, 3, "{exit}");
    sensor.wait_for("clone of the shell", |e| {
        e["evt.type"] == "clone" && e["evt.arg.pid"] == pid && e["proc.pid"] == std::process::id()
    });
}

#[test]
fn container_identity_and_user_names() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let id = format!("5e45{:08x}{}abcd", std::process::id(), "c0ffee42".repeat(6));
    assert_eq!(id.len(), 64);
    let cgroup = common::Cgroup::create(&format!(
        "sensor-test-{}.slice/cri-containerd-{id}.scope",
        std::process::id()
    ));
    let script = format!("{} && exec /bin/true in-container", cgroup.enter_command());
    let (pid, status) = run(Command::new("sh").args(["-c", &script]));
    assert!(status.success());
    let e = sensor.wait_for("exec in the container cgroup", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "execve" && e["proc.args"] == "in-container"
    });
    assert_eq!(e["container.id"], &id[..12]);
    assert_eq!(e["container.full_id"], id);
    assert_eq!(e["container.runtime"], "containerd");
    assert_eq!(e["user.name"], "root");
    assert_eq!(e["group.name"], "root");

    // A host process is `host`, and names follow the effective ids.
    let (pid, _) =
        python("import os\nos.setresgid(65534, 65534, 65534)\nos.setresuid(65534, 65534, 65534)\n");
    let setresuid = sensor.event_of(pid, "setresuid");
    assert_eq!(setresuid["container.id"], "host");
    assert_eq!(setresuid["user.name"], "nobody");
}

#[test]
fn exec_from_a_memory_file() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    // The image sleeps a little so that its /proc entry is still there when the agent looks.
    let (pid, _) = python(
        "import os, shutil\nfd = os.memfd_create('payload', 0)\nwith open('/bin/sleep', 'rb') as src:\n    os.write(fd, src.read())\nos.execv(f'/proc/self/fd/{fd}', ['payload', '0.5'])\n",
    );
    let e = sensor.wait_for("exec of a memfd", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "execve" && e["proc.exe"] == "payload"
    });
    assert_eq!(e["evt.res"], "SUCCESS");
    assert_eq!(e["proc.is_exe_from_memfd"], true, "{e}");
    assert!(
        e["proc.exepath"]
            .as_str()
            .unwrap()
            .starts_with("/memfd:payload"),
        "{e}"
    );
}

#[test]
fn controlling_terminal_and_session() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("tty");
    let stat = dir.path("stat");
    // script(1) runs the command in a new session on a pseudo-terminal.
    let inner = format!(
        "cat /proc/self/stat > {}; exec /bin/true tty-test",
        stat.display()
    );
    let (_, status) =
        run(Command::new("script").args(["-qc", &format!("sh -c '{inner}'"), "/dev/null"]));
    assert!(status.success());
    let e = sensor.wait_for("exec on a terminal", |e| {
        e["evt.type"] == "execve" && e["proc.args"] == "tty-test"
    });
    let text = std::fs::read_to_string(&stat).unwrap();
    let fields: Vec<&str> = text.rsplit_once(") ").unwrap().1.split(' ').collect();
    // cat shares the session and terminal of the shell that then exec'd /bin/true.
    assert_eq!(e["proc.sid"].to_string(), fields[3], "{e}");
    assert_eq!(e["proc.tty"].to_string(), fields[4], "{e}");
    assert_ne!(e["proc.tty"], 0, "{e}");
}

#[test]
fn user_names_come_from_the_containers_own_passwd() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("passwd");
    let passwd = dir.path("passwd");
    std::fs::write(
        &passwd,
        "root:x:0:0::/root:/bin/sh\nappuser:x:4242:4242::/app:/bin/sh\n",
    )
    .unwrap();
    let group = dir.path("group");
    std::fs::write(&group, "root:x:0:\nappgroup:x:4242:\n").unwrap();
    let id = format!("a55e{:08x}{}abcd", std::process::id(), "77aa88bb".repeat(6));
    assert_eq!(id.len(), 64);
    let cgroup = common::Cgroup::create(&format!(
        "sensor-test-{}-names.slice/cri-containerd-{id}.scope",
        std::process::id()
    ));
    // A mount namespace of its own where /etc/passwd and /etc/group are the "image's"; the
    // program lingers so that the agent can read its root (2 s: with 0.5 s a loaded machine's
    // resolver sometimes came after the namespace was gone, and the names were unknown).
    let script = format!(
        "mount --bind {} /etc/passwd && mount --bind {} /etc/group && {} && exec setpriv --reuid=4242 --regid=4242 --clear-groups sleep 2",
        passwd.display(),
        group.display(),
        cgroup.enter_command()
    );
    let (pid, status) =
        run(Command::new("unshare").args(["-m", "--propagation", "private", "sh", "-c", &script]));
    assert!(status.success());
    let e = sensor.wait_for("exec in the container's own root", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "execve" && e["proc.name"] == "sleep"
    });
    assert_eq!(e["user.uid"], 4242, "{e}");
    assert_eq!(e["user.name"], "appuser", "{e}");
    assert_eq!(e["group.name"], "appgroup", "{e}");
    assert_eq!(e["container.id"], &id[..12]);
}
