//! The 32-bit compat ABI on the real kernel: a static i386 binary, assembled here and started
//! from a 64-bit process, makes every traced family's calls through `int $0x80` (chmod,
//! fchmodat, mount and the old umount in a private mount namespace, a failing mount,
//! setresuid32, the old 16-bit setuid, symlink, ptrace, socket, and an execve back to a
//! 64-bit /bin/true). Each is an
//! event of its 64-bit twin with its arguments and result, the 32-bit image's own execve (its
//! exit runs in compat mode, where the 64-bit tracepoint never fires) is one too, and the
//! default rules fire on the setuid bit and the root setuid.
//!
//! The events sensor and the alerts sensor run one after the other, not together: each stops
//! the first 32-bit exec until its own compat programs are attached, and one sensor's SIGCONT
//! would let the process run before the other has attached (README, *Limits*).

#![cfg(target_arch = "x86_64")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{output, privileged, run, Sensor, TempDir};
use serde_json::Value;

const SETUID_BIT: &str = "Setuid or Setgid Bit Set on a File";
const SETUID_ROOT: &str = "Non-Root Process Setuid to Root";

/// What the i386 binary works on.
struct Scene {
    dir: TempDir,
    binary: PathBuf,
    file: String,
    mountpoint: String,
    missing: String,
    link: String,
}

/// The tests' sensors must not run at the same time (see the module documentation).
static ONE_SENSOR_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_sensor_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    let guard = ONE_SENSOR_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    wait_for_other_sensors_to_exit();
    guard
}

/// A sensor another test binary started may still be draining after its test ended; with two
/// sensors holding and continuing 32-bit processes, one lets a process run before the other
/// has attached. Waits (up to 30 s) until no other process runs this sensor binary.
fn wait_for_other_sensors_to_exit() {
    let ours = std::fs::canonicalize(common::SENSOR).ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let others = std::fs::read_dir("/proc")
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
                    .filter(|e| std::fs::read_link(e.path().join("exe")).ok() == ours)
                    .count()
            })
            .unwrap_or(0);
        if others == 0 || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Assembles `source` into the static binary `name`: i386 (`bits` 32) or x86_64 (64).
fn assemble_as(dir: &TempDir, name: &str, bits: u32, source: &str) -> PathBuf {
    let asm = dir.path(&format!("{name}.s"));
    std::fs::write(&asm, source).unwrap();
    let object = dir.path(&format!("{name}.o"));
    let binary = dir.path(name);
    let (as_flag, emulation) = if bits == 32 {
        ("--32", "elf_i386")
    } else {
        ("--64", "elf_x86_64")
    };
    for cmd in [
        Command::new("as")
            .arg(as_flag)
            .arg(&asm)
            .arg("-o")
            .arg(&object),
        Command::new("ld")
            .args(["-m", emulation])
            .arg(&object)
            .arg("-o")
            .arg(&binary),
    ] {
        let out = output(cmd);
        assert!(
            out.status.success(),
            "{cmd:?} (binutils, from `cargo xtask setup`)"
        );
    }
    binary
}

