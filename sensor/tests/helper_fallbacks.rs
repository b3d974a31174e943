//! The programs' paths for kernels without the newer eBPF helpers (5.10 lacks
//! `bpf_get_current_task_btf` and `bpf_task_pt_regs`), run on this kernel: with
//! `SENSOR_HELPER_FALLBACKS=1` the sensor takes every fallback (task fields through probe
//! reads, the saved registers at the top of the kernel stack), and each kind of exit program
//! must still report what a process did. The same paths run on a real 5.10 kernel in
//! `cargo xtask vm-test`.

mod common;

use common::{privileged, python, Sensor, TempDir};

#[test]
fn every_exit_program_reports_through_the_fallbacks() {
    if !privileged() {
        return;
    }
    // This binary's only test: the sensor it starts inherits the variable.
    std::env::set_var("SENSOR_HELPER_FALLBACKS", "1");
    let sensor = Sensor::events_with(&["--families", "all"]);
    assert!(
        sensor
            .stderr_lines()
            .iter()
            .any(|l| l.contains("fallbacks chosen at load")),
        "the sensor says it took the fallbacks"
    );
    let dir = TempDir::new("fallbacks");
    let file = dir.path("target");
    let f = file.display();
    let (pid, _) = python(&format!(
        "import os, socket, subprocess
open('{f}', 'w').close()
os.chmod('{f}', 0o4711)
fd = os.open('{f}', os.O_RDONLY)
os.dup2(fd, 77)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('127.0.0.1', 9))
os.setuid(os.getuid())
subprocess.run(['/bin/true', 'fallback-arg'])
"
    ));
    let uid = unsafe { libc::getuid() };

    // Strings program: the path from the caller's memory, the mode from the enter.
    let e = sensor.wait_for("chmod through the fallbacks", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "chmod"
    });
    assert_eq!(e["evt.arg.filename"], f.to_string(), "{e}");
    assert_eq!(e["evt.rawarg.mode"], 0o4711, "{e}");
    assert_eq!(
        e["user.uid"], uid,
        "task credentials through probe reads: {e}"
    );
    assert_eq!(e["proc.name"], "python3", "{e}");

    // Opens program and its tail: the file walked from the fd table.
    let e = sensor.wait_for("openat of the file", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "openat" && e["fd.name"] == f.to_string()
    });
    assert!(e["evt.rawres"].as_i64().is_some_and(|fd| fd >= 3), "{e}");

    // Dups program: its arguments from the saved registers (no enter program).
    let e = sensor.wait_for("dup2 to 77", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "dup2" && e["evt.arg.newfd"] == 77
    });
    assert_eq!(e["fd.name"], f.to_string(), "{e}");

    // Sockets program: the peer from the kernel's socket. Python's own connect: a
    // launcher in front of python3 (pyenv's shim is a bash script) may connect first,
    // to nscd's socket, under the same pid.
    let e = sensor.wait_for("connect to 127.0.0.1:9", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "connect" && e["proc.name"] == "python3"
    });
    assert!(
        e["fd.name"]
            .as_str()
            .is_some_and(|n| n.ends_with("127.0.0.1:9")),
        "{e}"
    );

    // Basic program: set*id with the credentials before the call; exec with its image.
    let e = sensor.wait_for("setuid", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "setuid"
    });
    assert_eq!(e["evt.arg.uid"], uid, "{e}");
    let e = sensor.wait_for("exec of /bin/true", |e| {
        e["proc.ppid"] == pid
            && e["evt.type"] == "execve"
            && e["proc.exepath"]
                .as_str()
                .is_some_and(|p| p.ends_with("/true"))
    });
    assert_eq!(e["proc.args"], "fallback-arg", "{e}");

    let summary = sensor.stop_for_summary();
    assert!(
        summary.contains("lost 0 "),
        "nothing lost through the fallbacks: {summary}"
    );
}
