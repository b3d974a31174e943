//! An exec is reported as the kernel performed it, whatever the caller does to hide it: exec
//! from a non-leader thread (with the leader waiting, or already gone), argv rewritten by a
//! racing thread while the kernel copies it, and paths written to dodge a rule (`./x`,
//! `//tmp/x`, `/proc/self/cwd/x`, a memfd whose process exits at once, run by path or by its
//! fd). Each through execve and execveat: this kernel reports a successful execveat's exit
//! under execve's number.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{privileged, run, Sensor, TempDir};
use serde_json::Value;

const TMP_EXEC: &str = "Execution from a Temporary Directory or Memory";

/// A static x86_64 program whose second thread (a raw `clone` with CLONE_THREAD) execs
/// `/bin/true thread-exec-MARK`. With `x` as its argument the leader exits first (a thread-only
/// `exit`), otherwise it sleeps until the exec replaces it. The strings live in a data page
/// the process never touches before the exec, as an attacker's would.
const THREAD_EXEC_ASM: &str = r#"
    .globl _start
    .text
_start:
    mov 16(%rsp), %rbx          # argv[1]
    xor %r12d, %r12d
    test %rbx, %rbx
    jz 1f
    movzbl (%rbx), %r12d        # its first byte: the mode
1:  mov $56, %eax               # clone(CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM, stack)
    mov $0x50f00, %edi
    lea stack_top(%rip), %rsi
    xor %edx, %edx
    xor %r10d, %r10d
    xor %r8d, %r8d
    syscall
    test %rax, %rax
    jz thread
    cmp $'x', %r12d
    je leader_exit
2:  mov $35, %eax               # nanosleep: the exec's de_thread ends it
    lea long_sleep(%rip), %rdi
    xor %esi, %esi
    syscall
    jmp 2b
leader_exit:
    mov $60, %eax               # exit: this thread only
    xor %edi, %edi
    syscall
thread:
    mov $35, %eax               # let the leader go first in mode x
    lea short_sleep(%rip), %rdi
    xor %esi, %esi
    syscall
    mov $59, %eax               # execve("/bin/true", argv, NULL)
    lea path(%rip), %rdi
    lea exec_argv(%rip), %rsi
    xor %edx, %edx
    syscall
    mov $60, %eax
    mov $127, %edi
    syscall
    .data
path:       .asciz "/bin/true"
mark:       .asciz "thread-exec-MARK"
exec_argv:  .quad path, mark, 0
long_sleep: .quad 30, 0
short_sleep: .quad 0, 50000000
    .bss
    .align 16
stack:      .skip 16384
stack_top:
"#;

fn assemble(dir: &TempDir, name: &str, source: &str) -> PathBuf {
    let asm = dir.path(&format!("{name}.s"));
    let object = dir.path(&format!("{name}.o"));
    let binary = dir.path(name);
    std::fs::write(&asm, source).unwrap();
    for cmd in [
        Command::new("as")
            .arg("--64")
            .arg(&asm)
            .arg("-o")
            .arg(&object),
        Command::new("ld").arg(&object).arg("-o").arg(&binary),
    ] {
        let out = cmd.output().expect("binutils (from `cargo xtask setup`)");
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    binary
}

fn canonical(path: &str) -> String {
    std::fs::canonicalize(path)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// The `lost N` figure of a summary line.
fn lost(summary: &str) -> u64 {
    summary
        .split("; lost ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no loss figure in {summary:?}"))
}

/// [`THREAD_EXEC_ASM`] with the thread's execve replaced by
/// `execveat(AT_FDCWD, "/bin/true", argv, NULL, 0)`.
fn thread_execveat_asm() -> String {
    let execve = "    mov $59, %eax               # execve(\"/bin/true\", argv, NULL)
    lea path(%rip), %rdi
    lea exec_argv(%rip), %rsi
    xor %edx, %edx
    syscall
";
    let execveat =
        "    mov $322, %eax              # execveat(AT_FDCWD, \"/bin/true\", argv, NULL, 0)
    mov $-100, %rdi
    lea path(%rip), %rsi
    lea exec_argv(%rip), %rdx
    xor %r10d, %r10d
    xor %r8d, %r8d
    syscall
";
    assert!(THREAD_EXEC_ASM.contains(execve));
    THREAD_EXEC_ASM.replace(execve, execveat)
}

fn assert_thread_exec(sensor: &Sensor, pid: u32, true_path: &str, call: &str) {
    let e = sensor.wait_for(&format!("the thread's {call} in pid {pid}"), |e| {
        e["proc.pid"] == pid && e["evt.type"] == call && e["proc.name"] == "true"
    });
    assert_eq!(e["evt.res"], "SUCCESS", "{e}");
    // The exec'ing thread took the leader's id.
    assert_eq!(e["thread.tid"], pid, "{e}");
    assert_eq!(e["evt.arg.filename"], "/bin/true", "{e}");
    assert_eq!(e["proc.exe"], "/bin/true", "{e}");
    assert_eq!(e["proc.args"], "thread-exec-MARK", "{e}");
    assert_eq!(e["proc.exepath"], true_path, "{e}");
    // Its exit found the enter the thread made under its old id.
    assert!(e["evt.latency"].as_u64().unwrap_or(0) > 0, "{e}");
}

#[test]
fn exec_from_a_thread_is_seen_with_its_arguments_and_nothing_is_lost() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("thread-exec");
    let binaries = [
        (assemble(&dir, "thread_exec", THREAD_EXEC_ASM), "execve"),
        (
            assemble(&dir, "thread_execveat", &thread_execveat_asm()),
            "execveat",
        ),
    ];
    let true_path = canonical("/bin/true");
    let sensor = Sensor::events_with(&[]);
    for round in 0..20 {
        for (binary, call) in &binaries {
            for mode in ["wait", "x"] {
                let (pid, status) = run(Command::new(binary).arg(mode));
                assert!(
                    status.success(),
                    "round {round} {call} mode {mode}: {status}"
                );
                assert_thread_exec(&sensor, pid, &true_path, call);
            }
        }
    }
    let summary = sensor.stop_for_summary();
    assert_eq!(lost(&summary), 0, "{summary}");
}

