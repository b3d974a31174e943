//! Falco's stable rules, unmodified (`--rules falco-stable`), against the actions of
//! falcosecurity/event-generator that trigger them, ported to this test (Python through
//! ctypes where the action is a bare syscall). Each action raises its rule; its benign twin,
//! the same call with an innocent argument or outside a container, raises none.
//!
//! Falco's outputs carry no `proc.pid`, so each action's command line holds a marker of its
//! own, and alerts are told apart by `output_fields["proc.cmdline"]`. "None" is checked
//! after a sentinel alert has come in (events are handled in order).

mod common;

use std::process::Command;
use std::sync::OnceLock;

use common::apiserver::ApiServer;
use common::{containerd_cgroup, privileged, Cgroup, Sensor, TempDir};
use serde_json::Value;

const SYMLINK: &str = "Create Symlink Over Sensitive Files";
const HARDLINK: &str = "Create Hardlink Over Sensitive Files";
const PTRACE_ATTACH: &str = "PTRACE attached to process";
const PTRACE_ANTI_DEBUG: &str = "PTRACE anti-debug attempt";
const PACKET_SOCKET: &str = "Packet socket created in container";
const MODULE: &str = "Linux Kernel Module Injection Detected";
const DEBUGFS: &str = "Debugfs Launched in Privileged Container";
const SENSITIVE_UNTRUSTED: &str = "Read sensitive file untrusted";
const SENSITIVE_AFTER_STARTUP: &str = "Read sensitive file trusted after startup";
const TRAVERSAL: &str = "Directory traversal monitored file read";
const CLEAR_LOG: &str = "Clear Log Activities";
const RELEASE_AGENT: &str = "Detect release_agent File Container Escapes";
const REDIRECT: &str = "Redirect STDOUT/STDIN to Network Connection in Container";
const SSH_NON_STANDARD: &str = "Disallowed SSH Connection Non Standard Port";
const DROP_AND_EXECUTE: &str = "Drop and execute new binary in container";
const K8S_API: &str = "Contact K8S API Server From Container";
const RUN_SHELL_UNTRUSTED: &str = "Run shell untrusted";
const SYSTEM_USER_INTERACTIVE: &str = "System user interactive";
const TERMINAL_SHELL: &str = "Terminal shell in container";
const NETCAT: &str = "Netcat Remote Code Execution in Container";
const PRIVATE_KEYS: &str = "Search Private Keys or Passwords";
const REMOVE_BULK_DATA: &str = "Remove Bulk Data from Disk";
const AWS_CREDENTIALS: &str = "Find AWS Credentials";
const DEV_SHM: &str = "Execution from /dev/shm";
const FILELESS: &str = "Fileless execution via memfd_create";

/// The test binary's `sensor run --rules falco-stable`, left running until it exits.
fn sensor() -> &'static Sensor {
    static SENSOR: OnceLock<Sensor> = OnceLock::new();
    SENSOR.get_or_init(|| Sensor::alerts_with(&["--rules", "falco-stable"]).stopped_at_exit())
}

/// Runs `code` with Python (in `cgroup` if given), its command line marked with `marker`;
/// returns the marker. The code may fail: failed calls are events too.
fn act(marker: &str, cgroup: Option<&Cgroup>, code: &str) -> String {
    let marker = format!("{marker}-{}", std::process::id());
    let script = format!("# {marker}\nimport ctypes, os, socket, sys, tempfile, time\nlibc = ctypes.CDLL(None, use_errno=True)\n{code}\n");
    let enter = cgroup.map_or_else(|| "true".to_string(), Cgroup::enter_command);
    let status = Command::new("sh")
        .args(["-c", &format!("{enter} && exec python3 -c \"$0\""), &script])
        .status()
        .expect("sh");
    assert!(status.success(), "action {marker} failed");
    marker
}

fn has_marker(alert: &Value, marker: &str) -> bool {
    alert["output_fields"]["proc.cmdline"]
        .as_str()
        .is_some_and(|c| c.contains(marker))
}

/// Waits for `rule` raised by the action marked `marker`.
fn assert_raised(rule: &str, marker: &str) -> Value {
    raised_on(sensor(), rule, marker)
}

fn raised_on(sensor: &Sensor, rule: &str, marker: &str) -> Value {
    sensor.wait_for(&format!("`{rule}` for {marker}"), |a| {
        a["rule"] == rule && has_marker(a, marker)
    })
}

/// Checks that the action marked `marker` raised nothing, once a later sentinel's alert is in.
fn assert_quiet(marker: &str) {
    quiet_on(sensor(), marker)
}

fn quiet_on(sensor: &Sensor, marker: &str) {
    let sentinel = act("sentinel", None, TRACEME);
    raised_on(sensor, PTRACE_ANTI_DEBUG, &sentinel);
    let raised: Vec<Value> = sensor
        .alerts()
        .into_iter()
        .filter(|a| has_marker(a, marker))
        .collect();
    assert!(raised.is_empty(), "{marker} raised {raised:#?}");
}

