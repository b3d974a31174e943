//! `sensor rules check` on real rule files, and `sensor run` with rule files from disk:
//! matching modes and live reloading.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::{privileged, run, TempDir, SENSOR};
use serde_json::Value;

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/falco-rules");

#[test]
fn check_accepts_falcos_rule_files_and_reports_skips() {
    let files = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ];
    let paths: Vec<String> = files.iter().map(|f| format!("{CONFORMANCE}/{f}")).collect();
    let out = Command::new(SENSOR)
        .args(["rules", "check"])
        .args(&paths)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("3 file(s), 93 rule(s): 90 compiled, 3 skipped"),
        "{text}"
    );
    assert!(text.contains("0 error(s)"), "{text}");
    // Every skipped rule says why, precisely.
    assert!(
        text.contains("field `container.mount.dest` is not supplied by this sensor"),
        "{text}"
    );
    assert!(
        text.contains("field `proc.is_vpgid_leader` is not supplied by this sensor"),
        "{text}"
    );
}

#[test]
fn falcos_rules_by_their_short_names() {
    let out = Command::new(SENSOR)
        .args(["rules", "check", "falco-stable"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("falco_rules.yaml (built in, falco-stable)"),
        "{text}"
    );
    assert!(text.contains("1 file(s), 25 rule(s)"), "{text}");
    // A file of that name wins over the built-in set.
    let dir = TempDir::new("shortname");
    std::fs::write(dir.path("falco-stable"), rule("Local File", "x")).unwrap();
    let out = Command::new(SENSOR)
        .current_dir(&dir.0)
        .args(["rules", "check", "falco-stable"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 file(s), 1 rule(s)"), "{text}");
    // An unknown name is a missing file, said as such.
    let out = Command::new(SENSOR)
        .args(["rules", "check", "falco-stabel"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn check_reports_errors_with_their_location() {
    let dir = TempDir::new("check");
    let file = dir.path("broken.yaml");
    std::fs::write(
        &file,
        "- rule: Broken\n  desc: d\n  condition: evt.type = chmod and proc.nmae = x\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let out = Command::new(SENSOR)
        .args(["rules", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let location = format!("{}:3:", file.display());
    assert!(text.contains(&location), "{text}");
    assert!(text.contains("proc.nmae"), "{text}");
}

/// A `sensor run --json` with its stdout lines and stderr lines on channels.
struct Running {
    child: Child,
    alerts: Receiver<Value>,
    logs: Receiver<String>,
    /// The "eBPF programs attached" log line (with the count of traced syscalls).
    attached_line: String,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(SENSOR)
            .args(["run", "--json", "--no-grpc-socket", "--no-health"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (alert_tx, alerts) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = alert_tx.send(serde_json::from_str(&line).unwrap());
            }
        });
        let (log_tx, logs) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[sensor] {line}");
                let _ = log_tx.send(line);
            }
        });
        let mut running = Running {
            child,
            alerts,
            logs,
            attached_line: String::new(),
        };
        running.attached_line = running.wait_log("eBPF programs attached");
        running
    }

    fn wait_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.logs.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line containing `{text}`"),
            }
        }
    }

    /// Alerts for `pid` arriving within a second after the first one (or 10 s for none).
    fn alerts_for(&self, pid: u32) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let wait = if out.is_empty() {
                left
            } else {
                left.min(Duration::from_secs(1))
            };
            match self.alerts.recv_timeout(wait) {
                Ok(a) if a["output_fields"]["proc.pid"] == pid => out.push(a),
                Ok(_) => {}
                Err(_) => return out,
            }
        }
    }

    /// SIGTERM, then the summary line.
    fn stop(mut self) -> String {
        // SAFETY: signalling the child we started, by pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        assert!(self.child.wait().unwrap().success());
        self.wait_log("sensor summary:")
    }
}

fn rule(name: &str, file_suffix: &str) -> String {
    format!(
        "- rule: {name}\n  desc: test rule\n  condition: evt.type = fchmodat and evt.arg.filename endswith {file_suffix}\n  output: {name} fired (pid=%proc.pid file=%evt.arg.filename)\n  priority: WARNING\n  tags: [test]\n"
    )
}

fn chmod(file: &Path) -> u32 {
    let (pid, status) = run(Command::new("chmod").arg("600").arg(file));
    assert!(status.success());
    pid
}

