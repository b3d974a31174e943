//! Turning libFuzzer's bytes into what the library takes, and the events and alerts the
//! targets run parsed rules and filters against.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use sensor::enrich::container::{Container, Runtime};
use sensor::enrich::pods::{PodInfo, PodMeta, Workload};
use sensor::enrich::process::Process;
use sensor::event::{Bytes, Event, EventKind, ExecDetails};
use sensor::probe::syscalls;
use sensor::rules::fields::RuleEvent;
use sensor::sinks::record::AlertRecord;
use sensor_common::{Creds, TaskInfo};
use sensor_rules::{MatchMode, RuleSource, Ruleset, RulesetBuilder};

/// The input as the text a parser receives (gRPC strings, files read as UTF-8). Lossy, not
/// rejecting invalid UTF-8: a stray byte becomes U+FFFD, a 3-byte character, so multi-byte
/// characters are everywhere in what the parsers see (the label selector's panic needed one).
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// `s` as a YAML double-quoted scalar that reads back as exactly `s`, to put a fuzzed
/// condition or output format into a rules file unchanged.
pub fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Splits the input into ring buffer records: each is a little-endian `u16` length and that
/// many bytes (a length past the end takes the rest). The ring hands the agent one record at a
/// time with its length; a sequence lets one input join an exec's three records.
pub fn records(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if data.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let (record, next) = rest.split_at(len.min(rest.len()));
        data = next;
        Some(record)
    })
}

/// The inverse of [`records`], for writing seeds.
pub fn frame(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&(r.len() as u16).to_le_bytes());
        out.extend_from_slice(r);
    }
    out
}

/// The rules builder the agent uses (`sensor::rules::sources::RuleFiles`): the sensor's field
/// registry, and the event types it captures.
pub fn rules_builder() -> RulesetBuilder {
    let captured = syscalls::SYSCALLS
        .iter()
        .map(|s| s.name)
        .chain(["clone", "procexit"]);
    RulesetBuilder::new()
        .registry(sensor::rules::fields::registry())
        .captured_event_types(captured)
}

/// Compiles one rules file; `None` if it has errors (the agent refuses such a set).
pub fn compile_rules(text: &str) -> Option<Ruleset> {
    let compiled = rules_builder()
        .source(RuleSource::new("fuzz.yaml", text))
        .build();
    // Rendering the report walks every diagnostic's position in the text.
    let _ = compiled.report.to_string();
    (!compiled.report.has_errors()).then_some(compiled.ruleset)
}

/// The built-in rules, compiled once.
pub fn default_rules() -> &'static Ruleset {
    static RULES: OnceLock<Arc<Ruleset>> = OnceLock::new();
    RULES.get_or_init(|| {
        sensor::rules::sources::RuleFiles::default()
            .load()
            .expect("the built-in rules compile")
            .0
    })
}

/// Runs `event` through `rules` as the alert sink does, and builds each alert's record (its
/// Falco JSON and gRPC message), checking that the JSON parses.
pub fn alerts(rules: &Ruleset, event: &Event) -> Vec<AlertRecord> {
    let rule_event = RuleEvent::new(event, 1, "fuzz-node");
    let mut out = Vec::new();
    for rule in rules.evaluate(&rule_event, MatchMode::All) {
        let alert = rule.render_alert(&rule_event, "fuzz-node", event.wall_ns);
        let record = AlertRecord::new(alert, event, 1);
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&record.json) {
            panic!("alert JSON does not parse ({e}): {}", record.json);
        }
        let _ = record.encode_subscribe_response();
        out.push(record);
    }
    out
}

fn bytes(s: &str) -> Bytes {
    s.as_bytes().into()
}

fn comm(name: &str) -> [u8; sensor_common::COMM_LEN] {
    let mut comm = [0u8; sensor_common::COMM_LEN];
    let n = name.len().min(comm.len() - 1);
    comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    comm
}