/// Checks that the action marked `marker` did not raise `rule` (it may raise others), once a
/// later sentinel's alert is in.
fn assert_not_raised(rule: &str, marker: &str) {
    let sentinel = act("sentinel", None, TRACEME);
    raised_on(sensor(), PTRACE_ANTI_DEBUG, &sentinel);
    let raised: Vec<Value> = sensor()
        .alerts()
        .into_iter()
        .filter(|a| a["rule"] == rule && has_marker(a, marker))
        .collect();
    assert!(raised.is_empty(), "{marker} raised {raised:#?}");
}

/// The id a containerd cgroup of `containerd_cgroup` names, as its pod's status carries it.
fn container_id(cgroup: &Cgroup) -> String {
    let name = cgroup.0.file_name().unwrap().to_str().unwrap();
    name.trim_start_matches("cri-containerd-")
        .trim_end_matches(".scope")
        .to_string()
}

/// Runs `binary` in `cgroup` with a marker of `tag` as its argument (exec'd, so the marker
/// is its command line), checks it succeeded and returns the marker.
fn exec_in(cgroup: &Cgroup, binary: &std::path::Path, tag: &str) -> String {
    let marker = format!("{tag}-{}", std::process::id());
    let script = format!(
        "{} && exec {} {marker}",
        cgroup.enter_command(),
        binary.display()
    );
    let status = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(status.success());
    marker
}

/// A `sensor run --rules falco-stable` of the caller's own in a mount namespace of its own,
/// set up by the shell commands `setup` (bind mounts over what the sensor should see), so
/// nothing of the machine's changes.
fn stable_in_own_mount_namespace(setup: &str) -> Sensor {
    let script = format!("{setup} && exec \"$0\" \"$@\"");
    let wrapper = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--fork",
        "--kill-child=SIGTERM",
        "--",
        "sh",
        "-c",
        &script,
    ];
    Sensor::alerts_under(&wrapper, &["--rules", "falco-stable"])
}

/// PTRACE_TRACEME in a child, which exits at once (its tracer, the Python parent, reaps it).
const TRACEME: &str = "pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, 0, 0)
    os._exit(0)
os.waitpid(pid, 0)";

#[test]
fn symlink_over_a_sensitive_file() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-symlink");
    let code = |target: &str| {
        format!(
            "os.symlink('{target}', '{}')",
            dir.path(&target.replace('/', "_")).display()
        )
    };
    let marker = act("symlink-shadow", None, &code("/etc/shadow"));
    let alert = assert_raised(SYMLINK, &marker);
    assert_eq!(alert["output_fields"]["evt.arg.target"], "/etc/shadow");
    assert_eq!(alert["output_fields"]["evt.type"], "symlink");
    // symlinkat, and a sensitive directory.
    let marker = act(
        "symlinkat-etc",
        None,
        &format!(
            "os.symlink('/etc', 'etc-link', dir_fd=os.open('{}', os.O_RDONLY))",
            dir.0.display()
        ),
    );
    let alert = assert_raised(SYMLINK, &marker);
    assert_eq!(alert["output_fields"]["evt.type"], "symlinkat");
    assert_eq!(alert["output_fields"]["evt.arg.linkpath"], "etc-link");
    let marker = act("symlink-hostname", None, &code("/etc/hostname"));
    assert_quiet(&marker);
}

#[test]
fn hardlink_over_a_sensitive_file() {
    if !privileged() {
        return;
    }
    sensor();
    // A link beside /etc/shadow on its own filesystem would succeed; the rule fires on the
    // attempt whatever its result, so a scratch directory (maybe another filesystem) does.
    let dir = TempDir::new("falco-hardlink");
    let code = |target: &str| {
        format!(
            "try:\n    os.link('{target}', '{}')\nexcept OSError:\n    pass",
            dir.path("link").display()
        )
    };
    let marker = act("hardlink-shadow", None, &code("/etc/shadow"));
    let alert = assert_raised(HARDLINK, &marker);
    assert_eq!(alert["output_fields"]["evt.arg.oldpath"], "/etc/shadow");
    let _ = std::fs::remove_file(dir.path("link"));
    let marker = act("hardlink-hostname", None, &code("/etc/hostname"));
    assert_quiet(&marker);
}

#[test]
fn ptrace_attach_and_anti_debug() {
    if !privileged() {
        return;
    }
    sensor();
    // Attach to a child of our own, then let it go.
    let attach = "pid = os.fork()
if pid == 0:
    time.sleep(30)
    os._exit(0)
assert libc.ptrace(16, pid, 0, 0) == 0, ctypes.get_errno()
os.waitpid(pid, 0)
libc.ptrace(17, pid, 0, 0)
os.kill(pid, 9)
os.waitpid(pid, 0)";
    let marker = act("ptrace-attach", None, attach);
    assert_raised(PTRACE_ATTACH, &marker);
    let marker = act("ptrace-traceme", None, TRACEME);
    assert_raised(PTRACE_ANTI_DEBUG, &marker);
    // Reading a process's registers is neither an attach nor an injection.
    let peek = "pid = os.fork()
if pid == 0:
    time.sleep(30)
    os._exit(0)
libc.ptrace(12, pid, 0, 0)
os.kill(pid, 9)
os.waitpid(pid, 0)";
    let marker = act("ptrace-getregs", None, peek);
    assert_quiet(&marker);
}

