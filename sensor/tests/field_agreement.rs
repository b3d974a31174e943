//! The three renderings of an event's Falco fields agree: the JSON event output
//! (`sensor events --json`), what rules and output templates read (the rules adapter, through
//! the engine), and the gRPC alert message. Real events: the probe loaded on the real kernel,
//! a process with an audit login uid above 2^31 calling chmod, execve and setuid from a cgroup
//! named like a containerd container's, enriched by the agent's pipeline. A synthetic event
//! adds what this machine cannot produce (a pod, a caller's credentials before the call).

mod common;
// The benchmarks' recorder: the library pipeline on the real kernel.
#[allow(dead_code)]
#[path = "../benches/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use common::{privileged, Cgroup, TempDir};
use sensor::model::fields::{Json, Rules, FIELDS};
use sensor::model::{syscalls, Event};
use sensor::rules::fields::{registry, RuleEvent};
use sensor::rules::RuleFiles;
use sensor::sinks::record::AlertRecord;
use sensor_rules::{MatchMode, Ruleset};
use serde_json::Value;

/// Keys of the JSON output that are not fields: which values were cut, changed or escaped.
const JSON_ANNOTATIONS: &[&str] = &[
    "evt.tampered_args",
    "evt.unverified_args",
    "evt.kernel_args",
    "evt.truncated",
    "evt.escaped",
];

/// A loginuid no cast through `i32` survives (it showed as -1294967296).
const LOGINUID: u32 = 3_000_000_000;

const CONTAINER: &str = "f1e1d0a9c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

/// A rule matching every event, whose output names every field the JSON output can show.
fn every_field_rule(dir: &TempDir) -> Arc<Ruleset> {
    let registry = registry();
    let mut fields: Vec<String> = FIELDS
        .iter()
        .filter(|f| f.rules != Rules::No)
        .filter(|f| {
            matches!(
                f.json,
                Json::Shown | Json::IfTrue | Json::OrNaInContainer | Json::Labels
            )
        })
        .map(|f| f.name.to_string())
        .filter(|name| name != "evt.time")
        .collect();
    // The engine's time renderings, from evt.rawtime; the JSON's evt.time is the ISO one.
    fields.push("evt.time.iso8601".to_string());
    let mut args: Vec<&str> = syscalls::SYSCALLS
        .iter()
        .flat_map(|def| def.args.iter().map(|a| a.name))
        .chain(["filename", "pid", "status"])
        .filter(|name| registry.is_event_argument(name))
        .collect();
    args.sort();
    args.dedup();
    fields.extend(args.iter().map(|a| format!("evt.arg.{a}")));
    let output: Vec<String> = fields.iter().map(|f| format!("{f}=%{f}")).collect();
    let yaml = format!(
        "- rule: every field\n  desc: every field\n  condition: proc.pid > 0\n  output: \"{}\"\n  priority: NOTICE\n",
        output.join(" ")
    );
    let path = dir.path("every_field.yaml");
    std::fs::write(&path, yaml).expect("rule file");
    let (ruleset, report) = RuleFiles::new(vec![path]).load().expect("rules load");
    assert_eq!(
        report.compiled(),
        1,
        "the every-field rule compiles: {report:?}"
    );
    ruleset
}

