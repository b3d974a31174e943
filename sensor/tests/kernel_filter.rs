//! The kernel filter compiled from the rules (`rules::kernel_filter`, `sensor-ebpf/src/filter.rs`)
//! on the real kernel: a call no loaded rule can match never leaves the kernel, a call one can
//! match always does, and `sensor events` beside it still sees every call.

mod common;
// The benchmarks' recorder: the library pipeline on the real kernel.
#[allow(dead_code)]
#[path = "../benches/support/mod.rs"]
mod support;

use common::{filtered_in_kernel as filtered, privileged, python, Sensor, TempDir};
use sensor::model::syscall_set::SyscallSet;
use sensor::model::EventKind;
use sensor::rules::fields::RuleEvent;
use sensor::rules::kernel_filter::{compile, spec_keeps};
use sensor::rules::RuleFiles;
use sensor_rules::MatchMode;

const RULES: &str = "\
- rule: Setuid bit set
  desc: a file got the setuid bit
  condition: evt.type in (chmod, fchmod, fchmodat) and evt.arg.mode contains S_ISUID
  output: setuid bit set on %evt.arg.filename by %proc.name (pid=%proc.pid type=%evt.type)
  priority: WARNING
";

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

/// A reload puts the filter of the new rules in force: what the old rules wanted is dropped
/// in the kernel from then on, what the new ones want reaches them.
#[test]
fn a_reload_installs_the_new_rules_filter() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("kernel-filter-reload");
    let rules = dir.path("rules.yaml");
    std::fs::write(&rules, RULES).unwrap();
    let sensor = Sensor::alerts_with(&["--rules", rules.to_str().unwrap()]);
    let file = dir.path("f");
    std::fs::write(&file, b"x").unwrap();
    let chmod = |mode: u32| {
        python(&format!(
            "import os\nos.chmod({:?}, {mode:#o})\n",
            file.to_str().unwrap()
        ))
        .0
    };
    let setuid = chmod(0o4755);
    sensor.alert_of(setuid, "Setuid bit set");

    std::fs::write(
        &rules,
        RULES
            .replace("Setuid bit set", "Setgid bit set")
            .replace("S_ISUID", "S_ISGID"),
    )
    .unwrap();
    // SAFETY: signalling the sensor this test started, by pid.
    unsafe { libc::kill(sensor.pid() as i32, libc::SIGHUP) };
    // Reloaded once the new rule alerts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let setgid = loop {
        let pid = chmod(0o2755);
        std::thread::sleep(std::time::Duration::from_millis(300));
        if sensor
            .alerts_of(pid)
            .iter()
            .any(|a| a["rule"] == "Setgid bit set")
        {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reloaded rule never alerted"
        );
    };
    let setuid_after = chmod(0o4744);
    // Its exit is the last thing the process does: once another alert of a later process
    // arrived, any alert of this one would have too.
    let later = chmod(0o2750);
    sensor.alert_of(later, "Setgid bit set");
    assert!(
        sensor.alerts_of(setuid_after).is_empty(),
        "the old rule's chmod still alerted after the reload"
    );
    let summary = sensor.stop_for_summary();
    assert!(summary.contains("rules reloads 1"), "{summary}");
    // The setuid-only chmod after the reload (and nothing of ours since) was dropped in the
    // kernel by the new filter.
    assert!(filtered(&summary, "chmod") >= 1, "{summary}");
    eprintln!("after the reload (setgid alert from pid {setgid}): {summary}");
}

/// A workload of calls the filterable families make, failing and succeeding, with and
/// without the bits rules look for.
const VARIED: &str = r#"
import os, tempfile
d = tempfile.mkdtemp()
f = os.path.join(d, "f")
open(f, "w").close()
for mode in (0o644, 0o4755, 0o2755, 0o755, 0o1777, 0o600, 0o6711, 0o111):
    os.chmod(f, mode)
    try:
        os.chmod(os.path.join(d, "missing"), mode)
    except OSError:
        pass
os.symlink(f, os.path.join(d, "s"))
os.link(f, os.path.join(d, "h"))
os.rename(os.path.join(d, "h"), os.path.join(d, "h2"))
os.mkdir(os.path.join(d, "sub"))
os.rmdir(os.path.join(d, "sub"))
for p in ("s", "h2", "f"):
    os.unlink(os.path.join(d, p))
try:
    os.unlink(os.path.join(d, "missing"))
except OSError:
    pass
os.rmdir(d)
os.setresuid(-1, -1, -1)
os.setuid(0)
"#;

/// Soundness on real events: everything the probe sees while the benchmarks' workload
/// (chmods with and without setuid bits, a mount, set*id calls, a container's calls) and
/// a varied one (failing calls, links, renames, removals) run, judged by Falco's stable,
/// incubating and sandbox rules with the defaults: every event a rule matches is one the
/// compiled kernel filter keeps, as the kernel evaluates it (`spec_keeps`).
#[test]
fn every_recorded_event_a_rule_matches_is_kept_by_the_filter() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("kernel-filter-corpus");
    let defaults = dir.path("defaults.yaml");
    let (_, text) = sensor::rules::sources::DEFAULT_RULES[0];
    std::fs::write(&defaults, text).unwrap();
    let mut paths: Vec<std::path::PathBuf> = ["falco-stable", "falco-incubating", "falco-sandbox"]
        .iter()
        .map(std::path::PathBuf::from)
        .collect();
    paths.push(defaults);
    let (rules, _) = RuleFiles::new(paths).load().expect("rules load");
    let table = compile(&rules, &SyscallSet::all());

    let mut events = support::record();
    events.extend(support::record_while(|| {
        python(VARIED);
    }));
    support::remove_cgroup();
    let (mut judged, mut matched, mut dropped) = (0, 0, 0);
    for event in &events {
        let EventKind::Syscall(def) = event.kind else {
            continue;
        };
        let Some(spec) = def.nr().and_then(|nr| table.specs.get(&nr)) else {
            continue;
        };
        judged += 1;
        let keeps = spec_keeps(spec, &event.raw_args, event.res, event.changed != 0);
        let matches = rules.evaluate(&RuleEvent::new(event, 1, "node"), MatchMode::First);
        if let Some(rule) = matches.first() {
            matched += 1;
            assert!(
                keeps,
                "{} (args {:?}, res {}) matched `{}` but the filter drops it\n{}",
                def.name,
                event.raw_args,
                event.res,
                rule.name(),
                table.explain
            );
        }
        if !keeps {
            dropped += 1;
        }
    }
    eprintln!("{judged} recorded events of filtered types: {matched} matched a rule (all kept), {dropped} dropped");
    assert!(
        matched > 0 && dropped > 0,
        "judged {judged}, matched {matched}, dropped {dropped}"
    );
}