#[test]
fn packet_socket_in_a_container() {
    if !privileged() {
        return;
    }
    sensor();
    let cgroup = containerd_cgroup("0a01");
    let packet = "socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()";
    let marker = act("packet-socket", Some(&cgroup), packet);
    let alert = assert_raised(PACKET_SOCKET, &marker);
    assert!(
        alert["output_fields"]["evt.args"]
            .as_str()
            .is_some_and(|a| a.contains("domain=AF_PACKET")),
        "{alert:#}"
    );
    // An IP socket in the container, and a packet socket on the host.
    let inet = "socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 0).close()";
    let marker = act("inet-socket", Some(&cgroup), inet);
    assert_quiet(&marker);
    let marker = act("packet-socket-host", None, packet);
    assert_quiet(&marker);
}

#[test]
fn kernel_module_load_from_a_container() {
    if !privileged() {
        return;
    }
    sensor();
    // finit_module of /dev/null: the kernel refuses the empty image (or has no modules at
    // all), after the syscall was made.
    let load = "fd = os.open('/dev/null', os.O_RDONLY)
res = libc.syscall(313, fd, b'', 0)
print(ctypes.get_errno() if res < 0 else 0)";
    let modules =
        std::path::Path::new("/sys/kernel/tracing/events/syscalls/sys_enter_finit_module").exists();
    let cgroup = containerd_cgroup("0a02");
    let marker = act("finit-module", Some(&cgroup), load);
    if !modules {
        // A kernel built without CONFIG_MODULES has no module syscalls: nothing can be loaded,
        // and there is no tracepoint to see the attempt (ENOSYS) by. Said, not skipped quietly.
        eprintln!("this kernel has no module support: finit_module is ENOSYS, nothing to detect");
        assert_quiet(&marker);
        return;
    }
    let alert = assert_raised(MODULE, &marker);
    assert_eq!(alert["output_fields"]["evt.type"], "finit_module");
    let marker = act("finit-module-host", None, load);
    assert_quiet(&marker);
}

#[test]
fn debugfs_in_a_privileged_container() {
    if !privileged() {
        return;
    }
    // Two pods of a real API server, one privileged; `container.privileged` comes from the
    // spec the sensor watches.
    const NODE: &str = "sensor-falco-node";
    let server = ApiServer::start();
    server.kubectl(&["create", "namespace", "falco"], None);
    let pod = |name: &str, privileged: bool| {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "falco"},
            "spec": {"nodeName": NODE, "containers": [{"name": "tools", "image": "example.com/tools:1",
                "securityContext": {"privileged": privileged}}]}
        })
    };
    let privileged_cgroup = containerd_cgroup("0b01");
    let plain_cgroup = containerd_cgroup("0b02");
    server.start_pod(&pod("privileged", true), &container_id(&privileged_cgroup));
    server.start_pod(&pod("plain", false), &container_id(&plain_cgroup));
    let kubeconfig = server.kubeconfig();
    let sensor = Sensor::alerts_with(&[
        "--rules",
        "falco-stable",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--node-name",
        NODE,
    ]);
    // A program named debugfs (the rule looks at proc.name): /bin/true under that name.
    let dir = TempDir::new("falco-debugfs");
    let debugfs = dir.path("debugfs");
    std::fs::copy("/bin/true", &debugfs).unwrap();
    let marker = exec_in(&privileged_cgroup, &debugfs, "debugfs-privileged");
    let alert = raised_on(&sensor, DEBUGFS, &marker);
    assert_eq!(alert["output_fields"]["proc.name"], "debugfs", "{alert:#}");
    let marker = exec_in(&plain_cgroup, &debugfs, "debugfs-plain");
    quiet_on(&sensor, &marker);
}