/// A JSON value as text, the way the engine's `output_fields` and the message carry it.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "<NA>".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What disagrees between the three renderings of `event`.
fn disagreements(event: &Event, ruleset: &Ruleset) -> Vec<String> {
    let mut line = Vec::new();
    sensor::event::json::write_json(event, &mut line);
    let json: BTreeMap<String, Value> = serde_json::from_slice(&line).expect("the JSON parses");

    let rule_event = RuleEvent::new(event, 1, "host");
    let matched = ruleset.evaluate(&rule_event, MatchMode::First);
    let rule = matched
        .into_iter()
        .next()
        .expect("the every-field rule matches");
    let alert = rule.render_alert(&rule_event, "host", event.wall_ns);
    let rules = alert.output_fields.clone();
    let proto = AlertRecord::new(alert, event, 1).proto;

    let mut wrong = Vec::new();
    let what = format!("{} of pid {}", event.evt_type(), event.task.pid);
    // Every field the JSON shows is what rules read.
    for (key, value) in &json {
        if JSON_ANNOTATIONS.contains(&key.as_str()) || key.starts_with("evt.rawarg.") {
            continue;
        }
        let rules_key = if key == "evt.time" {
            "evt.time.iso8601"
        } else {
            key
        };
        let field = FIELDS.iter().find(|f| f.name == key);
        if field.is_some_and(|f| f.rules == Rules::No) {
            continue;
        }
        if key == "k8s.pod.labels" {
            let shown: Vec<String> = value
                .as_object()
                .expect("labels are an object")
                .iter()
                .map(|(k, v)| format!("{k}:{}", text(v)))
                .collect();
            // Templates render a list as its items joined by commas.
            let read: Vec<String> = match rules.get(key.as_str()) {
                Some(Value::Array(items)) => items.iter().map(text).collect(),
                Some(Value::String(joined)) => joined.split(',').map(str::to_string).collect(),
                _ => Vec::new(),
            };
            if shown != read {
                wrong.push(format!("{what}: {key}: JSON {shown:?}, rules {read:?}"));
            }
            continue;
        }
        match rules.get(rules_key) {
            Some(read) if text(read) == text(value) => {}
            read => wrong.push(format!("{what}: {key}: JSON {value}, rules {read:?}")),
        }
    }
    // Every field rules read that the JSON can show, it shows (flags only when true).
    for (key, read) in &rules {
        let Some(field) = FIELDS.iter().find(|f| f.name == key) else {
            continue;
        };
        let shown = json.get(key.as_str());
        let expected = !matches!(
            (field.json, read),
            (Json::IfTrue, Value::Bool(false)) | (_, Value::Null) | (Json::Hidden, _)
        );
        if expected && shown.is_none() {
            wrong.push(format!("{what}: {key}: rules {read}, not in the JSON"));
        }
    }
    // The message carries the same values.
    let process = proto.process.as_ref().expect("a process");
    let j = |key: &str| json.get(key).map(text).unwrap_or_default();
    let checks: Vec<(&str, String)> = vec![
        ("proc.pid", process.pid.to_string()),
        ("thread.tid", process.tid.to_string()),
        ("proc.ppid", process.ppid.to_string()),
        ("proc.vpid", process.vpid.to_string()),
        ("proc.name", process.name.clone()),
        ("proc.exe", process.exe.clone()),
        ("proc.exepath", process.exe_path.clone()),
        ("proc.cmdline", process.cmdline.clone()),
        ("proc.args", process.args.join(" ")),
        ("proc.cwd", process.cwd.clone()),
        ("proc.pname", process.parent_name.clone()),
        ("user.uid", process.uid.to_string()),
        ("user.name", process.user_name.clone()),
        ("user.loginuid", process.login_uid.to_string()),
        ("group.gid", process.gid.to_string()),
        ("evt.type", proto.event_type.clone()),
    ];
    for (key, carried) in checks {
        if j(key) != carried {
            wrong.push(format!(
                "{what}: {key}: JSON {:?}, message {carried:?}",
                j(key)
            ));
        }
    }
    match (&proto.container, json.get("container.full_id")) {
        (Some(c), Some(_)) => {
            for (key, carried) in [
                ("container.id", &c.id),
                ("container.full_id", &c.full_id),
                ("container.runtime", &c.runtime),
                ("container.name", &c.name),
                ("container.image", &c.image),
            ] {
                if j(key) != *carried {
                    wrong.push(format!(
                        "{what}: {key}: JSON {:?}, message {carried:?}",
                        j(key)
                    ));
                }
            }
        }
        (None, None) => {}
        (c, id) => wrong.push(format!("{what}: container: JSON {id:?}, message {c:?}")),
    }
    if let Some(pod) = &proto.pod {
        for (key, carried) in [
            ("k8s.pod.name", &pod.name),
            ("k8s.ns.name", &pod.namespace),
            ("k8s.pod.uid", &pod.uid),
        ] {
            if j(key) != *carried {
                wrong.push(format!(
                    "{what}: {key}: JSON {:?}, message {carried:?}",
                    j(key)
                ));
            }
        }
    }
    wrong
}

/// The events of a process and its children, from the probe on the real kernel through the
/// agent's pipeline, while `script` runs in a containerd-named cgroup.
fn record(script: &str) -> (u32, Vec<Event>) {
    let cgroup = Cgroup::create(&format!(
        "sensor-test-agreement.slice/cri-containerd-{CONTAINER}.scope"
    ));
    let mut pid = 0;
    let events = support::record_while(|| {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{}; exec python3 -c '{script}'",
                cgroup.enter_command()
            ))
            .spawn()
            .expect("python3");
        pid = child.id();
        let output = child.wait_with_output().expect("workload");
        assert!(output.status.success(), "workload failed");
    });
    let ours = events
        .into_iter()
        .filter(|e| e.task.pid == pid || e.task.ppid == pid)
        .collect();
    drop(cgroup);
    (pid, ours)
}

