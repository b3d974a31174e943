//! The sensor leaves out its own activity by the pid the kernel knows it by, also when it runs
//! in a pid namespace of its own (a pod without hostPID), where its getpid() is 1 — the id of
//! the host's init, which the old filter silenced.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{privileged, run, Sensor, TempDir};
use serde_json::Value;

#[test]
fn in_its_own_pid_namespace_the_sensor_knows_its_host_pid_and_silences_nobody_else() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::events_under(
        &[
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child=SIGTERM",
            "--",
        ],
        &["--log-format", "json"],
    );
    // The sensor logs the id the kernel knows it by when it differs from its own getpid().
    let deadline = Instant::now() + Duration::from_secs(10);
    let kernel_pid = loop {
        let found = sensor.stderr_lines().iter().find_map(|l| {
            let rest = l.split("\"kernel_pid\":").nth(1)?;
            let digits: String = rest
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u32>().ok()
        });
        if let Some(pid) = found {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "no `kernel_pid` log line: {:?}",
            sensor.stderr_lines()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // That is the sensor, seen from here: pid 1 inside its namespace.
    let status = std::fs::read_to_string(format!("/proc/{kernel_pid}/status")).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap_or_default();
    assert_eq!(
        nspid.split_whitespace().collect::<Vec<_>>(),
        ["NSpid:", &kernel_pid.to_string(), "1"],
        "{status}"
    );
    assert_ne!(kernel_pid, sensor.child_pid());

    // Processes outside its namespace are still seen.
    let dir = TempDir::new("pidns");
    let file = dir.path("f");
    std::fs::write(&file, b"").unwrap();
    let (pid, exit) = run(Command::new("chmod").arg("600").arg(&file));
    assert!(exit.success());
    let e: Value = sensor.event_of(pid, "fchmodat");
    assert_eq!(e["evt.arg.filename"], file.to_str().unwrap());
    // Dropping the sensor kills unshare, which passes SIGTERM on to it; it drains and exits.
    drop(sensor);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{kernel_pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the sensor in the namespace outlived its wrapper by 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