/// `fd.name` is the file the kernel opened: a symlink, a relative path or `..` does not hide
/// /etc/shadow, and access the kernel did not grant (O_PATH) is no read.
#[test]
fn read_sensitive_file_untrusted() {
    if !privileged() {
        return;
    }
    sensor();
    let marker = act(
        "read-shadow",
        None,
        "os.close(os.open('/etc/shadow', os.O_RDONLY))",
    );
    let alert = assert_raised(SENSITIVE_UNTRUSTED, &marker);
    assert_eq!(
        alert["output_fields"]["fd.name"], "/etc/shadow",
        "{alert:#}"
    );
    assert_eq!(alert["output_fields"]["evt.type"], "openat", "{alert:#}");

    // Under another name: a symlink, and a relative path from /etc.
    let dir = TempDir::new("falco-sensitive");
    let link = dir.path("innocent");
    std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
    let marker = act(
        "read-shadow-via-link",
        None,
        &format!("os.close(os.open('{}', os.O_RDONLY))", link.display()),
    );
    let alert = assert_raised(SENSITIVE_UNTRUSTED, &marker);
    assert_eq!(
        alert["output_fields"]["fd.name"], "/etc/shadow",
        "{alert:#}"
    );
    let marker = act(
        "read-shadow-relative",
        None,
        "os.chdir('/etc')\nos.close(os.open('shadow', os.O_RDONLY))",
    );
    let alert = assert_raised(SENSITIVE_UNTRUSTED, &marker);
    assert_eq!(
        alert["output_fields"]["fd.name"], "/etc/shadow",
        "{alert:#}"
    );

    // openat2, its flags in a struct.
    let openat2 = "how = (ctypes.c_uint64 * 3)(0, 0, 0)
fd = libc.syscall(437, -100, b'/etc/shadow', ctypes.byref(how), 24)
assert fd >= 0, ctypes.get_errno()
os.close(fd)";
    let marker = act("read-shadow-openat2", None, openat2);
    let alert = assert_raised(SENSITIVE_UNTRUSTED, &marker);
    assert_eq!(alert["output_fields"]["evt.type"], "openat2", "{alert:#}");

    // An O_PATH open reads nothing; reopening it through /proc for reading does.
    let marker = act(
        "shadow-o-path",
        None,
        "os.close(os.open('/etc/shadow', os.O_PATH))",
    );
    assert_quiet(&marker);
    let marker = act(
        "shadow-o-path-reopened",
        None,
        "fd = os.open('/etc/shadow', os.O_PATH)\nos.close(os.open(f'/proc/self/fd/{fd}', os.O_RDONLY))",
    );
    let alert = assert_raised(SENSITIVE_UNTRUSTED, &marker);
    assert_eq!(
        alert["output_fields"]["fd.name"], "/etc/shadow",
        "{alert:#}"
    );

    let marker = act(
        "read-hostname",
        None,
        "os.close(os.open('/etc/hostname', os.O_RDONLY))",
    );
    assert_quiet(&marker);
}

/// A server program (named nginx) that reads /etc/shadow more than 5 s after it started;
/// at its start it may.
#[test]
fn read_sensitive_file_trusted_after_startup() {
    if !privileged() {
        return;
    }
    sensor();
    let code = |wait: f64| {
        format!(
            "libc.prctl(15, b'nginx', 0, 0, 0)\ntime.sleep({wait})\nos.close(os.open('/etc/shadow', os.O_RDONLY))"
        )
    };
    let marker = act("nginx-late", None, &code(5.5));
    let alert = assert_raised(SENSITIVE_AFTER_STARTUP, &marker);
    assert_eq!(alert["output_fields"]["proc.name"], "nginx", "{alert:#}");
    let marker = act("nginx-at-start", None, &code(0.0));
    assert_not_raised(SENSITIVE_AFTER_STARTUP, &marker);
}

/// `..` twice in the path the caller passed, to a file under /etc; a failed attempt counts.
#[test]
fn directory_traversal_monitored_file_read() {
    if !privileged() {
        return;
    }
    sensor();
    let marker = act(
        "traversal-shadow",
        None,
        "os.close(os.open('/etc/../etc/../etc/shadow', os.O_RDONLY))",
    );
    let alert = assert_raised(TRAVERSAL, &marker);
    assert_eq!(
        alert["output_fields"]["fd.name"], "/etc/shadow",
        "{alert:#}"
    );
    assert_eq!(
        alert["output_fields"]["fd.nameraw"], "/etc/../etc/../etc/shadow",
        "{alert:#}"
    );
    let marker = act(
        "traversal-missing",
        None,
        "try:\n    os.open('/etc/../etc/../etc/no-such-file', os.O_RDONLY)\nexcept OSError:\n    pass",
    );
    let alert = assert_raised(TRAVERSAL, &marker);
    assert_eq!(
        alert["output_fields"]["fd.name"], "/etc/no-such-file",
        "{alert:#}"
    );
    // The same walk outside /etc.
    let dir = TempDir::new("falco-traversal");
    std::fs::create_dir(dir.path("sub")).unwrap();
    std::fs::write(dir.path("file"), b"x").unwrap();
    let marker = act(
        "traversal-tmp",
        None,
        &format!(
            "os.close(os.open('{}/sub/../sub/../file', os.O_RDONLY))",
            dir.0.display()
        ),
    );
    assert_not_raised(TRAVERSAL, &marker);
}

