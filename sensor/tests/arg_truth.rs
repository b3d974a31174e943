//! String arguments the kernel reads from the caller's memory, against a second thread that
//! keeps rewriting them while the call runs (`data/arg_race.c`, which prints after each call
//! what the kernel really did):
//!
//! - an exec's filename and image are read from the kernel (`bprm`, `mm->exe_file`), a new
//!   mount's source and type from the kernel's `struct mount`, and an open's file from the fd
//!   table: the event shows what ran, what was mounted and what was opened, every time;
//! - a chmod path and a mount target can only be read from the caller's memory, at enter and
//!   at exit: when the two reads differ the event is marked `evt.tampered` and the default rule
//!   "Syscall Argument Changed During the Call" fires. A rewrite undone again before the exit
//!   stays unmarked; the tests measure how often that happens, and the README states it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{privileged, Sensor, TempDir};
use serde_json::Value;

const TAMPERED: &str = "Syscall Argument Changed During the Call";

fn build_racer(dir: &TempDir) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arg_race.c");
    let binary = dir.path("arg_race");
    let out = Command::new("cc")
        .args(["-O2", "-Wall", "-pthread", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("cc (Debian's gcc, installed by cargo xtask setup)");
    assert!(
        out.status.success(),
        "cc {}: {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

/// Runs the racer; returns its pid and what the kernel did, one line per call.
fn race(binary: &Path, mode: &str, dir: &Path, calls: usize) -> (u32, Vec<String>) {
    let child = Command::new(binary)
        .arg(mode)
        .arg(dir)
        .arg(calls.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start arg_race");
    let pid = child.id();
    let out = child.wait_with_output().expect("arg_race output");
    assert!(out.status.success(), "arg_race {mode}: {}", out.status);
    let truth: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(truth.len(), calls, "one line per call");
    (pid, truth)
}

/// Every event of `pid` of type `evt_type`, once its exit shows that all have arrived.
fn events_after_exit(sensor: &Sensor, pid: u32, evt_type: &str) -> Vec<Value> {
    sensor.event_of(pid, "procexit");
    sensor
        .events_of(pid)
        .into_iter()
        .filter(|e| e["evt.type"] == evt_type)
        .collect()
}

fn tampered(e: &Value) -> bool {
    e["evt.tampered"] == true
}

/// What a race did to the events: how many calls had their argument changed under the
/// sensor (the event shows another value than the kernel used), and how many of those the
/// event marks.
#[derive(Default, Debug)]
struct Tally {
    calls: usize,
    lies: usize,
    flagged_lies: usize,
    flagged_truths: usize,
}

impl Tally {
    fn add(&mut self, truthful: bool, flagged: bool) {
        self.calls += 1;
        match (truthful, flagged) {
            (false, true) => {
                self.lies += 1;
                self.flagged_lies += 1;
            }
            (false, false) => self.lies += 1,
            (true, true) => self.flagged_truths += 1,
            (true, false) => {}
        }
    }

    fn unflagged_lies(&self) -> usize {
        self.lies - self.flagged_lies
    }

    /// Reading twice cannot catch every rewrite (one undone before the exit reads the same as
    /// at enter), but a racing process must not get its lies through unseen: when any call
    /// lied, calls are flagged too.
    fn assert_flags_the_race(&self) {
        assert!(
            self.lies == 0 || self.flagged_lies > 0,
            "lies went through and none was flagged: {self:?}"
        );
    }
}

#[test]
fn a_chmod_path_rewritten_during_the_call_is_flagged() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("chmod-race");
    let binary = build_racer(&dir);
    let files = dir.path("files");
    std::fs::create_dir_all(&files).unwrap();
    let (pid, truth) = race(&binary, "chmod", &files, 3000);
    let events: Vec<Value> = events_after_exit(sensor, pid, "fchmodat")
        .into_iter()
        .filter(|e| e["evt.rawarg.mode"] == 0o4755)
        .collect();
    assert_eq!(events.len(), truth.len(), "one event per call");
    let mut tally = Tally::default();
    for (e, kernel) in events.iter().zip(&truth) {
        let shown = e["evt.arg.filename"].as_str().unwrap_or_default();
        let expected = files.join(kernel);
        tally.add(shown == expected.to_str().unwrap(), tampered(e));
        assert!(
            shown == files.join("a").to_str().unwrap()
                || shown == files.join("b").to_str().unwrap(),
            "{e}"
        );
    }
    eprintln!(
        "chmod race: {} calls, {} shown another path than the kernel used, {} of those flagged ({} unflagged); {} flagged with the path right",
        tally.calls, tally.lies, tally.flagged_lies, tally.unflagged_lies(), tally.flagged_truths
    );
    tally.assert_flags_the_race();
}

#[test]
fn a_new_mount_is_reported_as_the_kernel_mounted_it() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("mount-race");
    let binary = build_racer(&dir);
    let (pid, truth) = race(&binary, "mount", &dir.0, 500);
    let events: Vec<Value> = events_after_exit(sensor, pid, "mount")
        .into_iter()
        // Leave out the namespace's own `mount --make-rprivate /`.
        .filter(|e| e["evt.arg.dir"] != "/")
        .collect();
    assert_eq!(events.len(), truth.len(), "one event per call");
    let mut mounted = std::collections::BTreeMap::<String, usize>::new();
    let mut targets = Tally::default();
    for (e, kernel) in events.iter().zip(&truth) {
        if kernel == "failed" {
            // A buffer caught mid-rewrite named no filesystem or directory: the caller's
            // strings are all there is, and the call did nothing.
            assert_ne!(e["evt.res"], "SUCCESS", "{e}");
            *mounted.entry("failed".into()).or_default() += 1;
            continue;
        }
        let mut parts = kernel.split(' ');
        let (fstype, source, target) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        // Source and type come from the new mount itself, whatever the buffers held.
        assert_eq!(e["evt.arg.type"], fstype, "{e}");
        assert_eq!(e["evt.arg.dev"], source, "{e}");
        let kernel_args = e["evt.kernel_args"].to_string();
        assert!(
            kernel_args.contains("evt.arg.dev") && kernel_args.contains("evt.arg.type"),
            "{e}"
        );
        *mounted.entry(format!("{fstype} {source}")).or_default() += 1;
        targets.add(e["evt.arg.dir"] == target, tampered(e));
    }
    eprintln!(
        "mount race: {} calls as the kernel made them: {mounted:?}; targets: {} shown another directory than the kernel used, {} of those flagged ({} unflagged); {} flagged with the target right",
        events.len(), targets.lies, targets.flagged_lies, targets.unflagged_lies(), targets.flagged_truths
    );
    targets.assert_flags_the_race();
}

#[test]
fn an_exec_path_rewritten_during_the_call_is_reported_as_the_kernel_opened_it() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared();
    let dir = TempDir::new("exec-race");
    let binary = build_racer(&dir);
    let images = dir.path("images");
    std::fs::create_dir_all(&images).unwrap();
    // Which one ran shows in the exit status: true's 0 or false's 1.
    std::fs::copy("/bin/true", images.join("a")).unwrap();
    std::fs::copy("/bin/false", images.join("b")).unwrap();
    let (_, truth) = race(&binary, "exec", &images, 100);
    let mut ran = std::collections::BTreeMap::<String, usize>::new();
    for line in &truth {
        let (pid, image) = line.split_once(' ').expect("`<pid> <image>`");
        let pid: u32 = pid.parse().unwrap();
        *ran.entry(image.to_string()).or_default() += 1;
        if image == "failed" {
            continue;
        }
        let e = sensor.wait_for(&format!("the racing exec of pid {pid}"), |e| {
            e["proc.pid"] == pid && e["evt.type"] == "execve" && e["evt.res"] == "SUCCESS"
        });
        let expected = images.join(image);
        assert_eq!(e["evt.arg.filename"], expected.to_str().unwrap(), "{e}");
        assert_eq!(e["proc.exepath"], expected.to_str().unwrap(), "{e}");
    }
    eprintln!("exec race: images run {ran:?}, each reported as the kernel opened it");
}

#[test]
fn the_default_rule_alerts_on_an_argument_changed_during_the_call() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::shared_alerts();
    let dir = TempDir::new("chmod-race-alert");
    let binary = build_racer(&dir);
    let files = dir.path("files");
    std::fs::create_dir_all(&files).unwrap();
    // Race until one call is caught (a loaded machine may let a run go by without one).
    for attempt in 0..20 {
        let (pid, _) = race(&binary, "chmod", &files, 2000);
        let alerts = || -> Vec<Value> {
            sensor
                .alerts_of(pid)
                .into_iter()
                .filter(|a| a["rule"] == TAMPERED)
                .collect()
        };
        // The alerts of this run have arrived once its setuid-bit alerts have (same order).
        sensor.wait_for(&format!("a setuid-bit alert for pid {pid}"), |a| {
            a["output_fields"]["proc.pid"] == pid
                && a["rule"] == "Setuid or Setgid Bit Set on a File"
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        if let Some(alert) = alerts().first() {
            assert_eq!(alert["priority"], "Critical", "{alert}");
            assert_eq!(alert["output_fields"]["evt.type"], "fchmodat", "{alert}");
            return;
        }
        eprintln!("attempt {attempt}: no call caught mid-rewrite");
    }
    panic!("20 racing runs, no `{TAMPERED}` alert");
}

/// With the kernel filter on (the default), a chmod no rule reads but for its changed path
/// (mode 0640: no setuid rule) still reaches the agent when a thread rewrote the path, since
/// the exit program hashes the path again for the filter's `changed` literal; the racer's
/// other calls (its `fchmod`s, and the `fchmodat`s not caught mid-rewrite) are dropped in the
/// kernel.
#[test]
fn with_the_kernel_filter_a_changed_argument_alone_still_raises_the_alert() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::alerts_with(&[]);
    let dir = TempDir::new("chmod-race-filter");
    let binary = build_racer(&dir);
    let files = dir.path("files");
    std::fs::create_dir_all(&files).unwrap();
    let mut caught = None;
    for attempt in 0..20 {
        let (pid, _) = race(&binary, "chmod-plain", &files, 2000);
        // Alerts trail the calls by the pipeline's latency.
        std::thread::sleep(std::time::Duration::from_millis(700));
        let alerts: Vec<Value> = sensor
            .alerts_of(pid)
            .into_iter()
            .filter(|a| a["rule"] == TAMPERED)
            .collect();
        if let Some(alert) = alerts.first() {
            assert_eq!(alert["output_fields"]["evt.type"], "fchmodat", "{alert}");
            caught = Some(attempt);
            break;
        }
        eprintln!("attempt {attempt}: no call caught mid-rewrite");
    }
    let summary = sensor.stop_for_summary();
    assert!(
        caught.is_some(),
        "20 racing runs, no `{TAMPERED}` alert; {summary}"
    );
    // Each run makes 4,000 fchmod calls and 2,000 fchmodat calls, nearly all unchanged.
    assert!(
        common::filtered_in_kernel(&summary, "fchmod") >= 4000,
        "{summary}"
    );
    assert!(
        common::filtered_in_kernel(&summary, "fchmodat") >= 1000,
        "{summary}"
    );
    eprintln!("kernel filter under the race: {summary}");
}

/// An open whose path a second thread flips between two files: `fd.name` is the file the
/// kernel opened every time (read from the fd table), whatever the caller's buffer said.
#[test]
fn an_open_path_rewritten_during_the_call_is_reported_as_the_kernel_opened_it() {
    if !privileged() {
        return;
    }
    let sensor = Sensor::events_with(&["--families", "exec,open"]);
    let dir = TempDir::new("open-race");
    let binary = build_racer(&dir);
    let files = dir.path("files");
    std::fs::create_dir_all(&files).unwrap();
    let (pid, truth) = race(&binary, "open", &files, 2_000);
    let path = |name: &str| files.join(name).to_str().unwrap().to_string();
    let (a, b) = (path("a"), path("b"));
    // The racing opens: O_RDONLY of a or b (the two that created them came first, with
    // O_CREAT).
    let opens: Vec<Value> = events_after_exit(&sensor, pid, "openat")
        .into_iter()
        .filter(|e| e["evt.arg.flags"] == "O_RDONLY")
        .filter(|e| e["evt.arg.name"] == a.as_str() || e["evt.arg.name"] == b.as_str())
        .collect();
    assert_eq!(opens.len(), truth.len(), "one event per racing open");
    let mut lies_in_the_argument = 0;
    for (e, opened) in opens.iter().zip(&truth) {
        let expected = path(opened);
        assert_eq!(e["fd.name"], expected.as_str(), "{e}");
        if e["evt.arg.name"] != expected.as_str() {
            lies_in_the_argument += 1;
        }
    }
    eprintln!(
        "open race: {} opens, the caller's path named the other file in {lies_in_the_argument}, fd.name right in all",
        truth.len()
    );
}
