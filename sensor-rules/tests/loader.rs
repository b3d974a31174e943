//! Loading semantics across files: define, append, override, exceptions, lists, macros,
//! skips and directories.

mod common;

use common::{build, find, status, BASE};
use sensor_rules::{MapEvent, MatchMode, Priority, RuleStatus, Severity};

#[test]
fn overrides_append_and_replace_across_files() {
    let amend = "\
- list: shells
  items: [zsh]
  override:
    items: append
- macro: interactive
  condition: or proc.pid = 1
  override:
    condition: append
- rule: Shell
  condition: and interactive
  output: (tty=%proc.tty)
  desc: amended
  tags: [b]
  override:
    condition: append
    output: append
    desc: append
    tags: append
- rule: Shell
  priority: critical
  enabled: false
  override:
    priority: replace
    enabled: replace
";
    let compiled = build(&[("base.yaml", BASE), ("amend.yaml", amend)]);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let rule = compiled.ruleset.rule("Shell").expect("compiled");
    assert_eq!(rule.priority(), Priority::Critical);
    assert!(!rule.enabled());
    assert_eq!(rule.tags(), ["a", "b"]);
    assert_eq!(rule.description(), "base description amended");
    let zsh = MapEvent::new("execve")
        .with("proc.name", "zsh")
        .with("proc.tty", 34816u32);
    assert!(rule.matches(&zsh));
    assert_eq!(rule.render_output(&zsh), "shell zsh (tty=34816)");
    let no_tty = MapEvent::new("execve")
        .with("proc.name", "zsh")
        .with("proc.tty", 0u32);
    assert!(!rule.matches(&no_tty));
    // Disabled rules are listed but never evaluated.
    assert!(compiled.ruleset.evaluate(&zsh, MatchMode::All).is_empty());
}

#[test]
fn replacing_a_condition_and_redefining_keeps_load_order() {
    let second = "\
- rule: Other
  desc: d
  condition: evt.type = execve
  output: other
  priority: ERROR
- rule: Shell
  condition: evt.type = execve and proc.name = sh
  override:
    condition: replace
- rule: Shell
  desc: redefined
  condition: evt.type = execve and proc.name = fish
  output: fish
  priority: NOTICE
";
    let compiled = build(&[("base.yaml", BASE), ("second.yaml", second)]);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let names: Vec<&str> = compiled.ruleset.rules().iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        ["Shell", "Other"],
        "a redefined rule keeps its first position"
    );
    let fish = MapEvent::new("execve").with("proc.name", "fish");
    let matched: Vec<&str> = compiled
        .ruleset
        .evaluate(&fish, MatchMode::First)
        .iter()
        .map(|r| r.name())
        .collect();
    assert_eq!(matched, ["Shell"]);
}

#[test]
fn deprecated_append_and_enabled_forms() {
    let legacy = "\
- list: shells
  items: [sh]
  append: true
- rule: Shell
  condition: or proc.name = fish
  append: true
- rule: Shell
  enabled: false
";
    let compiled = build(&[("base.yaml", BASE), ("legacy.yaml", legacy)]);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let warning = find(&compiled.report, "'append' key is deprecated");
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!((warning.position.line, warning.position.column), (1, 3));
    find(
        &compiled.report,
        "standalone 'enabled' key usage is deprecated",
    );
    let rule = compiled.ruleset.rule("Shell").expect("compiled");
    assert!(!rule.enabled());
    assert!(rule.matches(&MapEvent::new("execve").with("proc.name", "sh")));
    assert!(rule.matches(&MapEvent::new("execve").with("proc.name", "fish")));
}

#[test]
fn exceptions_become_and_not_clauses() {
    let rules = "\
- list: allowed_parents
  items: [cron, systemd]
- rule: Shell
  desc: d
  condition: evt.type = execve and proc.name = bash
  output: shell
  priority: WARNING
  exceptions:
    - name: by_parent
      fields: proc.pname
      values: [allowed_parents, sshd]
    - name: by_pair
      fields: [proc.cmdline, user.name]
      comps: [startswith, in]
      values:
        - [bash -c /opt/backup, [root, backup]]
    - name: no_values_yet
      fields: [proc.cwd]
      comps: [=]
- rule: Shell
  exceptions:
    - name: by_parent
      values: [ansible]
  override:
    exceptions: append
";
    let compiled = build(&[("rules.yaml", rules)]);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let rule = compiled.ruleset.rule("Shell").expect("compiled");
    let event = |parent: &str, cmdline: &str, user: &str| {
        MapEvent::new("execve")
            .with("proc.name", "bash")
            .with("proc.pname", parent)
            .with("proc.cmdline", cmdline)
            .with("user.name", user)
    };
    assert!(rule.matches(&event("nginx", "bash -i", "www")));
    assert!(
        !rule.matches(&event("cron", "bash -i", "www")),
        "list named in values"
    );
    assert!(!rule.matches(&event("sshd", "bash -i", "www")));
    assert!(
        !rule.matches(&event("ansible", "bash -i", "www")),
        "appended value"
    );
    assert!(!rule.matches(&event("nginx", "bash -c /opt/backup/run", "backup")));
    assert!(rule.matches(&event("nginx", "bash -c /opt/backup/run", "mallory")));
}