/// A log file opened for writing with O_TRUNC; appending to it is not clearing it.
#[test]
fn clear_log_activities() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-clear-log");
    let log = dir.path("syslog");
    std::fs::write(&log, b"evidence\n").unwrap();
    let open = |flags: &str| format!("os.close(os.open('{}', {flags}))", log.display());
    let marker = act("truncate-syslog", None, &open("os.O_WRONLY | os.O_TRUNC"));
    let alert = assert_raised(CLEAR_LOG, &marker);
    assert_eq!(
        alert["output_fields"]["fd.name"],
        log.to_str().unwrap(),
        "{alert:#}"
    );
    let marker = act("append-syslog", None, &open("os.O_WRONLY | os.O_APPEND"));
    assert_quiet(&marker);
}

/// A file named release_agent opened for writing by root with CAP_SYS_ADMIN in a container;
/// on the host it is not a container escape.
#[test]
fn detect_release_agent_file_container_escapes() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-release-agent");
    let agent = dir.path("release_agent");
    std::fs::write(&agent, b"").unwrap();
    let write = format!("os.close(os.open('{}', os.O_WRONLY))", agent.display());
    let cgroup = containerd_cgroup("0a03");
    let marker = act("release-agent", Some(&cgroup), &write);
    let alert = assert_raised(RELEASE_AGENT, &marker);
    assert!(
        alert["output_fields"]["thread.cap_effective"]
            .as_str()
            .is_some_and(|c| c.contains("CAP_SYS_ADMIN")),
        "{alert:#}"
    );
    let marker = act("release-agent-host", None, &write);
    assert_quiet(&marker);
}

/// A TCP connection (to a listener of this test, on loopback) dup'd over stdout in a
/// container: `fd.type` is the socket's family, read from the kernel's socket. A Unix socket
/// dup'd the same way, or the TCP one on the host, is no such redirect.
#[test]
fn redirect_stdout_stdin_to_network_connection_in_container() {
    if !privileged() {
        return;
    }
    sensor();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp =
        format!("s = socket.create_connection(('127.0.0.1', {port}))\nos.dup2(s.fileno(), 1)");
    let cgroup = containerd_cgroup("0a04");
    let marker = act("redirect-tcp", Some(&cgroup), &tcp);
    let alert = assert_raised(REDIRECT, &marker);
    assert_eq!(alert["output_fields"]["fd.type"], "ipv4", "{alert:#}");
    assert_eq!(alert["output_fields"]["evt.type"], "dup2", "{alert:#}");
    // The peer of the dup'd connection, from the kernel's socket.
    assert_eq!(alert["output_fields"]["fd.sip"], "127.0.0.1", "{alert:#}");
    assert_eq!(
        alert["output_fields"]["fd.rport"],
        u64::from(port),
        "{alert:#}"
    );
    assert_eq!(alert["output_fields"]["fd.l4proto"], "tcp", "{alert:#}");
    // dup3, over stdin.
    let marker = act(
        "redirect-tcp-dup3",
        Some(&cgroup),
        &format!("s = socket.create_connection(('127.0.0.1', {port}))\nos.dup2(s.fileno(), 0, inheritable=False)"),
    );
    let alert = assert_raised(REDIRECT, &marker);
    assert_eq!(alert["output_fields"]["evt.type"], "dup3", "{alert:#}");
    let unix = "a, b = socket.socketpair()\nos.dup2(a.fileno(), 1)";
    let marker = act("redirect-unix", Some(&cgroup), unix);
    assert_not_raised(REDIRECT, &marker);
    let marker = act("redirect-tcp-host", None, &tcp);
    assert_not_raised(REDIRECT, &marker);
    drop(listener);
}

/// An outbound TCP connection by a program called ssh to a port of Falco's non-standard list
/// (4444), to an address outside loopback and RFC 1918 (198.51.100.2, TEST-NET-2) that the
/// action assigns to the loopback device of a network namespace it creates, where it also
/// listens: nothing leaves the machine. Port 22, or the same port on 127.0.0.1, is no such
/// connection.
#[test]
fn disallowed_ssh_connection_non_standard_port() {
    if !privileged() {
        return;
    }
    sensor();
    let connect = |ip: &str, port: u16, tag: &str| {
        let marker = format!("{tag}-{}", std::process::id());
        // The listener survives the exec into the program named ssh (Python under that
        // argv[0], told where its library is); the connect is that program's.
        let code = format!(
            "assert libc.unshare(0x40000000) == 0, ctypes.get_errno()
assert os.system('ip link set lo up && ip addr add 198.51.100.2/32 dev lo') == 0
srv = socket.socket()
srv.bind(('{ip}', {port}))
srv.listen()
srv.set_inheritable(True)
inner = \"import socket\\nsocket.create_connection(('{ip}', {port})).close() # {marker}\"
os.execve(sys.executable, ['ssh', '-c', inner], dict(os.environ, PYTHONHOME=sys.prefix))"
        );
        act(tag, None, &code);
        marker
    };
    let marker = connect("198.51.100.2", 4444, "ssh-4444");
    let alert = assert_raised(SSH_NON_STANDARD, &marker);
    assert_eq!(alert["output_fields"]["fd.rport"], 4444, "{alert:#}");
    assert_eq!(alert["output_fields"]["fd.l4proto"], "tcp", "{alert:#}");
    assert_eq!(alert["output_fields"]["evt.type"], "connect", "{alert:#}");
    assert!(
        alert["output_fields"]["fd.name"]
            .as_str()
            .is_some_and(|n| n.ends_with("->198.51.100.2:4444")),
        "{alert:#}"
    );
    let marker = connect("198.51.100.2", 22, "ssh-22");
    assert_not_raised(SSH_NON_STANDARD, &marker);
    let marker = connect("127.0.0.1", 4444, "ssh-loopback");
    assert_not_raised(SSH_NON_STANDARD, &marker);
}