/// Python exec'ing `/bin/echo` with an argument a second thread keeps rewriting while the
/// kernel copies it; echo prints what it received.
const ARGV_RACE: &str = r#"
import ctypes, threading, time
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(b"AAAAAAAAAAAAAAAA", 64)
argv = (ctypes.c_char_p * 3)(b"echo", ctypes.cast(buf, ctypes.c_char_p), None)
def race():
    while True:
        ctypes.memmove(buf, b"BBBBBBBBBBBBBBBB", 16)
        ctypes.memmove(buf, b"AAAAAAAAAAAAAAAA", 16)
        ctypes.memmove(buf, b"CCCCCCCC", 8)
threading.Thread(target=race, daemon=True).start()
time.sleep(0.005)
libc.execve(b"/bin/echo", argv, None)
"#;

#[test]
fn argv_rewritten_by_a_racing_thread_is_reported_as_the_kernel_copied_it() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let mut outcomes = std::collections::BTreeSet::new();
    for round in 0..50 {
        let child = Command::new("python3")
            .args(["-c", ARGV_RACE])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "round {round}");
        let received = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        let e = sensor.wait_for(&format!("echo's exec in pid {pid}"), |e| {
            e["proc.pid"] == pid && e["evt.type"] == "execve" && e["proc.name"] == "echo"
        });
        assert_eq!(e["proc.args"], received.as_str(), "round {round}: {e}");
        outcomes.insert(received);
    }
    eprintln!("argv values echo received: {outcomes:?}");
}

/// An exec storm beside the scenarios (a shell starting `/bin/true` in a loop), so they run
/// while the kernel side and the agent are busy with other execs.
struct Storm(std::process::Child);

impl Storm {
    fn start() -> Storm {
        Storm(
            Command::new("sh")
                .args(["-c", "while :; do /bin/true; done"])
                .spawn()
                .expect("sh"),
        )
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn exec_in(dir: &Path, program: &str) -> u32 {
    let (pid, status) = run(Command::new(program).current_dir(dir));
    assert!(status.success(), "{program}: {status}");
    pid
}

#[test]
fn paths_written_to_dodge_a_rule_resolve_to_the_real_file_every_time() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = TempDir::new("exepath");
    let payload = dir.path("payload");
    std::fs::copy("/bin/true", &payload).unwrap();
    let real = canonical(payload.to_str().unwrap());
    assert!(real.starts_with("/tmp/"), "{real}");
    let doubled = format!("/{}", payload.to_str().unwrap());
    let _storm = Storm::start();

    let scenarios: [(&str, &dyn Fn() -> u32); 3] = [
        ("./payload", &|| exec_in(&dir.0, "./payload")),
        ("//tmp/...", &|| exec_in(&dir.0, &doubled)),
        ("/proc/self/cwd/payload", &|| {
            exec_in(&dir.0, "/proc/self/cwd/payload")
        }),
    ];
    for (name, scenario) in scenarios {
        for round in 0..50 {
            let pid = scenario();
            let alert = sensor.alert_of(pid, TMP_EXEC);
            assert_eq!(
                alert["output_fields"]["proc.exepath"], real,
                "{name}, round {round}: {alert}"
            );
        }
    }

    // A memfd image that exits at once: nothing is left in /proc to read by the time the
    // event is enriched.
    for round in 0..50 {
        let (pid, status) = run(Command::new("python3").args([
            "-c",
            "import os\nfd = os.memfd_create('payload', 0)\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv(f'/proc/self/fd/{fd}', ['payload'])\n",
        ]));
        assert!(status.success());
        let alert = sensor.alert_of(pid, TMP_EXEC);
        let fields: &Value = &alert["output_fields"];
        assert_eq!(
            fields["proc.exepath"], "/memfd:payload (deleted)",
            "memfd, round {round}: {alert}"
        );
    }

    // The same image run by its fd (fexecve: execveat with AT_EMPTY_PATH), which names no
    // path at all.
    for round in 0..50 {
        let (pid, status) = run(Command::new("python3").args([
            "-c",
            "import os\nfd = os.memfd_create('payload', 0)\nos.write(fd, open('/bin/true', 'rb').read())\nos.execve(fd, ['payload'], {})\n",
        ]));
        assert!(status.success());
        let alert = sensor.alert_of(pid, TMP_EXEC);
        let fields: &Value = &alert["output_fields"];
        assert_eq!(
            fields["proc.exepath"], "/memfd:payload (deleted)",
            "fexecve, round {round}: {alert}"
        );
    }
}