#[test]
fn json_rules_and_message_agree_on_real_events() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("agreement");
    let target = dir.path("target");
    std::fs::write(&target, b"x").expect("target");
    let ruleset = every_field_rule(&dir);
    let script = format!(
        "import os, subprocess\n\
         open(\"/proc/self/loginuid\", \"w\").write(\"{LOGINUID}\")\n\
         os.chmod(\"{}\", 0o4755)\n\
         subprocess.run([\"/bin/true\", \"agreement\"], check=True)\n\
         os.setuid(0)\n",
        target.display()
    );
    let (pid, events) = record(&script);

    let types: Vec<&str> = events.iter().map(Event::evt_type).collect();
    for wanted in ["fchmodat", "execve", "setuid", "clone"] {
        assert!(
            types
                .iter()
                .any(|t| *t == wanted || (wanted == "fchmodat" && *t == "chmod")),
            "no {wanted} event of pid {pid}: {types:?}"
        );
    }
    let chmod = events
        .iter()
        .find(|e| e.task.pid == pid && matches!(e.evt_type(), "fchmodat" | "chmod"))
        .expect("the chmod");
    assert_eq!(chmod.task.loginuid, LOGINUID, "the loginuid was set");
    assert!(chmod.container.is_some(), "the container was named");

    let wrong: Vec<String> = events
        .iter()
        .flat_map(|e| disagreements(e, &ruleset))
        .collect();
    assert!(
        wrong.is_empty(),
        "renderings disagree:\n{}",
        wrong.join("\n")
    );

    // And the loginuid is the uid as set, in all three.
    let mut line = Vec::new();
    sensor::event::json::write_json(chmod, &mut line);
    let json: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(json["user.loginuid"], LOGINUID as i64, "{json}");
}

mod synthetic {
    use super::*;
    use sensor::model::container::{Container, Runtime};
    use sensor::model::pod::{PodInfo, PodMeta, Workload};
    use sensor::model::process::Process;
    use sensor::model::EventKind;
    use sensor_common::{Creds, TaskInfo};

    fn comm(name: &str) -> [u8; sensor_common::COMM_LEN] {
        let mut out = [0; sensor_common::COMM_LEN];
        out[..name.len()].copy_from_slice(name.as_bytes());
        out
    }

    fn event() -> Event {
        let creds = Creds {
            uid: 1000,
            gid: 1000,
            suid: 0,
            sgid: 0,
            euid: 0,
            egid: 0,
            fsuid: 0,
            fsgid: 0,
        };
        let grandparent = Arc::new(Process {
            pid: 10,
            comm: b"containerd-shim".to_vec().into(),
            exe: b"/usr/bin/containerd-shim".to_vec().into(),
            exepath: b"/usr/bin/containerd-shim".to_vec().into(),
            ..Process::default()
        });
        let parent = Arc::new(Process {
            pid: 20,
            ppid: 10,
            comm: b"bash".to_vec().into(),
            exe: b"bash".to_vec().into(),
            exepath: b"/bin/bash".to_vec().into(),
            args: vec![b"-c".to_vec().into(), b"chmod".to_vec().into()],
            parent: Some(grandparent),
            ..Process::default()
        });
        // The table's comm differs from the task's: proc.name is the task's everywhere.
        let process = Arc::new(Process {
            pid: 30,
            ppid: 20,
            comm: b"chmod-old".to_vec().into(),
            exe: b"chmod".to_vec().into(),
            exepath: b"/usr/bin/chmod".to_vec().into(),
            args: vec![b"u+s".to_vec().into(), b"/tmp/x".to_vec().into()],
            cwd: Some(b"/work".to_vec().into()),
            parent: Some(parent),
            ..Process::default()
        });
        let pod = Arc::new(PodInfo {
            pod: Arc::new(PodMeta {
                name: "web-1".into(),
                namespace: "shop".into(),
                uid: "0b1c".into(),
                labels: vec![
                    ("app".into(), "web".into()),
                    ("tier".into(), "front".into()),
                ]
                .into(),
                annotations: Box::new([]),
                workload: Workload {
                    kind: "StatefulSet".into(),
                    name: "web".into(),
                },
            }),
            container_id: CONTAINER.into(),
            container_name: "app".into(),
            image: "registry.local:5000/web:1.2".into(),
            image_repository: "registry.local:5000/web".into(),
            image_tag: Some("1.2".into()),
            image_digest: None,
            privileged: true,
        });
        Event {
            kind: EventKind::Syscall(syscalls::by_name("fchmodat").expect("fchmodat")),
            res: -1,
            enter_ns: 0,
            mono_ns: 5_000,
            wall_ns: 1_795_441_482_571_936_608,
            task: TaskInfo {
                pid: 30,
                tid: 31,
                ppid: 20,
                vpid: 7,
                loginuid: u32::MAX - 1,
                mnt_ns: 4026531841,
                pid_ns: 4026531836,
                sid: 20,
                cgroup_id: 9000,
                creds,
                // CAP_CHOWN, CAP_SYS_ADMIN and CAP_SYS_MODULE effective and permitted.
                caps: [0, 1 | 1 << 21 | 1 << 16, 1 | 1 << 21 | 1 << 16],
                comm: comm("chmod"),
                tty: 34816,
                _pad: 0,
                start_ns: 1_000,
            },
            creds_before: Some(creds),
            raw_args: [(-100i64) as u64, 0, 0o4755, 0, 0, 0],
            strings: [b"/tmp/x".to_vec().into(), Box::new([]), Box::new([])],
            truncated: 0,
            changed: 0,
            unverified: 0,
            from_kernel: 0,
            exec: None,
            process: Some(process),
            fd_path: None,
            opened: None,
            socket: None,
            container: Some(Arc::new(Container {
                full_id: CONTAINER.to_string(),
                runtime: Runtime::Containerd,
                privileged: None,
            })),
            pod: Some(pod),
            user_name: Some("root".into()),
            group_name: Some("root".into()),
            login_name: None,
        }
    }