/// An overlayfs like a container's root: a binary written into it lands in the upper layer,
/// and running it in a container raises the rule; the image's own binary (the lower layer)
/// does not.
#[test]
fn drop_and_execute_new_binary_in_container() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-overlay");
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(dir.path(d)).unwrap();
    }
    std::fs::copy("/bin/true", dir.path("lower/imagetool")).unwrap();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        dir.path("lower").display(),
        dir.path("upper").display(),
        dir.path("work").display()
    );
    let merged = dir.path("merged");
    let status = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &options])
        .arg(&merged)
        .status()
        .unwrap();
    assert!(status.success(), "mount overlay");
    /// Unmounts the overlay however the test ends.
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _mounted = Unmount(merged.clone());
    std::fs::copy("/bin/true", merged.join("dropped")).unwrap();
    assert!(
        dir.path("upper/dropped").exists(),
        "the copy is in the upper layer"
    );

    let cgroup = containerd_cgroup("0a05");
    let marker = exec_in(&cgroup, &merged.join("dropped"), "drop-and-execute");
    let alert = assert_raised(DROP_AND_EXECUTE, &marker);
    assert_eq!(
        alert["output_fields"]["proc.exepath"],
        merged.join("dropped").to_str().unwrap(),
        "{alert:#}"
    );
    let marker = exec_in(&cgroup, &merged.join("imagetool"), "image-binary");
    assert_not_raised(DROP_AND_EXECUTE, &marker);
}

/// A connection from a container to the address `kubernetes.default.svc.cluster.local`
/// resolves to. The sensor resolves the names the rules mention ahead of time, as Falco does;
/// here it runs in a mount namespace of its own whose /etc/hosts maps the name to
/// 198.51.100.10, which the action assigns to the loopback of its own network namespace and
/// listens on. Another address, or the host, is no such contact.
#[test]
fn contact_k8s_api_server_from_container() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("falco-k8s-api");
    let hosts = dir.path("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n198.51.100.10 kubernetes.default.svc.cluster.local kubernetes.default\n",
    )
    .unwrap();
    let bind = format!("mount --bind {} /etc/hosts", hosts.display());
    let sensor = stable_in_own_mount_namespace(&bind);
    let connect = |ip: &str, tag: &str, cgroup: Option<&Cgroup>| {
        let code = format!(
            "assert libc.unshare(0x40000000) == 0, ctypes.get_errno()
assert os.system('ip link set lo up && ip addr add {ip}/32 dev lo') == 0
srv = socket.socket()
srv.bind(('{ip}', 443))
srv.listen()
socket.create_connection(('{ip}', 443)).close()"
        );
        act(tag, cgroup, &code)
    };
    let cgroup = containerd_cgroup("0a06");
    let marker = connect("198.51.100.10", "k8s-api", Some(&cgroup));
    let alert = raised_on(&sensor, K8S_API, &marker);
    assert!(
        alert["output_fields"]["fd.name"]
            .as_str()
            .is_some_and(|n| n.ends_with("->198.51.100.10:443")),
        "{alert:#}"
    );
    let marker = connect("198.51.100.11", "not-k8s-api", Some(&cgroup));
    quiet_on(&sensor, &marker);
    let marker = connect("198.51.100.10", "k8s-api-host", None);
    quiet_on(&sensor, &marker);
}