#[test]
fn skip_reasons() {
    let rules = "\
- macro: open_write
  condition: evt.type in (open, openat) and evt.is_open_write = true
- rule: Files
  desc: d
  condition: open_write and fd.name startswith /etc
  output: o
  priority: INFO
- rule: Privileged
  desc: d
  condition: evt.type = execve and container.privileged = true
  output: o
  priority: INFO
- rule: Quiet
  desc: d
  condition: evt.type = execve and proc.env contains X
  output: o
  priority: INFO
  skip-if-unknown-filter: true
- rule: Needs stable
  desc: d
  condition: spawned_process and proc.name = x
  output: o
  priority: INFO
- rule: Audit
  desc: d
  condition: ka.verb = create
  output: o
  priority: INFO
  source: k8s_audit
- rule: Partly
  desc: d
  condition: evt.type in (execve, connect) and proc.name = x
  output: o
  priority: INFO
";
    let report = build(&[("skips.yaml", rules)]).report;
    assert!(!report.has_errors(), "{report}");
    let RuleStatus::Skipped {
        reasons,
        silent: false,
    } = status(&report, "Files")
    else {
        panic!("{report}")
    };
    assert_eq!(reasons[0], "event types `open, openat` are not captured");
    assert!(
        reasons.contains(&"field `evt.is_open_write` is not supplied by this sensor".to_string())
    );
    assert!(reasons.contains(&"field `fd.name` is not supplied by this sensor".to_string()));
    assert_eq!(
        status(&report, "Privileged"),
        &RuleStatus::Skipped {
            reasons: vec!["field `container.privileged` is not supplied by this sensor".into()],
            silent: false
        }
    );
    assert!(matches!(
        status(&report, "Quiet"),
        RuleStatus::Skipped { silent: true, .. }
    ));
    let RuleStatus::Skipped { reasons, .. } = status(&report, "Needs stable") else {
        panic!("{report}")
    };
    assert!(
        reasons[0].starts_with("uses undefined macro `spawned_process`"),
        "{reasons:?}"
    );
    assert!(reasons[0].contains("skips.yaml:21:14"), "{reasons:?}");
    let RuleStatus::Skipped { reasons, .. } = status(&report, "Audit") else {
        panic!("{report}")
    };
    assert!(reasons[0].contains("source `k8s_audit`"));
    assert!(matches!(
        status(&report, "Partly"),
        RuleStatus::Compiled { enabled: true }
    ));
    let partial = find(
        &report,
        "event types `connect` are not captured by this sensor; the rule runs on `execve` only",
    );
    assert_eq!(partial.item.as_deref(), Some("rule `Partly`"));
    assert_eq!(report.silently_skipped(), 1);
    let display = report.to_string();
    assert!(display.contains("skipped   rule `Privileged`"), "{display}");
    assert!(
        display.contains("6 rule(s): 1 compiled, 5 skipped (1 silently), 0 failed"),
        "{display}"
    );
}

#[test]
fn macros_must_be_defined_before_the_macros_using_them() {
    let rules = "\
- macro: outer
  condition: inner and proc.name = x
- macro: inner
  condition: evt.type = execve
- rule: Uses outer
  desc: d
  condition: outer
  output: o
  priority: INFO
- rule: Uses inner
  desc: d
  condition: inner
  output: o
  priority: INFO
";
    let report = build(&[("order.yaml", rules)]).report;
    let RuleStatus::Skipped { reasons, .. } = status(&report, "Uses outer") else {
        panic!("{report}")
    };
    assert!(
        reasons[0].starts_with(
            "macro `outer` uses macro `inner`, which is defined after it (at order.yaml:3:3)"
        ),
        "{reasons:?}"
    );
    assert!(matches!(
        status(&report, "Uses inner"),
        RuleStatus::Compiled { .. }
    ));
    let warning = find(&report, "which is defined after it");
    assert_eq!(warning.position.to_string(), "order.yaml:2:14");
}

#[test]
fn nested_lists_and_unused_items() {
    let rules = "\
- list: base_shells
  items: [sh, bash]
- list: shells
  items: [base_shells, zsh, \"my shell\"]
- list: unused_list
  items: [x]
- macro: unused_macro
  condition: proc.name = x
- rule: Shells
  desc: d
  condition: evt.type = execve and proc.name in (shells, fish)
  output: o
  priority: INFO
";
    let compiled = build(&[("lists.yaml", rules)]);
    assert!(!compiled.report.has_errors(), "{}", compiled.report);
    let rule = compiled.ruleset.rule("Shells").expect("compiled");
    for name in ["sh", "bash", "zsh", "my shell", "fish"] {
        assert!(
            rule.matches(&MapEvent::new("execve").with("proc.name", name)),
            "{name}"
        );
    }
    assert!(!rule.matches(&MapEvent::new("execve").with("proc.name", "base_shells")));
    assert_eq!(
        find(&compiled.report, "List not referred to")
            .item
            .as_deref(),
        Some("list `unused_list`")
    );
    assert_eq!(
        find(&compiled.report, "Macro not referred to")
            .item
            .as_deref(),
        Some("macro `unused_macro`")
    );
}

#[test]
fn loads_directories_in_name_order() {
    let dir = std::env::temp_dir().join(format!("sensor-rules-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("10-base.yaml"), BASE).expect("write");
    std::fs::write(
        dir.join("20-tune.yml"),
        "- list: shells\n  items: [fish]\n  override:\n    items: append\n",
    )
    .expect("write");
    std::fs::write(dir.join("notes.txt"), "not rules").expect("write");
    let report = sensor_rules::check(&[&dir]);
    assert!(!report.has_errors(), "{report}");
    assert_eq!(report.files.len(), 2);
    assert!(report.files[0].ends_with("10-base.yaml") && report.files[1].ends_with("20-tune.yml"));
    let missing = sensor_rules::check(&[dir.join("absent.yaml"), dir.clone()]);
    let error = find(&missing, "cannot read rules path");
    assert!(
        error.to_string().contains("absent.yaml:1:1: error"),
        "{error}"
    );
    assert_eq!(missing.files.len(), 2, "the readable path is still checked");
    std::fs::remove_dir_all(&dir).ok();
}