#[test]
fn rule_matching_first_and_all() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("matching");
    let rules = dir.path("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "{}{}",
            rule("First Rule", "target"),
            rule("Second Rule", "target")
        ),
    )
    .unwrap();
    let file = dir.path("target");
    std::fs::write(&file, b"x").unwrap();
    let rules_arg = rules.to_str().unwrap();

    let first = Running::start(&["--rules", rules_arg]);
    let names: Vec<Value> = first
        .alerts_for(chmod(&file))
        .iter()
        .map(|a| a["rule"].clone())
        .collect();
    assert_eq!(names, ["First Rule"]);
    first.stop();

    let all = Running::start(&["--rules", rules_arg, "--rule-matching", "all"]);
    let names: Vec<Value> = all
        .alerts_for(chmod(&file))
        .iter()
        .map(|a| a["rule"].clone())
        .collect();
    assert_eq!(names, ["First Rule", "Second Rule"]);
    all.stop();
}

#[test]
fn rules_reload_on_change_and_sighup_and_survive_a_broken_file() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("reload");
    let rules = dir.path("rules.yaml");
    std::fs::write(&rules, rule("Before Reload", "target")).unwrap();
    let file = dir.path("target");
    std::fs::write(&file, b"x").unwrap();
    let sensor = Running::start(&["--rules", dir.0.to_str().unwrap()]);

    let alerts = sensor.alerts_for(chmod(&file));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule"], "Before Reload");

    // An edit is picked up by itself.
    std::fs::write(&rules, rule("After Reload", "target")).unwrap();
    sensor.wait_log("rules reloaded");
    let alerts = sensor.alerts_for(chmod(&file));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule"], "After Reload");

    // A broken file: the error names its place, and the rules in force stay.
    std::fs::write(&rules, "- rule: Broken\n  desc: d\n  condition: evt.type = chmod and (\n  output: o\n  priority: WARNING\n").unwrap();
    let error = sensor.wait_log("rules reload failed");
    assert!(error.contains("rules.yaml:3:"), "{error}");
    let alerts = sensor.alerts_for(chmod(&file));
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule"], "After Reload");

    // SIGHUP reloads on demand.
    std::fs::write(&rules, rule("After Reload", "target")).unwrap();
    sensor.wait_log("rules reloaded");
    // SAFETY: signalling the child we started, by pid.
    unsafe { libc::kill(sensor.child.id() as i32, libc::SIGHUP) };
    sensor.wait_log("SIGHUP; reloading rules");
    sensor.wait_log("rules reloaded");

    let summary = sensor.stop();
    assert!(summary.contains("rules reloads 3 (failed 1)"), "{summary}");
    assert!(summary.contains("lost 0"), "{summary}");
}

/// The number after `syscalls=` in a log line.
fn traced_count(line: &str) -> usize {
    let after = line
        .split("syscalls=")
        .nth(1)
        .unwrap_or_else(|| panic!("no syscall count in: {line}"));
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no syscall count in: {line}"))
}

#[test]
fn only_what_the_rules_need_is_traced_and_a_reload_adds_and_drops() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("traced");
    let rules = dir.path("rules.yaml");
    std::fs::write(&rules, rule("Chmod Only", "target")).unwrap();
    let sensor = Running::start(&["--rules", rules.to_str().unwrap()]);
    // The base families (exec, chmod, mount, set*id), nothing else: no symlink tracepoint
    // carries a program.
    let base = traced_count(&sensor.attached_line);
    let link_rule = "- rule: Link Watch\n  desc: d\n  condition: evt.type in (symlink, symlinkat) and evt.arg.target = /etc/traced-test\n  output: linked (target=%evt.arg.target pid=%proc.pid)\n  priority: WARNING\n";
    let symlink = |name: &str| {
        let link = dir.path(name);
        let (pid, status) = run(Command::new("ln")
            .args(["-s", "/etc/traced-test"])
            .arg(&link));
        assert!(status.success());
        pid
    };
    // A reload that adds a rule on symlinks has them traced.
    std::fs::write(
        &rules,
        format!("{}{link_rule}", rule("Chmod Only", "target")),
    )
    .unwrap();
    let changed = sensor.wait_log("traced syscalls changed");
    // symlink and symlinkat, an enter and an exit tracepoint each.
    assert!(changed.contains("attached=4"), "{changed}");
    assert!(
        changed.contains(&format!("traced={}", base + 2)),
        "{changed}"
    );
    let alerts = sensor.alerts_for(symlink("one"));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "Link Watch");
    // One that drops it switches them off again.
    std::fs::write(&rules, rule("Chmod Only", "target")).unwrap();
    let changed = sensor.wait_log("traced syscalls changed");
    assert!(changed.contains(&format!("traced={base}")), "{changed}");
    assert!(changed.contains("attached=0"), "{changed}");
    let summary = sensor.stop();
    assert!(summary.contains("lost 0"), "{summary}");
}