/// Runs `program` (in `cgroup` if given) through `sh -c`, with `MARKER` in it replaced by a
/// marker of `tag` made unique to this test binary (appended if it has none), and returns the
/// marker. `program` may fail: what counts is that it was started.
fn run(cgroup: Option<&Cgroup>, program: &str, tag: &str) -> String {
    let marker = format!("{tag}-{}", std::process::id());
    let program = if program.contains("MARKER") {
        program.replace("MARKER", &marker)
    } else {
        format!("{program} {marker}")
    };
    let enter = cgroup.map_or_else(|| "true".to_string(), Cgroup::enter_command);
    let _ = Command::new("sh")
        .args(["-c", &format!("{enter} && {program}")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("sh");
    marker
}

/// A copy of `source` named `name` in `dir` (rules look at `proc.name`, the image's name).
fn named(dir: &TempDir, source: &str, name: &str) -> String {
    let path = dir.path(name);
    std::fs::copy(source, &path).unwrap();
    path.to_str().unwrap().to_string()
}

/// A shell started by a web server (nginx): its ancestry is a protected shell spawner. A
/// shell started by a shell is not.
#[test]
fn run_shell_untrusted() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-shell-untrusted");
    // dash under the name nginx, which runs `sh -c ...` and then one more command (so the
    // shell is its child, not an exec in its place).
    let nginx = named(&dir, "/bin/sh", "nginx");
    let marker = run(
        None,
        &format!("{nginx} -c 'sh -c \"true MARKER\"; true'"),
        "shell-from-nginx",
    );
    let alert = assert_raised(RUN_SHELL_UNTRUSTED, &marker);
    assert_eq!(alert["output_fields"]["proc.pname"], "nginx", "{alert:#}");
    let marker = run(
        None,
        "sh -c 'sh -c \"true MARKER\"; true'",
        "shell-from-shell",
    );
    assert_not_raised(RUN_SHELL_UNTRUSTED, &marker);
}

/// A system user (nobody) running `login`; root running it is no such thing.
#[test]
fn system_user_interactive() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-system-user");
    let login = named(&dir, "/bin/true", "login");
    let as_nobody = format!("setpriv --reuid=65534 --regid=65534 --clear-groups {login}");
    let marker = run(None, &as_nobody, "login-as-nobody");
    let alert = assert_raised(SYSTEM_USER_INTERACTIVE, &marker);
    assert_eq!(alert["output_fields"]["user.name"], "nobody", "{alert:#}");
    let marker = run(None, &login, "login-as-root");
    assert_not_raised(SYSTEM_USER_INTERACTIVE, &marker);
}

/// A shell with a terminal whose parent is the runtime's (`runc`), in a container: what
/// `kubectl exec -it` does. `script` gives it the terminal, under the name runc.
#[test]
fn terminal_shell_in_container() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-terminal-shell");
    let runc = named(&dir, "/usr/bin/script", "runc");
    let cgroup = containerd_cgroup("0a07");
    let with_tty = |marker: &str, cgroup: Option<&Cgroup>| {
        run(
            cgroup,
            &format!("SHELL=/bin/sh {runc} -q -e -c 'true MARKER' /dev/null"),
            marker,
        )
    };
    let marker = with_tty("terminal-shell", Some(&cgroup));
    let alert = assert_raised(TERMINAL_SHELL, &marker);
    assert_ne!(alert["output_fields"]["proc.tty"], 0, "{alert:#}");
    // Without a terminal, and on the host.
    let marker = run(Some(&cgroup), "sh -c 'true MARKER'", "shell-no-tty");
    assert_not_raised(TERMINAL_SHELL, &marker);
    let marker = with_tty("terminal-shell-host", None);
    assert_not_raised(TERMINAL_SHELL, &marker);
}

/// `nc -e` in a container; nc without it is a plain connection.
#[test]
fn netcat_remote_code_execution_in_container() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-netcat");
    let nc = named(&dir, "/bin/true", "nc");
    let cgroup = containerd_cgroup("0a08");
    let marker = run(
        Some(&cgroup),
        &format!("{nc} -e /bin/sh 127.0.0.1 4444"),
        "nc-e",
    );
    let alert = assert_raised(NETCAT, &marker);
    assert_eq!(alert["output_fields"]["proc.name"], "nc", "{alert:#}");
    let marker = run(Some(&cgroup), &format!("{nc} 127.0.0.1 4444"), "nc-plain");
    assert_not_raised(NETCAT, &marker);
}

/// grep for a private key header, find for id_rsa; grep for anything else is not a search
/// for secrets.
#[test]
fn search_private_keys_or_passwords() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-private-keys");
    let root = dir.0.display().to_string();
    let marker = run(
        None,
        &format!("grep -r 'BEGIN PRIVATE' {root}"),
        "grep-keys",
    );
    assert_raised(PRIVATE_KEYS, &marker);
    let marker = run(
        None,
        &format!("find {root} -name id_rsa -o -name MARKER"),
        "find-id-rsa",
    );
    assert_raised(PRIVATE_KEYS, &marker);
    let marker = run(None, &format!("grep -r hello {root}"), "grep-hello");
    assert_not_raised(PRIVATE_KEYS, &marker);
}

/// shred of a file; rm is not bulk data removal.
#[test]
fn remove_bulk_data_from_disk() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-shred");
    let file = dir.path("data");
    std::fs::write(&file, b"data").unwrap();
    let marker = run(None, &format!("shred -u {}", file.display()), "shred");
    assert_raised(REMOVE_BULK_DATA, &marker);
    std::fs::write(&file, b"data").unwrap();
    let marker = run(None, &format!("rm -f {}", file.display()), "rm");
    assert_not_raised(REMOVE_BULK_DATA, &marker);
}

