//! Kernel-side diagnostics (`--kernel-diagnostics`): a process passes the kernel a pointer to
//! memory it never mapped; with the flag the sensor's log says which string of which syscall
//! of which pid could not be read, without it nothing of the kind is logged. Both sensors load
//! every program, so this also shows that they verify with the diagnostics on and off.

mod common;

use std::time::{Duration, Instant};

use common::{privileged, python, Sensor};

/// fchmodat's number in the 64-bit ABI.
#[cfg(target_arch = "x86_64")]
const FCHMODAT: u32 = 268;
#[cfg(target_arch = "aarch64")]
const FCHMODAT: u32 = 53;

/// fchmodat(AT_FDCWD, (char *)1, 0755): the path is at an address nothing is mapped at.
/// Returns the caller's pid.
fn chmod_unmapped_path() -> u32 {
    let (pid, out) = python(&format!(
        "import ctypes\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         r = libc.syscall({FCHMODAT}, -100, ctypes.c_void_p(1), 0o755)\n\
         print(r, ctypes.get_errno())\n"
    ));
    assert_eq!(
        out.trim(),
        "-1 14",
        "fchmodat of an unmapped path fails with EFAULT"
    );
    pid
}

/// Waits for the fchmodat event of `pid`: the sensor has handled that call.
fn wait_for_the_call(sensor: &Sensor, pid: u32) {
    let e = sensor.event_of(pid, "fchmodat");
    assert_eq!(e["evt.res"], "EFAULT", "{e}");
}

fn diagnostic_of(lines: &[String], pid: u32) -> Option<String> {
    let pid = format!("(pid {pid}, tid {pid})");
    let syscall = format!("user string read failed: syscall {FCHMODAT} ");
    lines
        .iter()
        .find(|l| l.contains("sensor::kernel") && l.contains(&syscall) && l.contains(&pid))
        .cloned()
}

#[test]
fn an_unreadable_string_is_logged_with_its_syscall_and_pid() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::events_with(&["--kernel-diagnostics"]);
    assert!(
        sensor
            .stderr_lines()
            .iter()
            .any(|l| l.contains("kernel diagnostics on")),
        "the sensor says the diagnostics are on: {:?}",
        sensor.stderr_lines()
    );
    let pid = chmod_unmapped_path();
    wait_for_the_call(&sensor, pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    let line = loop {
        if let Some(line) = diagnostic_of(&sensor.stderr_lines(), pid) {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "no diagnostic for pid {pid} within 5 s: {:#?}",
            sensor.stderr_lines()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // The string's slot, the address and the helper's error: what the caller did wrong.
    assert!(line.contains("string 0 at 0x1, error -14"), "{line}");
    assert!(line.contains("INFO"), "{line}");
}

#[test]
fn without_the_flag_nothing_is_logged() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::events_with(&[]);
    let pid = chmod_unmapped_path();
    wait_for_the_call(&sensor, pid);
    // As long as the other test allows its diagnostic to arrive, past the reader's poll.
    std::thread::sleep(Duration::from_millis(500));
    let lines = sensor.stop_for_stderr();
    assert!(
        !lines.iter().any(|l| l.contains("sensor::kernel")),
        "no kernel diagnostics without the flag: {lines:#?}"
    );
    assert_eq!(diagnostic_of(&lines, pid), None);
}