#[test]
fn process_lineage_reaches_the_rules() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("lineage");
    let rules = dir.path("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Lineage\n  desc: ancestors of a chmod\n  condition: evt.type = fchmodat and evt.arg.filename endswith lineage-target and proc.aname[3] = bash\n  output: lineage (a1=%proc.aname[1] a2=%proc.aname[2] a3=%proc.aname[3] pname=%proc.pname pcmdline=%proc.pcmdline apid2=%proc.apid[2] pid=%proc.pid)\n  priority: NOTICE\n",
    )
    .unwrap();
    let file = dir.path("lineage-target");
    std::fs::write(&file, b"x").unwrap();
    let sensor = Running::start(&["--rules", rules.to_str().unwrap()]);
    // Each shell runs a second command after its child, so it forks instead of exec'ing:
    // chmod <- sh <- dash <- bash.
    let script = format!(
        "dash -c \"sh -c 'chmod 600 {}; true'; true\"; true",
        file.display()
    );
    let (bash, status) = run(Command::new("bash").args(["-c", &script]));
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let alert = loop {
        let a = sensor
            .alerts
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("lineage alert");
        if a["rule"] == "Lineage" {
            break a;
        }
    };
    let f = &alert["output_fields"];
    assert_eq!(f["proc.aname[1]"], "sh", "{alert}");
    assert_eq!(f["proc.aname[2]"], "dash", "{alert}");
    assert_eq!(f["proc.aname[3]"], "bash", "{alert}");
    assert_eq!(f["proc.pname"], "sh", "{alert}");
    assert!(
        f["proc.pcmdline"]
            .as_str()
            .unwrap()
            .starts_with("sh -c chmod 600"),
        "{alert}"
    );
    assert_eq!(
        f["proc.apid[2]"].as_i64().map(|p| p > bash as i64),
        Some(true),
        "{alert}"
    );
    sensor.stop();
}

#[test]
fn capability_sets_reach_the_rules_as_falco_names_them() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("caps");
    let rules = dir.path("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Caps\n  desc: the caller's capabilities\n  condition: evt.type in (chmod, fchmodat) and evt.arg.filename endswith caps-target and thread.cap_effective contains CAP_SYS_ADMIN\n  output: caps (eff=%thread.cap_effective perm=%thread.cap_permitted inh=%thread.cap_inheritable pid=%proc.pid)\n  priority: NOTICE\n- rule: No Caps\n  desc: a caller without capabilities\n  condition: evt.type in (chmod, fchmodat) and evt.arg.filename endswith caps-target and not thread.cap_permitted icontains sys_\n  output: no caps (eff=%thread.cap_effective pid=%proc.pid)\n  priority: NOTICE\n",
    )
    .unwrap();
    let file = dir.path("caps-target");
    std::fs::write(&file, b"x").unwrap();
    let sensor = Running::start(&["--rules", rules.to_str().unwrap()]);
    // Root: every capability, space-separated in bit order.
    let alerts = sensor.alerts_for(chmod(&file));
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let f = &alerts[0]["output_fields"];
    let effective = f["thread.cap_effective"].as_str().unwrap_or_default();
    assert!(effective.starts_with("CAP_CHOWN CAP_DAC_OVERRIDE "), "{f}");
    assert!(effective.contains(" CAP_SYS_ADMIN "), "{f}");
    assert_eq!(f["thread.cap_permitted"], f["thread.cap_effective"], "{f}");
    // A process that gave up root has none.
    let code = format!(
        "import os\nos.chmod({:?}, 0o644)\nos.setresuid(65534, 65534, 65534)\ntry:\n    os.chmod({:?}, 0o600)\nexcept PermissionError:\n    pass\n",
        file.to_str().unwrap(),
        file.to_str().unwrap()
    );
    let (pid, _) = common::python(&code);
    let alerts = sensor.alerts_for(pid);
    let rules: Vec<&Value> = alerts.iter().map(|a| &a["rule"]).collect();
    assert_eq!(rules, ["Caps", "No Caps"], "{alerts:#?}");
    sensor.stop();
}