fn scene() -> Scene {
    let dir = TempDir::new("compat-abi");
    let file = dir.path("target").to_str().unwrap().to_string();
    let mountpoint = dir.path("mnt").to_str().unwrap().to_string();
    let missing = dir.path("no-such-dir").to_str().unwrap().to_string();
    let link = dir.path("link").to_str().unwrap().to_string();
    std::fs::write(&file, b"x").unwrap();
    std::fs::create_dir(&mountpoint).unwrap();
    // Every call through int $0x80 with i386's numbers; arguments in ebx, ecx, edx, esi, edi.
    let source = format!(
        r#"
.globl _start
_start:
    mov $15, %eax           # chmod(file, 04755)
    mov $file, %ebx
    mov $04755, %ecx
    int $0x80
    mov $306, %eax          # fchmodat(AT_FDCWD, file, 0640)
    mov $-100, %ebx
    mov $file, %ecx
    mov $0640, %edx
    int $0x80
    mov $21, %eax           # mount("sensor-compat", mountpoint, "tmpfs", MS_NOSUID, 0)
    mov $source, %ebx
    mov $mountpoint, %ecx
    mov $fstype, %edx
    mov $2, %esi
    xor %edi, %edi
    int $0x80
    mov $22, %eax           # umount(mountpoint): the old call without flags
    mov $mountpoint, %ebx
    int $0x80
    mov $21, %eax           # mount("sensor-compat", missing, "tmpfs", 0, 0): ENOENT
    mov $source, %ebx
    mov $missing, %ecx
    mov $fstype, %edx
    xor %esi, %esi
    xor %edi, %edi
    int $0x80
    mov $208, %eax          # setresuid32(65534, 65534, 0): not root, saved uid root
    mov $65534, %ebx
    mov $65534, %ecx
    xor %edx, %edx
    int $0x80
    mov $23, %eax           # setuid (16-bit ids)(0): root again
    xor %ebx, %ebx
    int $0x80
    mov $83, %eax           # symlink(file, link)
    mov $file, %ebx
    mov $link, %ecx
    int $0x80
    mov $26, %eax           # ptrace(PTRACE_ATTACH, 0x7ffffff0, 0, 0): ESRCH
    mov $16, %ebx
    mov $0x7ffffff0, %ecx
    xor %edx, %edx
    xor %esi, %esi
    int $0x80
    mov $359, %eax          # socket(AF_UNIX, SOCK_STREAM, 0)
    mov $1, %ebx
    mov $1, %ecx
    xor %edx, %edx
    int $0x80
    mov $11, %eax           # execve("/bin/true", ["/bin/true", "compat-child"], NULL)
    mov $true_path, %ebx
    mov $argv, %ecx
    xor %edx, %edx
    int $0x80
    mov $1, %eax            # exit(3): the execve failed
    mov $3, %ebx
    int $0x80
.data
file: .asciz "{file}"
mountpoint: .asciz "{mountpoint}"
missing: .asciz "{missing}"
link: .asciz "{link}"
source: .asciz "sensor-compat"
fstype: .asciz "tmpfs"
true_path: .asciz "/bin/true"
child_arg: .asciz "compat-child"
argv: .long true_path, child_arg, 0
"#
    );
    let binary = assemble_as(&dir, "compat", 32, &source);
    Scene {
        dir,
        binary,
        file,
        mountpoint,
        missing,
        link,
    }
}

/// Starts the binary from a 64-bit process (`unshare`, which execs it in a private mount
/// namespace so the tmpfs never reaches the host's) and returns its pid.
fn start(scene: &Scene) -> u32 {
    let (pid, status) = run(Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(&scene.binary));
    // /bin/true's status: the 32-bit part ran to its execve and was not left stopped.
    assert!(status.success(), "the i386 binary failed: {status}");
    pid
}

fn assert_success(e: &Value) {
    assert_eq!(e["evt.res"], "SUCCESS", "{e}");
    assert_eq!(e["evt.rawres"], 0, "{e}");
    assert_eq!(e["evt.failed"], false, "{e}");
}

fn event(sensor: &Sensor, pid: u32, evt_type: &str, pred: impl Fn(&Value) -> bool) -> Value {
    sensor.wait_for(&format!("{evt_type} from pid {pid}"), |e| {
        e["proc.pid"] == pid && e["evt.type"] == evt_type && pred(e)
    })
}