fn creds(id: u32) -> Creds {
    Creds {
        uid: id,
        gid: id,
        suid: id,
        sgid: id,
        euid: id,
        egid: id,
        fsuid: id,
        fsgid: id,
    }
}

const CONTAINER_ID: &str = "4f6a5b1c9d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a";

/// A handful of enriched events of every kind, in a container of a pod with labels, so that
/// rules, output formats and subscriber filters have fields to look at.
pub fn sample_events() -> Vec<Event> {
    let shell = Arc::new(Process {
        pid: 100,
        ppid: 1,
        comm: bytes("bash"),
        exe: bytes("/bin/bash"),
        exepath: bytes("/usr/bin/bash"),
        args: vec![bytes("-c"), bytes("nc -l 4444")],
        exe_from_memfd: false,
        exe_upper_layer: false,
        exec_in_host_mnt_ns: None,
        cwd: Some(bytes("/root")),
        parent: None,
    });
    let nc = Arc::new(Process {
        pid: 101,
        ppid: 100,
        comm: bytes("nc"),
        exe: bytes("nc"),
        exepath: bytes("/usr/bin/nc.openbsd"),
        args: vec![bytes("-l"), bytes("4444")],
        exe_from_memfd: false,
        exe_upper_layer: true,
        // Exec'd on the host (the initial namespace's inode): `proc.entered_from_host` has a
        // true to find.
        exec_in_host_mnt_ns: Some(4_026_531_840),
        cwd: Some(bytes("/tmp")),
        parent: Some(shell),
    });
    let pod = Arc::new(PodMeta {
        name: "web-7d4b9c8f6-x2x9z".into(),
        namespace: "shop".into(),
        uid: "0d8a4ad4-6c3c-4c1e-9d59-6c1f0f4f8a11".into(),
        labels: vec![
            ("app".into(), "web".into()),
            ("env".into(), "prod".into()),
            ("tier".into(), "front".into()),
        ]
        .into(),
        annotations: vec![("note".into(), "x".into())].into(),
        workload: Workload {
            kind: "Deployment".into(),
            name: "web".into(),
        },
    });
    let pod_info = Arc::new(PodInfo {
        pod,
        container_id: CONTAINER_ID.into(),
        container_name: "web".into(),
        image: "registry.example:5000/shop/web:1.2@sha256:abcd".into(),
        image_repository: "registry.example:5000/shop/web".into(),
        image_tag: Some("1.2".into()),
        image_digest: Some("sha256:abcd".into()),
        privileged: false,
    });
    let container = Arc::new(Container {
        full_id: CONTAINER_ID.to_string(),
        runtime: Runtime::Containerd,
        privileged: Some(false),
    });
    let event = |name: &str, strings: [&str; 3], res: i64| Event {
        kind: match name {
            "clone" => EventKind::Fork { child_pid: 102 },
            "procexit" => EventKind::Exit { status: 256 },
            _ => EventKind::Syscall(syscalls::by_name(name).expect("a traced syscall")),
        },
        res,
        enter_ns: 1_000,
        mono_ns: 2_000,
        wall_ns: 1_700_000_000_000_000_000,
        task: TaskInfo {
            pid: 101,
            tid: 101,
            ppid: 100,
            vpid: 7,
            loginuid: 1000,
            mnt_ns: 4026531841,
            pid_ns: 4026531836,
            sid: 100,
            cgroup_id: 12345,
            creds: creds(0),
            caps: [0, u64::MAX >> 23, u64::MAX >> 23],
            comm: comm("nc"),
            tty: 34816,
            _pad: 0,
            start_ns: 500,
        },
        creds_before: None,
        raw_args: [3, 0o4755, 0, 0, 0, 0],
        strings: strings.map(bytes),
        truncated: 0,
        changed: 0,
        unverified: 0,
        from_kernel: 0,
        exec: None,
        process: Some(nc.clone()),
        fd_path: None,
        opened: None,
        socket: None,
        container: Some(container.clone()),
        pod: Some(pod_info.clone()),
        user_name: Some("root".into()),
        group_name: Some("root".into()),
        login_name: Some("alice".into()),
    };
    // A shell started in the pod's container: the built-in rules alert on it.
    let mut exec = event("execve", ["/bin/bash", "", ""], 0);
    exec.task.comm = comm("bash");
    exec.process = nc.parent.clone();
    exec.exec = Some(Box::new(ExecDetails {
        filename: bytes("/bin/bash"),
        argv: vec![bytes("bash"), bytes("-c"), bytes("nc -l 4444")],
        image: Some(bytes("/usr/bin/bash")),
        exe: None,
        env: bytes("PATH=/bin\0GLIBC_TUNABLES=x"),
    }));
    let mut fchmod = event("fchmod", ["", "", ""], -1);
    fchmod.fd_path = Some(bytes("/etc/shadow"));
    let mut setuid = event("setuid", ["", "", ""], 0);
    setuid.creds_before = Some(creds(1000));
    let mut host = event("chmod", ["/tmp/x", "", ""], 0);
    host.container = None;
    host.pod = None;
    // An open of /etc/shadow through a relative path, as the kernel resolved it.
    let mut open = event("openat", ["../etc/shadow", "", ""], 3);
    open.raw_args = [(-100i64) as u64, 0, 0o2000000, 0, 0, 0];
    open.fd_path = Some(bytes("/etc/shadow"));
    open.opened = Some(sensor_common::record::open::OpenedFile {
        f_mode: 1,
        i_mode: 0o100640,
        dev: 1 << 20,
        path_flags: 0,
        ino: 42,
        ..Default::default()
    });
    // A connection out, its ends from the kernel's socket.
    let mut connect = event("connect", ["", "", ""], 0);
    let mut ends = sensor_common::record::socket::SocketInfo {
        family: 2,
        sock_type: 1,
        protocol: 6,
        local_port: 40000,
        remote_port: 4444,
        ..Default::default()
    };
    ends.local[..4].copy_from_slice(&[10, 0, 0, 1]);
    ends.remote[..4].copy_from_slice(&[198, 51, 100, 2]);
    connect.socket = sensor::model::socket::Socket::new(
        Some(ends),
        &[],
        sensor::model::socket::Role::Client,
    );
    vec![
        exec,
        open,
        connect,
        event("fchmodat", ["/etc/passwd", "", ""], 0),
        fchmod,
        event("mount", ["tmpfs", "/mnt/x", "tmpfs"], 0),
        setuid,
        event("clone", ["", "", ""], 102),
        event("procexit", ["", "", ""], 0),
        host,
    ]
}