/// grep for AWS secret keys, find of a credentials file.
#[test]
fn find_aws_credentials() {
    if !privileged() {
        return;
    }
    sensor();
    let dir = TempDir::new("falco-aws");
    let root = dir.0.display().to_string();
    let marker = run(
        None,
        &format!("grep -r aws_secret_access_key {root}"),
        "grep-aws",
    );
    assert_raised(AWS_CREDENTIALS, &marker);
    let marker = run(
        None,
        &format!("find {root} -name MARKER -o -path {root}/.aws/credentials"),
        "find-aws",
    );
    assert_raised(AWS_CREDENTIALS, &marker);
    let marker = run(None, &format!("grep -r region {root}"), "grep-region");
    assert_not_raised(AWS_CREDENTIALS, &marker);
}

/// A program run from /dev/shm; the same program from elsewhere is not.
#[test]
fn execution_from_dev_shm() {
    if !privileged() {
        return;
    }
    sensor();
    let shm = format!("/dev/shm/sensor-falco-{}", std::process::id());
    std::fs::copy("/bin/true", &shm).unwrap();
    let marker = run(None, &shm, "exec-dev-shm");
    let _ = std::fs::remove_file(&shm);
    let alert = assert_raised(DEV_SHM, &marker);
    assert_eq!(
        alert["output_fields"]["proc.exepath"],
        shm.as_str(),
        "{alert:#}"
    );
    let dir = TempDir::new("falco-not-shm");
    let elsewhere = named(&dir, "/bin/true", "tool");
    let marker = run(None, &elsewhere, "exec-not-shm");
    assert_not_raised(DEV_SHM, &marker);
}

/// An image written into a memfd and run from it (event-generator's
/// `FilelessExecutionViaMemfdCreate`); the same image from its file is not fileless.
#[test]
fn fileless_execution_via_memfd_create() {
    if !privileged() {
        return;
    }
    sensor();
    let code = "fd = os.memfd_create('payload', 0)
os.write(fd, open('/bin/true', 'rb').read())
pid = os.fork()
if pid == 0:
    os.execv(f'/proc/self/fd/{fd}', ['payload', sys.argv[0]])
os.waitpid(pid, 0)";
    // The child's command line carries act's marker as its argument.
    let marker = format!("memfd-exec-{}", std::process::id());
    act(
        "memfd-exec",
        None,
        &code.replace("sys.argv[0]", &format!("'{marker}'")),
    );
    let alert = assert_raised(FILELESS, &marker);
    assert!(
        alert["output_fields"]["proc.exepath"]
            .as_str()
            .is_some_and(|p| p.starts_with("/memfd:payload")),
        "{alert:#}"
    );
    let marker = run(None, "/bin/true", "true-from-file");
    assert_not_raised(FILELESS, &marker);
}

/// Containers without a pod (plain containerd, nerdctl): `container.privileged` comes from
/// the runtime's OCI spec of the container. The sensor runs in a mount namespace of its own
/// whose /run/containerd holds the two containers' bundles: one privileged as the CRI makes
/// it (every capability, no masked paths), one with the runtime's default masks.
#[test]
fn debugfs_in_a_privileged_container_without_a_pod() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("falco-runtime-spec");
    let privileged_cgroup = containerd_cgroup("0b03");
    let plain_cgroup = containerd_cgroup("0b04");
    let state = dir.path("containerd");
    let tasks = state.join("io.containerd.runtime.v2.task/default");
    let privileged_spec = r#"{"ociVersion":"1.1.0","process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN","CAP_SYS_MODULE"]}},"linux":{"namespaces":[{"type":"mount"}]}}"#;
    let plain_spec = r#"{"ociVersion":"1.1.0","process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN"]}},"linux":{"maskedPaths":["/proc/kcore","/sys/firmware"],"readonlyPaths":["/proc/sys"]}}"#;
    for (cgroup, spec) in [
        (&privileged_cgroup, privileged_spec),
        (&plain_cgroup, plain_spec),
    ] {
        let bundle = tasks.join(container_id(cgroup));
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(bundle.join("config.json"), spec).unwrap();
    }
    let script = format!(
        "mount -t tmpfs tmpfs /run && mkdir /run/containerd && mount --bind {} /run/containerd",
        state.display()
    );
    let sensor = stable_in_own_mount_namespace(&script);
    let debugfs = dir.path("debugfs");
    std::fs::copy("/bin/true", &debugfs).unwrap();
    let marker = exec_in(&privileged_cgroup, &debugfs, "debugfs-runtime-privileged");
    let alert = raised_on(&sensor, DEBUGFS, &marker);
    assert_eq!(alert["output_fields"]["proc.name"], "debugfs", "{alert:#}");
    let marker = exec_in(&plain_cgroup, &debugfs, "debugfs-runtime-plain");
    quiet_on(&sensor, &marker);
}
