//! The kernel filter compiled from the rules (`rules::kernel_filter`, `sensor-ebpf/src/filter.rs`)
//! on the real kernel: a call no loaded rule can match never leaves the kernel, a call one can
//! match always does, and `sensor events` beside it still sees every call.

mod common;

use common::{privileged, python, Sensor, TempDir};

const RULES: &str = "\
- rule: Setuid bit set
  desc: a file got the setuid bit
  condition: evt.type in (chmod, fchmod, fchmodat) and evt.arg.mode contains S_ISUID
  output: setuid bit set on %evt.arg.filename by %proc.name (pid=%proc.pid type=%evt.type)
  priority: WARNING
";

/// `filtered in the kernel N (type=n ...)` of a summary line: the count for `evt_type`.
fn filtered(summary: &str, evt_type: &str) -> u64 {
    let Some(rest) = summary.split("filtered in the kernel").nth(1) else {
        return 0;
    };
    let counts = rest.split(';').next().unwrap_or("");
    counts
        .split([' ', '(', ')'])
        .find_map(|word| word.strip_prefix(&format!("{evt_type}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn only_calls_a_rule_can_match_leave_the_kernel() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("kernel-filter");
    let rules = dir.path("rules.yaml");
    std::fs::write(&rules, RULES).unwrap();
    let alerts = Sensor::alerts_with(&["--rules", rules.to_str().unwrap()]);
    let unfiltered =
        Sensor::alerts_with(&["--rules", rules.to_str().unwrap(), "--no-kernel-filter"]);
    let events = Sensor::events_with(&["--families", "exec,chmod"]);
    let file = dir.path("f");
    std::fs::write(&file, b"x").unwrap();
    // 500 chmods no rule reads, then the one the rule is about, from one process.
    let (pid, _) = python(&format!(
        "import os\nfor i in range(500):\n    os.chmod({file:?}, 0o644 if i % 2 else 0o600)\nos.chmod({file:?}, 0o4755)\n",
        file = file.to_str().unwrap()
    ));
    let alert = alerts.alert_of(pid, "Setuid bit set");
    // Python's os.chmod is chmod(2).
    assert_eq!(alert["output_fields"]["evt.type"], "chmod", "{alert}");
    unfiltered.alert_of(pid, "Setuid bit set");
    // `sensor events` installs no filter: it sees every call.
    events.wait_for("the process's exit", |e| {
        e["proc.pid"] == pid && e["evt.type"] == "procexit"
    });
    let all = events
        .events_of(pid)
        .into_iter()
        .filter(|e| e["evt.type"] == "chmod")
        .count();
    assert_eq!(all, 501, "sensor events saw every chmod");
    assert_eq!(alerts.alerts_of(pid).len(), 1, "one alert");

    let summary = alerts.stop_for_summary();
    // Every process on the machine is filtered alike: at least ours.
    assert!(filtered(&summary, "chmod") >= 500, "{summary}");
    let summary = unfiltered.stop_for_summary();
    assert!(!summary.contains("filtered in the kernel"), "{summary}");
    eprintln!("kernel filter: {}", summary);
}