/// An alert record for each sample event (some in a pod, one on the host), for filters.
pub fn sample_records() -> &'static [AlertRecord] {
    static RECORDS: OnceLock<Vec<AlertRecord>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let rules = compile_rules(
            "- rule: Any\n  desc: every event\n  condition: evt.num > 0\n  output: \"%evt.type by %proc.name\"\n  priority: WARNING\n  tags: [t1, mitre]\n",
        )
        .expect("the sample rule compiles");
        sample_events()
            .iter()
            .flat_map(|e| alerts(&rules, e))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips() {
        let rs = vec![b"abc".to_vec(), Vec::new(), vec![0; 300]];
        let framed = frame(&rs);
        let back: Vec<Vec<u8>> = records(&framed).map(<[u8]>::to_vec).collect();
        assert_eq!(back, rs);
    }

    #[test]
    fn yaml_quoting_is_exact() {
        for s in ["", "a\"b\\c", "\u{0}\n\t\u{85}\u{feff}€𝄞 %proc.name", "'x'"] {
            let yaml = format!("- {}\n", yaml_quoted(s));
            let docs = yaml_rust2::YamlLoader::load_from_str(&yaml).expect("parses");
            assert_eq!(docs[0][0].as_str(), Some(s), "{yaml}");
        }
    }

    #[test]
    fn samples_raise_alerts() {
        assert!(sample_records().len() >= 7);
        assert!(!alerts(default_rules(), &sample_events()[0]).is_empty());
    }
}