fn check_events(scene: &Scene, sensor: &Sensor, pid: u32) {
    let binary = scene.binary.to_str().unwrap();

    // The 32-bit image's own execve, made by a 64-bit process.
    let exec = event(sensor, pid, "execve", |e| e["evt.arg.filename"] == binary);
    assert_success(&exec);
    assert_eq!(exec["proc.exepath"], binary, "{exec}");
    assert_eq!(exec["caller.euid"], 0, "{exec}");

    let chmod = event(sensor, pid, "chmod", |_| true);
    assert_success(&chmod);
    assert_eq!(chmod["evt.arg.filename"], scene.file.as_str());
    assert_eq!(chmod["evt.rawarg.mode"], 0o4755, "{chmod}");
    assert!(
        chmod["evt.arg.mode"].as_str().unwrap().contains("S_ISUID"),
        "{chmod}"
    );

    let fchmodat = event(sensor, pid, "fchmodat", |_| true);
    assert_success(&fchmodat);
    assert_eq!(fchmodat["evt.arg.dirfd"], -100, "{fchmodat}");
    assert_eq!(fchmodat["evt.arg.filename"], scene.file.as_str());
    assert_eq!(fchmodat["evt.rawarg.mode"], 0o640, "{fchmodat}");

    let mount = event(sensor, pid, "mount", |e| {
        e["evt.arg.dir"] == scene.mountpoint.as_str()
    });
    assert_success(&mount);
    assert_eq!(mount["evt.arg.dev"], "sensor-compat");
    assert_eq!(mount["evt.arg.type"], "tmpfs");
    assert!(
        mount["evt.arg.flags"]
            .as_str()
            .unwrap()
            .contains("MS_NOSUID"),
        "{mount}"
    );
    let umount = event(sensor, pid, "umount2", |_| true);
    assert_success(&umount);
    assert_eq!(umount["evt.arg.name"], scene.mountpoint.as_str());
    let failed = event(sensor, pid, "mount", |e| {
        e["evt.arg.dir"] == scene.missing.as_str()
    });
    assert_eq!(failed["evt.res"], "ENOENT", "{failed}");
    assert_eq!(failed["evt.rawres"], -2, "{failed}");
    assert_eq!(failed["evt.failed"], true, "{failed}");
    assert_eq!(failed["evt.arg.type"], "tmpfs");

    let setresuid = event(sensor, pid, "setresuid", |_| true);
    assert_success(&setresuid);
    assert_eq!(setresuid["evt.arg.ruid"], 65534, "{setresuid}");
    assert_eq!(setresuid["evt.arg.euid"], 65534, "{setresuid}");
    assert_eq!(setresuid["evt.arg.suid"], 0, "{setresuid}");
    assert_eq!(setresuid["caller.euid"], 0, "{setresuid}");
    assert_eq!(setresuid["user.uid"], 65534, "{setresuid}");

    let setuid = event(sensor, pid, "setuid", |_| true);
    assert_success(&setuid);
    assert_eq!(setuid["evt.arg.uid"], 0, "{setuid}");
    assert_eq!(setuid["caller.euid"], 65534, "{setuid}");
    assert_eq!(setuid["user.uid"], 0, "{setuid}");

    // The file, process and net families through the same ABI.
    let symlink = event(sensor, pid, "symlink", |_| true);
    assert_success(&symlink);
    assert_eq!(symlink["evt.arg.target"], scene.file.as_str());
    assert_eq!(symlink["evt.arg.linkpath"], scene.link.as_str());
    let ptrace = event(sensor, pid, "ptrace", |_| true);
    assert_eq!(ptrace["evt.arg.request"], "PTRACE_ATTACH", "{ptrace}");
    assert_eq!(ptrace["evt.res"], "ESRCH", "{ptrace}");
    let socket = event(sensor, pid, "socket", |_| true);
    assert_eq!(socket["evt.arg.domain"], "AF_UNIX", "{socket}");
    assert!(
        socket["evt.rawres"].as_i64().is_some_and(|fd| fd >= 0),
        "{socket}"
    );

    // Back to 64 bits: a compat execve with 4-byte argv pointers, whose exit runs on the
    // 64-bit tracepoint.
    let back = event(sensor, pid, "execve", |e| {
        e["evt.arg.filename"] == "/bin/true"
    });
    assert_success(&back);
    assert_eq!(back["proc.args"], "compat-child", "{back}");
    // The file the kernel mapped, canonical (/bin may link to /usr/bin).
    let canonical = std::fs::canonicalize("/bin/true").unwrap();
    assert_eq!(back["proc.exepath"], canonical.to_str().unwrap(), "{back}");
}

