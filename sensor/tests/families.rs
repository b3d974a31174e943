//! The families Falco's rules need beyond exec, chmod, mount and set*id — links, renames,
//! removals and directories; ptrace, namespaces, memory files, userfaultfd and bpf; sockets;
//! dup — each made by a real process, each event carrying Falco's argument names and
//! renderings (libscap's event table and flag tables).

mod common;

use common::{privileged, python, Sensor, TempDir};
use serde_json::Value;

/// Runs `code` (Python, with `libc` from ctypes) and returns its pid.
fn act(code: &str) -> u32 {
    let (pid, _) = python(&format!(
        "import ctypes, os, socket, time\nlibc = ctypes.CDLL(None, use_errno=True)\n{code}\n"
    ));
    pid
}

fn arg<'a>(e: &'a Value, name: &str) -> &'a Value {
    &e[format!("evt.arg.{name}")]
}

#[test]
fn links_renames_removals_and_directories() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("families-file");
    let d = dir.0.display();
    let pid = act(&format!(
        "d = os.open('{d}', os.O_RDONLY)
os.mkdir('sub', 0o755, dir_fd=d)
os.symlink('/etc/hostname', 'link', dir_fd=d)
open('{d}/file', 'w').close()
os.link('file', 'hard', src_dir_fd=d, dst_dir_fd=d, follow_symlinks=True)
libc.syscall(316, d, b'hard', d, b'moved', 1)
os.unlink('moved', dir_fd=d)
os.rmdir('{d}/sub')
os.unlink('link', dir_fd=d)"
    ));
    let e = sensor.event_of(pid, "mkdirat");
    assert_eq!(e["evt.res"], "SUCCESS", "{e}");
    assert_eq!(arg(&e, "path"), "sub");
    assert_eq!(
        arg(&e, "mode"),
        "1ED",
        "Falco shows mkdir's mode in hex: {e}"
    );
    assert_eq!(e["evt.rawarg.mode"], 0o755);
    let e = sensor.event_of(pid, "symlinkat");
    assert_eq!(arg(&e, "target"), "/etc/hostname");
    assert_eq!(arg(&e, "linkpath"), "link");
    assert!(
        arg(&e, "linkdirfd").as_i64().is_some_and(|fd| fd >= 0),
        "{e}"
    );
    let e = sensor.event_of(pid, "linkat");
    assert_eq!(arg(&e, "oldpath"), "file");
    assert_eq!(arg(&e, "newpath"), "hard");
    assert_eq!(arg(&e, "flags"), "AT_SYMLINK_FOLLOW", "{e}");
    let e = sensor.event_of(pid, "renameat2");
    assert_eq!(arg(&e, "oldpath"), "hard");
    assert_eq!(arg(&e, "newpath"), "moved");
    assert_eq!(arg(&e, "flags"), "RENAME_NOREPLACE", "{e}");
    // The last call: once its event is in, both unlinks are.
    sensor.wait_for("the unlink of link", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "unlinkat" && arg(e, "name") == "link"
    });
    let unlinks: Vec<Value> = sensor
        .events_of(pid)
        .into_iter()
        .filter(|e| e["evt.type"] == "unlinkat")
        .collect();
    assert_eq!(unlinks.len(), 2, "{unlinks:#?}");
    assert_eq!(arg(&unlinks[0], "name"), "moved");
    assert_eq!(arg(&unlinks[0], "flags"), "0");
    let e = sensor.event_of(pid, "rmdir");
    assert_eq!(arg(&e, "path").as_str(), Some(format!("{d}/sub").as_str()));
    // A failed call is an event too, with its errno.
    let pid = act(&format!("libc.syscall(263, -100, b'{d}/none', 0x200)"));
    let e = sensor.event_of(pid, "unlinkat");
    assert_eq!(e["evt.res"], "ENOENT", "{e}");
    assert_eq!(arg(&e, "flags"), "AT_REMOVEDIR");
}