    #[test]
    fn json_rules_and_message_agree_on_a_synthetic_event() {
        let dir = TempDir::new("agreement-synthetic");
        let ruleset = every_field_rule(&dir);
        let event = event();
        let wrong = disagreements(&event, &ruleset);
        assert!(
            wrong.is_empty(),
            "renderings disagree:\n{}",
            wrong.join("\n")
        );
        let mut line = Vec::new();
        sensor::event::json::write_json(&event, &mut line);
        let json: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(json["user.loginuid"], 4294967294u64, "{json}");
        assert_eq!(json["proc.name"], "chmod", "{json}");
        assert_eq!(json["k8s.pod.labels"]["tier"], "front", "{json}");
    }

    /// An openat of a file through a relative path: the open family's fields agree too.
    #[test]
    fn json_rules_and_message_agree_on_an_open() {
        let dir = TempDir::new("agreement-open");
        let ruleset = every_field_rule(&dir);
        let mut event = event();
        event.kind = EventKind::Syscall(syscalls::by_name("openat").expect("openat"));
        event.res = 3;
        // dirfd, name, flags O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, mode 0755.
        event.raw_args = [(-100i64) as u64, 0, 0o2001101, 0o755, 0, 0];
        event.strings = [b"../etc/x".to_vec().into(), Box::new([]), Box::new([])];
        event.fd_path = Some(b"/etc/x".to_vec().into());
        event.opened = Some(sensor_common::record::open::OpenedFile {
            f_mode: 0x2 | 0x100000,
            i_mode: 0o100755,
            dev: (254 << 20) | 1,
            path_flags: 0,
            ino: 42,
            ..Default::default()
        });
        let wrong = disagreements(&event, &ruleset);
        assert!(
            wrong.is_empty(),
            "renderings disagree:\n{}",
            wrong.join("\n")
        );
        let mut line = Vec::new();
        sensor::event::json::write_json(&event, &mut line);
        let json: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(json["fd.name"], "/etc/x", "{json}");
        assert_eq!(json["fd.nameraw"], "../etc/x", "{json}");
        assert_eq!(json["fd.typechar"], "f", "{json}");
        assert_eq!(json["fd.num"], 3, "{json}");
        assert_eq!(
            json["evt.arg.flags"], "O_TRUNC|O_CREAT|O_WRONLY|O_CLOEXEC|O_F_CREATED",
            "{json}"
        );
        assert_eq!(json["evt.arg.mode"], "0755", "{json}");
        // new_encode_dev(MKDEV(254, 1)), as stat(2) shows it.
        assert_eq!(json["evt.arg.dev"], "FE01", "{json}");
        assert_eq!(json["evt.arg.ino"], 42, "{json}");
    }
}