#[test]
fn every_family_through_int_0x80_is_seen_and_raises_the_default_rules() {
    if !privileged() {
        return;
    }
    let _alone = one_sensor_at_a_time();
    let scene = scene();
    assert!(Path::new(&scene.binary).exists());
    {
        let sensor = Sensor::events_with(&[]);
        let pid = start(&scene);
        check_events(&scene, &sensor, pid);
        // Each traced call once: none doubled by the two ABIs' programs.
        // (Successful ones: std's Command tries an execve per $PATH entry for `unshare`.)
        let types: Vec<String> = sensor
            .events_of(pid)
            .iter()
            .filter(|e| e["evt.res"] == "SUCCESS")
            .map(|e| e["evt.type"].as_str().unwrap_or_default().to_string())
            .collect();
        for once in ["chmod", "fchmodat", "umount2", "setresuid", "setuid"] {
            assert_eq!(
                types.iter().filter(|t| *t == once).count(),
                1,
                "{once}: {types:?}"
            );
        }
        // unshare's own, the i386 image, /bin/true.
        assert_eq!(
            types.iter().filter(|t| *t == "execve").count(),
            3,
            "{types:?}"
        );
    }

    // The test's own, stopped before the lock is let go: a second sensor still running
    // would continue the next test's 32-bit process before that test's sensor attached
    // (README, *32-bit processes*).
    let alerts = Sensor::alerts_with(&[]);
    std::fs::write(&scene.file, b"x").unwrap();
    let pid = start(&scene);
    let bit = alerts.alert_of(pid, SETUID_BIT);
    assert_eq!(bit["output_fields"]["evt.type"], "chmod", "{bit}");
    assert_eq!(
        bit["output_fields"]["evt.arg.filename"],
        scene.file.as_str(),
        "{bit}"
    );
    let root = alerts.alert_of(pid, SETUID_ROOT);
    assert_eq!(root["output_fields"]["evt.type"], "setuid", "{root}");
    assert_eq!(root["output_fields"]["caller.euid"], 65534, "{root}");
    drop(scene.dir);
}

/// The attacker's move: a 64-bit process that issues `int $0x80` itself. While a 32-bit
/// process runs, the compat programs are attached and its chmod is seen like any other; with
/// none running it is not (README, *32-bit processes*, *Limits*: `ia32_emulation=false`
/// closes that).
#[test]
fn int_0x80_from_a_64_bit_process_is_seen_while_a_32_bit_process_runs() {
    if !privileged() {
        return;
    }
    let _alone = one_sensor_at_a_time();
    let dir = TempDir::new("compat-int80");
    let marker = dir.path("marker").to_str().unwrap().to_string();
    let target = dir.path("target").to_str().unwrap().to_string();
    std::fs::write(&marker, b"x").unwrap();
    std::fs::write(&target, b"x").unwrap();
    // i386: chmod(marker, 0600), then pause until killed.
    let idle = assemble_as(
        &dir,
        "idle32",
        32,
        &format!(
            r#"
.globl _start
_start:
    mov $15, %eax
    mov $marker, %ebx
    mov $0600, %ecx
    int $0x80
again:
    mov $29, %eax
    int $0x80
    jmp again
.data
marker: .asciz "{marker}"
"#
        ),
    );
    // x86_64, static, data below 4 GiB: chmod(target, 04700) through int $0x80, exit(0).
    let int80 = assemble_as(
        &dir,
        "int80",
        64,
        &format!(
            r#"
.globl _start
_start:
    mov $15, %eax
    mov $target, %ebx
    mov $04700, %ecx
    int $0x80
    mov $60, %eax
    xor %edi, %edi
    syscall
.data
target: .asciz "{target}"
"#
        ),
    );
    let sensor = Sensor::events_with(&[]);
    let mut idle = Command::new(&idle).spawn().expect("start idle32");
    let idle_pid = idle.id();
    // Its chmod is seen once the compat programs are attached.
    let seen = event(&sensor, idle_pid, "chmod", |e| {
        e["evt.arg.filename"] == marker.as_str()
    });
    assert_success(&seen);
    let (pid, status) = run(&mut Command::new(&int80));
    assert!(status.success(), "{status}");
    let chmod = event(&sensor, pid, "chmod", |_| true);
    assert_success(&chmod);
    assert_eq!(chmod["evt.arg.filename"], target.as_str(), "{chmod}");
    assert_eq!(chmod["evt.rawarg.mode"], 0o4700, "{chmod}");
    let _ = idle.kill();
    let _ = idle.wait();
}