#[test]
fn ptrace_namespaces_memory_files_and_bpf() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let pid = act("child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
libc.ptrace(16, child, 0, 0)
os.waitpid(child, 0)
libc.ptrace(0x4206, 999999, 0, 0)
libc.ptrace(17, child, 0, 0)
os.kill(child, 9)
os.waitpid(child, 0)
fd = os.open('/proc/self/ns/uts', os.O_RDONLY)
libc.setns(fd, 0x04000000)
libc.memfd_create(b'payload', 1)
libc.syscall(323, os.O_CLOEXEC | os.O_NONBLOCK)
libc.syscall(321, 11, 0, 0)
libc.syscall(425, 8, ctypes.create_string_buffer(120))
time.sleep(0.3)
# Last: in a user namespace of its own the process has no capability left on the host.
libc.unshare(0x10000000)");
    let ptraces: Vec<Value> = sensor
        .events_of(pid)
        .into_iter()
        .filter(|e| e["evt.type"] == "ptrace")
        .collect();
    let requests: Vec<&Value> = ptraces.iter().map(|e| arg(e, "request")).collect();
    assert!(
        requests.starts_with(&[
            &Value::from("PTRACE_ATTACH"),
            &Value::from("PTRACE_SEIZE"),
            &Value::from("PTRACE_DETACH")
        ]),
        "{ptraces:#?}"
    );
    assert!(arg(&ptraces[0], "pid").as_i64().is_some_and(|p| p > 0));
    assert_eq!(ptraces[1]["evt.res"], "ESRCH", "{:#}", ptraces[1]);
    let e = sensor.event_of(pid, "unshare");
    assert_eq!(arg(&e, "flags"), "CLONE_NEWUSER", "{e}");
    let e = sensor.event_of(pid, "setns");
    assert_eq!(arg(&e, "nstype"), "CLONE_NEWUTS", "{e}");
    assert!(
        e["fd.name"]
            .as_str()
            .is_some_and(|n| n.starts_with("uts:[")),
        "the fd resolved to its namespace: {e}"
    );
    let e = sensor.event_of(pid, "memfd_create");
    assert_eq!(arg(&e, "name"), "payload");
    assert_eq!(arg(&e, "flags"), "MFD_CLOEXEC");
    assert!(e["evt.rawres"].as_i64().is_some_and(|fd| fd >= 0), "{e}");
    let e = sensor.event_of(pid, "userfaultfd");
    assert_eq!(arg(&e, "flags"), "O_NONBLOCK|O_CLOEXEC", "{e}");
    let e = sensor.event_of(pid, "bpf");
    assert_eq!(arg(&e, "cmd"), "BPF_PROG_GET_NEXT_ID", "{e}");
    // Whether or not this kernel allows io_uring, the attempt to set one up is seen.
    let e = sensor.event_of(pid, "io_uring_setup");
    assert_eq!(arg(&e, "entries"), 8, "{e}");
}

#[test]
fn sockets_and_duplicated_descriptors() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let pid = act("s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, 0)
libc.dup2(s.fileno(), 100)
libc.dup3(s.fileno(), 101, os.O_CLOEXEC)
libc.dup(s.fileno())
libc.socket(17, 3, 0)
time.sleep(0.3)");
    let sockets: Vec<Value> = sensor
        .events_of(pid)
        .into_iter()
        .filter(|e| e["evt.type"] == "socket")
        .collect();
    let inet6 = sockets
        .iter()
        .find(|e| arg(e, "domain") == "AF_INET6")
        .unwrap_or_else(|| panic!("no AF_INET6 socket in {sockets:#?}"));
    // Python asks for SOCK_CLOEXEC too: the type is the kernel's number as passed.
    assert_eq!(
        arg(inet6, "type").as_u64().map(|t| t & 0xf),
        Some(2),
        "{inet6}"
    );
    assert_eq!(inet6["evt.rawarg.domain"], 10);
    let packet = sockets
        .iter()
        .find(|e| arg(e, "domain") == "AF_PACKET")
        .unwrap_or_else(|| panic!("no AF_PACKET socket in {sockets:#?}"));
    assert_eq!(packet["evt.res"], "SUCCESS", "{packet}");
    // (The spawning child's own dup2s of stdio, before its exec, are events of this pid too.)
    let e = sensor.wait_for("dup2 to 100", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "dup2" && e["evt.arg.newfd"] == 100
    });
    assert_eq!(e["evt.rawres"], 100);
    assert_eq!(arg(&e, "newfd"), 100);
    assert!(
        e["fd.name"]
            .as_str()
            .is_some_and(|n| n.starts_with("socket:[")),
        "dup's fd.name is the duplicated descriptor's: {e}"
    );
    let e = sensor.event_of(pid, "dup3");
    assert_eq!(arg(&e, "flags"), "O_CLOEXEC");
    let e = sensor.event_of(pid, "dup");
    assert!(e["evt.rawres"].as_i64().is_some_and(|fd| fd >= 3), "{e}");
}

#[test]
fn families_limit_what_events_shows_and_traces() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::events_with(&["--families", "file"]);
    let dir = TempDir::new("families-only");
    let d = dir.0.display();
    let pid = act(&format!(
        "os.mkdir('{d}/x')\nos.chmod('{d}/x', 0o700)\nos.rmdir('{d}/x')"
    ));
    sensor.event_of(pid, "mkdir");
    sensor.event_of(pid, "rmdir");
    let others: Vec<Value> = sensor
        .events_of(pid)
        .into_iter()
        .filter(|e| {
            !matches!(
                e["evt.type"].as_str(),
                Some(
                    "mkdir"
                        | "rmdir"
                        | "unlink"
                        | "unlinkat"
                        | "rename"
                        | "renameat"
                        | "renameat2"
                        | "mkdirat"
                        | "symlink"
                        | "symlinkat"
                        | "link"
                        | "linkat"
                )
            )
        })
        .collect();
    assert!(
        others.is_empty(),
        "only the file family is shown: {others:#?}"
    );
    let summary = sensor.stop_for_summary();
    assert!(summary.contains("lost 0"), "{summary}");
}
